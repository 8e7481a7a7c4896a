"""set_weight on runs side by side: the edit lands in the weights that train (a batch's stacked
parameters, on its replayed and its compiled step), so the edited run goes on as its lone run
edited alike would, and the other runs of the batch are untouched."""

from __future__ import annotations

import pytest
import torch
from test_batched import CPU, TANH_SGD, assert_same_step_losses, stepper, variants

from torchplay.engine.edit import EditError, set_weight
from torchplay.engine.group import Training
from torchplay.engine.session import TrainingSession

PATCHES = [{}, {"optimizer": {"lr": 0.3}}, {"training": {"seed": 7}}]
EDITED = 1  # the run of the batch whose weight is set
LAYER, ROW, COL, VALUE = 2, 0, 3, 2.5  # the output layer's weight from hidden unit 4


def weight(training: Training, k: int) -> float:
    return float(training.current(k).model[LAYER].weight.detach()[ROW, COL])


def lone(spec, before: int, after: int, edit: bool) -> TrainingSession:
    session = TrainingSession(spec, CPU)
    for _ in range(before):
        session.step()
    if edit:
        set_weight(session, LAYER, ROW, COL, VALUE)
    for _ in range(after):
        session.step()
    session.read_all()
    return session


@pytest.mark.parametrize("compile", [False, True], ids=["replayed", "compiled"])
def test_an_edit_in_a_batch_trains_on_as_its_lone_run_and_leaves_the_others(
        compile: bool) -> None:
    specs = variants(TANH_SGD, PATCHES)
    per_epoch = TrainingSession(specs[0], CPU).steps_per_epoch
    before, after = 2 * per_epoch + 3, per_epoch  # mid-epoch, the step replayed by then
    batch = Training(specs, CPU, compile=compile)
    for _ in range(before):
        batch.step()
    if compile:
        assert stepper(batch).wait_compiled(timeout=600), "the batched step did not compile"
    untouched = [weight(batch, k) for k in range(len(specs))]
    old = set_weight(batch, LAYER, ROW, COL, VALUE, variant=EDITED)
    assert old == untouched[EDITED]
    shown = batch.frames()  # the next frame of the edited run shows the new weight
    link = next(li for li in shown[EDITED]["links"] if li["layer"] == LAYER)
    assert link["values"][ROW * link["shape"][1] + COL] == VALUE
    assert [weight(batch, k) for k in range(len(specs)) if k != EDITED] == \
        [w for k, w in enumerate(untouched) if k != EDITED]
    for _ in range(after):
        batch.step()
    assert {f["path"] for f in batch.frames()} == {"compiled" if compile else "batched"}
    for k, spec in enumerate(specs):
        alone, together = lone(spec, before, after, edit=k == EDITED), batch.current(k)
        assert_same_step_losses(together, alone)
        for mine, theirs in zip(together.model.parameters(), alone.run.model.parameters(),
                                strict=True):
            torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-5)
        assert together.weight_edits == (1 if k == EDITED else 0)
        assert together.spec_changed_at == (before if k == EDITED else None)


def test_an_edit_of_a_variant_the_group_lacks_names_variant() -> None:
    batch = Training(variants(TANH_SGD, PATCHES[:2]), CPU)
    with pytest.raises(EditError) as refused:
        set_weight(batch, LAYER, ROW, COL, VALUE, variant=2)
    assert refused.value.field == "variant"
    assert all(run.weight_edits == 0 for run in batch.runs)


def test_an_edit_in_a_group_that_steps_each_run_alone_lands_in_that_run() -> None:
    specs = variants(TANH_SGD, [{}, {"data": {"kind": "xor"}}])  # no shared batch
    group = Training(specs, CPU)
    assert not group.batched
    for _ in range(5):
        group.step()
    untouched = weight(group, 0)
    set_weight(group, LAYER, ROW, COL, VALUE, variant=1)
    for _ in range(5):
        group.step()
    alone = lone(specs[1], 5, 5, edit=True)
    for mine, theirs in zip(group.current(1).model.parameters(),
                            alone.run.model.parameters(), strict=True):
        assert torch.equal(mine, theirs)  # the same stepper as a lone run: bit for bit
    assert weight(lone(specs[0], 10, 0, edit=False), 0) == weight(group, 0) != untouched

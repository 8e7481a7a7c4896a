"""The playground page in a real headless Chromium against a real torchplay server: build a
network by pointer and by keyboard, train it, and drive the run's controls."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pagedriver import Playground
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

TARGET = ["Linear 8", "Tanh", "Linear 8", "Tanh"]
TARGET_MODULES = ["linear 8", "tanh", "linear 8", "tanh", "linear 2"]


def clear_by_drag(play: Playground) -> None:
    while play.blocks().count():
        play.drag_out(0)


def build_by_drag(play: Playground) -> None:
    """[Linear 8, tanh, Linear 8, tanh] from the palette, by real pointer drags: out of the
    stack, in from the palette, and one reorder within the stack."""
    clear_by_drag(play)
    for name in ("Linear", "Linear", "Tanh", "Tanh"):
        play.drag_from_palette(name)
    expect(play.blocks()).to_have_text(["Linear 8", "Linear 8", "Tanh", "Tanh"])
    # Drop the first Tanh on the left half of the second Linear: it moves in front of it.
    second = play.blocks().nth(1).bounding_box()
    assert second is not None
    play.drag(play.blocks().nth(2), second["x"] + 4, second["y"] + second["height"] / 2)
    expect(play.blocks()).to_have_text(TARGET)


def build_by_keyboard(play: Playground) -> None:
    """The same network with the keyboard only: Delete, Enter, Alt+arrows, Escape."""
    page = play.page
    play.blocks().first.focus()
    while play.blocks().count():
        count = play.blocks().count()
        page.keyboard.press("Delete")
        expect(play.blocks()).to_have_count(count - 1)
    # Focus on the palette, then Enter on each block to add it after the selected one.
    for name in ("Tanh", "Linear", "Linear", "Tanh"):
        page.locator(f'.palette-item[data-block="{name}"]').focus()
        page.keyboard.press("Enter")
    expect(play.blocks()).to_have_text(["Tanh", "Linear 8", "Linear 8", "Tanh"])
    # The first Tanh belongs after the first Linear: Alt+ArrowRight moves it there.
    play.blocks().first.focus()
    page.keyboard.press("Alt+ArrowRight")
    expect(play.blocks()).to_have_text(TARGET)
    expect(play.blocks().nth(1)).to_be_focused()
    # Enter opens the editor on the block, focused on its first field; Escape closes it.
    play.blocks().nth(2).focus()
    page.keyboard.press("Enter")
    units = play.field("network.layers.2.units").locator("input")
    expect(units).to_be_focused()
    units.fill("8")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    expect(play.blocks().nth(2)).to_be_focused()


def boundary_image(play: Playground) -> str:
    return play.page.evaluate("() => document.querySelector('#boundary').toDataURL()")


def test_drag_built_network_learns_circle(play: Playground, artifacts: Path) -> None:
    build_by_drag(play)
    play.wait_for_network(TARGET_MODULES)
    assert play.state("app.state.spec.data.kind") == "circle"
    before = boundary_image(play)
    play.play()
    play.wait_until("app.state.frame.test_metric > 0.9", timeout=90_000)
    play.screenshot(artifacts, "train-circle-1280")

    assert boundary_image(play) != before
    loss_points = int(play.page.locator("#chart-loss").get_attribute("data-points") or 0)
    assert loss_points > 20
    # One line per layer: every module for the variance, every layer with weights for the
    # gradient norm, each named in the legend.
    act = play.page.locator("#chart-act-var .u-legend .u-series")
    expect(act).to_have_count(1 + len(TARGET_MODULES))
    expect(act.nth(1)).to_contain_text("0: linear 8")
    expect(act.nth(5)).to_contain_text("4: linear 2 (out)")
    grad = play.page.locator("#chart-grad-norm .u-legend .u-series")
    expect(grad).to_have_count(1 + 3)
    expect(grad.nth(2)).to_contain_text("2: linear 8")
    assert play.state("app.state.trace.step.length") > 3
    assert play.state("app.state.trace.columns.act_var.every((s) => s.some((v) => v > 0))")
    # Hover shows values.
    plot = play.page.locator("#chart-grad-norm .u-over")
    plot.hover()
    expect(grad.nth(1).locator(".u-value")).to_have_text(re.compile(r"\d"))
    expect(play.page.locator("#test-metric")).to_have_text(re.compile(r"^(9\d|100)\.\d%$"))


def test_keyboard_builds_what_the_pointer_builds(play: Playground) -> None:
    build_by_drag(play)
    play.wait_for_network(TARGET_MODULES)
    dragged = play.state("app.state.spec.network")
    build_by_keyboard(play)
    play.wait_for_network(TARGET_MODULES)
    assert play.state("app.state.spec.network") == dragged
    assert play.state("app.state.run.spec.network") == dragged


def test_pause_step_and_reset(play: Playground) -> None:
    play.play()
    play.wait_until("app.state.frame.step > 200")
    play.pause()
    paused_at = play.step()
    assert play.steady_for(600), "the counter moved while paused"

    play.page.locator("#step-n").fill("37")
    play.page.locator("#step-n-go").click()
    play.wait_until(f"app.state.frame.step === {paused_at + 37}")
    assert play.steady_for(400)
    assert play.step() == paused_at + 37

    play.page.locator("#step-one").click()
    play.wait_until(f"app.state.frame.step === {paused_at + 38}")

    play.page.locator("#step-unit").select_option("epoch")
    play.page.locator("#step-n").fill("2")
    play.page.locator("#step-n-go").click()
    play.wait_until(f"app.state.frame.epoch >= 2 && app.state.frame.step % "
                    f"app.state.run.summary.steps_per_epoch === 0 && "
                    f"app.state.frame.step > {paused_at + 38}")

    play.page.locator("#reset").click()
    play.wait_until("app.state.frame.step === 0")
    expect(play.page.locator("#counter-step")).to_have_text("0")
    expect(play.page.locator("#counter-epoch")).to_have_text("0")


def test_learning_rate_changes_mid_run(play: Playground) -> None:
    play.play()
    play.wait_until("app.state.frame.step > 300")
    session = play.state("app.state.run.session")
    before = play.step()
    play.fill("optimizer.lr", "0.1")
    play.wait_until("app.state.frame.lr === 0.1")
    assert play.step() >= before, "the run went back to step 0"
    assert play.state("app.state.run.session") == session, "the run was restarted"
    assert play.state("app.state.status.running")
    expect(play.page.locator("#lr-now")).to_have_text("0.1")
    # The learning-rate history records the new rate at the following epochs.
    play.wait_until("app.state.history.evals.lr.at(-1) === 0.1")
    assert play.state("app.state.history.evals.lr[0]") == 0.03


def test_optimizer_and_regularisation_change_mid_run(play: Playground) -> None:
    play.play()
    play.wait_until("app.state.frame.step > 100")
    session = play.state("app.state.run.session")
    play.page.locator("#optimizer-kind").select_option("adam")
    # The form now shows Adam's own fields, at Adam's defaults (read from the schema).
    expect(play.field("optimizer.beta1").locator("input")).to_have_value("0.9")
    expect(play.field("optimizer.lr").locator("input")).to_have_value("0.001")
    play.wait_until("app.state.frame.lr === 0.001")
    play.fill("optimizer.beta2", "0.99")
    play.fill("regularization.l2", "0.001")
    play.page.locator('.field[data-path="schedule.kind"] select').select_option("cosine")
    expect(play.field("schedule.t_max")).to_be_visible()
    play.wait_until("app.state.history.evals.lr.at(-1) < 0.001")  # cosine has started to decay
    step = play.step()
    play.wait_until(f"app.state.frame.step > {step}")
    assert play.state("app.state.run.session") == session, "a live change restarted the run"
    assert play.state("app.errors.messages.size") == 0, "the server refused an update"
    assert play.state("[app.state.spec.optimizer.beta2, app.state.spec.regularization.l2]") == \
        [0.99, 0.001]


def test_invalid_value_is_explained_next_to_its_field(play: Playground) -> None:
    play.blocks().first.click()
    units = play.field("network.layers.0.units")
    play.fill("network.layers.0.units", "0")
    expect(units.locator(".field-error")).to_have_text(re.compile("greater than or equal to 1"))
    expect(units.locator("input")).to_have_attribute("aria-invalid", "true")
    expect(play.blocks().first).to_have_text("Linear 4")  # nothing was applied
    # The page keeps working: it trains, and a valid value clears the error.
    play.play()
    play.wait_until("app.state.frame.step > 50")
    play.fill("network.layers.0.units", "6")
    expect(units.locator(".field-error")).to_have_text("")
    expect(play.blocks().first).to_have_text("Linear 6")
    play.wait_for_network(["linear 6", "tanh", "linear 2", "tanh", "linear 2"])
    play.wait_until("app.state.frame.step > 50")


def test_server_refusal_shows_at_its_field(play: Playground) -> None:
    """A value only the server can judge (a device this machine lacks) comes back as an error
    naming the field; the page shows it there and keeps working."""
    session = play.state("app.state.run.session")
    device = play.field("training.device")
    device.locator("select").select_option("mps")
    expect(device.locator(".field-error")).to_have_text(re.compile("mps"))
    expect(device.locator("select")).to_have_attribute("aria-invalid", "true")
    device.locator("select").select_option("cpu")
    expect(device.locator(".field-error")).to_have_text("")
    play.wait_until(f"app.state.run && app.state.run.session !== {session} && "
                    "app.state.run.spec.training.device === 'cpu'")
    play.play()
    play.wait_until("app.state.frame.step > 20")


def test_oversized_network_is_explained_at_the_builder(play: Playground) -> None:
    """The parameter limit is the server's to judge: its refusal (field `spec.network.layers`)
    is shown under the stack, and the run that was there goes on."""
    session = play.state("app.state.run.session")
    play.play()
    big = '{type: "linear", units: 1024}'
    play.state(f"app.store.edit('network.layers', [{big}, {big}, {big}])")
    message = play.page.locator("#builder .stack-message")
    expect(message).to_have_text(re.compile(r"parameters; the limit is 2,000,000"))
    expect(play.page.locator("#stack")).to_have_class(re.compile("invalid"))
    step = play.step()
    play.wait_until(f"app.state.frame.step > {step}")
    assert play.state("app.state.run.session") == session
    play.state("app.store.edit('network.layers', [{type: 'linear', units: 8}])")
    expect(message).to_have_text("")
    play.wait_for_network(["linear 8", "linear 2"])


def test_diverged_run_says_so(play: Playground) -> None:
    play.fill("regularization.l2", "10")
    play.fill("optimizer.lr", "100")
    play.wait_until("app.state.spec.optimizer.lr === 100")
    play.page.locator("#play").click()
    status = play.page.locator("#status")
    expect(status).to_have_text(re.compile(r"^Diverged: loss became (nan|inf)"))
    expect(play.page.locator("#play")).to_be_disabled()
    play.page.locator("#reset").click()
    expect(status).not_to_have_text(re.compile("Diverged"))
    play.fill("optimizer.lr", "0.03")
    play.fill("regularization.l2", "0")
    play.play()
    play.wait_until("app.state.frame.step > 100 && !app.state.frame.diverged")


@pytest.mark.parametrize("kind, output", [("spiral", "classes"), ("sine1d", "curve"),
                                          ("multi_gauss", "value")])
def test_other_datasets(play: Playground, artifacts: Path, kind: str, output: str) -> None:
    play.page.locator(f'.tile[data-kind="{kind}"]').click()
    play.wait_until(f"app.state.run.spec.data.kind === '{kind}' && app.state.frame && "
                    f"app.state.frame.output.kind === '{output}'")
    if kind == "spiral":  # a ReLU layer, for the dead-unit chart
        play.blocks().nth(1).click()
        play.field("network.layers.1.fn").locator("select").select_option("relu")
        play.wait_for_network(["linear 4", "relu", "linear 2", "tanh", "linear 3"])
        expect(play.page.locator("#chart-dead")).to_have_attribute("data-series", "1")
    play.play()
    play.wait_until("app.state.frame.step > 2000", timeout=60_000)
    if output == "classes":
        expect(play.page.locator("#output .legend .key")).to_have_count(3)
    play.page.locator("#show-test").check()
    play.screenshot(artifacts, f"train-{kind}-1280", full_page=kind == "spiral")


def test_hovering_a_neuron_shows_its_map(play: Playground, artifacts: Path) -> None:
    play.play()
    play.wait_until("app.state.frame.step > 500")
    neuron = play.page.locator('.neuron[data-column="1"][data-unit="0"]')
    neuron.hover()
    caption = play.page.locator("#output .plot-caption")
    expect(caption).to_be_visible()
    expect(caption).to_contain_text("linear 4 · tanh, unit 1")
    play.screenshot(artifacts, "hover-neuron-1280", full_page=False)
    play.page.mouse.move(5, 5)
    expect(caption).to_be_hidden()


def test_share_link_restores_the_experiment(play: Playground) -> None:
    play.page.locator('.tile[data-kind="xor"]').click()
    play.blocks().first.focus()
    play.page.keyboard.press("Delete")
    play.wait_for_network(["tanh", "linear 2", "tanh", "linear 2"])
    play.wait_until("app.state.run.spec.data.kind === 'xor'")
    spec = play.state("app.state.run.spec")
    other = Playground(play.page.context.new_page())
    other.page.goto(play.page.url)
    other.wait_until("app.state.run && app.state.frame")
    assert other.state("app.state.run.spec") == spec
    expect(other.blocks()).to_have_text(["Tanh", "Linear 2", "Tanh"])
    assert not other.errors

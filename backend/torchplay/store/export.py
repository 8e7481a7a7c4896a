"""Exports of an experiment: its curves as CSV, and a standalone PyTorch training script.

`script_for(spec)` writes one Python file that needs numpy and torch and nothing of torchplay.
On the CPU it makes torchplay's run step for step: the data code is copied from data.py (only
the branches this dataset takes), and the model, initializers, loss, penalties, optimizer and
schedule are written out as the plain torch calls that build.py and session.py make, drawing
from the same generators in the same order (weights from `seed`, dropout masks from `seed + 1`,
mini-batch order from `seed + 2`). The user's name and note never enter the script; only the
validated spec does, as numbers and names from fixed lists.
"""

from __future__ import annotations

import csv
import inspect
import io
import json
import textwrap
from collections.abc import Mapping
from typing import Any

from torchplay import __version__
from torchplay.spec.model import FRAME_SAMPLE, LARGE_VALUES, ExperimentSpec, train_count
from torchplay.store import libcode
from torchplay.store.codegen import data_code, features_code, model_code, training_code

DEFAULT_EPOCHS = 100  # for specs that train until paused (training.epochs null)


def metrics_csv(history: Mapping[str, Any], metric: str) -> str:
    """The curves as CSV: one row per step that has a record, in step order. `batch_loss` is
    that step's mini-batch loss; the evaluation columns are filled on rows where the whole sets
    were evaluated (step 0 and every epoch's end) and empty elsewhere. `lr` is the learning
    rate set for the epoch that starts there; `metric` names the last two columns."""
    steps, evals = history["steps"], history["evals"]
    rows: dict[int, dict[str, Any]] = {}
    for step, loss in zip(steps["step"], steps["loss"], strict=True):
        rows.setdefault(step, {})["batch_loss"] = loss
    for i, step in enumerate(evals["step"]):
        row = rows.setdefault(step, {})
        for column in ("epoch", "lr", "train_loss", "test_loss"):
            row[column] = evals[column][i]
        row["train_" + metric] = evals["train_metric"][i]
        row["test_" + metric] = evals["test_metric"][i]
    header = ["step", "epoch", "lr", "batch_loss", "train_loss", "test_loss", "train_" + metric,
              "test_" + metric]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for step in sorted(rows):
        writer.writerow([step] + ["" if rows[step].get(c) is None else rows[step][c]
                                  for c in header[1:]])
    return out.getvalue()


def script_for(spec: ExperimentSpec) -> str:
    """A standalone Python script that rebuilds and trains this experiment with plain torch."""
    parts = [data_code(spec), features_code(spec), model_code(spec),
             training_code(spec), "# --- curves, laid out as torchplay's metrics.csv\n" +
             inspect.getsource(metrics_csv), _main_code(spec)]
    header = _header(spec)
    if spec.data.table is not None:  # it reads the table beside it
        header = header.replace("import math\n", "import hashlib\nimport math\nimport os\n", 1)
    script = header + "\n\n" + "\n\n\n".join(part.strip("\n") for part in parts) + "\n"
    if "math." not in script.split("from torch.nn import functional as F", 1)[1]:
        script = script.replace("import math\n", "", 1)  # an unused import is noise to a reader
    return script


def _header(spec: ExperimentSpec) -> str:
    dumped = json.dumps(spec.model_dump(mode="json"))
    wrapped = textwrap.fill(dumped, 96, break_long_words=False, break_on_hyphens=False)
    needs = "Needs numpy and torch only." if not spec.data.is_library else textwrap.fill(
        f"Needs numpy, torch and {libcode.needs(spec)}.", 96)
    return f'''#!/usr/bin/env python3
"""A torchplay experiment, trained with plain PyTorch (exported by torchplay {__version__}).

{needs} Run with python: it trains for training.epochs epochs
({DEFAULT_EPOCHS} when the spec sets none) and prints the losses; --epochs N, --csv FILE (the
curves, laid out as torchplay's metrics.csv) and --weights FILE (the state_dict) are optional.
On the CPU this is torchplay's run step for step: the same points, initial weights, mini-batches
and dropout masks.

The experiment's spec (ExperimentSpec, JSON):
{textwrap.indent(wrapped, "    ")}
"""

from __future__ import annotations

import argparse
import csv
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F'''


def _main_code(spec: ExperimentSpec) -> str:
    t = spec.training
    stopping = spec.regularization.early_stopping
    metric = "r2" if spec.data.task == "regression" else "accuracy"
    early = f'''
        if best is None or test_loss < best[0]:
            best = (test_loss, epoch + 1)
        elif epoch + 1 - best[1] >= {stopping.patience}:
            print("early stop: no better test loss for {stopping.patience} epochs")
            break''' if stopping.enabled else ""
    large = spec.data.is_library and spec.data.task != "regression" and \
        train_count(spec.data) * spec.input_dim > LARGE_VALUES
    train_figures = _TALLIED_FIGURES if large else \
        "        train_loss, train_metric = evaluate(model, x_train, y_train)"
    tally_init = "\n    tally: list[Any] = []  # a large set's training figures" if large else ""
    tally_step = _TALLY_STEP.format(
        correct="((out[:, 0] > 0).long() == y_train[batch]).sum()" if spec.output_dim == 1
        else "(out.argmax(dim=1) == y_train[batch]).sum()") if large else ""
    return f'''def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\\n")[0])
    parser.add_argument("--epochs", type=int, default={t.epochs or DEFAULT_EPOCHS})
    parser.add_argument("--csv", help="write the curves to this CSV file")
    parser.add_argument("--weights", help="save the trained state_dict here (torch.save)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads; torchplay's "
                        "server trains on 1, and another count rounds (so ends) differently")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    x_train, y_train, x_test, y_test = prepare()
    g = torch.Generator().manual_seed({t.seed})  # initial weights
    dropout_g = torch.Generator().manual_seed({t.seed} + 1)  # dropout masks
    shuffle_g = torch.Generator().manual_seed({t.seed} + 2)  # order of the mini-batches
    model = build_model(g, dropout_g)
    optimizer = make_optimizer(model)
    n, batch_size = len(y_train), min({t.batch_size}, len(y_train))
    # BatchNorm cannot normalise a batch of one point: a lone last point sits the epoch out.
    has_norm = any(isinstance(m, nn.BatchNorm1d) for m in model)
    used = n - 1 if has_norm and n % batch_size == 1 else n
    steps: dict[str, list[Any]] = {{"step": [], "loss": []}}
    evals: dict[str, list[Any]] = {{c: [] for c in ("epoch", "step", "lr", "train_loss",
                                                  "test_loss", "train_metric", "test_metric")}}

    def record(epoch: int, step: int) -> tuple[float, float]:
{train_figures}
        test_loss, test_metric = evaluate(model, x_test, y_test)
        for column, value in zip(evals, (epoch, step, learning_rate(epoch), train_loss,
                                         test_loss, train_metric, test_metric), strict=True):
            evals[column].append(value)
        return train_loss, test_loss

    step{", best" if stopping.enabled else ""} = 0{", None" if stopping.enabled else ""}{tally_init}
    record(0, 0)
    order = torch.randperm(n, generator=shuffle_g)
    for epoch in range(args.epochs):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(epoch)
        model.train()
        for start in range(0, used, batch_size):
            batch = order[start:start + batch_size]
            out = model(x_train[batch])
            data_loss = loss_fn(out, y_train[batch]){tally_step}
            loss = data_loss + penalty(model)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            steps["step"].append(step)
            steps["loss"].append(data_loss.item())
        order = torch.randperm(n, generator=shuffle_g)
        train_loss, test_loss = record(epoch + 1, step)
        if (epoch + 1) % max(1, args.epochs // 10) == 0:
            print(f"epoch {{epoch + 1}}  step {{step}}  train_loss {{train_loss:.6f}}  "
                  f"test_loss {{test_loss:.6f}}"){early}

    print(f"final epoch={{evals['epoch'][-1]}} step={{step}} "
          f"train_loss={{evals['train_loss'][-1]!r}} test_loss={{evals['test_loss'][-1]!r}} "
          f"train_{metric}={{evals['train_metric'][-1]!r}} "
          f"test_{metric}={{evals['test_metric'][-1]!r}}")
    if args.csv:
        with open(args.csv, "w", newline="") as file:
            file.write(metrics_csv({{"steps": steps, "evals": evals}}, "{metric}"))
    if args.weights:
        torch.save(model.state_dict(), args.weights)


if __name__ == "__main__":
    main()'''



# A large set's training figures, as torchplay's (engine/run.py Run.tally): the epoch's own
# mini-batches as they trained, not a second pass over the whole training set.
_TALLIED_FIGURES = f"""\
        if not tally:  # step 0: the first {FRAME_SAMPLE} training points
            train_loss, train_metric = evaluate(model, x_train[:{FRAME_SAMPLE}],
                                                y_train[:{FRAME_SAMPLE}])
        else:  # the epoch's mini-batches: mean loss and accuracy as they trained
            losses, correct, sizes = zip(*tally, strict=True)
            weights = torch.tensor(sizes, dtype=losses[0].dtype)
            train_loss = float((torch.stack(losses) * weights).sum()) / sum(sizes)
            train_metric = float(torch.stack(correct).sum()) / sum(sizes)
        tally.clear()"""
_TALLY_STEP = """
            tally.append((data_loss.detach(), {correct}, len(batch)))"""

"""The page's pure modules, run in the browser and checked against computations done here:
history deltas (history.js), decoding (socket.js), chart thinning and loss smoothing
(chartdata.js), schema bounds (schema.js)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from playwright.sync_api import Page

pytestmark = pytest.mark.browser

EVAL_COLUMNS = ["epoch", "step", "lr", "train_loss", "test_loss", "train_metric", "test_metric"]


@pytest.fixture
def modules(page: Page, server: Any) -> Page:
    """A page on the server's origin, so that it may import /static/src/*.js."""
    page.goto(server.url + "/api/health")
    return page


def run(page: Page, module: str, body: str, arg: Any = None) -> Any:
    return page.evaluate(f"""async (arg) => {{
        const m = await import('/static/src/{module}');
        {body}
    }}""", arg)


def test_history_appends_deltas_and_replace_starts_over(modules: Page) -> None:
    def delta(replace: bool, steps: list[int], evals: list[int]) -> dict[str, Any]:
        return {"replace": replace,
                "steps": {"stride": 1, "step": steps, "loss": [s / 10 for s in steps]},
                "evals": {"stride": 1, "epoch": evals, "step": evals, "lr": [0.1] * len(evals),
                          **{c: [1.0] * len(evals) for c in ("train_loss", "test_loss",
                                                              "train_metric", "test_metric")}}}
    result = run(modules, "history.js", """
        const h = new m.History();
        const gens = [];
        for (const d of arg) { h.apply(d); gens.push(h.generation); }
        return { steps: h.steps.step, loss: h.steps.loss, evals: h.evals.step, gens };
    """, [delta(True, [1, 2], [0]), delta(False, [3], []), delta(False, [4, 5], [5]),
          delta(True, [1], [0])])
    assert result["steps"] == [1]
    assert result["evals"] == [0]
    gens = result["gens"]
    assert gens[1] == gens[0] == gens[2] and gens[3] == gens[0] + 1


def test_decode_turns_base64_grids_into_bytes(modules: Page) -> None:
    values = bytes(range(256)) * 4  # a 32 x 32 grid
    frame = {"type": "frame", "step": 3, "epoch": 0, "running": True,
             "layers": {"name": ["linear 2"], "act_var": [1.0]},
             "output": {"kind": "probability", "size": 32,
                        "values": base64.b64encode(values).decode()},
             "neurons": [], "links": [], "history": {"steps": {"stride": 1, "step": [], "loss": []},
                         "evals": {"stride": 1, **{c: [] for c in EVAL_COLUMNS}}}}
    decoded = run(modules, "socket.js", """
        const f = m.decode(JSON.stringify(arg));
        return Array.from(f.output.values);
    """, frame)
    assert decoded == list(values)
    bad = {**frame, "output": {**frame["output"], "size": 33}}
    message = run(modules, "socket.js", """
        try { m.decode(JSON.stringify(arg)); return 'accepted'; }
        catch (err) { return err.name + ': ' + err.message; }
    """, bad)
    assert "wrong size" in message


def test_smoothing_is_a_debiased_ema(modules: Page) -> None:
    losses = [1.0, 0.5, 0.8, 0.2, 0.4, 0.1]
    beta = 0.9
    expected, ema = [], 0.0
    for t, x in enumerate(losses, start=1):
        ema = beta * ema + (1 - beta) * x
        expected.append(ema / (1 - beta**t))
    got = run(modules, "chartdata.js", """
        const s = new m.Smoother(arg.beta);
        return arg.losses.map((x) => s.next(x));
    """, {"beta": beta, "losses": losses})
    assert got == pytest.approx(expected)
    assert got[0] == pytest.approx(losses[0])  # debiased: the first value is not dragged to 0


def test_columns_thin_to_a_bound_and_keep_every_eval(modules: Page) -> None:
    got = run(modules, "chartdata.js", """
        const c = new m.Columns(2, 100);
        for (let s = 1; s <= 1000; s++) {
          c.push(s, [s, null]);
          if (s % 25 === 0) c.push(s, [null, s]);  // an epoch's eval shares its step's x
        }
        return { x: c.x, raw: c.cols[0], evals: c.cols[1].filter((v) => v !== null),
                 stride: c.stride };
    """)
    assert len(got["x"]) <= 100
    assert got["x"] == sorted(got["x"]) and got["x"][-1] == 1000
    assert got["raw"][-1] == 1000
    # Thinning merges rows; an eval lands in the row of its step, so at most one is lost per
    # merged row when two evals meet, and with 25 steps between evals none is.
    assert got["evals"] == list(range(25, 1001, 25))
    assert got["stride"] == 16


def test_schema_checks_bounds_as_the_server_states_them(modules: Page) -> None:
    schema = modules.evaluate("async () => (await fetch('/api/schema')).json()")
    got = run(modules, "schema.js", """
        const s = new m.Schema(arg);
        const spec = { network: { layers: [{ type: 'linear' }, { type: 'dropout' }] },
                       optimizer: { kind: 'adam' } };
        return [s.check('network.layers.0.units', 0, spec),
                s.check('network.layers.0.units', 8, spec),
                s.check('network.layers.1.p', 1, spec),
                s.check('optimizer.beta1', 0.9, spec),
                s.check('optimizer.lr', 0, spec),
                s.defaults('LinearLayer').units,
                s.defFor('optimizer', 'adamw', spec)];
    """, schema)
    assert got == ["Input should be greater than or equal to 1", None,
                   "Input should be less than 1", None, "Input should be greater than 0",
                   8, "AdamSpec"]


def test_link_writes_only_what_differs_and_reads_it_back(modules: Page) -> None:
    """link.js against the served schema and the server's own defaults: the default spec is
    `#v=1`; a changed spec writes its changed leaves, list items with their tag; reading gives
    back exactly those leaves, typed, with no schema needed."""
    got = run(modules, "link.js", """
        const { Schema } = await import('/static/src/schema.js');
        const schema = new Schema(await (await fetch('/api/schema')).json());
        const post = (body) => fetch('/api/spec/migrate', { method: 'POST',
          body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } })
          .then((r) => r.json());
        const defaults = (await post({})).spec;
        const spec = (await post({ data: { kind: 'spiral', noise: 0.3 },
          features: { inputs: ['x1', 'x1_x2'] },
          network: { layers: [{ type: 'linear', units: 3, init: { kind: 'normal', std: 0.2 } },
                              { type: 'activation', fn: 'relu' }] },
          optimizer: { kind: 'adam', beta1: 0.5 }, training: { epochs: 7, device: 'cpu' } })).spec;
        const hash = m.linkHash(spec, defaults, schema);
        const read = m.readLink(hash);
        const back = (await post(read)).spec;
        return { plain: m.linkHash(defaults, defaults, schema), hash, read,
                 same: JSON.stringify(back) === JSON.stringify(spec),
                 emptyLayers: m.linkHash({ ...defaults, network: { ...defaults.network,
                   layers: [] } }, defaults, schema) };
    """)
    assert got["plain"] == "#v=1"
    assert got["hash"] == (
        "#v=1&data.kind=spiral&data.noise=0.3&features.inputs=[x1,x1_x2]"
        "&network.layers.0.type=linear&network.layers.0.units=3"
        "&network.layers.0.init.kind=normal&network.layers.0.init.std=0.2"
        "&network.layers.1.type=activation&network.layers.1.fn=relu"
        "&optimizer.kind=adam&optimizer.beta1=0.5&training.epochs=7&training.device=cpu")
    assert got["read"] == {
        "version": 1, "data": {"kind": "spiral", "noise": 0.3},
        "features": {"inputs": ["x1", "x1_x2"]},
        "network": {"layers": [{"type": "linear", "units": 3,
                                "init": {"kind": "normal", "std": 0.2}},
                               {"type": "activation", "fn": "relu"}]},
        "optimizer": {"kind": "adam", "beta1": 0.5},
        "training": {"epochs": 7, "device": "cpu"}}
    assert got["same"], "the link does not stand for the spec it was written from"
    assert got["emptyLayers"] == "#v=1&network.layers=[]"


def test_link_reading_is_strict_and_safe(modules: Page) -> None:
    got = run(modules, "link.js", """
        const attempt = (hash) => {
          try { return m.readLink(hash); } catch (err) { return `${err.name}: ${err.message}`; }
        };
        // Strings that would read as numbers, booleans or lists are quoted when written.
        const { Schema } = await import('/static/src/schema.js');
        const schema = new Schema(await (await fetch('/api/schema')).json());
        const tricky = { version: 1, a: '1.5', b: ['true', 'x,y', '[z'], c: null, d: -0.0025,
                         e: false, f: 'a b&c=d', g: '' };
        const written = m.linkHash(tricky, { version: 1 }, schema);
        return {
          written, tricky: m.readLink(written),
          legacy: attempt('#spec=' + encodeURIComponent('{"data":{"kind":"xor"}}')),
          proto: attempt('#v=1&__proto__.polluted=1'), polluted: ({}).polluted ?? null,
          holes: attempt('#v=1&network.layers.5.type=linear'),
          pair: attempt('#v=1&junk'), escape: attempt('#v=1&data.kind=%E0%A4%A'),
          none: attempt(''),
        };
    """)
    assert got["tricky"] == {"version": 1, "a": "1.5", "b": ["true", "x,y", "[z"], "c": None,
                             "d": -0.0025, "e": False, "f": "a b&c=d", "g": ""}
    assert got["written"].startswith("#v=1&a=%221.5%22&b=[%22true%22,x%2Cy,%22%5Bz%22]&c=null")
    assert got["legacy"] == {"data": {"kind": "xor"}}
    assert got["proto"].startswith("LinkError") and got["polluted"] is None
    assert got["holes"].startswith("LinkError") and "numbered 0, 1, 2" in got["holes"]
    assert got["pair"].startswith("LinkError") and got["escape"].startswith("LinkError")
    assert got["none"] is None

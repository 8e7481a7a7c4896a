"""Share links, saved experiments and exports, in a real Chromium against real servers.

- The setup link (the spec in the URL) restores every control in a fresh page; links written
  by older pages, or with values the server refuses, still open.
- Share stores the run; after the server process restarts, /e/<id> shows the recorded run at
  once without training anything, and Run again makes the same run.
- A name or note containing markup is shown as text, and runs nothing.
- The export links download the experiment's files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from pagedriver import Playground, open_playground
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

ID = re.compile(r"/e/([A-Za-z0-9_-]{16})$")

# Every panel away from its defaults: data, features, each layer type with its own settings
# and initializers, loss, optimizer and its hyperparameters, schedule, L1/L2, early stopping,
# epoch limit, seed and device.
SPIRAL = {
    "data": {"kind": "spiral", "classes": 2, "noise": 0.25, "points": 400,
             "train_fraction": 0.7, "seed": 7, "test_shift": 0.5},
    "features": {"inputs": ["x1", "x2", "x1_x2", "sin_x1"], "standardize": False},
    "network": {"layers": [
        {"type": "linear", "units": 12, "bias": True,
         "init": {"kind": "normal", "mean": 0.1, "std": 0.5},
         "bias_init": {"kind": "constant", "value": 0.2}},
        {"type": "activation", "fn": "leaky_relu", "slope": 0.2},
        {"type": "dropout", "p": 0.3},
        {"type": "linear", "units": 6, "bias": False,
         "init": {"kind": "kaiming_normal", "mode": "fan_out", "nonlinearity": "leaky_relu"}},
        {"type": "batchnorm", "momentum": 0.2},
        {"type": "activation", "fn": "gelu"},
        {"type": "layernorm"},
    ], "output_init": {"kind": "xavier_uniform", "gain": 2.0}},
    "loss": {"kind": "bce"},
    "optimizer": {"kind": "adamw", "lr": 0.005, "beta1": 0.8, "beta2": 0.99, "eps": 1e-7,
                  "weight_decay": 0.01, "amsgrad": True},
    "schedule": {"kind": "cosine", "t_max": 40, "eta_min": 0.0001},
    "regularization": {"l1": 0.001, "l2": 0.002,
                       "early_stopping": {"enabled": True, "patience": 7}},
    "training": {"batch_size": 16, "epochs": 50, "seed": 3, "device": "cpu"},
}
SINE = {
    "data": {"kind": "sine1d", "noise": 0.1, "points": 300},
    "features": {"degree": 5},
    "network": {"layers": [
        {"type": "linear", "units": 16, "init": {"kind": "uniform", "a": -0.5, "b": 0.5},
         "bias_init": {"kind": "zeros"}},
        {"type": "activation", "fn": "prelu", "slope": 0.1},
        {"type": "linear", "units": 5, "init": {"kind": "orthogonal", "gain": 1.5}},
        {"type": "activation", "fn": "sigmoid"},
    ], "output_init": {"kind": "constant", "value": 0.05}},
    "loss": {"kind": "huber", "delta": 0.5},
    "optimizer": {"kind": "rmsprop", "lr": 0.02, "alpha": 0.9, "eps": 1e-6, "momentum": 0.5,
                  "centered": True, "weight_decay": 0.001},
    "schedule": {"kind": "step", "step_size": 5, "gamma": 0.7},
    "training": {"batch_size": 32, "seed": 11},
}
BLOCKS = {"SPIRAL": ["Linear 12", "LeakyReLU", "Dropout 0.3", "Linear 6", "BatchNorm", "GELU",
                     "LayerNorm"],
          "SINE": ["Linear 16", "PReLU", "Linear 5", "Sigmoid"]}

FIELDS_JS = """(root) => [...document.querySelectorAll(root + ' .field[data-path]')]
  .filter((f) => f.offsetParent !== null && f.dataset.path !== 'features.inputs')
  .map((f) => {
    const c = f.querySelector('input, select');
    return [f.dataset.path, c.type === 'checkbox' ? c.checked : c.value];
  })"""


def get_path(spec: dict[str, Any], path: str) -> Any:
    value: Any = spec
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def leaves(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of a nested dict/list as {dotted path: value} (lists of scalars are leaves)."""
    if isinstance(tree, dict):
        items = [(str(key), sub) for key, sub in tree.items()]
    elif isinstance(tree, list) and any(isinstance(item, dict) for item in tree):
        items = [(str(i), sub) for i, sub in enumerate(tree)]
    else:
        return {prefix.rstrip("."): tree}
    return {k: v for key, sub in items for k, v in leaves(sub, f"{prefix}{key}.").items()}


def shows(shown: Any, expected: Any) -> bool:
    """Whether a control's value shows a spec value."""
    if isinstance(expected, bool):
        return shown is expected
    if expected is None:
        return shown == ""
    if isinstance(expected, int | float):
        return shown != "" and float(shown) == pytest.approx(expected)
    return shown == str(expected)


def controls(play: Playground, root: str) -> dict[str, Any]:
    return dict(play.page.evaluate(FIELDS_JS, root))


def check_controls(play: Playground, spec: dict[str, Any]) -> set[str]:
    """Compare every visible control with `spec`; returns the paths checked."""
    page = play.page
    shown = {**controls(play, "#data"), **controls(play, "#training")}
    for i in range(len(spec["network"]["layers"])):
        play.blocks().nth(i).click()
        expect(page.locator("#builder .editor h3")).to_contain_text(f"Layer {i + 1}")
        shown.update(controls(play, "#builder .editor"))
    page.locator("#output-block").click()
    expect(page.locator("#builder .editor h3")).to_have_text("Output layer")
    shown.update(controls(play, "#builder .editor"))
    wrong = {path: (value, get_path(spec, path)) for path, value in shown.items()
             if not shows(value, get_path(spec, path))}
    assert not wrong, f"controls that do not show the link's spec (shown, spec): {wrong}"
    for name in ("x1", "x2", "x1_sq", "x2_sq", "x1_x2", "sin_x1", "sin_x2"):
        chip = page.locator(f'#data input[data-feature="{name}"]')
        if not spec["data"]["kind"].endswith("1d"):
            expect(chip).to_be_checked(checked=name in spec["features"]["inputs"])
    expect(page.locator(f'.tile[data-kind="{spec["data"]["kind"]}"]')).to_have_attribute(
        "aria-pressed", "true")
    return set(shown)


def share(play: Playground, name: str = "", note: str = "", shots: Path | None = None) -> str:
    """Share through the dialog as a person would; returns the link it shows (screenshots
    of the dialog before and after saving go to `shots`)."""
    page = play.page
    page.locator("#share-open").click()
    page.locator("#share-name").fill(name)
    page.locator("#share-note").fill(note)
    if shots:
        play.screenshot(shots, "share-form-1280", full_page=False)
    page.locator("#share-save").click()
    link = page.locator("#share-url")
    expect(link).to_have_value(ID)
    if shots:
        play.screenshot(shots, "share-saved-1280", full_page=False)
    url = link.input_value()
    page.keyboard.press("Escape")
    return url


def open_recorded(page: Page, url: str) -> Playground:
    """A saved experiment's page, drawn (a recording: no run is waited for)."""
    driver = Playground(page)
    page.goto(url)
    expect(page.locator("body")).not_to_have_class(re.compile("loading"))
    driver.wait_until("app.state.recorded && app.drawn > 0")
    return driver


def boundary_image(play: Playground) -> str:
    return play.page.evaluate("() => document.querySelector('#boundary').toDataURL()")


# --- the setup link ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["SPIRAL", "SINE"])
def test_link_restores_every_control(play: Playground, artifacts: Path, name: str) -> None:
    wanted = {"SPIRAL": SPIRAL, "SINE": SINE}[name]
    edits = [[section, value] for section, value in wanted.items()]
    assert play.state(f"app.store.editMany({json.dumps(edits)})")
    play.wait_until(f"app.state.run.spec.data.kind === '{wanted['data']['kind']}' && "
                    f"app.state.run.spec.network.layers.length === "
                    f"{len(wanted['network']['layers'])} && !app.state.status.pending")
    spec = play.state("app.state.run.spec")
    for path, value in leaves(wanted).items():  # the server took every value as set
        assert get_path(spec, path) == value, path

    url = play.page.url
    hash_ = url.split("#", 1)[1]
    # Versioned, compact (only what differs from the defaults) and readable.
    assert hash_.startswith("v=1&")
    assert f"data.kind={wanted['data']['kind']}" in hash_
    assert "network.layers.1.type=activation" in hash_
    assert len(hash_) < len(quote(json.dumps(spec))) / 2

    other = fresh(play, url)
    assert other.state("app.state.run.spec") == spec
    assert other.state("app.client.sent.start") == 1
    expect(other.blocks()).to_have_text(BLOCKS[name])
    checked = check_controls(other, spec)
    # Every value set above was among those compared (the dataset, the inputs and the layer
    # types are the tiles, chips and blocks checked on their own).
    must = {p for p in leaves(wanted) if not p.endswith(".type") and
            p not in ("data.kind", "features.inputs")}
    assert must <= checked, f"not shown by any control: {must - checked}"
    assert other.page.url == url  # the restored page writes the same link
    other.screenshot(artifacts, f"link-restored-{name.lower()}-1280")
    assert not other.errors


def fresh(play: Playground, url: str) -> Playground:
    """`url` in a new page of the same browser (a page of its own, as a person opening a link:
    moving one page to another hash would keep the old document)."""
    return open_playground(play.page.context.new_page(), url)


def test_old_and_hand_written_links_open(play: Playground) -> None:
    base = play.page.url.split("#")[0]
    # The first page's links: the whole spec as JSON, with no version.
    old = {"data": {"kind": "moons", "noise": 0.3}, "optimizer": {"kind": "sgd", "lr": 0.1,
           "momentum": 0.9}, "network": {"layers": [{"type": "linear", "units": 5}]}}
    first = fresh(play, f"{base}#spec={quote(json.dumps(old))}")
    page = first.page
    assert first.state("[app.state.spec.version, app.state.spec.data.kind, "
                       "app.state.spec.optimizer.momentum]") == [1, "moons", 0.9]
    expect(first.blocks()).to_have_text(["Linear 5"])
    assert page.url.endswith("#v=1&data.kind=moons&data.noise=0.3&network.layers.0.type="
                             "linear&network.layers.0.units=5&optimizer.lr=0.1&"
                             "optimizer.momentum=0.9")
    # Typed by hand, with the brackets escaped as some address bars do.
    typed = fresh(play, f"{base}#v=1&data.kind=xor&features.inputs=%5Bx1,x1_x2%5D&"
                        "training.epochs=20")
    assert typed.state("app.state.spec.features.inputs") == ["x1", "x1_x2"]
    expect(typed.field("training.epochs").locator("input")).to_have_value("20")
    assert not first.errors and not typed.errors


def test_refused_link_values_are_shown_at_their_fields(play: Playground) -> None:
    base = play.page.url.split("#")[0]
    bad = fresh(play, f"{base}#v=1&data.kind=gauss&data.noise=5&optimizer.lr=0.5&"
                      "network.layers.0.type=linear&network.layers.0.units=0")
    # The rest of the link is kept; each refused value is explained where it belongs.
    assert bad.state("[app.state.spec.data.kind, app.state.spec.optimizer.lr]") == ["gauss", 0.5]
    expect(bad.field("data.noise").locator(".field-error")).to_have_text(
        re.compile("less than or equal to 1"))
    expect(bad.page.locator("#builder .stack-message")).to_have_text(
        re.compile(r"Layer 1 .*greater than or equal to 1"))
    expect(bad.page.locator("#status")).to_have_text(re.compile("refused"))
    # A version this server does not know: said in the status line; the defaults open.
    newer = fresh(play, f"{base}#v=99&data.kind=xor")
    expect(newer.page.locator("#status")).to_have_text(re.compile("version"))
    assert newer.state("app.state.spec.data.kind") == "circle"
    # Not a link at all.
    junk = fresh(play, f"{base}#v=1&__proto__.polluted=1")
    expect(junk.page.locator("#status")).to_have_text(re.compile("cannot be read"))
    assert junk.state("({}).polluted") is None
    assert not bad.errors and not newer.errors and not junk.errors


# --- saved experiments -------------------------------------------------------------------


def test_saved_run_survives_a_restart(page: Page, servers: Any, tmp_path: Path,
                                      artifacts: Path) -> None:
    db = tmp_path / "torchplay.sqlite3"
    first = servers.start_server(db)
    try:
        play = open_playground(page, first.url + "/")
        play.page.locator('.tile[data-kind="xor"]').click()
        play.wait_until("app.state.run.spec.data.kind === 'xor' && app.state.frame")
        play.play()
        play.wait_until("app.state.frame.step > 400")
        play.pause()
        saved_step = play.state("app.state.frame.step")
        live = play.state("[app.state.frame.test_loss, app.state.history.steps.step.length]")
        live_boundary = boundary_image(play)
        link = share(play, "XOR after a short run", "Paused, then saved.", artifacts)
    finally:
        servers.stop_server(first)

    again = servers.start_server(db)  # a new process (and port) on the same database file
    try:
        experiment_id = ID.search(link).group(1)  # type: ignore[union-attr]
        fresh = open_recorded(page.context.new_page(), f"{again.url}/e/{experiment_id}")
        banner = fresh.page.locator("#recorded-moment")
        expect(banner).to_have_text(re.compile(f"^Recorded run — step {saved_step:,}"))
        expect(fresh.page.locator("#recorded-name")).to_have_text("XOR after a short run")
        expect(fresh.page.locator("#counter-step")).to_have_text(f"{saved_step:,}")
        # The curves as recorded: every step's loss, drawn.
        assert fresh.state("app.state.history.steps.step.length") == live[1]
        assert int(fresh.page.locator("#chart-loss").get_attribute("data-points") or 0) > 20
        assert fresh.state("app.state.frame.test_loss") == live[0]
        assert boundary_image(fresh) == live_boundary
        # Nothing was started and nothing trains.
        assert fresh.steady_for(600)
        assert fresh.state("app.client.sent.start || 0") == 0
        assert fresh.state("app.state.run.recorded") is True
        expect(fresh.page.locator("#data")).to_have_js_property("inert", True)
        fresh.screenshot(artifacts, "recorded-run-1280")

        # Run again: the same spec and seed make the same run, step for step.
        fresh.page.locator("#step-n").fill(str(saved_step))
        fresh.page.locator("#step-n-go").click()
        fresh.wait_until(f"!app.state.run.recorded && app.state.frame && "
                         f"app.state.frame.step === {saved_step}")
        assert fresh.state("app.state.frame.test_loss") == live[0]
        assert boundary_image(fresh) == live_boundary
        expect(banner).to_have_text(re.compile("Running it again"))
        assert not fresh.errors
    finally:
        servers.stop_server(again)


def test_fork_makes_an_editable_copy(play: Playground, server: Any) -> None:
    play.fill("optimizer.lr", "0.1")
    play.wait_until("app.state.frame.lr === 0.1")
    link = share(play, "to fork")
    fork = open_recorded(play.page.context.new_page(), link)
    fork.page.locator("#fork").click()
    expect(fork.page.locator("#recorded")).to_be_hidden()
    assert re.search(r"/#v=1&.*optimizer\.lr=0\.1", fork.page.url)
    expect(fork.page.locator("#data")).to_have_js_property("inert", False)
    assert fork.state("app.client.sent.start || 0") == 0  # the recording stays until an edit
    fork.page.locator('.tile[data-kind="gauss"]').click()
    fork.wait_until("app.state.run && !app.state.run.recorded && "
                    "app.state.run.spec.data.kind === 'gauss'")
    assert "data.kind=gauss" in fork.page.url
    saved = httpx.get(f"{server.url}/api/experiments/{ID.search(link).group(1)}").json()  # type: ignore[union-attr]
    assert saved["spec"]["data"]["kind"] == "circle"  # the saved experiment is unchanged
    assert not fork.errors


def test_name_and_note_are_shown_as_text(play: Playground, artifacts: Path) -> None:
    name = "<script>window.__pwned = 'name'</script><b>bold?</b>"
    note = "<img src=x onerror=\"window.__pwned = 'note'\">\nsecond line & <i>more</i>"
    link = share(play, name, note)
    shown = open_recorded(play.page.context.new_page(), link)
    expect(shown.page.locator("#recorded-name")).to_have_text(name)
    expect(shown.page.locator("#recorded-note")).to_have_text(note)
    # The text stayed text: no element was made of it, and no script ran.
    made = shown.page.locator("#recorded script, #recorded img, #recorded b, #recorded i")
    assert made.count() == 0
    assert shown.page.evaluate("() => window.__pwned") is None
    shown.page.locator("#share-open").click()  # its link, shown again
    expect(shown.page.locator("#share-url")).to_have_value(link)
    shown.screenshot(artifacts, "recorded-markup-1280", full_page=False)
    assert not shown.errors


def test_share_refusals_show_in_the_dialog(play: Playground) -> None:
    page = play.page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.locator("#share-open").click()
    name = page.locator("#share-name")
    name.fill("n" * 201)
    assert len(name.input_value()) == 200  # the field stops at the server's limit...
    # ...and should a longer name reach the server (an older page), its refusal shows here.
    name.evaluate("(el) => { el.removeAttribute('maxlength'); el.value = 'n'.repeat(201); }")
    page.locator("#share-save").click()
    expect(page.locator("#share-name-error")).to_have_text(re.compile("at most 200 characters"))
    expect(page.locator("#share-url")).to_be_hidden()
    page.locator("#share-name").fill("short enough")
    page.locator("#share-save").click()
    expect(page.locator("#share-name-error")).to_have_text("")
    expect(page.locator("#share-url")).to_have_value(ID)
    page.locator("#share-copy").click()
    expect(page.locator(".share-link [role=status]")).to_have_text("Copied")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == page.locator("#share-url").input_value()


def test_unknown_id_says_so(page: Page, server: Any) -> None:
    page.goto(f"{server.url}/e/AAAAAAAAAAAAAAAA")
    expect(page.get_by_role("heading", name="No such experiment")).to_be_visible()
    expect(page.locator("main code")).to_have_text("AAAAAAAAAAAAAAAA")
    expect(page.get_by_role("link", name="Open the playground")).to_have_attribute("href", "/")


def test_saved_setup_without_a_run_opens_ready_to_run(page: Page, server: Any) -> None:
    answer = httpx.post(f"{server.url}/api/experiments", json={
        "spec": {"data": {"kind": "moons"}, "training": {"seed": 5}}, "name": "setup only"})
    setup = open_recorded(page, server.url + answer.json()["url"])
    expect(setup.page.locator("#recorded-moment")).to_have_text(re.compile("not been trained"))
    expect(setup.page.locator('#recorded .download.missing[data-file="metrics"]')).to_be_visible()
    setup.wait_until("app.state.run && app.state.frame && app.state.frame.step === 0")
    setup.page.locator("#run-again").click()
    setup.wait_until("app.state.frame && app.state.frame.step > 50")
    assert setup.state("app.state.run.spec.training.seed") == 5
    assert not setup.errors


def test_saved_on_a_device_this_server_lacks(page: Page, server: Any) -> None:
    """A teacher's experiment saved for the GPU opens on a CPU-only server: the banner says
    why it cannot run as saved and offers this server's device."""
    answer = httpx.post(f"{server.url}/api/experiments", json={
        "spec": {"training": {"device": "mps"}}, "name": "made on a Mac"})
    saved = open_recorded(page, server.url + answer.json()["url"])
    problem = saved.page.locator("#recorded .recorded-problem")
    expect(problem).to_contain_text("mps")
    saved.page.locator("#run-auto").click()
    saved.wait_until("app.state.frame && app.state.frame.step > 20 && "
                     "app.state.run.spec.training.device === 'auto'")
    expect(problem).to_be_hidden()
    assert not saved.errors


# --- exports -------------------------------------------------------------------------------


def download(page: Page, locator: str) -> tuple[str, bytes]:
    with page.expect_download() as info:
        page.locator(locator).click()
    path = info.value.path()
    return info.value.suggested_filename, Path(path).read_bytes()


def test_exports_download_the_experiment_files(play: Playground, artifacts: Path) -> None:
    # An unsaved setup: its spec (written by the page) and its script (from the server).
    page = play.page
    page.locator("#export summary").click()
    play.screenshot(artifacts, "export-menu-1280", full_page=False)
    name, body = download(page, '#export [data-file="spec"]')
    assert name == "torchplay.json"
    assert json.loads(body) == play.state("app.state.spec")
    page.locator("#export summary").click()
    name, body = download(page, '#export [data-file="script"]')
    assert name == "torchplay.py" and b"import torch" in body

    play.play()
    play.wait_until("app.state.frame.step > 100")
    play.pause()
    link = share(play, "exports")
    experiment_id = ID.search(link).group(1)  # type: ignore[union-attr]
    saved = open_recorded(page.context.new_page(), link)
    files = {}
    for key, ext in (("spec", "json"), ("metrics", "csv"), ("weights", "pt"), ("script", "py")):
        name, body = download(saved.page, f'#recorded a[data-file="{key}"]')
        assert name == f"torchplay-{experiment_id}.{ext}"
        assert body, f"{name} is empty"
        files[key] = body
    assert json.loads(files["spec"])["data"]["kind"] == "circle"
    assert files["metrics"].startswith(b"step,epoch,lr,batch_loss,")
    assert files["weights"][:2] == b"PK"  # torch.save's zip format
    # The Export menu of a saved experiment offers the same four.
    saved.page.locator("#export summary").click()
    expect(saved.page.locator("#export a.download")).to_have_count(4)
    assert not saved.errors

"""Your own data in a real Chromium against the real server, with real input: points drawn by
clicking, dragging, touch and keyboard; a table uploaded with the file chooser and by drop,
its columns picked, trained, shared and opened in a fresh browser context with the same data;
bad files and missing tables said clearly."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pagedriver import Playground, open_playground
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser
ID = re.compile(r"/e/([A-Za-z0-9_-]{16})$")


def plane_point(play: Playground, x: float, y: float) -> tuple[float, float]:
    """Where on the screen the Output plane shows (x, y), for the window the drawing uses."""
    box = play.page.locator("#draw-plane").bounding_box()
    assert box is not None
    x0, x1, y0, y1 = play.state("(app.state.run.spec.data.kind === 'drawn' ? "
                                "app.state.run.data.extent : [-6.24, 6.24, -6.24, 6.24])")
    return (box["x"] + (x - x0) / (x1 - x0) * box["width"],
            box["y"] + (y1 - y) / (y1 - y0) * box["height"])


def drawn_count(play: Playground) -> int:
    return int(play.page.locator("#draw-plane").get_attribute("data-points") or 0)


def wait_for_drawn_run(play: Playground, n: int) -> None:
    play.wait_until(f"app.state.run && app.state.run.spec.data.kind === 'drawn' && "
                    f"app.state.run.data.train_x.length + app.state.run.data.test_x.length "
                    f"=== {n} && app.state.frame")


def test_draw_points_by_clicking_dragging_and_keyboard(play: Playground,
                                                       artifacts: Path) -> None:
    page = play.page
    page.locator("#draw-toggle").click()
    expect(page.locator("#draw-toggle")).to_have_attribute("aria-pressed", "true")
    for x, y in [(-4, 3), (-3, -2), (-2, 4)]:  # three clicks of class 0
        page.mouse.click(*plane_point(play, x, y))
    wait_for_drawn_run(play, 3)
    page.locator('.swatch-button[data-class="1"]').click()
    # a drag paints a line of class-1 points, one stroke, one restart
    page.mouse.move(*plane_point(play, 1, -4))
    page.mouse.down()
    for k in range(1, 21):
        page.mouse.move(*plane_point(play, 1 + k * 0.2, -4 + k * 0.4))
    page.mouse.up()
    painted = drawn_count(play)
    assert painted >= 3 + 8, painted
    wait_for_drawn_run(play, painted)
    spec = play.state("app.state.run.spec.data")
    assert spec["drawn"]["value"].count(1) == painted - 3 and spec["classes"] == 2
    assert spec["drawn"]["x1"][:3] == pytest.approx([-4, -3, -2], abs=0.1)
    assert page.url.find("data.drawn.x1") > 0  # the setup link carries the points

    # Undo removes the whole stroke, redo brings it back; the keyboard adds at its cursor.
    page.locator("#draw-undo").click()
    wait_for_drawn_run(play, 3)
    page.locator("#draw-redo").click()
    wait_for_drawn_run(play, painted)
    plane = page.locator("#draw-plane")
    plane.focus()
    for key in ["2", "ArrowRight", "ArrowRight", "ArrowRight", "ArrowRight", "Enter"]:
        plane.press(key)
    wait_for_drawn_run(play, painted + 1)
    assert play.state("app.state.spec.data.drawn.x1.at(-1)") == 1.0
    plane.press("Control+z")
    wait_for_drawn_run(play, painted)
    # Erase: a click with the eraser near the first point removes it.
    page.locator("#draw-erase").click()
    page.mouse.click(*plane_point(play, -4, 3))
    wait_for_drawn_run(play, painted - 1)
    page.locator("#draw-add").click()
    play.play()
    play.wait_until("app.state.frame.step > 200")
    play.pause()
    assert play.state("app.state.frame.train_metric") > 0.9
    play.screenshot(artifacts, "own-data-drawn-1280")
    page.locator("#draw-clear").click()
    expect(page.locator("#draw-status")).to_have_text(re.compile("draw at least 2"))


def test_draw_by_touch(browser: Browser, server: Any, artifacts: Path) -> None:
    context = browser.new_context(has_touch=True, viewport={"width": 1280, "height": 800})
    try:
        play = open_playground(context.new_page(), server.url + "/")
        play.page.locator("#draw-toggle").tap()
        for x, y in [(-3, -3), (3, 3), (3, -3)]:
            play.page.touchscreen.tap(*plane_point(play, x, y))
        wait_for_drawn_run(play, 3)
        assert not play.errors
    finally:
        context.close()


def table_csv(n: int = 240, seed: int = 0) -> str:
    """Four numeric columns and a text label that is the sign of w . x."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, (n, 4))
    label = np.where(x[:, 0] - 0.5 * x[:, 2] > 0, "up", "down")
    rows = ["height,weight,age,score,label"]
    rows += [",".join(f"{v:.4f}" for v in row) + f",{lab}" for row, lab in
             zip(x, label, strict=True)]
    return "\n".join(rows) + "\n"


def pick_and_train(play: Playground) -> None:
    page = play.page
    expect(page.locator("#table-title")).to_have_text(re.compile("240 rows · 5 columns"))
    expect(page.locator("#table-target")).to_have_value("label")
    expect(page.locator("#table-task")).to_have_value("classification")
    page.locator('#upload input[data-column="weight"]').uncheck()  # inputs: the other three
    page.locator("#table-use").click()
    play.wait_until("app.state.run && app.state.run.spec.data.kind === 'table' && "
                    "app.state.run.data.plane && app.state.frame")
    expect(page.locator("#plane-note")).to_have_text(re.compile(
        r"Plane PC1 × PC2 .* of 3 standardised inputs: it shows \d+% of their variance"))
    assert play.state("app.state.run.summary.features") == ["height", "age", "score"]


def test_upload_with_the_chooser_pick_columns_train_share_and_reopen(
        play: Playground, browser: Browser, server: Any, tmp_path: Path,
        artifacts: Path) -> None:
    page = play.page
    csv_file = tmp_path / "measurements.csv"
    csv_file.write_text(table_csv())
    page.locator("#table-file").set_input_files(str(csv_file))
    pick_and_train(play)
    play.play()
    play.wait_until("app.state.frame.epoch >= 20")
    play.pause()
    assert play.state("app.state.frame.test_metric") > 0.85
    expect(page.locator("#output .legend")).to_contain_text("down")
    play.screenshot(artifacts, "own-data-table-1280")
    data = play.state("app.state.run.data")
    setup_link = page.url
    assert "data.table.hash" in setup_link

    # The setup link in a fresh browser context: the same table, the same points.
    fresh = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        other = open_playground(fresh.new_page(), setup_link)
        other.wait_until("app.state.run.data.plane")
        assert other.state("app.state.run.data") == data
        expect(other.page.locator("#table-title")).to_have_text(re.compile("measurements.csv"))
        assert not other.errors
    finally:
        fresh.close()

    # Shared (saved with its run): the saved experiment opens with the same data.
    page.locator("#share-open").click()
    page.locator("#share-name").fill("my table")
    page.locator("#share-save").click()
    expect(page.locator("#share-url")).to_have_value(ID)
    link = page.locator("#share-url").input_value()
    page.keyboard.press("Escape")
    fresh = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        shown = fresh.new_page()
        shown.goto(link)
        viewer = Playground(shown)
        viewer.wait_until("app.state.recorded && app.drawn > 0")
        assert viewer.state("app.state.run.data") == data
        expect(shown.locator("#plane-note")).to_have_text(re.compile("of 3 standardised"))
        viewer.screenshot(artifacts, "own-data-table-shared-1280")
        assert not viewer.errors
    finally:
        fresh.close()


def test_upload_by_dropping_on_the_data_panel(play: Playground) -> None:
    page = play.page
    transfer = page.evaluate_handle("""(text) => { const dt = new DataTransfer();
        dt.items.add(new File([text], 'dropped.csv', { type: 'text/csv' })); return dt; }""",
                                    table_csv(seed=1))
    page.dispatch_event("#data", "dragover", {"dataTransfer": transfer})
    expect(page.locator("#data")).to_have_class(re.compile("dropping"))
    page.dispatch_event("#data", "drop", {"dataTransfer": transfer})
    expect(page.locator("#table-title")).to_have_text(re.compile("dropped.csv"))
    pick_and_train(play)


def test_a_bad_csv_shows_its_line_and_column_and_nothing_changes(
        play: Playground, tmp_path: Path, artifacts: Path) -> None:
    page = play.page
    before = play.state("JSON.stringify(app.state.spec)")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,2,x\n3,4,y\n5,6\n7,8,x\n")
    page.locator("#table-file").set_input_files(str(bad))
    expect(page.locator("#table-error")).to_have_text(re.compile(
        r"bad.csv: line 4: this row has 2 fields but the header has 3 columns"))
    assert play.state("JSON.stringify(app.state.spec)") == before
    expect(page.locator("#upload .table-chooser")).to_be_hidden()
    play.screenshot(artifacts, "own-data-bad-csv-1280", full_page=False)
    # A column that holds text cannot be an input: the chooser says where.
    text_column = tmp_path / "text.csv"
    text_column.write_text("a,b,label\n1,2,x\n3,oops,y\n5,6,x\n7,8,y\n")
    page.locator("#table-file").set_input_files(str(text_column))
    box = page.locator('#upload input[data-column="b"]')
    expect(box).to_be_disabled()
    expect(page.locator("#upload label.chip", has=page.locator('input[data-column="b"]'))
           ).to_have_attribute(
        "title", "line 3, column 'b': 'oops' is not a number")


def test_a_link_to_a_table_this_server_lacks_says_so(page: Page, server: Any) -> None:
    digest = "f" * 64
    url = (f"{server.url}/#v=1&data.kind=table&data.table.hash={digest}"
           "&data.table.target=y&data.table.inputs=[a,b]&loss.kind=cross_entropy")
    play = Playground(page)
    page.goto(url)
    # the page's own look-up and the server's refusal of the run race: either says it plainly
    expect(page.locator("#table-error")).to_have_text(re.compile(
        "does not have the table this link uses|has no data set with hash f{12}"))
    assert not play.errors


def test_sixty_four_inputs_train_and_stay_readable(play: Playground, tmp_path: Path,
                                                   artifacts: Path) -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((400, 64))
    y = (x[:, :8].sum(axis=1) > 0).astype(int)
    names = [f"f{i:02d}" for i in range(64)]
    lines = [",".join(names + ["y"])] + [",".join(f"{v:.3f}" for v in row) + f",{t}"
                                         for row, t in zip(x, y, strict=True)]
    wide = tmp_path / "wide.csv"
    wide.write_text("\n".join(lines) + "\n")
    page = play.page
    page.locator("#table-file").set_input_files(str(wide))
    expect(page.locator("#table-title")).to_have_text(re.compile("400 rows · 65 columns"))
    page.locator("#table-use").click()
    play.wait_until("app.state.run && app.state.run.spec.data.kind === 'table' && "
                    "app.state.frame && app.state.run.summary.features.length === 64")
    expect(page.locator("#plane-note")).to_have_text(re.compile("of 64 standardised inputs"))
    play.play()
    play.wait_until("app.state.frame.epoch >= 5")
    play.pause()
    play.screenshot(artifacts, "own-data-64-inputs-1280")

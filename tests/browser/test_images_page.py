"""Image sets on the page: pick digits, train, and the confusion matrix and weight tiles fill
in; pick Fashion-MNIST, train a few hundred steps, and the grid of test images shows the
predicted labels, mistakes first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pagedriver import Playground
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def pick(play: Playground, kind: str) -> None:
    play.page.locator(f'#data .tile[data-kind="{kind}"]').click()
    play.wait_until(f"app.state.run && app.state.run.spec.data.kind === '{kind}' && "
                    "app.state.frame && !app.state.status.pending")


def confusion_total(play: Playground) -> int:
    cells = play.page.locator("#confusion tbody td:not(.per-class)").all_inner_texts()
    return sum(int(text) for text in cells if text)


def test_digits_then_fashion_mnist_show_their_image_views(play: Playground,
                                                          artifacts: Path) -> None:
    page = play.page
    expect(page.locator("#images")).to_be_hidden()  # the default set is not an image set
    pick(play, "digits")
    assert play.state("app.state.spec.data.points") == 1797  # a library set is taken whole
    play.blocks().first.click()  # opens the block's editor
    play.fill("network.layers.0.units", "16")
    play.wait_until("app.state.run.summary.layers[0].weight_shape[0] === 16")
    images = page.locator("#images")
    expect(images).to_be_visible()
    play.play()
    play.wait_until("Number(document.querySelector('#images').dataset.version || 0) >= 2 && "
                    "app.state.frame.step >= 200")
    play.pause()
    # Weight tiles: 16 tiles of 8 x 8 in a 4 x 4 grid with 1 px gaps.
    tiles = page.locator("#weight-tiles")
    assert tiles.evaluate("c => [c.width, c.height]") == [35, 35]
    expect(page.locator("#confusion tbody tr")).to_have_count(10)
    assert confusion_total(play) == play.state("app.state.run.data.test_count") == 899
    accuracies = page.locator("#confusion td.per-class").all_inner_texts()
    assert len(accuracies) == 10 and all(text.endswith("%") for text in accuracies)
    expect(page.locator("#images-note")).to_contain_text("whole training and test sets")
    play.screenshot(artifacts, "images-digits")

    pick(play, "fashion_mnist")
    assert play.state("app.state.spec.data.points") == 60000
    expect(page.locator("#output .plot-caption")).to_contain_text("784 inputs")
    play.play()
    play.wait_until("app.state.frame.step >= 300 && "
                    "document.querySelectorAll('#image-grid figure').length === 36", 60_000)
    play.pause()
    grid = page.locator("#image-grid figure")
    expect(grid).to_have_count(36)
    wrong = [c == "wrong" for c in grid.evaluate_all("fs => fs.map(f => f.className)")]
    assert wrong == sorted(wrong, reverse=True)  # mistakes first
    assert any(wrong)  # 300 steps in, more than 36 of the 500 sampled images are still wrong
    expect(page.locator("#sample-note")).to_contain_text("fixed sample of 500 training")
    expect(page.locator("#images-note")).to_contain_text("fixed sample")
    assert page.locator("#confusion thead th").nth(1).get_attribute("title") == "T-shirt/top"
    play.screenshot(artifacts, "images-fashion-mnist")


def test_a_set_that_is_not_here_says_how_to_get_it(play: Playground, artifacts: Path) -> None:
    """MNIST is not installed on the test server (no --data-dir): its tile says how to get
    it, and picking it anyway shows the server's plain answer under the picker."""
    tile = play.page.locator('#data .tile[data-kind="mnist"]')
    expect(tile).to_have_class(re.compile("unavailable"))
    assert "--data-dir DIR" in (tile.get_attribute("title") or "")
    tile.click()
    error = play.page.locator("#data .kind-error")
    expect(error).to_contain_text("MNIST is not on this server")
    expect(error).to_contain_text("--data-dir DIR")
    play.screenshot(artifacts, "images-mnist-missing", full_page=False)

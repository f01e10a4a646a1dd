"""The static HTML catalog in a real headless Chromium (Debian ``chromium`` + Playwright).

Loads the index from disk, sorts the table by clicking a header, follows a
link to a bundle page, checks its content and takes screenshots.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import dft_registry
from dft_registry.cli import cli

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="needs Debian chromium at /usr/bin/chromium (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory, _golden_registry_template) -> Path:
    """A site for golden@v1 plus a second, larger domain (so sorting changes the order)."""
    root = tmp_path_factory.mktemp("browser") / "registry"
    shutil.copytree(_golden_registry_template, root)
    corpus = tmp_path_factory.mktemp("speeches")
    for i in range(4):
        (corpus / f"speech{i}.txt").write_text(
            "We hold these truths to be self-evident. The nation shall endure. " * (20 + i),
            encoding="utf-8")
    dft_registry.build("speeches", corpus, registry=root, workers=1,
                       description="Speeches (synthetic)", license="CC-BY-4.0")
    out = tmp_path_factory.mktemp("site")
    result = CliRunner().invoke(cli, ["html", "-o", str(out), "-q", "--registry", str(root)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_index_sorts_and_links_to_a_bundle_page(site, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto((site / "index.html").as_uri())
    assert page.title() == "DFT stat bundles"

    def domains() -> list[str]:
        return page.locator("#bundles tbody tr td:first-child").all_inner_texts()

    assert domains() == ["golden", "speeches"]
    words_header = page.locator("#bundles th", has_text="words").first
    words_header.click()
    assert words_header.get_attribute("aria-sort") == "ascending"
    assert domains() == ["golden", "speeches"]
    words_header.click()
    assert words_header.get_attribute("aria-sort") == "descending"
    assert domains() == ["speeches", "golden"]
    page.screenshot(path=str(tmp_path / "index.png"), full_page=True)

    page.click("text=speeches")
    page.wait_for_load_state()
    assert page.url.endswith("/bundles/speeches-v1.html")
    assert page.locator("#title").inner_text() == "speeches@v1"
    assert page.locator("#license").inner_text() == "CC-BY-4.0"
    assert "Speeches (synthetic)" in page.content()
    assert "truths" in page.locator("table.top-words").inner_text()
    assert '"domain": "speeches"' in page.locator("#manifest").inner_text()
    plot = page.locator("img").first
    assert plot.evaluate("img => img.complete && img.naturalWidth > 0")
    page.screenshot(path=str(tmp_path / "bundle.png"), full_page=True)
    assert (tmp_path / "bundle.png").stat().st_size > 10_000

    page.click("text=all bundles")
    assert page.url.endswith("/index.html")
    assert errors == []
    page.close()

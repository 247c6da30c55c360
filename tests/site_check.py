"""The built course website, opened in headless Chromium: run after ``python book/build.py``.

    python book/build.py && pytest -n 0 tests/site_check.py       (.ci/run does both)

Not a ``test_*.py`` file on purpose: plain ``pytest`` does not collect it, since it needs the site
built first (from the notebooks the test run has just executed). Asserts, for the landing page and
every notebook page of the table of contents:

* the page loads (HTTP 200) with every image (none broken, none from another host: the site must
  show what it serves itself), and no console error;
* every link that stays on the site resolves: the file exists, and an ``#anchor`` names an element;
* each notebook page's launch buttons carry exactly ``nncourse.config``'s Binder and Colab
  addresses of that notebook, and its download link serves the executed notebook;
* each notebook whose code shows widgets shows the "run it to interact" note, and every note has the
  widget's picture after it in its cell (a note over nothing - a progress bar's - would be nonsense);
* no formula is left as raw TeX, and no page shows a stderr stream (library warnings are left out).

Screenshots of the landing page and a page with a widget picture go to ``artifacts/site-screenshots/``.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from browser_support import CHROMIUM, CHROMIUM_ARGS, browser_missing, skip_or_fail
from site_support import Site, broken_links, inspect_page

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from nncourse import config  # noqa: E402

HTML = ROOT / "artifacts" / "book" / "_build" / "html"
SCREENSHOTS = ROOT / "artifacts" / "site-screenshots"
WIDGET_PAGE = "02_activations"  # a page with a widget picture, for the screenshot
USES_WIDGETS = re.compile(r"\bnncourse\.widgets\b|from nncourse import widgets|\bipywidgets\b")
PAGES = ["index"] + [f"notebooks/{name}" for name in config.NOTEBOOKS]


@pytest.fixture(scope="module")
def site():
    if not (HTML / "index.html").exists():
        pytest.fail(f"no built site at {HTML}: run `python book/build.py` first")
    with Site(HTML) as served:
        yield served


@pytest.fixture(scope="module")
def page():
    missing = browser_missing()
    if missing:
        skip_or_fail(missing, what="SITE CHECK")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        yield page
        browser.close()


# What the launch, download and widget tests need from each page, read in the same visit
EXTRA = """() => ({
    launch: Array.from(document.querySelectorAll(".dropdown-launch-buttons a[href]"), a => a.href),
    downloads: Array.from(document.querySelectorAll(".dropdown-download-buttons a[href$='.ipynb']"), a => a.href),
    widget_notes: document.querySelectorAll(".nncourse-widget-note").length,
    widget_text: document.querySelectorAll(".nncourse-widget-status, .nncourse-widget-text").length,
    stderr: Array.from(document.querySelectorAll(".cell_output .stderr"), e => e.textContent.slice(0, 200)),
    // notes followed by a picture in the same cell's outputs (the widget's initial state)
    notes_with_picture: Array.from(document.querySelectorAll(".nncourse-widget-note")).filter(note => {
        const cell = note.closest(".cell_output"); if (!cell) return false;
        return Array.from(cell.querySelectorAll("img")).some(img =>
            note.compareDocumentPosition(img) & Node.DOCUMENT_POSITION_FOLLOWING); }).length,
})"""


@pytest.fixture(scope="module")
def reports(site, page):
    return {name: inspect_page(page, f"{site.url}{name}.html", extra=EXTRA) for name in PAGES}


def test_every_page_loads_with_its_images(reports):
    problems = [problem for report in reports.values() for problem in report.problems()]
    assert not problems, "\n".join(problems)
    # the notebooks' figures are there: a page without a single picture would mean lost outputs
    without = [name for name, report in reports.items() if name != "index" and report.images == 0]
    assert not without, f"notebook pages with no image: {without}"
    print(f"{len(reports)} pages, {sum(r.images for r in reports.values())} images loaded")


def test_math_is_typeset_by_the_sites_own_mathjax(reports):
    """Every notebook has formulas; MathJax (served by the site: no request failed above) typesets them
    all, and none is a TeX error (checked in test_every_page_loads_with_its_images)."""
    untypeset = [name for name, report in reports.items() if name != "index" and report.math == 0]
    assert not untypeset, f"pages where MathJax typeset nothing: {untypeset}"
    print(f"{sum(r.math for r in reports.values())} formulas typeset")


def test_the_math_check_sees_a_tex_error(tmp_path, page):
    """A TeX error shows as a problem (the checker above could not fail otherwise)."""
    (tmp_path / "_static").symlink_to(HTML / "_static")
    (tmp_path / "math.html").write_text('<html><head><script defer src="_static/mathjax/tex-chtml.js"></script>'
                                        r'</head><body><p>\(a^2 + b^2\)</p><p>\(a^b^c\)</p></body></html>')
    with Site(tmp_path) as served:
        report = inspect_page(page, served.url + "math.html")
    assert report.math == 2 and len(report.math_errors) == 1, (report.math, report.math_errors)
    assert any("TeX error" in problem for problem in report.problems())


def test_internal_links_resolve(site, reports):
    problems = broken_links(site, list(reports.values()))
    assert not problems, "\n".join(problems)
    # and the landing page links every notebook page (the README's map)
    index_links = {link.removeprefix(site.url) for link in reports["index"].links}
    missing = [name for name in PAGES[1:] if f"{name}.html" not in index_links]
    assert not missing, f"the landing page does not link {missing}"


@pytest.mark.parametrize("name", config.NOTEBOOKS)
def test_launch_buttons_and_download(site, reports, name):
    report, notebook = reports[f"notebooks/{name}"], f"{name}.ipynb"
    assert sorted(report.extra["launch"]) == sorted([config.binder_url(notebook), config.colab_url(notebook)])
    # every Binder or Colab link on the page (the launch menu and the notebook's own badge) is the right one
    for link in report.links:
        if link.startswith("https://mybinder.org/v2/"):
            assert link == config.binder_url(notebook), link
        if link.startswith("https://colab.research.google.com/github/"):
            assert link == config.colab_url(notebook), link
    assert len(report.extra["downloads"]) == 1, report.extra["downloads"]
    downloaded = json.loads(site.fetch(report.extra["downloads"][0]))
    code = [cell for cell in downloaded["cells"] if cell["cell_type"] == "code"]
    assert code and all(cell.get("execution_count") for cell in code), "the download is not the executed notebook"


@pytest.mark.parametrize("name", config.NOTEBOOKS)
def test_widget_pictures_have_the_note(reports, name):
    source = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))
    code = "\n".join("".join(cell["source"]) for cell in source["cells"] if cell["cell_type"] == "code")
    extra = reports[f"notebooks/{name}"].extra
    if not USES_WIDGETS.search(code):
        assert extra["widget_notes"] == 0
        return
    assert extra["widget_notes"] >= 1, "a notebook with widgets shows no 'run it to interact' note"
    assert extra["notes_with_picture"] == extra["widget_notes"], \
        f"{extra['widget_notes'] - extra['notes_with_picture']} widget note(s) with no picture after them in their cell"


def test_widgets_text_is_shown(reports):
    """What the widgets showed besides their picture (status lines, the sampled text under notebook
    07's and 08's sampling widgets) comes from the saved widget state (conftest.py saves it from the
    test run's kernels): lost state would leave only pictures."""
    for name in ("07_rnn_lstm", "08_attention"):
        assert reports[f"notebooks/{name}"].extra["widget_text"] >= 1, f"{name}: no widget text shown"


def test_no_stderr_on_the_pages(reports):
    shown = {name: report.extra["stderr"] for name, report in reports.items() if report.extra["stderr"]}
    assert not shown, shown


def test_screenshots(site, page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, url in [("index", "index.html"), (WIDGET_PAGE, f"notebooks/{WIDGET_PAGE}.html")]:
        page.goto(site.url + url)
        if name == WIDGET_PAGE:
            page.locator(".nncourse-widget-note").first.scroll_into_view_if_needed()
            page.evaluate("window.scrollBy(0, -120)")
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path))
        assert path.stat().st_size > 10_000

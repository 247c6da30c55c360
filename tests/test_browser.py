"""Every notebook, run the way a learner runs it: JupyterLab in headless Chromium, Run -> Run All Cells.

One ``jupyter lab`` server (repository as its root, quick mode, throw-away settings) serves the whole
module. For each ``notebooks/*.ipynb`` (new notebooks are picked up automatically) the test asserts:

* every code cell ran and no cell shows an error output or traceback;
* widget views are live (no "Error displaying widget" / "model not found"), and a notebook whose code
  uses widgets shows at least one;
* moving the first slider of each widget with the keyboard changes the picture that widget controls
  (the course's widgets replace a PNG output through ``DisplayHandle.update`` from the widget callback:
  this proves those updates reach the page) - in place, without adding outputs;
* no widget callback raised (JupyterLab sends those tracebacks to its log console, not to the cell) and
  the browser console shows no widget errors;
* the notebook file in the repository is untouched (nothing saved back).

Each notebook runs with ``SEED = 1`` (``NNCOURSE_OTHER_SEED``) injected after its parameters cell, as
papermill does: nbval has already run it with the committed ``SEED = 0``, so this run is also the test
suite's proof that the notebook's claims hold for another seed. The seeded copies live in
``artifacts/browser-notebooks/`` (git-ignored).

Full-page screenshots go to ``artifacts/screenshots/`` (git-ignored) and a per-notebook summary to
``artifacts/screenshots/report.md``. Without Chromium or Playwright the tests skip with a loud reason;
set ``NNCOURSE_REQUIRE_BROWSER=1`` (CI) to make that a failure instead.

The harness itself is tested on a throw-away notebook with a deliberate error, a broken widget view, a
slider wired to nothing and a slider whose callback raises (``test_harness_catches_broken_notebooks``):
a checker that cannot fail is no checker.
"""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import nbformat
import pytest

from browser_support import (CHROMIUM, CHROMIUM_ARGS, LabServer, NotebookRun, browser_missing, run_notebook,
                             skip_or_fail, take_screenshot)
from notebook_seeds import OTHER_SEED, with_seed

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
SEEDED = ROOT / "artifacts" / "browser-notebooks"  # the notebooks with SEED = OTHER_SEED injected
# A notebook takes up to ~60 s in quick mode on a quiet 2-core CPU; on a busy one several times that.
RUN_TIMEOUT = float(os.environ.get("NNCOURSE_BROWSER_TIMEOUT", "300"))
VIEWPORT = {"width": 1280, "height": 900}

# Notebook code that puts widgets on the page (the course's widgets, raw ipywidgets, interact).
USES_WIDGETS = re.compile(r"\bnncourse\.widgets\b|from nncourse import widgets|\bipywidgets\b|\binteract(ive)?\(")


@pytest.fixture(scope="module")
def browser():
    missing = browser_missing()
    if missing:
        skip_or_fail(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        try:
            instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as error:  # a broken Chromium install: same treatment as a missing one
            skip_or_fail(f"Chromium at {CHROMIUM} does not start: {error}")
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def lab(browser):
    with LabServer(ROOT) as server:
        yield server


@pytest.fixture(scope="module")
def report():
    """Collects each notebook's run; written as report.md / report.json next to the screenshots
    (report-gw0.md ... under pytest-xdist: one per worker)."""
    runs: list[NotebookRun] = []
    yield runs
    if runs:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        lines = ["| notebook | code cells run | errors | widget views | first slider of each widget | screenshot |",
                 "|---|---|---|---|---|---|"]
        for run in runs:
            sliders = "; ".join(f"{s.description} {s.value_before}→{s.value_after}: picture "
                                f"{'changed' if s.picture_changed else 'UNCHANGED'}" for s in run.sliders) or "no slider"
            shot = run.screenshot.relative_to(ROOT) if run.screenshot else "-"
            lines.append(f"| {run.notebook} | {run.executed_cells}/{run.code_cells} ({run.seconds:.0f} s) | "
                         f"{len(run.errors)} | {run.widget_views} | {sliders} | {shot} |")
        # One report per pytest-xdist worker (each runs its own share of the notebooks).
        suffix = f"-{os.environ['PYTEST_XDIST_WORKER']}" if os.environ.get("PYTEST_XDIST_WORKER") else ""
        (SCREENSHOTS / f"report{suffix}.md").write_text("\n".join(lines) + "\n")
        (SCREENSHOTS / f"report{suffix}.json").write_text(json.dumps([{
            "notebook": r.notebook, "code_cells": r.code_cells, "executed_cells": r.executed_cells,
            "seconds": round(r.seconds, 1), "errors": r.errors, "widget_views": r.widget_views,
            "widget_problems": r.widget_problems, "callback_errors": r.callback_errors,
            "browser_console_errors": r.console_errors,
            "sliders": [vars(s) for s in r.sliders],
            "screenshot": str(r.screenshot.relative_to(ROOT)) if r.screenshot else None,
        } for r in runs], indent=2))


def _run(browser, server: LabServer, notebook: str, shot: Path, **kwargs) -> NotebookRun:
    page = browser.new_page(viewport=VIEWPORT)
    try:
        return run_notebook(page, server, notebook, screenshot=shot, **kwargs)
    except Exception:
        take_screenshot(page, shot.with_name(shot.stem + "-FAILED.png"))  # the whole notebook as it stood
        raise
    finally:
        page.close()
        server.shutdown_kernels()  # one kernel at a time


def check_notebook_in_jupyterlab(path, browser, lab, report):
    SEEDED.mkdir(parents=True, exist_ok=True)
    copy = SEEDED / path.name
    nbformat.write(with_seed(path, OTHER_SEED), copy)
    notebook = copy.relative_to(ROOT).as_posix()
    original = copy.read_bytes()
    run = _run(browser, lab, notebook, SCREENSHOTS / f"{path.stem}.png", timeout=RUN_TIMEOUT)
    run.notebook = f"{path.relative_to(ROOT).as_posix()} (SEED = {OTHER_SEED})"
    report.append(run)
    print(run.summary())

    if copy.read_bytes() != original:  # a save writes outputs and execution counts into the file
        cells = nbformat.read(copy, as_version=4).cells
        saved = [i for i, c in enumerate(cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
        assert not saved, f"{notebook} was saved by the browser run (outputs in cells {saved})"
    notebook = run.notebook
    assert not run.errors, f"{notebook} shows error output:\n" + "\n".join(run.errors)
    assert run.executed_cells == run.code_cells, (
        f"{notebook}: only {run.executed_cells} of {run.code_cells} code cells ran")
    assert not run.widget_problems, f"{notebook}: widget problems:\n" + "\n".join(run.widget_problems)

    source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    if USES_WIDGETS.search(source):
        assert run.widget_views > 0, f"{notebook} uses widgets but no live widget view appeared"
    assert not run.callback_errors, f"{notebook}: errors in widget callbacks (log console):\n" + "\n".join(
        run.callback_errors)
    widget_console = [m for m in run.console_errors if re.search(r"widget|model", m, re.I)]
    assert not widget_console, f"{notebook}: widget errors in the browser console:\n" + "\n".join(widget_console)
    unchanged = [f"{s.description}: {s.detail}" for s in run.sliders if not s.picture_changed]
    assert not unchanged, f"{notebook}: moving a slider did not change its picture:\n" + "\n".join(unchanged)


# The notebooks in two halves, one test class each: under pytest-xdist's ``--dist loadscope`` (the
# suite's default, ``-n 2``) a class is a unit of scheduling, so the two halves can run side by side on
# the two workers, each with its own Chromium and JupyterLab server (module fixtures are per worker).
HALVES = (NOTEBOOKS[0::2], NOTEBOOKS[1::2])


@pytest.mark.timeout(RUN_TIMEOUT + 120)
@pytest.mark.parametrize("path", HALVES[0], ids=[p.name for p in HALVES[0]])
class TestNotebooksInJupyterLabFirstHalf:
    def test_notebook_runs_in_jupyterlab(self, path, browser, lab, report):
        check_notebook_in_jupyterlab(path, browser, lab, report)


@pytest.mark.timeout(RUN_TIMEOUT + 120)
@pytest.mark.parametrize("path", HALVES[1], ids=[p.name for p in HALVES[1]])
class TestNotebooksInJupyterLabSecondHalf:
    def test_notebook_runs_in_jupyterlab(self, path, browser, lab, report):
        check_notebook_in_jupyterlab(path, browser, lab, report)


def test_the_halves_cover_every_notebook_once():
    assert sorted(HALVES[0] + HALVES[1]) == NOTEBOOKS and not set(HALVES[0]) & set(HALVES[1])


# --- the harness must be able to fail -------------------------------------------------------------
SETUP_OK = "import nncourse\nfrom nncourse.widgets import WidgetCheck"
LIVE_WIDGET = "check = WidgetCheck()\ncheck"
# A slider with a picture after it that nothing updates: the harness must call this out.
DEAD_SLIDER = """import ipywidgets, io
from PIL import Image as PILImage
from IPython.display import Image, display
buffer = io.BytesIO(); PILImage.new("RGB", (40, 20), "gray").save(buffer, format="png")
display(ipywidgets.IntSlider(value=1, min=0, max=10, description="dead"))
display(Image(data=buffer.getvalue()))"""
# A slider whose callback raises: the traceback goes to JupyterLab's log console, not to the cell.
CRASHING_CALLBACK = """crash = ipywidgets.IntSlider(value=1, min=0, max=10, description="crash")
def explode(change):
    raise RuntimeError("callback exploded for the harness self-test")
crash.observe(explode, "value")
display(crash)
display(Image(data=buffer.getvalue()))"""
# A widget view whose model does not exist: JupyterLab shows "Error displaying widget: model not found".
MISSING_MODEL = """from IPython.display import display
display({"application/vnd.jupyter.widget-view+json": {"model_id": "0" * 32, "version_major": 2, "version_minor": 0},
         "text/plain": "missing"}, raw=True)"""
FAILING = "raise ValueError('deliberate failure for the harness self-test')"
NEVER_RUN = "after_the_error = True"


@pytest.mark.timeout(240)
def test_harness_catches_broken_notebooks(browser, lab):
    cells = [nbformat.v4.new_markdown_cell("# harness self-test")] + [
        nbformat.v4.new_code_cell(code) for code in (SETUP_OK, LIVE_WIDGET, DEAD_SLIDER, CRASHING_CALLBACK, MISSING_MODEL, FAILING,
                                                    NEVER_RUN)]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    SEEDED.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, SEEDED / "selftest.ipynb")
    start = time.monotonic()
    run = _run(browser, lab, (SEEDED / "selftest.ipynb").relative_to(ROOT).as_posix(),
               SCREENSHOTS / "harness-selftest.png", timeout=RUN_TIMEOUT, slider_timeout=5)
    print(run.summary(), f"({time.monotonic() - start:.0f} s)")

    assert run.code_cells == 7 and run.executed_cells == 6, "Run All must stop at the failing cell"
    assert len(run.errors) == 1 and "deliberate failure" in run.errors[0], run.errors
    assert any("model not found" in p for p in run.widget_problems), run.widget_problems
    by_name = {s.description: s for s in run.sliders}
    assert set(by_name) == {"frequency", "dead", "crash"}, run.sliders
    assert by_name["frequency"].picture_changed, by_name["frequency"]  # the real widget works ...
    assert by_name["frequency"].value_before != by_name["frequency"].value_after
    assert not by_name["dead"].picture_changed, by_name["dead"]  # ... and the dead one is caught
    assert by_name["dead"].value_before != by_name["dead"].value_after  # although its slider moved
    assert not by_name["crash"].picture_changed
    assert run.callback_errors and all("callback exploded" in e for e in run.callback_errors), run.callback_errors


def test_without_chromium_the_tests_skip_loudly_or_fail_when_required(monkeypatch, tmp_path):
    """No browser must never look like a pass: a skip with a warning, or a failure when CI requires it."""
    import browser_support

    monkeypatch.setattr(browser_support, "CHROMIUM", str(tmp_path / "no-chromium-here"))
    reason = browser_missing()
    assert reason and "Chromium not found" in reason and "apt-get install -y chromium" in reason
    monkeypatch.delenv("NNCOURSE_REQUIRE_BROWSER", raising=False)
    with pytest.warns(UserWarning, match="BROWSER TESTS NOT RUN: Chromium not found"):
        with pytest.raises(pytest.skip.Exception, match="BROWSER TESTS NOT RUN"):
            skip_or_fail(reason)
    monkeypatch.setenv("NNCOURSE_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="BROWSER TESTS NOT RUN.*NNCOURSE_REQUIRE_BROWSER is set"):
        skip_or_fail(reason)

"""The course website's builder (book/build.py), its Pages workflow, and the site checker itself.

The built site is checked in a browser by ``tests/site_check.py`` after ``python book/build.py``
(``.ci/run``); here: the pieces, without building.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml

from browser_support import CHROMIUM, CHROMIUM_ARGS, browser_missing, skip_or_fail
from nncourse import config
from site_support import Site, broken_links, inspect_page

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"


def _load_build():
    spec = importlib.util.spec_from_file_location("book_build", ROOT / "book" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build()
PAGES = {f"notebooks/{name}.ipynb" for name in config.NOTEBOOKS} | {"README.md"}


def test_toc_has_the_four_parts_in_order():
    toc = build.book_toc()
    assert toc["root"] == "index"
    assert [part["caption"] for part in toc["parts"]] == list(config.PARTS)
    files = [chapter["file"] for part in toc["parts"] for chapter in part["chapters"]]
    assert files == [f"notebooks/{name}" for name in config.NOTEBOOKS]
    assert all((ROOT / f"{file}.ipynb").exists() for file in files)


def test_launch_buttons_come_from_the_one_repository_url():
    book = build.book_config()
    assert book["repository"]["url"] == config.REPO_URL and book["repository"]["branch"] == config.REPO_BRANCH
    assert book["execute"]["execute_notebooks"] == "off"  # the notebooks come executed
    # sphinx-book-theme's address for notebooks/X.ipynb, from these settings, is config's
    org_repo = config.REPO_URL.removeprefix("https://github.com/")
    launch = book["launch_buttons"]
    assert launch["notebook_interface"] == "jupyterlab"
    binder = f"{launch['binderhub_url']}/v2/gh/{org_repo}/{config.REPO_BRANCH}?urlpath=lab/tree/notebooks/01_perceptron.ipynb"
    colab = f"{launch['colab_url']}/github/{org_repo}/blob/{config.REPO_BRANCH}/notebooks/01_perceptron.ipynb"
    assert binder == config.binder_url("01_perceptron.ipynb") and colab == config.colab_url("01_perceptron.ipynb")


def test_links_pages_stay_files_go_to_github_badges_become_links():
    text = ("See [notebook 3](03_backpropagation.ipynb#the-chain-rule), [the code](../nncourse/rnn.py#L10), "
            "[a section](#above), [docs](https://pytorch.org). "
            "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.example/x)")
    out = build.rewrite_links(text, "notebooks", PAGES)
    assert "[notebook 3](03_backpropagation.ipynb#the-chain-rule)" in out
    assert f"[the code]({config.REPO_URL}/blob/{config.REPO_BRANCH}/nncourse/rnn.py#L10)" in out
    assert "[a section](#above)" in out and "[docs](https://pytorch.org)" in out
    assert '<a class="nncourse-badge" href="https://colab.example/x">Open In Colab</a>' in out
    assert "colab-badge.svg" not in out
    readme = build.rewrite_links("[Start](notebooks/00_start_here.ipynb), [env](environment.yml)", "", PAGES)
    assert readme == f"[Start](notebooks/00_start_here.ipynb), [env]({config.REPO_URL}/blob/main/environment.yml)"
    with pytest.raises(ValueError, match="image 'figures/x.png' is not a page"):
        build.rewrite_links("![a figure](figures/x.png)", "notebooks", PAGES)


def _view(model_id: str, text: str) -> dict:
    return {"output_type": "display_data", "metadata": {},
            "data": {"application/vnd.jupyter.widget-view+json": {"model_id": model_id, "version_major": 2},
                     "text/plain": text}}


def _model(name: str, **state) -> dict:
    return {"model_name": name, "model_module": "@jupyter-widgets/controls", "state": state}


def test_widget_controls_become_one_note_and_the_picture_stays():
    png = {"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBOR...", "text/plain": "<Figure>"}}
    view, unsaved = _view("abc", "VBox(...)"), _view("gone", "VBox(...)")
    state = {"abc": _model("VBoxModel", children=["IPY_MODEL_slider", "IPY_MODEL_status", "IPY_MODEL_empty"]),
             "slider": _model("FloatSliderModel", value=0.5, description="rate"),
             "status": _model("HTMLModel", value="rate 0.5: <b>converges</b>"),
             "empty": _model("HTMLModel", value="")}
    notebook = {"metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {"state": state}}},
                "nbformat": 4, "nbformat_minor": 5, "cells": [
        {"cell_type": "code", "source": "w = Widget()\nw", "metadata": {}, "execution_count": 1,
         "outputs": [view, png, unsaved]},
        {"cell_type": "code", "source": "plot()", "metadata": {}, "execution_count": 2, "outputs": [png]},
        {"cell_type": "code", "source": "Widget()", "metadata": {}, "execution_count": 3, "outputs": [unsaved, png]},
        {"cell_type": "markdown", "source": "[code](../nncourse/x.py)", "metadata": {}}]}
    site = build.for_the_site(notebook, PAGES)
    first, second, third, prose = site["cells"]
    html = [output["data"].get("text/html", "") for output in first["outputs"]]
    # one note per cell (the second widget of the cell adds none), the status line the widget showed
    # (not its slider, not its empty line), then the picture
    assert [list(o["data"]) for o in first["outputs"]] == [["text/html", "text/plain"]] * 2 + [["image/png", "text/plain"]]
    assert "run the notebook" in html[0].lower() and html[1] == '<div class="nncourse-widget-status">rate 0.5: <b>converges</b></div>'
    assert second["outputs"] == [png] and "widgets" not in site["metadata"]
    assert third["outputs"][0]["data"]["text/html"] == build.WIDGET_NOTE and third["outputs"][1] == png  # no saved state
    assert prose["source"].startswith(f"[code]({config.REPO_URL}/blob/")
    assert notebook["cells"][0]["outputs"] == [view, png, unsaved]  # the input is not modified


def test_quick_mode_note_beside_the_badge_and_the_setup_cell_folded():
    notebook = {"metadata": {}, "nbformat": 4, "nbformat_minor": 5, "cells": [
        {"cell_type": "markdown", "metadata": {},
         "source": "# 01 — X\n\n[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://c.example/x)\n\nIntro."},
        {"cell_type": "code", "metadata": {}, "execution_count": 1, "outputs": [],
         "source": "import sys\nif \"google.colab\" in sys.modules:\n    pass"},
        {"cell_type": "markdown", "metadata": {}, "source": "## 1. More"},
        {"cell_type": "code", "metadata": {}, "execution_count": 2, "outputs": [], "source": "x = 1"}]}
    title, setup, more, code = build.for_the_site(notebook, PAGES)["cells"]
    assert title["source"] == ('# 01 — X\n\n<a class="nncourse-badge" href="https://c.example/x">Open In Colab</a> '
                               + build.QUICK_NOTE + "\n\nIntro.")
    assert more["source"] == "## 1. More"  # once per page
    assert setup["metadata"]["tags"] == ["hide-input"] and "tags" not in code["metadata"]


def test_progress_bars_are_dropped_and_text_widgets_show_their_text():
    bar, unsaved_bar = _view("bar", "training:   0%|          | 0/180 [00:00<?, ?batch/s]"), _view("gone", " 40%|####  | 4/10")
    samples, label = _view("samples", "HTML(value=...)"), _view("label", "Label(value=...)")
    state = {"bar": _model("HBoxModel", children=["IPY_MODEL_desc", "IPY_MODEL_progress"]),
             "desc": _model("HTMLModel", value="training: 100%"), "progress": _model("FloatProgressModel", value=180.0),
             "samples": _model("HTMLModel", value="<pre>The cat sat</pre>"), "label": _model("LabelModel", value="a < b")}
    printed = {"output_type": "stream", "name": "stdout", "text": "10 epochs in 6.4 s\n"}
    notebook = {"metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {"state": state}}},
                "nbformat": 4, "nbformat_minor": 5, "cells": [
        {"cell_type": "code", "source": "fit()", "metadata": {}, "execution_count": 1, "outputs": [bar, unsaved_bar, printed]},
        {"cell_type": "code", "source": "sample()", "metadata": {}, "execution_count": 2, "outputs": [samples, label]}]}
    fitted, sampled = build.for_the_site(notebook, PAGES)["cells"]
    assert fitted["outputs"] == [printed]  # no note: a progress bar is no widget to play with
    assert [o["data"]["text/html"] for o in sampled["outputs"]] == [
        '<div class="nncourse-widget-text"><pre>The cat sat</pre></div>',
        '<div class="nncourse-widget-text">a &lt; b</div>']  # a label's value is text, not HTML


def test_a_printout_in_columns_is_tagged_so_it_does_not_wrap():
    table = "method      top 1   top 2\nsaliency    0.91    0.88\nocclusion   0.75    0.70\n"
    prose = "✗ mse: you averaged the errors without squaring them  (test case 1 of 3)\n  More help: hint()\n"
    notebook = {"metadata": {}, "nbformat": 4, "nbformat_minor": 5, "cells": [
        {"cell_type": "code", "source": "", "metadata": {}, "execution_count": i + 1,
         "outputs": [{"output_type": "stream", "name": "stdout", "text": text}]}
        for i, text in enumerate([table, prose, prose * 3])]}
    tags = [cell["metadata"].get("tags", []) for cell in build.for_the_site(notebook, PAGES)["cells"]]
    assert tags == [[build.COLUMNS_TAG], [], [build.COLUMNS_TAG]]  # the third: 3 lines with a gap of 2 spaces
    css = (ROOT / "book" / "static" / "nncourse.css").read_text()
    assert f".tag_{build.COLUMNS_TAG} " in css


def test_a_stale_executed_copy_is_executed_again(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "NOTEBOOKS", tmp_path / "notebooks")
    monkeypatch.setattr(build, "EXECUTED", tmp_path / "executed")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "executed").mkdir()
    source = tmp_path / "notebooks" / "01_x.ipynb"
    source.write_text('{"cells": []}')
    assert not build.executed_copy_is_current("01_x")  # no copy
    stamp = {"executed_from_sha256": hashlib.sha256(source.read_bytes()).hexdigest()}
    (tmp_path / "executed" / "01_x.ipynb").write_text(json.dumps({"metadata": {"nncourse": stamp}, "cells": []}))
    assert build.executed_copy_is_current("01_x")
    source.write_text('{"cells": [], "changed": true}')
    assert not build.executed_copy_is_current("01_x")  # the notebook changed since


def test_pages_workflow_builds_with_the_readme_command_and_deploys():
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads `on:` as True
    assert triggers["push"]["branches"] == [config.REPO_BRANCH]
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    build_steps = workflow["jobs"]["build"]["steps"]
    runs = "\n".join(step.get("run", "") for step in build_steps)
    assert 'pip install -e ".[site]"' in runs and "python book/build.py" in runs
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())  # a code span may break a line
    assert 'pip install -e ".[site]" && python book/build.py' in readme
    upload = next(step for step in build_steps if step.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == str((build.OUT / "_build" / "html").relative_to(ROOT))
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert [step["uses"].split("@")[0] for step in deploy["steps"]] == ["actions/deploy-pages"]
    uses = [step["uses"] for job in workflow["jobs"].values() for step in job["steps"] if "uses" in step]
    assert all(re.fullmatch(r"actions/[a-z-]+@v\d+", use) for use in uses), uses


def test_site_extra_has_what_the_build_imports():
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {re.split(r"[<>=;\[ ]", requirement)[0].lower() for requirement in extras["site"]}
    assert {"jupyter-book", "nbclient", "ipykernel", "pyyaml"} <= names


@pytest.fixture(scope="module")
def browser_page():
    missing = browser_missing()
    if missing:
        skip_or_fail(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser.new_page()
        browser.close()


def test_site_checker_catches_a_broken_site(tmp_path, browser_page):
    """The checker site_check.py relies on finds each kind of breakage (a checker that cannot fail is none)."""
    import base64

    pixel = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
    (tmp_path / "ok.png").write_bytes(pixel)
    (tmp_path / "other.html").write_text('<html><body><h1 id="there">there</h1></body></html>')
    (tmp_path / "index.html").write_text(
        '<html><body><img src="ok.png"><img src="missing.png"><img src="http://192.0.2.1/remote.png">'
        '<a href="other.html#there">fine</a><a href="other.html#nowhere">bad anchor</a>'
        '<a href="gone.html">missing page</a><a href="https://example.org/">external, not followed</a>'
        r'<p>a price, $5, is prose</p><p>a formula the parser missed: $\frac{a}{b}$</p>'
        '<script>console.error("boom")</script></body></html>')
    (tmp_path / "good.html").write_text('<html><body><img src="ok.png"><a href="other.html#there">x</a></body></html>')
    with Site(tmp_path) as site:
        bad = inspect_page(browser_page, site.url + "index.html")
        good = inspect_page(browser_page, site.url + "good.html")
        problems = bad.problems() + broken_links(site, [bad])
        assert good.problems() == [] and broken_links(site, [good]) == [] and good.images == 1
        missing = inspect_page(browser_page, site.url + "absent.html")
    text = "\n".join(problems)
    assert bad.images == 3
    assert "image did not load" in text and "missing.png" in text
    assert "image from another host" in text and "remote.png" in text
    assert "console error: boom" in text
    assert "missing anchor" in text and "#nowhere" in text and "#there" not in text
    assert "missing file" in text and "gone.html" in text and "example.org" not in text
    assert "HTTP status 404" in "\n".join(missing.problems())
    assert "request failed: http://192.0.2.1/remote.png" in text
    assert len(bad.raw_tex) == 1 and "TeX left as text" in text and r"$\frac{a}{b}$" in bad.raw_tex[0]

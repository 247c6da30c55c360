"""Colab and Binder entry points: the shared set-up cell, the "Open in Colab" badges (top of every
notebook, every line of the README map), the Binder badge, and one repository URL behind all of them
(``nncourse.config.REPO_URL``).
"""
from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from nncourse import config

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
COURSE = config.NOTEBOOKS  # the fixed names: the README map lists all of them

REPO_PATH = config.REPO_URL.removeprefix("https://github.com/")  # owner/name
BINDER_URL = config.binder_url("00_start_here.ipynb")
BINDER_BADGE = f"[![Binder](https://mybinder.org/badge_logo.svg)]({BINDER_URL})"
# Every link to the course's home on Colab, Binder or GitHub (to check they all name REPO_URL).
COURSE_LINK = re.compile(r"colab\.research\.google\.com/github/[^)\s\"']+|mybinder\.org/v2/gh/[^)\s\"']+"
                         r"|git\+https://github\.com/[^)\s\"'@]+")


def first_cell(nb, cell_type):
    return next(c for c in nb.cells if c.cell_type == cell_type)


# --- notebooks ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_is_the_shared_setup_cell(path):
    assert first_cell(nbformat.read(path, as_version=4), "code").source == config.SETUP_CELL


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_markdown_cell_opens_this_notebook_on_colab(path):
    top = first_cell(nbformat.read(path, as_version=4), "markdown").source
    assert config.colab_badge(path.name) in top, f"{path.name}: paste nncourse.config.colab_badge({path.name!r})"


def _run_setup_cell(on_colab: bool):
    """Execute SETUP_CELL as IPython would, with a stand-in shell (records %pip) and, on 'Colab', a
    stand-in google.colab.output module (records enabling the widget manager)."""
    calls = []
    shell = types.SimpleNamespace(run_line_magic=lambda magic, line: calls.append((magic, line)))
    python = TransformerManager().transform_cell(config.SETUP_CELL)
    saved = {name: sys.modules.get(name) for name in ("google", "google.colab", "google.colab.output")}
    try:
        if on_colab:
            output = types.ModuleType("google.colab.output")
            output.enable_custom_widget_manager = lambda: calls.append(("enable_custom_widget_manager", ""))
            colab = types.ModuleType("google.colab")
            colab.output = output
            google = types.ModuleType("google")
            google.colab = colab
            sys.modules.update({"google": google, "google.colab": colab, "google.colab.output": output})
        else:
            for name in saved:
                sys.modules.pop(name, None)
        exec(compile(python, "<setup cell>", "exec"), {"get_ipython": lambda: shell})
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return calls


def test_setup_cell_does_nothing_outside_colab():
    assert _run_setup_cell(on_colab=False) == []


def test_setup_cell_on_colab_installs_the_course_from_repo_url_and_enables_widgets():
    calls = _run_setup_cell(on_colab=True)
    assert calls == [("pip", f'install -q "nncourse @ git+{config.REPO_URL}@{config.REPO_BRANCH}"'),
                     ("enable_custom_widget_manager", "")]


def test_start_here_explains_the_colab_gpu_runtime_and_shows_the_device():
    nb = nbformat.read(ROOT / "notebooks" / "00_start_here.ipynb", as_version=4)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert re.search(r"Change runtime type", prose) and "GPU" in prose
    assert "get_device(" in code


# --- README --------------------------------------------------------------------------------------------
def readme() -> str:
    assert README.exists(), "README.md is missing"
    return README.read_text()


def test_readme_top_has_the_binder_badge_opening_start_here():
    top = readme().splitlines()[:6]
    assert any(BINDER_BADGE in line for line in top), f"expected near the top of README.md:\n{BINDER_BADGE}"


@pytest.mark.parametrize("name", COURSE)
def test_readme_map_line_has_the_colab_badge(name):
    lines = [line for line in readme().splitlines() if f"](notebooks/{name}.ipynb)" in line]
    assert lines, f"README map has no line linking notebooks/{name}.ipynb"
    assert config.colab_badge(f"{name}.ipynb") in lines[0], (
        f"README map line for {name} lacks {config.colab_badge(f'{name}.ipynb')}")


def test_every_course_link_uses_repo_url():
    """README, notebooks and the set-up cell: every Colab/Binder/pip link names config.REPO_URL."""
    texts = {"README.md": readme(), "nncourse.config.SETUP_CELL": config.SETUP_CELL}
    texts.update({p.name: p.read_text() for p in NOTEBOOKS})
    expected = (f"colab.research.google.com/github/{REPO_PATH}/", f"mybinder.org/v2/gh/{REPO_PATH}/",
                f"git+{config.REPO_URL}")
    links = [(where, link) for where, text in texts.items() for link in COURSE_LINK.findall(text)]
    assert links
    wrong = [f"{where}: {link}" for where, link in links if not link.startswith(expected)]
    assert not wrong, "links that do not use nncourse.config.REPO_URL:\n" + "\n".join(wrong)


def test_repo_url_is_written_in_one_place():
    """Code takes the URL from nncourse.config; only generated markdown (badges) repeats it."""
    hard_coded = [p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "nncourse").rglob("*.py"))
                  if REPO_PATH in p.read_text() and p.name != "config.py"]
    for path in NOTEBOOKS:
        cells = nbformat.read(path, as_version=4).cells
        code = [c.source for c in cells if c.cell_type == "code" and c.source != config.SETUP_CELL]
        if any(REPO_PATH in source for source in code):
            hard_coded.append(path.name)
    assert not hard_coded, f"repository URL hard-coded outside nncourse/config.py: {hard_coded}"

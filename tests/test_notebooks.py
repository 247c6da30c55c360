"""Notebook conventions every notebook follows (nbval runs them; this checks their shape)."""
from pathlib import Path

import nbformat
import pytest

from nncourse.config import SETUP_CELL

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_then_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    cells = code_cells(nb)
    assert cells[0].source == SETUP_CELL
    params = cells[1]
    assert "parameters" in params.metadata.get("tags", []), "second code cell must be tagged 'parameters'"
    assert "QUICK = nncourse.quick_mode()" in params.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    with_outputs = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.outputs]
    assert not with_outputs, f"cells {with_outputs} have outputs: clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_title_names_the_notebook_number(path):
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith(f"# {path.name[:2]} ")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_claims_are_checked_in_the_notebook(path):
    nb = nbformat.read(path, as_version=4)
    source = "\n".join(c.source for c in code_cells(nb))
    assert "assert " in source, "key claims must be checked with assert in the notebook itself"

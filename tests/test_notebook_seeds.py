"""Every notebook runs top to bottom with another ``SEED`` and every exercise solved (nbval runs them as
committed: SEED = 0, exercises unsolved).

An asserted claim must hold for any seed, not just the one the notebook was written with. Where the
browser tests can run, they run every notebook with this other seed in JupyterLab (one pass proves
both), so this headless run skips; without a browser it runs here. The seed comes from
``NNCOURSE_OTHER_SEED`` (default 1); ``tests/notebook_seeds.py`` sweeps many seeds, OpenBLAS kernels and
thread counts from the command line.
"""
from pathlib import Path

import pytest

from browser_support import browser_missing
from notebook_seeds import OTHER_SEED, run_with_seed

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_with_another_seed(path):
    if browser_missing() is None:
        pytest.skip(f"tests/test_browser.py runs {path.name} with SEED = {OTHER_SEED} in JupyterLab")
    run = run_with_seed(path, OTHER_SEED)
    assert run.passed, str(run)

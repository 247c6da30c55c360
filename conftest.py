"""Test-suite settings shared by unit tests and notebook runs (nbval)."""
import os

# Notebooks run in quick mode under test: small data, few epochs. Set before any kernel starts,
# so nbval's kernels inherit it.
os.environ["NNCOURSE_QUICK"] = "1"
# Idle OpenMP threads (PyTorch's) sleep instead of spinning: on a small, busy CI machine the spinning
# workers of one process starve the others (measured here: a notebook's GPT training 89 s -> 15 s).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# pytest-xdist (the suite runs on 2 workers by default, pyproject's addopts): the workers, and the
# notebook kernels they start, share the cores - each gets its share of BLAS/OpenMP threads rather
# than all of them (oversubscribed OpenBLAS threads spin and slow every process down). Set here,
# before NumPy or PyTorch is imported in the worker; an explicit setting in the environment wins.
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
if _workers > 1:
    _threads = str(max(1, (os.cpu_count() or 1) // _workers))
    for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_name, _threads)
# Never touch a learner's real download cache from the tests.
os.environ.setdefault("NNCOURSE_DATA", os.path.join(os.path.dirname(__file__), "artifacts", "data-cache"))


# --- The nbval pass leaves executed copies of the notebooks for the course website -------------
# Every notebook is executed once here (quick mode, the committed SEED) anyway; the website
# (book/build.py) is built from these copies instead of executing all sixteen a second time.
# A copy is written only when every code cell of the notebook ran and passed, and carries the
# SHA-256 of the notebook it was executed from, so the build can tell a stale copy.
import hashlib  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

EXECUTED_DIR = Path(__file__).resolve().parent / "artifacts" / "executed"


def _is_nbval_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "cell") and hasattr(item.parent, "nb")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if _is_nbval_cell(item) and outcome.get_result().failed:
        item.parent._nncourse_failed = True


_STATE_CODE = ("import json as _nncourse_json\nfrom ipywidgets import Widget as _nncourse_Widget\n"
               "print(_nncourse_json.dumps(_nncourse_Widget.get_manager_state(drop_defaults=True)))\n"
               "del _nncourse_json, _nncourse_Widget")


def _widget_state(notebook) -> dict | None:
    """The state of the notebook's live widgets, asked of its kernel after the last cell (nbval, unlike
    nbclient, does not record it); None when it cannot be had - the site then shows no widget text."""
    import json
    from queue import Empty

    kernel = getattr(notebook, "kernel", None)
    if kernel is None or not kernel.is_alive():
        return None
    try:
        msg_id = kernel.execute_cell_input(_STATE_CODE, allow_stdin=False)
        kernel.await_reply(msg_id, timeout=60)
        printed = []
        while True:
            message = kernel.get_message(stream="iopub", timeout=10)
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            if message["msg_type"] == "stream":
                printed.append(message["content"]["text"])
            elif message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                break
        return json.loads("".join(printed))
    except (Empty, RuntimeError, ValueError, KeyError):
        return None


def pytest_runtest_teardown(item, nextitem):
    if not _is_nbval_cell(item):
        return
    notebook = item.parent
    if Path(str(notebook.fspath)).resolve().parent != EXECUTED_DIR.parents[1] / "notebooks":
        return  # a notebook from elsewhere (a test's temporary copy): not the course's
    item.cell.outputs = item.test_outputs or []
    item.cell.execution_count = item.cell_num + 1
    notebook._nncourse_ran = getattr(notebook, "_nncourse_ran", 0) + 1
    code_cells = sum(cell.cell_type == "code" for cell in notebook.nb.cells)
    path = EXECUTED_DIR / Path(str(notebook.fspath)).name
    if notebook._nncourse_ran < code_cells:
        return
    if getattr(notebook, "_nncourse_failed", False):
        path.unlink(missing_ok=True)  # never leave a stale copy beside a failing notebook
        return
    import nbformat

    state = _widget_state(notebook)
    if state:  # as nbclient saves it: the site shows the text the widgets showed (book/build.py)
        notebook.nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": state}
    source = Path(str(notebook.fspath)).read_bytes()
    notebook.nb.metadata["nncourse"] = {"executed_from_sha256": hashlib.sha256(source).hexdigest(),
                                        "executed_by": "nbval (quick mode)"}
    EXECUTED_DIR.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook.nb, str(path))

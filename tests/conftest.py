import sys

import pytest

import matplotlib

matplotlib.use("Agg")  # unit tests draw off-screen; notebooks keep their inline backend


# The largest |nncourse - fairlearn| per metric seen by tests/test_fairness.py (its MAX_ERRORS): under
# pytest-xdist the workers run the tests and hand their maxima to the controller, which prints them.
_FAIRNESS_ERRORS: dict[str, float] = {}


def _fairness_max_errors() -> dict[str, float]:
    module = next((m for name, m in list(sys.modules.items())
                   if name.rpartition(".")[2] == "test_fairness" and hasattr(m, "MAX_ERRORS")), None)
    return dict(module.MAX_ERRORS) if module is not None else {}


def _merge_fairness_errors(errors: dict) -> None:
    for name, err in errors.items():
        _FAIRNESS_ERRORS[name] = max(err, _FAIRNESS_ERRORS.get(name, 0.0))


def pytest_sessionfinish(session):
    if hasattr(session.config, "workeroutput"):  # an xdist worker: pass the maxima on
        session.config.workeroutput["fairness_max_errors"] = _fairness_max_errors()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):  # the xdist controller: a worker finished
    _merge_fairness_errors(getattr(node, "workeroutput", {}).get("fairness_max_errors", {}))


def pytest_terminal_summary(terminalreporter):
    """After the run: the largest |nncourse - fairlearn| per metric, printed only when those
    comparison tests ran."""
    _merge_fairness_errors(_fairness_max_errors())  # without xdist the tests ran in this process
    if not _FAIRNESS_ERRORS:
        return
    terminalreporter.section("max |nncourse - fairlearn| per metric")
    for name, err in sorted(_FAIRNESS_ERRORS.items()):
        terminalreporter.write_line(f"  {name:55s} {err:.1e}")


@pytest.fixture(scope="module")
def one_torch_thread():
    """For modules of tiny torch models (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``):
    one thread is as fast, and far faster on a busy shared machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

import sys

import pytest

import matplotlib

matplotlib.use("Agg")  # unit tests draw off-screen; notebooks keep their inline backend


def pytest_terminal_summary(terminalreporter):
    """After the run: the largest |nncourse - fairlearn| per metric that tests/test_fairness.py saw
    (its ``MAX_ERRORS``), printed only when those comparison tests ran."""
    module = next((m for name, m in list(sys.modules.items())
                   if name.rpartition(".")[2] == "test_fairness" and hasattr(m, "MAX_ERRORS")), None)
    if module is None or not module.MAX_ERRORS:
        return
    terminalreporter.section("max |nncourse - fairlearn| per metric")
    for name, err in sorted(module.MAX_ERRORS.items()):
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

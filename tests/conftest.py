import sys

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

"""Test-suite settings shared by unit tests and notebook runs (nbval)."""
import os

# Notebooks run in quick mode under test: small data, few epochs. Set before any kernel starts,
# so nbval's kernels inherit it.
os.environ["NNCOURSE_QUICK"] = "1"
# Never touch a learner's real download cache from the tests.
os.environ.setdefault("NNCOURSE_DATA", os.path.join(os.path.dirname(__file__), "artifacts", "data-cache"))

"""Test-suite settings shared by unit tests and notebook runs (nbval)."""
import os

# Notebooks run in quick mode under test: small data, few epochs. Set before any kernel starts,
# so nbval's kernels inherit it.
os.environ["NNCOURSE_QUICK"] = "1"
# Idle OpenMP threads (PyTorch's) sleep instead of spinning: on a small, busy CI machine the spinning
# workers of one process starve the others (measured here: a notebook's GPT training 89 s -> 15 s).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Never touch a learner's real download cache from the tests.
os.environ.setdefault("NNCOURSE_DATA", os.path.join(os.path.dirname(__file__), "artifacts", "data-cache"))

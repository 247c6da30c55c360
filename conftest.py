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

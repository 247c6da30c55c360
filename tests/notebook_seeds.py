"""Run notebooks with another ``SEED`` (papermill's ``parameters`` injection) and every exercise solved, in quick mode.

Every asserted claim in a notebook must hold for any seed and on any CPU/BLAS. The test suite runs
each notebook once as committed (nbval: ``SEED = 0``, exercises unsolved) and once more with another
seed and every exercise solved: in
JupyterLab when the browser tests run (``tests/test_browser.py``), headless otherwise
(``tests/test_notebook_seeds.py``). This module is also a command-line sweep over seeds, OpenBLAS
kernels and thread counts, for checking a claim before it is asserted:

    python tests/notebook_seeds.py notebooks/07_rnn_lstm.ipynb --seeds 0-9 --coretypes Haswell,Sandybridge --threads 1,2

Each run goes to ``artifacts/seeds/`` (git-ignored); the summary names the failing cell and error.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "artifacts" / "seeds"
# The seed of the test suite's second run of every notebook (nbval's first run uses SEED = 0).
OTHER_SEED = int(os.environ.get("NNCOURSE_OTHER_SEED", "1"))
# papermill parses the parameters cell to list its parameters and warns about every line that is not a
# literal (QUICK = nncourse.quick_mode()); the injection does not need that list.
logging.getLogger("papermill.translators").setLevel(logging.ERROR)


def with_seed(path: Path | str, seed: int, solved: bool = True):
    """The notebook at ``path`` with a cell ``SEED = seed`` injected after its ``parameters`` cell
    (papermill's injection, without running anything) and, if ``solved``, every exercise solved
    (``nncourse.exercises.solve``: the run then fails unless each exercise's check passes).

    The test suite's second run of every notebook is this one: another seed and the solutions,
    in one pass."""
    from papermill.iorw import load_notebook_node  # as papermill reads it (every cell gets metadata.tags)
    from papermill.parameterize import parameterize_notebook

    from nncourse.exercises.solve import solve_notebook

    nb = load_notebook_node(str(path))
    nb = parameterize_notebook(nb, {"SEED": seed}, kernel_name="python3", language="python")
    return solve_notebook(nb) if solved else nb


@dataclass
class SeedRun:
    notebook: str
    seed: int
    env: dict
    seconds: float
    error: str = ""  # empty when every cell ran

    @property
    def passed(self) -> bool:
        return not self.error

    def __str__(self) -> str:
        settings = " ".join(f"{k}={v}" for k, v in self.env.items())
        verdict = "ok" if self.passed else f"FAILED: {self.error}"
        return f"{self.notebook} SEED={self.seed} {settings} ({self.seconds:.0f} s): {verdict}"


@contextmanager
def _environment(env: dict):
    """Set environment variables for kernels started inside the block (they inherit os.environ)."""
    old = {k: os.environ.get(k) for k in env}
    os.environ.update({k: str(v) for k, v in env.items()})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_with_seed(path: Path | str, seed: int, env: dict | None = None, timeout: float = 600,
                  solved: bool = True) -> SeedRun:
    """Execute ``path`` top to bottom in quick mode with ``SEED = seed`` injected after its parameters
    cell and (if ``solved``) every exercise solved: :func:`with_seed`."""
    import nbformat
    import papermill
    from nbclient.exceptions import CellTimeoutError
    from papermill.exceptions import PapermillExecutionError

    path = Path(path)
    env = dict(env or {})
    tag = "-".join([f"seed{seed}"] + [f"{k}{v}" for k, v in env.items()])
    OUTPUT.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    error = ""
    with _environment({"NNCOURSE_QUICK": "1", **env}):
        try:
            prepared = OUTPUT / f"{path.stem}-{tag}-input.ipynb"
            nbformat.write(with_seed(path, seed, solved), prepared)
            papermill.execute_notebook(str(prepared), str(OUTPUT / f"{path.stem}-{tag}.ipynb"),
                                       cwd=str(path.parent), kernel_name="python3",
                                       progress_bar=False, execution_timeout=timeout)
        except PapermillExecutionError as err:
            last_line = (err.evalue or "").strip().splitlines()[-1:] or [""]
            error = f"cell {err.exec_count}: {err.ename}: {last_line[0][:300]}"
        except CellTimeoutError as err:  # a cell ran past `timeout`: a failed run, not a crashed sweep
            error = f"{type(err).__name__}: {str(err).splitlines()[0][:300]}"
    return SeedRun(path.name, seed, env, time.perf_counter() - start, error)


def _ints(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--seeds", default="1", help="e.g. 0-9 or 1,2,5")
    parser.add_argument("--coretypes", default="", help="OPENBLAS_CORETYPE values, e.g. Haswell,Sandybridge")
    parser.add_argument("--threads", default="", help="thread counts for OpenBLAS/OpenMP, e.g. 1,2")
    parser.add_argument("--timeout", type=float, default=600, help="seconds one cell may run (default 600)")
    args = parser.parse_args(argv)
    coretypes = [c for c in args.coretypes.split(",") if c] or [None]
    threads = [int(t) for t in args.threads.split(",") if t] or [None]
    runs = []
    for notebook in args.notebooks:
        for coretype in coretypes:
            for n in threads:
                env = {}
                if coretype:
                    env["OPENBLAS_CORETYPE"] = coretype
                if n:
                    env.update(OPENBLAS_NUM_THREADS=n, OMP_NUM_THREADS=n)
                for seed in _ints(args.seeds):
                    runs.append(run_with_seed(notebook, seed, env, args.timeout))
                    print(runs[-1], flush=True)
    failed = [r for r in runs if not r.passed]
    print(f"\n{len(runs) - len(failed)}/{len(runs)} runs passed")
    for r in failed:
        print("  ", r)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

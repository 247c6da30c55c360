"""Binder set-up (binder/): the environment parses and provides every package the course imports,
postBuild installs the package (and stops at the first failure), start turns quick mode on and runs
the command it is given.

No network: postBuild is run against a stand-in ``python`` that records what it was asked to do.
"""
from __future__ import annotations

import ast
import functools
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
import yaml

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    """'ipywidgets>=8,<9' -> 'ipywidgets', 'python=3.11' -> 'python' (conda or pip syntax)."""
    return normalize(REQUIREMENT_NAME.match(spec).group(1))


def binder_environment() -> dict:
    with open(BINDER / "environment.yml") as f:
        return yaml.safe_load(f)


def binder_packages(env: dict) -> tuple[set[str], list[str]]:
    """Names of the conda and pip packages in environment.yml, and the pip options (index URLs)."""
    names, pip_options = set(), []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for spec in dep.get("pip", []):
                if spec.startswith("-"):
                    pip_options.append(spec)
                else:
                    names.add(requirement_name(spec))
        else:
            names.add(requirement_name(dep))
    return names, pip_options


def imported_modules(source: str) -> set[str]:
    """Top-level modules imported by Python source (absolute imports only)."""
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
    return modules


def notebook_imports(path: Path) -> set[str]:
    from IPython.core.inputtransformer2 import TransformerManager

    to_python = TransformerManager()  # turns %pip / !cmd lines into plain Python
    modules = set()
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code":
            modules |= imported_modules(to_python.transform_cell(cell.source))
    return modules


def third_party(modules: set[str]) -> set[str]:
    # google.colab only exists on Colab (the set-up cell imports it there); nncourse comes from postBuild.
    return {m for m in modules if m not in sys.stdlib_module_names and m not in {"nncourse", "google", "__future__"}}


@functools.lru_cache(maxsize=None)
def _import_names() -> dict:
    return metadata.packages_distributions()  # scans every installed distribution: once is enough


def distribution_of(module: str) -> str:
    """The installed distribution that provides an import name (sklearn -> scikit-learn, PIL -> pillow)."""
    candidates = _import_names().get(module)
    return normalize(candidates[0]) if candidates else normalize(module)


def installed_closure(names: set[str]) -> set[str]:
    """``names`` plus everything they require, read from this machine's installed metadata (conda
    installs the same run dependencies: ipywidgets brings IPython, scikit-learn brings threadpoolctl)."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for spec in requires:
            if "extra ==" not in spec:  # optional extras are not installed
                todo.append(requirement_name(spec))
    return seen


# --- environment.yml -------------------------------------------------------------------------------
def test_environment_parses_and_is_cpu_only():
    env = binder_environment()
    assert env["channels"] == ["conda-forge"]
    names, pip_options = binder_packages(env)
    assert {"python", "pip", "jupyterlab", "ipywidgets", "torch"} <= names
    # Small CPU-only PyTorch: the CPU wheel index, not the CUDA build, and no CUDA packages.
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in pip_options
    assert not {n for n in names if "cuda" in n or n in {"pytorch-gpu", "cudatoolkit"}}
    assert "torchvision" not in names  # does not import beside our torch build
    # Ranges, never exact pins (Binder should get fixes).
    specs = [d for d in env["dependencies"] if isinstance(d, str)]
    specs += [s for d in env["dependencies"] if isinstance(d, dict) for s in d.get("pip", []) if not s.startswith("-")]
    assert not [s for s in specs if "==" in s], "exact pins in binder/environment.yml"


def test_environment_provides_what_pyproject_requires():
    """postBuild installs with --no-deps, so environment.yml must carry every runtime dependency."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        runtime = {requirement_name(spec) for spec in tomllib.load(f)["project"]["dependencies"]}
    names, _ = binder_packages(binder_environment())
    assert runtime <= names, f"missing from binder/environment.yml: {sorted(runtime - names)}"


def test_environment_provides_every_package_the_course_imports():
    names, _ = binder_packages(binder_environment())
    provided = installed_closure(names)
    sources = {path.relative_to(ROOT).as_posix(): notebook_imports(path) for path in NOTEBOOKS}
    sources.update({path.relative_to(ROOT).as_posix(): imported_modules(path.read_text())
                    for path in sorted((ROOT / "nncourse").rglob("*.py"))})
    missing = {}
    for source, modules in sources.items():
        for module in third_party(modules):
            if distribution_of(module) not in provided:
                missing.setdefault(f"{module} (distribution {distribution_of(module)})", []).append(source)
    assert not missing, "imported but not in binder/environment.yml:\n" + "\n".join(
        f"  {module}: {', '.join(files)}" for module, files in sorted(missing.items()))


def test_import_scan_sees_through_magics_and_finds_real_imports():
    """The scanner behind the previous test: it must find imports (and not choke on %pip)."""
    source = '%pip install -q foo\nimport numpy as np\nfrom sklearn.datasets import load_digits\nfrom . import x\nimport os'
    from IPython.core.inputtransformer2 import TransformerManager

    assert third_party(imported_modules(TransformerManager().transform_cell(source))) == {"numpy", "sklearn"}
    assert distribution_of("sklearn") == "scikit-learn"
    assert "threadpoolctl" in installed_closure({"scikit-learn"})
    assert "made-up-package" not in installed_closure({"scikit-learn"})


# --- postBuild ---------------------------------------------------------------------------------------
def _fake_python(tmp_path: Path, fail_on: str | None = None) -> tuple[dict, Path]:
    """A PATH whose ``python`` only logs its arguments (and fails when they contain ``fail_on``)."""
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    fail = f'case "$*" in *"{fail_on}"*) exit 3;; esac\n' if fail_on else ""
    (bin_dir / "python").write_text(f'#!/bin/sh\necho "$*" >> "{log}"\n{fail}exit 0\n')
    (bin_dir / "python").chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return env, log


def test_postbuild_installs_the_package_from_the_repository_root(tmp_path):
    postbuild = BINDER / "postBuild"
    assert os.access(postbuild, os.X_OK), "binder/postBuild must be executable"
    assert postbuild.read_text().startswith("#!/bin/bash")
    env, log = _fake_python(tmp_path)
    done = subprocess.run(["bash", str(postbuild)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    installs = [c for c in calls if c.startswith("-m pip install")]
    assert installs, f"postBuild never runs pip install: {calls}"
    args = installs[0].split()
    assert "--no-deps" in args  # dependencies come from environment.yml (CPU torch), not PyPI
    assert args[-2:] == ["-e", "."] or args[-1] == ".", f"postBuild does not install the repository: {installs[0]}"


def test_postbuild_stops_at_the_first_failure(tmp_path):
    """`set -e`: a failed install must fail the Binder build, not leave a course without its package."""
    assert re.search(r"^set -e", (BINDER / "postBuild").read_text(), re.M)
    env, log = _fake_python(tmp_path, fail_on="pip install")
    done = subprocess.run(["bash", str(BINDER / "postBuild")], cwd=ROOT, env=env, capture_output=True, timeout=60)
    assert done.returncode == 3
    assert len(log.read_text().splitlines()) == 1, "postBuild went on after the failed install"


# --- start ---------------------------------------------------------------------------------------------
def test_start_turns_quick_mode_on_and_execs_its_arguments(tmp_path):
    start = BINDER / "start"
    assert os.access(start, os.X_OK), "binder/start must be executable"
    lines = [l.strip() for l in start.read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert lines[-1] == 'exec "$@"', "binder/start must end by exec-ing its arguments"
    env = {k: v for k, v in os.environ.items() if k != "NNCOURSE_QUICK"}
    code = "import os, sys; import nncourse; print(os.getpid(), nncourse.quick_mode(), sys.argv[1:])"
    process = subprocess.Popen([str(start), sys.executable, "-c", code, "a b", "c"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    pid, quick, args = out.strip().split(" ", 2)
    assert quick == "True"
    assert args == "['a b', 'c']"  # arguments passed through intact (quoted "$@")
    assert int(pid) == process.pid  # exec: Python replaced the shell (the server gets the signals)
    assert subprocess.run([str(start), "sh", "-c", "exit 7"], env=env, timeout=30).returncode == 7

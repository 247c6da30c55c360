"""Repository promises: the README never lies about how to test, and dependencies stay sane."""
import re
from pathlib import Path

from nncourse import config

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
NOTEBOOKS = config.NOTEBOOKS


def readme_commands():
    return re.findall(r"```bash\n(.+?)\n```", README)


def test_readme_gives_exactly_two_setup_commands():
    commands = readme_commands()
    assert len(commands) == 2, commands
    lab, test = commands
    assert 'pip install -e ".[lab]"' in lab and "jupyter lab notebooks/00_start_here.ipynb" in lab
    assert 'pip install -e ".[test]"' in test and test.endswith("pytest")


def test_ci_runs_the_readme_test_command_verbatim():
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci_lines
    ci = "\n".join(ci_lines)
    assert ci.index("pip install -q torch==2.13.0") < ci.index(readme_commands()[1])


def test_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = " ".join(project["dependencies"])
    assert re.search(r'"?torch>=2\.\d', deps) and "torch==" not in deps  # a range, never a pin
    assert "ipywidgets>=7.6,<9" in deps
    for name in ("numpy", "matplotlib", "scikit-learn", "tqdm"):
        assert name in deps
    everything = deps + " ".join(" ".join(v) for v in project["optional-dependencies"].values())
    assert "torchvision" not in everything
    assert "jupyterlab" in " ".join(project["optional-dependencies"]["lab"])
    assert {"pytest", "nbval"} <= {re.split(r"[<>=]", d)[0] for d in project["optional-dependencies"]["test"]}


def test_readme_maps_every_notebook_and_notebooks_have_the_fixed_names():
    for name in NOTEBOOKS:
        assert f"notebooks/{name}.ipynb" in README, name
    present = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert set(present) <= set(NOTEBOOKS), set(present) - set(NOTEBOOKS)


def test_environment_yml_matches_the_runtime_dependencies():
    env = (ROOT / "environment.yml").read_text()
    for name in ("numpy", "matplotlib", "ipywidgets>=7.6,<9", "pytorch>=2.2", "scikit-learn", "tqdm", "jupyterlab"):
        assert name in env, name
    assert "-e ." in env

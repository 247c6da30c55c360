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
    assert "ipywidgets>=7.6,<9" in deps  # Colab's preinstalled 7.x must satisfy the core range
    assert "ipywidgets>=8,<9" in project["optional-dependencies"]["lab"]  # JupyterLab 4 needs 8
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
    assert set(present) == set(NOTEBOOKS), set(present) ^ set(NOTEBOOKS)  # every listed one exists


def _map_order(text: str, link: str) -> list[str]:
    """Part headings and notebook names in the order a map in ``text`` shows them."""
    marks = {part: part for part in config.PARTS} | {link.format(name): name for name in NOTEBOOKS}
    found = sorted((text.index(mark), what) for mark, what in marks.items() if mark in text)
    return [what for _, what in found]


def test_the_readme_and_notebook_00_show_the_course_in_its_four_parts_in_order():
    import nbformat
    expected = [x for part, names in config.PARTS.items() for x in [part, *names]]
    assert len(config.PARTS) == 4 and NOTEBOOKS == sorted(NOTEBOOKS)  # numbers follow the map
    assert _map_order(README, "](notebooks/{}.ipynb)") == expected
    start = nbformat.read(ROOT / "notebooks" / "00_start_here.ipynb", as_version=4)
    course_map = next(c.source for c in start.cells if c.source.startswith("## 5. Map of the course"))
    assert _map_order(course_map, "]({}.ipynb)") == expected


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _name_and_range(spec: str) -> tuple[str, str]:
    """'ipywidgets>=7.6,<9' -> ('ipywidgets', '>=7.6,<9'); conda's 'pytorch' is PyPI's 'torch', its
    'pytorch_geometric' PyPI's 'torch_geometric'."""
    spec = spec.split("#")[0].split(";")[0].replace(" ", "")
    name, version = re.match(r"([A-Za-z0-9_.-]+)(.*)", spec).groups()
    name = name.lower().replace("_", "-")
    conda_to_pypi = {"pytorch": "torch", "pytorch-geometric": "torch-geometric"}
    return conda_to_pypi.get(name, name), version


def test_environment_yml_matches_the_runtime_dependencies():
    """The conda environment installs the package with its own pip line (`-e .`), but conda must
    provide every runtime dependency first, with pyproject's range - or the [lab] extra's, which is
    stricter where JupyterLab needs it (ipywidgets 8)."""
    import yaml

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = dict(_name_and_range(d) for d in env["dependencies"] if isinstance(d, str))
    pip = [s for d in env["dependencies"] if isinstance(d, dict) for s in d.get("pip", [])]
    assert "-e ." in pip
    project = _pyproject()
    lab = dict(_name_and_range(d) for d in project["optional-dependencies"]["lab"])
    expected = {**dict(_name_and_range(d) for d in project["dependencies"]), **lab}
    mismatched = {name: (conda.get(name), version) for name, version in expected.items() if conda.get(name) != version}
    assert not mismatched, f"environment.yml vs pyproject (name: (environment.yml, pyproject)): {mismatched}"


def test_packages_imported_directly_are_declared():
    """What nncourse imports itself must be a declared dependency, not a lucky transitive one."""
    declared = {_name_and_range(d)[0] for d in _pyproject()["dependencies"]}
    for module, distribution in {"PIL": "pillow", "IPython": "ipython", "threadpoolctl": "threadpoolctl",
                                 "scipy": "scipy", "ipywidgets": "ipywidgets", "tqdm": "tqdm"}.items():
        used = any(re.search(rf"^\s*(from|import) {module}\b", p.read_text(), re.M)
                   for p in (ROOT / "nncourse").rglob("*.py"))
        assert used and distribution in declared, (module, distribution)


def test_installed_versions_satisfy_the_declared_floors():
    """The floors are the versions the tests ran against (or older): what is installed here must satisfy them."""
    from importlib.metadata import version

    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    for spec in _pyproject()["dependencies"]:
        name, rng = _name_and_range(spec)
        installed = Version(version(name).split("+")[0])
        assert installed in SpecifierSet(rng), f"{name} {installed} outside {rng}"

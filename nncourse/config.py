"""Course-wide settings: quick vs full mode, and where the course lives online.

Quick mode (``NNCOURSE_QUICK=1``, set by the test suite and on Binder) picks small data and few
epochs so every notebook runs top to bottom on a 2-core CPU in about a minute. Unset, the
notebooks run at full scale (real datasets, more epochs, the GPU when there is one).
"""
from __future__ import annotations

import os

QUICK_ENV = "NNCOURSE_QUICK"

# The course repository: the Colab set-up cell, the Colab/Binder badges and the README all
# use this URL (a test checks they agree).
REPO_URL = "https://github.com/nncourse/nncourse"
REPO_BRANCH = "main"

# The course map: four parts, the notebooks of each in order. The names are fixed so links and
# badges stay stable; the numbers leave room for notebooks still being written (they are listed
# once they exist). The README map and notebook 00's map follow this (a test checks).
PARTS = {
    "Part I — Foundations": ["00_start_here", "01_perceptron", "02_activations", "03_backpropagation",
                             "04_optimization", "05_generalization"],
    "Part II — Architectures": ["06_cnn", "07_rnn_lstm", "08_attention", "09_graph_networks"],
    "Part III — At scale": ["10_transfer_learning", "11_training_at_scale", "12_efficient_inference"],
    "Part IV — Responsible AI": ["13_ethics_bias", "14_explainability", "15_robustness_privacy"],
}
NOTEBOOKS = [name for names in PARTS.values() for name in names]


def quick_mode() -> bool:
    """True when ``NNCOURSE_QUICK`` is set to 1/true/yes/on."""
    return os.environ.get(QUICK_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


# What notebook 00's environment check looks for (distribution names, as pip knows them).
REQUIRED_PACKAGES = ("nncourse", "numpy", "torch", "matplotlib", "ipywidgets", "scikit-learn", "tqdm")


# The first code cell of every notebook, verbatim. On Colab it installs this package from the
# repository and turns on Colab's widget manager; everywhere else it does nothing.
SETUP_CELL = f'''# Set-up (the same first cell in every notebook): on Colab, install the course package.
# Elsewhere this does nothing - install with `pip install -e .` from the repository instead.
import sys

if "google.colab" in sys.modules:
    %pip install -q "nncourse @ git+{REPO_URL}@{REPO_BRANCH}"
    from google.colab import output

    output.enable_custom_widget_manager()'''


def colab_url(notebook: str) -> str:
    """The "Open in Colab" address of ``notebooks/<notebook>``."""
    path = REPO_URL.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{path}/blob/{REPO_BRANCH}/notebooks/{notebook}"


COLAB_BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"


def binder_url(notebook: str = "00_start_here.ipynb") -> str:
    """The Binder address that builds the repository and opens JupyterLab at ``notebooks/<notebook>``."""
    path = REPO_URL.removeprefix("https://github.com/")
    return f"https://mybinder.org/v2/gh/{path}/{REPO_BRANCH}?urlpath=lab/tree/notebooks/{notebook}"


def colab_badge(notebook: str) -> str:
    """Markdown for the "Open in Colab" badge of ``notebooks/<notebook>`` (README map and notebook tops)."""
    return f"[![Open In Colab]({COLAB_BADGE_IMAGE})]({colab_url(notebook)})"


def torch_device_name() -> str:
    """The device PyTorch would use, in words, or why there is none (PyTorch missing or broken)."""
    try:
        import torch
    except Exception as err:  # not installed, or installed but failing to load (a missing DLL, say)
        if isinstance(err, ModuleNotFoundError) and err.name == "torch":
            return "unknown: PyTorch is not installed"
        return f"unknown: PyTorch failed to import ({type(err).__name__}: {err})"
    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps (Apple GPU)"
    return "cpu (no GPU found)"


def environment_report() -> dict[str, str]:
    """Print and return the versions this course depends on, the mode and the torch device
    (notebook 00's environment check). A missing package reads "not installed"; nothing here
    raises because one is missing, so the notebook can say what to install."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    report = {"python": platform.python_version()}
    for package in REQUIRED_PACKAGES:
        try:
            report[package] = version(package)
        except PackageNotFoundError:
            report[package] = "not installed"
    report["device"] = torch_device_name()
    report["mode"] = "quick (NNCOURSE_QUICK=1)" if quick_mode() else "full"
    width = max(map(len, report))
    for key, value in report.items():
        print(f"{key:>{width}}  {value}")
    missing = [p for p in REQUIRED_PACKAGES if report[p] == "not installed"]
    if missing:
        print(f"\nMissing: {', '.join(missing)}. Install the course with `pip install -e .` from the repository "
              "(on Colab, run the first cell), then restart the kernel.")
    return report

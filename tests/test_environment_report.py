"""Notebook 00's environment check: it reports what is there and never crashes on what is not."""
import builtins
import importlib.metadata
import sys

import pytest

from nncourse import config


def test_report_lists_every_required_package_the_device_and_the_mode(capsys, monkeypatch):
    monkeypatch.setenv(config.QUICK_ENV, "1")
    report = config.environment_report()
    out = capsys.readouterr().out
    assert set(config.REQUIRED_PACKAGES) <= set(report) and {"python", "device", "mode"} <= set(report)
    assert report["torch"] == importlib.metadata.version("torch")
    assert report["device"].split()[0] in {"cpu", "cuda", "mps"}
    assert report["mode"].startswith("quick")
    assert "Missing" not in out and all(value in out for value in report.values())


def _pretend_missing(monkeypatch, name):
    real_version = importlib.metadata.version

    def version(package):
        if package == name:
            raise importlib.metadata.PackageNotFoundError(package)
        return real_version(package)

    monkeypatch.setattr(importlib.metadata, "version", version)
    monkeypatch.setitem(sys.modules, name, None)  # `import name` now raises ModuleNotFoundError


def test_missing_torch_gives_the_friendly_message_not_a_traceback(capsys, monkeypatch):
    _pretend_missing(monkeypatch, "torch")
    with pytest.raises(ModuleNotFoundError):
        import torch  # noqa: F401 - the simulation works
    report = config.environment_report()  # must not raise
    out = capsys.readouterr().out
    assert report["torch"] == "not installed"
    assert report["device"] == "unknown: PyTorch is not installed"
    assert "Missing: torch." in out and "pip install -e ." in out
    # notebook 00's check then fails with its own message, not with an ImportError
    with pytest.raises(AssertionError, match="missing"):
        assert all(v != "not installed" for v in report.values()), "a required package is missing: see the README"


def test_a_torch_that_fails_to_load_is_reported_not_raised(monkeypatch):
    real_import = builtins.__import__

    def broken_import(name, *args, **kwargs):
        if name == "torch":
            raise OSError("libtorch_cpu.so: cannot open shared object file")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setattr(builtins, "__import__", broken_import)
    device = config.torch_device_name()
    assert device.startswith("unknown: PyTorch failed to import (OSError") and "libtorch_cpu" in device


def test_other_missing_packages_are_named(capsys, monkeypatch):
    _pretend_missing(monkeypatch, "tqdm")
    report = config.environment_report()
    assert report["tqdm"] == "not installed" and report["device"].split()[0] in {"cpu", "cuda", "mps"}
    assert "Missing: tqdm." in capsys.readouterr().out

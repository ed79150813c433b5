"""Shared test fixtures: the MNIST data root, offline W&B, the ``cuda`` marker, and a state
dict's round trip through a checkpoint file (``roundtrip``).

MNIST is never downloaded by the tests: it is read from ``$AVALANCHE_NEUROMOD_DATA`` (the Makefile
and ``.ci/run`` export it; default ``<repo>/../shared/data``). A missing data set fails the tests
that need it instead of skipping them, so a CI run without the data cannot pass silently.
"""

from __future__ import annotations

import importlib.util
import io
import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
DATA_ENV = "AVALANCHE_NEUROMOD_DATA"
DEFAULT_DATA_ROOT = REPO.parent / "shared" / "data"
MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The MNIST root (``<root>/MNIST/raw/*-ubyte``); fails, never skips, when it is missing."""
    value = os.environ.get(DATA_ENV) or None
    root = Path(value).expanduser() if value is not None else DEFAULT_DATA_ROOT
    raw = root / "MNIST" / "raw"
    missing = [name for name in MNIST_FILES if not (raw / name).is_file()]
    if missing:
        origin = f"${DATA_ENV}={value}" if value is not None else f"${DATA_ENV} unset, default"
        pytest.fail(
            f"MNIST data missing: {raw / missing[0]} not found ({origin}); set {DATA_ENV} to a "
            "folder holding MNIST/raw/*-ubyte (the tests never download it)",
            pytrace=False,
        )
    return root


@pytest.fixture(autouse=True)
def _wandb_offline(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """Every test runs W&B offline and silent, writing into its own temporary folder."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path_factory.mktemp("wandb")))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked ``cuda`` when no CUDA device is available."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (torch.cuda.is_available() is False)")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)


def fill_disk_for_temporaries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``os.fsync`` fail with ENOSPC on the atomic writer's ``*.tmp`` files (a full disk)."""
    import errno

    real_fsync = os.fsync

    def full(fd):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".tmp"):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full)


@pytest.fixture
def roundtrip():
    """``torch.save`` then ``torch.load(weights_only=True)``, as a checkpoint does to a state."""

    def through_a_file(state: dict) -> dict:
        buffer = io.BytesIO()
        torch.save(state, buffer)
        buffer.seek(0)
        return torch.load(buffer, weights_only=True)

    return through_a_file


@pytest.fixture(scope="session")
def benchmark_script():
    """``benchmark_script("matrix_stats")``: the module of ``benchmarks/<name>.py`` (a script, not
    a package module), loaded once from its file."""
    loaded = {}

    def load(name: str):
        if name not in loaded:
            spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            loaded[name] = module
        return loaded[name]

    return load

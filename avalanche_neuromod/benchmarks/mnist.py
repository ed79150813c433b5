"""SplitMNIST and PermutedMNIST with a data root that works offline.

Thin wrappers over Avalanche's classic benchmarks: the data root comes from the argument, else the
environment variable ``AVALANCHE_NEUROMOD_DATA``, else Avalanche's default (which downloads). A
given root must hold MNIST in torchvision's layout (``<root>/MNIST/raw/*-ubyte``); it is only read.
Seeds default to 0 so that class orders and permutations reproduce (Avalanche's ``seed=None`` does
not).
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "AVALANCHE_NEUROMOD_DATA"
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class DataRootError(FileNotFoundError):
    """The data root is missing or lacks the data set (the message names it)."""


def resolve_data_root(dataset_root: str | os.PathLike | None = None) -> Path | None:
    """The MNIST root to use: argument, then ``$AVALANCHE_NEUROMOD_DATA``, else ``None``."""
    root = dataset_root if dataset_root is not None else os.environ.get(DATA_ENV) or None
    if root is None:
        return None
    root = Path(root).expanduser()
    raw = root / "MNIST" / "raw"
    missing = [name for name in MNIST_FILES if not (raw / name).is_file()]
    if missing:
        raise DataRootError(f"dataset_root: {root} has no MNIST (missing {raw / missing[0]}); "
                            f"point dataset_root or ${DATA_ENV} at a folder with MNIST/raw/")
    return root


def _build(factory, **kwargs):
    try:
        return factory(**kwargs)
    except RuntimeError as err:  # torchvision's download failed: no local copy, no network
        if "download" not in str(err).lower():
            raise
        raise DataRootError(f"dataset_root: MNIST is not in Avalanche's default data folder and "
                            f"could not be downloaded; pass a local root (--data-root or "
                            f"${DATA_ENV})") from None


def split_mnist(
    *,
    n_experiences: int = 5,
    return_task_id: bool = False,
    seed: int = 0,
    fixed_class_order=None,
    dataset_root=None,
    **kwargs,
):
    """Avalanche's ``SplitMNIST`` (class-IL, or task-IL with ``return_task_id=True``)."""
    from avalanche.benchmarks.classic import SplitMNIST

    return _build(SplitMNIST, n_experiences=n_experiences, return_task_id=return_task_id,
                  seed=seed, fixed_class_order=fixed_class_order,
                  dataset_root=resolve_data_root(dataset_root), **kwargs)


def permuted_mnist(*, n_experiences: int = 10, seed: int = 0, dataset_root=None, **kwargs):
    """Avalanche's ``PermutedMNIST`` with reproducible permutations (``seed`` fixed)."""
    from avalanche.benchmarks.classic import PermutedMNIST

    return _build(PermutedMNIST, n_experiences=n_experiences, seed=seed,
                  dataset_root=resolve_data_root(dataset_root), **kwargs)

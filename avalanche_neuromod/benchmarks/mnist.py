"""SplitMNIST, PermutedMNIST and RotatedMNIST with a data root that works offline.

Thin wrappers over Avalanche's classic benchmarks: the data root comes from the argument, else the
environment variable ``AVALANCHE_NEUROMOD_DATA``, else Avalanche's default (which downloads). A
given root must hold MNIST in torchvision's layout (``<root>/MNIST/raw/*-ubyte``); it is only read.
Seeds default to 0 so that class orders and permutations reproduce (Avalanche's ``seed=None`` does
not).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataRootError

DATA_ENV = "AVALANCHE_NEUROMOD_DATA"
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


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
    from .mnist_files import check_mnist_files

    check_mnist_files(root)  # sizes, IDX headers, MNIST.md5: once per process and file
    return root


BACKENDS = ("tensor", "avalanche")
SAMPLE_ORDERS = ("avalanche", "label")  # of PermutedMNIST's and RotatedMNIST's experiences


def _backend(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"backend: unknown backend {name!r}; choose from {', '.join(BACKENDS)}")
    return name


def _build(factory, **kwargs):
    try:
        return factory(**kwargs)
    except RuntimeError as err:  # torchvision's download failed: no local copy, no network
        if "download" not in str(err).lower():
            raise
        raise DataRootError(f"dataset_root: MNIST is not in Avalanche's default data folder and "
                            f"could not be downloaded; pass a local root (--data-root or "
                            f"${DATA_ENV})") from None


def validation_split(benchmark, *, fraction: float, seed: int):
    """The benchmark with its test stream replaced by ``fraction`` of each training experience.

    Hyper-parameters are selected on this stream, never on the test stream: the held-out
    samples are drawn (with ``seed``) from each experience's training data and removed from it,
    and the result is a benchmark whose ``train_stream`` is the rest and whose ``test_stream`` is
    the held-out part, so every metric, report and W&B panel works unchanged.
    """
    from avalanche.benchmarks.scenarios.dataset_scenario import DatasetExperience
    from avalanche.benchmarks.scenarios.generic_scenario import CLScenario, make_stream
    from avalanche.benchmarks.scenarios.supervised import with_classes_timeline
    from avalanche.benchmarks.scenarios.task_aware import with_task_labels
    from avalanche.benchmarks.scenarios.validation_scenario import split_validation_random

    train_exps, valid_exps = [], []
    for exp in benchmark.train_stream:
        train_data, valid_data = split_validation_random(fraction, True, seed, exp.dataset)
        train_exps.append(DatasetExperience(dataset=train_data))
        valid_exps.append(DatasetExperience(dataset=valid_data))
    train = with_task_labels(with_classes_timeline(make_stream(name="train", exps=train_exps)))
    test = with_task_labels(with_classes_timeline(make_stream(name="test", exps=valid_exps)))
    scenario = CLScenario(streams=[_listed(train), _listed(test)])
    scenario.validation = fraction
    return scenario


def _listed(stream):
    """Classes as sorted lists, as Avalanche's classic benchmarks give them (multi-head models
    index their heads with them)."""
    for experience in stream:
        experience.classes_in_this_experience = sorted(experience.classes_in_this_experience)
    return stream


def sample_training(benchmark, *, n: int, seed: int):
    """The benchmark with each training experience cut to ``n`` samples drawn with ``seed``.

    The reduced setting of GEM (Lopez-Paz & Ranzato 2017) and of continual-learning-baselines'
    GEM PermutedMNIST: 1000 patterns per experience, one pass. The draw is random, not the first
    ``n`` samples, because Avalanche stores an experience's samples sorted by class. Test streams
    are untouched.
    """
    import torch
    from avalanche.benchmarks.scenarios.dataset_scenario import DatasetExperience
    from avalanche.benchmarks.scenarios.generic_scenario import CLScenario, make_stream
    from avalanche.benchmarks.scenarios.supervised import with_classes_timeline
    from avalanche.benchmarks.scenarios.task_aware import with_task_labels

    generator = torch.Generator().manual_seed(seed)
    exps = [DatasetExperience(dataset=exp.dataset.subset(
        sorted(torch.randperm(len(exp.dataset), generator=generator)[:n].tolist())))
        for exp in benchmark.train_stream]
    train = with_task_labels(with_classes_timeline(make_stream(name="train", exps=exps)))
    return CLScenario(streams=[_listed(train), benchmark.test_stream])


def _finish(benchmark, *, validation: float, seed: int, train_samples: int | None = None):
    if validation:
        if not 0.0 < validation < 1.0:
            raise ValueError(f"validation: must be a fraction in (0, 1), got {validation!r}")
        benchmark = validation_split(benchmark, fraction=validation, seed=seed)
    if train_samples is not None:
        benchmark = sample_training(benchmark, n=train_samples, seed=seed)
    return benchmark


def split_mnist(
    *,
    n_experiences: int = 5,
    return_task_id: bool = False,
    seed: int = 0,
    fixed_class_order=None,
    validation: float = 0.0,
    backend: str = "tensor",
    domain: bool = False,
    dataset_root=None,
):
    """Avalanche's ``SplitMNIST`` (class-IL, or task-IL with ``return_task_id=True``).

    ``domain=True`` is domain-IL SplitMNIST (van de Ven, Tuytelaars & Tolias 2022): two labels,
    a digit's place in its experience's pair, no task label (tensor backend only).
    ``validation > 0`` swaps the test stream for a validation split of the training data
    (:func:`validation_split`). ``backend="tensor"`` (default) serves the same stream from
    tensors (:mod:`.tensor_mnist`), ``"avalanche"`` from Avalanche's lazy datasets.
    """
    from avalanche.benchmarks.classic import SplitMNIST

    from .tensor_mnist import split_mnist_tensors

    root = resolve_data_root(dataset_root)
    if domain and return_task_id:
        raise ValueError("domain: domain-IL has no task labels; drop return_task_id")
    if domain and _backend(backend) != "tensor":
        raise ValueError("domain: domain-IL SplitMNIST is the tensor backend's only")
    if _backend(backend) == "tensor":
        bm = _build(split_mnist_tensors, n_experiences=n_experiences,
                    return_task_id=return_task_id, seed=seed,
                    fixed_class_order=fixed_class_order, root=root, domain=domain)
    else:
        bm = _build(SplitMNIST, n_experiences=n_experiences, return_task_id=return_task_id,
                    seed=seed, fixed_class_order=fixed_class_order, dataset_root=root)
    return _finish(bm, validation=validation, seed=seed)


def _sample_order(order: str, backend: str) -> str:
    if order not in SAMPLE_ORDERS:
        raise ValueError(f"sample_order: unknown order {order!r}; choose from "
                         f"{', '.join(SAMPLE_ORDERS)}")
    if order != "avalanche" and backend != "tensor":
        raise ValueError(f"sample_order: {order!r} is the tensor backend's only (Avalanche's "
                         "own datasets have Avalanche's order)")
    return order


def permuted_mnist(*, n_experiences: int = 10, seed: int = 0, validation: float = 0.0,
                   train_samples: int | None = None, backend: str = "tensor",
                   sample_order: str = "avalanche", dataset_root=None):
    """Avalanche's ``PermutedMNIST`` with reproducible permutations (``seed`` fixed).

    ``train_samples`` keeps a seeded draw of that many samples of each training experience
    (:func:`sample_training`, GEM's reduced setting). ``backend`` as in :func:`split_mnist`.
    ``sample_order`` (tensor backend): ``"avalanche"`` (Avalanche's order of the samples in each
    experience) or ``"label"`` (digits 0..9 in every experience, the order of the results
    committed before it followed Avalanche; :mod:`.tensor_mnist`).
    """
    from avalanche.benchmarks.classic import PermutedMNIST

    from .tensor_mnist import permuted_mnist_tensors

    root = resolve_data_root(dataset_root)
    order = _sample_order(sample_order, _backend(backend))
    if backend == "tensor":
        bm = _build(permuted_mnist_tensors, n_experiences=n_experiences, seed=seed, root=root,
                    sample_order=order)
    else:
        bm = _build(PermutedMNIST, n_experiences=n_experiences, seed=seed, dataset_root=root)
    return _finish(bm, validation=validation, seed=seed, train_samples=train_samples)


def rotated_mnist(*, n_experiences: int = 5, seed: int = 0, rotations_list=None,
                  validation: float = 0.0, backend: str = "tensor",
                  sample_order: str = "avalanche", dataset_root=None):
    """Avalanche's ``RotatedMNIST``: one rotation of every digit per experience (domain-IL).

    Angles are drawn from ``seed`` unless ``rotations_list`` gives them (degrees, one per
    experience). ``backend`` as in :func:`split_mnist` (the images are the same; Avalanche's
    lazy rotation also draws from torch's generator at every read, so the two backends shuffle
    differently). ``sample_order`` as in :func:`permuted_mnist`.
    """
    from avalanche.benchmarks.classic import RotatedMNIST

    from .tensor_mnist import rotated_mnist_tensors

    root = resolve_data_root(dataset_root)
    angles = list(rotations_list) if rotations_list is not None else None
    order = _sample_order(sample_order, _backend(backend))
    if backend == "tensor":
        bm = _build(rotated_mnist_tensors, n_experiences=n_experiences, seed=seed,
                    rotations_list=angles, root=root, sample_order=order)
    else:
        bm = _build(RotatedMNIST, n_experiences=n_experiences, seed=seed, rotations_list=angles,
                    dataset_root=root)
    return _finish(bm, validation=validation, seed=seed)

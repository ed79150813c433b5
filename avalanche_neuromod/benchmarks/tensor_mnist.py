"""MNIST benchmarks held as tensors: Avalanche's streams, without per-sample transforms.

Avalanche's classic MNIST benchmarks apply their transforms (pixel permutation, rotation,
normalisation) to every sample each time it is read; on a CPU that costs ~85 µs per sample,
3-7x the cost of training a 2x400 MLP on it, and a leaderboard reads the test stream after
every experience. Here each experience is computed once, as one tensor operation over the
whole set, and served from a tensor dataset (~12 µs per sample).

The streams are Avalanche's: the experiences, their classes, task labels, permutations
(``numpy.random.RandomState(seed).permutation(784)`` per experience), rotation angles
(``RandomState(seed).randint(-180, 181)``, torchvision's nearest-neighbour rotation, fill 0),
normalisation ((x / 255 - 0.1307) / 0.3081, after the permutation or rotation) and even the
order of samples inside an experience (grouped by class as Avalanche groups them, then
MNIST's order) are taken from, or
checked against, ``avalanche.benchmarks.classic`` (tests/test_tensor_mnist.py compares them
sample by sample, over many seeds and experience counts). Pass ``backend="avalanche"`` to a
benchmark to use Avalanche's lazy datasets instead.

**Sample order of PermutedMNIST and RotatedMNIST** (:data:`SAMPLE_ORDERS`). Avalanche builds
these with ``nc_benchmark(one_dataset_per_exp=True)``: experience ``i``'s digits get the class
ids ``10 i .. 10 i + 9`` and its samples are concatenated class by class in the iteration order
of the Python ``set`` of those ids. For most ``i`` that is 0..9; for ``i`` = 3, 6, 9, 12, 19,
22, ... (where ``10 i mod 32`` wraps in the set's 32-slot table) it starts at another digit:
experience 3 holds digits 2..9, then 0, 1. ``sample_order="avalanche"`` (the default) is that
order; ``sample_order="label"`` is digits 0..9 in every experience, the order of this backend
before it followed Avalanche (the committed leaderboard suites name it so that their records
reproduce). Both hold the same digits, so a test accuracy is the same with either, but the
training minibatches, validation splits and ``train_samples`` draws differ from experience 3 on.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from avalanche.benchmarks.scenarios.dataset_scenario import benchmark_from_datasets
from avalanche.benchmarks.scenarios.supervised import with_classes_timeline
from avalanche.benchmarks.scenarios.task_aware import with_task_labels
from avalanche.benchmarks.utils.classification_dataset import (
    _make_taskaware_tensor_classification_dataset as make_tensor_dataset,
)

from .mnist import SAMPLE_ORDERS

MEAN, STD = 0.1307, 0.3081


@lru_cache(maxsize=2)
def mnist_tensors(root: str | None) -> tuple[torch.Tensor, ...]:
    """``(x_train, y_train, x_test, y_test)``: uint8 images (N, 28, 28) and int64 labels."""
    from avalanche.benchmarks.datasets.external_datasets.mnist import get_mnist_dataset

    if root is not None:  # one line naming a truncated, zeroed or garbage file, not torch's
        from .mnist_files import check_mnist_files

        check_mnist_files(root)
    train, test = get_mnist_dataset(root)  # downloads into Avalanche's folder when root is None
    return (train.data.clone(), train.targets.clone().long(), test.data.clone(),
            test.targets.clone().long())


def _scaled(images: torch.Tensor) -> torch.Tensor:
    return images.float().unsqueeze(1) / 255.0  # (N, 1, 28, 28) in [0, 1], as TensorMNIST


def _normalized(x: torch.Tensor) -> torch.Tensor:
    return (x - MEAN) / STD


def class_indices(labels: torch.Tensor, classes) -> torch.Tensor:
    """Indices of ``classes``' samples, grouped by class in the order given, then in the data
    set's order."""
    return torch.cat([(labels == c).nonzero().flatten() for c in classes])


def split_class_order(classes) -> list[int]:
    """The order in which Avalanche's ``NCScenario`` concatenates an experience's classes: the
    iteration order of the Python ``set`` built from them (in the order given)."""
    return list(set(classes))


def domain_class_order(experience: int, sample_order: str = "avalanche") -> list[int]:
    """The order of the digits in experience ``experience`` of PermutedMNIST or RotatedMNIST.

    ``"avalanche"``: Avalanche's, where experience ``i``'s digit ``c`` has the class id
    ``10 i + c`` (``nc_benchmark`` concatenates the experiences' data sets, 10 classes each)
    and an experience's classes are iterated as a ``set`` of those ids. ``"label"``: 0..9.
    """
    if sample_order not in SAMPLE_ORDERS:
        raise ValueError(f"sample_order: unknown order {sample_order!r}; choose from "
                         f"{', '.join(SAMPLE_ORDERS)}")
    if sample_order == "label":
        return list(range(10))
    first = 10 * experience
    return [c - first for c in split_class_order(range(first, first + 10))]


def _scenario(train: list, test: list):
    scenario = with_task_labels(with_classes_timeline(benchmark_from_datasets(train=train,
                                                                              test=test)))
    for stream in (scenario.train_stream, scenario.test_stream):
        for experience in stream:  # Avalanche's heads index with these: a list, not a set
            experience.classes_in_this_experience = sorted(experience.classes_in_this_experience)
    scenario.fixed_eval_data = True  # no per-sample transforms (leaderboard/eval_cache.py)
    return scenario


def split_mnist_tensors(*, n_experiences: int, return_task_id: bool, seed: int,
                        fixed_class_order, root, domain: bool = False) -> object:
    """SplitMNIST with Avalanche's class order for ``seed`` (or ``fixed_class_order``).

    ``domain=True``: domain-incremental SplitMNIST (van de Ven, Tuytelaars & Tolias 2022): the
    label of a digit is its place among its experience's classes (the first of the pair 0, the
    second 1), so every experience holds the same labels and only the digits change.
    """
    x_train, y_train, x_test, y_test = mnist_tensors(None if root is None else str(root))
    if fixed_class_order is not None:
        order = [int(c) for c in fixed_class_order]
    else:  # nc_benchmark's draw: torch.randperm under torch.random.manual_seed(seed)
        order = _avalanche_class_order(n_experiences, seed)
    per = len(order) // n_experiences
    train, test = [], []
    for i in range(n_experiences):
        classes = order[i * per:(i + 1) * per]
        task = i if return_task_id else 0
        for x, y, out in ((x_train, y_train, train), (x_test, y_test, test)):
            idx = class_indices(y, split_class_order(classes))
            labels = y[idx]
            if domain:  # digit -> its place among the experience's classes
                place = torch.full((10,), -1, dtype=torch.long)
                place[torch.as_tensor(classes)] = torch.arange(len(classes))
                labels = place[labels]
            out.append(make_tensor_dataset(_normalized(_scaled(x[idx])), labels,
                                           task_labels=task))
    scenario = _scenario(train, test)
    scenario.classes_order = order
    return scenario


def _avalanche_class_order(n_experiences: int, seed: int) -> list[int]:
    """The class order of Avalanche's ``SplitMNIST(seed=seed)``: ``nc_benchmark`` seeds torch's
    global generator with ``seed`` and draws ``randperm(10)``. The reseeding is a side effect
    that Avalanche has and that is kept here, so that a model built after the benchmark starts
    from the same weights with either backend."""
    torch.random.manual_seed(seed)
    return torch.as_tensor(list(range(10)))[torch.randperm(10)].tolist()


def permuted_mnist_tensors(*, n_experiences: int, seed: int, root,
                           sample_order: str = "avalanche") -> object:
    """PermutedMNIST: experience ``i`` permutes the pixels with the ``i``-th draw of ``seed``;
    its samples in ``sample_order`` (:func:`domain_class_order`)."""
    x_train, y_train, x_test, y_test = mnist_tensors(None if root is None else str(root))
    rng = np.random.RandomState(seed)
    train, test = [], []
    for i in range(n_experiences):
        perm = torch.from_numpy(rng.permutation(784)).long()
        for x, y, out in ((x_train, y_train, train), (x_test, y_test, test)):
            idx = class_indices(y, domain_class_order(i, sample_order))
            flat = _scaled(x[idx]).reshape(len(idx), 784)[:, perm]
            out.append(make_tensor_dataset(_normalized(flat.reshape(-1, 1, 28, 28)), y[idx],
                                           task_labels=0))
    return _scenario(train, test)


def rotated_mnist_tensors(*, n_experiences: int, seed: int, rotations_list, root,
                          sample_order: str = "avalanche") -> object:
    """RotatedMNIST: experience ``i`` rotates every digit by the ``i``-th angle; its samples in
    ``sample_order`` (:func:`domain_class_order`)."""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.functional import rotate

    x_train, y_train, x_test, y_test = mnist_tensors(None if root is None else str(root))
    rng = np.random.RandomState(seed)
    train, test = [], []
    for i in range(n_experiences):
        angle = float(rotations_list[i]) if rotations_list is not None else \
            float(rng.randint(-180, 181))
        for x, y, out in ((x_train, y_train, train), (x_test, y_test, test)):
            idx = class_indices(y, domain_class_order(i, sample_order))
            rotated = rotate(_scaled(x[idx]), angle, interpolation=InterpolationMode.NEAREST,
                             fill=0.0)
            out.append(make_tensor_dataset(_normalized(rotated), y[idx], task_labels=0))
    return _scenario(train, test)

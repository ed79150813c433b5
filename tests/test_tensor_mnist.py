"""The tensor backend serves Avalanche's MNIST streams: same samples, labels, tasks and classes."""

from __future__ import annotations

import pytest
import torch

from avalanche_neuromod.benchmarks import get_benchmark
from avalanche_neuromod.leaderboard import load_suite, run_suite_cell, suite_cells

# samples compared per experience: every STRIDE-th (Avalanche's lazy reads are slow: ~85 µs a
# sample, 15 ms for a rotated one)
STRIDE = {"split_mnist": 53, "permuted_mnist": 53, "rotated_mnist": 997}

CASES = [
    pytest.param("split_mnist", {"n_experiences": 5, "seed": 1}, id="split-class"),
    pytest.param("split_mnist", {"n_experiences": 5, "seed": 0, "return_task_id": True},
                 id="split-task"),
    pytest.param("split_mnist", {"n_experiences": 2, "seed": 0,
                                 "fixed_class_order": [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]},
                 id="split-fixed-order"),
    pytest.param("permuted_mnist", {"n_experiences": 2, "seed": 3}, id="permuted"),
    pytest.param("rotated_mnist", {"n_experiences": 2, "seed": 2}, id="rotated"),
    pytest.param("rotated_mnist", {"n_experiences": 1, "rotations_list": [45]},
                 id="rotated-given-angle"),
]


@pytest.mark.parametrize(("name", "args"), CASES)
def test_tensor_streams_equal_avalanche_streams(name, args, mnist_root):
    lazy = get_benchmark(name, backend="avalanche", dataset_root=mnist_root, **args)
    fast = get_benchmark(name, backend="tensor", dataset_root=mnist_root, **args)
    for stream in ("train_stream", "test_stream"):
        a_stream, b_stream = getattr(lazy, stream), getattr(fast, stream)
        assert len(a_stream) == len(b_stream)
        for a, b in zip(a_stream, b_stream, strict=True):
            assert sorted(a.classes_in_this_experience) == b.classes_in_this_experience
            assert len(a.dataset) == len(b.dataset)
            assert list(a.dataset.targets) == list(b.dataset.targets)
            assert list(a.dataset.targets_task_labels) == list(b.dataset.targets_task_labels)
            for k in range(0, len(a.dataset), STRIDE[name]):
                xa, ya, ta = a.dataset[k]
                xb, yb, tb = b.dataset[k]
                assert torch.equal(xa, xb), f"{stream} sample {k}"
                assert (ya, ta) == (yb, tb)


def test_unknown_backend_names_the_field(mnist_root):
    with pytest.raises(ValueError, match="backend"):
        get_benchmark("split_mnist", backend="gpu", dataset_root=mnist_root)


def test_split_mnist_cell_is_bitwise_the_same_with_either_backend(mnist_root, monkeypatch):
    monkeypatch.setenv("AVALANCHE_NEUROMOD_DATA", str(mnist_root))
    records = {}
    for backend in ("avalanche", "tensor"):
        suite = load_suite({
            "name": "t", "seeds": [1],
            "budget": {"model": {"hidden": 16, "layers": 1},
                       "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
                       "train_mb_size": 512, "eval_mb_size": 2048},
            "benchmarks": [{"name": "split_mnist",
                            "args": {"n_experiences": 5, "backend": backend}}],
            "strategies": ["naive"]})
        records[backend] = run_suite_cell(suite_cells(suite)[0])
    keys = ("final_accuracy", "accuracy_matrix", "forgetting", "bwt", "fwt")
    assert {k: records["avalanche"][k] for k in keys} == {k: records["tensor"][k] for k in keys}

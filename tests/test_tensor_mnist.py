"""The tensor backend serves Avalanche's MNIST streams: same samples, labels, tasks and classes."""

from __future__ import annotations

import pytest
import torch

from avalanche_neuromod.benchmarks import call_args, cell_args, get_benchmark
from avalanche_neuromod.benchmarks.tensor_mnist import (
    _avalanche_class_order,
    class_indices,
    domain_class_order,
    split_class_order,
)
from avalanche_neuromod.leaderboard import load_suite, run_suite_cell, suite_cells

# samples compared per experience: every STRIDE-th (Avalanche's lazy reads are slow: ~85 µs a
# sample, 15 ms for a rotated one)
STRIDE = {"split_mnist": 53, "permuted_mnist": 211, "rotated_mnist": 1999}

CASES = [
    pytest.param("split_mnist", {"n_experiences": 5, "seed": 1}, id="split-class"),
    pytest.param("split_mnist", {"n_experiences": 5, "seed": 0, "return_task_id": True},
                 id="split-task"),
    pytest.param("split_mnist", {"n_experiences": 2, "seed": 0,
                                 "fixed_class_order": [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]},
                 id="split-fixed-order"),
    pytest.param("permuted_mnist", {"n_experiences": 2, "seed": 3}, id="permuted"),
    # experience 3 is the first whose samples Avalanche does not order 0..9 (issue 20)
    pytest.param("permuted_mnist", {"n_experiences": 5, "seed": 0}, id="permuted-5"),
    pytest.param("rotated_mnist", {"n_experiences": 2, "seed": 2}, id="rotated"),
    pytest.param("rotated_mnist", {"n_experiences": 4, "seed": 1}, id="rotated-4"),
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


# ------------------------------------------------- the order of samples, for any seed and size
# Avalanche's order comes from ``nc_benchmark``'s bookkeeping, not from the images: run that
# bookkeeping on small data sets whose samples are their own indices, exactly as
# ``SplitMNIST`` / ``PermutedMNIST`` / ``RotatedMNIST`` call it, and compare the indices with
# the tensor backend's for every experience count a suite can name and many seeds.

def _indexed(labels: torch.Tensor):
    from avalanche.benchmarks.utils.classification_dataset import (
        _make_taskaware_tensor_classification_dataset as make_tensor_dataset,
    )

    return make_tensor_dataset(torch.arange(len(labels)).float().unsqueeze(1), labels)


def _labels(n: int, seed: int) -> torch.Tensor:
    """``n`` labels of 10 classes, shuffled (as MNIST's are)."""
    return (torch.arange(n) % 10)[torch.randperm(n, generator=torch.Generator().manual_seed(seed))]


def _indices(stream) -> list[list[int]]:
    return [[int(exp.dataset[k][0]) for k in range(len(exp.dataset))] for exp in stream]


@pytest.mark.parametrize("n_experiences", [1, 2, 3, 4, 5, 7, 10, 13, 17, 20, 25, 32, 40])
def test_domain_sample_order_is_avalanches_for_any_size(n_experiences):
    from avalanche.benchmarks import nc_benchmark

    train, test = _labels(60, 0), _labels(30, 1)
    bm = nc_benchmark([_indexed(train)] * n_experiences, [_indexed(test)] * n_experiences,
                      n_experiences=n_experiences, task_labels=False, shuffle=False,
                      class_ids_from_zero_in_each_exp=True, one_dataset_per_exp=True)
    for labels, stream in ((train, bm.train_stream), (test, bm.test_stream)):
        ours = [class_indices(labels, domain_class_order(i)).tolist()
                for i in range(n_experiences)]
        assert _indices(stream) == ours


def test_label_order_differs_from_avalanches_first_at_experience_3():
    differ = [i for i in range(40) if domain_class_order(i, "label") != domain_class_order(i)]
    assert differ[:5] == [3, 6, 9, 12, 19]
    assert domain_class_order(3) == [2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert all(sorted(domain_class_order(i)) == list(range(10)) for i in range(40))


@pytest.mark.parametrize("n_experiences", [1, 2, 5, 10])
@pytest.mark.parametrize("return_task_id", [False, True])
def test_split_sample_order_is_avalanches_for_many_seeds(n_experiences, return_task_id):
    from avalanche.benchmarks import nc_benchmark

    train, test = _labels(40, 2), _labels(20, 3)
    for seed in range(12):
        bm = nc_benchmark(_indexed(train), _indexed(test), n_experiences=n_experiences,
                          task_labels=return_task_id, seed=seed, shuffle=True,
                          class_ids_from_zero_in_each_exp=False)
        order = _avalanche_class_order(n_experiences, seed)
        assert order == list(bm.classes_order_original_ids)
        per = 10 // n_experiences
        for labels, stream in ((train, bm.train_stream), (test, bm.test_stream)):
            ours = [class_indices(labels, split_class_order(order[i * per:(i + 1) * per]))
                    .tolist() for i in range(n_experiences)]
            assert _indices(stream) == ours, f"seed {seed}"


def test_label_order_is_reachable_and_holds_the_same_samples(mnist_root):
    new = get_benchmark("permuted_mnist", n_experiences=4, seed=0, dataset_root=mnist_root)
    old = get_benchmark("permuted_mnist", n_experiences=4, seed=0, sample_order="label",
                        dataset_root=mnist_root)
    a, b = new.train_stream[3].dataset.targets, old.train_stream[3].dataset.targets
    assert (a[0], b[0]) == (2, 0)
    assert sorted(a) == sorted(b)
    assert list(new.train_stream[2].dataset.targets) == list(old.train_stream[2].dataset.targets)


def test_sample_order_label_is_the_tensor_backends_only(mnist_root):
    with pytest.raises(ValueError, match="sample_order"):
        get_benchmark("permuted_mnist", n_experiences=1, backend="avalanche",
                      sample_order="label", dataset_root=mnist_root)
    with pytest.raises(ValueError, match="sample_order"):
        get_benchmark("rotated_mnist", n_experiences=1, sample_order="sorted",
                      dataset_root=mnist_root)


def test_cell_keys_of_the_label_order_are_those_recorded_before_it_had_a_name():
    """A suite naming ``sample_order: label`` makes the cells (and keys) that the suite made
    before the argument existed; leaving it out is Avalanche's order, with a key of its own."""
    def suite(args):
        return suite_cells(load_suite({"name": "t", "seeds": [0], "strategies": ["naive"],
                                       "benchmarks": [{"name": "permuted_mnist",
                                                       "args": args}]}))[0]

    before = {"n_experiences": 2}
    label = suite({"n_experiences": 2, "sample_order": "label"})
    default = suite({"n_experiences": 2})
    assert label.benchmark_args == before
    assert default.benchmark_args == {**before, "sample_order": "avalanche"}
    assert label.key != default.key
    assert call_args("permuted_mnist", label.benchmark_args)["sample_order"] == "label"
    assert call_args("permuted_mnist", default.benchmark_args)["sample_order"] == "avalanche"
    assert cell_args("split_mnist", {"n_experiences": 5}) == {"n_experiences": 5}


def test_domain_il_split_mnist_labels_a_digit_by_its_place_in_the_pair(mnist_root):
    """van de Ven et al. 2022's domain-IL SplitMNIST: the class-IL stream's samples, relabelled."""
    classes = get_benchmark("split_mnist", n_experiences=5, seed=3, dataset_root=mnist_root)
    domain = get_benchmark("split_mnist", n_experiences=5, seed=3, domain=True,
                           dataset_root=mnist_root)
    order = classes.classes_order
    for i, (a, b) in enumerate(zip(classes.test_stream, domain.test_stream)):
        assert b.classes_in_this_experience == [0, 1] and b.task_label == 0
        digits = torch.as_tensor(list(a.dataset.targets))
        expected = (digits == order[2 * i + 1]).long()  # first of the pair 0, second 1
        assert torch.equal(torch.as_tensor(list(b.dataset.targets)), expected)
        assert torch.equal(a.dataset[7][0], b.dataset[7][0])  # the same images


@pytest.mark.parametrize(("args", "needle"), [
    ({"domain": "yes"}, "b.domain: must be true or false"),
    ({"domain": True, "return_task_id": True}, "b.domain: domain-IL has no task labels"),
    ({"domain": True, "backend": "avalanche"}, "b.domain: .*tensor backend's only"),
])
def test_bad_domain_arguments_name_the_field(args, needle):
    from avalanche_neuromod.benchmarks import check_benchmark_args, stream_size

    with pytest.raises(ValueError, match=needle):
        check_benchmark_args("split_mnist", args, field="b")
    assert stream_size("split_mnist", {"domain": True})["n_classes"] == 2

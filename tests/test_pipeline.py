"""The plain Avalanche pipeline with the neuromodulation plugins, on real MNIST.

MNIST comes from the ``mnist_root`` fixture (``$AVALANCHE_NEUROMOD_DATA``); when it is missing these
tests fail, they are never skipped.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from avalanche.benchmarks.classic import SplitMNIST
from avalanche.evaluation.metrics import accuracy_metrics, forgetting_metrics
from avalanche.models import SimpleMLP
from avalanche.training.plugins import EvaluationPlugin
from avalanche.training.supervised import Naive
from torch.nn import CrossEntropyLoss
from torch.optim import SGD

from avalanche_neuromod.benchmarks import DataRootError, permuted_mnist, split_mnist
from avalanche_neuromod.benchmarks.mnist import DATA_ENV
from avalanche_neuromod.plugins import DopaminePlugin, NoradrenalinePlugin

ACC_EXP = "Top1_Acc_Exp/eval_phase/test_stream/Task000/Exp{:03d}"
ACC_STREAM = "Top1_Acc_Stream/eval_phase/test_stream/Task000"
FORGETTING_STREAM = "StreamForgetting/eval_phase/test_stream"
FORGETTING_EXP = "ExperienceForgetting/eval_phase/test_stream/Task000/Exp{:03d}"
N_TRAINED = 2  # CI time: train on the first two experiences only


@pytest.fixture(scope="module")
def pipeline(mnist_root):
    """The README's pipeline, unchanged, trained on the first experiences of SplitMNIST."""
    torch.manual_seed(0)
    bm = SplitMNIST(n_experiences=5, seed=0, dataset_root=mnist_root)
    model = SimpleMLP(num_classes=10)
    da, na = DopaminePlugin(), NoradrenalinePlugin()
    strategy = Naive(
        model=model,
        optimizer=SGD(model.parameters(), lr=0.01, momentum=0.9),
        criterion=CrossEntropyLoss(),
        train_mb_size=256,
        train_epochs=1,
        eval_mb_size=1024,
        plugins=[da, na],
        evaluator=EvaluationPlugin(
            accuracy_metrics(experience=True, stream=True),
            forgetting_metrics(experience=True, stream=True),
            loggers=[],
        ),
    )
    results = []
    for experience in bm.train_stream[:N_TRAINED]:
        strategy.train(experience)
        results.append(strategy.eval(bm.test_stream))
    return SimpleNamespace(bm=bm, model=model, strategy=strategy, da=da, na=na, results=results)


def test_metrics_exist(pipeline) -> None:
    assert len(pipeline.results) == N_TRAINED
    for metrics in pipeline.results:
        for j in range(5):
            assert ACC_EXP.format(j) in metrics
        assert ACC_STREAM in metrics
        assert FORGETTING_STREAM in metrics
        assert all(math.isfinite(float(v)) for v in metrics.values())
    assert FORGETTING_EXP.format(0) in pipeline.results[1]


def test_learns_each_trained_experience(pipeline) -> None:
    first, second = pipeline.results
    assert first[ACC_EXP.format(0)] > 0.9
    assert second[ACC_EXP.format(1)] > 0.9
    # class-incremental Naive forgets the first experience: forgetting is measured
    assert second[FORGETTING_EXP.format(0)] == pytest.approx(
        first[ACC_EXP.format(0)] - second[ACC_EXP.format(0)])


def test_weights_finite(pipeline) -> None:
    for name, param in pipeline.model.named_parameters():
        assert bool(torch.isfinite(param).all()), name


def test_plugins_recorded_signals(pipeline) -> None:
    steps = pipeline.strategy.clock.train_iterations
    assert steps > 0
    for plugin, prefix in ((pipeline.da, "DA/"), (pipeline.na, "NA/")):
        assert len(plugin.trace) > 0
        assert len(plugin.trace) == steps  # one record per training step
        for record in plugin.trace:
            # the modulator's own signals, and the learning variables as applied (``NM/*``)
            own = [name for name in record if name.startswith(prefix)]
            applied = [name for name in record if name.startswith("NM/")]
            assert own and len(own) + len(applied) == len(record)
            # DA alone declares no integration term; NA's effects are its terms
            assert bool(applied) == (prefix == "NA/")
            assert all(math.isfinite(value) for value in record.values())
    assert all(0.0 <= r["NA/level"] <= 1.0 for r in pipeline.na.trace)


# ------------------------------------------------------------------------- wrapped benchmarks


@pytest.fixture(scope="module")
def permuted(mnist_root):
    return permuted_mnist(n_experiences=2, dataset_root=mnist_root)


def test_split_mnist_builds(mnist_root) -> None:
    bm = split_mnist(dataset_root=mnist_root)
    assert len(bm.train_stream) == len(bm.test_stream) == 5
    classes = [c for exp in bm.train_stream for c in exp.classes_in_this_experience]
    assert sorted(classes) == list(range(10))
    again = split_mnist(dataset_root=mnist_root)  # seed 0 by default: same class order
    assert [e.classes_in_this_experience for e in again.train_stream] == [
        e.classes_in_this_experience for e in bm.train_stream]


def test_split_mnist_reads_root_from_environment(mnist_root, monkeypatch) -> None:
    monkeypatch.setenv(DATA_ENV, str(mnist_root))
    bm = split_mnist(n_experiences=2)
    assert len(bm.train_stream) == 2


def test_permuted_mnist_builds(permuted) -> None:
    assert len(permuted.train_stream) == len(permuted.test_stream) == 2
    x, y, *_ = permuted.train_stream[0].dataset[0]
    assert x.shape == (1, 28, 28)
    assert 0 <= int(y) <= 9


def test_permuted_mnist_same_seed_same_permutation(permuted, mnist_root) -> None:
    again = permuted_mnist(n_experiences=2, dataset_root=mnist_root)
    other = permuted_mnist(n_experiences=2, seed=1, dataset_root=mnist_root)
    for index in range(2):
        a = permuted.train_stream[index].dataset[0][0]
        b = again.train_stream[index].dataset[0][0]
        c = other.train_stream[index].dataset[0][0]
        assert torch.equal(a, b)
        assert not torch.equal(a, c)
    # the two experiences use different permutations of the same image
    first = permuted.train_stream[0].dataset[0][0]
    second = permuted.train_stream[1].dataset[0][0]
    assert not torch.equal(first, second)
    assert torch.equal(first.flatten().sort().values, second.flatten().sort().values)


@pytest.mark.parametrize("build", [split_mnist, permuted_mnist], ids=["split", "permuted"])
def test_bogus_dataset_root_raises(build, tmp_path) -> None:
    with pytest.raises(DataRootError, match="dataset_root"):
        build(dataset_root=tmp_path / "no-mnist-here")


def test_bogus_environment_root_raises(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "empty"))
    with pytest.raises(DataRootError, match="dataset_root") as info:
        split_mnist()
    assert isinstance(info.value, FileNotFoundError)
    assert DATA_ENV in str(info.value)

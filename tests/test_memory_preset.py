"""A preset's ``memory: {size: N}``: Avalanche's replay buffer beside the modulators."""

from __future__ import annotations

import pytest
import torch
from avalanche.benchmarks import nc_benchmark
from avalanche.evaluation.metrics import accuracy_metrics
from avalanche.training import Replay
from avalanche.training.plugins import EvaluationPlugin, ReplayPlugin
from torch import nn
from torch.utils.data import TensorDataset

from avalanche_neuromod.strategies.presets import PresetError, load_preset
from avalanche_neuromod.strategies.registry import build_strategy


class _Tensors(TensorDataset):
    def __init__(self, x, y):
        super().__init__(x, y)
        self.targets = y.tolist()


def _stream():
    gen = torch.Generator().manual_seed(0)
    centers = torch.randn(4, 10, generator=gen)

    def make(n):
        y = torch.arange(4).repeat_interleave(n)
        return _Tensors(centers[y] + torch.randn(len(y), 10, generator=gen), y)

    return nc_benchmark(make(40), make(10), n_experiences=2, task_labels=False, seed=0,
                        fixed_class_order=[0, 1, 2, 3])


def _train(build):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 4))
    strategy = build(model, torch.optim.SGD(model.parameters(), lr=0.1))
    torch.manual_seed(1)
    for experience in _stream().train_stream:
        strategy.train(experience)
    return strategy, [p.detach().clone() for p in model.parameters()]


def _kwargs():
    return dict(criterion=nn.CrossEntropyLoss(), train_mb_size=8, eval_mb_size=32,
                evaluator=EvaluationPlugin(accuracy_metrics(stream=True), loggers=[]))


def test_memory_without_modulators_trains_exactly_like_avalanche_replay() -> None:
    preset = {"name": "m", "modulators": {}, "memory": {"size": 12}}
    ours, ours_w = _train(lambda m, o: build_strategy(preset, model=m, optimizer=o, **_kwargs()))
    theirs, theirs_w = _train(lambda m, o: Replay(model=m, optimizer=o, mem_size=12,
                                                 **_kwargs()))
    assert any(isinstance(p, ReplayPlugin) for p in ours.plugins)
    assert all(torch.equal(a, b) for a, b in zip(ours_w, theirs_w))
    buffer = next(p for p in ours.plugins if isinstance(p, ReplayPlugin)).storage_policy.buffer
    assert len(buffer) == 12


@pytest.mark.parametrize("memory", [{"size": 0}, {"size": -3}, {"size": 2.5}, {"size": True},
                                    {"samples": 10}, 200, {"size": 10, "policy": "x"}])
def test_bad_memory_names_the_field(memory) -> None:
    with pytest.raises(PresetError, match="memory"):
        load_preset({"name": "m", "modulators": {"serotonin": {}}, "memory": memory})


def test_memory_is_not_for_baselines_nor_reward_learning() -> None:
    with pytest.raises(PresetError, match="memory"):
        load_preset({"name": "m", "baseline": {"class": "Naive", "args": {}},
                     "memory": {"size": 10}})
    model = nn.Linear(10, 2)
    with pytest.raises(PresetError, match="memory"):
        build_strategy({"name": "m", "modulators": {"dopamine": {}}, "memory": {"size": 10}},
                       model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                       learning="reward")

"""The same checks on a GPU (marked ``cuda``: skipped where no CUDA device is present)."""

from __future__ import annotations

import pytest
import torch
from avalanche.evaluation.metrics import accuracy_metrics
from avalanche.training import Naive
from avalanche.training.plugins import EvaluationPlugin
from torch import nn

from avalanche_neuromod.benchmarks import gonogo_benchmark
from avalanche_neuromod.plugins import DopaminePlugin, NoradrenalinePlugin
from avalanche_neuromod.strategies import NeuromodulatedStrategy

pytestmark = pytest.mark.cuda


def _model(bm) -> nn.Module:
    return nn.Sequential(nn.Linear(bm.input_size, 32), nn.ReLU(), nn.Linear(32, 2))


def test_plugins_in_naive_on_cuda():
    torch.manual_seed(0)
    bm = gonogo_benchmark(rules=["A", "B"], trials_per_rule=160, test_trials=64, seed=0)
    model = _model(bm)
    da, na = DopaminePlugin(), NoradrenalinePlugin()
    strategy = Naive(model=model, optimizer=torch.optim.Adam(model.parameters(), lr=1e-2),
                     criterion=nn.CrossEntropyLoss(), train_mb_size=8, device="cuda",
                     plugins=[da, na], evaluator=EvaluationPlugin(loggers=[]))
    for experience in bm.train_stream:
        strategy.train(experience)
    assert da.modulator.expectation.device.type == "cuda"
    assert na.modulator.level.device.type == "cuda"
    assert all(p.is_cuda and torch.isfinite(p).all() for p in model.parameters())
    assert len(na.trace) == 2 * 160 // 8
    assert max(t["NA/level"] for t in na.trace[20:25]) > 0.5  # burst after the reversal


@pytest.mark.parametrize("learning", ["reward", "supervised"])
def test_neuromodulated_strategy_learns_on_cuda(learning):
    torch.manual_seed(0)
    bm = gonogo_benchmark(rules=["A"], trials_per_rule=480, test_trials=128, seed=0)
    model = _model(bm)
    strategy = NeuromodulatedStrategy(
        model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.3), preset="da+na",
        learning=learning, device="cuda", train_mb_size=8,
        evaluator=EvaluationPlugin(accuracy_metrics(stream=True), loggers=[]))
    strategy.train(bm.train_stream[0])
    result = strategy.eval(bm.test_stream)
    assert result["Top1_Acc_Stream/eval_phase/test_stream"] > 0.9
    if learning == "reward":
        assert next(strategy.critic.parameters()).is_cuda


def test_cli_run_on_cuda(tmp_path):
    from avalanche_neuromod.cli import main

    config = tmp_path / "tiny.yaml"
    config.write_text("seeds: 2\npresets: [da, da+na]\nlearning: [reward]\n"
                      "stream: {trials_per_rule: 160, test_trials: 32}\n"
                      "settings: [{name: s, stream: {population_size: 16}}]\ncued: null\n")
    out = tmp_path / "out"
    assert main(["run", "--config", str(config), "--device", "cuda", "--out", str(out),
                 "--no-progress"]) == 0
    import json

    results = json.loads((out / "results.json").read_text())
    assert results["device"].startswith("cuda")
    assert all(run["device"].startswith("cuda") for run in results["runs"])

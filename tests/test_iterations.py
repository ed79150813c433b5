"""Tests for avalanche_neuromod.plugins.iterations: a suite budget of ``iterations: N`` trains
exactly N mini-batches (optimizer steps) per experience, cycling epochs, and a budget without it
keeps its cells' configs (and keys) as they were."""

from __future__ import annotations

from collections import Counter

import pytest

from avalanche_neuromod.config import ConfigError
from avalanche_neuromod.leaderboard import load_suite, run_suite_cell, suite_cells
from avalanche_neuromod.plugins.iterations import IterationBudgetPlugin
from avalanche_neuromod.strategies import registry

BENCH = {"name": "gonogo", "label": "g",
         "args": {"cued": True, "rules": ["A", "B"], "trials_per_rule": 48, "test_trials": 16}}
BUDGET = {"model": {"hidden": 16, "layers": 1, "activation": "tanh"},
          "optimizer": {"name": "sgd", "lr": 0.3}, "train_mb_size": 16, "eval_mb_size": 64}


def _suite(strategy: str, **budget) -> dict:
    return {"name": "it", "seeds": [0], "budget": {**BUDGET, **budget}, "benchmarks": [BENCH],
            "strategies": [strategy]}


def _steps_per_experience(monkeypatch, suite: dict) -> tuple[Counter, dict]:
    """Run the suite's one cell; count optimizer steps by the experience they trained."""
    steps: Counter = Counter()
    real = registry.build_strategy

    def spy(*args, **kwargs):
        strategy = real(*args, **kwargs)
        step = strategy.optimizer_step

        def counted(*a, **k):
            steps[strategy.experience.current_experience] += 1
            return step(*a, **k)

        strategy.optimizer_step = counted
        return strategy

    monkeypatch.setattr(registry, "build_strategy", spy)
    cell = suite_cells(load_suite(suite))[0]
    return steps, run_suite_cell(cell)


@pytest.mark.parametrize("strategy", ["naive", "full"])
def test_iterations_budget_runs_exactly_n_steps_per_experience(strategy, monkeypatch):
    # 48 training trials per rule in mini-batches of 16: 3 per epoch, so 7 steps cycle 3 epochs
    steps, record = _steps_per_experience(monkeypatch, _suite(strategy, iterations=7))
    assert dict(steps) == {0: 7, 1: 7}
    assert record["config"]["budget"]["iterations"] == 7
    assert len(record["accuracy_matrix"]) == 2


def test_joint_gets_the_stream_s_iterations_in_its_one_experience(monkeypatch):
    steps, _ = _steps_per_experience(monkeypatch, _suite("joint", iterations=7))
    assert sum(steps.values()) == 14


def test_epochs_budget_is_unchanged_without_iterations(monkeypatch):
    steps, record = _steps_per_experience(monkeypatch, _suite("naive", epochs=2))
    assert dict(steps) == {0: 6, 1: 6}  # 2 epochs of 3 mini-batches
    assert "iterations" not in record["config"]["budget"]  # so older cells' keys stay


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "many"])
def test_bad_iterations_name_the_field(bad):
    with pytest.raises(ConfigError, match=r"suite\.budget\.iterations"):
        load_suite(_suite("naive", iterations=bad), build=False)


def test_plugin_refuses_a_non_positive_budget():
    with pytest.raises(ValueError, match="iterations"):
        IterationBudgetPlugin(iterations=0)

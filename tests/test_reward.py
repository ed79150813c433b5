"""Reward-driven baselines of :mod:`avalanche_neuromod.strategies.reward`: A2C with an entropy
bonus (``a2c``) and the epsilon-greedy value learner (``q-egreedy``), and a preset's ``learner``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from avalanche.benchmarks import nc_benchmark
from avalanche.core import SupervisedPlugin
from avalanche.evaluation.metrics import accuracy_metrics
from avalanche.training.plugins import EvaluationPlugin
from torch import nn
from torch.utils.data import TensorDataset

from avalanche_neuromod.benchmarks import gonogo_benchmark
from avalanche_neuromod.config import deep_merge
from avalanche_neuromod.leaderboard.selection import candidates, load_grid
from avalanche_neuromod.strategies import (
    NeuromodulatedStrategy,
    PresetError,
    RewardDrivenStrategy,
    load_preset,
)

GRIDS = Path(__file__).resolve().parent.parent / "benchmarks" / "grids"
STREAM_ACC = "Top1_Acc_Stream/eval_phase/test_stream"


class Steps(SupervisedPlugin):
    """Per training step: the policy's mean entropy and the share of correct actions."""

    def __init__(self) -> None:
        super().__init__()
        self.entropy: list[float] = []
        self.correct: list[float] = []
        self.third_factor_is_advantage: list[bool] = []

    def after_forward(self, strategy, **kwargs):
        p = strategy.mb_policy.clamp_min(1e-12)
        self.entropy.append(float(-(p * p.log()).sum(-1).mean()))
        self.correct.append(float((strategy.mb_action == strategy.mb_y).float().mean()))
        advantage = strategy.mb_reward - strategy.mb_value
        self.third_factor_is_advantage.append(bool(torch.equal(strategy.mb_third_factor,
                                                               advantage)))


def _evaluator() -> EvaluationPlugin:
    return EvaluationPlugin(accuracy_metrics(stream=True), loggers=[])


def _a2c(stream, *, entropy_coef: float) -> Steps:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(stream.input_size, 64), nn.Tanh(), nn.Linear(64, 2))
    steps = Steps()
    preset = load_preset("a2c")
    preset["learner"]["entropy_coef"] = entropy_coef
    preset["learner"]["inverse_temperature"] = 1.0  # the mechanism at beta 1, whatever was selected
    strategy = NeuromodulatedStrategy(model=model, optimizer=torch.optim.SGD(model.parameters(),
                                                                             lr=0.3),
                                      preset=preset, learning="reward", train_mb_size=8,
                                      device="cpu", plugins=[steps], evaluator=_evaluator())
    assert strategy.advantage and strategy.entropy_coef == entropy_coef
    for experience in stream.train_stream:
        strategy.train(experience)
    return steps


def test_a2c_entropy_bonus_keeps_exploring_after_a_reversal_where_none_saturates() -> None:
    stream = gonogo_benchmark(shifts=["reversal"], trials_per_rule=480, seed=0)
    with_bonus, without = _a2c(stream, entropy_coef=0.5), _a2c(stream, entropy_coef=0.0)
    half = len(with_bonus.entropy) // 2  # the first step of the reversed rule
    after_reversal = slice(half, half + 10)
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    # c = 0: the softmax saturates on the first rule, and stays saturated after the reversal
    assert mean(without.entropy[after_reversal]) < 0.02
    assert mean(with_bonus.entropy[after_reversal]) > 0.1
    # ... so with the bonus the reversed rule is re-learnt, without it it is not
    assert mean(with_bonus.correct[-20:]) > mean(without.correct[-20:]) + 0.3
    assert all(with_bonus.third_factor_is_advantage)  # A2C: delta = r - V(s)


def _two_cues(n: int = 64) -> object:
    """Cue 0 (one-hot) means No-Go, cue 1 means Go; no noise."""
    y = torch.arange(2).repeat(n // 2)
    data = TensorDataset(torch.eye(2)[y], y)
    data.targets = y.tolist()
    return nc_benchmark(data, data, n_experiences=1, task_labels=False, seed=0,
                        fixed_class_order=[0, 1])


def _q_learner(*, lr: float, epsilon: float, train_mb_size: int):
    model = nn.Linear(2, 2, bias=False)
    nn.init.zeros_(model.weight)
    return model, NeuromodulatedStrategy(
        model=model, optimizer=torch.optim.SGD(model.parameters(), lr=1.0),
        preset={"modulators": {}, "learner": {"rule": "q-learning", "epsilon": epsilon,
                                              "actor_lr": lr}},
        learning="reward", train_mb_size=train_mb_size, device="cpu", evaluator=_evaluator())


def test_q_learning_step_is_q_plus_alpha_times_r_minus_q() -> None:
    torch.manual_seed(0)
    stream = _two_cues(n=2)
    model, strategy = _q_learner(lr=0.25, epsilon=0.0, train_mb_size=1)
    assert strategy.optimizer.param_groups[0]["lr"] == 0.25  # the preset's alpha
    strategy.train(stream.train_stream[0])
    # greedy with Q = 0 picks action 0 (No-Go): reward 0 for both cues, so Q stays 0 ...
    assert torch.equal(model.weight, torch.zeros(2, 2))
    with torch.no_grad():
        model.weight[1] = -1.0  # ... now Q(cue, Go) = -1 < Q(cue, No-Go) = 0 for both cues
        model.weight[0, 1] = -2.0  # and Q(Go cue, No-Go) = -2: Go is chosen for the Go cue
    strategy.train(stream.train_stream[0])
    # Go on the Go cue: hit, r = 1, Q(Go cue, Go) = -1 + 0.25 (1 - (-1)) = -0.5; No-Go on the
    # No-Go cue: r = 0, Q(No-Go cue, No-Go) = 0 + 0.25 (0 - 0) = 0
    expected = torch.tensor([[0.0, -2.0], [-1.0, -0.5]])
    assert torch.allclose(model.weight, expected)


def test_q_egreedy_learns_a_deterministic_two_cue_task() -> None:
    torch.manual_seed(0)
    stream = _two_cues(n=400)
    model, strategy = _q_learner(lr=0.3, epsilon=0.1, train_mb_size=1)
    strategy.train(stream.train_stream[0])
    assert strategy.eval(stream.test_stream)[f"{STREAM_ACC}/Task000"] == 1.0
    q = model.weight.detach().T  # Q[cue, action]
    # No-Go cue: Go is a false alarm (-1), No-Go 0; Go cue: Go a hit (+1), No-Go a miss (0)
    assert torch.allclose(q, torch.tensor([[0.0, -1.0], [0.0, 1.0]]), atol=0.1)


def test_q_egreedy_preset_explores_with_its_epsilon() -> None:
    torch.manual_seed(0)
    stream = gonogo_benchmark(rules=["A"], trials_per_rule=160, seed=0)
    model = nn.Sequential(nn.Linear(stream.input_size, 16), nn.Tanh(), nn.Linear(16, 2))
    steps = Steps()
    strategy = NeuromodulatedStrategy(model=model, preset="q-egreedy", learning="reward",
                                      optimizer=torch.optim.SGD(model.parameters(), lr=0.01),
                                      train_mb_size=8, device="cpu", plugins=[steps],
                                      evaluator=_evaluator())
    learner = load_preset("q-egreedy")["learner"]
    eps = learner["epsilon"]
    assert strategy.rule == "q-learning" and strategy.epsilon == eps
    assert strategy.optimizer.param_groups[0]["lr"] == learner["actor_lr"]
    strategy.train(stream.train_stream[0])
    # the epsilon-greedy policy: 1 - eps + eps/2 on the greedy action, eps/2 on the other
    p = torch.tensor([1.0 - eps / 2, eps / 2])
    assert steps.entropy and all(abs(h - float(-(p * p.log()).sum())) < 1e-5
                                 for h in steps.entropy)


def test_learner_block_is_ignored_in_supervised_learning() -> None:
    model = nn.Linear(4, 2)
    strategy = NeuromodulatedStrategy(model=model, preset="a2c", learning="supervised",
                                      optimizer=torch.optim.SGD(model.parameters(), lr=0.01),
                                      device="cpu", evaluator=_evaluator())
    assert strategy.entropy_coef == 0.0 and not strategy.advantage
    assert strategy.optimizer.param_groups[0]["lr"] == 0.01


def test_existing_reward_presets_keep_their_defaults() -> None:
    model = nn.Linear(4, 2)
    for name in ("none", "da", "na", "da+na"):
        assert "learner" not in load_preset(name)
        strategy = NeuromodulatedStrategy(model=model, preset=name, learning="reward",
                                          optimizer=torch.optim.SGD(model.parameters(), lr=0.3),
                                          device="cpu", evaluator=_evaluator())
        assert (strategy.entropy_coef, strategy.advantage, strategy.rule) == \
            (0.0, False, "actor-critic")
        assert strategy.optimizer.param_groups[0]["lr"] == 0.3


@pytest.mark.parametrize("learner, field", [
    ({"entropy": 0.1}, "learner.entropy"),
    ({"entropy_coef": -0.1}, "learner.entropy_coef"),
    ({"inverse_temperature": 0}, "learner.inverse_temperature"),
    ({"actor_lr": "fast"}, "learner.actor_lr"),
    ({"rule": "sarsa"}, "learner.rule"),
    ({"advantage": 1}, "learner.advantage"),
    ({"epsilon": 0.1}, "learner.epsilon"),  # epsilon-greedy is q-learning's
    ({"rule": "q-learning", "epsilon": 1.5}, "learner.epsilon"),
    ({"rule": "q-learning", "entropy_coef": 0.1}, "learner.entropy_coef"),
    ([0.1], "learner"),
])
def test_bad_learner_names_the_field(learner, field) -> None:
    with pytest.raises(PresetError, match=field.replace(".", r"\.")):
        load_preset({"name": "x", "modulators": {}, "learner": learner})


def test_learner_is_refused_for_baselines_and_q_learning_with_modulators() -> None:
    with pytest.raises(PresetError, match="learner"):
        load_preset({"name": "x", "baseline": {"class": "Naive", "args": {}},
                     "learner": {"entropy_coef": 0.1}})
    with pytest.raises(PresetError, match="q-learning takes no modulators"):
        load_preset({"name": "x", "modulators": {"dopamine": {}},
                     "learner": {"rule": "q-learning"}})
    with pytest.raises(ValueError, match="epsilon"):
        RewardDrivenStrategy(model=nn.Linear(2, 2), optimizer=torch.optim.SGD(
            nn.Linear(2, 2).parameters(), lr=0.1), epsilon=0.1, evaluator=_evaluator())


@pytest.mark.parametrize("preset", ["a2c", "q-egreedy"])
def test_grid_has_16_valid_candidates(preset) -> None:
    grid = load_grid(GRIDS / f"{preset}.yaml")
    points = candidates(grid, trials=16)
    assert len(points) == 16
    for override in points:
        assert load_preset(deep_merge(load_preset(preset), override))["learner"]


def test_our_reward_presets_take_the_same_entropy_bonus() -> None:
    """``learner`` on a modulator preset: A2C's entropy bonus beside dopamine's third factor."""
    torch.manual_seed(0)
    stream = gonogo_benchmark(rules=["A"], trials_per_rule=64, seed=0)
    model = nn.Sequential(nn.Linear(stream.input_size, 16), nn.Tanh(), nn.Linear(16, 2))
    preset = {**load_preset("da+na"), "learner": {"entropy_coef": 0.2}}
    steps = Steps()
    strategy = NeuromodulatedStrategy(model=model, preset=preset, learning="reward",
                                      optimizer=torch.optim.SGD(model.parameters(), lr=0.3),
                                      train_mb_size=8, device="cpu", plugins=[steps],
                                      evaluator=_evaluator())
    assert strategy.entropy_coef == 0.2 and strategy.modulator_plugins
    strategy.train(stream.train_stream[0])
    # dopamine's prediction error r - V(s) is the third factor (the plugin sets it)
    assert len(steps.entropy) == 8 and all(steps.third_factor_is_advantage)

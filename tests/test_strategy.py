"""Tests for RewardDrivenStrategy (actor-critic) and NeuromodulatedStrategy (presets)."""

from __future__ import annotations

from importlib import resources

import pytest
import torch
from avalanche.core import SupervisedPlugin
from avalanche.evaluation.metrics import accuracy_metrics
from avalanche.training.plugins import EvaluationPlugin
from torch import nn

from avalanche_neuromod.benchmarks import gonogo_benchmark
from avalanche_neuromod.plugins import NeuromodulationPlugin
from avalanche_neuromod.strategies import (
    NeuromodulatedStrategy,
    PresetError,
    RewardDrivenStrategy,
    gonogo_payoff,
    list_presets,
    load_preset,
)

STREAM_ACC = "Top1_Acc_Stream/eval_phase/test_stream"
PRESETS = ("none", "da", "na", "da+na")


class Spy(SupervisedPlugin):
    """Records what the strategy exposes after each forward pass (train and eval)."""

    def __init__(self) -> None:
        super().__init__()
        self.train_steps: list[dict] = []
        self.eval_steps: list[dict] = []

    @staticmethod
    def _snapshot(strategy) -> dict:
        def grab(name):
            value = getattr(strategy, name, None)
            return value.detach().clone() if isinstance(value, torch.Tensor) else value

        names = ("mb_x", "mb_y", "mb_output", "mb_action", "mb_policy", "mb_reward", "mb_value",
                 "mb_third_factor")
        return {name: grab(name) for name in names}

    def after_forward(self, strategy, **kwargs):
        self.train_steps.append(self._snapshot(strategy))

    def after_eval_forward(self, strategy, **kwargs):
        self.eval_steps.append(self._snapshot(strategy))


@pytest.fixture(scope="module")
def single_rule():
    return gonogo_benchmark(rules=["A"], trials_per_rule=480, seed=0)


def mlp(input_size: int, hidden: int = 64) -> nn.Module:
    return nn.Sequential(nn.Linear(input_size, hidden), nn.ReLU(), nn.Linear(hidden, 2))


def make(cls=RewardDrivenStrategy, *, input_size: int = 64, seed: int = 0, **kwargs):
    torch.manual_seed(seed)
    model = mlp(input_size)
    kwargs.setdefault("learning", "reward")
    return cls(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.3),
        train_mb_size=8,
        evaluator=EvaluationPlugin(accuracy_metrics(stream=True), loggers=[]),
        device="cpu",
        **kwargs,
    )


def expected_reward(y: torch.Tensor, action: torch.Tensor, *, hit=1.0, false_alarm=-1.0,
                    correct_rejection=0.0, miss=0.0) -> torch.Tensor:
    go, act = y == 1, action == 1
    reward = torch.full(y.shape, float("nan"))
    reward[go & act] = hit
    reward[go & ~act] = miss
    reward[~go & act] = false_alarm
    reward[~go & ~act] = correct_rejection
    return reward


# ----------------------------------------------------------------------- RewardDrivenStrategy


def test_reward_driven_learns_single_rule(single_rule) -> None:
    spy = Spy()
    strategy = make(input_size=single_rule.input_size, plugins=[spy])
    strategy.train(single_rule.train_stream[0])
    results = strategy.eval(single_rule.test_stream)
    assert results[STREAM_ACC] > 0.9
    assert len(spy.train_steps) == 480 // 8


def test_reward_driven_sets_step_signals_with_payoff(single_rule) -> None:
    spy = Spy()
    strategy = make(input_size=single_rule.input_size, plugins=[spy])
    strategy.train(single_rule.train_stream[0])
    assert spy.train_steps
    actions_seen = set()
    for step in spy.train_steps:
        batch = step["mb_y"].shape[0]
        assert step["mb_action"].shape == (batch,)
        assert step["mb_action"].dtype == torch.long
        assert step["mb_policy"].shape == (batch, 2)
        assert step["mb_reward"].shape == (batch,)
        assert step["mb_value"].shape == (batch,)
        assert bool(torch.isfinite(step["mb_value"]).all())
        assert bool((step["mb_policy"] >= 0).all())
        assert torch.allclose(step["mb_policy"].sum(-1), torch.ones(batch))
        assert set(step["mb_action"].tolist()) <= {0, 1}
        # hit +1, false alarm -1, correct rejection and miss 0
        assert torch.equal(step["mb_reward"], expected_reward(step["mb_y"], step["mb_action"]))
        # no dopamine: the third factor is the raw reward
        assert torch.equal(step["mb_third_factor"], step["mb_reward"])
        actions_seen |= set(step["mb_action"].tolist())
    assert actions_seen == {0, 1}  # the policy samples both actions early on
    rewards = torch.cat([s["mb_reward"] for s in spy.train_steps])
    assert set(rewards.tolist()) == {-1.0, 0.0, 1.0}


def test_reward_driven_eval_is_greedy_without_reward(single_rule) -> None:
    spy = Spy()
    strategy = make(input_size=single_rule.input_size, plugins=[spy])
    strategy.train(single_rule.train_stream[0])
    strategy.eval(single_rule.test_stream)
    assert spy.eval_steps
    for step in spy.eval_steps:
        assert step["mb_reward"] is None
        assert torch.equal(step["mb_action"], step["mb_policy"].argmax(-1))
        assert torch.equal(step["mb_action"], step["mb_output"].argmax(-1))


def test_custom_payoff_is_used(single_rule) -> None:
    payoff = dict(hit=2.0, false_alarm=-3.0, correct_rejection=0.5, miss=-0.25)
    spy = Spy()
    strategy = make(input_size=single_rule.input_size, plugins=[spy], **payoff)
    assert torch.equal(strategy.payoff, gonogo_payoff(**payoff))
    assert strategy.payoff.tolist() == [[0.5, -3.0], [-0.25, 2.0]]  # R[y, a]
    strategy.train(single_rule.train_stream[0])
    for step in spy.train_steps[:10]:
        assert torch.equal(step["mb_reward"],
                           expected_reward(step["mb_y"], step["mb_action"], **payoff))


def test_supervised_learns_single_rule(single_rule) -> None:
    spy = Spy()
    strategy = make(input_size=single_rule.input_size, learning="supervised", plugins=[spy])
    strategy.train(single_rule.train_stream[0])
    results = strategy.eval(single_rule.test_stream)
    assert results[STREAM_ACC] > 0.9
    assert spy.train_steps
    assert all(step["mb_reward"] is None and step["mb_action"] is None
               for step in spy.train_steps)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        (dict(learning="x"), "learning"),
        (dict(inverse_temperature=0), "inverse_temperature"),
        (dict(inverse_temperature=-1.0), "inverse_temperature"),
        (dict(critic_lr=0), "critic_lr"),
    ],
    ids=["learning", "beta-0", "beta-neg", "critic_lr"],
)
def test_reward_driven_bad_args(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        make(**kwargs)


# ------------------------------------------------------------------------ NeuromodulatedStrategy


def test_presets_are_package_data() -> None:
    assert set(PRESETS) <= set(list_presets())
    files = {p.name for p in resources.files("avalanche_neuromod.presets").iterdir()}
    assert {f"{name}.yaml" for name in PRESETS} <= files
    for name in PRESETS:
        assert load_preset(name)["name"] == name


def _modulators(strategy) -> list[str]:
    """Names of the modulators of the strategy's (single) neuromodulation plugin."""
    plugins = strategy.modulator_plugins
    assert len(plugins) <= 1
    return list(plugins[0].modulators) if plugins else []


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        ("none", []),
        ("da", ["dopamine"]),
        ("na", ["noradrenaline"]),
        ("da+na", ["dopamine", "noradrenaline"]),
        ("full", ["dopamine", "noradrenaline", "acetylcholine", "serotonin"]),
    ],
)
def test_preset_builds_modulator_plugins(preset: str, expected: list[str]) -> None:
    user = Spy()
    strategy = make(NeuromodulatedStrategy, preset=preset, plugins=[user])
    assert _modulators(strategy) == expected
    assert all(isinstance(p, NeuromodulationPlugin) for p in strategy.modulator_plugins)
    assert strategy.preset["name"] == preset
    for plugin in [*strategy.modulator_plugins, user]:
        assert plugin in strategy.plugins
    # modulators come before the user's plugins
    positions = [strategy.plugins.index(p) for p in [*strategy.modulator_plugins, user]]
    assert positions == sorted(positions)


def test_preset_parameters_reach_modulators() -> None:
    strategy = make(NeuromodulatedStrategy, preset="da+na")
    (plugin,) = strategy.modulator_plugins
    assert plugin.modulators["dopamine"].tonic_rate == pytest.approx(0.05)
    assert plugin.modulators["noradrenaline"].threshold == pytest.approx(3.0)
    assert plugin.modulators["noradrenaline"].warmup == 10


def test_dict_preset() -> None:
    preset = {"name": "custom", "modulators": {"dopamine": {"tonic_rate": 0.2}}}
    strategy = make(NeuromodulatedStrategy, preset=preset)
    (plugin,) = strategy.modulator_plugins
    assert _modulators(strategy) == ["dopamine"]
    assert plugin.modulator.tonic_rate == pytest.approx(0.2)
    assert preset == {"name": "custom", "modulators": {"dopamine": {"tonic_rate": 0.2}}}


def test_yaml_file_preset(tmp_path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nmodulators:\n  noradrenaline: {threshold: 1.5, warmup: 3}\n")
    strategy = make(NeuromodulatedStrategy, preset=str(path))
    (plugin,) = strategy.modulator_plugins
    assert _modulators(strategy) == ["noradrenaline"]
    assert plugin.modulator.threshold == pytest.approx(1.5)
    assert plugin.modulator.warmup == 3
    assert strategy.preset["name"] == "mine"


def test_modulator_overrides_reach_modulator() -> None:
    strategy = make(NeuromodulatedStrategy, preset="da+na",
                    modulators={"noradrenaline": {"threshold": 2.5},
                                "dopamine": {"tonic_rate": 0.1}})
    (plugin,) = strategy.modulator_plugins
    na, da = plugin.modulators["noradrenaline"], plugin.modulators["dopamine"]
    assert na.threshold == 2.5
    assert na.slope == pytest.approx(2.0)  # the preset's other parameters are kept
    assert da.tonic_rate == pytest.approx(0.1)
    # overrides do not leak into the preset
    assert load_preset("da+na")["modulators"]["noradrenaline"]["threshold"] == 3.0


@pytest.mark.parametrize(("preset", "expected"), [("da", ["dopamine"]), ("none", [])])
def test_override_does_not_add_modulator(preset: str, expected: list[str]) -> None:
    # one set of overrides serves a whole suite: it must not turn the baselines into NA runs
    strategy = make(NeuromodulatedStrategy, preset=preset,
                    modulators={"noradrenaline": {"threshold": 2.5}})
    assert _modulators(strategy) == expected


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        (dict(preset="nope"), "nope"),
        (dict(preset="missing.yaml"), "missing.yaml"),
        (dict(preset={"modulators": {"oxytocin": {}}}), "oxytocin"),
        (dict(preset={"modulators": {"dopamine": {}}, "extra": 1}), "extra"),
        (dict(preset="da", modulators={"oxytocin": {"gain": 1.0}}), "oxytocin"),
        (dict(preset="da", modulators={"dopamine": {"tonic_rate": 2.0}}), "tonic_rate"),
        (dict(preset="da+na", modulators={"noradrenaline": {"slope": -1.0}}), "slope"),
        (dict(preset="na", modulators={"noradrenaline": {"bogus": 1}}), "bogus"),
        (dict(preset={"modulators": {"dopamine": {"scope": "galaxy"}}}), "scope"),
        (dict(preset="da", modulators={"dopamine": 5}), "modulators.dopamine"),
    ],
    ids=["name", "file", "preset-modulator", "preset-key", "override-modulator",
         "bad-value", "bad-value-na", "unknown-param", "bad-choice", "override-not-mapping"],
)
def test_preset_errors_name_the_culprit(kwargs: dict, needle: str) -> None:
    with pytest.raises(PresetError, match=needle.replace("+", r"\+").replace(".", r"\.")):
        make(NeuromodulatedStrategy, **kwargs)


def test_bad_preset_yaml_is_preset_error(tmp_path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("modulators: [dopamine\n")
    with pytest.raises(PresetError, match="broken.yaml"):
        make(NeuromodulatedStrategy, preset=str(path))


def test_dopamine_third_factor_is_prediction_error(single_rule) -> None:
    spy = Spy()
    strategy = make(NeuromodulatedStrategy, preset="da", input_size=single_rule.input_size,
                    plugins=[spy])
    strategy.train(single_rule.train_stream[0])
    (da,) = strategy.modulator_plugins
    assert len(da.trace) == len(spy.train_steps) == 480 // 8
    for step in spy.train_steps:
        assert torch.allclose(step["mb_third_factor"], step["mb_reward"] - step["mb_value"])
    results = strategy.eval(single_rule.test_stream)
    assert results[STREAM_ACC] > 0.9


def test_da_na_strategy_trains_and_records_signals(single_rule) -> None:
    strategy = make(NeuromodulatedStrategy, preset="da+na", input_size=single_rule.input_size)
    strategy.train(single_rule.train_stream[0])
    (plugin,) = strategy.modulator_plugins
    assert len(plugin.trace) == 480 // 8
    for record in plugin.trace:
        assert 0.0 <= record["NA/level"] <= 1.0
    assert all(torch.isfinite(p).all() for p in strategy.model.parameters())
    assert strategy.temperature == 1.0  # exploration is reset after training

"""Many-to-one integration: the integrator's maths, the default interactions, presets = plugins."""

from __future__ import annotations

import copy
import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from avalanche.training.plugins import EvaluationPlugin
from torch import nn

from avalanche_neuromod.benchmarks import gonogo_benchmark
from avalanche_neuromod.modulators import Integrator, default_integration
from avalanche_neuromod.modulators.integration import (
    VARIABLES,
    IntegrationError,
    signal_names,
    validate_integration,
)
from avalanche_neuromod.plugins import (
    AcetylcholinePlugin,
    DopaminePlugin,
    ModulatorConfigError,
    NeuromodulationPlugin,
    NoradrenalinePlugin,
    SerotoninPlugin,
)
from avalanche_neuromod.strategies import (
    NeuromodulatedStrategy,
    RewardDrivenStrategy,
    load_preset,
)

# =========================================================================== the integrator


def test_integrator_convergent_terms_multiply() -> None:
    spec = {"plasticity": {"terms": {"NA/level": 2.0, "ACh/level": 0.5}}}
    signals = {"NA/level": 0.3, "ACh/level": 0.4}
    out = Integrator(spec).evaluate_floats(signals)
    assert out["plasticity"] == pytest.approx(1.0 * (1 + 2.0 * 0.3) * (1 + 0.5 * 0.4))
    assert out["plasticity"] > Integrator({"plasticity": {"terms": {"NA/level": 2.0}}}) \
        .evaluate_floats(signals)["plasticity"]  # the second term adds to the first
    tensors = Integrator(spec).evaluate({k: torch.tensor(v) for k, v in signals.items()})
    assert float(tensors["plasticity"]) == pytest.approx(out["plasticity"], rel=1e-6)


def test_integrator_opponent_term_divides_down() -> None:
    spec = {"da_plasticity": {"terms": {"NA/level": 1.0, "5HT/level": -0.5}}}
    integrator = Integrator(spec)
    assert integrator.evaluate_floats({"NA/level": 0.0, "5HT/level": 0.8})["da_plasticity"] == \
        pytest.approx(1 - 0.4)
    both = integrator.evaluate_floats({"NA/level": 0.5, "5HT/level": 0.8})["da_plasticity"]
    assert both == pytest.approx(1.5 * 0.6)
    # without bounds an opponent term may push a variable below zero
    negative = Integrator({"gain": {"terms": {"5HT/level": -3.0}}})
    assert negative.evaluate_floats({"5HT/level": 1.0})["gain"] == pytest.approx(-2.0)


def test_integrator_base_as_a_signal_name() -> None:
    spec = {"consolidation": {"base": "5HT/level", "terms": {"NA/level": -1.0}},
            "gain": {"base": 2.5}}
    integrator = Integrator(spec)
    out = integrator.evaluate_floats({"5HT/level": 0.7, "NA/level": 0.2})
    assert out["consolidation"] == pytest.approx(0.7 * 0.8)
    assert out["gain"] == pytest.approx(2.5)
    tensors = integrator.evaluate({"5HT/level": torch.tensor(0.7),
                                   "NA/level": torch.tensor(0.2)})
    assert float(tensors["consolidation"]) == pytest.approx(0.56, rel=1e-6)
    # an absent base signal is 0 (its modulator is not there)
    assert integrator.evaluate_floats({"NA/level": 0.2})["consolidation"] == 0.0
    assert float(integrator.evaluate({})["consolidation"]) == 0.0


def test_integrator_bounds_clip_both_ways() -> None:
    spec = {"plasticity": {"terms": {"NA/level": 4.0, "5HT/level": -2.0},
                           "bounds": [0.5, 3.0]}}
    integrator = Integrator(spec)
    assert integrator.evaluate_floats({"NA/level": 1.0})["plasticity"] == 3.0  # 5 -> 3
    assert integrator.evaluate_floats({"5HT/level": 1.0})["plasticity"] == 0.5  # -1 -> 0.5
    assert integrator.evaluate_floats({"NA/level": 0.25})["plasticity"] == pytest.approx(2.0)
    assert float(integrator.evaluate({"NA/level": torch.tensor(1.0)})["plasticity"]) == 3.0
    assert float(integrator.evaluate({"5HT/level": torch.tensor(1.0)})["plasticity"]) == 0.5


def test_integrator_absent_signals_are_factor_one() -> None:
    spec = {"plasticity": {"base": 1.5, "terms": {"NA/level": 2.0, "ACh/level": 0.5,
                                                  "DA/abs_rpe": 3.0}}}
    integrator = Integrator(spec)
    assert integrator.evaluate_floats({})["plasticity"] == pytest.approx(1.5)
    assert integrator.evaluate_floats({"ACh/level": 0.4})["plasticity"] == pytest.approx(1.8)
    assert float(integrator.evaluate({"ACh/level": torch.tensor(0.4)})["plasticity"]) == \
        pytest.approx(1.8)
    # every declared variable is reported; undeclared ones are not invented
    assert set(integrator.evaluate_floats({})) == {"plasticity"}


def test_integrator_tensor_and_float_paths_agree() -> None:
    spec = default_integration({"dopamine": {}, "noradrenaline": {}, "acetylcholine": {},
                                "serotonin": {}})
    floats = {"DA/rpe": -0.3, "DA/abs_rpe": 0.3, "DA/tonic": 0.2, "NA/level": 0.6,
              "NA/release": 0.4, "NA/tonic": 0.1, "NA/explore": 0.6, "ACh/level": 0.3,
              "ACh/switch": 0.3 / 0.8, "5HT/level": 0.7}
    assert set(floats) == set(signal_names())
    integrator = Integrator(spec)
    a = integrator.evaluate_floats(floats)
    b = integrator.evaluate({k: torch.tensor(v) for k, v in floats.items()})
    assert set(a) == set(b) == set(VARIABLES)
    for name in VARIABLES:
        assert float(b[name]) == pytest.approx(a[name], rel=1e-6), name
    assert a["plasticity"] == pytest.approx((1 + 2.0 * 0.6) * (1 + 0.5 * 0.3))
    assert a["consolidation"] == pytest.approx(0.4 * 0.7)
    assert a["na_threshold"] == pytest.approx(1 + 0.3 / 0.8)
    assert a["reset"] == pytest.approx(1 - 0.5 * 0.4)
    assert a["temperature"] == pytest.approx(1 + 4.0 * 0.6)
    assert a["da_plasticity"] == pytest.approx(1.6 * (1 - 0.5 * 0.7))


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ({"speed": {}}, "integration.speed: unknown learning variable"),
        ({"gain": {"terms": {"XX/level": 1.0}}}, "integration.gain.terms.XX/level: unknown"),
        ({"gain": {"base": "NA/nope"}}, "integration.gain.base: unknown signal"),
        ({"gain": {"base": "2"}}, "integration.gain.base"),
        ({"gain": {"base": True}}, "integration.gain.base: must be a number"),
        ({"gain": {"base": float("inf")}}, "integration.gain.base"),
        ({"gain": {"terms": {"NA/level": "big"}}}, "integration.gain.terms.NA/level: weight"),
        ({"gain": {"terms": {"NA/level": None}}}, "integration.gain.terms.NA/level: weight"),
        ({"gain": {"terms": {"NA/level": False}}}, "integration.gain.terms.NA/level: weight"),
        ({"gain": {"terms": {"NA/level": float("nan")}}}, "integration.gain.terms.NA/level"),
        ({"gain": {"terms": [["NA/level", 1.0]]}}, "integration.gain.terms: must map"),
        ({"gain": {"bounds": [2.0, 1.0]}}, "integration.gain.bounds"),
        ({"gain": {"bounds": [1.0]}}, "integration.gain.bounds"),
        ({"gain": {"bounds": "wide"}}, "integration.gain.bounds"),
        ({"gain": {"weight": 1.0}}, "integration.gain: must be a mapping"),
        ({"gain": 2.0}, "integration.gain: must be a mapping"),
        (["gain"], "integration: must be a mapping"),
    ],
)
def test_validate_integration_errors_name_the_field(spec, needle: str) -> None:
    with pytest.raises(IntegrationError, match=_escaped(needle)):
        validate_integration(spec)
    with pytest.raises(ValueError):  # IntegrationError is a ValueError
        Integrator(spec)


def _escaped(text: str) -> str:
    import re

    return re.escape(text)


def test_validate_integration_custom_field_and_copy() -> None:
    with pytest.raises(IntegrationError, match=r"preset\.integration\.gain\.bounds"):
        validate_integration({"gain": {"bounds": [3, 1]}}, field="preset.integration")
    spec = {"gain": {"terms": {"NA/level": 1.0}, "bounds": [0, 2]}}
    out = validate_integration(spec)
    spec["gain"]["terms"]["NA/level"] = 9.0
    assert out["gain"]["terms"]["NA/level"] == 1.0  # a deep copy
    assert validate_integration(None) == {}
    # equal bounds are allowed (a constant)
    assert Integrator({"gain": {"bounds": [1.0, 1.0], "terms": {"NA/level": 3.0}}}) \
        .evaluate_floats({"NA/level": 1.0})["gain"] == 1.0


def test_plugin_integration_errors_are_config_errors() -> None:
    with pytest.raises(ModulatorConfigError, match=r"integration\.gain\.terms\.XX"):
        NeuromodulationPlugin(noradrenaline={}, integration={"gain": {"terms": {"XX": 1.0}}})


# =========================================================================== defaults


def _terms(spec: dict) -> dict[str, dict]:
    return {name: var["terms"] for name, var in spec.items()}


def test_default_integration_na_only() -> None:
    na = {"plasticity_gain": 1.5, "gain_gain": 0.3, "exploration_gain": 2.0, "reset_gain": 0.4}
    terms = _terms(default_integration({"noradrenaline": na}))
    assert terms == {
        "plasticity": {"NA/level": 1.5},
        "gain": {"NA/level": 0.3},
        "temperature": {"NA/explore": 2.0},
        "reset": {"NA/release": -0.4},
        "consolidation": {"NA/level": -1.0},
        "da_plasticity": {},
        "na_threshold": {},
    }
    # defaults are the modulator's own defaults
    terms = _terms(default_integration({"noradrenaline": {}}))
    assert terms["plasticity"] == {"NA/level": 2.0}
    assert terms["gain"] == {"NA/level": 0.25}
    assert terms["temperature"] == {"NA/explore": 4.0}
    assert terms["reset"] == {"NA/release": -0.5}


def test_default_integration_bases_and_bounds() -> None:
    spec = default_integration({})
    assert set(spec) == set(VARIABLES)
    assert all(var["base"] == 1.0 and var["terms"] == {} for var in spec.values())
    assert spec["plasticity"]["bounds"] == [0.0, 8.0]
    assert spec["temperature"]["bounds"] == [1.0, 50.0]
    assert spec["reset"]["bounds"] == [0.0, 1.0]
    assert spec["consolidation"]["bounds"] == [0.0, 1.0]
    assert validate_integration(spec) == spec  # the default is a valid declaration
    # at rest every variable is 1
    assert set(Integrator(spec).evaluate_floats({}).values()) == {1.0}


def test_default_integration_single_modulators_do_not_interact() -> None:
    da = _terms(default_integration({"dopamine": {}}))
    assert all(t == {} for t in da.values())  # DA acts through its own plasticity only
    ach = _terms(default_integration({"acetylcholine": {"encoding_gain": 0.7}}))
    assert ach["plasticity"] == {"ACh/level": 0.7}
    assert ach["consolidation"] == {"ACh/level": -1.0}
    assert ach["na_threshold"] == {}  # no NA to modulate
    ht = _terms(default_integration({"serotonin": {"opponent": 0.5}}))
    assert ht["da_plasticity"] == {}  # no DA to oppose
    assert all(t == {} for t in ht.values())


def test_default_integration_da_na_is_modulatory() -> None:
    terms = _terms(default_integration({"dopamine": {}, "noradrenaline": {}}))
    assert terms["da_plasticity"] == {"NA/level": 1.0}
    custom = _terms(default_integration({"dopamine": {},
                                         "noradrenaline": {"dopamine_boost": 0.3}}))
    assert custom["da_plasticity"] == {"NA/level": 0.3}


def test_default_integration_ach_na_threshold() -> None:
    terms = _terms(default_integration({"noradrenaline": {},
                                        "acetylcholine": {"threshold_gain": 2.0}}))
    assert terms["na_threshold"] == {"ACh/switch": 2.0}
    assert terms["plasticity"] == {"NA/level": 2.0, "ACh/level": 0.5}  # convergent
    assert terms["consolidation"] == {"NA/level": -1.0, "ACh/level": -1.0}


def test_default_integration_5ht_opposes_da() -> None:
    terms = _terms(default_integration({"dopamine": {}, "serotonin": {"opponent": 0.8}}))
    assert terms["da_plasticity"] == {"5HT/level": -0.8}
    assert _terms(default_integration({"dopamine": {}, "serotonin": {}}))["da_plasticity"] == \
        {"5HT/level": -0.5}


def test_plugin_declared_integration_replaces_the_default_variable() -> None:
    plugin = NeuromodulationPlugin(
        noradrenaline={}, integration={"plasticity": {"terms": {"NA/level": 0.5}}})
    assert plugin.integrator.spec["plasticity"] == {"terms": {"NA/level": 0.5}}
    assert plugin.integrator.spec["gain"]["terms"] == {"NA/level": 0.25}  # others stay
    plugin.modulators["noradrenaline"].level.fill_(1.0)
    assert plugin._refresh()["plasticity"] == pytest.approx(1.5)


def test_plugin_na_effects_drop_their_terms() -> None:
    plugin = NeuromodulationPlugin(noradrenaline={"effects": ["plasticity"]})
    terms = _terms(plugin.integrator.spec)
    assert terms["plasticity"] == {"NA/level": 2.0}
    assert terms["gain"] == terms["temperature"] == terms["reset"] == {}


# =========================================================================== presets = plugins


@pytest.fixture(scope="module")
def cued():
    return gonogo_benchmark(rules=["A", "B"], trials_per_rule=96, test_trials=32, cued=True,
                            seed=0)


@pytest.fixture(scope="module")
def base_model(cued):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(cued.input_size, 32), nn.Tanh(), nn.Linear(32, 2))


def _single_plugin(name: str, params: dict):
    if name == "da":
        return DopaminePlugin()
    if name == "na":
        return NoradrenalinePlugin()
    if name == "ach":
        return AcetylcholinePlugin(**params["acetylcholine"])
    return SerotoninPlugin(**params["serotonin"])


def _train(bm, base_model, *, learning: str, preset: str | None = None, plugin=None):
    """Train a copy of ``base_model`` on both experiences; return (params, modulator plugin)."""
    model = copy.deepcopy(base_model)
    common = dict(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.3),
                  learning=learning, train_mb_size=8, eval_mb_size=64, device="cpu",
                  evaluator=EvaluationPlugin(loggers=[]))
    torch.manual_seed(1)  # before the strategy: the critic's lazy init and action sampling
    if preset is not None:
        strategy = NeuromodulatedStrategy(preset=preset, **common)
        plugins = strategy.modulator_plugins
    else:
        plugins = [plugin]
        strategy = RewardDrivenStrategy(plugins=plugins, **common)
    for experience in bm.train_stream:
        strategy.train(experience)
    return [p.detach().clone() for p in model.parameters()], (plugins[0] if plugins else None)


@pytest.fixture(scope="module")
def unmodulated(cued, base_model):
    """The parameters learnt without any modulator (preset ``none``), once per learning mode."""
    cache: dict[str, list[torch.Tensor]] = {}

    def get(learning: str) -> list[torch.Tensor]:
        if learning not in cache:
            cache[learning] = _train(cued, base_model, learning=learning, preset="none")[0]
        return cache[learning]

    return get


@pytest.mark.parametrize("learning", ["supervised", "reward"])
@pytest.mark.parametrize("name", ["da", "na", "ach", "5ht"])
def test_each_preset_equals_its_single_plugin(cued, base_model, unmodulated, name: str,
                                              learning: str):
    preset = load_preset(name)
    single = _single_plugin(name, preset["modulators"])
    assert type(single) is not NeuromodulationPlugin
    params_single, plugin_single = _train(cued, base_model, learning=learning, plugin=single)
    params_preset, plugin_preset = _train(cued, base_model, learning=learning, preset=name)
    assert type(plugin_preset) is NeuromodulationPlugin
    assert list(plugin_preset.modulators) == list(single.modulators)
    for a, b in zip(params_single, params_preset):
        assert torch.equal(a, b)
    assert len(plugin_single.trace) == 2 * 96 // 8
    assert plugin_single.trace == plugin_preset.trace
    # the equality is not vacuous: the modulator changed what was learnt
    assert any(not torch.equal(a, b) for a, b in zip(params_single, unmodulated(learning)))


# =========================================================================== live interactions


def _step(outputs, targets) -> SimpleNamespace:
    """A supervised training step as the plugins see it (no Avalanche needed)."""
    return SimpleNamespace(mb_output=torch.tensor(outputs), mb_y=torch.tensor(targets),
                           _criterion=nn.CrossEntropyLoss(), model=nn.Linear(2, 2),
                           device="cpu")


def _da_plasticity_after_one_step(plugin: NeuromodulationPlugin) -> torch.Tensor:
    strategy = _step([[2.0, -1.0], [2.0, -1.0]], [0, 1])  # r = [1, 0], V = 0: delta = [1, 0]
    plugin.before_forward(strategy)
    plugin.after_forward(strategy)
    assert plugin.delta.tolist() == pytest.approx([1.0, 0.0])
    return plugin.plasticity


@pytest.mark.parametrize("boost", [1.0, 0.5])
def test_na_boosts_dopamine_plasticity(boost: float) -> None:
    gains = {}
    for level in (0.0, 1.0):
        plugin = NeuromodulationPlugin(dopamine={}, noradrenaline={"dopamine_boost": boost})
        plugin.modulators["noradrenaline"].level.fill_(level)
        m = _da_plasticity_after_one_step(plugin)
        gains[level] = m
        assert m[1] == pytest.approx(1.0)  # no surprise, no extra plasticity
    assert gains[0.0][0] == pytest.approx(2.0)  # 1 + |delta|
    assert gains[1.0][0] == pytest.approx(1.0 + (1.0 + boost))  # gain scaled by 1 + boost
    assert gains[1.0][0] > gains[0.0][0]


def test_na_boost_reaches_the_loss() -> None:
    plugin = NeuromodulationPlugin(dopamine={}, noradrenaline={})
    plugin.modulators["noradrenaline"].level.fill_(1.0)
    strategy = _step([[2.0, -1.0], [0.5, 0.0]], [0, 0])  # both correct: delta = [1, 1]
    strategy.loss = F.cross_entropy(strategy.mb_output, strategy.mb_y)
    plugin.before_forward(strategy)
    plugin.after_forward(strategy)
    plugin.before_backward(strategy)
    losses = F.cross_entropy(strategy.mb_output, strategy.mb_y, reduction="none")
    assert float(strategy.loss) == pytest.approx(float((3.0 * losses).mean()), rel=1e-6)


def _release(ach_level: float | None) -> tuple[float, float]:
    """NA's release for a fixed surprise, with ACh at ``ach_level`` (None: no ACh)."""
    kwargs = {"acetylcholine": {"threshold_gain": 1.0}} if ach_level is not None else {}
    plugin = NeuromodulationPlugin(
        noradrenaline={"threshold": 2.0, "slope": 2.0, "warmup": 1, "min_std": 0.05}, **kwargs)
    na = plugin.modulators["noradrenaline"]
    na.stats.mean.fill_(0.0)
    na.stats.var.fill_(1.0)
    na.stats.count.fill_(5)
    if ach_level is not None:
        plugin.modulators["acetylcholine"].level.fill_(ach_level)
    strategy = _step([[0.0, 3.0]], [0])
    u = float(F.cross_entropy(strategy.mb_output, strategy.mb_y))
    plugin.before_forward(strategy)
    plugin.after_forward(strategy)
    assert float(na.surprise) == pytest.approx(u, rel=1e-6)  # z = (u - 0) / 1
    return float(na.release), u


def test_ach_raises_na_threshold_in_observe() -> None:
    base, u = _release(None)
    assert base == pytest.approx(1 / (1 + math.exp(-2.0 * (u - 2.0))), rel=1e-6)
    releases = []
    for a in (0.0, 0.25, 0.5, 0.9):
        release, _ = _release(a)
        theta = 2.0 * (1.0 + a / (0.5 + a))
        assert release == pytest.approx(1 / (1 + math.exp(-2.0 * (u - theta))), rel=1e-6)
        releases.append(release)
    assert releases[0] == pytest.approx(base)  # no expected uncertainty: NA's own threshold
    assert releases == sorted(releases, reverse=True) and len(set(releases)) == 4
    assert releases[0] > 0.5 > releases[-1]  # the same surprise is a change only when ACh is low


def test_ach_na_switch_advances_inferred_context() -> None:
    plugin = NeuromodulationPlugin(
        noradrenaline={"threshold": 2.0, "warmup": 1}, acetylcholine={"context": "inferred"})
    na, ach = plugin.modulators["noradrenaline"], plugin.modulators["acetylcholine"]
    na.stats.var.fill_(1.0)
    na.stats.count.fill_(5)
    strategy = _step([[0.0, 3.0]], [0])
    plugin.before_forward(strategy)
    plugin.after_forward(strategy)
    assert float(na.release) > 0.5
    assert int(ach.context) == 1
    assert "1" in ach.stats and "0" not in ach.stats  # the step is observed in the new context


@pytest.mark.parametrize("opponent", [0.5, 0.8])
def test_serotonin_opposes_dopamine(opponent: float) -> None:
    gains, expectations = {}, {}
    for level in (0.0, 1.0):
        plugin = NeuromodulationPlugin(dopamine={}, serotonin={"opponent": opponent,
                                                               "patience": 1.0})
        plugin.modulators["serotonin"].level.fill_(level)
        gains[level] = _da_plasticity_after_one_step(plugin)[0]
        expectations[level] = float(plugin.modulators["dopamine"].expectation)
    assert gains[0.0] == pytest.approx(2.0)
    assert gains[1.0] == pytest.approx(1.0 + (1.0 - opponent))
    assert gains[1.0] < gains[0.0]
    # patience: 5-HT slows DA's tonic expectation (mean reward 0.5, rate 0.05 / (1 + s))
    assert expectations[0.0] == pytest.approx(0.05 * 0.5)
    assert expectations[1.0] == pytest.approx(0.025 * 0.5)


def test_na_and_ach_loosen_serotonin_anchor() -> None:
    added = {}
    for na_level, ach_level in ((0.0, 0.0), (0.5, 0.0), (0.5, 0.2)):
        plugin = NeuromodulationPlugin(noradrenaline={}, acetylcholine={"gating": False},
                                       serotonin={"strength": 1.0, "max_stiffness": 10.0})
        ht = plugin.modulators["serotonin"]
        ht.level.fill_(1.0)
        w = nn.Parameter(torch.tensor([1.0, 2.0]))
        model = nn.Module()
        model.w = w
        ht.consolidate([w])
        w.grad = torch.tensor([1.0, 1.0])
        ht.accumulate([w])
        ht.consolidate([w])  # Omega = [1, 1]: stiffness = strength * s * c
        with torch.no_grad():
            w.add_(torch.tensor([1.0, -2.0]))
        plugin.modulators["noradrenaline"].level.fill_(na_level)
        plugin.modulators["acetylcholine"].level.fill_(ach_level)
        strategy = SimpleNamespace(model=model, device="cpu")
        plugin.before_forward(strategy)
        w.grad = torch.zeros(2)
        plugin.after_backward(strategy)
        added[(na_level, ach_level)] = w.grad.clone()
    assert torch.allclose(added[(0.0, 0.0)], torch.tensor([1.0, -2.0]))
    assert torch.allclose(added[(0.5, 0.0)], 0.5 * torch.tensor([1.0, -2.0]))
    assert torch.allclose(added[(0.5, 0.2)], 0.5 * 0.8 * torch.tensor([1.0, -2.0]))


def test_default_integration_reads_the_gains_from_the_constructors(monkeypatch) -> None:
    """A gain left out is the constructor's default, so changing that default moves the applied
    term too (the integration restates no number of the modulators')."""
    from avalanche_neuromod.modulators.acetylcholine import Acetylcholine
    from avalanche_neuromod.modulators.noradrenaline import Noradrenaline

    defaults = list(Noradrenaline.__init__.__kwdefaults__.items())
    kw = dict(defaults)
    kw["plasticity_gain"] = 3.5
    monkeypatch.setattr(Noradrenaline.__init__, "__kwdefaults__", kw)
    ach = dict(Acetylcholine.__init__.__kwdefaults__, encoding_gain=0.75)
    monkeypatch.setattr(Acetylcholine.__init__, "__kwdefaults__", ach)
    terms = _terms(default_integration({"noradrenaline": {}, "acetylcholine": {}}))
    assert terms["plasticity"] == {"NA/level": 3.5, "ACh/level": 0.75}
    assert Noradrenaline().plasticity_gain == 3.5  # the same default the modulator applies


# ============================================= applied variables, read through the plugin


def _variables(plugin, **levels) -> dict[str, float]:
    """The learning variables the plugin applies with the modulators at these levels."""
    for name, (attribute, value) in levels.items():
        getattr(plugin.modulators[name], attribute).fill_(value)
    return plugin._refresh()


@pytest.mark.parametrize("level", [0.0, 0.3, 0.9])
def test_ach_sets_na_threshold_plasticity_and_consolidation_through_the_plugin(level) -> None:
    """What the plugin applies (its integration), not a method of the modulator's."""
    plugin = NeuromodulationPlugin(noradrenaline={},
                                   acetylcholine={"threshold_gain": 1.5, "encoding_gain": 0.8})
    v = _variables(plugin, acetylcholine=("level", level))
    assert v["na_threshold"] == pytest.approx(1.0 + 1.5 * level / (0.5 + level), rel=1e-6)
    assert v["plasticity"] == pytest.approx(1.0 + 0.8 * level, rel=1e-6)  # NA at rest
    assert v["consolidation"] == pytest.approx(1.0 - level, rel=1e-6)


def test_ach_threshold_grows_with_expected_uncertainty() -> None:
    plugin = NeuromodulationPlugin(noradrenaline={"threshold": 3.0},
                                   acetylcholine={"threshold_gain": 1.0})
    thresholds = [3.0 * _variables(plugin, acetylcholine=("level", a))["na_threshold"]
                  for a in (0.0, 0.2, 0.5, 0.99)]
    assert thresholds[0] == pytest.approx(3.0)
    assert thresholds == sorted(thresholds) and len(set(thresholds)) == 4
    assert thresholds[-1] < 3.0 * 2.0  # a / (0.5 + a) < 1: at most (1 + gain) times the base


@pytest.mark.parametrize("level", [0.0, 0.3, 1.0])
def test_na_effects_are_the_terms_the_plugin_applies(level) -> None:
    plugin = NeuromodulationPlugin(noradrenaline={"plasticity_gain": 2.0, "gain_gain": 0.25,
                                                  "exploration_gain": 4.0, "reset_gain": 0.5})
    v = _variables(plugin, noradrenaline=("level", level))
    assert v["plasticity"] == pytest.approx(1.0 + 2.0 * level)
    assert v["gain"] == pytest.approx(1.0 + 0.25 * level)
    assert v["temperature"] == pytest.approx(1.0 + 4.0 * level)
    assert v["consolidation"] == pytest.approx(1.0 - level)
    assert v["reset"] == pytest.approx(1.0)  # the reset follows this step's release, not the level
    plugin.modulators["noradrenaline"].release.fill_(0.8)
    assert plugin._refresh()["reset"] == pytest.approx(1.0 - 0.5 * 0.8)
    # exploration follows max(phasic, tonic); plasticity the phasic level only
    v = _variables(plugin, noradrenaline=("tonic", 0.6))
    assert v["temperature"] == pytest.approx(1.0 + 4.0 * max(level, 0.6))
    assert v["plasticity"] == pytest.approx(1.0 + 2.0 * level)

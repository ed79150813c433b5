"""Acetylcholine and serotonin: their maths checked by hand (pure torch, no Avalanche)."""

from __future__ import annotations

import io
import math

import pytest
import torch
from torch import nn

from avalanche_neuromod.modulators import Acetylcholine, Serotonin
from avalanche_neuromod.plugins import NeuromodulationPlugin


def _ema(values: list[float], rate: float) -> tuple[float, float]:
    """RunningStats' update rule in plain Python: (mean, var) after ``values``."""
    mean = var = 0.0
    for i, x in enumerate(values):
        if i == 0:
            mean, var = x, 0.0
            continue
        diff = x - mean
        mean += rate * diff
        var = (1.0 - rate) * (var + rate * diff * diff)
    return mean, var


def _ach_level(values: list[float], rate: float, scale: float) -> float:
    sd = math.sqrt(_ema(values, rate)[1])
    return sd / (sd + scale)


def _roundtrip(state: dict) -> dict:
    """``torch.save`` then ``torch.load(weights_only=True)`` (what a checkpoint goes through)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


# =========================================================================== acetylcholine


def test_ach_level_is_sd_over_sd_plus_scale() -> None:
    ach = Acetylcholine(stats_rate=0.3, scale=0.5)
    # observe() folds the mean of the signal it gets: [0, 0.4] counts as 0.2
    signals = [torch.tensor([0.0, 0.4]), torch.tensor(1.0), torch.tensor([[0.4]]),
               torch.tensor(0.9), torch.tensor([-0.5, 0.5, 0.0])]
    seen: list[float] = []
    for signal in signals:
        seen.append(float(signal.float().mean()))
        level = ach.observe(signal, context=0)
        assert float(level) == pytest.approx(_ach_level(seen, 0.3, 0.5), rel=1e-6)
    assert float(ach.level) == pytest.approx(_ach_level(seen, 0.3, 0.5), rel=1e-6)
    mean, var = _ema(seen, 0.3)
    stats = ach.stats["0"]
    assert float(stats.mean) == pytest.approx(mean, rel=1e-6)
    assert float(stats.var) == pytest.approx(var, rel=1e-6)
    assert int(stats.count) == len(seen)
    assert 0.0 < float(ach.level) < 1.0


def test_ach_first_observation_has_no_uncertainty() -> None:
    ach = Acetylcholine()
    ach.observe(torch.tensor(3.0))
    assert float(ach.level) == 0.0
    assert int(ach.context) == 0  # no context given: the current one (0)


def test_ach_non_finite_signal_changes_nothing() -> None:
    ach = Acetylcholine(stats_rate=0.5)
    for u in (0.0, 1.0):
        ach.observe(torch.tensor(u))
    level = float(ach.level)
    ach.observe(torch.tensor(float("nan")))
    ach.observe(torch.tensor([1.0, float("inf")]))
    assert float(ach.level) == level
    assert int(ach.stats["0"].count) == 2
    ach.observe(torch.tensor(float("nan")), context=4)  # no statistics for a context never seen
    assert "4" not in ach.stats


def test_ach_statistics_are_per_context() -> None:
    rate, scale = 0.4, 0.25
    ach = Acetylcholine(stats_rate=rate, scale=scale)
    ctx0 = [0.0, 1.0, 0.2]
    for u in ctx0:
        ach.observe(torch.tensor(u), context=0)
    saved = {k: v.clone() for k, v in ach.stats["0"].state_dict().items()}
    ctx1 = [5.0, 5.5]
    for u in ctx1:
        ach.observe(torch.tensor(u), context=1)
    assert int(ach.context) == 1
    assert float(ach.level) == pytest.approx(_ach_level(ctx1, rate, scale), rel=1e-6)
    # context 0 kept its statistics while context 1 was observed
    for key, value in ach.stats["0"].state_dict().items():
        assert torch.equal(value, saved[key])
    # back to context 0: its statistics continue where they stopped
    ach.observe(torch.tensor(0.7), context=0)
    assert float(ach.level) == pytest.approx(_ach_level(ctx0 + [0.7], rate, scale), rel=1e-6)
    # without a context argument the current one (0) keeps being used
    ach.observe(torch.tensor(0.1))
    assert float(ach.level) == pytest.approx(_ach_level(ctx0 + [0.7, 0.1], rate, scale),
                                             rel=1e-6)
    assert int(ach.stats["1"].count) == 2
    assert sorted(ach.stats) == ["0", "1"]


def test_ach_switch_context_increments_and_starts_new_statistics() -> None:
    ach = Acetylcholine(stats_rate=0.5)
    for u in (0.0, 2.0, 1.0):
        ach.observe(torch.tensor(u))
    assert float(ach.level) > 0.0
    assert ach.switch_context() == 1
    assert int(ach.context) == 1
    assert ach.switch_context() == 2
    ach.observe(torch.tensor(9.0))  # the first observation of context 2
    assert "2" in ach.stats and "1" not in ach.stats
    assert float(ach.level) == 0.0
    assert int(ach.stats["0"].count) == 3


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


@pytest.mark.parametrize("units", [1, 7, 10, 37, 64])
@pytest.mark.parametrize(("keep", "strength"), [(0.2, 1.0), (0.3, 0.75), (0.5, 0.0)])
def test_ach_gate_counts_and_values(units: int, keep: float, strength: float) -> None:
    ach = Acetylcholine(gate_keep=keep, gate_strength=strength, seed=3)
    for context in (0, 1, 5):
        gate = ach.gate(context, units)
        assert gate.shape == (units,)
        assert gate.dtype == torch.float32
        n_keep = max(1, round(keep * units))
        kept = gate == 1.0
        if strength == 0.0:
            assert bool(kept.all())  # no damping: every unit is open
            continue
        assert int(kept.sum()) == n_keep
        assert torch.allclose(gate[~kept], torch.full((units - n_keep,), 1.0 - strength))


def test_ach_gate_is_deterministic_in_seed_context_units() -> None:
    a = Acetylcholine(gate_keep=0.25, seed=7)
    b = Acetylcholine(gate_keep=0.25, seed=7)
    for u in (0.0, 3.0, 1.0):  # the state of the modulator does not matter
        b.observe(torch.tensor(u))
    b.switch_context()
    torch.manual_seed(123)  # nor the global RNG
    g0 = a.gate(0, 40)
    torch.manual_seed(456)
    assert torch.equal(g0, b.gate(0, 40))
    assert torch.equal(g0, a.gate(0, 40))
    # different contexts own different units
    gates = [a.gate(c, 40) for c in range(4)]
    for i in range(4):
        for j in range(i + 1, 4):
            assert not torch.equal(gates[i], gates[j])
    # another seed draws other subsets
    assert not torch.equal(g0, Acetylcholine(gate_keep=0.25, seed=8).gate(0, 40))
    # the gate follows the requested device
    assert a.gate(0, 40, device="cpu").device.type == "cpu"


def test_ach_seed_cell_draws_the_gates_from_the_runs_seed() -> None:
    from avalanche_neuromod.determinism import deterministic
    from avalanche_neuromod.strategies import build_plugins, load_preset

    preset = load_preset("full-task")
    preset["modulators"]["acetylcholine"]["seed"] = "cell"
    gates = {}
    for seed in (0, 3):
        with deterministic(seed):  # as every leaderboard and case-study cell is built
            [plugin] = build_plugins(preset)
        ach = plugin.modulators["acetylcholine"]
        assert ach.seed == seed
        gates[seed] = ach.gate(0, 64)
    assert torch.equal(gates[0], Acetylcholine(seed=0).gate(0, 64))
    assert not torch.equal(gates[0], gates[3])  # other seeds of a suite, other gates
    with deterministic(3):
        [plugin] = build_plugins(load_preset("full-task"))
    assert plugin.modulators["acetylcholine"].seed == 0  # the default: one set of gates
    with pytest.raises(ValueError, match="seed must be an integer or cell"):
        Acetylcholine(seed="run")


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(stats_rate=0.0), "stats_rate"),
        (dict(stats_rate=1.5), "stats_rate"),
        (dict(scale=0.0), "scale"),
        (dict(scale=-1.0), "scale"),
        (dict(scale=float("inf")), "scale"),
        (dict(threshold_gain=-0.1), "threshold_gain"),
        (dict(gate_keep=0.0), "gate_keep"),
        (dict(gate_keep=1.2), "gate_keep"),
        (dict(gate_strength=-0.1), "gate_strength"),
        (dict(gate_strength=1.1), "gate_strength"),
        (dict(encoding_gain=-1.0), "encoding_gain"),
        (dict(encoding_gain=float("nan")), "encoding_gain"),
        (dict(min_dwell=-1), "min_dwell"),
        (dict(min_dwell=2.5), "min_dwell"),
        (dict(min_dwell=True), "min_dwell"),
    ],
)
def test_ach_bad_params(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        Acetylcholine(**kwargs)


def test_ach_recall_picks_the_least_uncertain_context_per_sample() -> None:
    # 3 contexts x 4 samples x 5 outputs; sample i is confident under context want[i]
    want = torch.tensor([2, 0, 1, 2])
    logits = torch.zeros(3, 4, 5)
    for i, c in enumerate(want.tolist()):
        logits[c, i, i % 5] = 6.0
    logits[(want[0] + 1) % 3, 0, 1] = 3.0  # less confident than under its own context
    assert torch.equal(Acetylcholine.recall(logits), want)
    # entropy, not the largest logit: a flat shift of every logit changes nothing
    assert torch.equal(Acetylcholine.recall(logits + torch.tensor([5.0, 0.0, -5.0])[:, None, None]),
                       want)


def test_ach_recall_ties_and_non_finite_outputs() -> None:
    logits = torch.zeros(2, 3, 4)  # every context equally uncertain: the first one
    assert Acetylcholine.recall(logits).tolist() == [0, 0, 0]
    logits[0, 1] = float("nan")  # a diverged context is never recalled
    logits[1, 1, 0] = 1.0
    assert Acetylcholine.recall(logits).tolist() == [0, 1, 0]


@pytest.mark.parametrize("shape", [(4, 5), (0, 3, 5), (2, 3, 4, 5)])
def test_ach_recall_rejects_bad_shapes(shape) -> None:
    with pytest.raises(ValueError, match="contexts, batch, outputs"):
        Acetylcholine.recall(torch.zeros(shape))


def test_ach_known_contexts_and_min_dwell() -> None:
    ach = Acetylcholine(min_dwell=3)
    assert ach.known_contexts() == [] and not ach.may_switch()  # context 0 not observed yet
    for step in range(3):
        assert ach.may_switch() is (step >= 3)
        ach.observe(torch.tensor(1.0))
    assert ach.may_switch()
    ach.switch_context()
    assert not ach.may_switch()  # the new context must be observed min_dwell times first
    ach.observe(torch.tensor(2.0))
    assert ach.known_contexts() == [0, 1] and not ach.may_switch()
    free = Acetylcholine()  # min_dwell 0: any step may switch (the behaviour of `full`)
    assert free.may_switch()


def test_ach_edge_params_are_allowed() -> None:
    Acetylcholine(gate_strength=0.0, gate_keep=1.0, stats_rate=1.0, threshold_gain=0.0,
                  encoding_gain=0.0)


def test_ach_state_dict_round_trip_with_per_context_stats() -> None:
    ach = Acetylcholine(stats_rate=0.3, scale=0.5)
    for context, values in ((0, [0.1, 0.9, 0.4]), (2, [3.0, 2.0]), (1, [0.5, 0.6, 0.2, 0.8])):
        for u in values:
            ach.observe(torch.tensor(u), context=context)
    state = ach.state_dict()
    assert {"stats.0.mean", "stats.1.var", "stats.2.count", "level", "context"} <= set(state)
    fresh = Acetylcholine(stats_rate=0.3, scale=0.5)
    assert len(fresh.stats) == 0  # created lazily
    fresh.load_state_dict(_roundtrip(state))  # strict: every key finds its place
    assert sorted(fresh.stats) == ["0", "1", "2"]
    for key, value in ach.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key
    assert int(fresh.context) == 1
    assert float(fresh.level) == float(ach.level)
    # both continue identically, in the restored context and in the others
    for context, u in ((None, 0.3), (0, 1.5), (2, 2.2), (1, 0.0)):
        assert float(ach.observe(torch.tensor(u), context=context)) == \
            float(fresh.observe(torch.tensor(u), context=context))
    # a fresh module without the checkpoint would not
    other = Acetylcholine(stats_rate=0.3, scale=0.5)
    other.observe(torch.tensor(0.0), context=1)
    assert float(other.observe(torch.tensor(1.5), context=0)) == 0.0
    assert float(fresh.level) > 0.0


def test_ach_load_rejects_unexpected_keys() -> None:
    state = Acetylcholine().state_dict()
    state["bogus"] = torch.tensor(1.0)
    with pytest.raises(RuntimeError, match="bogus"):
        Acetylcholine().load_state_dict(state)


# =========================================================================== serotonin


def test_5ht_observe_moves_toward_stability_by_rate() -> None:
    ht = Serotonin(rate=0.1, initial_level=0.5)
    want = 0.5
    for stability, clipped in ((0.9, 0.9), (torch.tensor(2.0), 1.0), (-1.0, 0.0),
                               (torch.tensor(0.25), 0.25)):
        want += 0.1 * (clipped - want)
        assert float(ht.observe(stability)) == pytest.approx(want, rel=1e-6)
    ht.observe(float("nan"))  # no evidence: the level stays
    assert float(ht.level) == pytest.approx(want, rel=1e-6)
    # without NA the world counts as stable: the level climbs toward 1
    ht2 = Serotonin(rate=0.5, initial_level=0.0)
    for _ in range(3):
        ht2.observe()
    assert float(ht2.level) == pytest.approx(1.0 - 0.5 ** 3)


@pytest.mark.parametrize(
    ("delta", "gamma"),
    [(None, 1.0), (0.0, 1.0), (0.25, 1.5), (-0.2, 0.6), (1.0, 2.0), (-5.0, 0.0),
     (torch.tensor([1.0, -0.5]), 1.5)],  # a per-trial delta counts by its mean
)
def test_5ht_dopamine_factor(delta, gamma: float) -> None:
    ht = Serotonin(dopamine_gate=2.0)
    assert float(ht.dopamine_factor(delta)) == pytest.approx(gamma)


def test_5ht_accumulate_adds_gamma_g_squared() -> None:
    ht = Serotonin(dopamine_gate=2.0)
    w = nn.Parameter(torch.zeros(3))
    b = nn.Parameter(torch.zeros(2))
    grads = [(torch.tensor([1.0, -2.0, 0.5]), torch.tensor([3.0, 0.0])),
             (torch.tensor([0.0, 1.0, 1.0]), torch.tensor([-1.0, 2.0])),
             (torch.tensor([2.0, 2.0, -1.0]), torch.tensor([1.0, 1.0]))]
    deltas = [0.25, -0.1, None]  # gamma 1.5, 0.8, 1
    gammas = [1.5, 0.8, 1.0]
    for (gw, gb), delta in zip(grads, deltas):
        w.grad, b.grad = gw.clone(), gb.clone()
        ht.accumulate([w, b], dopamine=delta)
    want_w = sum(g * gw ** 2 for g, (gw, _) in zip(gammas, grads))
    want_b = sum(g * gb ** 2 for g, (_, gb) in zip(gammas, grads))
    assert torch.allclose(ht._running[0], want_w)
    assert torch.allclose(ht._running[1], want_b)
    assert int(ht.steps) == 3
    ht.consolidate([w, b])
    assert torch.allclose(ht.importance[0], want_w / 3)
    assert torch.allclose(ht.importance[1], want_b / 3)
    total = float((want_w / 3).sum() + (want_b / 3).sum())
    assert ht._scale == pytest.approx(5 / total)  # 1 / mean(Omega)


def test_5ht_changes_that_did_not_pay_off_do_not_become_important() -> None:
    ht = Serotonin(dopamine_gate=2.0, initial_level=1.0)
    w = nn.Parameter(torch.tensor([1.0, -1.0]))
    ht.consolidate([w])
    for _ in range(4):
        w.grad = torch.tensor([3.0, 5.0])
        ht.accumulate([w], dopamine=torch.tensor([-1.0, -0.6]))  # gamma = clip(1 - 1.6) = 0
    assert int(ht.steps) == 4
    ht.consolidate([w])
    assert torch.equal(ht.importance[0], torch.zeros(2))
    # nothing important: no stiffness, no penalty, whatever the distance to the anchor
    with torch.no_grad():
        w.add_(torch.tensor([2.0, -3.0]))
    w.grad = torch.tensor([0.1, 0.2])
    ht.add_penalty_grad([w], 1.0)
    assert torch.equal(w.grad, torch.tensor([0.1, 0.2]))
    assert float(ht.penalty([w])) == 0.0


def test_5ht_accumulate_skips_missing_grads_and_samples_every_k() -> None:
    ht = Serotonin(importance_every=3)
    w, frozen = nn.Parameter(torch.zeros(2)), nn.Parameter(torch.zeros(2))
    for step in range(7):  # calls 1, 4 and 7 are sampled
        w.grad = torch.full((2,), float(step + 1))
        frozen.grad = None
        ht.accumulate([w, frozen])
    assert int(ht.steps) == 3
    assert torch.allclose(ht._running[0], torch.full((2,), 1.0 + 16.0 + 49.0))
    assert torch.equal(ht._running[1], torch.zeros(2))
    with pytest.raises(ValueError, match="importance_every"):
        Serotonin(importance_every=0)
    with pytest.raises(ValueError, match="importance_every"):
        Serotonin(importance_every=True)


def test_5ht_consolidate_sums_importance_moves_anchor_resets_running() -> None:
    ht = Serotonin()
    w = nn.Parameter(torch.tensor([1.0, 2.0, 3.0]))
    ht.consolidate([w])  # start: anchor = initial weights, no importance yet
    assert torch.equal(ht.importance[0], torch.zeros(3))
    assert torch.equal(ht.anchor[0], w.detach())
    assert ht._scale == 0.0
    w.grad = torch.tensor([1.0, 2.0, 0.0])
    ht.accumulate([w])
    w.grad = torch.tensor([3.0, 0.0, 0.0])
    ht.accumulate([w])
    omega1 = torch.tensor([5.0, 2.0, 0.0])  # (1 + 9) / 2, 4 / 2, 0
    with torch.no_grad():
        w.add_(1.0)
    ht.consolidate([w])
    assert torch.allclose(ht.importance[0], omega1)
    assert torch.equal(ht.anchor[0], torch.tensor([2.0, 3.0, 4.0]))
    assert ht._running == [] and int(ht.steps) == 0
    # the anchor is a copy, not the live parameter
    with torch.no_grad():
        w.add_(10.0)
    assert torch.equal(ht.anchor[0], torch.tensor([2.0, 3.0, 4.0]))
    # a second experience adds its own mean to Omega
    w.grad = torch.tensor([0.0, 0.0, 2.0])
    ht.accumulate([w])
    ht.consolidate([w])
    assert torch.allclose(ht.importance[0], omega1 + torch.tensor([0.0, 0.0, 4.0]))
    assert ht._scale == pytest.approx(3 / 11)
    # a consolidation with no sampled step keeps Omega and only moves the anchor
    ht.consolidate([w])
    assert torch.allclose(ht.importance[0], torch.tensor([5.0, 2.0, 4.0]))
    assert torch.equal(ht.anchor[0], w.detach())


def _consolidated(strength=2.0, level=0.6, max_stiffness=0.8):
    """A serotonin module with a hand-set importance over two parameters, and the parameters."""
    ht = Serotonin(strength=strength, max_stiffness=max_stiffness, initial_level=level)
    w = nn.Parameter(torch.tensor([[1.0, -1.0], [0.5, 2.0]]))
    b = nn.Parameter(torch.tensor([0.0, 1.0, -2.0]))
    ht.consolidate([w, b])
    w.grad = torch.tensor([[1.0, 3.0], [0.0, 2.0]])
    b.grad = torch.tensor([0.5, 1.0, 4.0])
    ht.accumulate([w, b])
    ht.consolidate([w, b])
    with torch.no_grad():
        w.add_(torch.tensor([[0.2, -0.1], [0.3, 0.05]]))
        b.add_(torch.tensor([-0.4, 0.2, 0.1]))
    return ht, w, b


def test_5ht_penalty_grad_hand_computed() -> None:
    ht, w, b = _consolidated(strength=2.0, level=0.6, max_stiffness=0.8)
    omega_w = torch.tensor([[1.0, 9.0], [0.0, 4.0]])
    omega_b = torch.tensor([0.25, 1.0, 16.0])
    mean = float((omega_w.sum() + omega_b.sum()) / 7)
    factor = 0.5
    lam = 2.0 * 0.6 * factor / mean
    k_w = (lam * omega_w).clamp(max=0.8)
    k_b = (lam * omega_b).clamp(max=0.8)
    assert bool((lam * omega_b > 0.8).any()) and bool((lam * omega_w < 0.8).any())  # both cases
    g_w, g_b = torch.tensor([[0.1, 0.1], [0.1, 0.1]]), torch.tensor([1.0, 0.0, -1.0])
    w.grad, b.grad = g_w.clone(), g_b.clone()
    ht.add_penalty_grad([w, b], factor)
    d_w = torch.tensor([[0.2, -0.1], [0.3, 0.05]])
    d_b = torch.tensor([-0.4, 0.2, 0.1])
    assert torch.allclose(w.grad, g_w + k_w * d_w, atol=1e-6)
    assert torch.allclose(b.grad, g_b + k_b * d_b, atol=1e-6)
    # a tensor factor (as the integrator may give) works the same
    w.grad, b.grad = g_w.clone(), g_b.clone()
    ht.add_penalty_grad([w, b], torch.tensor(factor))
    assert torch.allclose(b.grad, g_b + k_b * d_b, atol=1e-6)


def test_5ht_penalty_value_matches_its_gradient() -> None:
    ht, w, b = _consolidated(strength=1.5, level=0.8, max_stiffness=1.0)
    factor = 0.7
    w.grad, b.grad = torch.zeros_like(w), torch.zeros_like(b)
    ht.add_penalty_grad([w, b], factor)
    added = [w.grad.clone(), b.grad.clone()]
    w.grad = b.grad = None
    value = ht.penalty([w, b], factor)
    value.backward()
    assert torch.allclose(w.grad, added[0], atol=1e-6)
    assert torch.allclose(b.grad, added[1], atol=1e-6)
    # and the value is 1/2 sum k (w - w*)^2 with the same stiffness
    k = [g / (p.detach() - a) for g, p, a in zip(added, (w, b), ht.anchor)]
    want = 0.5 * sum(float((ki * (p.detach() - a) ** 2).sum())
                     for ki, p, a in zip(k, (w, b), ht.anchor))
    assert float(value.detach()) == pytest.approx(want, rel=1e-5)


def test_5ht_no_penalty_without_consolidation_level_or_factor() -> None:
    w = nn.Parameter(torch.tensor([1.0, 2.0]))
    ht = Serotonin(initial_level=1.0)
    w.grad = torch.tensor([0.5, 0.5])
    ht.add_penalty_grad([w], 1.0)  # never consolidated: no anchor
    assert torch.equal(w.grad, torch.tensor([0.5, 0.5]))
    assert float(ht.penalty([w])) == 0.0
    ht.accumulate([w])  # importance gathered, but not consolidated yet
    ht.add_penalty_grad([w], 1.0)
    assert torch.equal(w.grad, torch.tensor([0.5, 0.5]))
    ht.consolidate([w])
    with torch.no_grad():
        w.add_(1.0)
    for level, factor in ((0.0, 1.0), (1.0, 0.0)):
        ht.level.fill_(level)
        w.grad = torch.tensor([0.5, 0.5])
        ht.add_penalty_grad([w], factor)
        assert torch.equal(w.grad, torch.tensor([0.5, 0.5]))
        assert float(ht.penalty([w], factor).detach()) == 0.0
    ht.level.fill_(1.0)
    ht.add_penalty_grad([w], 1.0)
    assert not torch.equal(w.grad, torch.tensor([0.5, 0.5]))  # now it pulls


def test_5ht_penalty_skips_params_without_grad() -> None:
    ht, w, b = _consolidated()
    w.grad, b.grad = None, torch.zeros(3)
    ht.add_penalty_grad([w, b], 1.0)
    assert w.grad is None
    assert float(b.grad.abs().sum()) > 0


@pytest.mark.parametrize("level", [0.0, 0.4, 1.0])
def test_5ht_patience_rate(level: float) -> None:
    ht = Serotonin(patience=2.0, initial_level=level)
    assert float(ht.patience_rate(0.05)) == pytest.approx(0.05 / (1.0 + 2.0 * level))


def test_5ht_false_alarms_and_nogo_bias() -> None:
    ht = Serotonin(inhibition_rate=0.2, inhibition_gain=1.5, initial_level=0.4)
    want = 0.0
    for punishment in (torch.tensor([1.0, 0.0]), torch.tensor(1.0), torch.tensor([0.0])):
        ht.observe_false_alarms(punishment)
        want += 0.2 * (float(punishment.mean()) - want)
        assert float(ht.inhibition) == pytest.approx(want, rel=1e-6)
        assert float(ht.nogo_bias()) == pytest.approx(1.5 * 0.4 * want, rel=1e-6)
    ht.observe_false_alarms(torch.tensor(float("nan")))
    assert float(ht.inhibition) == pytest.approx(want, rel=1e-6)
    ht.level.fill_(0.0)
    assert float(ht.nogo_bias()) == 0.0  # no serotonin, no inhibition


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(strength=-1.0), "strength"),
        (dict(max_stiffness=float("inf")), "max_stiffness"),
        (dict(rate=0.0), "rate"),
        (dict(dopamine_gate=-0.5), "dopamine_gate"),
        (dict(patience=-1.0), "patience"),
        (dict(inhibition_rate=2.0), "inhibition_rate"),
        (dict(inhibition_gain=float("nan")), "inhibition_gain"),
        (dict(initial_level=1.5), "initial_level"),
    ],
)
def test_5ht_bad_params(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        Serotonin(**kwargs)


def test_5ht_state_dict_round_trip_weights_only() -> None:
    ht, w, b = _consolidated(strength=2.0, level=0.6, max_stiffness=0.8)
    ht.observe_false_alarms(torch.tensor(0.5))
    # mid-experience: a running sum is pending
    w.grad, b.grad = torch.ones_like(w), torch.full_like(b, 2.0)
    ht.accumulate([w, b], dopamine=0.1)
    state = _roundtrip(ht.state_dict())
    fresh = Serotonin(strength=2.0, max_stiffness=0.8)
    fresh.load_state_dict(state)
    for name in ("importance", "anchor", "_running"):
        ours, theirs = getattr(ht, name), getattr(fresh, name)
        assert len(ours) == len(theirs) == 2
        assert all(torch.equal(a, c) for a, c in zip(ours, theirs)), name
    assert fresh._scale == ht._scale and fresh._calls == ht._calls
    for name in ("level", "inhibition", "steps"):
        assert torch.equal(getattr(fresh, name), getattr(ht, name)), name
    # the same penalty gradient
    grads = {}
    for label, module in (("original", ht), ("restored", fresh)):
        w.grad, b.grad = torch.zeros_like(w), torch.zeros_like(b)
        module.add_penalty_grad([w, b], 0.5)
        grads[label] = (w.grad.clone(), b.grad.clone())
    assert float(grads["original"][0].abs().sum()) > 0
    assert all(torch.equal(a, c) for a, c in zip(grads["original"], grads["restored"]))
    # and the same importance after finishing the experience
    for module in (ht, fresh):
        w.grad, b.grad = torch.full_like(w, 0.5), torch.full_like(b, 0.5)
        module.accumulate([w, b], dopamine=0.0)
        module.consolidate([w, b])
    assert all(torch.equal(a, c) for a, c in zip(ht.importance, fresh.importance))
    assert fresh._scale == ht._scale


def test_5ht_to_moves_importance_anchor_and_running() -> None:
    ht, w, b = _consolidated()
    w.grad, b.grad = torch.ones_like(w), torch.ones_like(b)
    ht.accumulate([w, b])
    ht.to(torch.float64)
    for tensors in (ht.importance, ht.anchor, ht._running):
        assert tensors and all(t.dtype == torch.float64 for t in tensors)
    assert ht.level.dtype == torch.float64
    w64 = nn.Parameter(w.detach().double())
    b64 = nn.Parameter(b.detach().double())
    w64.grad, b64.grad = torch.zeros_like(w64), torch.zeros_like(b64)
    ht.add_penalty_grad([w64, b64], 1.0)
    assert w64.grad.dtype == torch.float64 and float(w64.grad.abs().sum()) > 0


@pytest.mark.cuda
def test_5ht_and_ach_move_to_cuda() -> None:
    ht, w, b = _consolidated()
    ht.to("cuda")
    assert all(t.is_cuda for t in ht.importance + ht.anchor)
    wc, bc = nn.Parameter(w.detach().cuda()), nn.Parameter(b.detach().cuda())
    wc.grad, bc.grad = torch.zeros_like(wc), torch.zeros_like(bc)
    ht.add_penalty_grad([wc, bc], 1.0)
    w.grad, b.grad = torch.zeros_like(w), torch.zeros_like(b)
    ht.cpu().add_penalty_grad([w, b], 1.0)
    assert torch.allclose(wc.grad.cpu(), w.grad, atol=1e-6)
    ach = Acetylcholine().to("cuda")
    ach.observe(torch.tensor(0.0, device="cuda"), context=1)
    ach.observe(torch.tensor(1.0, device="cuda"))
    assert ach.level.is_cuda and ach.stats["1"].var.is_cuda
    assert ach.gate(1, 16).is_cuda
    assert float(ach.level) > 0.0

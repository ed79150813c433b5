"""modulators/acetylcholine.py: expected uncertainty per context, context gates, recall by
entropy, checkpoints; the maths checked by hand (pure torch, no Avalanche)."""

from __future__ import annotations

import math

import pytest
import torch

from avalanche_neuromod.modulators import Acetylcholine


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


def test_ach_state_dict_round_trip_with_per_context_stats(roundtrip) -> None:
    ach = Acetylcholine(stats_rate=0.3, scale=0.5)
    for context, values in ((0, [0.1, 0.9, 0.4]), (2, [3.0, 2.0]), (1, [0.5, 0.6, 0.2, 0.8])):
        for u in values:
            ach.observe(torch.tensor(u), context=context)
    state = ach.state_dict()
    assert {"stats.0.mean", "stats.1.var", "stats.2.count", "level", "context"} <= set(state)
    fresh = Acetylcholine(stats_rate=0.3, scale=0.5)
    assert len(fresh.stats) == 0  # created lazily
    fresh.load_state_dict(roundtrip(state))  # strict: every key finds its place
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

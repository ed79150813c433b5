"""Tests for avalanche_neuromod.modulators: the pure-torch maths, checked by hand (no Avalanche)."""

from __future__ import annotations

import math

import pytest
import torch

from avalanche_neuromod.modulators import Dopamine, Noradrenaline, RunningStats

# --------------------------------------------------------------------------- RunningStats


def test_running_stats_hand_computed_ema() -> None:
    stats = RunningStats(rate=0.5)
    # first value initialises the mean, variance 0
    stats.update(torch.tensor(2.0))
    assert float(stats.mean) == pytest.approx(2.0)
    assert float(stats.var) == pytest.approx(0.0)
    # diff = 2: mean = 2 + 0.5 * 2 = 3; var = 0.5 * (0 + 0.5 * 4) = 1
    stats.update(torch.tensor(4.0))
    assert float(stats.mean) == pytest.approx(3.0)
    assert float(stats.var) == pytest.approx(1.0)
    # diff = -2: mean = 3 - 1 = 2; var = 0.5 * (1 + 0.5 * 4) = 1.5
    stats.update(torch.tensor(1.0))
    assert float(stats.mean) == pytest.approx(2.0)
    assert float(stats.var) == pytest.approx(1.5)
    assert float(stats.std) == pytest.approx(math.sqrt(1.5))
    assert int(stats.count) == 3


def test_running_stats_ignores_non_finite() -> None:
    stats = RunningStats(rate=0.1)
    stats.update(torch.tensor(1.0))
    stats.update(torch.tensor(3.0))
    mean, var = float(stats.mean), float(stats.var)
    for bad in (float("nan"), float("inf"), float("-inf")):
        stats.update(torch.tensor(bad))
    assert float(stats.mean) == pytest.approx(mean)
    assert float(stats.var) == pytest.approx(var)
    assert int(stats.count) == 2
    # a first non-finite value does not initialise the statistics either
    fresh = RunningStats(rate=0.1, initial_mean=0.7)
    fresh.update(torch.tensor(float("nan")))
    assert int(fresh.count) == 0
    assert float(fresh.mean) == pytest.approx(0.7)


@pytest.mark.parametrize("rate", [0.0, -0.1, 1.5, float("nan")])
def test_running_stats_bad_rate(rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        RunningStats(rate=rate)


# --------------------------------------------------------------------------- Dopamine


def test_dopamine_rpe_with_critic_value() -> None:
    da = Dopamine(tonic_rate=0.1, initial_expectation=0.3)
    reward = torch.tensor([1.0, 0.0, -1.0])
    value = torch.tensor([0.5, 0.2, -0.5])
    delta = da.prediction_error(reward, value)
    assert delta.tolist() == pytest.approx([0.5, -0.2, -0.5])
    # the tonic expectation still tracks mean reward: 0.3 + 0.1 * (0 - 0.3)
    assert float(da.expectation) == pytest.approx(0.27)
    assert float(da.phasic) == pytest.approx(-0.2 / 3)


def test_dopamine_tonic_expectation_three_steps() -> None:
    da = Dopamine(tonic_rate=0.1)
    steps = [
        # reward, expected delta, expectation after, phasic after, tonic after
        ([1.0, 0.0], [1.0, 0.0], 0.05, 0.5, 0.05),
        ([1.0, 1.0], [0.95, 0.95], 0.145, 0.95, 0.14),
        ([0.0, 0.0], [-0.145, -0.145], 0.1305, -0.145, 0.1405),
    ]
    for reward, want_delta, want_v, want_phasic, want_tonic in steps:
        delta = da.prediction_error(torch.tensor(reward))
        assert delta.tolist() == pytest.approx(want_delta, abs=1e-6)
        assert float(da.expectation) == pytest.approx(want_v, abs=1e-6)
        assert float(da.phasic) == pytest.approx(want_phasic, abs=1e-6)
        assert float(da.tonic) == pytest.approx(want_tonic, abs=1e-6)


def test_dopamine_plasticity_per_sample_and_step() -> None:
    da = Dopamine(plasticity_gain=2.0, max_plasticity=2.5)
    delta = torch.tensor([0.1, -0.5, 1.0, 0.0])
    # clip(1 + 2 |delta|, 0, 2.5)
    assert da.plasticity(delta).tolist() == pytest.approx([1.2, 2.0, 2.5, 1.0])
    # step: clip(1 + 2 |mean delta|) = 1 + 2 * 0.15
    step = da.plasticity(delta, scope="step")
    assert step.shape == torch.Size([])
    assert float(step) == pytest.approx(1.3)
    assert float(da.plasticity(torch.tensor([2.0, 2.0]), scope="step")) == pytest.approx(2.5)
    with pytest.raises(ValueError, match="scope"):
        da.plasticity(delta, scope="layer")


def test_dopamine_nan_rewards_do_not_poison_state() -> None:
    da = Dopamine(tonic_rate=0.1)
    delta = da.prediction_error(torch.tensor([1.0, float("nan"), 0.0]))
    assert torch.isfinite(delta).all()
    assert delta.tolist() == pytest.approx([1.0, 0.0, 0.0])
    assert float(da.expectation) == pytest.approx(0.05)  # mean of the finite rewards: 0.5
    assert float(da.phasic) == pytest.approx(0.5)
    before = {k: v.clone() for k, v in da.state_dict().items()}
    delta = da.prediction_error(torch.tensor([float("nan"), float("inf")]))
    assert delta.tolist() == [0.0, 0.0]
    for key, value in da.state_dict().items():
        assert torch.equal(value, before[key]), key
    # a NaN critic value is skipped like a NaN reward
    delta = da.prediction_error(torch.tensor([1.0, 1.0]), torch.tensor([float("nan"), 0.5]))
    assert delta.tolist() == pytest.approx([0.0, 0.5])
    assert float(da.expectation) == pytest.approx(0.05 + 0.1 * (1.0 - 0.05))
    for value in da.state_dict().values():
        assert torch.isfinite(value.float()).all()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(tonic_rate=0.0), "tonic_rate"),
        (dict(tonic_rate=1.5), "tonic_rate"),
        (dict(plasticity_gain=-1.0), "plasticity_gain"),
        (dict(plasticity_gain=float("inf")), "plasticity_gain"),
        (dict(max_plasticity=-1.0), "max_plasticity"),
        (dict(max_plasticity=0.0), "max_plasticity"),
    ],
)
def test_dopamine_bad_params(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        Dopamine(**kwargs)


# --------------------------------------------------------------------------- Noradrenaline


def _baseline(n: int, *, seed: int = 0, level: float = 0.1, noise: float = 0.01):
    gen = torch.Generator().manual_seed(seed)
    return [torch.tensor(level) + noise * torch.randn((), generator=gen) for _ in range(n)]


def test_na_no_release_during_warmup() -> None:
    na = Noradrenaline(warmup=10)
    for u in [0.1, 5.0, 0.1, 50.0, 0.1, 500.0, 0.1, 0.1, 0.1, 1e4]:  # wild, but still warm-up
        na.observe(torch.tensor(u))
        assert float(na.level) == 0.0
        assert float(na.release) == 0.0
    assert int(na.stats.count) == 10
    na.observe(torch.tensor(1e6))  # the 11th step is judged
    assert float(na.release) > 0.9


def test_na_steady_signal_keeps_level_near_zero() -> None:
    na = Noradrenaline()
    for u in _baseline(80):
        na.observe(u)
        assert float(na.level) < 0.01
    assert abs(float(na.surprise)) < 3.0


def test_na_jump_releases_and_decays_exactly() -> None:
    na = Noradrenaline(time_constant=10.0)
    for u in _baseline(40):
        na.observe(u)
    assert float(na.level) < 0.01
    mean, std = float(na.stats.mean), max(float(na.stats.std), na.min_std)
    na.observe(torch.tensor(1.0))
    assert float(na.surprise) == pytest.approx((1.0 - mean) / std, rel=1e-5)
    assert float(na.level) > 0.9
    decay = math.exp(-1.0 / 10.0)
    assert na.decay == pytest.approx(decay)
    previous = float(na.level)
    for u in _baseline(15, seed=1):
        na.observe(u)
        assert float(na.release) < 0.01
        assert float(na.level) == pytest.approx(decay * previous, rel=1e-5)
        previous = float(na.level)
    assert previous == pytest.approx(float(torch.sigmoid(torch.tensor(30.0))) * decay**15,
                                     rel=1e-3)


def test_na_tonic_utility_deficit() -> None:
    na = Noradrenaline(warmup=10, utility_fast_rate=0.2, utility_slow_rate=0.01,
                       exploration_gain=4.0)
    steady = torch.tensor(0.1)
    for _ in range(50):
        na.observe(steady, utility=torch.tensor(0.5))
    assert float(na.tonic) == pytest.approx(0.0, abs=1e-6)
    for _ in range(60):
        na.observe(steady, utility=torch.tensor(0.0))
    fast, slow = 0.5 * 0.8**60, 0.5 * 0.99**60  # the EMAs by hand
    assert float(na.utility_slow.mean) == pytest.approx(slow, rel=1e-4)
    assert float(na.tonic) == pytest.approx((slow - fast) / max(slow, 0.1), rel=1e-4)
    assert float(na.tonic) == pytest.approx(1.0, abs=1e-4)
    assert float(na.level) < 0.01  # no surprise in the signal: tonic NA alone
    # utility below zero: the deficit exceeds 1 and is clipped
    for _ in range(5):
        na.observe(steady, utility=torch.tensor(-1.0))
    assert float(na.tonic) == 1.0


def test_na_threshold_override() -> None:
    low, default = Noradrenaline(), Noradrenaline()
    for u in _baseline(40):
        low.observe(u)
        default.observe(u)
    signal = torch.tensor(0.2)  # z about 2: below the default threshold of 3
    default.observe(signal)
    low.observe(signal, threshold_factor=1.0 / 3.0)  # acetylcholine's factor on the threshold
    assert float(low.surprise) == pytest.approx(float(default.surprise))
    z = float(default.surprise)
    assert float(default.release) == pytest.approx(1 / (1 + math.exp(-2.0 * (z - 3.0))), rel=1e-5)
    assert float(low.release) == pytest.approx(1 / (1 + math.exp(-2.0 * (z - 1.0))), rel=1e-5)
    assert float(low.release) > float(default.release) + 0.3
    assert float(low.level) > float(default.level)
    assert default.threshold == 3.0 and low.threshold == 3.0  # the factor is for one step only


def test_na_non_finite_signal_keeps_state() -> None:
    na = Noradrenaline()
    for u in _baseline(20):
        na.observe(u)
    before = {k: v.clone() for k, v in na.state_dict().items()}
    na.observe(torch.tensor(float("nan")))
    na.observe(torch.tensor(float("inf")), utility=torch.tensor(float("nan")))
    for key, value in na.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_na_state_dict_round_trip() -> None:
    kwargs = dict(time_constant=5.0, warmup=5)
    source = Noradrenaline(**kwargs)
    for u in _baseline(30):
        source.observe(u, utility=torch.tensor(0.8))
    source.observe(torch.tensor(1.0), utility=torch.tensor(0.0))
    restored, fresh = Noradrenaline(**kwargs), Noradrenaline(**kwargs)
    restored.load_state_dict(source.state_dict())
    assert float(restored.level) == pytest.approx(float(source.level))
    follow = _baseline(5, seed=3) + [torch.tensor(0.6)]
    for u in follow:
        a = float(source.observe(u, utility=torch.tensor(0.5)))
        b = float(restored.observe(u, utility=torch.tensor(0.5)))
        fresh.observe(u, utility=torch.tensor(0.5))
        assert b == pytest.approx(a)
        assert float(restored.tonic) == pytest.approx(float(source.tonic))
        assert float(restored.surprise) == pytest.approx(float(source.surprise))
    assert float(fresh.level) != pytest.approx(float(source.level))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(stats_rate=0.0), "stats_rate"),
        (dict(threshold=float("nan")), "threshold"),
        (dict(threshold=float("inf")), "threshold"),
        (dict(slope=0.0), "slope"),
        (dict(time_constant=-1.0), "time_constant"),
        (dict(min_std=0.0), "min_std"),
        (dict(warmup=-1), "warmup"),
        (dict(plasticity_gain=-0.5), "plasticity_gain"),
        (dict(gain_gain=-0.5), "gain_gain"),
        (dict(exploration_gain=float("nan")), "exploration_gain"),
        (dict(reset_gain=1.5), "reset_gain"),
        (dict(utility_fast_rate=0.0), "utility_fast_rate"),
        (dict(utility_slow_rate=2.0), "utility_slow_rate"),
        (dict(utility_scale=0.0), "utility_scale"),
    ],
)
def test_na_bad_params(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        Noradrenaline(**kwargs)


def test_na_reset_gain_zero_allowed() -> None:
    assert Noradrenaline(reset_gain=0.0).reset_gain == 0.0

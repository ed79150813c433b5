"""modulators/serotonin.py: the consolidation anchor (importances gated by dopamine, the penalty
and its gradient), patience, false-alarm inhibition, checkpoints; the maths checked by hand (pure
torch, no Avalanche)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from avalanche_neuromod.modulators import Acetylcholine, Serotonin


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


def test_5ht_state_dict_round_trip_weights_only(roundtrip) -> None:
    ht, w, b = _consolidated(strength=2.0, level=0.6, max_stiffness=0.8)
    ht.observe_false_alarms(torch.tensor(0.5))
    # mid-experience: a running sum is pending
    w.grad, b.grad = torch.ones_like(w), torch.full_like(b, 2.0)
    ht.accumulate([w, b], dopamine=0.1)
    state = roundtrip(ht.state_dict())
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

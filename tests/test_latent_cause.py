"""Latent-cause inference (avalanche_neuromod.modulators.latent_cause) and its use by ACh."""

from __future__ import annotations

import pytest
import torch

from avalanche_neuromod.modulators import Acetylcholine
from avalanche_neuromod.modulators.latent_cause import LatentCause
from avalanche_neuromod.strategies.reward import gonogo_payoff

GO, NOGO = 1, 0


def _logits(*beliefs: list[float]) -> torch.Tensor:
    """[K, B, 2] logits whose softmax gives P(Go) = belief per trial."""
    p = torch.tensor(beliefs, dtype=torch.float32).clamp(1e-4, 1 - 1e-4)
    return torch.stack([torch.log1p(-p), torch.log(p)], dim=-1)


def test_supervised_evidence_favours_the_context_that_predicts_the_labels():
    latent = LatentCause(lapse=0.05)
    labels = torch.tensor([GO, NOGO, GO, NOGO])
    logits = _logits([0.95, 0.05, 0.95, 0.05], [0.05, 0.95, 0.05, 0.95])  # rule A, rule B
    ll = latent.log_likelihood(logits, labels=labels)
    new = latent.new_log_likelihood(logits, labels=labels)
    assert ll[0] > new > ll[1]
    assert float(new) == pytest.approx(4 * torch.log(torch.tensor(0.5)).item())


def test_reward_evidence_ignores_actions_whose_reward_does_not_depend_on_the_label():
    latent = LatentCause(lapse=0.05)
    payoff = gonogo_payoff()  # miss = correct rejection = 0: a No-Go says nothing
    logits = _logits([0.9, 0.9], [0.1, 0.1])
    nogo = latent.log_likelihood(logits, actions=torch.tensor([NOGO, NOGO]),
                                 rewards=torch.tensor([0.0, 0.0]), payoff=payoff)
    assert torch.allclose(nogo, torch.zeros(2), atol=1e-6)
    hits = latent.log_likelihood(logits, actions=torch.tensor([GO, GO]),
                                 rewards=torch.tensor([1.0, 1.0]), payoff=payoff)
    assert hits[0] > hits[1]  # a hit is likely where Go was expected


def test_choose_re_enters_a_known_context_or_opens_a_new_one():
    latent = LatentCause(concentration=0.1, stickiness=4.0)
    for c in (0, 1):
        latent.enter(c)
    # the trials fit context 0 (not the current one, 1): re-enter it, do not duplicate it
    assert latent.choose(torch.tensor([-0.5, -20.0]), torch.tensor(-5.5), known=[0, 1],
                         current=1) == 0
    # nothing known fits: a new context, numbered after the known ones
    assert latent.choose(torch.tensor([-20.0, -18.0]), torch.tensor(-5.5), known=[0, 1],
                         current=1) == 2
    # ambiguous evidence: the sticky prior keeps the current context (a false alarm)
    assert latent.choose(torch.tensor([-5.0, -5.2]), torch.tensor(-5.5), known=[0, 1],
                         current=1) == 1


def test_the_sequential_test_defers_until_the_evidence_leads_by_the_margin():
    latent = LatentCause(concentration=1.0, stickiness=0.0, margin=3.0, max_steps=3)
    latent.enter(0)
    latent.start([0], 0)
    assert latent.deliberating
    assert latent.accumulate(torch.tensor([-1.0]), torch.tensor(-1.5)) is None  # lead 0.5
    assert latent.accumulate(torch.tensor([-1.0]), torch.tensor(-0.5)) is None
    # a third step decides whatever the lead (max_steps): summed evidence -3 vs -2.5 -> new
    assert latent.accumulate(torch.tensor([-1.0]), torch.tensor(-0.5)) == 1
    assert not latent.deliberating


def test_max_contexts_caps_new_contexts():
    latent = LatentCause(max_contexts=2)
    assert latent.choose(torch.tensor([-20.0, -20.0]), torch.tensor(-1.0), known=[0, 1],
                         current=0) in (0, 1)


@pytest.mark.parametrize("kwargs, needle", [
    ({"concentration": 0.0}, "concentration"), ({"lapse": 1.5}, "lapse"),
    ({"max_steps": 0}, "max_steps"), ({"max_contexts": 0}, "max_contexts"),
    ({"margin": -1.0}, "margin"), ({"tonic_trigger": -0.1}, "tonic_trigger"),
])
def test_bad_parameters_name_the_field(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        LatentCause(**kwargs)


def test_acetylcholine_disjoint_gates_and_enter():
    ach = Acetylcholine(gate_keep=0.25, gate_layout="disjoint",
                        latent_cause={"concentration": 0.5})
    gates = [ach.gate(c, 64) for c in range(4)]
    assert all(int(g.sum()) == 16 for g in gates)
    assert int(sum(gates).max()) == 1  # four contexts of 16 units tile 64 units
    assert ach.enter(2) == 2 and float(ach.latent.visits[2]) == 1.0
    with pytest.raises(ValueError, match="gate_layout"):
        Acetylcholine(gate_layout="stripes")


def test_a_change_is_detected_and_the_known_context_re_entered_not_duplicated():
    """Serial reversal A, B, A, B (uncued): the agent holds two contexts and is back on A."""
    from avalanche_neuromod.casestudy import make_cells, validate_config
    from avalanche_neuromod.cell import train_gonogo_cell

    cfg = validate_config({
        "seeds": [1000], "presets": ["latent-cause"], "learning": ["reward"], "cued": None,
        "stream": {"trials_per_rule": 240, "test_trials": 16},
        "metric": {"window": 20, "criterion": 0.85, "entropy_bin": 20},
        "settings": [{"name": "reversal", "stream": {"rules": ["A", "B", "A", "B"]}}]})
    record = train_gonogo_cell(make_cells(cfg)[0], device=torch.device("cpu"))
    assert record["contexts_held"] == 2
    rows = record["occurrences"]
    assert [r["occurrence"] for r in rows] == [1, 1, 2, 2]
    first = rows[0]["reacquisition"]
    assert first is not None and all(r["reacquisition"] is not None for r in rows)
    assert max(r["reacquisition"] for r in rows[2:]) < first / 4  # savings: re-entered

"""Dopamine: reward prediction error as the third factor of learning.

Mei et al. (2025, arXiv:2501.06762) assign dopamine (DA) the reward prediction error (RPE) that
biases plasticity towards reward-relevant representations: the third factor of three-factor rules
(Frémaux & Gerstner 2016). Following Schultz (1997) and Doya (2002), the phasic DA signal of a
one-step trial is

    delta_i = r_i - V_i,

with ``V_i`` the critic's value of the cue when there is one and otherwise the *tonic* expectation
``V_bar`` (a slow running average of reward, rate ``tonic_rate``):

    V_bar <- V_bar + tonic_rate * (mean_i r_i - V_bar).

In reward-driven learning ``delta_i`` multiplies the eligibility of the chosen action
(actor-critic, dw = delta * grad log pi(a|s)). In supervised learning the reward is correctness
(1/0) or the negative loss, and DA sets a per-sample plasticity factor that grows with the size of
the surprise,

    m_i = clip(1 + plasticity_gain * |delta_i|, 0, max_plasticity),

so that unexpected outcomes are learnt from more than expected ones; ``scope="step"`` applies one
factor per step, ``m = clip(1 + plasticity_gain * |mean_i delta_i|)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .base import check_nonnegative, check_positive, check_rate

# The registry's entry (modulators/registry.py): read as a literal, without importing this file.
SPEC = {
    "name": "dopamine", "tag": "DA", "class": "Dopamine", "order": 1, "driver": "builtin",
    "signals": ("DA/rpe", "DA/abs_rpe", "DA/tonic"),
    "record": {"da": "DA/rpe"},
    "options": {"mode": "auto", "reward": "correct", "scope": "sample"},
    "choices": {"mode": ("auto", "reward", "supervised"), "reward": ("correct", "loss"),
                "scope": ("sample", "step")},
    "terms": (),
}

class Dopamine(nn.Module):
    """Reward prediction error with a tonic expectation, and the plasticity it grants."""

    def __init__(
        self,
        *,
        tonic_rate: float = 0.05,
        plasticity_gain: float = 1.0,
        max_plasticity: float = 4.0,
        initial_expectation: float = 0.0,
    ):
        super().__init__()
        self.tonic_rate = check_rate("tonic_rate", tonic_rate)
        self.plasticity_gain = check_nonnegative("plasticity_gain", plasticity_gain)
        self.max_plasticity = check_positive("max_plasticity", max_plasticity)
        self.register_buffer("expectation", torch.tensor(float(initial_expectation)))
        self.register_buffer("phasic", torch.tensor(0.0))  # mean RPE of the last step
        self.register_buffer("tonic", torch.tensor(0.0))  # slow average of |RPE|

    @torch.no_grad()
    def prediction_error(
        self,
        reward: torch.Tensor,
        expectation: torch.Tensor | None = None,
        *,
        rate: float | None = None,
    ) -> torch.Tensor:
        """Return ``delta_i = r_i - V_i`` and update the tonic expectation and signal levels.

        :param reward: rewards of the trials of this step, shape ``[B]``.
        :param expectation: the critic's values ``V_i`` (``[B]``); ``None`` uses the tonic
            expectation ``V_bar``.
        :param rate: this step's tonic rate instead of ``tonic_rate`` (serotonin's patience
            slows it down).
        """
        tonic_rate = self.tonic_rate if rate is None else float(rate)
        reward = reward.detach().float().reshape(-1)
        if expectation is None:
            base = self.expectation.to(reward.device).expand_as(reward)
        else:
            base = expectation.detach().float().reshape(-1).to(reward.device)
        delta = reward - base
        mean_r, mean_delta = float(reward.mean()), float(delta.mean())
        if not (math.isfinite(mean_r) and math.isfinite(mean_delta)):  # rare: mask bad trials
            finite = torch.isfinite(delta)
            if not bool(finite.any()):
                return torch.zeros_like(delta)
            mean_r, mean_delta = float(reward[finite].mean()), float(delta[finite].mean())
            delta = torch.nan_to_num(delta, nan=0.0, posinf=0.0, neginf=0.0)
        # scalar state in Python floats (cheaper than tensor ops); buffers stay tensors
        expectation, tonic = float(self.expectation), float(self.tonic)
        self.expectation.fill_(expectation + tonic_rate * (mean_r - expectation))
        self.phasic.fill_(mean_delta)
        self.tonic.fill_(tonic + tonic_rate * (abs(mean_delta) - tonic))
        return delta

    def plasticity(
        self, delta: torch.Tensor, *, scope: str = "sample", scale: torch.Tensor | float = 1.0
    ) -> torch.Tensor:
        """Plasticity factor(s) ``m = clip(1 + scale * gain * |delta|, 0, max_plasticity)``.

        ``scope="sample"`` returns one factor per trial; ``scope="step"`` one for the step.
        ``scale`` is how much other modulators amplify (NA) or damp (5-HT) dopamine's effect.
        """
        if scope == "sample":
            size = delta.abs()
        elif scope == "step":
            size = delta.mean().abs()
        else:
            raise ValueError(f"scope must be 'sample' or 'step', got {scope!r}")
        gain = self.plasticity_gain * float(scale)
        # a NaN error is no evidence of surprise (factor 1); an infinite one saturates
        return (1.0 + gain * size).nan_to_num(nan=1.0).clamp(0.0, self.max_plasticity)

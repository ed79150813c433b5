"""Noradrenaline: unexpected uncertainty, and the phasic transient that buys flexibility.

Mei et al. (2025, arXiv:2501.06762) give noradrenaline (NA, from the locus coeruleus) the signal of
*unexpected* uncertainty (Yu & Dayan 2005): an unsignalled change of context. In their Go/No-Go
case study a sub-network detects the contingency change and releases an NA transient that raises
plasticity and exploration, which lets the network leave the old solution. Here the detector is a
surprise test of a prediction-error signal ``u_t`` (|RPE|, loss or output entropy) against its own
tonic running statistics (:class:`~avalanche_neuromod.modulators.base.RunningStats`):

    z_t = (u_t - mu_{t-1}) / max(sigma_{t-1}, min_std)                      (surprise)
    p_t = sigmoid(slope * (z_t - threshold))                                (phasic release)
    n_t = max(decay * n_{t-1}, p_t),   decay = exp(-1 / time_constant)      (NA level in [0, 1])

The release is suppressed for the first ``warmup`` steps, while the statistics are still forming.
``threshold`` is the z-score at which NA declares a change; acetylcholine may set it (Yu & Dayan:
the switch is declared when NA exceeds a level that grows with expected uncertainty; the plugin
passes that factor to :meth:`Noradrenaline.observe`). Effects, each bounded, all ``1`` at rest
(Aston-Jones & Cohen 2005 adaptive gain; Doya 2002, NA as the inverse temperature of action
selection), applied by the plugin as terms of its learning variables
(:func:`~.integration.default_integration`, which reads the gains below from this constructor):

    plasticity  = 1 + plasticity_gain  * n_t
    gain        = 1 + gain_gain        * n_t
    temperature = 1 + exploration_gain * n_t     (policy pi ∝ exp(beta / temperature * logits))
    consolidation = 1 - n_t                      (loosens consolidation anchors during a burst)
    reset       = 1 - reset_gain * p_t           (network reset, Bouret & Sara 2005: the read-out
                                                  shrinks by this factor on the step of a burst)

Tonic NA follows utility, as in adaptive-gain theory (Aston-Jones & Cohen 2005: when short-term
utility falls below long-term utility the LC leaves its phasic mode for a tonic, exploratory
one). With a fast and a slow running average of the reward (or accuracy) ``U_fast``, ``U_slow``:

    tau_t = clip((U_slow - U_fast) / max(|U_slow|, utility_scale), 0, 1)    (tonic NA)

The tonic level drives exploration (``temperature = 1 + exploration_gain * max(n_t, tau_t)``): a
learner that gave up on a rule that no longer pays (and so sees no more surprise) keeps exploring
until reward comes back. Without a utility signal ``tau_t = 0``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .base import RunningStats, check_nonnegative, check_positive, check_rate

# The registry's entry (modulators/registry.py): read as a literal, without importing this file.
# ``effects`` are the terms below that the plugin applies (:data:`EFFECT_TERMS`).
SPEC = {
    "name": "noradrenaline", "tag": "NA", "class": "Noradrenaline", "order": 2,
    "driver": "builtin",
    "signals": ("NA/level", "NA/release", "NA/tonic", "NA/explore"),
    "record": {"na": "NA/level", "na_tonic": "NA/tonic"},
    "options": {"signal": "auto", "effects": ("plasticity", "gain", "exploration", "reset"),
                "supervised_effects": None, "dopamine_boost": 1.0},
    "choices": {"signal": "ERROR_SIGNALS"},
    "terms": (
        ("plasticity", "NA/level", "plasticity_gain", None),
        ("gain", "NA/level", "gain_gain", None),
        ("temperature", "NA/explore", "exploration_gain", None),
        ("reset", "NA/release", "-reset_gain", None),
        ("consolidation", "NA/level", -1.0, None),  # NA loosens 5-HT's consolidation
        ("da_plasticity", "NA/level", "dopamine_boost", "dopamine"),  # modulatory: NA boosts DA
    ),
}
# each of the ``effects`` option's names: the (learning variable, signal) of its term
EFFECT_TERMS = {"plasticity": ("plasticity", "NA/level"), "gain": ("gain", "NA/level"),
                "exploration": ("temperature", "NA/explore"), "reset": ("reset", "NA/release")}

class Noradrenaline(nn.Module):
    """Surprise detector with a decaying phasic NA level and its effects on learning."""

    def __init__(
        self,
        *,
        stats_rate: float = 0.05,
        threshold: float = 3.0,
        slope: float = 2.0,
        time_constant: float = 20.0,
        min_std: float = 0.05,
        warmup: int = 10,
        plasticity_gain: float = 2.0,
        gain_gain: float = 0.25,
        exploration_gain: float = 4.0,
        reset_gain: float = 0.5,
        utility_fast_rate: float = 0.2,
        utility_slow_rate: float = 0.01,
        utility_scale: float = 0.1,
    ):
        super().__init__()
        self.stats = RunningStats(rate=check_rate("stats_rate", stats_rate))
        self.threshold = float(threshold)
        if not math.isfinite(self.threshold):
            raise ValueError(f"threshold must be finite, got {threshold}")
        self.slope = check_positive("slope", slope)
        self.time_constant = check_positive("time_constant", time_constant)
        self.min_std = check_positive("min_std", min_std)
        if int(warmup) < 0:
            raise ValueError(f"warmup must be >= 0, got {warmup}")
        self.warmup = int(warmup)
        self.plasticity_gain = check_nonnegative("plasticity_gain", plasticity_gain)
        self.gain_gain = check_nonnegative("gain_gain", gain_gain)
        self.exploration_gain = check_nonnegative("exploration_gain", exploration_gain)
        self.reset_gain = check_rate("reset_gain", reset_gain, allow_zero=True)
        self.utility_fast = RunningStats(rate=check_rate("utility_fast_rate", utility_fast_rate))
        self.utility_slow = RunningStats(rate=check_rate("utility_slow_rate", utility_slow_rate))
        self.utility_scale = check_positive("utility_scale", utility_scale)
        self.register_buffer("level", torch.tensor(0.0))  # phasic NA level n_t
        self.register_buffer("tonic", torch.tensor(0.0))  # tonic NA level tau_t
        self.register_buffer("surprise", torch.tensor(0.0))  # last z_t
        self.register_buffer("release", torch.tensor(0.0))  # last phasic release p_t

    @property
    def decay(self) -> float:
        return math.exp(-1.0 / self.time_constant)

    @torch.no_grad()
    def observe(
        self,
        signal: torch.Tensor,
        *,
        utility: torch.Tensor | None = None,
        threshold_factor: float = 1.0,
    ) -> torch.Tensor:
        """Take this step's prediction-error signal ``u_t`` (a scalar) and return ``n_t``.

        :param utility: this step's mean reward or accuracy (drives tonic NA).
        :param threshold_factor: this step's factor on ``threshold`` (the integration's
            ``na_threshold``: acetylcholine raises it with expected uncertainty).
        """
        if utility is not None:
            self._observe_utility(utility)
        u = float(signal.detach().float().reshape(-1).mean())
        if not math.isfinite(u):
            return self.level  # a non-finite signal carries no evidence; keep the state
        theta = self.threshold * float(threshold_factor)
        stats = self.stats
        z = release = 0.0
        if int(stats.count) >= max(self.warmup, 1):
            z = (u - float(stats.mean)) / max(math.sqrt(max(float(stats.var), 0.0)), self.min_std)
            x = self.slope * (z - theta)
            release = 1.0 / (1.0 + math.exp(-x)) if x > -60.0 else 0.0
        self.surprise.fill_(z)
        self.release.fill_(release)
        self.level.fill_(min(max(self.decay * float(self.level), release), 1.0))
        stats.update(u)
        return self.level

    @torch.no_grad()
    def _observe_utility(self, utility: torch.Tensor) -> None:
        value = float(utility.detach().float().reshape(-1).mean())
        if not math.isfinite(value):
            return
        self.utility_fast.update(value)
        self.utility_slow.update(value)
        if int(self.utility_slow.count) < max(self.warmup, 1):
            return
        slow, fast = float(self.utility_slow.mean), float(self.utility_fast.mean)
        deficit = (slow - fast) / max(abs(slow), self.utility_scale)
        self.tonic.fill_(min(max(deficit, 0.0), 1.0))

    @torch.no_grad()
    def resolve(self) -> None:
        """The change is explained (acetylcholine re-entered a known context): the unexpected
        uncertainty is gone, so the phasic level and its release end now."""
        self.level.zero_()
        self.release.zero_()


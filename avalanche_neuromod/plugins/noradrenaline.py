"""NoradrenalinePlugin: surprise detection and a phasic transient of flexibility."""

from __future__ import annotations

from .neuromodulation import EFFECTS, NeuromodulationPlugin


class NoradrenalinePlugin(NeuromodulationPlugin):
    """Noradrenaline for any Avalanche strategy (Mei et al. 2025, arXiv:2501.06762).

    Each training step feeds a prediction-error signal ``u_t`` to
    :class:`~avalanche_neuromod.modulators.Noradrenaline`, which detects unexpected uncertainty
    (``z_t = (u_t - mu) / sigma`` against its running statistics) and answers with a phasic NA
    level ``n_t = max(decay * n_{t-1}, sigmoid(slope (z_t - threshold)))``. The level then:

    - raises **plasticity**: the optimizer's update is scaled by ``1 + plasticity_gain * n_t``;
    - raises the **gain** of hidden layers while training: ``z = (W x + b) * (1 + gain_gain n_t)``;
    - raises **exploration** in strategies that sample actions (they expose ``temperature``):
      ``pi ∝ exp(beta * logits / (1 + exploration_gain * max(n_t, tau_t)))``, ``tau_t`` the tonic
      level that follows lost utility;
    - **resets** the read-out on a burst (Bouret & Sara 2005's network reset): its weights shrink
      by ``1 - reset_gain * p_t``, loosening the old solution's confidence;

    and decays back to rest (``time_constant`` steps) once the surprise has passed. It is
    :class:`NeuromodulationPlugin` with noradrenaline alone.

    :param signal: ``"rpe"`` (|reward - value|, reward-driven strategies), ``"loss"``
        (cross-entropy), ``"entropy"`` (output entropy, as NGM-SGD) or ``"auto"`` (rpe when the
        strategy is reward-driven, else loss).
    :param effects: which of ``plasticity``, ``gain``, ``exploration``, ``reset`` NA drives.
    :param modulator_kwargs: parameters of :class:`~avalanche_neuromod.modulators.Noradrenaline`.
    """

    def __init__(
        self,
        *,
        signal: str = "auto",
        effects: tuple[str, ...] | list[str] = EFFECTS,
        record_every: int = 1,
        **modulator_kwargs,
    ):
        super().__init__(noradrenaline=dict(signal=signal, effects=tuple(effects),
                                             **modulator_kwargs),
                         record_every=record_every)

"""NoradrenalinePlugin: surprise detection and a phasic transient of flexibility."""

from __future__ import annotations

import torch

from ..modulators import Noradrenaline
from ._glue import (
    GainHooks,
    UpdateGate,
    is_reward_driven,
    output_entropy,
    per_sample_loss,
    readout_layers,
    reward_prediction_error,
)
from .base import ModulatorPlugin

EFFECTS = ("plasticity", "gain", "exploration", "reset")
SIGNALS = ("auto", "rpe", "loss", "entropy")


class NoradrenalinePlugin(ModulatorPlugin):
    """Noradrenaline for any Avalanche strategy (Mei et al. 2025, arXiv:2501.06762).

    Each training step feeds a prediction-error signal ``u_t`` to
    :class:`~avalanche_neuromod.modulators.Noradrenaline`, which detects unexpected uncertainty
    (``z_t = (u_t - mu) / sigma`` against its running statistics) and answers with a phasic NA
    level ``n_t = max(decay * n_{t-1}, sigmoid(slope (z_t - threshold)))``. The level then:

    - raises **plasticity**: the optimizer's update is scaled by ``1 + plasticity_gain * n_t``;
    - raises the **gain** of hidden layers while training: ``z = (W x + b) * (1 + gain_gain n_t)``;
    - raises **exploration** in strategies that sample actions (they expose ``temperature``):
      ``pi ∝ exp(beta * logits / (1 + exploration_gain * n_t))``;
    - **resets** the read-out on a burst (Bouret & Sara 2005's network reset): its weights shrink
      by ``1 - reset_gain * p_t``, loosening the old solution's confidence;

    and decays back to rest (``time_constant`` steps) once the surprise has passed.

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
        super().__init__(record_every=record_every)
        if signal not in SIGNALS:
            raise ValueError(f"signal must be one of {', '.join(SIGNALS)}, got {signal!r}")
        unknown = set(effects) - set(EFFECTS)
        if unknown:
            raise ValueError(f"effects: unknown effect(s) {sorted(unknown)}; choose from "
                             f"{', '.join(EFFECTS)}")
        self.signal = signal
        self.effects = tuple(effects)
        self.modulator = Noradrenaline(**modulator_kwargs)
        self.threshold: float | None = None  # set by acetylcholine when present
        self._gate = UpdateGate()
        self._gain = GainHooks()
        self._gain_value = torch.ones(())

    def _signal_tensors(self) -> dict[str, torch.Tensor]:
        na = self.modulator
        return {"NA/level": na.level, "NA/surprise": na.surprise, "NA/tonic": na.tonic,
                "NA/plasticity": na.plasticity(), "NA/temperature": na.temperature()}

    def _input_signal(self, strategy) -> torch.Tensor:
        kind = self.signal
        if kind == "auto":
            kind = "rpe" if is_reward_driven(strategy) else "loss"
        if kind == "rpe":
            return reward_prediction_error(strategy).abs().mean()
        if kind == "entropy":
            return output_entropy(strategy.mb_output).mean()
        with torch.no_grad():
            return per_sample_loss(strategy).mean()

    @staticmethod
    def _utility(strategy) -> torch.Tensor:
        if is_reward_driven(strategy):
            return strategy.mb_reward.detach().float().mean()
        with torch.no_grad():
            return (strategy.mb_output.argmax(-1) == strategy.mb_y).float().mean()

    def before_training_exp(self, strategy, **kwargs):
        self.modulator.to(strategy.device)
        self._gain_value = self._gain_value.to(strategy.device)
        if "gain" in self.effects:
            self._gain.attach(strategy.model, self._gain_value)

    def before_forward(self, strategy, **kwargs):
        # effects of the current NA level on this step's forward pass
        if "gain" in self.effects:
            self._gain_value.copy_(self.modulator.gain())
        if "exploration" in self.effects and hasattr(strategy, "temperature"):
            strategy.temperature = self.modulator.temperature()

    def after_forward(self, strategy, **kwargs):
        self.modulator.observe(self._input_signal(strategy), utility=self._utility(strategy),
                               threshold=self.threshold)
        self._record()

    def before_update(self, strategy, **kwargs):
        if "plasticity" in self.effects:
            self._gate.snapshot(strategy.model)

    def after_update(self, strategy, **kwargs):
        if "plasticity" in self.effects:
            self._gate.apply(self.modulator.plasticity())
        if "reset" in self.effects and float(self.modulator.release) > 0.01:
            factor = self.modulator.reset()
            with torch.no_grad():
                for layer in readout_layers(strategy.model):
                    for p in layer.parameters():
                        p.mul_(factor.to(p.device, p.dtype))

    def after_training(self, strategy, **kwargs):
        if "exploration" in self.effects and hasattr(strategy, "temperature"):
            strategy.temperature = 1.0
        self._gain_value.fill_(1.0)

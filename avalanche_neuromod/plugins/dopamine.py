"""DopaminePlugin: the reward prediction error as the third factor of learning."""

from __future__ import annotations

import torch

from ..modulators import Dopamine
from ._glue import UpdateGate, is_reward_driven, loss_normaliser, per_sample_loss
from .base import ModulatorPlugin


class DopaminePlugin(ModulatorPlugin):
    """Dopamine for any Avalanche strategy (Mei et al. 2025, arXiv:2501.06762; Schultz 1997).

    Computes the reward prediction error ``delta_i = r_i - V_i`` of every trial of a training step
    (:class:`~avalanche_neuromod.modulators.Dopamine`) and makes it the third factor of learning:

    - **reward-driven** strategies (those that set ``mb_reward``; e.g.
      :class:`~avalanche_neuromod.strategies.RewardDrivenStrategy`): ``V_i`` is the critic's value
      (``mb_value``) or the tonic expectation, and ``delta_i`` replaces the raw reward as the
      per-trial factor of the actor's update, ``dw = delta_i * grad log pi(a_i|s_i)``
      (actor-critic);
    - **supervised** strategies: ``r_i`` is correctness (``reward="correct"``) or the negative loss
      (``reward="loss"``), ``V`` the tonic expectation, and each sample's loss is weighted by its
      plasticity ``m_i = clip(1 + plasticity_gain |delta_i|, 0, max_plasticity)``
      (``scope="sample"``), or the whole update by ``m = clip(1 + plasticity_gain |mean delta|)``
      (``scope="step"``, for criteria other than cross-entropy).

    :param mode: ``"auto"`` (reward-driven when the strategy provides rewards), ``"reward"`` or
        ``"supervised"``.
    :param reward: supervised reward, ``"correct"`` or ``"loss"``.
    :param scope: ``"sample"`` or ``"step"`` (supervised plasticity).
    :param tonic_rate: rate of the tonic reward expectation.
    :param plasticity_gain: how much plasticity grows with ``|delta|``.
    :param max_plasticity: upper bound of the plasticity factor.
    """

    def __init__(
        self,
        *,
        mode: str = "auto",
        reward: str = "correct",
        scope: str = "sample",
        tonic_rate: float = 0.05,
        plasticity_gain: float = 1.0,
        max_plasticity: float = 4.0,
        record_every: int = 1,
    ):
        super().__init__(record_every=record_every)
        if mode not in ("auto", "reward", "supervised"):
            raise ValueError(f"mode must be 'auto', 'reward' or 'supervised', got {mode!r}")
        if reward not in ("correct", "loss"):
            raise ValueError(f"reward must be 'correct' or 'loss', got {reward!r}")
        if scope not in ("sample", "step"):
            raise ValueError(f"scope must be 'sample' or 'step', got {scope!r}")
        self.mode, self.reward, self.scope = mode, reward, scope
        self.modulator = Dopamine(tonic_rate=tonic_rate, plasticity_gain=plasticity_gain,
                                  max_plasticity=max_plasticity)
        self.delta: torch.Tensor | None = None  # per-trial RPE of the last step
        self.plasticity: torch.Tensor | None = None  # per-sample (or per-step) factor
        self._gate = UpdateGate()

    def _signal_tensors(self) -> dict[str, torch.Tensor]:
        m = self.plasticity.mean() if self.plasticity is not None else torch.tensor(1.0)
        return {"DA/rpe": self.modulator.phasic, "DA/expectation": self.modulator.expectation,
                "DA/tonic": self.modulator.tonic, "DA/plasticity": m}

    def _reward_mode(self, strategy) -> bool:
        if self.mode == "auto":
            return is_reward_driven(strategy)
        if self.mode == "reward" and not is_reward_driven(strategy):
            raise RuntimeError("DopaminePlugin(mode='reward') needs a strategy that sets mb_reward")
        return self.mode == "reward"

    def before_training_exp(self, strategy, **kwargs):
        self.modulator.to(strategy.device)

    def after_forward(self, strategy, **kwargs):
        if self._reward_mode(strategy):
            value = getattr(strategy, "mb_value", None)
            self.delta = self.modulator.prediction_error(strategy.mb_reward, value)
            strategy.mb_third_factor = self.delta
            self.plasticity = None
        else:
            with torch.no_grad():
                if self.reward == "correct":
                    r = (strategy.mb_output.argmax(-1) == strategy.mb_y).float()
                else:
                    r = -per_sample_loss(strategy)
            self.delta = self.modulator.prediction_error(r)
            self.plasticity = self.modulator.plasticity(self.delta, scope=self.scope)
        self._record()

    def before_backward(self, strategy, **kwargs):
        if self.plasticity is None or self.scope != "sample":
            return
        # Reweight each sample's loss by its plasticity: adds sum_i (m_i - 1) l_i / N to the loss,
        # N the criterion's own normaliser, so the criterion's mean becomes the mean of m_i l_i and
        # terms other plugins added (EWC, LwF, ...) are kept as they are.
        losses = per_sample_loss(strategy)
        extra = ((self.plasticity - 1.0) * losses).sum() / loss_normaliser(strategy)
        strategy.loss = strategy.loss + extra

    def before_update(self, strategy, **kwargs):
        if self.plasticity is not None and self.scope == "step":
            self._gate.snapshot(strategy.model)

    def after_update(self, strategy, **kwargs):
        if self.plasticity is not None and self.scope == "step":
            self._gate.apply(self.plasticity)

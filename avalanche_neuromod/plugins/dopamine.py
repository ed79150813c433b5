"""DopaminePlugin: the reward prediction error as the third factor of learning."""

from __future__ import annotations

from .neuromodulation import NeuromodulationPlugin


class DopaminePlugin(NeuromodulationPlugin):
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

    It is :class:`NeuromodulationPlugin` with dopamine alone.

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
        super().__init__(
            dopamine=dict(mode=mode, reward=reward, scope=scope, tonic_rate=tonic_rate,
                          plasticity_gain=plasticity_gain, max_plasticity=max_plasticity),
            record_every=record_every)

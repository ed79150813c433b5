"""SerotoninPlugin: the weight of prior knowledge, patience and behavioural inhibition."""

from __future__ import annotations

from .neuromodulation import NeuromodulationPlugin


class SerotoninPlugin(NeuromodulationPlugin):
    """Serotonin for any Avalanche strategy (Mei et al. 2025, arXiv:2501.06762).

    :class:`~avalanche_neuromod.modulators.Serotonin` keeps a tonic level ``s_t`` that builds up
    while the world is stable and anchors what was learnt: after each experience the weights
    become the anchor ``w*`` and their importances grow by the DA-gated squared gradients of the
    experience; later learning pays ``strength * s_t * c_t / 2 * sum_i Omega_i (w_i - w*_i)^2``
    (``c_t`` the consolidation factor NA and ACh set in :class:`NeuromodulationPlugin`). In
    reward-driven strategies it also learns a No-Go bias from false alarms (behavioural
    inhibition) and, with dopamine, slows DA's tonic expectation (patience) and damps DA's
    plasticity (opponent, ``opponent``).

    It is :class:`NeuromodulationPlugin` with serotonin alone.
    """

    def __init__(
        self,
        *,
        opponent: float = 0.5,
        inhibition: bool = True,
        record_every: int = 1,
        **modulator_kwargs,
    ):
        super().__init__(serotonin=dict(opponent=opponent, inhibition=inhibition,
                                        **modulator_kwargs),
                         record_every=record_every)

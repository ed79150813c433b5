"""AcetylcholinePlugin: expected uncertainty, attention gates and encoding."""

from __future__ import annotations

from .neuromodulation import NeuromodulationPlugin


class AcetylcholinePlugin(NeuromodulationPlugin):
    """Acetylcholine for any Avalanche strategy (Mei et al. 2025, arXiv:2501.06762).

    :class:`~avalanche_neuromod.modulators.Acetylcholine` tracks expected uncertainty, the running
    variance of the prediction error inside the current context, ``a_t = sd_c / (sd_c + scale)``.
    Its effects:

    - **attention**: each context owns a fixed random subset of every hidden layer's units
      (``gate_keep``); the other units are damped by ``1 - gate_strength`` (Masse et al. 2018),
      in training and evaluation, so what one context uses is protected from the next. The
      context is the task label in cued streams and an index that noradrenaline's change
      detections advance otherwise (``context="auto"``);
    - **attention over outputs** (``outputs="attended"``, ``readout="precision"``, for
      class-incremental learning): samples of labels new in an experience compete only among the
      new outputs, and at test time each output is read as ``(z_k - mu_k) / sqrt(v_k + eps)``
      with running statistics of its own-class logit
      (:class:`~avalanche_neuromod.modulators.output_attention.OutputAttention`);
    - **encoding**: plasticity ``1 + encoding_gain * a_t`` (high ACh favours encoding new input);
    - with noradrenaline (in :class:`NeuromodulationPlugin`): NA's threshold rises with ACh,
      ``threshold * (1 + threshold_gain * a / (0.5 + a))`` (Yu & Dayan 2005); with serotonin,
      consolidation is ``1 - a_t`` (low ACh favours consolidation).

    It is :class:`NeuromodulationPlugin` with acetylcholine alone.
    """

    def __init__(
        self,
        *,
        signal: str = "auto",
        gating: bool = True,
        context: str = "auto",
        record_every: int = 1,
        **modulator_kwargs,
    ):
        super().__init__(acetylcholine=dict(signal=signal, gating=gating, context=context,
                                            **modulator_kwargs),
                         record_every=record_every)

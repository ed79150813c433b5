"""Forward modulator signals to Avalanche's evaluation system (and so to every logger)."""

from __future__ import annotations

import torch
from avalanche.evaluation.metric_definitions import PluginMetric
from avalanche.evaluation.metric_results import MetricValue
from avalanche.evaluation.metric_utils import stream_type

from .base import ModulatorPlugin


class ModulatorSignals(PluginMetric[dict]):
    """Emit ``Neuromod/<signal>`` after every ``every`` training iterations.

    Reads the ``signals`` of every :class:`ModulatorPlugin` among the strategy's plugins, so the
    modulators' dynamics (DA prediction error, NA level, plasticity, ...) reach W&B, TensorBoard
    or text loggers like any other metric (x = training iteration).
    """

    def __init__(self, *, every: int = 1):
        super().__init__()
        if int(every) < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.every = int(every)
        self._last: dict = {}

    def result(self) -> dict:
        return dict(self._last)

    def reset(self) -> None:
        self._last = {}

    def after_training_iteration(self, strategy):
        step = strategy.clock.train_iterations
        if step % self.every:
            return None
        values = {}
        for plugin in strategy.plugins:
            if isinstance(plugin, ModulatorPlugin):
                values.update(plugin.signals)
        self._last = values
        return [MetricValue(self, f"Neuromod/{name}", value, step)
                for name, value in sorted(values.items())]

    def __str__(self):
        return "Neuromod"


class ContextRecall(PluginMetric[dict]):
    """How acetylcholine's recall without cues (``recall: familiarity`` or ``entropy``) read each
    eval experience.

    After each evaluation experience, for the samples a plugin recalled a context for:

    - ``ACh_RecallContext/eval_phase/<stream>_stream/ExpNNN``: the context most of them were
      read through;
    - ``ACh_RecallPurity/eval_phase/<stream>_stream/ExpNNN``: the share read through it (1 when
      the experience is recalled as one context, ``1/K`` at worst).

    Named like Avalanche's eval metrics, so loggers put them on the eval axis (W&B: trained
    experiences) beside ``Top1_Acc_Exp``.

    On a domain-incremental stream whose experiences NA detected one by one, experience ``j``
    should be recalled as context ``j`` with purity near 1. Nothing is emitted for experiences
    without recall (task labels, ``recall: current``, a single known context).
    """

    def __init__(self):
        super().__init__()
        self._counts: torch.Tensor | None = None
        self._last: dict = {}

    def result(self) -> dict:
        return dict(self._last)

    def reset(self) -> None:
        self._counts, self._last = None, {}

    def before_eval_exp(self, strategy):
        self._counts = None

    def after_eval_iteration(self, strategy):
        for plugin in strategy.plugins:
            recalled = getattr(plugin, "recalled", None)
            if isinstance(plugin, ModulatorPlugin) and recalled is not None:
                before = self._counts
                counts = torch.bincount(recalled.reshape(-1).cpu(),
                                        minlength=0 if before is None else len(before))
                if before is not None:
                    counts[:len(before)] += before
                self._counts = counts
        return None

    def after_eval_exp(self, strategy):
        if self._counts is None or int(self._counts.sum()) == 0:
            return None
        context = int(self._counts.argmax())
        purity = float(self._counts[context]) / float(self._counts.sum())
        exp = strategy.experience.current_experience
        stream = stream_type(strategy.experience)
        suffix = f"eval_phase/{stream}_stream/Exp{exp:03d}"
        self._last = {"context": context, "purity": purity}
        step = strategy.clock.train_iterations
        return [MetricValue(self, f"ACh_RecallContext/{suffix}", context, step),
                MetricValue(self, f"ACh_RecallPurity/{suffix}", purity, step)]

    def __str__(self):
        return "ContextRecall"


def modulator_signal_metrics(*, every: int = 1) -> list[PluginMetric]:
    """Metrics that log every modulator signal, for ``EvaluationPlugin(...)``: the training-time
    signals (:class:`ModulatorSignals`) and ACh's recall of eval experiences
    (:class:`ContextRecall`)."""
    return [ModulatorSignals(every=every), ContextRecall()]

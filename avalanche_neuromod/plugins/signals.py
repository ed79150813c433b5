"""Forward modulator signals to Avalanche's evaluation system (and so to every logger)."""

from __future__ import annotations

from avalanche.evaluation.metric_definitions import PluginMetric
from avalanche.evaluation.metric_results import MetricValue

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


def modulator_signal_metrics(*, every: int = 1) -> list[PluginMetric]:
    """Metrics that log every modulator signal, for ``EvaluationPlugin(...)``."""
    return [ModulatorSignals(every=every)]

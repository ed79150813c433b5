"""Common base of the neuromodulation plugins: observable signals."""

from __future__ import annotations

import torch
from avalanche.core import SupervisedPlugin


class ModulatorPlugin(SupervisedPlugin):
    """A plugin that owns one or more modulators and exposes their signals.

    ``signals`` holds the latest value of each signal (floats, read on demand); ``trace`` keeps one
    dict per training step when ``record_every`` > 0 (every ``record_every`` steps). Names are
    ``"<modulator>/<signal>"``, e.g. ``"DA/rpe"`` or ``"NA/level"``; a metric (see
    :func:`avalanche_neuromod.plugins.modulator_signal_metrics`) forwards them to loggers as
    ``Neuromod/<name>``.
    """

    def __init__(self, *, record_every: int = 1):
        super().__init__()
        if int(record_every) < 0:
            raise ValueError(f"record_every must be >= 0, got {record_every}")
        self.record_every = int(record_every)
        self.trace: list[dict[str, float]] = []
        self._steps = 0

    def _signal_tensors(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    @property
    def signals(self) -> dict[str, float]:
        return {name: float(value) for name, value in self._signal_tensors().items()}

    def _record(self) -> None:
        self._steps += 1
        if self.record_every and self._steps % self.record_every == 0:
            self.trace.append(self.signals)

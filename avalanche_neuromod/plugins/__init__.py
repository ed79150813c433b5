"""Avalanche plugins: thin glue from the training loop's hooks to the modulators."""

from .base import ModulatorPlugin
from .dopamine import DopaminePlugin
from .noradrenaline import NoradrenalinePlugin
from .signals import ModulatorSignals, modulator_signal_metrics

__all__ = ["ModulatorPlugin", "DopaminePlugin", "NoradrenalinePlugin", "ModulatorSignals",
           "modulator_signal_metrics"]

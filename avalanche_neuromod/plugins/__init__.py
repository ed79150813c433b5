"""Avalanche plugins: thin glue from the training loop's hooks to the modulators."""

from .acetylcholine import AcetylcholinePlugin
from .base import ModulatorPlugin
from .dopamine import DopaminePlugin
from .neuromodulation import ModulatorConfigError, NeuromodulationPlugin
from .noradrenaline import NoradrenalinePlugin
from .serotonin import SerotoninPlugin
from .signals import ModulatorSignals, modulator_signal_metrics

__all__ = ["AcetylcholinePlugin", "DopaminePlugin", "ModulatorConfigError", "ModulatorPlugin",
           "ModulatorSignals", "NeuromodulationPlugin", "NoradrenalinePlugin", "SerotoninPlugin",
           "modulator_signal_metrics"]

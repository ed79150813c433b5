"""Avalanche plugins: thin glue from the training loop's hooks to the modulators."""

from .acetylcholine import AcetylcholinePlugin
from .base import ModulatorPlugin
from .dopamine import DopaminePlugin
from .guard import GuardMetric, NumericalFaultError, NumericalGuardPlugin, install_guard
from .neuromodulation import ModulatorConfigError, NeuromodulationPlugin
from .noradrenaline import NoradrenalinePlugin
from .serotonin import SerotoninPlugin
from .signals import ContextRecall, ModulatorSignals, modulator_signal_metrics

__all__ = ["AcetylcholinePlugin", "ContextRecall", "DopaminePlugin", "GuardMetric",
           "ModulatorConfigError", "ModulatorPlugin", "ModulatorSignals", "NeuromodulationPlugin",
           "NoradrenalinePlugin", "NumericalFaultError", "NumericalGuardPlugin", "SerotoninPlugin",
           "install_guard", "modulator_signal_metrics"]

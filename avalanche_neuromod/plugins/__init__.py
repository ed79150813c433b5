"""Avalanche plugins: thin glue from the training loop's hooks to the modulators.

Exports are imported on first use (:mod:`avalanche_neuromod._lazy`).
"""

from .._lazy import lazy_exports

_EXPORTS = {"AcetylcholinePlugin": ".acetylcholine", "ModulatorPlugin": ".base",
            "DopaminePlugin": ".dopamine", "GuardMetric": ".guard",
            "NumericalFaultError": ".guard", "NumericalGuardPlugin": ".guard",
            "install_guard": ".guard", "ModulatorConfigError": ".neuromodulation",
            "NeuromodulationPlugin": ".neuromodulation", "NoradrenalinePlugin": ".noradrenaline",
            "SerotoninPlugin": ".serotonin", "ContextRecall": ".signals",
            "ModulatorSignals": ".signals", "modulator_signal_metrics": ".signals"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)

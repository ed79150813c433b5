"""Training strategies: reward-driven actor-critic and preset-configured neuromodulation.

Exports are imported on first use (:mod:`avalanche_neuromod._lazy`): presets validate without
torch or Avalanche.
"""

from .._lazy import lazy_exports

_EXPORTS = {"NeuromodulatedStrategy": ".neuromodulated", "RewardDrivenStrategy": ".reward",
            "gonogo_payoff": ".reward", "PresetError": ".presets", "build_plugins": ".presets",
            "list_presets": ".presets", "load_preset": ".presets"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)

"""Training strategies: reward-driven actor-critic and preset-configured neuromodulation."""

from .neuromodulated import NeuromodulatedStrategy
from .presets import PresetError, build_plugins, list_presets, load_preset
from .reward import RewardDrivenStrategy, gonogo_payoff

__all__ = ["NeuromodulatedStrategy", "RewardDrivenStrategy", "gonogo_payoff", "PresetError",
           "build_plugins", "list_presets", "load_preset"]

"""Pure-torch neuromodulators (no Avalanche import): the maths, tested alone."""

from .base import RunningStats
from .dopamine import Dopamine
from .noradrenaline import Noradrenaline

__all__ = ["RunningStats", "Dopamine", "Noradrenaline"]

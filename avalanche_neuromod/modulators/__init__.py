"""Pure-torch neuromodulators (no Avalanche import): the maths, tested alone."""

from .acetylcholine import Acetylcholine
from .base import RunningStats
from .dopamine import Dopamine
from .integration import Integrator, default_integration
from .noradrenaline import Noradrenaline
from .serotonin import Serotonin

__all__ = ["Acetylcholine", "Dopamine", "Integrator", "Noradrenaline", "RunningStats",
           "Serotonin", "default_integration"]

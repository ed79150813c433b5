"""Pure-torch neuromodulators (no Avalanche import): the maths, tested alone.

Exports are imported on first use (:mod:`avalanche_neuromod._lazy`).
"""

from .._lazy import lazy_exports

_EXPORTS = {"Acetylcholine": ".acetylcholine", "RunningStats": ".base", "Dopamine": ".dopamine",
            "Integrator": ".integration", "default_integration": ".integration",
            "Noradrenaline": ".noradrenaline", "Serotonin": ".serotonin"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)

"""Loggers for avalanche-neuromod experiments (imported on first use: wandb is heavy)."""

from .._lazy import lazy_exports

_EXPORTS = {"WandBLogger": ".wandb_logger", "resolve_mode": ".wandb_logger"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)

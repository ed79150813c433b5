"""Loggers for avalanche-neuromod experiments."""

from avalanche_neuromod.logging.wandb_logger import WandBLogger, resolve_mode

__all__ = ["WandBLogger", "resolve_mode"]

"""Shared building blocks of the modulators: two time scales and bounded signals.

Every modulator in Mei et al. (2025, arXiv:2501.06762) acts at a *phasic* (fast, this step) and a
*tonic* (slow, running) time scale. :class:`RunningStats` keeps the tonic mean and variance of a
signal with an exponential moving average,

    mu_t     = mu_{t-1} + alpha (u_t - mu_{t-1})
    sigma2_t = (1 - alpha) (sigma2_{t-1} + alpha (u_t - mu_{t-1})^2)

(West 1979's incremental form), which the modulators use as their expectation and their measure
of expected variability.

Modulators are ``torch.nn.Module`` s with buffers only: no trainable parameters, their state moves
with ``.to(device)`` and is saved by ``state_dict()``.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def check_rate(name: str, value: float, *, allow_zero: bool = False) -> float:
    """Validate a rate in (0, 1] (or [0, 1] when ``allow_zero``); raise ValueError naming it."""
    value = float(value)
    low_ok = value >= 0.0 if allow_zero else value > 0.0
    if not (low_ok and value <= 1.0) or math.isnan(value):
        bound = "[0, 1]" if allow_zero else "(0, 1]"
        raise ValueError(f"{name} must be in {bound}, got {value}")
    return value


def check_nonnegative(name: str, value: float) -> float:
    """Validate a finite value >= 0; raise ValueError naming it."""
    value = float(value)
    if not math.isfinite(value) or value < 0.0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return value


def check_positive(name: str, value: float) -> float:
    """Validate a finite value > 0; raise ValueError naming it."""
    value = float(value)
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


class RunningStats(nn.Module):
    """Exponential moving mean and variance of a scalar signal (the tonic statistics)."""

    def __init__(self, *, rate: float = 0.05, initial_mean: float = 0.0):
        super().__init__()
        self.rate = check_rate("rate", rate)
        self.register_buffer("mean", torch.tensor(float(initial_mean)))
        self.register_buffer("var", torch.tensor(0.0))
        self.register_buffer("count", torch.tensor(0, dtype=torch.long))

    @torch.no_grad()
    def update(self, value: torch.Tensor | float) -> None:
        """Fold one scalar observation into the running statistics."""
        # scalar bookkeeping in Python floats: a handful of tensor ops per step would cost more
        # than the arithmetic (the buffers stay tensors for state_dict and .to(device))
        x = float(value)
        if not math.isfinite(x):
            return
        if int(self.count) == 0:
            mean, var = x, 0.0
        else:
            mean, var = float(self.mean), float(self.var)
            diff = x - mean
            mean += self.rate * diff
            var = (1.0 - self.rate) * (var + self.rate * diff * diff)
        big = torch.finfo(self.var.dtype).max
        if not (abs(mean) <= big and 0.0 <= var <= big):
            return  # an observation too large to fold in: the statistics stay finite
        self.mean.fill_(mean)
        self.var.fill_(var)
        self.count.add_(1)

    @property
    def std(self) -> torch.Tensor:
        return self.var.clamp_min(0.0).sqrt()

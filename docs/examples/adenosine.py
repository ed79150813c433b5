"""A toy fifth modulator, added in one file (docs/extending.md): adenosine as fatigue.

Not a claim about adenosine: a worked example of the registry. Its level follows the step's error
signal ``u_t`` (the loss, or |RPE| when learning from reward) with a running average,

    a_t = clip((1 - rate) * a_{t-1} + rate * u_t, 0, 1),

and, through the plugin's integration, damps plasticity while it is high,

    plasticity <- plasticity * (1 - damping * a_t).

The class is pure torch; ``SPEC`` declares it to the registry
(:mod:`avalanche_neuromod.modulators.registry`); ``AdenosinePlugin`` is its plugin wrapper.
Inside the package the same file would sit in ``avalanche_neuromod/modulators/`` and be found by
the registry without :func:`register_modulator`.
"""

from __future__ import annotations

import torch
from torch import nn

from avalanche_neuromod.modulators.base import check_rate
from avalanche_neuromod.modulators.registry import register_modulator
from avalanche_neuromod.plugins import NeuromodulationPlugin

SPEC = {
    "name": "adenosine", "tag": "ADO", "class": "Adenosine", "order": 5, "driver": "error",
    "signals": ("ADO/level",),
    "record": {"ado": "ADO/level"},
    "options": {"signal": "auto"},
    "choices": {"signal": "ERROR_SIGNALS"},
    "terms": (("plasticity", "ADO/level", "-damping", None),),
}


class Adenosine(nn.Module):
    """Fatigue: a running average of the error signal that damps plasticity."""

    def __init__(self, *, rate: float = 0.1, damping: float = 0.5):
        super().__init__()
        self.rate = check_rate("rate", rate)
        self.damping = check_rate("damping", damping, allow_zero=True)
        self.register_buffer("level", torch.zeros(()))

    @torch.no_grad()
    def observe(self, signal: torch.Tensor) -> torch.Tensor:
        """Fold this step's error signal ``u_t`` into the level; return ``a_t``."""
        u = float(signal.detach().float().reshape(-1).mean())
        if u == u:  # a NaN carries no evidence
            self.level.fill_(min(max((1 - self.rate) * float(self.level) + self.rate * u, 0.0),
                                 1.0))
        return self.level

    def signals(self) -> dict[str, torch.Tensor]:
        """The signals the integration reads (``SPEC.signals``)."""
        return {"ADO/level": self.level}


register_modulator(Adenosine, SPEC)


class AdenosinePlugin(NeuromodulationPlugin):
    """Adenosine alone, as an Avalanche plugin (``NeuromodulationPlugin(adenosine=...)``)."""

    def __init__(self, *, record_every: int = 1, **params):
        super().__init__(adenosine=params, record_every=record_every)

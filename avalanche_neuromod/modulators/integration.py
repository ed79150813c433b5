"""Many-to-one integration: learning variables as declared functions of several modulators.

Mei et al. (2025, arXiv:2501.06762) argue that one task variable is co-modulated by several
neuromodulators, which interact in three ways: *modulatory* (one changes another's drive),
*convergent* (overlapping effects on one process) and *opponent* (opposite effects). Here each
learning variable ``v`` is declared as data,

    v = clip(base * prod_k (1 + w_k * s_k), low, high),

a product over terms, each a modulator signal ``s_k`` (phasic or tonic, e.g. ``NA/level`` or
``5HT/level``) with a weight ``w_k``. Several terms on one variable are convergent; a negative
weight is an opponent term; a term on a variable that parameterises another modulator (such as
``da_plasticity``, the gain of dopamine's plasticity, or ``na_threshold``, the threshold at which
noradrenaline declares a change) is modulatory. ``base`` is a number or a signal name.

The variables the plugins read:

| variable        | used as                                                      |
|-----------------|--------------------------------------------------------------|
| ``plasticity``  | scale of every optimizer update (global)                     |
| ``gain``        | gain of hidden units (times acetylcholine's per-unit gates)   |
| ``temperature`` | policy temperature of reward-driven strategies (exploration)  |
| ``reset``       | factor on the read-out weights at a noradrenaline burst       |
| ``consolidation`` | factor on serotonin's anchor strength                       |
| ``da_plasticity`` | factor on dopamine's plasticity gain                        |
| ``na_threshold``  | factor on noradrenaline's change threshold                  |

Numerical safety: a signal that is not finite counts as absent (factor 1), a product that
overflows is held within ``[-LIMIT, LIMIT]`` (a NaN result falls back to ``base``), and the default
integration bounds every variable (:func:`default_integration`), so no learning variable the
plugins read is ever NaN or infinite.
"""

from __future__ import annotations

import copy
import inspect
import math
from typing import Any

import torch

VARIABLES = ("plasticity", "gain", "temperature", "reset", "consolidation", "da_plasticity",
             "na_threshold")

def signal_names() -> tuple[str, ...]:
    """The signals a learning variable may read: each modulator's ``SPEC.signals``, in order."""
    from .registry import specs

    return tuple(signal for spec in specs().values() for signal in spec["signals"])


LIMIT = 1e6  # hard envelope of every variable, declared bounds or not


class IntegrationError(ValueError):
    """A declared integration is malformed (the message names the field)."""


def constructor_defaults(cls) -> dict[str, Any]:
    """The keyword defaults of ``cls``'s constructor (``{name: default}``)."""
    return {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
            if p.default is not inspect.Parameter.empty}


def default_integration(params: dict[str, dict]) -> dict[str, dict]:
    """The integration implied by the modulators present and their parameters.

    Each modulator's ``SPEC.terms`` (:mod:`.registry`) adds its terms, in the registry's order;
    a term ``with`` another modulator applies only when that one is present. With one modulator
    it reproduces that modulator alone; with several it adds the interactions the paper
    describes: NA boosts DA's plasticity (modulatory), ACh raises NA's threshold with expected
    uncertainty and drives encoding (modulatory, convergent), NA and ACh loosen 5-HT's
    consolidation, and 5-HT opposes DA (opponent). A weight named by a parameter left out is the
    modulator's constructor default (or the plugin option's default).
    """
    from .registry import modulator_class, specs

    out: dict[str, dict] = {name: {"terms": {}} for name in VARIABLES}
    for name, spec in specs().items():
        if params.get(name) is None:
            continue
        own = {**spec["options"], **constructor_defaults(modulator_class(name)), **params[name]}
        for variable, signal, weight, partner in spec["terms"]:
            if partner is not None and params.get(partner) is None:
                continue
            if isinstance(weight, str):
                sign, key = (-1.0, weight[1:]) if weight.startswith("-") else (1.0, weight)
                weight = own[key] if sign > 0 else -own[key]
            out[variable]["terms"][signal] = weight
    for spec in out.values():
        spec.setdefault("base", 1.0)
    out["plasticity"]["bounds"] = [0.0, 8.0]
    out["temperature"]["bounds"] = [1.0, 50.0]
    out["reset"]["bounds"] = [0.0, 1.0]
    out["consolidation"]["bounds"] = [0.0, 1.0]
    # wide enough never to bind with the documented parameter ranges; they only cap extremes
    out["gain"]["bounds"] = [0.0, 10.0]
    out["da_plasticity"]["bounds"] = [0.0, 10.0]
    out["na_threshold"]["bounds"] = [0.0, 10.0]
    return out


def validate_integration(spec: Any, *, field: str = "integration") -> dict[str, dict]:
    """Check a declared integration; return a normalised copy."""
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        raise IntegrationError(f"{field}: must be a mapping of learning variables")
    out = {}
    for name, var in spec.items():
        where = f"{field}.{name}"
        if name not in VARIABLES:
            raise IntegrationError(f"{where}: unknown learning variable; choose from "
                                   f"{', '.join(VARIABLES)}")
        if not isinstance(var, dict) or set(var) - {"base", "terms", "bounds"}:
            raise IntegrationError(f"{where}: must be a mapping with base, terms, bounds")
        base = var.get("base", 1.0)
        if isinstance(base, str):
            if base not in signal_names():
                raise IntegrationError(f"{where}.base: unknown signal {base!r}")
        elif isinstance(base, bool) or not isinstance(base, (int, float)) or \
                not math.isfinite(base):
            raise IntegrationError(f"{where}.base: must be a number or a signal name")
        terms = var.get("terms") or {}
        if not isinstance(terms, dict):
            raise IntegrationError(f"{where}.terms: must map signal names to weights")
        for signal, weight in terms.items():
            if signal not in signal_names():
                raise IntegrationError(f"{where}.terms.{signal}: unknown signal; choose from "
                                       f"{', '.join(signal_names())}")
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or \
                    not math.isfinite(weight):
                raise IntegrationError(f"{where}.terms.{signal}: weight must be a finite number")
        bounds = var.get("bounds")
        if bounds is not None and (not isinstance(bounds, (list, tuple)) or len(bounds) != 2
                                   or not bounds[0] <= bounds[1]):
            raise IntegrationError(f"{where}.bounds: must be [low, high] with low <= high")
        out[name] = copy.deepcopy(var)
    return out


class Integrator:
    """Evaluates the declared learning variables from the current modulator signals."""

    def __init__(self, spec: dict[str, dict]):
        self.spec = validate_integration(spec)

    def evaluate_floats(self, signals: dict[str, float]) -> dict[str, float]:
        """:meth:`evaluate` on Python floats (the plugins' per-step path: no tensor overhead)."""
        out = {}
        for name, var in self.spec.items():
            base = var.get("base", 1.0)
            value = float(signals.get(base, 0.0)) if isinstance(base, str) else float(base)
            if not math.isfinite(value):
                value = 0.0 if math.isnan(value) else math.copysign(LIMIT, value)
            rest = value
            for signal, weight in (var.get("terms") or {}).items():
                if signal in signals:
                    s = float(signals[signal])
                    if math.isfinite(s):  # a non-finite signal carries no information
                        value *= 1.0 + weight * s
            if math.isnan(value):
                value = rest
            value = min(max(value, -LIMIT), LIMIT)
            bounds = var.get("bounds")
            if bounds is not None:
                value = min(max(value, float(bounds[0])), float(bounds[1]))
            out[name] = value
        return out

    def evaluate(self, signals: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Every declared variable; a term whose modulator is absent counts as 0 (factor 1)."""
        out = {}
        for name, var in self.spec.items():
            base = var.get("base", 1.0)
            value = signals.get(base, torch.zeros(())) if isinstance(base, str) else base
            value = torch.nan_to_num(torch.as_tensor(value, dtype=torch.float32), nan=0.0,
                                     posinf=LIMIT, neginf=-LIMIT)
            rest = value
            for signal, weight in (var.get("terms") or {}).items():
                if signal in signals:
                    s = torch.as_tensor(signals[signal], dtype=torch.float32)
                    factor = 1.0 + weight * s
                    value = value * torch.where(torch.isfinite(s), factor, torch.ones_like(factor))
            value = torch.where(torch.isnan(value), rest, value).clamp(-LIMIT, LIMIT)
            bounds = var.get("bounds")
            if bounds is not None:
                value = value.clamp(float(bounds[0]), float(bounds[1]))
            out[name] = value
        return out

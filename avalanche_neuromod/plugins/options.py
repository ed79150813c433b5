"""Options of :class:`~.neuromodulation.NeuromodulationPlugin`: defaults, choices, validation.

Each modulator's parameters are split into the plugin's options (how the plugin drives the
modulator: which signal it reads, which effects it applies, ...) and the modulator's own
constructor arguments; the integration of the learning variables
(:mod:`avalanche_neuromod.modulators.integration`) is derived from both.
"""

from __future__ import annotations

import copy

from ..modulators.integration import IntegrationError, Integrator, default_integration
from ..modulators.noradrenaline import EFFECT_TERMS
from ..modulators.registry import modulator_class, specs
from .defaults import DEFAULT_MODULATORS  # noqa: F401  (re-exported)

# NA's ``effects`` option: which of its integration terms the plugin applies
# (modulators/noradrenaline.py, EFFECT_TERMS)
EFFECTS = tuple(EFFECT_TERMS)


class ModulatorConfigError(ValueError):
    """A modulator name, option or parameter is invalid (the message names it)."""


def split_options(name: str, params: dict) -> tuple[dict, dict]:
    """``(options, constructor arguments)`` of modulator ``name``; options are validated."""
    params = dict(params or {})
    spec = specs()[name]
    options = dict(spec["options"])
    for key in list(params):
        if key in options:
            options[key] = params.pop(key)
    for key, allowed in spec["choices"].items():
        if options[key] not in allowed:
            names = (str(a).lower() if isinstance(a, bool) else a for a in allowed)
            raise ModulatorConfigError(f"{key} must be one of {', '.join(names)}, got "
                                       f"{options[key]!r}")
    if name == "noradrenaline":
        for key in ("effects", "supervised_effects"):
            if key == "supervised_effects" and options[key] is None:
                continue
            options[key] = tuple(options[key])
            unknown = set(options[key]) - set(EFFECTS)
            if unknown:
                raise ModulatorConfigError(f"{key}: unknown effect(s) {sorted(unknown)}; "
                                           f"choose from {', '.join(EFFECTS)}")
    return options, params


def build_integrator(raw: dict, effects: tuple | None, declared: dict) -> Integrator:
    """The learning variables implied by the modulators' parameters, NA's terms kept only for
    its ``effects``, then the declared variables (each replaces the implied one)."""
    spec = default_integration(raw)
    if effects is not None:
        for effect, (variable, signal) in EFFECT_TERMS.items():
            if effect not in effects:
                spec[variable]["terms"].pop(signal, None)
    spec.update(copy.deepcopy(declared))
    return Integrator(spec)


def build_modulators(given: dict) -> tuple[dict, dict, dict]:
    """``(options, modulators, raw)`` for the modulators ``given`` (``None``: left out), in
    the registry's order (:mod:`~avalanche_neuromod.modulators.registry`); ``raw`` is each one's
    parameters and options, from which the integration is derived.

    :raises ModulatorConfigError: naming the modulator and the bad parameter or option.
    """
    options_of, modulators, raw = {}, {}, {}
    known = specs()
    given = {**{n: given[n] for n in known if n in given}, **given}  # the registry's order
    for name, params in given.items():
        if params is None:
            continue
        if name not in known:
            raise ModulatorConfigError(f"{name}: unknown modulator; choose from "
                                       f"{', '.join(known)}")
        if not isinstance(params, dict):
            raise ModulatorConfigError(f"{name}: must be a mapping of parameters")
        try:
            options, kwargs = split_options(name, params)
            modulators[name] = modulator_class(name)(**kwargs)
        except TypeError as err:
            message = str(err).split("got an ", 1)[-1]
            raise ModulatorConfigError(f"{name}: {message}") from None
        except ValueError as err:
            raise ModulatorConfigError(f"{name}.{err}") from None
        options_of[name] = options
        raw[name] = {**params, **options}
    return options_of, modulators, raw


def declared_integration(integration: dict | None) -> dict:
    """The learning variables declared as data, validated (see :class:`Integrator`)."""
    try:
        return Integrator(integration or {}).spec
    except IntegrationError as err:
        raise ModulatorConfigError(str(err)) from None

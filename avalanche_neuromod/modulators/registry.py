"""The modulator registry: each modulator is one file that declares itself (as in Mammoth).

A file ``modulators/<name>.py`` that defines a top-level ``SPEC`` (a literal mapping) is a
modulator; the registry reads that literal without importing the file (so presets and suites are
validated before torch is loaded) and imports the class only to build it. A modulator defined
outside the package (a user's own file) joins with :func:`register_modulator`. ``SPEC`` keys:

=================  ============================================================================
``name``           the name in presets and in ``NeuromodulationPlugin(<name>={...})``
``tag``            the prefix of its signals (``NA`` for ``NA/level``)
``class``          the class in the same file (keyword-only constructor)
``order``          its place among the modulators (the plugin builds and logs them in order)
``signals``        the signals the learning variables may read (:mod:`.integration`)
``record``         short record keys of the signals the case study keeps per trial
``options``        the plugin's options for it (how the plugin drives it) and their defaults
``choices``        the allowed values of options; ``ERROR_SIGNALS`` names the shared set below
``terms``          its default integration terms: ``(variable, signal, weight, with)``, the
                   weight a number or the name of one of its parameters (``-name``: negated;
                   a parameter left out is its constructor's default), ``with`` another
                   modulator that must be present for the term to apply (or ``None``)
``driver``         ``builtin`` (driven by the plugin's own code) or ``error``: each training
                   step the plugin calls ``observe(u)`` with the error signal its ``signal``
                   option names, and reads ``signals()`` (docs/extending.md)
=================  ============================================================================
"""

from __future__ import annotations

import ast
import importlib
from functools import lru_cache
from pathlib import Path
from typing import Any

ERROR_SIGNALS = ("auto", "rpe", "loss", "entropy")  # what a modulator's ``signal`` option reads
SPEC_KEYS = {"name", "tag", "class", "order", "signals", "record", "options", "choices", "terms",
             "driver"}
_REGISTERED: dict[str, dict] = {}  # name -> spec, from register_modulator (outside the package)
_CLASSES: dict[str, type] = {}


class RegistryError(ValueError):
    """A modulator's ``SPEC`` is malformed (the message names the file and the key)."""


def _check(spec: Any, *, where: str) -> dict:
    if not isinstance(spec, dict) or set(spec) != SPEC_KEYS:
        keys = sorted(spec) if isinstance(spec, dict) else type(spec).__name__
        raise RegistryError(f"{where}: SPEC must have exactly the keys {sorted(SPEC_KEYS)}, "
                            f"got {keys}")
    if spec["driver"] not in ("builtin", "error"):
        raise RegistryError(f"{where}: SPEC.driver must be builtin or error")
    choices = {key: ERROR_SIGNALS if allowed == "ERROR_SIGNALS" else tuple(allowed)
               for key, allowed in spec["choices"].items()}
    for key in choices:
        if key not in spec["options"]:
            raise RegistryError(f"{where}: SPEC.choices.{key}: not one of its options")
    for term in spec["terms"]:
        if len(term) != 4 or not str(term[1]).startswith(spec["tag"] + "/"):
            raise RegistryError(f"{where}: SPEC.terms: {term!r} must be (variable, one of its "
                                "own signals, weight, with)")
    return {**spec, "choices": choices, "signals": tuple(spec["signals"]),
            "terms": tuple(tuple(t) for t in spec["terms"])}


def _literal_spec(path: Path) -> dict | None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "SPEC" for t in node.targets):
            try:
                spec = ast.literal_eval(node.value)
            except ValueError:
                raise RegistryError(f"{path.name}: SPEC must be a literal") from None
            return {**_check(spec, where=path.name), "module": f"{__package__}.{path.stem}"}
    return None


@lru_cache(maxsize=1)
def _package_specs() -> tuple[dict, ...]:
    found = [spec for path in sorted(Path(__file__).parent.glob("*.py"))
             if (spec := _literal_spec(path)) is not None]
    return tuple(found)


def specs() -> dict[str, dict]:
    """Every modulator's spec, by name, in ``order`` (the package's, then registered ones)."""
    found = [*_package_specs(), *_REGISTERED.values()]
    return {spec["name"]: spec for spec in sorted(found, key=lambda s: s["order"])}


def names() -> tuple[str, ...]:
    """The modulators' names, in order (torch-free)."""
    return tuple(specs())


def modulator_class(name: str) -> type:
    """The class of modulator ``name`` (imports its file)."""
    if name not in _CLASSES:
        spec = specs()[name]
        _CLASSES[name] = getattr(importlib.import_module(spec["module"]), spec["class"])
    return _CLASSES[name]


def register_modulator(cls: type, spec: dict) -> type:
    """Add a modulator defined outside the package: ``cls`` and its ``SPEC`` (same keys; its
    ``class`` is ``cls``'s name). Returns ``cls``. A name already taken is refused."""
    checked = _check(spec, where=f"register_modulator({cls.__name__})")
    if checked["name"] in specs() and _CLASSES.get(checked["name"]) is not cls:
        raise RegistryError(f"register_modulator: {checked['name']!r} is already a modulator")
    _REGISTERED[checked["name"]] = {**checked, "module": cls.__module__}
    _CLASSES[checked["name"]] = cls
    return cls


def unregister_modulator(name: str) -> None:
    """Remove a modulator added with :func:`register_modulator` (tests, notebooks)."""
    if name in _REGISTERED:
        del _REGISTERED[name]
        _CLASSES.pop(name, None)


__all__ = ["ERROR_SIGNALS", "RegistryError", "modulator_class", "names", "register_modulator",
           "specs", "unregister_modulator"]

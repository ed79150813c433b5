"""Start-up of our own processes: modules Avalanche imports but a cell never uses, deferred.

``import avalanche.training`` imports every benchmark, strategy, plugin and metric at once, and
with them packages a cell does not run (docs/performance.md, issue 18):

- ``wandb`` (imported at module level by Avalanche's confusion-matrix metric, used there only to
  draw images) and ``gdown`` (by the CUB-200 dataset, used only to download it) are made lazy
  (:class:`importlib.util.LazyLoader`): the module object exists at once, its code runs on the
  first attribute read. ``--wandb`` runs ``wandb.init`` and so loads it as before.
- ``jax`` and ``jaxopt`` are hidden from ``qpsolvers`` while ``qpsolvers`` itself is imported:
  its solver discovery imports every optional backend, jax's among them (1.6 s here), where
  Avalanche's GEM asks for ``solver="quadprog"``. Only that import is affected: ``import jax``
  anywhere else, before or after, finds jax as usual; ``qpsolvers.available_solvers`` lacks
  ``jaxopt_osqp`` in such a process.

Neither changes a number: the same code runs, later or not at all. :func:`defer_unused_imports`
is called by the command line's entry point (``avalanche_neuromod.cli.main``), never on
``import avalanche_neuromod``, so a library user's process imports exactly what Avalanche imports.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys

LAZY = ("wandb", "gdown")
HIDDEN_WHILE_IMPORTING = {"qpsolvers": ("jax", "jaxopt")}


class _Hiding(importlib.abc.Loader):
    """``loader`` with ``names`` unimportable while it executes its module."""

    def __init__(self, loader, names: tuple[str, ...], finder: DeferringFinder):
        self.loader, self.names, self.finder = loader, names, finder

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        hidden = [n for n in self.names if n not in self.finder.hiding]
        self.finder.hiding.update(hidden)
        try:
            self.loader.exec_module(module)
        finally:
            self.finder.hiding.difference_update(hidden)

    def __getattr__(self, name):  # get_source, is_package, get_resource_reader, ...
        return getattr(self.loader, name)


class DeferringFinder(importlib.abc.MetaPathFinder):
    """First on ``sys.meta_path``: wraps the loaders of :data:`LAZY` and
    :data:`HIDDEN_WHILE_IMPORTING`'s modules, finds everything else as if it were not there."""

    def __init__(self):
        self.hiding: set[str] = set()

    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in self.hiding:
            raise ModuleNotFoundError(f"No module named {name!r} (not imported by qpsolvers in "
                                      "this process: avalanche_neuromod.startup)", name=name)
        if name not in LAZY and name not in HIDDEN_WHILE_IMPORTING:
            return None
        spec = self._spec(name, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        if name in LAZY:
            spec.loader = importlib.util.LazyLoader(spec.loader)
        else:
            spec.loader = _Hiding(spec.loader, HIDDEN_WHILE_IMPORTING[name], self)
        return spec

    def _spec(self, name, path, target):
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                return spec
        return None


def defer_unused_imports() -> DeferringFinder:
    """Install the :class:`DeferringFinder` (once per process); returns it."""
    for finder in sys.meta_path:
        if isinstance(finder, DeferringFinder):
            return finder
    finder = DeferringFinder()
    sys.meta_path.insert(0, finder)
    return finder

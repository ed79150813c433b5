"""Package attributes imported on first use (PEP 562), so that importing a package is cheap.

``avalanche-neuromod --help`` and the validation of a suite must not pay for torch, Avalanche,
matplotlib or wandb (docs/performance.md, start-up); a package ``__init__`` therefore names its
exports and the submodule of each, and :func:`lazy_exports` imports that submodule when the name is
first read (``from avalanche_neuromod.plugins import NeuromodulationPlugin`` works as before).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable, Callable]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``exports`` maps a name to its submodule
    (relative, e.g. ``".guard"``)."""

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name], package), name)
        globals_ = importlib.import_module(package).__dict__
        globals_[name] = value  # later reads skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*importlib.import_module(package).__dict__, *exports})

    return __getattr__, __dir__

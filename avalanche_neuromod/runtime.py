"""Where a run happens: the device, the package versions and the git commit, stated once.

Every record (a case-study run, a leaderboard cell) and every W&B run carries these, so that a
result can be set beside the code and the machine that made it. ``versions()["cpu"]`` names the
CPU code path, because bit-for-bit reproduction holds on the same one
(:func:`avalanche_neuromod.determinism.cpu_kernels`).
"""

from __future__ import annotations

import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .errors import ConfigError

#: The distributions whose versions a record keeps, by their names on PyPI.
PACKAGES = ("avalanche-neuromod", "avalanche-lib", "torch", "numpy", "wandb")


def resolve_device(device: str | None):
    """``auto``/None: CUDA when available, else CPU; a GPU asked for but absent is a ConfigError."""
    import torch

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device: unknown device {device!r}; use auto, cpu or cuda[:N]") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device: {device} requested but no CUDA GPU is available")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"device: {device} requested but only "
                              f"{torch.cuda.device_count()} GPU(s) are visible")
    elif dev.type != "cpu":
        raise ConfigError(f"device: unsupported device {device!r}; use auto, cpu or cuda[:N]")
    return dev


def versions(*, cpu: bool = True) -> dict[str, str]:
    """Installed versions of :data:`PACKAGES` (``not installed`` where absent), and the CPU path."""
    out = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    if out["avalanche-neuromod"] == "not installed":  # run from a source tree without installing
        from . import __version__

        out["avalanche-neuromod"] = __version__
    if cpu:
        from .determinism import cpu_kernels

        out["cpu"] = cpu_kernels()
    return out


def git_commit() -> str | None:
    """The commit of the source tree the package runs from, or None outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parent, timeout=5, check=True)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None

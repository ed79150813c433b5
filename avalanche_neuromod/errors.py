"""The exceptions a command line ends on, in a module that imports nothing.

``avalanche-neuromod`` catches these to print one line and exit 2 (bad input) or 3 (a numerical
fault); defining them here lets it do so before torch, Avalanche, wandb or Ray are imported
(docs/performance.md, start-up). Each is re-exported from the module that raises it.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """Bad input in a config (the message names the field and, when known, the file)."""


class PresetError(ValueError):
    """A preset name, file or field is invalid (the message names it)."""


class DataRootError(FileNotFoundError):
    """The data root is missing or lacks the data set (the message names it)."""


class CheckpointError(ValueError):
    """A checkpoint is unreadable, corrupt, foreign or does not fit this run (one line)."""


class NumericalFaultError(RuntimeError):
    """Too many consecutive training steps had a non-finite loss or gradient."""


class WriteFailedError(OSError):
    """A result could not be written (a full disk, a read-only folder); one line naming it.

    ``reason`` is the operating system's words for it (``No space left on device``)."""

    reason: str | None = None


__all__ = ["CheckpointError", "ConfigError", "DataRootError", "NumericalFaultError",
           "PresetError", "WriteFailedError"]

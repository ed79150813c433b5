"""Checkpoint files: written atomically, read back with ``torch.load(weights_only=True)``.

A checkpoint is one ``torch.save`` file of tensors and plain values (see
:mod:`avalanche_neuromod.checkpoint_codec`), written by the package's one atomic writer
(:func:`avalanche_neuromod.outputs.atomic_file`: temporary file, flush, fsync, ``os.replace``);
loading never runs pickled code, and a file that is truncated, foreign or lacks a field
(:data:`_PAYLOAD`) is refused with one line (:class:`CheckpointError`).
"""

from __future__ import annotations

from pathlib import Path

import torch

from .errors import CheckpointError, WriteFailedError
from .outputs import atomic_file

FORMAT = "avalanche-neuromod-checkpoint/1"
# what every checkpoint holds, and of which type (checked on load: a damaged file is refused)
_PAYLOAD = {"format": str, "experience": int, "matrix": list, "extra": dict, "rng": dict,
            "resumable": bool, "model": dict, "optimizer": dict, "plugins": list,
            "strategy_attrs": dict, "left_out": list}


def write_atomic(path: str | Path, payload: dict) -> Path:
    """``torch.save`` ``payload`` onto ``path`` atomically (:func:`.outputs.atomic_file`).

    A failed write (a full disk) leaves ``path`` as it was, removes the temporary file and
    raises :class:`~avalanche_neuromod.errors.WriteFailedError` naming ``path``."""
    path = Path(path)
    try:
        with atomic_file(path, "wb") as fh:
            torch.save(payload, fh)
    except RuntimeError as err:  # torch.save reports a failed write as a RuntimeError
        if "inline_container" not in str(err) and "write" not in str(err).lower():
            raise
        raise WriteFailedError(f"cannot write {path}: {str(err).splitlines()[0]}") from None
    return path


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint with ``torch.load(weights_only=True)``; :class:`CheckpointError` if it
    is unreadable, truncated, corrupt or not a checkpoint of this package."""
    path = Path(path)
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint: no such file {path}") from None
    except OSError as err:
        raise CheckpointError(f"checkpoint: cannot read {path}: {err.strerror or err}") from None
    try:
        with fh:
            data = torch.load(fh, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, foreign pickle, disallowed global, ...
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"checkpoint: {path} is not a valid checkpoint, truncated or "
                              f"damaged ({type(err).__name__}: {reason[:120]})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint: {path} is not an avalanche-neuromod checkpoint")
    for key, kind in _PAYLOAD.items():
        if not isinstance(data.get(key), kind) or (kind is int and isinstance(data[key], bool)):
            raise CheckpointError(f"checkpoint: {path} is damaged (field {key!r} is "
                                  f"{'missing' if key not in data else type(data[key]).__name__})")
    return data

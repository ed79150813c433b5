"""Where results are written: checked before anything is computed, never lost at the end.

Every command checks its output folder first (:func:`check_output_dir`): it must be a folder or
creatable as one, writable, and neither a file nor under one; files it will rewrite there must be
files. A write that still fails at the end (a full disk, a folder made read-only meanwhile) goes
to a fallback file, whose path the error names (:func:`write_or_fallback`, :class:`OutputError`,
exit code 1), so nothing computed is lost. Files replaced whole (results, checkpoints) are
written by one atomic writer, :func:`atomic_file`. Paths composed from names stay inside their
folder (:func:`inside`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .errors import ConfigError, WriteFailedError


class OutputError(OSError):
    """A result could not be written where asked; the message names the fallback copy."""


def _why(path: Path) -> str | None:
    """Why ``path`` cannot be an output folder (None when it can)."""
    if path.is_dir():
        try:  # what the OS says, not the mode bits (root, read-only mounts, ACLs)
            fd, probe = tempfile.mkstemp(prefix=".write-check-", dir=path)
        except OSError as err:
            return f"{path} is not writable ({err.strerror or err})"
        os.close(fd)
        os.unlink(probe)
        return None
    if path.exists() or path.is_symlink():
        return f"{path} is a file, not a folder" if path.is_file() else \
            f"{path} is not a folder"
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"{path} cannot be created: {parent} is a file, not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{path} cannot be created: {parent} is not writable"
    return None


def check_output_dir(path: str | os.PathLike, *, field: str = "--out",
                     files: tuple[str, ...] = ()) -> Path:
    """Check, before anything runs, that ``path`` can hold a command's outputs.

    Nothing is created (a folder that does not exist yet is checked on its nearest existing
    parent); an existing folder is probed with a temporary file that is removed at once. Each of
    ``files`` that exists in it must be a regular file (it will be rewritten or appended to).
    Raises ConfigError (one line, exit 2) naming ``field`` and the path."""
    path = Path(path)
    why = _why(path)
    if why is not None:
        raise ConfigError(f"{field}: {why}")
    for name in files:
        target = path / name
        if target.exists() and not target.is_file():
            raise ConfigError(f"{field}: {target} is not a file (it would be written)")
        if target.is_file() and not os.access(target, os.W_OK):
            raise ConfigError(f"{field}: {target} is not writable")
    return path


def inside(folder: str | os.PathLike, *parts: str, field: str) -> Path:
    """``folder/parts...``, refused (ConfigError naming ``field``) unless it lands in ``folder``."""
    base = Path(folder)
    path = base.joinpath(*parts)
    resolved, root = path.resolve(), base.resolve()
    if resolved == root or root not in resolved.parents:
        raise ConfigError(f"{field}: {'/'.join(parts)!r} would write outside {base}")
    return path


def _failed(path: Path, err: OSError) -> WriteFailedError:
    if isinstance(err, WriteFailedError):
        return err
    reason = err.strerror or str(err)
    failed = WriteFailedError(f"cannot write {path}: {reason}")
    failed.reason = reason
    return failed


def _fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (best effort: not every file system allows it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "wb", *,
                encoding: str | None = None) -> Iterator[IO]:
    """The one atomic writer: a temporary file in ``path``'s folder to write to.

    When the block ends it is flushed, fsynced and moved onto ``path`` (``os.replace``), then the
    folder is fsynced: ``path`` is the old file or the whole new one, never a part. A failed write
    (a full disk) leaves ``path`` as it was, removes the temporary file and raises
    :class:`~avalanche_neuromod.errors.WriteFailedError` naming ``path``; any other error of the
    block propagates, the temporary file removed."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, mode, encoding=encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as err:
        raise _failed(path, err) from None
    finally:
        with contextlib.suppress(OSError):
            if tmp.exists():
                tmp.unlink()
    _fsync_dir(path.parent)


def atomic_write(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically (:func:`atomic_file`)."""
    if isinstance(data, bytes):
        with atomic_file(path, "wb") as fh:
            fh.write(data)
    else:
        with atomic_file(path, "w", encoding="utf-8") as fh:
            fh.write(data)
    return Path(path)


def write_or_fallback(path: str | os.PathLike, text: str, *, what: str = "results") -> Path:
    """Write ``text`` to ``path`` atomically; if that fails, to a fallback file and raise
    :class:`OutputError` naming both (the CLI prints it and exits 1). Returns ``path``.

    The fallback is ``avalanche-neuromod-<name>-<time>-<pid>`` in the system's temporary folder,
    else in the current folder; if neither can be written the text goes to stderr."""
    path = Path(path)
    try:
        atomic_write(path, text)
        return path
    except OSError as err:
        reason = getattr(err, "reason", None) or err.strerror or str(err)
    name = f"avalanche-neuromod-{path.name}-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
    for folder in (Path(tempfile.gettempdir()), Path.cwd()):
        fallback = folder / name
        try:
            atomic_write(fallback, text)
        except OSError:
            continue
        raise OutputError(f"cannot write {path} ({reason}); {what} saved in {fallback}")
    import sys

    sys.stderr.write(text)
    raise OutputError(f"cannot write {path} ({reason}) nor a fallback file; {what} printed "
                      "above")


__all__ = ["OutputError", "WriteFailedError", "atomic_file", "atomic_write", "check_output_dir",
           "inside", "write_or_fallback"]

"""The results file of a suite: JSON lines, appended atomically by the driver alone.

Each finished cell is one line, written with a single ``write`` of the whole line, then flushed
and fsync'ed; a write that fails (a full disk) is cut back off, so the file is as before and the
error names it (:class:`WriteFailedError`). A crash leaves at worst a truncated *last* line.

Reading checks every line (:func:`read_records`): a line that is not valid UTF-8 or JSON, or a
record with a missing or mistyped field (:data:`RECORD_FIELDS`), is reported with its line number
and the field (:class:`InvalidRecordWarning`, :class:`TruncatedRecordWarning`) and skipped, so the
cell it belonged to runs again on resume; a second record of a cell already read (two processes
on one folder, a file concatenated twice) is reported and counted once
(:class:`DuplicateRecordWarning`), so a report never counts a seed twice.

One process at a time writes an output folder: :func:`output_lock` holds an exclusive lock on
``<folder>/.lock`` (``flock``, released by the OS when the process dies, so a stale lock is taken
over), and a second process is told which one holds it (pid, host, start time) in one line.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from ..errors import ConfigError, WriteFailedError

LOCK_NAME = ".lock"
_NUMBER = (int, float)
# field -> (types, required); a bool is never a number here
RECORD_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "key": ((str,), True), "benchmark": ((str,), True), "strategy": ((str,), True),
    "seed": ((int,), True), "accuracy_matrix": ((list,), True),
    "final_accuracy": ((*_NUMBER, type(None)), True),
    "suite": ((str,), False), "scenario": ((str,), False), "config": ((dict,), False),
    "config_hash": ((str,), False), "status": ((str,), False), "error": ((str,), False),
    "forgetting": ((*_NUMBER, type(None)), False), "bwt": ((*_NUMBER, type(None)), False),
    "fwt": ((*_NUMBER, type(None)), False), "target": ((*_NUMBER, type(None)), False),
    "wall_time": ((*_NUMBER, type(None)), False), "device": ((str,), False),
    "eval_stream": ((str,), False), "versions": ((dict,), False),
    "command": ((str, type(None)), False), "git_commit": ((str, type(None)), False),
}


class RecordWarning(UserWarning):
    """A line of a results file was not taken as a record (the message names the line)."""


class TruncatedRecordWarning(RecordWarning):
    """A line of a results file is not a complete JSON record (a crash cut it off)."""


class InvalidRecordWarning(RecordWarning):
    """A line of a results file is not valid UTF-8, or its record lacks or mistypes a field."""


class DuplicateRecordWarning(RecordWarning):
    """A cell has a second record in a results file; the first one counts."""


class OutputLockedError(ConfigError):
    """Another process is writing the same output folder."""


# ----------------------------------------------------------------------------------- writing

def append_record(path: str | Path, record: dict) -> None:
    """Append one record as a single JSON line, durably; on failure the file is left as it was
    and :class:`WriteFailedError` names it."""
    path = Path(path)
    line = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as fh:
            size = fh.tell()
            try:
                if size > 0:
                    with open(path, "rb") as check:  # a crash may have left a line unfinished
                        check.seek(-1, os.SEEK_END)
                        if check.read(1) != b"\n":
                            line = "\n" + line
                fh.write(line.encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
            except OSError:
                with contextlib.suppress(OSError):  # nothing torn: cut off what got written
                    fh.truncate(size)
                    os.fsync(fh.fileno())
                raise
    except OSError as err:
        raise WriteFailedError(f"cannot write {path}: {err.strerror or err}") from None


# ----------------------------------------------------------------------------------- reading

def check_record(record) -> str | None:
    """Why ``record`` is not a usable record (a field missing or of the wrong type), or None."""
    if not isinstance(record, dict):
        return f"not a record (a JSON {type(record).__name__})"
    for field, (types, required) in RECORD_FIELDS.items():
        if field not in record:
            if required:
                return f"field {field!r} missing"
            continue
        value = record[field]
        if isinstance(value, bool) or not isinstance(value, types):
            names = "/".join("null" if t is type(None) else t.__name__ for t in types)
            return f"field {field!r} must be {names}, got {type(value).__name__}"
    rows = record["accuracy_matrix"]
    if not all(isinstance(row, list) and all(v is None or (isinstance(v, _NUMBER) and not
                                                           isinstance(v, bool)) for v in row)
               for row in rows):
        return "field 'accuracy_matrix' must be a list of lists of numbers"
    return None


def read_records(path: str | Path) -> list[dict]:
    """Every valid record, once per cell (the first); each line left out is warned about with
    its number and why (see the module's docstring)."""
    path = Path(path)
    if not path.is_file():
        return []
    records, seen = [], {}
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            where = f"{path}:{number}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                warnings.warn(f"{where}: not UTF-8 text (byte {err.start}); line ignored, its "
                              "cell will run again", InvalidRecordWarning, stacklevel=2)
                continue
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                warnings.warn(f"{where}: incomplete record (an interrupted write?) ignored; its "
                              "cell will run again", TruncatedRecordWarning, stacklevel=2)
                continue
            why = check_record(record)
            if why is not None:
                warnings.warn(f"{where}: {why}; record ignored, its cell will run again",
                              InvalidRecordWarning, stacklevel=2)
                continue
            if record["key"] in seen:
                warnings.warn(f"{where}: a second record of cell {record['key']} (the first is "
                              f"on line {seen[record['key']]}) ignored: counted once",
                              DuplicateRecordWarning, stacklevel=2)
                continue
            seen[record["key"]] = number
            records.append(record)
    return records


def read_checked(path: str | Path) -> tuple[list[dict], list[str]]:
    """:func:`read_records`, with what it would warn about returned (one line each)."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", RecordWarning)
        records = read_records(path)
    for w in seen:  # anything else is warned about as usual
        if not issubclass(w.category, RecordWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return records, [str(w.message) for w in seen if issubclass(w.category, RecordWarning)]


def finished_keys(path: str | Path) -> set[str]:
    return {r["key"] for r in read_records(path)}


# ------------------------------------------------------------------------------------ locking

_HELD: dict[str, list] = {}  # resolved folder -> [fd, depth]: the lock is re-entrant


def _holder(lock: Path) -> str:
    try:
        info = json.loads(lock.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "another process"
    return (f"pid {info.get('pid')} on {info.get('host', '?')}, started "
            f"{info.get('started', '?')}")


@contextlib.contextmanager
def output_lock(folder: str | Path, *, field: str = "--out") -> Iterator[Path]:
    """Hold an exclusive lock on ``folder`` (created if needed) while the block runs.

    A second process gets :class:`OutputLockedError` (one line naming the holder, exit 2); the
    same process may nest locks on one folder. Where ``fcntl`` is missing (Windows) nothing is
    locked."""
    folder = Path(folder)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield folder
        return
    key = str(folder.resolve())
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield folder
        finally:
            _HELD[key][1] -= 1
        return
    lock = folder / LOCK_NAME
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                os.close(fd)
                if err.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                raise OutputLockedError(
                    f"{field}: {folder} is in use by another avalanche-neuromod process "
                    f"({_holder(lock)}); wait for it to finish or choose another {field}") from None
            try:  # the file may have been removed by a holder releasing it meanwhile
                same = os.fstat(fd).st_ino == os.stat(lock).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(info).encode())
    except OSError as err:
        raise ConfigError(f"{field}: cannot lock {lock}: {err.strerror or err}") from None
    _HELD[key] = [fd, 1]
    try:
        yield folder
    finally:
        del _HELD[key]
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)
        if created:  # a run that wrote nothing leaves no folder behind
            with contextlib.suppress(OSError):
                folder.rmdir()


def close_inherited_locks() -> None:
    """In a forked worker: close the driver's lock descriptors (the driver keeps its lock)."""
    for fd, _ in _HELD.values():
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()

"""The results file of a suite: JSON lines, appended atomically by the driver alone.

Each finished cell is one line, written with a single ``write`` of the whole line, then flushed
and fsync'ed, so a crash leaves at worst a truncated *last* line. Reading detects such a line,
reports it and skips it (it is never merged), so the cell it belonged to runs again on resume.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path


class TruncatedRecordWarning(UserWarning):
    """The last line of a results file was cut off by a crash and is ignored."""


def append_record(path: str | Path, record: dict) -> None:
    """Append one record as a single JSON line, durably."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
    with open(path, "a", encoding="utf-8") as fh:
        if fh.tell() > 0:
            with open(path, "rb") as check:  # a crash may have left a line without its newline
                check.seek(-1, os.SEEK_END)
                if check.read(1) != b"\n":
                    fh.write("\n")
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def read_records(path: str | Path) -> list[dict]:
    """All complete records; a truncated or corrupt line is reported and skipped."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                warnings.warn(f"{path}:{number}: incomplete record (an interrupted write?) "
                              "ignored; its cell will run again", TruncatedRecordWarning,
                              stacklevel=2)
                continue
            if isinstance(record, dict) and "key" in record:
                records.append(record)
    return records


def finished_keys(path: str | Path) -> set[str]:
    return {r["key"] for r in read_records(path)}

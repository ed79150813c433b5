"""Read an offline W&B run without syncing it: ``avalanche-neuromod wandb-show RUN_DIR``.

An offline run is a folder ``wandb/offline-run-<time>-<id>/`` holding ``run-<id>.wandb``: the
records wandb would upload (config, every ``run.log`` row, the summary), as protocol buffers
(``wandb.proto.wandb_internal_pb2.Record``) in LevelDB's log format: a 7-byte header
(``:W&B``, magic ``0xBEE1``, version 0), then 32 KiB blocks of chunks, each with a 7-byte
header (CRC-32C, length, type: 1 full, 2 first, 3 middle, 4 last). wandb 0.31 reads these
files only in its Go core (``wandb leet RUN_DIR`` is its terminal viewer); this reader needs
nothing but wandb's Python protocol buffers.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HEADER = b":W&B" + struct.pack("<HB", 0xBEE1, 0)
BLOCK = 32 * 1024
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


class OfflineRunError(ValueError):
    """Not an offline run (the message names the path)."""


def run_file(path: str | Path) -> Path:
    """The ``.wandb`` file of a run folder (or the file itself)."""
    path = Path(path)
    if path.is_file():
        return path
    found = sorted(path.glob("run-*.wandb")) if path.is_dir() else []
    if not found:
        raise OfflineRunError(f"run_dir: no run-*.wandb in {path} (give a folder "
                              "wandb/offline-run-*/ or its .wandb file)")
    return found[-1]


def _chunks(data: bytes) -> Iterator[bytes]:
    """The records of a LevelDB log, chunks joined."""
    pos, record = len(HEADER), b""
    while pos + 7 <= len(data):
        left = BLOCK - pos % BLOCK
        if left < 7:  # a block's tail too short for a header is padding
            pos += left
            continue
        length, kind = struct.unpack_from("<HB", data, pos + 4)
        if length == 0 and kind == 0:  # zero padding at the end of a block
            pos += left
            continue
        chunk = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind == FULL:
            yield chunk
        elif kind == FIRST:
            record = chunk
        elif kind == MIDDLE:
            record += chunk
        elif kind == LAST:
            yield record + chunk
            record = b""


def records(path: str | Path) -> Iterator[Any]:
    """Every ``Record`` of an offline run, in the order it was written."""
    from wandb.proto import wandb_internal_pb2

    file = run_file(path)
    data = file.read_bytes()
    if not data.startswith(HEADER):
        raise OfflineRunError(f"run_dir: {file} is not a W&B run file (no :W&B header)")
    for chunk in _chunks(data):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(chunk)
        yield record


def _items(items) -> dict[str, Any]:
    out = {}
    for item in items:
        key = item.key or "/".join(item.nested_key)
        try:
            out[key] = json.loads(item.value_json)
        except ValueError:
            out[key] = item.value_json
    return out


def read_run(path: str | Path) -> dict[str, Any]:
    """``{"id", "name", "project", "group", "config", "summary", "history"}`` of an offline
    run; ``history`` maps a logged key to its values, one per ``run.log`` row that holds it
    (wandb's own ``_step``, ``_runtime`` and ``_timestamp`` left out)."""
    out: dict[str, Any] = {"id": None, "name": None, "project": None, "group": None,
                           "config": {}, "summary": {}, "history": {}}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
            out.update(id=run.run_id, name=run.display_name, project=run.project,
                       group=run.run_group)
            out["config"].update(_items(run.config.update))
        elif kind == "config":
            out["config"].update(_items(record.config.update))
        elif kind == "summary":
            out["summary"].update(_items(record.summary.update))
        elif kind == "history":
            for key, value in _items(record.history.item).items():
                if not key.startswith("_"):
                    out["history"].setdefault(key, []).append(value)
    return out


def _short(value: Any) -> str:
    if isinstance(value, dict):  # a table or chart: wandb stores a reference to a file
        return f"<{value.get('_type', 'object')}>"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def show(path: str | Path, *, pattern: str | None = None) -> str:
    """A plain-text view: the run, its summary and each history key with its points."""
    run = read_run(path)
    lines = [f"run {run['id']} ({run['name']}), project {run['project']}, "
             f"group {run['group'] or '-'}", "", "summary:"]
    lines += [f"  {k} = {_short(v)}" for k, v in sorted(run["summary"].items())
              if not k.startswith("_") and (pattern is None or pattern in k)]
    lines += ["", "history (points: values):"]
    for key, values in sorted(run["history"].items()):
        if pattern is not None and pattern not in key:
            continue
        shown = ", ".join(_short(v) for v in values[:12]) + (", ..." if len(values) > 12 else "")
        lines.append(f"  {key} ({len(values)}): {shown}")
    return "\n".join(lines)


def show_command(args) -> int:
    """``avalanche-neuromod wandb-show RUN_DIR [--key TEXT]``."""
    from ..config import ConfigError

    try:
        print(show(args.run_dir, pattern=args.key))
    except OfflineRunError as err:
        raise ConfigError(str(err)) from None
    return 0

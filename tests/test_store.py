"""The results file (issue 19): every line checked, duplicates counted once, writes that fail
leave nothing torn, one process at a time on an output folder."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from avalanche_neuromod.errors import ConfigError
from avalanche_neuromod.leaderboard import store
from avalanche_neuromod.leaderboard.store import (
    LOCK_NAME,
    DuplicateRecordWarning,
    InvalidRecordWarning,
    OutputLockedError,
    TruncatedRecordWarning,
    WriteFailedError,
    append_record,
    output_lock,
    read_records,
)
from avalanche_neuromod.report.leaderboard import summarize_leaderboard


def record(number: int, **changes) -> dict:
    seed = number
    base = {"key": f"g|naive|{seed}|h", "suite": "s", "benchmark": "g", "strategy": "naive",
            "seed": seed, "config": {"seed": seed}, "final_accuracy": 0.5 + seed / 10,
            "accuracy_matrix": [[0.5]], "forgetting": None, "bwt": None, "fwt": None,
            "wall_time": 1.0, "command": None, "git_commit": None}
    return {**base, **changes}


def line(r) -> bytes:
    return (json.dumps(r) + "\n").encode()


def test_damaged_records_are_reported_by_line_and_field_and_skipped(tmp_path):
    path = tmp_path / "results.jsonl"
    bad = {k: v for k, v in record(1).items() if k != "benchmark"}
    path.write_bytes(line(record(0)) + b"\xff\xfe not utf-8\n" + line(bad) +
                     line(record(2, strategy=["naive"])) + line(record(3, key=["a", "b"])) +
                     line({**record(4), "seed": True}) + line(record(5, accuracy_matrix=[["x"]])) +
                     line([1, 2]) + b"\x00\x00\x00\n" + line(record(6)) + b'{"key": "g|na')
    with pytest.warns(UserWarning) as seen:
        found = read_records(path)
    assert [r["seed"] for r in found] == [0, 6]
    messages = [(w.category, str(w.message)) for w in seen]
    expected = [(InvalidRecordWarning, ":2: not UTF-8"),
                (InvalidRecordWarning, ":3: field 'benchmark' missing"),
                (InvalidRecordWarning, ":4: field 'strategy' must be str, got list"),
                (InvalidRecordWarning, ":5: field 'key' must be str, got list"),
                (InvalidRecordWarning, ":6: field 'seed' must be int, got bool"),
                (InvalidRecordWarning, ":7: field 'accuracy_matrix'"),
                (InvalidRecordWarning, ":8: not a record"),
                (TruncatedRecordWarning, ":9: incomplete record"),
                (TruncatedRecordWarning, ":11: incomplete record")]
    assert len(messages) == len(expected)
    for (category, message), (want_category, want) in zip(messages, expected):
        assert category is want_category and f"{path}{want}" in message, message
        assert "\n" not in message


def test_a_cell_recorded_twice_counts_once(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_bytes(b"".join(line(record(s)) for s in (0, 1, 2)) +
                     b"".join(line(record(s, final_accuracy=0.0)) for s in (0, 1, 2)))
    with pytest.warns(DuplicateRecordWarning, match=r":4: a second record of cell g\|naive\|0"):
        found = read_records(path)
    assert [r["final_accuracy"] for r in found] == [0.5, 0.6, 0.7]  # the first of each
    [row] = summarize_leaderboard(found)["g"]
    assert row["seeds"] == 3  # not 6: the CI is not made narrower by copies


def test_a_failed_append_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "results.jsonl"
    append_record(path, record(0))
    before = path.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store.os, "fsync", full)
    with pytest.raises(WriteFailedError) as info:
        append_record(path, record(1))
    assert str(info.value) == f"cannot write {path}: No space left on device"
    assert path.read_bytes() == before  # nothing torn


def test_an_output_lock_is_exclusive_names_its_holder_and_is_taken_over_when_stale(tmp_path):
    out = tmp_path / "out"
    probe = textwrap.dedent(f"""
        import sys
        from avalanche_neuromod.leaderboard.store import output_lock, OutputLockedError
        try:
            with output_lock({str(out)!r}):
                print("locked")
        except OutputLockedError as err:
            print(err)
            sys.exit(2)
    """)
    with output_lock(out):
        with output_lock(out):  # the same process may nest
            assert (out / LOCK_NAME).is_file()
        other = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                               timeout=120)
        assert other.returncode == 2, other.stderr
        assert f"pid {os.getpid()} on {socket.gethostname()}, started " in other.stdout
        assert other.stdout.startswith(f"--out: {out} is in use by another")
    assert not out.exists()  # released: nothing left behind (it wrote nothing: no folder)
    out.mkdir()
    # a lock file left by a process that died (SIGKILL): nobody holds it, it is taken over
    (out / LOCK_NAME).write_text(json.dumps({"pid": 999999999, "host": "x", "started": "y"}))
    again = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0 and again.stdout.strip() == "locked", again.stderr


def test_an_output_folder_that_cannot_be_locked_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match=r"^--out: cannot lock .*file/\.lock") as info:
        with output_lock(blocker):
            pass
    assert not isinstance(info.value, OutputLockedError)
    assert blocker.read_text() == "x"


def test_report_of_records_missing_a_field_is_one_line(tmp_path, capsys):
    from avalanche_neuromod.cli import main

    path = tmp_path / "results.jsonl"
    path.write_bytes(b"".join(line({k: v for k, v in record(s).items() if k != "benchmark"})
                              for s in (0, 1)))
    before = path.read_bytes()
    assert main(["report", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("avalanche-neuromod: error: results: "), err
    assert f"{path}:1: field 'benchmark' missing" in err and "(and 1 more)" in err
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == \
        ["results.jsonl"]
    # one good record among them: reported, each bad line named once, on one line each
    path.write_bytes(before + line(record(2)))
    assert main(["report", str(path)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(e.startswith("avalanche-neuromod: warning: ") for e in err)
    assert (tmp_path / "leaderboard.md").is_file()


def test_lock_file_names_are_not_results(tmp_path):
    """The lock lives beside results.jsonl and never in what is read back."""
    out = tmp_path / "out"
    with output_lock(out):
        append_record(out / "results.jsonl", record(0))
        assert [r["seed"] for r in read_records(out / "results.jsonl")] == [0]
    assert sorted(p.name for p in Path(out).iterdir()) == ["results.jsonl"]

"""avalanche_neuromod.outputs: output folders checked before anything runs, writes that never lose
what was computed, paths that stay inside their folder (issue 19). The commands' use of them is
in tests/test_bad_input.py (``*-out-*`` cases) and below (a write failing at the end)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from conftest import fill_disk_for_temporaries

from avalanche_neuromod.config import ConfigError
from avalanche_neuromod.outputs import (
    OutputError,
    WriteFailedError,
    atomic_file,
    atomic_write,
    check_output_dir,
    inside,
    write_or_fallback,
)

ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False


def test_an_existing_or_creatable_folder_passes_and_nothing_is_created(tmp_path):
    assert check_output_dir(tmp_path) == tmp_path
    assert list(tmp_path.iterdir()) == []  # the probe file is gone
    assert check_output_dir(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize(("target", "needle"), [
    ("file", "{file} is a file, not a folder"),
    ("file/sub", "{file}/sub cannot be created: {file} is a file"),
    ("file/a/b/c", "{file} is a file"),
], ids=["a-file", "under-a-file", "deep-under-a-file"])
def test_a_file_or_a_path_under_one_is_refused(tmp_path, target, needle):
    (tmp_path / "file").write_text("keep\n")
    with pytest.raises(ConfigError) as info:
        check_output_dir(tmp_path / target, field="--out")
    assert str(info.value).startswith("--out: ")
    assert needle.format(file=tmp_path / "file") in str(info.value)
    assert (tmp_path / "file").read_text() == "keep\n"


def test_a_folder_the_os_refuses_to_write_is_refused(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)  # as a read-only mount or ACL would
    with pytest.raises(ConfigError, match=r"^--out: .* is not writable \(Permission denied\)"):
        check_output_dir(tmp_path)


@pytest.mark.skipif(ROOT, reason="root writes into read-only folders (the test above covers it)")
def test_a_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(ConfigError, match=r"is not writable"):
            check_output_dir(folder)
        with pytest.raises(ConfigError, match=r"cannot be created: .* is not writable"):
            check_output_dir(folder / "new")
    finally:
        folder.chmod(0o755)


def test_files_to_rewrite_must_be_files(tmp_path):
    (tmp_path / "results.jsonl").mkdir()
    with pytest.raises(ConfigError, match=r"results.jsonl is not a file"):
        check_output_dir(tmp_path, files=("results.jsonl",))


@pytest.mark.parametrize("part", ["../escape", "/etc/passwd", "a/../../b", ".", ""])
def test_inside_refuses_paths_that_leave_the_folder(tmp_path, part):
    with pytest.raises(ConfigError, match=r"^name: .* would write outside"):
        inside(tmp_path / "reports", part, field="name")


def test_inside_keeps_ordinary_names(tmp_path):
    assert inside(tmp_path, "suite-a", field="n") == tmp_path / "suite-a"


def test_write_or_fallback_writes_atomically(tmp_path):
    path = write_or_fallback(tmp_path / "sub" / "r.json", "{}\n")
    assert path.read_text() == "{}\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["r.json"]  # no temporary left


def test_a_failed_atomic_write_names_the_file_keeps_the_old_one_and_leaves_no_temporary(
        tmp_path, monkeypatch):
    path = atomic_write(tmp_path / "r.json", b"old\n")
    fill_disk_for_temporaries(monkeypatch)
    with pytest.raises(WriteFailedError, match=f"^cannot write {path}: No space left on device$"):
        atomic_write(path, "new\n")
    with pytest.raises(KeyError), atomic_file(path, "w", encoding="utf-8") as fh:
        fh.write("half")
        raise KeyError("not a write error: it propagates as it is")
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_a_failed_write_goes_to_a_fallback_file_that_the_error_names(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    (tmp_path / "blocker").write_text("a file where the folder should be\n")
    with pytest.raises(OutputError) as info:
        write_or_fallback(tmp_path / "blocker" / "results.json", '{"runs": [1]}\n')
    message = str(info.value)
    assert message.startswith(f"cannot write {tmp_path / 'blocker' / 'results.json'} (")
    saved = Path(message.rsplit(" saved in ", 1)[1])
    assert saved.parent == tmp_path / "tmp" and saved.read_text() == '{"runs": [1]}\n'


def test_run_that_cannot_write_at_the_end_exits_1_and_keeps_the_results(tmp_path, monkeypatch,
                                                                          capsys):
    """The folder passes the check, then the write fails while the runs train (a full disk; here
    a folder where results.json goes): the results go to the fallback, exit 1."""
    from avalanche_neuromod import casestudy
    from avalanche_neuromod.cli import main

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    out = tmp_path / "out"

    def runs_then_the_folder_goes(cells, **kwargs):
        (out / "results.json").mkdir(parents=True)  # os.replace onto a folder fails
        return [{"cell": i} for i, _ in enumerate(cells)]

    monkeypatch.setattr(casestudy, "run_cells", runs_then_the_folder_goes)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("seeds: 1\npresets: [none]\nlearning: [reward]\ncued: null\n")
    rc = main(["run", "--config", str(cfg), "--out", str(out), "--workers", "1",
               "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1 and len(err.splitlines()) == 1 and "Traceback" not in err
    saved = Path(err.strip().rsplit(" saved in ", 1)[1])
    assert json.loads(saved.read_text())["runs"] == [{"cell": i} for i in range(3)]


def test_the_fallback_is_the_current_folder_when_the_temp_folder_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing" / "tmp"))
    (tmp_path / "missing").write_text("a file\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputError, match=r"saved in " + str(tmp_path)):
        write_or_fallback(tmp_path / "missing" / "x" / "r.json", "data\n")

"""Leaderboard runner: resume after a kill, crash-safe results, report from results.jsonl alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from avalanche_neuromod.cli import main
from avalanche_neuromod.config import ConfigError
from avalanche_neuromod.leaderboard import (
    append_record,
    load_suite,
    read_records,
    run_suite,
    suite_cells,
)
from avalanche_neuromod.leaderboard import runner as runner_module
from avalanche_neuromod.leaderboard.store import TruncatedRecordWarning

SUITE = """\
name: tiny
seeds: 2
budget:
  model: {hidden: 16, layers: 1, activation: tanh}
  optimizer: {name: sgd, lr: 0.3}
  train_mb_size: 8
  eval_mb_size: 64
benchmarks:
  - {name: gonogo, label: g, args: {cued: true, rules: [A, B], trials_per_rule: 48,
     test_trials: 16}}
strategies: [naive, none, full]
"""


@pytest.fixture
def suite_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(SUITE)
    return path


def test_cells_and_hashes(suite_file: Path):
    suite = load_suite(suite_file)
    cells = suite_cells(suite)
    assert len(cells) == 1 * 3 * 2 and len({c.key for c in cells}) == 6
    other = load_suite(suite_file)
    other["benchmarks"][0]["budget"]["optimizer"]["lr"] = 0.1
    assert suite_cells(other)[0].config_hash != cells[0].config_hash
    assert suite_cells(load_suite(suite_file))[0].config_hash == cells[0].config_hash


@pytest.mark.parametrize(("patch", "field"), [
    ("seeds: 0", "seeds"),
    ("strategies: [naive, nope]", "strategies[1]"),
    ("budget: {optimizer: {name: lbfgs, lr: 0.1}}", "budget.optimizer.name"),
    ("budget: {optimizer: {name: sgd, lr: 0}}", "budget.optimizer.lr"),
    ("budget: {model: {activation: swish}}", "budget.model.activation"),
    ("colour: red", "colour"),
])
def test_bad_suites_name_the_field(tmp_path: Path, patch: str, field: str):
    key = patch.split(":")[0]
    text = "\n".join(line for line in SUITE.splitlines()
                     if not line.startswith(key) and not (key == "budget" and line.startswith(
                         "  ") and "benchmarks" not in line and "name: gonogo" not in line
                         and "test_trials" not in line))
    path = tmp_path / "bad.yaml"
    path.write_text(text + "\n" + patch + "\n")
    with pytest.raises(ConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
        load_suite(path)


def test_truncated_last_line_is_reported_and_skipped(tmp_path: Path):
    path = tmp_path / "results.jsonl"
    cell = {"benchmark": "b", "strategy": "s", "seed": 0, "accuracy_matrix": [],
            "final_accuracy": None}  # what every record has (checked on reading)
    append_record(path, {"key": "a", "x": 1, **cell})
    with open(path, "a") as fh:
        fh.write('{"key": "b", "x"')  # a crash in the middle of a write
    with pytest.warns(TruncatedRecordWarning):
        assert [r["key"] for r in read_records(path)] == ["a"]
    append_record(path, {"key": "c", "x": 3, **cell})  # starts on a fresh line
    with pytest.warns(TruncatedRecordWarning):
        assert [r["key"] for r in read_records(path)] == ["a", "c"]


def _spy(monkeypatch) -> list[str]:
    ran: list[str] = []
    real = runner_module.run_suite_cell

    def spy(cell, **kwargs):
        ran.append(cell.key)
        return real(cell, **kwargs)

    monkeypatch.setattr(runner_module, "run_suite_cell", spy)
    return ran


def test_resume_runs_only_missing_cells(suite_file: Path, tmp_path: Path, monkeypatch):
    out = tmp_path / "out"
    suite = load_suite(suite_file)
    run_suite(suite, out_dir=out, workers=1, progress=False)
    results = out / "results.jsonl"
    lines = results.read_text().splitlines()
    results.write_text("\n".join(lines[:-1]) + "\n")  # the last cell never got appended
    ran = _spy(monkeypatch)
    run_suite(suite, out_dir=out, workers=1, progress=False)
    assert ran == [json.loads(lines[-1])["key"]]
    keys = [r["key"] for r in read_records(results)]
    assert sorted(keys) == sorted(c.key for c in suite_cells(suite))


def test_kill_and_resume_loses_and_duplicates_nothing(tmp_path: Path, monkeypatch):
    suite_file = tmp_path / "longer.yaml"
    suite_file.write_text(SUITE.replace("seeds: 2", "seeds: 8"))  # 24 cells: the kill lands
    total = 24
    out = tmp_path / "killed"
    results = out / "results.jsonl"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "avalanche_neuromod", "leaderboard",
                             str(suite_file), "--out", str(out), "--no-progress"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        if results.is_file() and len(results.read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {r["key"]: r for r in read_records(results)}
    assert 2 <= len(before) < total
    ran = _spy(monkeypatch)
    run_suite(load_suite(suite_file), out_dir=out, workers=1, progress=False)
    after = read_records(results)
    assert not set(ran) & set(before)  # no finished cell is recomputed
    keys = [r["key"] for r in after]
    assert len(keys) == len(set(keys)) == total  # every cell exactly once
    for record in after:
        if record["key"] in before:
            assert record == before[record["key"]]


def test_report_is_regenerated_byte_identical(suite_file: Path, tmp_path: Path, capsys):
    out = tmp_path / "board"
    assert main(["leaderboard", str(suite_file), "--out", str(out), "--no-progress"]) == 0
    first = (out / "leaderboard.md").read_bytes()
    assert main(["report", str(out / "results.jsonl"), "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "leaderboard.md").read_bytes() == first
    text = first.decode()
    assert "avalanche-neuromod leaderboard" in text and "± " in text
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    records = read_records(out / "results.jsonl")
    by = {(r["strategy"], r["seed"]): r for r in records}
    for seed in (0, 1):  # `none` is the same computation as Avalanche's Naive
        assert by[("none", seed)]["accuracy_matrix"] == by[("naive", seed)]["accuracy_matrix"]
    rows = [line for line in text.splitlines() if line.startswith("| 1 |")]
    assert rows and "full" in rows[0]  # ranked by mean final accuracy
    for record in records:
        for key in ("key", "suite", "benchmark", "scenario", "strategy", "seed", "config",
                    "config_hash", "final_accuracy", "accuracy_matrix", "forgetting", "bwt",
                    "fwt", "wall_time", "device", "versions", "git_commit", "command"):
            assert key in record

"""Leaderboards (avalanche_neuromod.leaderboard, report.leaderboard, the CLI's ``leaderboard``).

Suites are validated before anything runs (errors name the field), every cell has a unique key
whose config hash follows the budget and the preset, results are appended crash-safely, killing
the runner and re-running completes the suite without recomputing finished cells, and the report
is rendered from ``results.jsonl`` alone, byte-identically. Everything runs on a tiny cued
Go/No-Go stream (2 rules, 48 trials each), a few hundredths of a second per cell.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import avalanche.training
import pytest
import torch
import yaml
from avalanche.training.templates import SupervisedTemplate

from avalanche_neuromod.cli import main
from avalanche_neuromod.config import ConfigError
from avalanche_neuromod.leaderboard import (
    append_record,
    finished_keys,
    load_suite,
    read_records,
    run_suite,
    run_suite_cell,
    suite_cells,
)
from avalanche_neuromod.leaderboard import runner as runner_module
from avalanche_neuromod.leaderboard import spec as spec_module
from avalanche_neuromod.leaderboard import store as store_module
from avalanche_neuromod.leaderboard.store import InvalidRecordWarning, TruncatedRecordWarning
from avalanche_neuromod.models import build_model
from avalanche_neuromod.report.leaderboard import write_leaderboard
from avalanche_neuromod.strategies import registry
from avalanche_neuromod.strategies.baselines import BatchAgnosticMASPlugin, CopyingSIPlugin
from avalanche_neuromod.strategies.presets import PresetError, load_preset

PREFIX = "avalanche-neuromod: error:"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
COMMIT = "0" * 40
T_95_DF1 = 12.7062  # two-sided 95% Student t quantile, 1 degree of freedom (2 seeds)
BENCH = {"name": "gonogo", "label": "g",
         "args": {"cued": True, "rules": ["A", "B"], "trials_per_rule": 48, "test_trials": 16}}
BUDGET = {"model": {"hidden": 16, "layers": 1, "activation": "tanh"},
          "optimizer": {"name": "sgd", "lr": 0.3}, "train_mb_size": 8, "eval_mb_size": 64}
TINY = {"name": "tiny", "seeds": 2, "budget": BUDGET, "benchmarks": [BENCH],
        "strategies": ["naive", "full"]}
RECORD_KEYS = ("key", "suite", "benchmark", "scenario", "strategy", "seed", "config",
               "config_hash", "final_accuracy", "accuracy_matrix", "forgetting", "bwt", "fwt",
               "wall_time", "device", "versions", "git_commit", "command")
BASELINES = {"naive": "Naive", "ewc": "EWC", "si": "SynapticIntelligence", "lwf": "LwF",
             "mas": "MAS", "replay": "Replay", "agem": "AGEM", "gem": "GEM",
             "cumulative": "Cumulative", "joint": "JointTraining"}
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(),
                             reason="a CUDA GPU is available, so --device cuda is valid")


def tiny(**changes) -> dict:
    """A deep copy of the tiny suite with top-level keys replaced."""
    data = copy.deepcopy(TINY)
    data.update(copy.deepcopy(changes))
    return data


def write_suite(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def keys_of(path: Path) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncatedRecordWarning)
        return [r["key"] for r in read_records(path)]


def spy_cells(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the key of every cell the runner computes (it looks the function up per call)."""
    ran: list[str] = []
    real = runner_module.run_suite_cell

    def spy(cell, **kwargs):
        ran.append(cell.key)
        return real(cell, **kwargs)

    monkeypatch.setattr(runner_module, "run_suite_cell", spy)
    return ran


def assert_one_line_error(rc: int, out: str, err: str, needle: str) -> None:
    assert "Traceback" not in out + err
    assert rc == 2, (rc, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(PREFIX), err
    assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    assert out == ""


@pytest.fixture(autouse=True)
def _hermetic_provenance(monkeypatch: pytest.MonkeyPatch):
    """Provenance is checked for presence, not value: no git subprocess in process."""
    monkeypatch.setattr(runner_module, "git_commit", lambda: COMMIT)


# ------------------------------------------------------------------------- suite validation

BUDGET_CASES = [
    pytest.param({"optimizer": {"name": "lbfgs"}}, "suite.budget.optimizer.name", id="optimizer"),
    pytest.param({"optimizer": {"lr": 0}}, "suite.budget.optimizer.lr", id="lr-0"),
    pytest.param({"optimizer": {"lr": -0.1}}, "suite.budget.optimizer.lr", id="lr-negative"),
    pytest.param({"model": {"layers": -1}}, "suite.budget.model.layers", id="layers--1"),
    pytest.param({"model": {"activation": "swish"}}, "suite.budget.model.activation",
                 id="activation"),
    pytest.param({"train_mb_size": 0}, "suite.budget.train_mb_size", id="train-mb-0"),
    pytest.param({"colour": 1}, "suite.budget.colour", id="unknown-budget-key"),
]


def _deep_update(data: dict, update: dict) -> dict:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            _deep_update(data[key], value)
        else:
            data[key] = value
    return data


@pytest.mark.parametrize(("budget", "field"), BUDGET_CASES)
def test_bad_budget_names_the_field(budget, field):
    with pytest.raises(ConfigError, match=re.escape(field)):
        load_suite(tiny(budget=_deep_update(copy.deepcopy(BUDGET), budget)))


def test_bad_benchmark_budget_override_names_the_benchmark():
    bench = {**BENCH, "budget": {"optimizer": {"lr": 0}}}
    with pytest.raises(ConfigError, match=re.escape("suite.benchmarks[0].budget.optimizer.lr")):
        load_suite(tiny(benchmarks=[bench]))


SUITE_CASES = [
    pytest.param({"colour": "red"}, "suite.colour", id="unknown-top-level-key"),
    pytest.param({"benchmarks": [{**BENCH, "name": "cifar"}]}, "suite.benchmarks[0].name",
                 id="unknown-benchmark"),
    pytest.param({"benchmarks": [BENCH, {**BENCH, "args": {"cued": False}}]},
                 "suite.benchmarks[1].label", id="duplicate-label"),
    pytest.param({"benchmarks": [{**BENCH, "label": "gonogo"}, {"name": "gonogo"}]},
                 "suite.benchmarks[1].label", id="duplicate-default-label"),
    pytest.param({"benchmarks": []}, "suite.benchmarks", id="no-benchmarks"),
    pytest.param({"strategies": ["naive", "nope"]}, "suite.strategies[1]",
                 id="unknown-strategy"),
    pytest.param({"strategies": []}, "suite.strategies", id="empty-strategies"),
    pytest.param({"seeds": 0}, "suite.seeds", id="seeds-0"),
    pytest.param({"seeds": [0, -1]}, "suite.seeds", id="seeds-negative"),
    pytest.param({"learning": "evolution"}, "suite.learning", id="unknown-learning"),
    pytest.param({"name": ""}, "suite.name", id="empty-name"),
    # once accepted or crashing (duplicates, nulls, baselines under reward learning)
    pytest.param({"strategies": ["naive", "naive"]}, "suite.strategies[1]",
                 id="duplicate-strategy"),
    pytest.param({"seeds": [0, 0]}, "suite.seeds", id="duplicate-seed"),
    pytest.param({"budget": {**BUDGET, "model": None}}, "suite.budget.model", id="model-null"),
    pytest.param({"budget": 5}, "suite.budget", id="budget-not-mapping"),
    pytest.param({"learning": "reward"}, "suite.strategies[0]", id="reward-with-baseline"),
]


@pytest.mark.parametrize(("changes", "field"), SUITE_CASES)
def test_bad_suite_names_the_field(changes, field):
    with pytest.raises(ConfigError, match=re.escape(field)):
        load_suite(tiny(**changes))


def test_suite_file_errors_name_the_file_and_field(tmp_path: Path):
    path = write_suite(tmp_path / "bad.yaml", tiny(colour="red"))
    with pytest.raises(ConfigError, match=re.escape(f"{path}.colour")):
        load_suite(path)
    with pytest.raises(ConfigError, match="suite: no suite file"):
        load_suite(tmp_path / "missing.yaml")


def test_load_suite_does_not_alias_the_defaults():
    before = copy.deepcopy(spec_module.BUDGET_DEFAULT)
    suite = load_suite({k: v for k, v in tiny().items() if k != "budget"})
    suite["benchmarks"][0]["budget"]["model"]["hidden"] = 7
    try:
        assert spec_module.BUDGET_DEFAULT == before
    finally:
        spec_module.BUDGET_DEFAULT.clear()
        spec_module.BUDGET_DEFAULT.update(before)



CLI_CASES = [
    pytest.param({"colour": "red"}, [], ".colour", id="unknown-top-level-key"),
    pytest.param({"benchmarks": [{**BENCH, "name": "cifar"}]}, [], "benchmarks[0].name",
                 id="unknown-benchmark"),
    pytest.param({"benchmarks": [BENCH, BENCH]}, [], "benchmarks[1].label",
                 id="duplicate-label"),
    pytest.param({"strategies": ["naive", "nope"]}, [], "strategies[1]", id="unknown-strategy"),
    pytest.param({"strategies": []}, [], "strategies", id="empty-strategies"),
    pytest.param({"budget": {**BUDGET, "optimizer": {"name": "rmsprop", "lr": 0.1}}}, [],
                 "budget.optimizer.name", id="optimizer"),
    pytest.param({"budget": {**BUDGET, "optimizer": {"name": "sgd", "lr": 0}}}, [],
                 "budget.optimizer.lr", id="lr-0"),
    pytest.param({"budget": {**BUDGET, "model": {**BUDGET["model"], "layers": -1}}}, [],
                 "budget.model.layers", id="layers--1"),
    pytest.param({"budget": {**BUDGET, "model": {**BUDGET["model"], "activation": "gelu"}}},
                 [], "budget.model.activation", id="activation"),
    pytest.param({"seeds": 0}, [], "seeds", id="seeds-0"),
    pytest.param({}, ["--seeds", "0"], "seeds", id="cli-seeds-0"),
    pytest.param({}, ["--seeds", "x"], "--seeds", id="cli-seeds-x"),
    pytest.param({}, ["--workers", "0"], "--workers", id="cli-workers-0"),
    pytest.param({}, ["--strategies", "naive,ewc"], "--strategies", id="cli-strategies-unknown"),
    pytest.param({}, ["--strategies", ","], "--strategies", id="cli-strategies-empty"),
    pytest.param({}, ["--device", "cuda"], "device", id="device-cuda-without-gpu",
                 marks=NO_CUDA),
    pytest.param({}, ["--device", "tpu"], "device", id="device-unknown"),
    pytest.param({}, ["--data-root", "/nonexistent"], "dataset_root", id="data-root-missing"),
    pytest.param({}, ["--bogus"], "--bogus", id="unknown-option"),
    # once tracebacks or errors after writing
    pytest.param({"budget": {**BUDGET, "model": None}}, [], "budget.model", id="model-null"),
    pytest.param({"benchmarks": [{**BENCH, "args": {**BENCH["args"], "bogus": 1}}]}, [],
                 "benchmarks[0].args", id="unknown-benchmark-arg"),
    pytest.param({"learning": "reward", "strategies": ["none", "naive"]}, [], "naive",
                 id="reward-with-baseline"),
]


@pytest.mark.parametrize(("changes", "extra", "needle"), CLI_CASES)
def test_cli_bad_suite_exits_2_with_one_line(changes, extra, needle, tmp_path, capsys,
                                             monkeypatch):
    monkeypatch.chdir(tmp_path)  # a run that wrongly starts writes here, not into the repo

    def no_run(cell, **kwargs):
        raise AssertionError("bad input reached run_suite_cell: it must fail before any run")

    monkeypatch.setattr(runner_module, "run_suite_cell", no_run)
    path = write_suite(tmp_path / "suite.yaml", tiny(**changes))
    out_dir = tmp_path / "out"
    rc = main(["leaderboard", str(path), "--out", str(out_dir), "--no-progress", *extra])
    out, err = capsys.readouterr()
    assert_one_line_error(rc, out, err, needle)
    assert not out_dir.exists()


def test_cli_missing_suite_exits_2(tmp_path, capsys):
    rc = main(["leaderboard", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert_one_line_error(rc, out, err, "nope.yaml")


# ---------------------------------------------------------------------------------- cells


def test_cells_are_benchmarks_x_strategies_x_seeds_with_unique_keys():
    bench2 = {**BENCH, "label": "g2", "args": {**BENCH["args"], "rules": ["B", "A"]}}
    suite = load_suite(tiny(benchmarks=[BENCH, bench2], strategies=["naive", "none", "full"],
                            seeds=[3, 5]))
    cells = suite_cells(suite)
    assert [(c.benchmark, c.strategy, c.seed) for c in cells] == [
        (b, s, seed) for b in ("g", "g2") for s in ("naive", "none", "full") for seed in (3, 5)]
    assert len({c.key for c in cells}) == len(cells) == 12
    assert len({c.config_hash for c in cells}) == 12
    for cell in cells:
        assert cell.key == f"{cell.benchmark}|{cell.strategy}|{cell.seed}|{cell.config_hash}"
        assert re.fullmatch(r"[0-9a-f]{16}", cell.config_hash)
        assert cell.config["preset"] == load_preset(cell.strategy)
        assert cell.budget["optimizer"]["lr"] == 0.3  # the suite's value
        assert cell.budget["epochs"] == 1  # a default filled in


def test_config_hash_is_stable_across_calls_and_loads():
    cells = suite_cells(load_suite(tiny()))
    again = suite_cells(load_suite(tiny()))
    assert [c.config_hash for c in cells] == [c.config_hash for c in cells]
    assert [c.key for c in again] == [c.key for c in cells]


HASH_CHANGES = [
    pytest.param({"budget": {**BUDGET, "optimizer": {"name": "sgd", "lr": 0.1}}}, id="lr"),
    pytest.param({"budget": {**BUDGET, "model": {**BUDGET["model"], "hidden": 17}}},
                 id="hidden"),
    pytest.param({"budget": {**BUDGET, "train_mb_size": 16}}, id="train-mb-size"),
    pytest.param({"budget": {**BUDGET, "epochs": 2}}, id="epochs"),
    pytest.param({"benchmarks": [{**BENCH, "budget": {"eval_mb_size": 32}}]},
                 id="benchmark-budget"),
    pytest.param({"benchmarks": [{**BENCH, "args": {**BENCH["args"], "test_trials": 8}}]},
                 id="benchmark-args"),
    pytest.param({"name": "other"}, id="suite-name"),
    pytest.param({"learning": "reward", "strategies": ["none", "full"]}, id="learning"),
]


@pytest.mark.parametrize("changes", HASH_CHANGES)
def test_config_hash_follows_the_config(changes):
    base = {(c.benchmark, c.strategy, c.seed): c.config_hash for c in suite_cells(load_suite(
        tiny(strategies=["none", "full"])))}
    data = tiny(strategies=["none", "full"])
    data.update(copy.deepcopy(changes))
    other = {(c.benchmark, c.strategy, c.seed): c.config_hash
             for c in suite_cells(load_suite(data))}
    assert set(other) == set(base)
    assert all(other[k] != base[k] for k in base)


def test_config_hash_follows_a_preset_parameter(tmp_path: Path):
    preset = tmp_path / "my-ewc.yaml"
    preset.write_text("name: my-ewc\nbaseline: {class: EWC, args: {ewc_lambda: 1.0}}\n")
    cells = suite_cells(load_suite(tiny(strategies=[str(preset)])))
    first = [c.config_hash for c in cells]
    assert [c.config_hash for c in cells] == first
    preset.write_text("name: my-ewc\nbaseline: {class: EWC, args: {ewc_lambda: 2.0}}\n")
    changed = suite_cells(load_suite(tiny(strategies=[str(preset)])))
    assert all(a != b for a, b in zip(first, (c.config_hash for c in changed), strict=True))
    assert changed[0].config["preset"]["baseline"]["args"]["ewc_lambda"] == 2.0


# ---------------------------------------------------------------------------------- store


def test_append_record_writes_one_fsynced_line_per_call(tmp_path, monkeypatch):
    synced = []
    real_fsync = store_module.os.fsync

    def fsync(fd):
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(store_module.os, "fsync", fsync)
    path = tmp_path / "sub" / "results.jsonl"
    records = [_cell(f"k{i}", value=i, nested={"b": [1, None], "a": "é"}) for i in range(3)]
    for n, record in enumerate(records, start=1):
        append_record(path, record)
        text = path.read_text(encoding="utf-8")
        assert text.endswith("\n") and text.count("\n") == n
        assert len(synced) == n
    assert [json.loads(line) for line in path.read_text().splitlines()] == records
    assert read_records(path) == records
    assert finished_keys(path) == {"k0", "k1", "k2"}


def _cell(key: str, **extra) -> dict:
    """A record with every field a record must have (read_records checks them)."""
    return {"key": key, "benchmark": "b", "strategy": "s", "seed": 0, "accuracy_matrix": [],
            "final_accuracy": None, **extra}


def test_truncated_last_line_is_skipped_with_a_warning_and_the_next_append_is_readable(
        tmp_path):
    path = tmp_path / "results.jsonl"
    append_record(path, _cell("a", x=1))
    append_record(path, _cell("b", x=2))
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"key": "c", "x": ')  # a crash in the middle of the write
    with pytest.warns(TruncatedRecordWarning, match=":3:"):
        assert [r["key"] for r in read_records(path)] == ["a", "b"]
    with pytest.warns(TruncatedRecordWarning):
        assert finished_keys(path) == {"a", "b"}
    append_record(path, _cell("d", x=4))
    lines = path.read_text().splitlines()
    assert lines[2] == '{"key": "c", "x": '
    assert json.loads(lines[3]) == _cell("d", x=4)
    with pytest.warns(TruncatedRecordWarning):
        assert [r["key"] for r in read_records(path)] == ["a", "b", "d"]


def test_records_without_a_key_are_reported_and_blank_lines_ignored(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('{"x": 1}\n\n[1, 2]\n"text"\n' + json.dumps(_cell("a")) + "\n")
    with pytest.warns(InvalidRecordWarning) as seen:  # not a record: named, never a crash
        assert read_records(path) == [_cell("a")]
    assert [str(w.message).split(": ")[0].rsplit(":", 1)[1] for w in seen] == ["1", "3", "4"]
    assert read_records(tmp_path / "missing.jsonl") == []


# --------------------------------------------------------------------------------- resume


def test_resume_runs_exactly_the_missing_cell(tmp_path, monkeypatch):
    suite = load_suite(tiny())
    expected = [c.key for c in suite_cells(suite)]
    out = tmp_path / "out"
    summary = run_suite(suite, out_dir=out, workers=1, progress=False)
    assert summary["ran"] == 4 and summary["skipped"] == 0
    results = out / "results.jsonl"
    lines = results.read_text().splitlines(keepends=True)
    assert keys_of(results) == expected  # workers=1: appended in cell order
    results.write_text("".join(lines[:-1]))  # the last cell was killed before its append
    ran = spy_cells(monkeypatch)
    summary = run_suite(suite, out_dir=out, workers=1, progress=False)
    assert ran == [json.loads(lines[-1])["key"]]
    assert summary["ran"] == 1 and summary["skipped"] == 3
    assert Counter(keys_of(results)) == Counter(expected)
    assert results.read_text().startswith("".join(lines[:-1]))
    ran.clear()
    assert run_suite(suite, out_dir=out, workers=1, progress=False)["ran"] == 0
    assert ran == []


def test_a_suite_run_in_parts_by_strategy_and_seed_fills_one_results_file(tmp_path, capsys,
                                                                         monkeypatch):
    """``--strategies`` and ``--seeds`` pick cells without changing their keys: the parts
    (as two processes or two sessions would run them) add up to the whole suite, once each."""
    full = [c.key for c in suite_cells(load_suite(tiny()))]
    part = suite_cells(load_suite(tiny(), strategies=["full"]))
    assert [c.key for c in part] == [k for k in full if "|full|" in k]
    path = write_suite(tmp_path / "suite.yaml", tiny())
    out = tmp_path / "out"
    ran = spy_cells(monkeypatch)
    args = ["leaderboard", str(path), "--out", str(out), "--no-progress"]
    assert main([*args, "--strategies", "full", "--seeds", "1,"]) == 0
    assert main([*args, "--strategies", "naive,full"]) == 0
    capsys.readouterr()
    assert ran[0] == next(k for k in full if "|full|1|" in k)
    assert sorted(ran) == sorted(full)  # three cells in the second part, none twice
    assert Counter(keys_of(out / "results.jsonl")) == Counter(full)


def test_resume_after_a_torn_write_reruns_that_cell_once(tmp_path, monkeypatch):
    suite = load_suite(tiny())
    expected = [c.key for c in suite_cells(suite)]
    out = tmp_path / "out"
    run_suite(suite, out_dir=out, workers=1, progress=False)
    results = out / "results.jsonl"
    lines = results.read_text().splitlines(keepends=True)
    results.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    ran = spy_cells(monkeypatch)
    with pytest.warns(TruncatedRecordWarning):
        run_suite(suite, out_dir=out, workers=1, progress=False)
    assert ran == [expected[-1]]
    assert Counter(keys_of(results)) == Counter(expected)


def test_changed_budget_reruns_every_cell(tmp_path, monkeypatch):
    out = tmp_path / "out"
    run_suite(load_suite(tiny()), out_dir=out, workers=1, progress=False)
    ran = spy_cells(monkeypatch)
    changed = load_suite(tiny(budget={**BUDGET, "optimizer": {"name": "sgd", "lr": 0.2}}))
    run_suite(changed, out_dir=out, workers=1, progress=False)
    assert ran == [c.key for c in suite_cells(changed)]


KILL_SUITE = tiny(strategies=["naive", "full", "none"], benchmarks=[
    {**BENCH, "args": {**BENCH["args"], "trials_per_rule": 1500}}])  # 6 cells, ~0.3-1 s each


def test_sigkill_then_rerun_recomputes_no_finished_cell(tmp_path, monkeypatch):
    path = write_suite(tmp_path / "kill.yaml", KILL_SUITE)
    cells = suite_cells(load_suite(path))
    out = tmp_path / "killed"
    results = out / "results.jsonl"
    # a bare PATH: the killed run need not call git for its provenance
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PATH": os.path.dirname(sys.executable)}
    proc = subprocess.Popen([sys.executable, "-m", "avalanche_neuromod", "leaderboard",
                             str(path), "--out", str(out), "--workers", "1", "--no-progress"],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if results.is_file() and results.read_bytes().count(b"\n") >= 2:
                break
            time.sleep(0.01)
        assert proc.poll() is None, f"the runner ended before the kill: {proc.stderr.read()}"
        assert results.is_file(), "no cell finished within 60 s"
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    before_text = results.read_text()
    before = {r["key"]: r for r in read_records(results)}
    assert 2 <= len(before) < len(cells)
    assert set(before) <= {c.key for c in cells}
    ran = spy_cells(monkeypatch)
    run_suite(load_suite(path), out_dir=out, workers=1, progress=False)
    assert ran and not set(ran) & set(before)  # no finished cell is recomputed
    assert sorted(ran) == sorted({c.key for c in cells} - set(before))
    after = read_records(results)
    assert Counter(r["key"] for r in after) == Counter(c.key for c in cells)
    assert results.read_text().startswith(before_text)  # first run's lines untouched
    for record in after:
        if record["key"] in before:
            assert record == before[record["key"]]
        else:
            assert record["git_commit"] == COMMIT


# ------------------------------------------------------------------- records and the report


@pytest.fixture(scope="module")
def board(tmp_path_factory) -> Path:
    """The tiny suite with naive, none and full, 2 seeds, run through the CLI once."""
    root = tmp_path_factory.mktemp("board")
    path = write_suite(root / "tiny.yaml", tiny(strategies=["naive", "none", "full"]))
    out = root / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner_module, "git_commit", lambda: COMMIT)
        mp.chdir(root)
        assert main(["leaderboard", str(path), "--out", str(out), "--no-progress"]) == 0
    return out


def test_records_have_every_field(board: Path):
    records = read_records(board / "results.jsonl")
    suite = load_suite(board.parent / "tiny.yaml")
    cells = {c.key: c for c in suite_cells(suite)}
    assert Counter(r["key"] for r in records) == Counter(list(cells))
    for r in records:
        assert set(RECORD_KEYS) <= set(r), set(RECORD_KEYS) - set(r)
        cell = cells[r["key"]]
        assert (r["suite"], r["benchmark"], r["scenario"]) == ("tiny", "g", "gonogo")
        assert (r["strategy"], r["seed"]) == (cell.strategy, cell.seed)
        assert r["config"] == json.loads(json.dumps(cell.config))
        assert r["config_hash"] == cell.config_hash
        assert r["config"]["budget"] == suite["benchmarks"][0]["budget"]
        matrix = r["accuracy_matrix"]
        assert len(matrix) == 2 and all(len(row) == 2 for row in matrix)
        assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for row in matrix for v in row)
        # equal-sized test experiences: stream accuracy is the mean of the last row
        assert r["final_accuracy"] == pytest.approx(sum(matrix[-1]) / 2, abs=1e-6)
        assert r["forgetting"] == pytest.approx(matrix[0][0] - matrix[1][0], abs=1e-6)
        assert r["bwt"] == pytest.approx(-r["forgetting"], abs=1e-6)
        assert isinstance(r["fwt"], float) and math.isfinite(r["fwt"])
        assert isinstance(r["wall_time"], float) and r["wall_time"] > 0
        assert r["device"] == "cpu"
        assert {"avalanche-neuromod", "avalanche-lib", "torch"} <= set(r["versions"])
        assert r["versions"]["torch"] != "not installed"
        assert r["git_commit"] == COMMIT
        assert r["command"].startswith("avalanche-neuromod leaderboard ")
        assert "--out" in r["command"]


def test_naive_and_none_are_the_same_computation(board: Path):
    by = {(r["strategy"], r["seed"]): r for r in read_records(board / "results.jsonl")}
    for seed in (0, 1):
        naive, none = by[("naive", seed)], by[("none", seed)]
        assert naive["accuracy_matrix"] == none["accuracy_matrix"]
        assert naive["final_accuracy"] == none["final_accuracy"]
        assert naive["config"]["budget"] == none["config"]["budget"]


def _table(md: str, bench: str) -> list[list[str]]:
    section = md.split(f"## {bench}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if re.match(r"\| \d+ \|", line)]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def test_report_ranks_by_mean_final_accuracy_with_ci(board: Path):
    md = (board / "leaderboard.md").read_text(encoding="utf-8")
    records = read_records(board / "results.jsonl")
    finals: dict[str, list[float]] = {}
    for r in records:
        finals.setdefault(r["strategy"], []).append(r["final_accuracy"])
    means = {s: statistics.fmean(v) for s, v in finals.items()}
    assert len(set(means.values())) > 1  # the ranking is not a tie everywhere
    rows = _table(md, "g")
    assert [row[0] for row in rows] == ["1", "2", "3"]
    order = [row[1] for row in rows]
    assert sorted(order) == sorted(means)
    assert [means[s] for s in order] == sorted(means.values(), reverse=True)
    for row in rows:
        strategy, seeds, final = row[1], row[2], row[3]
        assert seeds == "2"
        match = re.fullmatch(r"(-?\d+\.\d{3}) ± (\d+\.\d{3})", final)
        assert match, final
        values = finals[strategy]
        half = T_95_DF1 * statistics.stdev(values) / math.sqrt(len(values))
        assert float(match[1]) == pytest.approx(means[strategy], abs=6e-4)
        assert float(match[2]) == pytest.approx(half, abs=6e-4)


def test_report_shows_the_command_and_is_regenerated_byte_identical(board: Path, tmp_path,
                                                                    capsys):
    first = (board / "leaderboard.md").read_bytes()
    md = first.decode()
    commands = {r["command"] for r in read_records(board / "results.jsonl")}
    assert len(commands) == 1
    assert next(iter(commands)) in md
    assert COMMIT in md
    pngs = sorted(p.name for p in board.glob("*.png"))
    assert pngs == ["curves_g.png", "heatmap_g.png"]
    for name in pngs:
        assert (board / name).read_bytes().startswith(PNG_MAGIC)
        assert f"]({name})" in md

    direct = write_leaderboard(board / "results.jsonl", tmp_path / "direct")
    assert direct == tmp_path / "direct" / "leaderboard.md"
    assert direct.read_bytes() == first

    other = tmp_path / "again"
    rc = main(["report", str(board / "results.jsonl"), "--out", str(other)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "leaderboard:" in out
    assert (other / "leaderboard.md").read_bytes() == first
    assert sorted(p.name for p in other.glob("*.png")) == pngs
    for name in pngs:
        assert (other / name).read_bytes().startswith(PNG_MAGIC)


def test_write_leaderboard_defaults_next_to_results(tmp_path):
    out = tmp_path / "run"
    run_suite(load_suite(tiny(strategies=["naive"])), out_dir=out, workers=1, progress=False,
              command="avalanche-neuromod leaderboard my-suite.yaml --seeds 2")
    path = write_leaderboard(out / "results.jsonl")
    assert path == out / "leaderboard.md"
    md = path.read_text(encoding="utf-8")
    assert "avalanche-neuromod leaderboard my-suite.yaml --seeds 2" in md
    assert re.search(r"\| 1 \| naive \| 2 \| \d\.\d{3} ± \d+\.\d{3} \|", md), md
    for png in ("heatmap_g.png", "curves_g.png"):
        assert (out / png).read_bytes().startswith(PNG_MAGIC)


def test_report_of_an_empty_results_file_exits_2(tmp_path, capsys):
    results = tmp_path / "results.jsonl"
    results.write_text('{"x": 1}\n')
    rc = main(["report", str(results)])
    out, err = capsys.readouterr()
    assert_one_line_error(rc, out, err, "results")


# ------------------------------------------------------------------------------- baselines


@pytest.mark.parametrize("name", BASELINES)
def test_baseline_builds_and_trains_on_the_tiny_suite(name, monkeypatch):
    built = []
    real = registry.build_strategy

    def spy(*args, **kwargs):
        strategy = real(*args, **kwargs)
        built.append(strategy)
        return strategy

    monkeypatch.setattr(registry, "build_strategy", spy)
    cell = suite_cells(load_suite(tiny(strategies=[name], seeds=[0])))[0]
    record = run_suite_cell(cell)
    assert len(built) == 1
    if name == "mas":  # Avalanche's MAS with an importance pass that takes (x, y, stim, t)
        assert isinstance(built[0], SupervisedTemplate)
        assert any(isinstance(p, BatchAgnosticMASPlugin) for p in built[0].plugins)
    elif name == "si":  # Avalanche's SI with snapshots that are copies on a CPU
        assert isinstance(built[0], SupervisedTemplate)
        assert any(isinstance(p, CopyingSIPlugin) for p in built[0].plugins)
    else:
        assert type(built[0]) is getattr(avalanche.training, BASELINES[name])
    assert record["strategy"] == name
    matrix = record["accuracy_matrix"]
    rows = 1 if name == "joint" else 2  # joint training: one phase over the whole stream
    assert len(matrix) == rows and all(len(row) == 2 for row in matrix)
    assert all(v is not None and 0.0 <= v <= 1.0 for row in matrix for v in row)
    assert 0.0 <= record["final_accuracy"] <= 1.0


@pytest.mark.parametrize("name", list(BASELINES))
def test_baseline_with_reward_learning_raises_preset_error(name):
    model = build_model(input_size=4, n_classes=2, hidden=8, layers=1, activation="tanh")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(PresetError, match="supervised only"):
        registry.build_strategy(name, model=model, optimizer=optimizer, learning="reward",
                                train_mb_size=8, train_epochs=1, eval_mb_size=8,
                                device="cpu")


# ------------------------------------------------------------------- divergence and joint


def test_a_diverged_cell_is_recorded_and_the_suite_goes_on(tmp_path: Path, monkeypatch):
    from avalanche_neuromod.plugins.guard import NumericalFaultError

    real = runner_module.run_suite_cell

    def flaky(cell, **kwargs):
        if cell.strategy == "naive" and cell.seed == 1:
            raise NumericalFaultError("numerical fault: 10 consecutive updates (test)")
        return real(cell, **kwargs)

    monkeypatch.setattr(runner_module, "run_suite_cell", flaky)
    suite = load_suite(tiny(strategies=["naive", "joint"]))
    with pytest.warns(UserWarning, match="diverged"):
        summary = run_suite(suite, out_dir=tmp_path, progress=False)
    assert summary["ran"] == 4
    records = {(r["strategy"], r["seed"]): r for r in read_records(tmp_path / "results.jsonl")}
    bad = records[("naive", 1)]
    assert bad["status"] == "diverged" and "10 consecutive" in bad["error"]
    assert bad["final_accuracy"] is None and bad["accuracy_matrix"] == []
    assert records[("naive", 0)]["final_accuracy"] is not None
    assert len(records[("joint", 0)]["accuracy_matrix"]) == 1  # one phase, whole stream
    assert records[("joint", 0)]["forgetting"] is None
    # a re-run does not retry it; the report counts it and averages the other seed only
    assert run_suite(suite, out_dir=tmp_path, progress=False)["ran"] == 0
    text = write_leaderboard(tmp_path / "results.jsonl").read_text()
    assert "naive (1/2 diverged)" in text
    row = next(line for line in text.splitlines() if "naive (1/2 diverged)" in line)
    assert f"{records[('naive', 0)]['final_accuracy']:.3f}" in row
    assert "| joint | 2 |" in text


def test_mas_accepts_a_loss_of_exactly_zero():
    from types import SimpleNamespace

    from avalanche_neuromod.strategies.baselines import BatchAgnosticMASPlugin

    plugin = BatchAgnosticMASPlugin(lambda_reg=2.0, alpha=0.5)
    weight = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    model = torch.nn.Module()
    model.w = weight
    plugin.importance = {"w": torch.tensor([1.0, 3.0])}
    plugin.params = {"w": torch.tensor([0.0, 0.0])}
    strategy = SimpleNamespace(model=model, loss=weight.sum() * 0.0,
                               clock=SimpleNamespace(train_exp_counter=1))
    plugin.before_backward(strategy)  # Avalanche's own check raises "Loss is not available"
    assert float(strategy.loss) == pytest.approx(2.0 * (1.0 * 1.0 + 3.0 * 4.0))


def test_si_on_cpu_learns_importances_and_its_penalty_acts():
    """Avalanche's SI snapshots weights as views on a CPU (zero importances, SI == Naive)."""
    from avalanche.training.determinism.rng_manager import RNGManager

    from avalanche_neuromod.benchmarks import get_benchmark
    from avalanche_neuromod.strategies.baselines import CopyingSIPlugin

    bm = get_benchmark("gonogo", cued=True, rules=["A", "B"], trials_per_rule=48, seed=0)
    weights, importances = {}, {}
    for si_lambda in (0.0, 1000.0):
        RNGManager.set_random_seeds(0)
        model = build_model(input_size=bm.input_size, n_classes=2, hidden=8, layers=1,
                            activation="tanh")
        strategy = registry.build_strategy(
            {"name": "si", "baseline": {"class": "SynapticIntelligence",
                                        "args": {"si_lambda": si_lambda}}},
            model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.3),
            train_mb_size=8, eval_mb_size=64)
        plugin = next(p for p in strategy.plugins if isinstance(p, CopyingSIPlugin))
        strategy.train(bm.train_stream[0])
        importances[si_lambda] = sum(float(v.data.abs().sum())
                                     for v in plugin.ewc_data[1].values())
        strategy.train(bm.train_stream[1])
        weights[si_lambda] = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert importances[0.0] > 0.0 and importances[0.0] == importances[1000.0]
    assert not torch.equal(weights[0.0], weights[1000.0])  # the penalty changed the 2nd task

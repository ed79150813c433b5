"""Crash safety, determinism and safety of the leaderboard (issue 7, points 2, 5 and 6).

* The leaderboard runner is SIGKILLed at several points (between cells and in the middle of one)
  and resumed each time: no cell is lost or duplicated, finished lines are never rewritten, an
  interrupted cell resumes from its checkpoint, and the final results equal an uninterrupted run.
* The same seed gives the same record, with torch's deterministic algorithms on during the run.
* Nothing is loaded with pickle: every ``torch.load`` of the package passes ``weights_only=True``
  and a checkpoint carrying code is refused; the W&B API key never reaches results, reports,
  W&B's config or the console.
"""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import time
import types
import warnings
from collections import Counter
from pathlib import Path

import pytest
import torch
import wandb
import yaml

from avalanche_neuromod.checkpoint import CheckpointError, load_checkpoint
from avalanche_neuromod.cli import main
from avalanche_neuromod.leaderboard import (
    load_suite,
    ray_engine,
    read_records,
    run_suite,
    suite_cells,
)
from avalanche_neuromod.leaderboard import runner as runner_module
from avalanche_neuromod.leaderboard.runner import checkpoint_path, run_suite_cell
from avalanche_neuromod.leaderboard.store import RecordWarning, TruncatedRecordWarning

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "avalanche_neuromod"
COMMIT = "0" * 40
PREFIX = "avalanche-neuromod: error:"
SECRET = "wandb-test-key-0123456789abcdef0123456789abcdef"
BENCH = {"name": "gonogo", "label": "g",
         "args": {"cued": True, "rules": ["A", "B", "X", "Y"], "trials_per_rule": 64,
                  "test_trials": 32, "noise": 0.5}}
BUDGET = {"model": {"hidden": 32, "layers": 1, "activation": "tanh"},
          "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
          "train_mb_size": 8, "eval_mb_size": 256}
SUITE = {"name": "rel", "seeds": 2, "budget": BUDGET, "benchmarks": [BENCH],
         "strategies": ["naive", "full", "ewc"]}
# cells of about a second each (6 in all): kills land between cells and inside them
KILL_SUITE = {**SUITE, "benchmarks": [{**BENCH, "args": {
    **BENCH["args"], "rules": ["A", "B", "X", "Y", "A", "B"], "trials_per_rule": 240}}]}
VOLATILE = ("wall_time", "command", "git_commit")


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch):
    monkeypatch.setattr(runner_module, "git_commit", lambda: COMMIT)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def stable(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in VOLATILE}


def records(path: Path) -> list[dict]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecordWarning)
        return read_records(path)


# -------------------------------------------------------------- point 2: SIGKILL at several points


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 120) -> bool:
    """SIGKILL ``proc`` as soon as ``ready()``; False when it ended first."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if ready():
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
    finally:
        if proc.poll() is None and time.monotonic() >= deadline:
            proc.kill()
        proc.wait(timeout=60)
    return proc.returncode == -signal.SIGKILL


def test_leaderboard_killed_at_several_points_loses_and_duplicates_nothing(tmp_path,
                                                                           monkeypatch):
    path = tmp_path / "kill.yaml"
    path.write_text(yaml.safe_dump(KILL_SUITE))
    suite = load_suite(path)
    cells = suite_cells(suite)
    keys = [c.key for c in cells]
    out = tmp_path / "out"
    results, checkpoints = out / "results.jsonl", out / "checkpoints"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PATH": os.path.dirname(sys.executable)}

    def lines() -> int:
        return results.read_bytes().count(b"\n") if results.is_file() else 0

    def mid_cell(after: int):
        """Ready once ``after`` cells are appended and the next one has a checkpoint."""
        def ready() -> bool:
            return lines() >= after and any(
                checkpoint_path(checkpoints, c).is_file() for c in cells[after:])
        return ready

    kills = [lambda: lines() >= 1, mid_cell(3), mid_cell(5)]
    history, interrupted = [], set()
    for point, ready in enumerate(kills):
        before = results.read_bytes() if results.is_file() else b""
        proc = subprocess.Popen(
            [sys.executable, "-m", "avalanche_neuromod", "leaderboard", str(path), "--out",
             str(out), "--workers", "1", "--no-progress"],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert _kill_when(proc, ready), f"kill {point}: the runner ended before the kill"
        interrupted |= {c.key for c in cells if checkpoint_path(checkpoints, c).is_file()}
        after = results.read_bytes()
        assert after.startswith(before), "a finished line was rewritten"
        found = [r["key"] for r in records(results)]
        assert len(found) == len(set(found)) and set(found) <= set(keys)
        history.append(len(found))
    assert history == sorted(history) and history[-1] < len(keys)
    assert history[1] >= 3 and history[2] == 5 and len(interrupted) >= 2
    before = results.read_bytes()
    summary = run_suite(suite, out_dir=out, workers=1, progress=False)
    assert summary["skipped"] == history[-1]
    assert results.read_bytes().startswith(before)
    final = records(results)
    assert Counter(r["key"] for r in final) == Counter(keys)  # every cell exactly once
    assert not list(checkpoints.glob("*.pt"))  # finished cells leave no checkpoint behind
    # cells killed mid-cell resumed from their checkpoint and end as if never interrupted
    by_key = {r["key"]: r for r in final}
    for cell in cells:
        if cell.key in interrupted:
            assert stable(by_key[cell.key]) == stable(run_suite_cell(cell))


def test_leaderboard_reports_a_torn_line_and_reruns_its_cell_once(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**SUITE, "seeds": 1}))
    out = tmp_path / "out"
    assert main(["leaderboard", str(path), "--out", str(out), "--no-progress"]) == 0
    results = out / "results.jsonl"
    text = results.read_text().splitlines(keepends=True)
    results.write_text("".join(text[:-1]) + text[-1][:40])  # an older crash tore the last line
    capsys.readouterr()
    with pytest.warns(TruncatedRecordWarning, match="incomplete record"):
        assert main(["leaderboard", str(path), "--out", str(out), "--no-progress"]) == 0
    assert "1 cells run, 2 already finished" in capsys.readouterr().out
    keys = [r["key"] for r in records(results)]
    assert Counter(keys) == Counter(c.key for c in suite_cells(load_suite(path)))
    assert text[-1][:40] in results.read_text()  # kept on disk, never merged into a record


# ---------------------------------------------------------------------------- point 5: determinism


def test_same_seed_same_record_with_deterministic_algorithms(monkeypatch):
    seen = []
    real = runner_module._benchmark

    def spy(cell):
        seen.append(torch.are_deterministic_algorithms_enabled())
        return real(cell)

    monkeypatch.setattr(runner_module, "_benchmark", spy)
    cells = {(c.strategy, c.seed): c for c in suite_cells(load_suite(SUITE))}
    for strategy in ("full", "ewc"):
        first = run_suite_cell(cells[(strategy, 0)])
        torch.manual_seed(12345)  # whatever happened before, the cell reseeds everything
        second = run_suite_cell(cells[(strategy, 0)])
        assert stable(first) == stable(second)
        other = run_suite_cell(cells[(strategy, 1)])
        assert other["accuracy_matrix"] != first["accuracy_matrix"]  # the seed matters
    assert seen and all(seen)
    assert not torch.are_deterministic_algorithms_enabled()  # restored after the run


# ------------------------------------------------------------------------------- point 6: safety


def _calls(tree: ast.AST, dotted: str):
    module, _, name = dotted.rpartition(".")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr == name and isinstance(node.func.value, ast.Name) and \
                node.func.value.id == module:
            yield node


def test_no_pickle_based_loading_anywhere_in_the_package():
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) > 20
    loads = 0
    for source in sources:
        tree = ast.parse(source.read_text(), filename=str(source))
        for call in _calls(tree, "torch.load"):
            loads += 1
            flags = {k.arg: k.value for k in call.keywords}
            assert isinstance(flags.get("weights_only"), ast.Constant) and \
                flags["weights_only"].value is True, \
                f"{source}:{call.lineno}: torch.load without weights_only=True"
        for banned in ("pickle.load", "pickle.loads", "dill.load", "dill.loads", "yaml.load",
                       "yaml.unsafe_load", "marshal.loads"):
            hits = [c.lineno for c in _calls(tree, banned)]
            assert not hits, f"{source}:{hits}: {banned}"
        for call in _calls(tree, "np.load"):
            flags = {k.arg: k.value for k in call.keywords}
            assert "allow_pickle" not in flags, f"{source}:{call.lineno}: np.load pickles"
        assert "import dill" not in source.read_text()
    assert loads >= 1  # the checkpoint loader is among them


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_carrying_code_is_refused_without_running_it(tmp_path, capsys):
    suite = tmp_path / "s.yaml"
    suite.write_text(yaml.safe_dump({**SUITE, "seeds": 1}))
    cell = next(c for c in suite_cells(load_suite(suite)) if c.strategy == "full")
    out = tmp_path / "out"
    path = checkpoint_path(out / "checkpoints", cell)
    path.parent.mkdir(parents=True)
    marker = tmp_path / "pwned"
    torch.save({"format": "avalanche-neuromod-checkpoint/1", "x": _Payload(marker)}, path)
    with pytest.raises(CheckpointError, match="is not a valid checkpoint"):
        load_checkpoint(path)
    before = path.read_bytes()
    rc = main(["train", str(suite), "--benchmark", "g", "--strategy", "full", "--out", str(out),
               "--resume"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and err.startswith(PREFIX), err
    assert "Traceback" not in err and "not a valid checkpoint" in err
    assert not marker.exists(), "the pickled code ran"
    assert path.read_bytes() == before  # the file is left for inspection
    assert not (out / "record.json").exists()


def test_wandb_api_key_never_leaks(tmp_path, monkeypatch, capsys, caplog):
    monkeypatch.setenv("WANDB_API_KEY", SECRET)
    monkeypatch.delenv("WANDB_MODE", raising=False)  # a key is set: the logger goes online
    runs = []

    class FakeRun:
        def __init__(self, **kwargs):
            self.kwargs, self.logs, self.summary = kwargs, [], {}
            runs.append(self)

        def log(self, data, **kwargs):
            self.logs.append(repr(data))

        def define_metric(self, *args, **kwargs):
            pass

        def finish(self, *args, **kwargs):
            pass

    monkeypatch.setattr(wandb, "init", lambda **kwargs: FakeRun(**kwargs))
    monkeypatch.chdir(tmp_path)
    suite = tmp_path / "s.yaml"
    suite.write_text(yaml.safe_dump({**SUITE, "seeds": 1, "strategies": ["naive", "full"]}))
    board, single = tmp_path / "board", tmp_path / "single"
    assert main(["leaderboard", str(suite), "--out", str(board), "--no-progress", "--wandb",
                 "--wandb-dir", str(tmp_path / "wandb")]) == 0
    assert main(["train", str(suite), "--benchmark", "g", "--strategy", "full", "--out",
                 str(single), "--wandb", "--wandb-dir", str(tmp_path / "wandb")]) == 0
    assert runs, "no W&B run was started"
    assert any(run.kwargs.get("mode") == "online" for run in runs)  # the key was seen
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err
    assert SECRET not in caplog.text
    for run in runs:
        assert SECRET not in repr(run.kwargs) + "".join(run.logs) + repr(run.summary)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "results.jsonl" for p in written)
    assert any(p.name == "record.json" for p in written)
    for p in written:
        assert SECRET.encode() not in p.read_bytes(), f"the API key is in {p}"


def test_a_local_ray_is_bound_to_loopback(monkeypatch):
    """The Ray engine's private cluster listens on 127.0.0.1 only, without a dashboard."""

    seen = {}

    class Stop(Exception):
        pass

    def init(**kwargs):
        seen.update(kwargs, cluster_env=os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"))
        raise Stop

    fake = types.SimpleNamespace(is_initialized=lambda: False, init=init,
                                 shutdown=lambda: None)
    monkeypatch.setitem(sys.modules, "ray", fake)
    with pytest.raises(Stop):
        ray_engine.run_cells_ray(lambda cell: {}, ["cell"], progress=False)
    assert seen["_node_ip_address"] == "127.0.0.1"
    assert seen["include_dashboard"] is False
    assert seen["cluster_env"] == "0"  # Ray would otherwise swap 127.0.0.1 for the host's IP


# ------------------------------------------------------------ runtime faults (issue 19)


def _suite_file(tmp_path: Path, **changes) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**SUITE, "seeds": 1, **changes}))
    return path


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_a_second_process_on_one_out_is_told_who_holds_it(tmp_path, capsys):
    suite = _suite_file(tmp_path, strategies=["naive"])
    out = tmp_path / "out"
    assert main(["leaderboard", str(suite), "--out", str(out), "--no-progress"]) == 0
    before = _snapshot(out)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from avalanche_neuromod.leaderboard.store import "
         f"output_lock\nwith output_lock({str(out)!r}):\n print('held', flush=True)\n "
         "sys.stdin.read()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        capsys.readouterr()
        for argv in (["leaderboard", str(suite), "--out", str(out), "--no-progress"],
                     ["train", str(suite), "--benchmark", "g", "--strategy", "naive", "--out",
                      str(out)]):
            rc = main(argv)
            err = capsys.readouterr().err
            assert rc == 2 and err.count("\n") == 1 and err.startswith(PREFIX), err
            assert f"is in use by another avalanche-neuromod process (pid {holder.pid} on " in err
        assert _snapshot(out) == {**before, Path(".lock"): (out / ".lock").read_bytes()}
    finally:
        holder.communicate("", timeout=60)
    assert _snapshot(out) == before  # the holder is gone and so is its lock


def test_damaged_lines_in_results_are_named_and_their_cells_run_again(tmp_path, capsys):
    suite = _suite_file(tmp_path)
    out = tmp_path / "out"
    assert main(["leaderboard", str(suite), "--out", str(out), "--no-progress"]) == 0
    results = out / "results.jsonl"
    lines = results.read_bytes().splitlines(keepends=True)
    assert len(lines) == 3
    bad = [lines[0][:20] + b"\xff\xfe" + lines[0][22:],  # bad bytes
           lines[1].replace(b'"benchmark":"g",', b""),  # a field missing
           lines[2].replace(b'"strategy":"ewc"', b'"strategy":["ewc"]')]  # a field mistyped
    damaged = b"".join(bad)
    results.write_bytes(damaged)
    capsys.readouterr()
    with pytest.warns(UserWarning) as seen:
        assert main(["leaderboard", str(suite), "--out", str(out), "--no-progress"]) == 0
    named = [str(w.message) for w in seen if "record" in str(w.message) or "UTF-8" in
             str(w.message)]
    assert any(f"{results}:1: not UTF-8" in m for m in named)
    assert any(f"{results}:2: field 'benchmark' missing" in m for m in named)
    assert any(f"{results}:3: field 'strategy' must be str, got list" in m for m in named)
    assert "3 cells run, 0 already finished" in capsys.readouterr().out
    assert results.read_bytes().startswith(damaged)  # left for inspection, never rewritten
    assert Counter(r["key"] for r in records(results)) == \
        Counter(c.key for c in suite_cells(load_suite(suite)))


def test_train_resume_after_the_suite_changed_is_one_line(tmp_path, capsys):
    suite = _suite_file(tmp_path)
    out = tmp_path / "out"
    cell = next(c for c in suite_cells(load_suite(suite)) if c.strategy == "full")
    run_suite_cell(cell, checkpoint_dir=out / "checkpoints")  # a started run's checkpoint
    before = _snapshot(out)
    changed = _suite_file(tmp_path, budget={**BUDGET, "optimizer": {**BUDGET["optimizer"],
                                                                     "lr": 0.01}})
    for extra in (["--resume"], []):
        rc = main(["train", str(changed), "--benchmark", "g", "--strategy", "full", "--out",
                   str(out), *extra])
        err = capsys.readouterr().err
        assert rc == 2 and err.count("\n") == 1 and err.startswith(PREFIX), err
        assert str(checkpoint_path(out / "checkpoints", cell)) in err
        assert "started with another config" in err
        assert _snapshot(out) == before


def test_an_optimizer_option_that_does_not_apply_is_refused(tmp_path, capsys):
    suite = _suite_file(tmp_path, budget={**BUDGET, "optimizer": {"name": "adam", "lr": 0.001,
                                                                   "momentum": 0.9}})
    rc = main(["leaderboard", str(suite), "--out", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "budget.optimizer.momentum: does not apply " \
        "to adam" in err, err
    assert not (tmp_path / "out").exists()


def test_a_full_disk_when_appending_a_record_is_one_line_and_tears_nothing(tmp_path,
                                                                           monkeypatch, capsys):
    import errno

    out = tmp_path / "out"
    assert main(["leaderboard", str(_suite_file(tmp_path, strategies=["naive"])), "--out",
                 str(out), "--no-progress"]) == 0
    results = out / "results.jsonl"
    before = results.read_bytes()
    real_fsync = os.fsync

    def full(fd):
        if os.readlink(f"/proc/self/fd/{fd}") == str(results):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full)
    capsys.readouterr()
    rc = main(["leaderboard", str(_suite_file(tmp_path, strategies=["naive", "full"])), "--out",
               str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1 and err == f"{PREFIX} cannot write {results}: No space left on device\n"
    assert results.read_bytes() == before  # nothing torn
    monkeypatch.setattr(os, "fsync", real_fsync)  # space again: the cell resumes, and is saved
    assert main(["leaderboard", str(_suite_file(tmp_path, strategies=["naive", "full"])),
                 "--out", str(out), "--no-progress"]) == 0
    assert results.read_bytes().startswith(before) and len(records(results)) == 2

"""Checkpoint and resume of a single run (issue 7, point 1).

A run saves model, optimizers, plugins (modulators, baselines' regularisers), the evaluator's
metric state, RNG states and the experience counter after every experience; a run killed with
SIGKILL and resumed ends with the same record as the uninterrupted run, bit for bit on CPU
(``wall_time`` aside). The streams are small cued Go/No-Go streams (a few tenths of a second per
run); the kill itself is a real SIGKILL of ``avalanche-neuromod train`` in a subprocess.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch
import yaml
from conftest import fill_disk_for_temporaries
from torch.utils.data import TensorDataset

from avalanche_neuromod import checkpoint as checkpoint_module
from avalanche_neuromod.checkpoint import CheckpointError, load_checkpoint
from avalanche_neuromod.cli import main
from avalanche_neuromod.leaderboard import load_suite, suite_cells
from avalanche_neuromod.leaderboard import runner as runner_module
from avalanche_neuromod.leaderboard.runner import checkpoint_path, run_suite_cell

PREFIX = "avalanche-neuromod: error:"
COMMIT = "0" * 40
EWC = {"preset": "ewc", "override": {"baseline": {"args": {"ewc_lambda": 50.0}}}}
SUITE = {
    "name": "ckpt", "seeds": 1,
    "budget": {"model": {"hidden": 32, "layers": 1, "activation": "tanh"},
               "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
               "train_mb_size": 8, "eval_mb_size": 256},
    "benchmarks": [{"name": "gonogo", "label": "g",
                    "args": {"cued": True, "rules": ["A", "B", "X", "Y"], "trials_per_rule": 64,
                             "test_trials": 32, "noise": 0.5}}],
    "strategies": ["naive", "full", EWC, "si", "lwf", "mas", "gem", "cumulative", "replay",
                   "agem", "joint", "full-class"],
}
# the subprocess run: more and longer experiences, so that the kill lands mid-stream
LONG_ARGS = {"cued": True, "rules": ["A", "B", "X", "Y", "A", "B", "X", "Y"],
             "trials_per_rule": 160, "test_trials": 32, "noise": 0.5}


class Killed(Exception):
    """Stands in for a kill right after a checkpoint was written."""


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch):
    monkeypatch.setattr(runner_module, "git_commit", lambda: COMMIT)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: as the runner's workers (and far less contention)
    yield
    torch.set_num_threads(threads)


def cells() -> dict:
    return {c.strategy: c for c in suite_cells(load_suite(SUITE))}


def comparable(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "wall_time"}


def interrupted_run(cell, checkpoint_dir: Path, monkeypatch, *, after: int) -> None:
    """Run ``cell`` with checkpoints and stop it right after experience ``after`` was saved."""
    real = checkpoint_module.save_checkpoint

    def save_then_die(path, **kwargs):
        out = real(path, **kwargs)
        if kwargs["experience_index"] == after:
            raise Killed
        return out

    with monkeypatch.context() as mp:
        mp.setattr(checkpoint_module, "save_checkpoint", save_then_die)
        with pytest.raises(Killed):
            run_suite_cell(cell, checkpoint_dir=checkpoint_dir)
    assert load_checkpoint(checkpoint_path(checkpoint_dir, cell))["experience"] == after


RESUMABLE = ["naive", "full", "ewc", "si", "lwf", "mas", "gem", "cumulative", "full-class"]


@pytest.mark.parametrize("strategy", RESUMABLE)
def test_resumed_run_equals_the_uninterrupted_run(strategy, tmp_path, monkeypatch):
    cell = cells()[strategy]
    reference = run_suite_cell(cell)
    interrupted_run(cell, tmp_path, monkeypatch, after=1)
    resumed = run_suite_cell(cell, checkpoint_dir=tmp_path, resume=True)
    assert comparable(resumed) == comparable(reference)


@pytest.mark.parametrize("strategy", ["none", "full"])
def test_reward_driven_run_resumes_with_its_critic_and_policy(strategy, tmp_path, monkeypatch):
    suite = load_suite({**SUITE, "learning": "reward", "strategies": [strategy],
                        "benchmarks": [{**SUITE["benchmarks"][0], "args": {
                            **SUITE["benchmarks"][0]["args"], "cued": False}}]})
    [cell] = suite_cells(suite)
    reference = run_suite_cell(cell)
    interrupted_run(cell, tmp_path, monkeypatch, after=1)
    state = load_checkpoint(checkpoint_path(tmp_path, cell))
    assert "critic" in state and "critic_optimizer" in state
    assert set(state["strategy_attrs"]) == {"temperature", "action_bias"}
    resumed = run_suite_cell(cell, checkpoint_dir=tmp_path, resume=True)
    assert comparable(resumed) == comparable(reference)


@pytest.mark.parametrize("left_out", ["rng", "plugins"])
def test_the_comparison_sees_a_resume_that_forgets_state(left_out, tmp_path, monkeypatch):
    """Control: a resume without the RNG states or the plugins' state ends differently."""
    cell = cells()["full" if left_out == "rng" else "ewc"]
    reference = run_suite_cell(cell)
    interrupted_run(cell, tmp_path, monkeypatch, after=1)
    if left_out == "rng":
        monkeypatch.setattr(checkpoint_module, "restore_rng", lambda state: None)
    else:
        real = checkpoint_module.restore

        def forgetful(strategy, state, **kwargs):
            state = dict(state)
            state["plugins"] = [
                e if "metrics" in e or "Clock" in e["class"] or "PeriodicEval" in e["class"]
                or "Guard" in e["class"] else {"class": e["class"], "attrs": {}}
                for e in state["plugins"]]
            real(strategy, state, **kwargs)

        monkeypatch.setattr(checkpoint_module, "restore", forgetful)
    resumed = run_suite_cell(cell, checkpoint_dir=tmp_path, resume=True)
    assert resumed["accuracy_matrix"][:2] == reference["accuracy_matrix"][:2]  # saved rows
    assert comparable(resumed) != comparable(reference)


class _Tensors(TensorDataset):
    def __init__(self, x, y):
        super().__init__(x, y)
        self.targets = y.tolist()


def task_incremental():
    """Three 2-class tasks with task labels (the shape of task-incremental SplitMNIST)."""
    from avalanche.benchmarks import nc_benchmark

    gen = torch.Generator().manual_seed(0)
    centers = torch.randn(6, 20, generator=gen) * 2.0

    def make(n):
        y = torch.arange(6).repeat_interleave(n)
        return _Tensors(centers[y] + 4.0 * torch.randn(len(y), 20, generator=gen), y)

    return nc_benchmark(make(48), make(16), n_experiences=3, task_labels=True, seed=0)


@pytest.mark.parametrize("strategy", ["naive", "full", "ewc", "lwf"])
def test_multi_head_run_resumes_with_the_heads_it_grew(strategy, tmp_path, monkeypatch):
    monkeypatch.setattr(runner_module, "_benchmark", lambda cell: task_incremental())
    suite = load_suite({**SUITE, "strategies": [strategy], "benchmarks": [
        {"name": "split_mnist", "label": "m", "args": {"n_experiences": 5,
                                                       "return_task_id": True}}]})
    [cell] = suite_cells(suite)
    reference = run_suite_cell(cell)
    interrupted_run(cell, tmp_path, monkeypatch, after=0)
    state = load_checkpoint(checkpoint_path(tmp_path, cell))
    assert any(".classifiers.2." in name for name in state["model"])  # heads grown by evals
    assert state["optimizer_layout"]["stale"]  # replaced head parameters the optimizer keeps
    resumed = run_suite_cell(cell, checkpoint_dir=tmp_path, resume=True)
    assert comparable(resumed) == comparable(reference)
    assert len({v for row in reference["accuracy_matrix"] for v in row}) > 2  # not saturated


def test_resume_after_the_last_experience_needs_no_training(tmp_path, monkeypatch):
    cell = cells()["full"]
    reference = run_suite_cell(cell, checkpoint_dir=tmp_path)
    assert load_checkpoint(checkpoint_path(tmp_path, cell))["experience"] == 3

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    resumed_strategy = []
    real = checkpoint_module.restore

    def spy(strategy, state, **kwargs):
        resumed_strategy.append(strategy)
        real(strategy, state, **kwargs)
        strategy.train = no_training

    monkeypatch.setattr(checkpoint_module, "restore", spy)
    assert comparable(run_suite_cell(cell, checkpoint_dir=tmp_path, resume=True)) == \
        comparable(reference)
    assert resumed_strategy


@pytest.mark.parametrize("strategy", ["replay", "agem", "joint"])
def test_strategies_that_cannot_resume_write_no_checkpoint_and_restart(strategy, tmp_path):
    cell = cells()[strategy]
    with pytest.warns(UserWarning, match="not checkpointed mid-stream"):
        first = run_suite_cell(cell, checkpoint_dir=tmp_path)
    assert not list(tmp_path.glob("*.pt"))
    with pytest.warns(UserWarning, match="restarts from its first experience"):
        again = run_suite_cell(cell, checkpoint_dir=tmp_path, resume=True)
    assert comparable(again) == comparable(first)


def test_checkpoint_holds_plain_data_only_and_is_written_atomically(tmp_path):
    cell = cells()["full"]
    run_suite_cell(cell, checkpoint_dir=tmp_path)
    path = checkpoint_path(tmp_path, cell)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    state = torch.load(path, weights_only=True)  # loads without any pickled class
    assert state["experience"] == 3 and state["resumable"] is True
    assert state["extra"]["key"] == cell.key
    assert len(state["matrix"]) == 4
    assert set(state["rng"]) == {"python", "numpy", "torch", "cuda"}
    assert any("NeuromodulationPlugin" in e["class"] and "state_dict" in e
               for e in state["plugins"])


def test_unusable_checkpoints_raise_or_restart(tmp_path):
    cell = cells()["full"]
    reference = run_suite_cell(cell)
    path = checkpoint_path(tmp_path, cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PK\x03\x04 not a whole zip file")  # a torn or foreign file
    with pytest.raises(CheckpointError, match="is not a valid checkpoint"):
        run_suite_cell(cell, checkpoint_dir=tmp_path, resume=True)
    with pytest.warns(UserWarning, match="restarting"):
        again = run_suite_cell(cell, checkpoint_dir=tmp_path, resume="auto")
    assert comparable(again) == comparable(reference)
    other = cells()["naive"]  # a checkpoint of another run under this run's name
    run_suite_cell(other, checkpoint_dir=tmp_path / "other")
    os.replace(checkpoint_path(tmp_path / "other", other), path)
    with pytest.raises(CheckpointError, match="belongs to another run"):
        run_suite_cell(cell, checkpoint_dir=tmp_path, resume=True)


def test_a_checkpoint_from_code_with_other_metrics_is_set_aside(tmp_path, monkeypatch):
    """A metric added to the evaluator since the checkpoint was written: resume=True says so,
    naming the file; the leaderboard's resume="auto" restarts the cell instead of failing."""
    import avalanche_neuromod.plugins as plugins_module

    cell = cells()["full"]
    reference = run_suite_cell(cell)
    with monkeypatch.context() as mp:  # the older code: one metric fewer
        real = plugins_module.modulator_signal_metrics
        mp.setattr(plugins_module, "modulator_signal_metrics",
                   lambda **kw: real(**kw)[:1])
        interrupted_run(cell, tmp_path, monkeypatch, after=1)
    path = checkpoint_path(tmp_path, cell)
    with pytest.raises(CheckpointError, match=r"metrics differ .*" + re.escape(path.name)):
        run_suite_cell(cell, checkpoint_dir=tmp_path, resume=True)
    with pytest.warns(UserWarning, match="restarting"):
        again = run_suite_cell(cell, checkpoint_dir=tmp_path, resume="auto")
    assert comparable(again) == comparable(reference)


# ------------------------------------------------------------------- a real SIGKILL, then --resume


def _train_argv(suite: Path, strategy: str, out: Path) -> list[str]:
    return ["train", str(suite), "--benchmark", "g", "--strategy", strategy, "--out", str(out)]


@pytest.mark.parametrize("strategy", ["full", "ewc"])
def test_sigkilled_train_resumes_to_the_same_record(strategy, tmp_path, capsys):
    suite = tmp_path / "suite.yaml"
    data = {**SUITE, "strategies": ["full", EWC],
            "benchmarks": [{**SUITE["benchmarks"][0], "args": LONG_ARGS}]}
    suite.write_text(yaml.safe_dump(data))
    killed = tmp_path / "killed"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PATH": os.path.dirname(sys.executable)}
    proc = subprocess.Popen([sys.executable, "-m", "avalanche_neuromod",
                             *_train_argv(suite, strategy, killed)],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if list((killed / "checkpoints").glob("*.pt")):
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
    finally:
        if proc.poll() is None and time.monotonic() >= deadline:
            proc.kill()
        proc.wait(timeout=60)
        err = proc.stderr.read().decode()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, f"not killed mid-stream: {err}"
    assert not (killed / "record.json").exists()
    [ckpt] = (killed / "checkpoints").glob("*.pt")
    assert load_checkpoint(ckpt)["experience"] < len(LONG_ARGS["rules"]) - 1
    # without --resume the started run is protected
    assert main(_train_argv(suite, strategy, killed)) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert main([*_train_argv(suite, strategy, killed), "--resume"]) == 0
    assert main(_train_argv(suite, strategy, tmp_path / "uninterrupted")) == 0
    resumed = json.loads((killed / "record.json").read_text())
    reference = json.loads((tmp_path / "uninterrupted" / "record.json").read_text())
    assert {k: v for k, v in resumed.items() if k not in ("wall_time", "command")} == \
        {k: v for k, v in reference.items() if k not in ("wall_time", "command")}
    assert len(resumed["accuracy_matrix"]) == len(LONG_ARGS["rules"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main([*_train_argv(suite, strategy, killed), "--resume"]) == 0  # finished: kept
    assert "already finished" in capsys.readouterr().out


# ------------------------------------------------------- decoder allowlist, damage (issue 19)


@pytest.mark.parametrize("entry", [
    {"__object__": "avalanche_neuromod.checkpoint:os.system", "state": {}},
    {"__object__": "avalanche_neuromod.checkpoint:os.getcwd", "state": {}},
    {"__object__": "os:system", "state": {}},
    {"__object__": "avalanche.evaluation.metrics.mean:Mean.__init__", "state": {}},
    {"__dict__": [], "factory": "avalanche_neuromod.checkpoint:os.getcwd"},
    {"__dict__": [], "factory": "os:getcwd"},
    {"__dict__": [], "factory": "builtins.eval"},
])
def test_a_checkpoint_naming_a_callable_is_refused(entry):
    """Only the classes of an explicit list are built: no attribute chain, no function."""
    with pytest.raises(CheckpointError, match="refusing to build|does not name a class"):
        decoded = checkpoint_module.decode_state(entry)
        decoded["missing"]  # a default dict's factory would run here


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "garbage":
        path.write_bytes(bytes(range(256)) * 8)
    elif how == "wrong-shape":  # loads, but does not fit the model
        state = torch.load(path, weights_only=True)
        name = next(iter(state["model"]))
        state["model"][name] = torch.zeros(3, 3)
        torch.save(state, path)
    else:  # loads, but a field of every checkpoint is missing
        state = torch.load(path, weights_only=True)
        del state["extra"]
        torch.save(state, path)


@pytest.mark.parametrize("how", ["truncated", "garbage", "wrong-shape", "missing-field"])
def test_a_damaged_checkpoint_restarts_its_cell_or_is_one_line_for_train(how, tmp_path,
                                                                         monkeypatch, capsys):
    cell = cells()["full"]
    reference = run_suite_cell(cell)
    interrupted_run(cell, tmp_path / "checkpoints", monkeypatch, after=1)
    path = checkpoint_path(tmp_path / "checkpoints", cell)
    _damage(path, how)
    before = path.read_bytes()
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump(SUITE))
    rc = main(["train", str(suite), "--benchmark", "g", "--strategy", "full", "--out",
               str(tmp_path), "--resume"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and err.startswith(PREFIX), err
    assert str(path) in err and "Traceback" not in err
    assert path.read_bytes() == before and not (tmp_path / "record.json").exists()
    # the leaderboard (resume="auto"): set aside like an incompatible one, the cell restarts
    with pytest.warns(UserWarning, match="restarting"):
        again = run_suite_cell(cell, checkpoint_dir=tmp_path / "checkpoints", resume="auto")
    assert comparable(again) == comparable(reference)


def test_a_full_disk_while_saving_a_checkpoint_is_one_line_and_keeps_the_last_one(
        tmp_path, monkeypatch, capsys):
    cell = cells()["naive"]
    interrupted_run(cell, tmp_path / "checkpoints", monkeypatch, after=0)
    path = checkpoint_path(tmp_path / "checkpoints", cell)
    before = path.read_bytes()
    fill_disk_for_temporaries(monkeypatch)
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump(SUITE))
    rc = main(["train", str(suite), "--benchmark", "g", "--strategy", "naive", "--out",
               str(tmp_path), "--resume"])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1, err
    assert err == f"{PREFIX} cannot write {path}: No space left on device\n"
    assert path.read_bytes() == before  # the last good checkpoint, untouched
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary file

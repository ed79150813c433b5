"""`avalanche-neuromod run --wandb`: every cell is a W&B run; what it logs is read back."""

from __future__ import annotations

from pathlib import Path

import pytest
import wandb

from avalanche_neuromod.cli import main

TINY = ("seeds: 1\npresets: [da+na]\nlearning: [reward]\n"
        "stream: {trials_per_rule: 120, test_trials: 32}\n"
        "settings: [{name: s, stream: {population_size: 16}}]\ncued: null\n")


class _FakeRun:
    def __init__(self, **kwargs):
        self.init_kwargs = kwargs
        self.logged: list[dict] = []
        self.summary: dict = {}
        self.config = _Config()

    def log(self, payload, *args, **kwargs):
        self.logged.append(dict(payload))

    def define_metric(self, *args, **kwargs):
        return None

    def finish(self, *args, **kwargs):
        self.finished = True


class _Config(dict):
    def update(self, data=None, *args, **kwargs):
        super().update(data or {})


class _Summary(dict):
    def update(self, data=None, *args, **kwargs):
        super().update(data or {})


def test_run_logs_metrics_signals_and_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    runs: list[_FakeRun] = []

    def fake_init(**kwargs):
        run = _FakeRun(**kwargs)
        run.summary = _Summary()
        runs.append(run)
        return run

    monkeypatch.setattr(wandb, "init", fake_init)
    monkeypatch.setenv("WANDB_API_KEY", "secret-key-0123")
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    rc = main(["run", "--config", str(config), "--out", str(tmp_path / "out"), "--workers", "1",
               "--no-progress", "--wandb"])
    assert rc == 0
    assert len(runs) == 1
    run = runs[0]
    assert run.init_kwargs["group"] == "casestudy" and run.init_kwargs["job_type"] == "da+na"
    keys = {k for payload in run.logged for k in payload}
    assert any(k.startswith("Top1_Acc_Exp/eval_phase/test_stream/Exp") for k in keys)
    assert "StreamForgetting/eval_phase/test_stream" in keys
    assert "StreamBWT/eval_phase/test_stream" in keys
    assert "StreamForwardTransfer/eval_phase/test_stream" in keys
    assert {"Neuromod/DA/rpe", "Neuromod/NA/level"} <= keys
    assert any(k.startswith("TrialsToCriterion/") for k in keys)
    assert "accuracy_matrix" in keys and "forgetting_curves" in keys
    assert run.summary["final_accuracy"] >= 0.0
    assert len(run.summary["trials_to_criterion"]) == 4
    config_logged = {**run.init_kwargs["config"], **run.config}
    assert config_logged["preset"] == "da+na" and "versions" in config_logged
    assert "secret-key-0123" not in repr(run.logged) + repr(config_logged)


def test_run_writes_offline_run_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    rc = main(["run", "--config", str(config), "--out", str(tmp_path / "out"), "--workers", "1",
               "--no-progress", "--wandb", "--wandb-dir", str(tmp_path / "wb")])
    assert rc == 0
    run_dirs = list((tmp_path / "wb" / "wandb").glob("offline-run-*"))
    assert len(run_dirs) == 1
    assert list(run_dirs[0].glob("run-*.wandb"))

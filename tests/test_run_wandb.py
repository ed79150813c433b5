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


def _spy_on_wandb(monkeypatch) -> list[_FakeRun]:
    """Replace ``wandb.init`` by a fake that records every run it starts."""
    runs: list[_FakeRun] = []

    def fake_init(**kwargs):
        run = _FakeRun(**kwargs)
        run.summary = _Summary()
        runs.append(run)
        return run

    monkeypatch.setattr(wandb, "init", fake_init)
    return runs


def test_run_logs_metrics_signals_and_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    runs = _spy_on_wandb(monkeypatch)
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


def test_run_writes_offline_run_dirs_quietly_and_wandb_show_reads_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "unset below")  # restored after the test
    monkeypatch.delenv("WANDB_SILENT")
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    rc = main(["run", "--config", str(config), "--out", str(tmp_path / "out"), "--workers", "1",
               "--no-progress", "--wandb", "--wandb-dir", str(tmp_path / "wb")])
    assert rc == 0
    out = capfd.readouterr()
    assert "Run summary" not in out.out + out.err and "wandb:" not in out.out + out.err
    run_dirs = list((tmp_path / "wb" / "wandb").glob("offline-run-*"))
    assert len(run_dirs) == 1
    assert list(run_dirs[0].glob("run-*.wandb"))

    from avalanche_neuromod.logging.offline import read_run

    run = read_run(run_dirs[0])
    assert run["id"] and run["id"] in run_dirs[0].name
    assert 0.0 <= run["summary"]["final_accuracy"] <= 1.0
    assert run["history"]  # every run.log row, read back without syncing
    assert main(["wandb-show", str(run_dirs[0]), "--key", "final_accuracy"]) == 0
    shown = capfd.readouterr().out
    assert run["id"] in shown and "final_accuracy = " in shown
    assert main(["wandb-show", str(tmp_path)]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "run_dir" in err[0]


def test_leaderboard_logs_one_run_per_cell_and_a_summary_table(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch):
    runs = _spy_on_wandb(monkeypatch)
    suite = tmp_path / "tiny.yaml"
    suite.write_text(
        "name: tiny\nseeds: 2\n"
        "budget: {model: {hidden: 16, layers: 1, activation: tanh}, "
        "optimizer: {name: sgd, lr: 0.3}, train_mb_size: 8, eval_mb_size: 64}\n"
        "benchmarks: [{name: gonogo, label: g, args: {cued: true, rules: [A, B], "
        "trials_per_rule: 48, test_trials: 16}}]\nstrategies: [naive, full]\n")
    rc = main(["leaderboard", str(suite), "--out", str(tmp_path / "out"), "--no-progress",
               "--wandb"])
    assert rc == 0
    cells = [r for r in runs if r.init_kwargs["job_type"] != "summary"]
    summary = [r for r in runs if r.init_kwargs["job_type"] == "summary"]
    assert len(cells) == 4 and len(summary) == 1
    assert {r.init_kwargs["group"] for r in runs} == {"tiny"}
    assert sorted(r.init_kwargs["job_type"] for r in cells) == ["full", "full", "naive", "naive"]
    for run in cells:
        assert 0.0 <= run.summary["final_accuracy"] <= 1.0
        assert "accuracy_matrix" in {k for payload in run.logged for k in payload}
        # the cell evaluates the same weights three times an experience: one point each
        xs = [p["trained_experiences"] for p in run.logged
              if "Top1_Acc_Stream/eval_phase/test_stream" in p]
        assert xs == [0, 1, 2]
    tables = [p["leaderboard"] for p in summary[0].logged if "leaderboard" in p]
    assert len(tables) == 1
    table = tables[0]
    assert table.columns[:3] == ["benchmark", "rank", "strategy"]
    assert sorted(row[2] for row in table.data) == ["full", "naive"]
    by_strategy = {row[2]: row for row in table.data}
    means = {s: sum(r.summary["final_accuracy"] for r in cells
                    if r.init_kwargs["job_type"] == s) / 2 for s in ("naive", "full")}
    for strategy, mean in means.items():
        assert by_strategy[strategy][4] == pytest.approx(mean, abs=1e-6)
        assert summary[0].summary[f"g/{strategy}/final_accuracy"] == pytest.approx(mean,
                                                                                  abs=1e-6)

"""Tests for :class:`avalanche_neuromod.logging.WandBLogger`.

No test contacts the W&B servers: the Avalanche pipeline test replaces ``wandb.init`` with a
spy returning a fake run, and the only real run is forced offline.
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch
import wandb
from avalanche.benchmarks.scenarios.dataset_scenario import benchmark_from_datasets
from avalanche.benchmarks.utils.classification_dataset import (
    _make_taskaware_tensor_classification_dataset as mk,
)
from avalanche.evaluation.metric_results import AlternativeValues, MetricValue
from avalanche.evaluation.metrics import (
    accuracy_metrics,
    bwt_metrics,
    forgetting_metrics,
    forward_transfer_metrics,
)
from avalanche.training.plugins import EvaluationPlugin
from avalanche.training.supervised import Naive
from PIL import Image

from avalanche_neuromod.logging import WandBLogger, resolve_mode

SECRET = "secret-123"
ACC = "Top1_Acc_Exp/eval_phase/test_stream/Exp{:03d}"
N_EXP = 3


# ----------------------------------------------------------------------------------------
# Spy
# ----------------------------------------------------------------------------------------
class _Recorder(dict):
    """Stand-in for ``run.summary`` / ``run.config``: records every update."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.updates = []

    def update(self, other=(), **kwargs):  # noqa: D102 - mimics dict.update
        data = dict(other, **{k: v for k, v in kwargs.items() if k != "allow_val_change"})
        self.updates.append(data)
        super().update(data)


class FakeRun:
    """Records what the logger does with the run."""

    def __init__(self, **init_kwargs):
        self.init_kwargs = init_kwargs
        self.config = _Recorder(init_kwargs.get("config") or {})
        self.summary = _Recorder()
        self.logs: list[tuple[dict, dict]] = []
        self.defined: dict[str, str | None] = {}
        self.finished = False

    def log(self, data, **kwargs):
        assert not self.finished, "log after finish"
        self.logs.append((dict(data), kwargs))

    def define_metric(self, name, step_metric=None, **kwargs):
        self.defined[name] = step_metric

    def finish(self, *args, **kwargs):
        self.finished = True


@pytest.fixture
def spy(monkeypatch):
    """Replace ``wandb.init`` with a spy; returns the list of fake runs created."""
    runs: list[FakeRun] = []

    def fake_init(**kwargs):
        run = FakeRun(**kwargs)
        runs.append(run)
        return run

    monkeypatch.setattr(wandb, "init", fake_init)
    return runs


def _flatten(obj) -> str:
    """Text of everything inside a logged object (tables and charts included)."""
    if isinstance(obj, wandb.plot.CustomChart):
        return _flatten(obj.table) + repr(obj.spec)
    if isinstance(obj, wandb.Table):
        return repr(obj.columns) + _flatten(obj.data)
    if isinstance(obj, dict):
        return "".join(_flatten(k) + _flatten(v) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return "".join(_flatten(v) for v in obj)
    return repr(obj)


def _last(run: FakeRun, key: str):
    values = [data[key] for data, _ in run.logs if key in data]
    assert values, f"{key} never logged"
    return values[-1]


# ----------------------------------------------------------------------------------------
# Benchmark
# ----------------------------------------------------------------------------------------
def _make_benchmark():
    gen = torch.Generator().manual_seed(0)
    centers = torch.randn(2 * N_EXP, 8, generator=gen) * 3.0

    def make(exp, n):
        ys = torch.arange(2 * exp, 2 * exp + 2).repeat_interleave(n)
        xs = centers[ys] + torch.randn(len(ys), 8, generator=gen)
        return mk(xs, ys, task_labels=0)

    train = [make(e, 24) for e in range(N_EXP)]
    test = [make(e, 12) for e in range(N_EXP)]
    return benchmark_from_datasets(train=train, test=test)


def _run_pipeline(logger: WandBLogger):
    torch.manual_seed(0)
    bm = _make_benchmark()
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 2 * N_EXP)
    )
    evaluator = EvaluationPlugin(
        accuracy_metrics(epoch=True, experience=True, stream=True),
        forgetting_metrics(experience=True, stream=True),
        bwt_metrics(experience=True, stream=True),
        forward_transfer_metrics(experience=True, stream=True),
        loggers=[logger],
    )
    strategy = Naive(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.05),
        criterion=torch.nn.CrossEntropyLoss(),
        train_mb_size=16,
        train_epochs=1,
        eval_mb_size=64,
        evaluator=evaluator,
        eval_every=1,
        device="cpu",
    )
    expected_rows = []
    for exp in bm.train_stream:
        strategy.train(exp, eval_streams=[bm.test_stream])
        res = strategy.eval(bm.test_stream)
        expected_rows.append([res[ACC.format(j)] for j in range(N_EXP)])
    return strategy, expected_rows


# ----------------------------------------------------------------------------------------
# Tests
# ----------------------------------------------------------------------------------------
def test_pipeline_logs_metrics_matrix_curves_and_no_secret(spy, monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_API_KEY", SECRET)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    logger = WandBLogger(
        run_name="spy",
        dir=tmp_path,
        config={
            "lr": 0.05,
            "wandb_api_key": SECRET,
            "nested": {"auth_token": "tok", "keep": 1, "note": f"key={SECRET}"},
        },
    )
    assert logger.mode == "online"  # a key is configured
    assert spy == []  # lazy: constructing the logger starts no run

    strategy, expected_rows = _run_pipeline(logger)
    logger.log_summary({"final_acc": expected_rows[-1][0], "API_KEY": SECRET})
    logger.close()

    assert len(spy) == 1
    run = spy[0]
    assert run.finished
    assert run.init_kwargs["mode"] == "online"
    assert run.init_kwargs["reinit"] == "finish_previous"
    assert run.init_kwargs["project"] == "avalanche-neuromod"
    assert run.init_kwargs["dir"] == str(tmp_path)
    assert isinstance(run.init_kwargs["id"], str) and len(run.init_kwargs["id"]) >= 8

    # config: versions, user values, no secrets
    config = run.init_kwargs["config"]
    from avalanche_neuromod.runtime import versions

    assert config["versions"] == versions()  # the same keys and values as every record
    assert config["versions"]["wandb"] == wandb.__version__
    assert config["lr"] == 0.05 and config["nested"]["keep"] == 1
    assert "wandb_api_key" not in config and "auth_token" not in config["nested"]
    assert SECRET not in _flatten(config)
    assert SECRET not in _flatten(run.logs)
    assert SECRET not in _flatten(run.summary.updates)
    assert SECRET not in _flatten(run.config.updates)
    assert run.summary["final_acc"] == pytest.approx(expected_rows[-1][0])

    # no global step; every metric row carries its own x value
    assert all(kwargs == {} for _, kwargs in run.logs)
    logged = {}
    for data, _ in run.logs:
        for key, value in data.items():
            logged.setdefault(key, []).append(value)
        if any("/eval_phase/" in k for k in data):
            assert "trained_experiences" in data
        if any("/train_phase/" in k for k in data):
            assert "train_iterations" in data

    for name in [
        ACC.format(0),
        ACC.format(2),
        "Top1_Acc_Stream/eval_phase/test_stream",
        "Top1_Acc_Epoch/train_phase/train_stream",
        "ExperienceForgetting/eval_phase/test_stream/Exp000",
        "StreamForgetting/eval_phase/test_stream",
        "ExperienceBWT/eval_phase/test_stream/Exp000",
        "StreamBWT/eval_phase/test_stream",
        "ExperienceForwardTransfer/eval_phase/test_stream/Exp001",
        "StreamForwardTransfer/eval_phase/test_stream",
    ]:
        assert name in logged, f"{name} not logged; got {sorted(logged)}"
        assert all(isinstance(v, float) for v in logged[name])
    assert run.defined[ACC.format(0)] == "trained_experiences"
    assert run.defined["StreamForgetting/eval_phase/test_stream"] == "trained_experiences"
    assert run.defined["Top1_Acc_Epoch/train_phase/train_stream"] == "train_iterations"
    assert run.defined["Neuromod/*"] == "train_iterations"

    # evaluator and logger agree on the last values
    last = strategy.evaluator.get_last_metrics()
    for name in ["StreamForgetting/eval_phase/test_stream", "StreamBWT/eval_phase/test_stream"]:
        assert logged[name][-1] == pytest.approx(float(last[name]))
    # eval x values never decrease and end at N_EXP
    xs = [d["trained_experiences"] for d, _ in run.logs if ACC.format(0) in d]
    assert xs == sorted(xs) and xs[-1] == N_EXP

    # accuracy matrix: attribute and the final table
    assert logger.accuracy_matrix == [pytest.approx(row) for row in expected_rows]
    table = _last(run, "accuracy_matrix")
    assert isinstance(table, wandb.Table)
    assert table.columns == ["trained_on", "exp_000", "exp_001", "exp_002"]
    assert len(table.data) == N_EXP and all(len(r) == N_EXP + 1 for r in table.data)
    for i, row in enumerate(table.data):
        assert row[0] == i
        assert row[1:] == pytest.approx(expected_rows[i])
    # a learnt experience is forgotten afterwards: the matrix is not trivially constant
    assert expected_rows[0][0] > expected_rows[0][2]

    # forgetting curves: the forgetting of experience j (best accuracy on it since it was
    # trained, minus now) over the matrix's rows i = j .. N_EXP - 1, from 0 as the matrix
    chart = _last(run, "forgetting_curves")
    assert isinstance(chart, wandb.plot.CustomChart)
    assert chart.spec.string_fields["title"] == "Forgetting curves"
    points = {(key, x): y for x, key, y in chart.table.data}
    assert len(points) == N_EXP * (N_EXP + 1) // 2
    assert min(x for _, x in points) == 0 and max(x for _, x in points) == N_EXP - 1
    for j in range(N_EXP):
        for i in range(j, N_EXP):
            best = max(expected_rows[k][j] for k in range(j, i + 1))
            assert points[(f"exp_{j:03d}", i)] == pytest.approx(best - expected_rows[i][j])
    assert points[("exp_000", N_EXP - 1)] > 0  # a forgotten experience, not its accuracy

    # each point once: eval_every=1, the explicit eval and the next experience's initial eval
    # evaluate the same weights; one point per (metric, x) is left
    for name in ("Top1_Acc_Stream/eval_phase/test_stream", ACC.format(0),
                 "StreamForgetting/eval_phase/test_stream"):
        xs = [d["trained_experiences"] for d, _ in run.logs if name in d]
        assert len(xs) == len(set(xs)), f"{name} logged twice at one x: {xs}"
    assert [d["trained_experiences"] for d, _ in run.logs
            if "Top1_Acc_Stream/eval_phase/test_stream" in d] == list(range(N_EXP + 1))
    assert len([d for d, _ in run.logs if "accuracy_matrix" in d]) == N_EXP


def test_an_eval_after_more_training_logs_again_at_the_same_x(spy):
    """Periodic evals inside an experience share its x; only a repeat of the same weights
    (same train iteration) is dropped."""
    from types import SimpleNamespace

    name = "Top1_Acc_Stream/eval_phase/test_stream"
    clock = SimpleNamespace(train_exp_counter=0, train_exp_iterations=0, train_iterations=0)
    strategy = SimpleNamespace(clock=clock)
    logger = WandBLogger(mode="disabled")
    logger.before_training(strategy)
    logger.before_training_exp(strategy)
    for iterations, value in ((5, 0.5), (5, 0.5), (10, 0.7)):
        clock.train_exp_iterations = clock.train_iterations = iterations
        logger.before_eval(strategy)
        logger.log_single_metric(name, value, iterations)
        logger.after_eval(strategy)
    logger.close()
    points = [(d["trained_experiences"], d[name]) for d, _ in spy[0].logs if name in d]
    assert points == [(1, 0.5), (1, 0.7)]


def test_values_axes_and_adaptation_curves(spy):
    logger = WandBLogger(mode="disabled")
    logger.log_single_metric("Neuromod/dopamine/rpe", torch.tensor(0.25), 7)
    logger.log_single_metric("Neuromod/noradrenaline/gain", np.float32(1.5), 8)
    logger.log_single_metric("Loss_MB/train_phase/train_stream", float("nan"), 8)
    logger.log_single_metric("Skipped/train_phase/train_stream", None, 8)
    logger.log_single_metric("Skipped/text", "not a number", 8)
    logger.log_single_metric("Image/eval_phase/test_stream", Image.new("RGB", (4, 4)), 8)
    alt = AlternativeValues("text", torch.tensor([2.0]))
    logger.log_single_metric("Alt/eval_phase/test_stream", alt, 8)
    metric_values = [
        MetricValue(None, f"TrialsToCriterion/train_phase/train_stream/Exp{e:03d}", v, 9)
        for e, v in [(0, 40), (1, 25)]
    ]
    metric_values.append(MetricValue(None, "ActionEntropy/train_phase/train_stream", 0.7, 9))
    logger.log_metrics(metric_values)
    logger.finish()

    run = spy[0]
    assert run.init_kwargs["mode"] == "disabled"
    logs = [data for data, _ in run.logs]
    assert logs[0] == {"Neuromod/dopamine/rpe": 0.25, "train_iterations": 7}
    assert logs[1] == {"Neuromod/noradrenaline/gain": 1.5, "train_iterations": 8}
    assert math.isnan(logs[2]["Loss_MB/train_phase/train_stream"])
    assert isinstance(logs[3]["Image/eval_phase/test_stream"], wandb.Image)
    assert logs[3]["trained_experiences"] == 0
    assert logs[4]["Alt/eval_phase/test_stream"] == 2.0
    assert not any(k.startswith("Skipped") for d in logs for k in d)
    assert "Neuromod/dopamine/rpe" not in run.defined  # covered by the Neuromod/* glob

    # one row for the whole batch of train metrics, then the adaptation curve
    assert logs[5] == {
        "train_iterations": 9,
        "TrialsToCriterion/train_phase/train_stream/Exp000": 40,
        "TrialsToCriterion/train_phase/train_stream/Exp001": 25,
        "ActionEntropy/train_phase/train_stream": 0.7,
    }
    chart = logs[6]["adaptation/trials_to_criterion"]
    assert isinstance(chart, wandb.plot.CustomChart)
    assert [row[0] for row in chart.table.data] == [0, 1]
    assert [row[2] for row in chart.table.data] == [40.0, 25.0]
    assert logs[6]["adaptation/mean_trials_to_criterion"] == pytest.approx(32.5)
    assert logger.trials_to_criterion == {0: 40.0, 1: 25.0}
    assert run.finished


def test_pickle_drops_run_and_resumes(spy):
    logger = WandBLogger(mode="offline", config={"a": 1})
    logger.log_single_metric("Neuromod/x", 1.0, 1)
    run_id = logger.run_id
    clone = pickle.loads(pickle.dumps(logger))
    assert clone.run is None and clone.run_id == run_id
    clone.log_single_metric("Neuromod/x", 2.0, 2)
    assert spy[1].init_kwargs["id"] == run_id
    assert spy[1].init_kwargs["resume"] == "allow"
    logger.close()
    clone.close()
    # after close, a new log starts a fresh run with a new id
    logger.log_config({"b": 2, "token": SECRET})
    assert spy[2].init_kwargs["id"] != run_id
    assert spy[2].config.updates == [{"b": 2}]
    logger.close()


def test_mode_resolution(monkeypatch, tmp_path):
    for var in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_IDENTITY_TOKEN_FILE", "WANDB_DISABLED"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    netrc_file = tmp_path / "netrc"
    monkeypatch.setenv("NETRC", str(netrc_file))

    assert resolve_mode() == "offline"  # no key anywhere
    assert WandBLogger().mode == "offline"
    netrc_file.write_text("machine example.com login user password pw\n")
    assert resolve_mode() == "offline"  # unrelated host
    netrc_file.write_text("machine api.wandb.ai login user password abcd1234\n")
    netrc_file.chmod(0o600)
    assert resolve_mode() == "online"
    netrc_file.unlink()
    monkeypatch.setenv("WANDB_API_KEY", SECRET)
    assert resolve_mode() == "online"
    assert resolve_mode("offline") == "offline"  # explicit mode respected
    assert resolve_mode("disabled") == "disabled"
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert resolve_mode() == "offline"  # WANDB_MODE respected
    with pytest.raises(ValueError):
        resolve_mode("bogus")


def test_real_offline_run_writes_run_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    logger = WandBLogger(run_name="offline-test", config={"seed": 0})
    assert logger.mode == "offline"
    logger.log_single_metric("Neuromod/dopamine/rpe", 0.5, 1)
    logger.log_single_metric("Top1_Acc_Stream/eval_phase/test_stream", 0.9, 1)
    logger.log_summary({"final_acc": 0.9})
    run_id = logger.run_id
    logger.close()

    run_dirs = list((tmp_path / "wandb").glob(f"offline-run-*-{run_id}"))
    assert len(run_dirs) == 1
    assert (run_dirs[0] / f"run-{run_id}.wandb").is_file()

"""Numerical faults (issue 7, point 3): bounded modulator signals, NaN/inf updates skipped.

NaN and inf are injected into the loss (a forward hook on the model) or into the gradients (a
tensor hook) on chosen training steps. Each such update is skipped and counted, warned about and
reported to the loggers (``Guard/skipped_updates``, W&B included), the weights never become
non-finite, the run finishes; too many bad steps in a row stop the run with one clear line and a
checkpoint of the last finite state.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch
import wandb
import yaml
from avalanche.training import Naive
from avalanche.training.plugins import EvaluationPlugin

from avalanche_neuromod import models as models_module
from avalanche_neuromod.checkpoint import load_checkpoint
from avalanche_neuromod.cli import main
from avalanche_neuromod.leaderboard import load_suite, suite_cells
from avalanche_neuromod.leaderboard import runner as runner_module
from avalanche_neuromod.leaderboard.runner import checkpoint_path, run_suite_cell
from avalanche_neuromod.modulators import (
    Acetylcholine,
    Dopamine,
    Integrator,
    Noradrenaline,
    Serotonin,
    default_integration,
)
from avalanche_neuromod.modulators.integration import LIMIT, VARIABLES
from avalanche_neuromod.plugins import NeuromodulationPlugin
from avalanche_neuromod.plugins import guard as guard_module
from avalanche_neuromod.plugins.guard import (
    SKIPPED_METRIC,
    NonFiniteUpdateWarning,
    NumericalFaultError,
    NumericalGuardPlugin,
    install_guard,
)

COMMIT = "0" * 40
NAN, INF = float("nan"), float("inf")
SUITE = {
    "name": "guard", "seeds": 1,
    "budget": {"model": {"hidden": 16, "layers": 1, "activation": "tanh"},
               "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
               "train_mb_size": 8, "eval_mb_size": 256},
    "benchmarks": [{"name": "gonogo", "label": "g",
                    "args": {"cued": True, "rules": ["A", "B", "X"], "trials_per_rule": 128,
                             "test_trials": 16}}],
    # SI with its usual lambda is unstable on its own here (its importances can be negative, and
    # with momentum the penalty blows up on the third rule): a small lambda keeps its path
    # integral (which reads the gradients after every update) under test without that
    "strategies": ["naive", "full", {"preset": "si", "label": "si",
                                     "override": {"baseline": {"args": {"si_lambda": 0.001}}}},
                   "ewc"],
}
STEPS_PER_EXP = 128 // 8


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch):
    monkeypatch.setattr(runner_module, "git_commit", lambda: COMMIT)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def cell(strategy: str = "full", **suite_changes):
    suite = load_suite({**copy.deepcopy(SUITE), **suite_changes})
    return next(c for c in suite_cells(suite) if c.strategy == strategy)


class Injector:
    """Wraps ``build_model``: on chosen training steps the output or the gradients are bad."""

    def __init__(self, monkeypatch, steps, *, kind: str = "loss", value: float = NAN):
        self.steps, self.kind, self.value = set(steps), kind, value
        self.models: list[torch.nn.Module] = []
        self.guards: list[NumericalGuardPlugin] = []
        self.count = 0
        real_build, real_install = models_module.build_model, guard_module.install_guard

        def build(**kwargs):
            model = real_build(**kwargs)
            model.register_forward_hook(self._hook)
            self.models.append(model)
            return model

        def install(strategy, guard=None):
            guard = real_install(strategy, guard)
            self.guards.append(guard)
            return guard

        monkeypatch.setattr(models_module, "build_model", build)
        monkeypatch.setattr(guard_module, "install_guard", install)

    def _hook(self, module, inputs, output):
        if not module.training or not torch.is_grad_enabled():
            return None  # evaluation and importance passes are left alone
        self.count += 1
        if self.count not in self.steps:
            return None
        if self.kind == "loss":
            return output * self.value
        output.register_hook(lambda grad: torch.full_like(grad, self.value))
        return None

    @property
    def guard(self) -> NumericalGuardPlugin:
        return self.guards[-1]

    def weights_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for m in self.models for p in m.parameters())


# ----------------------------------------------------------------------------- skipped updates


@pytest.mark.parametrize(("kind", "value"), [("loss", NAN), ("loss", INF), ("gradient", NAN),
                                             ("gradient", INF)])
@pytest.mark.parametrize("strategy", ["naive", "full", "si"])
def test_bad_steps_are_skipped_counted_and_the_run_finishes(strategy, kind, value, monkeypatch):
    inject = Injector(monkeypatch, {3, 9, 10}, kind=kind, value=value)
    with pytest.warns(NonFiniteUpdateWarning, match=f"non-finite {kind} at experience"):
        record = run_suite_cell(cell(strategy))
    assert inject.guard.skipped == 3 and inject.guard.consecutive == 0
    assert inject.guard.steps == 3 * STEPS_PER_EXP
    assert inject.weights_finite()
    assert len(record["accuracy_matrix"]) == 3
    assert all(math.isfinite(v) for row in record["accuracy_matrix"] for v in row)
    assert math.isfinite(record["final_accuracy"])


@pytest.mark.parametrize("optimizer", ["sgd-momentum", "adam"])
def test_a_skipped_update_leaves_weights_and_optimizer_state_untouched(optimizer):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    opt = (torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if optimizer != "adam"
           else torch.optim.Adam(model.parameters(), lr=0.01))
    strategy = Naive(model=model, optimizer=opt, criterion=torch.nn.CrossEntropyLoss(),
                     evaluator=EvaluationPlugin(), device="cpu")
    guard = install_guard(strategy)
    x, y = torch.randn(16, 4), torch.randint(0, 2, (16,))
    for _ in range(3):  # a few good steps build momentum / Adam moments
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    weights = copy.deepcopy(model.state_dict())
    state = copy.deepcopy(opt.state_dict())
    strategy.model, strategy.optimizer = model, opt
    strategy.loss = torch.nn.functional.cross_entropy(model(x), y) * NAN
    strategy.loss.backward()
    with pytest.warns(NonFiniteUpdateWarning):
        guard.after_backward(strategy)
    opt.step()
    guard.after_update(strategy)
    assert guard.skipped == 1
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, weights[name]), name
    after = opt.state_dict()["state"]
    for index, entry in state["state"].items():
        for key, tensor in entry.items():
            assert torch.equal(after[index][key], tensor), (index, key)
    assert all(torch.equal(p.grad, torch.zeros_like(p)) for p in model.parameters())


def test_skips_reach_the_loggers_and_wandb(monkeypatch):
    runs = []

    class FakeRun:
        def __init__(self, **kwargs):
            self.logs, self.config, self.summary = [], kwargs.get("config") or {}, {}
            runs.append(self)

        def log(self, data, **kwargs):
            self.logs.append(dict(data))

        def define_metric(self, *args, **kwargs):
            pass

        def finish(self, *args, **kwargs):
            pass

    monkeypatch.setattr(wandb, "init", lambda **kwargs: FakeRun(**kwargs))
    Injector(monkeypatch, {2, 12})
    with pytest.warns(NonFiniteUpdateWarning):
        run_suite_cell(cell("naive"), wandb_options={"dir": None})
    values = [data[SKIPPED_METRIC] for run in runs for data in run.logs if SKIPPED_METRIC in data]
    assert values and values[-1] == 2 and 1 in values


# --------------------------------------------------------------------------- too many in a row


def test_too_many_bad_steps_in_a_row_stop_with_an_error_and_a_checkpoint(tmp_path, monkeypatch):
    start = STEPS_PER_EXP + 3  # in experience 1, after experience 0 was checkpointed
    inject = Injector(monkeypatch, range(start, 10_000))
    run = cell("full")
    with pytest.warns(NonFiniteUpdateWarning), \
            pytest.raises(NumericalFaultError) as info:
        run_suite_cell(run, checkpoint_dir=tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert "10 consecutive updates with a non-finite loss (experience 1" in message
    fault = tmp_path / f"{checkpoint_path(tmp_path, run).stem}-fault.pt"
    assert str(fault) in message and fault.is_file()
    assert inject.guard.skipped == 10 and inject.weights_finite()
    state = load_checkpoint(fault)
    assert state["resumable"] is False
    assert state["extra"]["fault"].startswith("non-finite loss at experience 1")
    assert all(bool(torch.isfinite(t).all()) for t in state["model"].values())
    # the checkpoint after experience 0 still resumes the run
    assert load_checkpoint(checkpoint_path(tmp_path, run))["experience"] == 0


def test_cli_reports_a_numerical_fault_in_one_line_with_exit_code_3(tmp_path, monkeypatch,
                                                                    capsys):
    Injector(monkeypatch, range(5, 10_000))
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump(SUITE))
    out = tmp_path / "out"
    rc = main(["train", str(suite), "--benchmark", "g", "--strategy", "naive", "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 3
    assert "Traceback" not in captured.err
    lines = captured.err.splitlines()
    assert lines[-1].startswith("avalanche-neuromod: error: numerical fault: 10 consecutive")
    assert "-fault.pt" in lines[-1]
    assert all(line.startswith("avalanche-neuromod: ") for line in lines)
    assert not (out / "record.json").exists()


def test_guard_arguments_are_checked():
    with pytest.raises(ValueError, match="max_consecutive"):
        NumericalGuardPlugin(max_consecutive=0)


# ------------------------------------------------------------------------ bounded modulators


BAD = [NAN, INF, -INF, 1e30, -1e30, 0.0, 1.0]


def test_integrated_variables_stay_finite_and_bounded_whatever_the_signals():
    spec = default_integration({"dopamine": {}, "noradrenaline": {}, "acetylcholine": {},
                                "serotonin": {}})
    assert all("bounds" in spec[name] for name in VARIABLES)  # every variable is bounded
    integrator = Integrator(spec)
    signals = ("DA/rpe", "DA/abs_rpe", "NA/level", "NA/explore", "ACh/level", "ACh/switch",
               "5HT/level", "NA/release")
    for bad in BAD:
        for name in signals:
            out = integrator.evaluate_floats({name: bad})
            tensors = integrator.evaluate({name: torch.tensor(bad)})
            for var, value in out.items():
                low, high = spec[var]["bounds"]
                assert math.isfinite(value) and low <= value <= high, (name, bad, var, value)
                assert float(tensors[var]) == pytest.approx(value), (name, bad, var)
    # a declared variable without bounds is still held finite
    free = Integrator({"gain": {"terms": {"DA/rpe": 1e300}}})
    assert free.evaluate_floats({"DA/rpe": 1e300})["gain"] == LIMIT
    assert free.evaluate_floats({"DA/rpe": NAN})["gain"] == 1.0


def test_modulators_ignore_non_finite_input_and_keep_their_ranges():
    da, na, ach, ht = Dopamine(), Noradrenaline(warmup=1), Acetylcholine(), Serotonin()
    for step in range(60):
        bad = BAD[step % len(BAD)]
        value = torch.tensor([bad, 0.5])
        delta = da.prediction_error(value)
        assert bool(torch.isfinite(delta).all())
        m = da.plasticity(torch.tensor([bad, 1.0]))
        assert bool(((m >= 0) & (m <= da.max_plasticity)).all())
        na.observe(torch.tensor(bad), utility=torch.tensor(bad))
        ach.observe(torch.tensor(bad))
        ht.observe(bad)
        ht.observe_false_alarms(torch.tensor([bad]))
        for module in (da, na, ach, ht):
            for name, buffer in module.named_buffers():
                assert bool(torch.isfinite(buffer).all()), (type(module).__name__, name, bad)
        assert 0.0 <= float(na.level) <= 1.0 and 0.0 <= float(na.tonic) <= 1.0
        assert 0.0 <= float(ach.level) < 1.0 and 0.0 <= float(ht.level) <= 1.0


def test_plugin_variables_stay_in_bounds_under_extreme_losses(monkeypatch):
    plugin = NeuromodulationPlugin(dopamine={"reward": "loss"}, noradrenaline={"warmup": 1},
                                   acetylcholine={}, serotonin={})
    for bad in BAD * 3:
        signals = {k: bad for k in ("DA/rpe", "NA/level", "ACh/level", "5HT/level")}
        monkeypatch.setattr(plugin, "_modulator_signals", lambda s=signals: s)
        for name, value in plugin._refresh().items():
            low, high = plugin.integrator.spec[name]["bounds"]
            assert math.isfinite(value) and low <= value <= high, (name, bad, value)


# ----------------------------------------------------------- non-finite updates (issue 19)


@pytest.mark.parametrize(("optimizer", "lr"), [("adam", 1e308), ("sgd", 1e308)])
def test_a_step_that_makes_weights_non_finite_is_undone_and_counted(optimizer, lr):
    """Adam with lr 1e308 fills the weights with inf from finite gradients; SGD's step
    overflows (``value cannot be converted ... without overflow``): either is undone."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    opt = (torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if optimizer == "sgd"
           else torch.optim.Adam(model.parameters(), lr=0.01))
    strategy = Naive(model=model, optimizer=opt, criterion=torch.nn.CrossEntropyLoss(),
                     evaluator=EvaluationPlugin(), device="cpu")
    guard = install_guard(strategy)
    x, y = torch.randn(16, 4), torch.randint(0, 2, (16,))
    for _ in range(3):  # a few good steps build momentum / Adam moments
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    weights = copy.deepcopy(model.state_dict())
    state = copy.deepcopy(opt.state_dict())
    for group in opt.param_groups:
        group["lr"] = lr
    opt.zero_grad()
    strategy.loss = torch.nn.functional.cross_entropy(model(x), y)
    strategy.loss.backward()
    guard.after_backward(strategy)
    assert guard.skipped == 0  # the loss and the gradients are finite
    guard.before_update(strategy)
    with pytest.warns(NonFiniteUpdateWarning, match="non-finite update at experience .*undone"):
        strategy.optimizer_step()  # SGD: the overflow is caught here
        guard.after_update(strategy)  # Adam: the inf weights are seen here
    assert guard.skipped == 1 and guard.consecutive == 1
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, weights[name]), name
    after = opt.state_dict()["state"]
    for index, entry in state["state"].items():
        for key, value in entry.items():
            assert torch.equal(torch.as_tensor(after[index][key]), torch.as_tensor(value))
    assert guard.weights_finite(strategy)


def _huge_lr_suite(name: str):
    suite = load_suite({**copy.deepcopy(SUITE), "strategies": ["naive"]})
    # past load_suite's checks (which may refuse such a rate): the run itself must cope
    suite["benchmarks"][0]["budget"]["optimizer"] = {"name": name, "lr": 1e308}
    return suite


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_a_huge_learning_rate_is_a_diverged_cell_whose_fault_checkpoint_is_kept(optimizer,
                                                                                tmp_path):
    from avalanche_neuromod.leaderboard import read_records, run_suite
    from avalanche_neuromod.report.leaderboard import summarize_leaderboard

    suite = _huge_lr_suite(optimizer)
    with pytest.warns(NonFiniteUpdateWarning):
        summary = run_suite(suite, out_dir=tmp_path, progress=False)
    assert summary["ran"] == 1
    [record] = read_records(tmp_path / "results.jsonl")
    assert record["status"] == "diverged" and record["final_accuracy"] is None
    assert "10 consecutive updates with a non-finite update" in record["error"]
    fault = Path(record["error"].rsplit("saved to ", 1)[1].rstrip(")"))
    assert fault.name.endswith("-fault.pt") and fault.is_file()  # kept where the record says
    state = load_checkpoint(fault)
    assert all(bool(torch.isfinite(t).all()) for t in state["model"].values())
    before = fault.read_bytes()
    run_suite(suite, out_dir=tmp_path, progress=False)  # a re-run keeps it too
    assert fault.read_bytes() == before
    [row] = summarize_leaderboard(read_records(tmp_path / "results.jsonl"))["g"]
    assert row["strategy"] == "naive (1/1 diverged)"  # never a ranked result


def test_weights_not_finite_at_the_end_are_a_fault_never_a_record(monkeypatch, tmp_path):
    def corrupt(self, strategy, **kwargs):  # outside any step, after the last experience
        if strategy.experience.current_experience != 2:
            return
        with torch.no_grad():
            next(strategy.model.parameters()).view(-1)[0] = INF

    monkeypatch.setattr(NumericalGuardPlugin, "after_training_exp", corrupt, raising=False)
    with pytest.raises(NumericalFaultError, match="weights are not finite at the end"):
        run_suite_cell(cell("naive"))
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump({**SUITE, "strategies": ["naive"]}))
    rc = main(["train", str(suite), "--benchmark", "g", "--strategy", "naive", "--out",
               str(tmp_path / "out")])
    assert rc == 3 and not (tmp_path / "out" / "record.json").exists()


@pytest.mark.parametrize("strategy", ["naive", "full"])
def test_the_parameter_check_leaves_normal_runs_bit_identical(strategy, monkeypatch):
    checked = run_suite_cell(cell(strategy))
    monkeypatch.setattr(NumericalGuardPlugin, "before_update", lambda self, s, **kw: None)
    monkeypatch.setattr(guard_module, "tensors_finite", lambda tensors: True)
    unchecked = run_suite_cell(cell(strategy))
    assert {k: v for k, v in checked.items() if k != "wall_time"} == \
        {k: v for k, v in unchecked.items() if k != "wall_time"}

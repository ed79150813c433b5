"""The adaptive default (avalanche_neuromod/plugins/_adaptive.py, plugins/defaults.py):
``NeuromodulationPlugin()`` infers from what it observes whether a stream is task-labelled,
brings new labels, shifts its inputs or is reward-driven, acts on it and logs what it inferred.

Controlled cases: a label-incremental stream switches on the precision read-out and drops the
hidden gates; a same-label shift (a reversal of the Go/No-Go rule, no cue) opens a context; a
task-labelled stream gates by label; a reward-driven strategy is seen as one. Then the plugin
appended unchanged to Avalanche's own ``Naive``, ``EWC`` and ``Replay`` on Avalanche's own
``SplitMNIST`` and ``PermutedMNIST`` (MNIST from ``mnist_root``; fails, never skips, without it).
"""

from __future__ import annotations

import copy
import math
from types import SimpleNamespace

import pytest
import torch
from avalanche.benchmarks.classic import PermutedMNIST, SplitMNIST
from avalanche.evaluation.metrics import accuracy_metrics
from avalanche.models import SimpleMLP
from avalanche.training import EWC, Naive, Replay
from avalanche.training.plugins import EvaluationPlugin
from torch import nn

from avalanche_neuromod.benchmarks import gonogo_benchmark
from avalanche_neuromod.leaderboard import load_suite, run_suite_cell, suite_cells
from avalanche_neuromod.leaderboard.runner import inferred_situation
from avalanche_neuromod.plugins import ModulatorConfigError, NeuromodulationPlugin
from avalanche_neuromod.plugins.defaults import DEFAULT_MODULATORS
from avalanche_neuromod.strategies import NeuromodulatedStrategy, build_plugins, load_preset

ACC = "Top1_Acc_Stream/eval_phase/test_stream"
NOTHING = {"task_labels": False, "new_labels": False, "replay": False, "contexts": 1,
           "reward": False}


def _mlp(inputs: int, outputs: int = 2, hidden: int = 64) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(inputs, hidden), nn.ReLU(),
                         nn.Linear(hidden, outputs))


def _strategy(model, plugins, cls=Naive, mb: int = 8, lr: float = 0.1, momentum: float = 0.0,
              **kwargs):
    evaluator = EvaluationPlugin(accuracy_metrics(stream=True), loggers=[])
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    return cls(model=model, optimizer=optimizer,
               criterion=nn.CrossEntropyLoss(), train_mb_size=mb, eval_mb_size=256,
               plugins=plugins, evaluator=evaluator, **kwargs)


def _blobs(classes, *, n: int = 400, dim: int = 20, seed: int = 0):
    """Gaussian blobs, one per label, in ``dim`` dimensions (a tiny class-incremental step)."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(10, dim, generator=torch.Generator().manual_seed(99)) * 3.0
    y = torch.tensor(classes).repeat_interleave(n // len(classes))
    return centres[y] + torch.randn(len(y), dim, generator=generator), y


def _tensor_stream(experiences):
    from avalanche.benchmarks import tensors_benchmark

    return tensors_benchmark(train_tensors=list(experiences), test_tensors=list(experiences),
                             task_labels=[0] * len(experiences))


# --------------------------------------------------------------------- the default, stated once

def test_no_argument_is_the_adaptive_default_and_full_is_it_as_a_preset() -> None:
    plugin = NeuromodulationPlugin()
    assert list(plugin.modulators) == ["dopamine", "noradrenaline", "acetylcholine", "serotonin"]
    for name, params in DEFAULT_MODULATORS.items():
        for key, value in params.items():
            if key in plugin.options[name]:
                assert plugin.options[name][key] == value, (name, key)
            else:
                assert hasattr(plugin.modulators[name], key), (name, key)
    preset = load_preset("full")
    assert preset["modulators"] == DEFAULT_MODULATORS  # spelt out: records hash the values
    assert build_plugins(preset)[0].options == plugin.options
    assert plugin._adaptive()


def test_giving_a_modulator_runs_only_what_is_given() -> None:
    plugin = NeuromodulationPlugin(dopamine={})
    assert list(plugin.modulators) == ["dopamine"]
    assert not plugin._adaptive() and plugin._decision_signals() == {}


@pytest.mark.parametrize("option", [{"gating": "sometimes"}, {"readout": "adaptive"},
                                    {"switch": "always"}])
def test_bad_adaptive_options_name_the_field(option) -> None:
    with pytest.raises(ModulatorConfigError, match=next(iter(option))):
        NeuromodulationPlugin(acetylcholine=option)


def test_the_default_is_not_a_no_op() -> None:
    stream = _tensor_stream([_blobs([0, 1]), _blobs([2, 3], seed=1)])
    weights = {}
    for label, plugins in (("naive", []), ("default", [NeuromodulationPlugin()])):
        model = _mlp(20, outputs=4)
        strategy = _strategy(model, plugins)
        torch.manual_seed(1)
        for experience in stream.train_stream:
            strategy.train(experience)
        weights[label] = [p.detach().clone() for p in model.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(weights["naive"], weights["default"]))


# --------------------------------------------------------------------------- controlled cases

def test_label_incremental_stream_switches_on_output_attention_and_the_readout() -> None:
    stream = _tensor_stream([_blobs([0, 1]), _blobs([2, 3], seed=1)])
    plugin = NeuromodulationPlugin()
    model = _mlp(20, outputs=4)
    strategy = _strategy(model, [plugin])
    strategy.train(stream.train_stream[0])
    assert plugin.inferred() == NOTHING  # one experience: nothing says the labels will change
    assert not plugin._precision_readout() and not plugin._ungated()
    strategy.train(stream.train_stream[1])
    assert plugin.inferred() == {**NOTHING, "new_labels": True}  # no context split by them
    assert plugin._precision_readout() and plugin._ungated()
    # one ungated context is never recalled, so its input moments stop once the labels are new
    ach = plugin.modulators["acetylcholine"]
    assert not plugin._recalling() and ach.familiarity.known() == [0]
    assert float(ach.familiarity.moments["0"].count) == 400  # experience 0 alone
    assert plugin.trace[-1]["NM/new_labels"] == 1.0 and plugin.trace[0]["NM/new_labels"] == 0.0
    # evaluation reads out precision-weighted evidence, not the raw logits
    x = stream.test_stream[0].dataset[0][0][None]
    strategy.eval(stream.test_stream[:1])
    ach = plugin.modulators["acetylcholine"]
    model.eval()
    raw = model(x)
    assert torch.allclose(ach.outputs.readout(raw), (raw - ach.outputs.mean) *
                          (ach.outputs.var + ach.outputs.eps).rsqrt())


def test_same_label_shift_opens_a_context_recalled_at_test_time() -> None:
    bm = gonogo_benchmark(shifts=["reversal"], trials_per_rule=480, test_trials=64, seed=0)
    plugin = NeuromodulationPlugin()
    strategy = _strategy(_mlp(bm.input_size), [plugin])
    torch.manual_seed(1)
    for experience in bm.train_stream:
        strategy.train(experience)
    assert plugin.inferred() == {**NOTHING, "contexts": 2}  # the reversal, no cue, same labels
    assert plugin._recalling()
    ach = plugin.modulators["acetylcholine"]  # the default recalls by the inputs' moments
    assert plugin.options["acetylcholine"]["recall"] == "familiarity"
    assert ach.familiarity.known() == [0, 1]
    strategy.eval(bm.test_stream)
    assert plugin.recalled is not None and set(plugin.recalled.tolist()) <= {0, 1}


def test_a_change_explained_by_novel_labels_opens_no_context() -> None:
    # the same surprise with `switch: surprise` (every change signal opens a context) splits
    stream = _tensor_stream([_blobs([0, 1], n=800), _blobs([2, 3], n=800, seed=1)])
    contexts = {}
    for switch in ("unexplained", "surprise"):
        params = copy.deepcopy(DEFAULT_MODULATORS)
        params["acetylcholine"]["switch"] = switch
        plugin = NeuromodulationPlugin(**params)
        strategy = _strategy(_mlp(20, outputs=4), [plugin])
        torch.manual_seed(1)
        for experience in stream.train_stream:
            strategy.train(experience)
        contexts[switch] = len(plugin.modulators["acetylcholine"].known_contexts())
    assert contexts == {"unexplained": 1, "surprise": 2}


def test_task_labelled_stream_gates_by_label() -> None:
    bm = gonogo_benchmark(shifts=["reversal"], trials_per_rule=96, test_trials=32, cued=True)
    plugin = NeuromodulationPlugin()
    strategy = _strategy(_mlp(bm.input_size), [plugin])
    for experience in bm.train_stream:
        strategy.train(experience)
    assert plugin.inferred() == {**NOTHING, "task_labels": True, "contexts": 0}
    assert plugin._contexts.dim() == 1 and set(plugin._contexts.tolist()) == {1}  # per sample
    mask = plugin._context_mask(64, "cpu")  # the last experience's label: its own units
    ach = plugin.modulators["acetylcholine"]
    assert torch.equal(mask, ach.gate(1, 64)) and not torch.equal(mask, ach.gate(0, 64))
    assert float(mask.mean()) < 0.5


def test_reward_driven_learning_is_inferred() -> None:
    bm = gonogo_benchmark(shifts=["reversal"], trials_per_rule=96, test_trials=32)
    model = _mlp(bm.input_size)
    strategy = NeuromodulatedStrategy(model=model, optimizer=torch.optim.SGD(
        model.parameters(), lr=0.1), preset="full", learning="reward", train_mb_size=8,
        evaluator=EvaluationPlugin(loggers=[]))
    strategy.train(bm.train_stream[0])
    plugin = strategy.modulator_plugins[0]
    assert plugin.inferred()["reward"] is True
    assert plugin.delta is not None  # DA's RPE from the reward, as in the case study


def test_a_leaderboard_record_carries_what_was_inferred(tmp_path) -> None:
    suite = load_suite({
        "name": "adaptive-record", "seeds": [0], "learning": "supervised",
        "budget": {"model": {"hidden": 16, "layers": 1, "activation": "tanh"},
                   "optimizer": {"name": "sgd", "lr": 0.3}, "epochs": 1, "train_mb_size": 8,
                   "eval_mb_size": 64},
        "benchmarks": [{"name": "gonogo", "label": "g", "args": {
            "cued": True, "shifts": ["reversal"], "trials_per_rule": 96}}],
        "strategies": ["naive", "full"]})
    records = {cell.strategy: run_suite_cell(cell) for cell in suite_cells(suite)}
    assert "inferred" not in records["naive"]
    assert records["full"]["inferred"] == {**NOTHING, "task_labels": True, "contexts": 0}


def test_inferred_situation_is_none_without_an_adaptive_plugin() -> None:
    strategy = _strategy(_mlp(4), [NeuromodulationPlugin(dopamine={})])
    assert inferred_situation(strategy) is None


def test_replayed_labels_leave_the_outputs_to_the_host() -> None:
    """Replay mixes the first experience's labels into the second's steps: the outputs then
    compete through the replayed samples, so the default masks nothing and reads raw logits."""
    stream = _tensor_stream([_blobs([0, 1]), _blobs([2, 3], seed=1)])
    plugin = NeuromodulationPlugin()
    masked = []
    plugin.modulators["acetylcholine"].outputs.mask = lambda z, y: masked.append(1) or z
    strategy = _strategy(_mlp(20, outputs=4), [plugin], cls=Replay, mem_size=40)
    strategy.train(stream.train_stream[0])
    ach = plugin.modulators["acetylcholine"]
    assert plugin._attend_outputs(ach) and masked  # new labels, no memory yet: attended
    masked.clear()
    strategy.train(stream.train_stream[1])
    assert plugin.inferred() == {**NOTHING, "new_labels": True, "replay": True}
    assert not plugin._attend_outputs(ach) and not plugin._precision_readout()
    assert plugin._ungated()
    assert masked == []  # the first step of experience 1 already showed replayed labels
    assert plugin.trace[-1]["NM/replay"] == 1.0
    explicit = NeuromodulationPlugin(acetylcholine={"outputs": "attended", "readout": "precision"})
    explicit._replayed = True
    assert explicit._attend_outputs(ach) and explicit._precision_readout()  # as asked


def test_a_single_new_label_per_experience_keeps_every_output() -> None:
    """One class per experience: masking to the one novel output would make the loss 0."""
    stream = _tensor_stream([_blobs([0]), _blobs([1], seed=1), _blobs([2], seed=2)])
    plugin = NeuromodulationPlugin()
    ach = plugin.modulators["acetylcholine"]
    masked = []
    real = ach.outputs.mask
    ach.outputs.mask = lambda z, y: masked.append(1) or real(z, y)
    model = _mlp(20, outputs=3)
    strategy = _strategy(model, [plugin])
    strategy.train(stream.train_stream[0])
    masked.clear()
    before = [p.detach().clone() for p in model.parameters()]
    strategy.train(stream.train_stream[1])
    assert masked == [] and not plugin._attend_outputs(ach)
    assert plugin.inferred() == {**NOTHING, "new_labels": True}
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters()))  # it learnt


def test_a_mixed_task_batch_is_gated_per_task_through_a_multi_head_model() -> None:
    """Replay in task-IL mixes tasks in a batch; Avalanche's MultiTaskModule splits it by task:
    each share gets its own task's gates, as it does in a batch of that task alone."""
    from avalanche_neuromod.models import build_model

    torch.manual_seed(0)
    model = build_model(input_size=20, n_classes=2, hidden=32, layers=1, multihead=True)
    plugin = NeuromodulationPlugin()
    x, _ = _blobs([0, 1], n=8)
    tasks = torch.tensor([1, 0, 1, 0, 0, 1, 1, 0])
    model.pre_adapt(None, SimpleNamespace(classes_in_this_experience=[0, 1], task_labels=[0]))
    model.pre_adapt(None, SimpleNamespace(classes_in_this_experience=[0, 1], task_labels=[1]))
    seen = []
    model.features.register_forward_hook(lambda m, i, o: seen.append(o.detach()))
    plugin._task_mode = True
    plugin._attach(model)
    strategy = SimpleNamespace(mbatch=[x, None, tasks], mb_task_id=tasks)
    plugin._set_contexts(strategy)
    model.eval()
    mixed = model(x, tasks)
    alone = torch.zeros_like(mixed)
    for task in (0, 1):
        rows = tasks == task
        single = SimpleNamespace(mbatch=[x[rows], None, tasks[rows]], mb_task_id=tasks[rows])
        plugin._set_contexts(single)
        alone[rows] = model(x[rows], tasks[rows])
    assert torch.allclose(mixed, alone, atol=1e-6)
    assert not torch.equal(seen[0], seen[1])  # the two tasks' gates differ


# ------------------------------------------------------ Avalanche's own benchmarks and strategies

HOSTS = {"naive": (Naive, {}), "ewc": (EWC, {"ewc_lambda": 1.0}), "replay": (Replay,
                                                                         {"mem_size": 200})}


@pytest.fixture(scope="module")
def avalanche_split(mnist_root):
    return SplitMNIST(n_experiences=5, seed=0, dataset_root=mnist_root)


@pytest.fixture(scope="module")
def avalanche_permuted(mnist_root):
    return PermutedMNIST(n_experiences=2, seed=0, dataset_root=mnist_root)


def _host_run(bm, host: str, experiences: int):
    cls, kwargs = HOSTS[host]
    torch.manual_seed(0)
    model = SimpleMLP(num_classes=10, hidden_size=128, hidden_layers=1)
    plugin = NeuromodulationPlugin()
    strategy = _strategy(model, [plugin], cls=cls, mb=128, lr=0.01, momentum=0.9,
                         train_epochs=1, **kwargs)
    for experience in bm.train_stream[:experiences]:
        strategy.train(experience)
    results = strategy.eval(bm.test_stream[:experiences])
    assert all(torch.isfinite(p).all() for p in model.parameters())
    return plugin, results


@pytest.mark.parametrize("host", sorted(HOSTS))
def test_appended_to_avalanche_strategies_on_avalanche_split_mnist(avalanche_split, host):
    plugin, results = _host_run(avalanche_split, host, experiences=2)
    accuracy = results[f"{ACC}/Task000"]
    assert math.isfinite(accuracy) and accuracy > 0.45  # one of two experiences at least
    assert plugin.inferred() == {**NOTHING, "new_labels": True, "replay": host == "replay"}


@pytest.mark.parametrize("host", sorted(HOSTS))
def test_appended_to_avalanche_strategies_on_avalanche_permuted_mnist(avalanche_permuted, host):
    plugin, results = _host_run(avalanche_permuted, host, experiences=2)
    assert results[f"{ACC}/Task000"] > 0.8
    # the permutation, detected; Replay's stored samples make its steps bigger than the
    # mini-batch: the memory is inferred, and the host is left ungated from then on
    assert plugin.inferred() == {**NOTHING, "contexts": 2, "replay": host == "replay"}
    assert plugin._ungated() == (host == "replay")

"""Every modulator plugin inside Avalanche's strategies, multi-head and conv models, checkpoints."""

from __future__ import annotations

import copy
import io
import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from avalanche.benchmarks.scenarios.dataset_scenario import benchmark_from_datasets
from avalanche.benchmarks.scenarios.supervised import with_classes_timeline
from avalanche.benchmarks.scenarios.task_aware import with_task_labels
from avalanche.benchmarks.utils.classification_dataset import (
    _make_taskaware_tensor_classification_dataset as make_tensor_dataset,
)
from avalanche.core import SupervisedPlugin
from avalanche.evaluation.metrics import accuracy_metrics, loss_metrics
from avalanche.models import (
    IncrementalClassifier,
    MTSimpleMLP,
    MultiHeadClassifier,
    MultiTaskModule,
)
from avalanche.training import EWC, LwF, Naive, Replay, SynapticIntelligence
from avalanche.training.plugins import EvaluationPlugin
from torch import nn

from avalanche_neuromod.benchmarks import gonogo_benchmark
from avalanche_neuromod.plugins import (
    AcetylcholinePlugin,
    DopaminePlugin,
    NoradrenalinePlugin,
    SerotoninPlugin,
    modulator_signal_metrics,
)
from avalanche_neuromod.plugins._glue import hidden_layers
from avalanche_neuromod.strategies import build_plugins, load_preset

ACC = "Top1_Acc_Stream/eval_phase/test_stream"
LOSS = "Loss_Stream/eval_phase/test_stream"
TRIALS = 64  # per experience: 8 steps of 8 trials
STEPS = 2 * TRIALS // 8


def _full():
    (plugin,) = build_plugins(load_preset("full"))
    return plugin


PLUGINS = {
    "da": DopaminePlugin,
    "na": NoradrenalinePlugin,
    "ach": AcetylcholinePlugin,
    "5ht": SerotoninPlugin,
    "full": _full,
}
STRATEGIES = {
    "naive": (Naive, {}),
    "ewc": (EWC, {"ewc_lambda": 1.0}),
    "si": (SynapticIntelligence, {"si_lambda": 1.0}),
    "lwf": (LwF, {"alpha": 1.0, "temperature": 2.0}),
    "replay": (Replay, {"mem_size": 50}),
}
OPTIMIZERS = {
    "sgd": lambda params: torch.optim.SGD(params, lr=0.1),
    "adam": lambda params: torch.optim.Adam(params, lr=0.01),
}


@pytest.fixture(scope="module")
def stream():
    """Two cued Go/No-Go rules (task labels 0 and 1), 64 training trials each."""
    return gonogo_benchmark(rules=["A", "B"], trials_per_rule=TRIALS, test_trials=16, cued=True,
                            seed=0)


def _mlp(input_size: int) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(input_size, 32), nn.Tanh(), nn.Linear(32, 2))


def _evaluator() -> EvaluationPlugin:
    return EvaluationPlugin(accuracy_metrics(stream=True), loss_metrics(stream=True),
                            *modulator_signal_metrics(), loggers=[])


def _strategy(cls, model, optimizer, plugins, *, device="cpu", evaluator=None, **kwargs):
    return cls(model=model, optimizer=optimizer, criterion=nn.CrossEntropyLoss(),
               train_mb_size=8, train_epochs=1, eval_mb_size=64, device=device,
               plugins=plugins, evaluator=evaluator or EvaluationPlugin(loggers=[]), **kwargs)


def _run_case(stream, plugin_name: str, strategy_name: str, optimizer_name: str,
              device: str = "cpu") -> None:
    cls, kwargs = STRATEGIES[strategy_name]
    model = _mlp(stream.input_size).to(device)
    initial = [p.detach().clone() for p in model.parameters()]
    plugin = PLUGINS[plugin_name]()
    evaluator = _evaluator()
    strategy = _strategy(cls, model, OPTIMIZERS[optimizer_name](model.parameters()), [plugin],
                         device=device, evaluator=evaluator, **kwargs)
    torch.manual_seed(1)
    for experience in stream.train_stream:
        strategy.train(experience)
    results = strategy.eval(stream.test_stream)

    # the model learnt and stayed finite
    for p in model.parameters():
        assert p.device.type == device
        assert torch.isfinite(p).all()
    assert any(not torch.equal(p.cpu(), p0.cpu()) for p, p0 in zip(model.parameters(), initial))
    # the plugin recorded one entry per training step, all finite, and its signals moved
    assert len(plugin.trace) == STEPS
    assert all(math.isfinite(v) for step in plugin.trace for v in step.values())
    assert plugin.trace[0] != plugin.trace[-1]
    for modulator in plugin.modulators.values():
        for buffer in modulator.buffers():
            assert buffer.device.type == device
    # the metrics exist: accuracy and loss of the stream, one Neuromod/* value per step
    assert 0.0 <= results[ACC] <= 1.0
    assert math.isfinite(results[LOSS])
    metrics = evaluator.get_all_metrics()
    assert set(plugin.signals) and all(f"Neuromod/{name}" in metrics for name in plugin.signals)
    for name in plugin.signals:
        xs, ys = metrics[f"Neuromod/{name}"]
        assert len(ys) == STEPS
        assert ys == pytest.approx([step[name] for step in plugin.trace])


@pytest.mark.parametrize("optimizer_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("strategy_name", sorted(STRATEGIES))
@pytest.mark.parametrize("plugin_name", sorted(PLUGINS))
def test_plugin_in_avalanche_strategy(stream, plugin_name, strategy_name, optimizer_name):
    _run_case(stream, plugin_name, strategy_name, optimizer_name)


@pytest.mark.cuda
@pytest.mark.parametrize("optimizer_name", sorted(OPTIMIZERS))
def test_full_in_naive_on_cuda(stream, optimizer_name):
    _run_case(stream, "full", "naive", optimizer_name, device="cuda")


# =========================================================================== multi-head


class _Capture:
    """Forward hook that keeps a copy of a layer's (already gated) output."""

    def __init__(self, layer: nn.Module) -> None:
        self.outputs: list[torch.Tensor] = []
        self.handle = layer.register_forward_hook(self)

    def __call__(self, module, inputs, output):
        self.outputs.append(output.detach().clone())  # a ReLU(inplace) follows


def test_full_plugin_with_multihead_model_gates_per_task(stream):
    tasks = with_task_labels(stream)
    torch.manual_seed(0)
    model = MTSimpleMLP(input_size=stream.input_size, hidden_size=40)
    plugin = _full()
    evaluator = _evaluator()
    strategy = _strategy(Naive, model, torch.optim.SGD(model.parameters(), lr=0.1), [plugin],
                         evaluator=evaluator)
    torch.manual_seed(1)
    for experience in tasks.train_stream:
        strategy.train(experience)
    assert set(model.classifier.classifiers) == {"0", "1"}  # one head per task
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert len(plugin.trace) == STEPS
    assert plugin._task_mode  # contexts come from the task labels
    ach = plugin.modulators["acetylcholine"]
    assert {"0", "1"} <= set(ach.stats)  # expected uncertainty per task
    (hidden,) = hidden_layers(model)
    assert hidden is model.features[0]

    capture = _Capture(hidden)  # registered after the plugin's hook: sees the gated output
    open_units = []
    for experience in tasks.test_stream:
        capture.outputs.clear()
        results = strategy.eval([experience])
        out = torch.cat(capture.outputs)
        assert out.shape == (16, 40)
        is_open = (out != 0).any(dim=0)
        gate = ach.gate(experience.task_label, 40)
        assert torch.equal(is_open, gate == 1.0)  # strength 1: the others are exactly 0
        assert int(is_open.sum()) == 8  # gate_keep 0.2 of 40 units
        open_units.append(is_open)
    capture.handle.remove()
    assert not torch.equal(open_units[0], open_units[1])  # each task uses its own units
    accuracies = [v for k, v in results.items() if k.startswith("Top1_Acc_Stream")]
    assert accuracies and all(0.0 <= v <= 1.0 for v in accuracies)


def test_per_sample_gates_in_a_mixed_task_batch():
    """A single-head model on a batch mixing tasks (as Replay gives): each row its own gate."""
    plugin = AcetylcholinePlugin(gate_keep=0.25)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 2))
    x, tasks = torch.randn(5, 6), torch.tensor([1, 0, 2, 1, 0])
    strategy = SimpleNamespace(model=model, device="cpu", mbatch=[x, torch.zeros(5), tasks],
                               mb_task_id=tasks)
    plugin.before_training_exp(strategy)
    plugin.before_forward(strategy)
    capture = _Capture(model[0])
    model.train()
    with torch.no_grad():
        model(x)
    out = capture.outputs[0]
    ach = plugin.modulators["acetylcholine"]
    for row, task in zip(out, tasks.tolist()):
        assert torch.equal(row != 0, ach.gate(task, 12) == 1.0)
    assert not torch.equal(out[0] != 0, out[1] != 0)


# ==================================================================== models that grow


class _HeadsFirst(MultiTaskModule):
    """A multi-head model that declares its heads before its trunk."""

    def __init__(self, input_size: int) -> None:
        super().__init__()
        self.classifier = MultiHeadClassifier(16)
        self.features = nn.Sequential(nn.Linear(input_size, 16), nn.Tanh())

    def forward_single_task(self, x, task_label):
        return self.classifier(self.features(x), task_label)


class _GrowingHead(nn.Module):
    """A class-incremental model: Avalanche's IncrementalClassifier widens its read-out."""

    def __init__(self, input_size: int) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Linear(input_size, 16), nn.Tanh())
        self.classifier = IncrementalClassifier(16, initial_out_features=2)

    def forward(self, x):
        return self.classifier(self.features(x))


def _class_incremental_stream():
    """Classes 0/1, then 2/3 (no task labels): the read-out must grow."""
    generator = torch.Generator().manual_seed(0)
    train, test = [], []
    for classes in ((0, 1), (2, 3)):
        for n, out in ((64, train), (16, test)):
            x = torch.rand(n, 10, generator=generator)
            y = torch.tensor(classes)[torch.arange(n) % 2]
            out.append(make_tensor_dataset(x, y, task_labels=0))
    return with_classes_timeline(benchmark_from_datasets(train=train, test=test))




@pytest.mark.parametrize("plugin_name", ["5ht", "full"])
@pytest.mark.parametrize("kind", ["incremental_head", "heads_first_multihead"])
def test_serotonin_with_a_model_that_grows(stream, kind, plugin_name):
    torch.manual_seed(0)
    if kind == "incremental_head":
        bm, model = _class_incremental_stream(), _GrowingHead(10)
    else:
        bm, model = with_task_labels(stream), _HeadsFirst(stream.input_size)
    plugin = PLUGINS[plugin_name]()
    strategy = _strategy(Naive, model, torch.optim.SGD(model.parameters(), lr=0.1), [plugin])
    torch.manual_seed(1)
    for experience in bm.train_stream:
        strategy.train(experience)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert len(plugin.trace) == STEPS
    assert isinstance(strategy.eval(bm.test_stream), dict)


# =========================================================================== checkpoint


def test_checkpoint_continues_bitwise(stream):
    model = _mlp(stream.input_size)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    plugin = _full()
    strategy = _strategy(Naive, model, optimizer, [plugin])
    torch.manual_seed(1)
    strategy.train(stream.train_stream[0])
    assert len(plugin.trace) == STEPS // 2

    buffer = io.BytesIO()
    torch.save(plugin.state_dict(), buffer)
    buffer.seek(0)
    restored = _full()
    restored.load_state_dict(torch.load(buffer, weights_only=True))

    # the same signals (DA/plasticity is the last batch's factor, not state)
    def state_signals(p):
        return {k: v for k, v in p.signals.items() if k != "DA/plasticity"}

    assert state_signals(restored) == state_signals(plugin)
    assert restored.variables == plugin.variables
    ht_a, ht_b = plugin.modulators["serotonin"], restored.modulators["serotonin"]
    assert len(ht_a.importance) == 4 and float(sum(o.sum() for o in ht_a.importance)) > 0
    assert all(torch.equal(a, b) for a, b in zip(ht_a.importance, ht_b.importance))
    assert all(torch.equal(a, b) for a, b in zip(ht_a.anchor, ht_b.anchor))
    ach_a, ach_b = plugin.modulators["acetylcholine"], restored.modulators["acetylcholine"]
    assert sorted(ach_a.stats) == sorted(ach_b.stats)

    # continue from copies of the same model and optimizer state
    weights = copy.deepcopy(model.state_dict())  # not the model: it carries the plugin's hooks
    opt_state = copy.deepcopy(optimizer.state_dict())
    done = len(plugin.trace)
    continued = {}
    for label, modulator in (("original", plugin), ("restored", restored),
                             ("unrestored", _full())):
        net = _mlp(stream.input_size)
        net.load_state_dict(weights)
        opt = torch.optim.SGD(net.parameters(), lr=0.3, momentum=0.9)
        opt.load_state_dict(opt_state)
        s = _strategy(Naive, net, opt, [modulator])
        torch.manual_seed(5)
        s.train(stream.train_stream[1])
        continued[label] = [p.detach().clone() for p in net.parameters()]
    for a, b in zip(continued["original"], continued["restored"]):
        assert torch.equal(a, b)
    assert plugin.trace[done:] == restored.trace
    assert len(restored.trace) == STEPS // 2
    # the checkpoint mattered: a plugin without it learns something else
    assert any(not torch.equal(a, b)
               for a, b in zip(continued["original"], continued["unrestored"]))


# =========================================================================== any nn.Module


class _ConvProbe(SupervisedPlugin):
    """After the modulator's hooks, checks the conv output is ``conv(x) * gain * gate``."""

    def __init__(self, modulator) -> None:
        super().__init__()
        self.modulator = modulator
        self.errors: list[float] = []
        self.open_channels: list[int] = []
        self.gains: list[float] = []
        self._handle = None

    def before_training_exp(self, strategy, **kwargs):
        if self._handle is None:
            self._handle = strategy.model[0].register_forward_hook(self._check)

    def _check(self, module, inputs, output):
        if not module.training:
            return
        plugin = self.modulator
        context = int(plugin._contexts.reshape(-1)[0])
        gate = plugin.modulators["acetylcholine"].gate(context, module.out_channels)
        with torch.no_grad():
            raw = F.conv2d(inputs[0], module.weight, module.bias)
            want = raw * (plugin._gain * gate.reshape(1, -1, 1, 1))
        self.errors.append(float((output.detach() - want).abs().max()))
        self.open_channels.append(int((output.detach() != 0).flatten(2).any(-1).any(0).sum()))
        self.gains.append(float(plugin._gain))


def _image_stream():
    generator = torch.Generator().manual_seed(0)
    train, test = [], []
    for task in range(2):
        for n, out in ((64, train), (16, test)):
            x = torch.rand(n, 1, 8, 8, generator=generator)
            y = (x[:, 0, :4].mean((1, 2)) > x[:, 0, 4:].mean((1, 2))).long()
            out.append(make_tensor_dataset(x, y, task_labels=task))
    scenario = with_classes_timeline(benchmark_from_datasets(train=train, test=test))
    for s in (scenario.train_stream, scenario.test_stream):
        for experience in s:
            experience.classes_in_this_experience = sorted(
                experience.classes_in_this_experience)
    return scenario


def test_full_plugin_hooks_a_conv_model():
    images = _image_stream()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 10, 3), nn.ReLU(), nn.Flatten(), nn.Linear(10 * 6 * 6, 2))
    assert hidden_layers(model) == [model[0]]
    plugin = _full()
    probe = _ConvProbe(plugin)
    evaluator = _evaluator()
    strategy = _strategy(Naive, model, torch.optim.SGD(model.parameters(), lr=0.1),
                         [plugin, probe], evaluator=evaluator)
    torch.manual_seed(1)
    for experience in images.train_stream:
        strategy.train(experience)
    results = strategy.eval(images.test_stream)
    assert plugin._hooked is model and len(plugin._handles) == 1
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert len(plugin.trace) == STEPS
    assert len(probe.errors) == STEPS
    assert max(probe.errors) < 1e-6  # gain and gates multiply the conv's output channels
    assert set(probe.open_channels) == {2}  # gate_keep 0.2 of 10 channels
    assert all(g >= 1.0 for g in probe.gains)
    assert 0.0 <= results[ACC] <= 1.0

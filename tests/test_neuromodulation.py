"""Issue 3: ACh, 5-HT, the many-to-one integrator, presets, the strategy matrix, checkpoints."""

from __future__ import annotations

import copy
import io
import math

import pytest
import torch
from avalanche.evaluation.metrics import accuracy_metrics
from avalanche.training import EWC, LwF, Naive, Replay, SynapticIntelligence
from avalanche.training.plugins import EvaluationPlugin
from torch import nn

from avalanche_neuromod.benchmarks import gonogo_benchmark
from avalanche_neuromod.models import MultiHeadMLP
from avalanche_neuromod.modulators import Acetylcholine, Integrator, Serotonin
from avalanche_neuromod.modulators.integration import (
    IntegrationError,
    default_integration,
    validate_integration,
)
from avalanche_neuromod.plugins import (
    AcetylcholinePlugin,
    ContextRecall,
    DopaminePlugin,
    ModulatorConfigError,
    NeuromodulationPlugin,
    NoradrenalinePlugin,
    SerotoninPlugin,
)
from avalanche_neuromod.strategies import NeuromodulatedStrategy, build_plugins, load_preset

ACC = "Top1_Acc_Stream/eval_phase/test_stream"


@pytest.fixture(scope="module")
def cued():
    return gonogo_benchmark(rules=["A", "B"], trials_per_rule=96, test_trials=32, cued=True,
                            seed=0)


def _mlp(bm, hidden: int = 32) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(bm.input_size, hidden), nn.Tanh(), nn.Linear(hidden, 2))


def _train(bm, model, plugins, cls=Naive, optimizer=None, device="cpu", **kwargs):
    model.to(device)
    optimizer = optimizer or torch.optim.SGD(model.parameters(), lr=0.3)
    evaluator = EvaluationPlugin(accuracy_metrics(stream=True), loggers=[])
    strategy = cls(model=model, optimizer=optimizer, criterion=nn.CrossEntropyLoss(),
                   train_mb_size=8, eval_mb_size=64, device=device, plugins=plugins,
                   evaluator=evaluator, **kwargs)
    torch.manual_seed(1)
    for experience in bm.train_stream:
        strategy.train(experience)
    return strategy, strategy.eval(bm.test_stream)


# ------------------------------------------------------------------ integration maths
def test_integrator_convergent_opponent_and_bounds():
    spec = {"plasticity": {"terms": {"NA/level": 2.0, "ACh/level": 0.5, "5HT/level": -0.5},
                           "bounds": [0.0, 3.0]},
            "consolidation": {"base": "5HT/level", "terms": {"NA/level": -1.0}}}
    out = Integrator(spec).evaluate_floats({"NA/level": 0.5, "ACh/level": 0.4, "5HT/level": 0.2})
    assert out["plasticity"] == pytest.approx(min((1 + 1.0) * (1 + 0.2) * (1 - 0.1), 3.0))
    assert out["consolidation"] == pytest.approx(0.2 * 0.5)
    tensors = Integrator(spec).evaluate({"NA/level": torch.tensor(0.9)})
    assert float(tensors["plasticity"]) == pytest.approx(2.8)  # absent signals: factor 1
    clipped = Integrator(spec).evaluate_floats({"NA/level": 5.0})
    assert clipped["plasticity"] == 3.0


@pytest.mark.parametrize(("spec", "needle"), [
    ({"speed": {}}, "integration.speed"),
    ({"gain": {"terms": {"XX/level": 1.0}}}, "integration.gain.terms.XX/level"),
    ({"gain": {"terms": {"NA/level": "big"}}}, "integration.gain.terms.NA/level"),
    ({"gain": {"bounds": [2.0, 1.0]}}, "integration.gain.bounds"),
])
def test_integration_errors_name_the_field(spec, needle):
    with pytest.raises(IntegrationError, match=needle.replace(".", r"\.")):
        validate_integration(spec)


def test_default_integration_declares_the_interactions():
    na_only = default_integration({"noradrenaline": {"plasticity_gain": 2.0}})
    assert na_only["plasticity"]["terms"] == {"NA/level": 2.0}
    assert na_only["da_plasticity"]["terms"] == {}
    all_four = default_integration({"dopamine": {}, "noradrenaline": {}, "acetylcholine": {},
                                    "serotonin": {"opponent": 0.5}})
    assert all_four["da_plasticity"]["terms"] == {"NA/level": 1.0, "5HT/level": -0.5}
    assert all_four["na_threshold"]["terms"] == {"ACh/switch": 1.0}
    assert all_four["consolidation"]["terms"] == {"NA/level": -1.0, "ACh/level": -1.0}


# ---------------------------------------------------------------------- modulators
def test_acetylcholine_expected_uncertainty_per_context_and_gates():
    ach = Acetylcholine(stats_rate=0.5, scale=0.25, gate_keep=0.25, gate_strength=1.0)
    for u in (1.0, 0.0, 1.0):
        ach.observe(torch.tensor(u), context=0)
    var = (1 - 0.5) * (0.0 + 0.5 * 1.0)  # step 2: mean 1 -> 0.5, var 0.25
    mean = 0.5
    var = (1 - 0.5) * (var + 0.5 * (1.0 - mean) ** 2)
    sd = math.sqrt(var)
    assert float(ach.level) == pytest.approx(sd / (sd + 0.25))
    ach.observe(torch.tensor(0.3), context=1)  # a new context starts its own statistics
    assert float(ach.level) == pytest.approx(0.0)
    assert "0" in ach.stats and "1" in ach.stats
    g0, g1 = ach.gate(0, 40), ach.gate(1, 40)
    assert int((g0 == 1).sum()) == 10 and int((g0 == 0).sum()) == 30
    assert torch.equal(g0, ach.gate(0, 40)) and not torch.equal(g0, g1)


def _eval_batch(plugin, model, x):
    from types import SimpleNamespace

    strategy = SimpleNamespace(model=model, mb_x=x, mbatch=[x, torch.zeros(len(x)).long(),
                                                            torch.zeros(len(x)).long()])
    strategy.mb_task_id = strategy.mbatch[2]
    plugin.before_eval_exp(strategy)
    plugin.before_eval_forward(strategy)
    with torch.no_grad():
        strategy.mb_output = model(x)
    plugin.after_eval_forward(strategy)
    return strategy.mb_output


def test_recall_reads_each_sample_through_its_least_uncertain_context():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                          nn.Linear(16, 4)).eval()
    plugin = NeuromodulationPlugin(acetylcholine=dict(recall="entropy", gate_keep=0.5))
    ach = plugin.modulators["acetylcholine"]
    for _ in range(2):  # contexts 0, 1, 2 observed; the learner is in context 2
        ach.observe(torch.tensor(1.0))
        ach.switch_context()
    ach.observe(torch.tensor(1.0))
    x = 3 * torch.randn(32, 6)
    out = _eval_batch(plugin, model, x)
    # brute force: the output under each context's gates, and the least uncertain per sample
    per_context = []
    for c in (0, 1, 2):
        plugin._contexts = torch.tensor(c)
        with torch.no_grad():
            per_context.append(model(x))
    stacked = torch.stack(per_context)
    p = stacked.softmax(-1)
    best = (-(p * p.log()).sum(-1)).argmin(0)
    assert len(best.unique()) > 1  # the samples do not all recall the same context
    assert torch.equal(plugin.recalled, best)
    assert torch.allclose(out, stacked[best, torch.arange(32)])
    # `current` (the default) reads every sample through the context the learner is in
    plugin.options["acetylcholine"]["recall"] = "current"
    assert torch.allclose(_eval_batch(plugin, model, x), stacked[2])
    with pytest.raises(ModulatorConfigError, match="recall must be one of current, entropy"):
        NeuromodulationPlugin(acetylcholine=dict(recall="oracle"))
    with pytest.raises(ModulatorConfigError, match="min_dwell"):
        NeuromodulationPlugin(acetylcholine=dict(min_dwell=-5))


def test_recall_recovers_earlier_permutations_without_task_labels(mnist_root):
    # Two permutations of MNIST, no task labels: NA declares one change, ACh opens a second
    # context, and at test time each sample is read through the context it belongs to.
    from avalanche_neuromod.benchmarks import get_benchmark

    bm = get_benchmark("permuted_mnist", n_experiences=2, seed=0, train_samples=6000,
                       dataset_root=mnist_root)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 128),
                          nn.ReLU(), nn.Linear(128, 10))
    plugin = NeuromodulationPlugin(
        noradrenaline=dict(threshold=6.0, effects=["plasticity"]),
        acetylcholine=dict(min_dwell=20, threshold_gain=0.0, gate_keep=0.3, recall="entropy"),
        serotonin={})
    evaluator = EvaluationPlugin(accuracy_metrics(experience=True), ContextRecall(), loggers=[])
    strategy = Naive(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.05,
                                                            momentum=0.9),
                     criterion=nn.CrossEntropyLoss(), train_mb_size=64, train_epochs=1,
                     eval_mb_size=1000, plugins=[plugin], evaluator=evaluator)
    for experience in bm.train_stream:
        strategy.train(experience)
    ach = plugin.modulators["acetylcholine"]
    assert ach.known_contexts() == [0, 1]  # one change declared, at the boundary

    def first_permutation() -> tuple[float, dict]:
        results = strategy.eval(bm.test_stream)
        accuracy = results["Top1_Acc_Exp/eval_phase/test_stream/Task000/Exp000"]
        return accuracy, {k.split("/")[0] + k[-1]: v for k, v in results.items()
                          if k.startswith("ACh_Recall")}

    recalled, recall = first_permutation()
    # ContextRecall (logged to W&B with the other modulator signals): experience j is read
    # through context j, almost every sample of it
    assert recall["ACh_RecallContext0"] == 0 and recall["ACh_RecallContext1"] == 1, recall
    assert recall["ACh_RecallPurity0"] > 0.8 and recall["ACh_RecallPurity1"] > 0.8, recall
    plugin.options["acetylcholine"]["recall"] = "current"
    current, _ = first_permutation()
    assert recalled > 0.75 and current < 0.5, (recalled, current)
    assert plugin.recalled is None  # no recall with `current`


def test_serotonin_dopamine_gated_importance_and_bounded_penalty():
    ht = Serotonin(strength=1.0, max_stiffness=0.5, dopamine_gate=2.0, initial_level=1.0)
    w = nn.Parameter(torch.tensor([1.0, 2.0]))
    ht.consolidate([w])  # anchor at the start, nothing important yet
    w.grad = torch.tensor([1.0, 3.0])
    ht.accumulate([w], dopamine=-1.0)  # a change that did not pay off: gamma = 0
    w.grad = torch.tensor([1.0, 3.0])
    ht.accumulate([w], dopamine=0.25)  # gamma = 1.5
    ht.consolidate([w])
    omega = torch.tensor([1.5, 13.5]) / 2  # mean over the 2 sampled steps
    assert torch.allclose(ht.importance[0], omega)
    with torch.no_grad():
        w.add_(torch.tensor([0.1, -0.2]))
    w.grad = torch.zeros(2)
    ht.add_penalty_grad([w], 1.0)
    stiffness = (omega / omega.mean()).clamp(max=0.5)
    assert torch.allclose(w.grad, stiffness * torch.tensor([0.1, -0.2]))
    # the penalty's gradient is what add_penalty_grad adds
    w.grad = None
    ht.penalty([w], 1.0).backward()
    assert torch.allclose(w.grad, stiffness * torch.tensor([0.1, -0.2]))


def test_serotonin_state_round_trips_through_weights_only_load():
    ht = Serotonin()
    w = nn.Parameter(torch.randn(3))
    w.grad = torch.randn(3)
    ht.accumulate([w])
    ht.consolidate([w])
    buffer = io.BytesIO()
    torch.save(ht.state_dict(), buffer)
    buffer.seek(0)
    fresh = Serotonin()
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    assert torch.equal(fresh.importance[0], ht.importance[0])
    assert torch.equal(fresh.anchor[0], ht.anchor[0])


# ------------------------------------------------------------- presets = single plugins
SINGLE = {
    "da": lambda p: DopaminePlugin(**p["dopamine"]),
    "na": lambda p: NoradrenalinePlugin(**p["noradrenaline"]),
    "ach": lambda p: AcetylcholinePlugin(**p["acetylcholine"]),
    "5ht": lambda p: SerotoninPlugin(**p["serotonin"]),
}


@pytest.mark.parametrize("name", sorted(SINGLE))
def test_each_single_preset_equals_its_plugin(cued, name):
    preset = load_preset(name)
    single = SINGLE[name](preset["modulators"])
    (integrated,) = build_plugins(preset)
    model_a, model_b = _mlp(cued), _mlp(cued)
    _train(cued, model_a, [single])
    _train(cued, model_b, [integrated])
    for a, b in zip(model_a.parameters(), model_b.parameters()):
        assert torch.equal(a, b)
    assert single.trace == integrated.trace


def test_interactions_are_live():
    plugin = NeuromodulationPlugin(dopamine={}, noradrenaline={}, serotonin={})
    signals = {"NA/level": 1.0, "5HT/level": 0.0}
    boosted = plugin.integrator.evaluate_floats(signals)["da_plasticity"]
    damped = plugin.integrator.evaluate_floats({"NA/level": 0.0, "5HT/level": 1.0})
    assert boosted == pytest.approx(2.0)  # NA boosts DA (modulatory)
    assert damped["da_plasticity"] == pytest.approx(0.5)  # 5-HT opposes DA (opponent)


# ------------------------------------------------------------------ strategy matrix
PLUGINS = {
    "da": lambda: DopaminePlugin(),
    "na": lambda: NoradrenalinePlugin(),
    "ach": lambda: AcetylcholinePlugin(),
    "5ht": lambda: SerotoninPlugin(),
    "full": lambda: build_plugins(load_preset("full"))[0],
}
STRATEGIES = {
    "naive": (Naive, {}),
    "ewc": (EWC, {"ewc_lambda": 1.0}),
    "si": (SynapticIntelligence, {"si_lambda": 1.0}),
    "lwf": (LwF, {"alpha": 1.0, "temperature": 2.0}),
    "replay": (Replay, {"mem_size": 50}),
}


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_plugin_in_avalanche_strategy(cued, plugin, strategy, device):
    cls, kwargs = STRATEGIES[strategy]
    model = _mlp(cued).to(device)
    modulator = PLUGINS[plugin]()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01) if strategy == "si" else None
    _, results = _train(cued, model, [modulator], cls=cls, optimizer=optimizer, device=device,
                        **kwargs)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert len(modulator.trace) == 2 * 96 // 8
    assert 0.0 <= results[ACC] <= 1.0


def test_full_with_a_multihead_model_gates_per_task(cued):
    from avalanche.benchmarks.scenarios.task_aware import with_task_labels

    torch.manual_seed(0)
    model = MultiHeadMLP(input_size=cued.input_size, hidden=40, layers=1, activation="tanh")
    plugin = build_plugins(load_preset("full"))[0]
    _, results = _train(with_task_labels(cued), model, [plugin])
    accuracies = [v for k, v in results.items() if k.startswith(ACC)]
    assert accuracies and all(0.0 <= v <= 1.0 for v in accuracies)
    assert set(model.classifier.classifiers) == {"0", "1"}  # one head per context
    ach = plugin.modulators["acetylcholine"]
    assert not torch.equal(ach.gate(0, 40), ach.gate(1, 40))
    assert plugin._task_mode  # cued stream: contexts come from the task labels


def test_gates_hook_any_module_including_convolutions():
    plugin = AcetylcholinePlugin(gate_keep=0.25)
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 2))
    plugin._attach(model)
    plugin._contexts = torch.tensor(0)
    out = model[0](torch.ones(2, 1, 8, 8))
    open_channels = (out.abs().sum(dim=(0, 2, 3)) > 0).sum()
    assert int(open_channels) == 2  # 25 % of 8 channels


def test_checkpoint_restores_modulator_state(cued):
    model = _mlp(cued)
    plugin = build_plugins(load_preset("full"))[0]
    strategy, _ = _train(cued, model, [plugin])
    buffer = io.BytesIO()
    torch.save(plugin.state_dict(), buffer)
    buffer.seek(0)
    fresh = build_plugins(load_preset("full"))[0]
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    def state_signals(p):  # DA/plasticity is the last batch's factor, not saved state
        return {k: v for k, v in p.signals.items() if k != "DA/plasticity"}

    assert state_signals(fresh) == pytest.approx(state_signals(plugin))
    ht_a, ht_b = plugin.modulators["serotonin"], fresh.modulators["serotonin"]
    assert all(torch.equal(a, b) for a, b in zip(ht_a.importance, ht_b.importance))
    # continuing from the checkpoint gives the same parameters as continuing the original
    continued = {}
    weights = copy.deepcopy(model.state_dict())  # weights only: the model also carries hooks
    for label, modulator in (("original", plugin), ("restored", fresh)):
        net = _mlp(cued)
        net.load_state_dict(weights)
        opt = torch.optim.SGD(net.parameters(), lr=0.3)
        s = Naive(model=net, optimizer=opt, criterion=nn.CrossEntropyLoss(), train_mb_size=8,
                  device="cpu", plugins=[modulator], evaluator=EvaluationPlugin(loggers=[]))
        torch.manual_seed(5)
        s.train(cued.train_stream[0])
        continued[label] = [p.detach().clone() for p in net.parameters()]
    for a, b in zip(continued["original"], continued["restored"]):
        assert torch.equal(a, b)


def test_supervised_effects_replace_na_effects_in_supervised_mode_only(cued):
    def params(**na):
        plugin = NeuromodulationPlugin(noradrenaline=dict(threshold=1.5, **na))
        strategy, _ = _train(cued, _mlp(cued), [plugin])
        return torch.cat([p.detach().flatten() for p in strategy.model.parameters()])

    only_signal = params(effects=["plasticity"], supervised_effects=[])
    assert torch.equal(only_signal, params(effects=[]))  # supervised: as without NA's effects
    assert not torch.equal(only_signal, params(effects=["plasticity"]))

    def reward_params(**na):  # reward-driven: `effects` hold, `supervised_effects` is inert
        torch.manual_seed(0)
        model = _mlp(cued)
        preset = {"modulators": {"noradrenaline": dict(threshold=1.5, **na)}}
        strategy = NeuromodulatedStrategy(model=model, optimizer=torch.optim.SGD(
            model.parameters(), lr=0.3), preset=preset, learning="reward", train_mb_size=8,
            device="cpu", evaluator=EvaluationPlugin(loggers=[]))
        torch.manual_seed(1)
        for experience in cued.train_stream:
            strategy.train(experience)
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    boosted = reward_params(effects=["plasticity"], supervised_effects=[])
    assert torch.equal(boosted, reward_params(effects=["plasticity"]))
    assert not torch.equal(boosted, reward_params(effects=[]))
    with pytest.raises(ModulatorConfigError, match="supervised_effects: unknown effect"):
        NeuromodulationPlugin(noradrenaline=dict(supervised_effects=["bogus"]))

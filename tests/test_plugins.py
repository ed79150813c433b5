"""Tests for avalanche_neuromod.plugins: hooks driven by hand and inside Avalanche strategies."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from avalanche.core import SupervisedPlugin
from avalanche.training import Naive
from avalanche.training.plugins import EvaluationPlugin
from torch import nn

from avalanche_neuromod.benchmarks import gonogo_benchmark
from avalanche_neuromod.plugins import (
    DopaminePlugin,
    NoradrenalinePlugin,
    modulator_signal_metrics,
)
from avalanche_neuromod.plugins._glue import UpdateGate, hidden_layers, readout_layers
from avalanche_neuromod.strategies import RewardDrivenStrategy


@pytest.fixture(scope="module")
def reversal():
    """Rule A then rule B (a reversal): 20 steps of 8 trials per experience."""
    return gonogo_benchmark(rules=["A", "B"], trials_per_rule=160, test_trials=32, seed=0)


def _mlp(input_size: int, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(input_size, 32), nn.ReLU(), nn.Linear(32, 2))


def _naive(model: nn.Module, optimizer, plugins, evaluator=None) -> Naive:
    return Naive(model=model, optimizer=optimizer, train_mb_size=8, train_epochs=1,
                 eval_mb_size=64, device="cpu", plugins=plugins,
                 evaluator=evaluator if evaluator is not None else EvaluationPlugin(loggers=[]))


def _proposed_and_gated(plugin, *, factor: float | None = None):
    """One SGD step of a model with the plugin's update hooks and of an unhooked copy.

    Returns (gated change, proposed change) of every parameter.
    """
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    plain = copy.deepcopy(model)
    x, y = torch.randn(6, 4), torch.tensor([0, 1, 0, 1, 1, 0])
    before = [p.detach().clone() for p in model.parameters()]
    for net in (model, plain):
        F.cross_entropy(net(x), y).backward()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt_plain = torch.optim.SGD(plain.parameters(), lr=0.1, momentum=0.9)
    strategy = SimpleNamespace(model=model, device="cpu")
    plugin.before_update(strategy)
    opt.step()
    plugin.after_update(strategy)
    opt_plain.step()
    gated = [p.detach() - b for p, b in zip(model.parameters(), before)]
    proposed = [p.detach() - b for p, b in zip(plain.parameters(), before)]
    return gated, proposed


class _Recorder(SupervisedPlugin):
    """Copies the strategy's reward-driven step attributes just before the backward pass."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[dict[str, torch.Tensor]] = []
        self.temperatures: list[float] = []

    def before_forward(self, strategy, **kwargs):
        self.temperatures.append(float(strategy.temperature))

    def before_backward(self, strategy, **kwargs):
        self.steps.append({name: getattr(strategy, name).detach().clone()
                           for name in ("mb_reward", "mb_value", "mb_third_factor")})


# --------------------------------------------------------------------------- noradrenaline


def test_na_reversal_trace(reversal) -> None:
    model = _mlp(reversal.input_size)
    na = NoradrenalinePlugin(time_constant=5.0, plasticity_gain=2.0)
    strategy = _naive(model, torch.optim.SGD(model.parameters(), lr=0.5), [na])
    for exp in reversal.train_stream:
        strategy.train(exp)
    assert len(na.trace) == 40
    assert {"NA/level", "NM/plasticity", "NA/surprise", "NA/tonic",
            "NM/temperature"} <= set(na.trace[0])
    level = [step["NA/level"] for step in na.trace]
    assert max(level[15:20]) < 0.1  # settled at the end of rule A
    assert max(level[20:23]) > 0.5  # burst right after the reversal
    assert max(na.trace[20]["NA/surprise"], na.trace[21]["NA/surprise"]) > 3.0
    assert level[-1] < 0.2  # relaxed by the end of rule B
    for step in na.trace:
        assert step["NM/plasticity"] == pytest.approx(1.0 + 2.0 * step["NA/level"], abs=1e-6)
    for p in model.parameters():
        assert torch.isfinite(p).all()


def test_na_gate_scales_optimizer_update() -> None:
    na = NoradrenalinePlugin(effects=("plasticity",), plasticity_gain=2.0)
    na.modulator.level.fill_(0.75)  # plasticity 2.5
    gated, proposed = _proposed_and_gated(na)
    assert sum(float(p.abs().sum()) for p in proposed) > 0
    for g, p in zip(gated, proposed):
        assert torch.allclose(g, 2.5 * p, atol=1e-6)


def test_na_gate_at_rest_is_the_optimizer() -> None:
    gated, proposed = _proposed_and_gated(NoradrenalinePlugin(effects=("plasticity",)))
    for g, p in zip(gated, proposed):
        assert torch.allclose(g, p, atol=1e-7)


def test_update_gate_directly() -> None:
    model = nn.Linear(3, 2)
    before = [p.detach().clone() for p in model.parameters()]
    gate = UpdateGate()
    gate.snapshot(model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    gate.apply(torch.tensor(0.25))
    for p, b in zip(model.parameters(), before):
        assert torch.allclose(p, b + 0.25)


def test_gates_compose_multiplicatively() -> None:
    da = DopaminePlugin(mode="supervised", scope="step")
    da.plasticity = torch.tensor(1.5)
    na = NoradrenalinePlugin(effects=("plasticity",), plasticity_gain=2.0)
    na.modulator.level.fill_(0.5)  # plasticity 2

    class Both:
        def before_update(self, strategy):
            da.before_update(strategy)
            na.before_update(strategy)

        def after_update(self, strategy):
            da.after_update(strategy)
            na.after_update(strategy)

    gated, proposed = _proposed_and_gated(Both())
    for g, p in zip(gated, proposed):
        assert torch.allclose(g, 3.0 * p, atol=1e-6)


def test_gain_hooks_train_mode_only() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    x = torch.randn(7, 5)
    with torch.no_grad():
        plain = model(x)
        raw_hidden = model[0](x)
        expected = model[2](1.25 * torch.relu(raw_hidden))  # hidden scaled, read-out not
    na = NoradrenalinePlugin(effects=("gain",), gain_gain=0.5)
    strategy = SimpleNamespace(model=model, device="cpu")
    na.before_training_exp(strategy)
    na.modulator.level.fill_(0.5)  # gain 1.25
    na.before_forward(strategy)
    seen = {}
    model[0].register_forward_hook(lambda m, i, o: seen.__setitem__("hidden", o.detach()))
    model[2].register_forward_hook(lambda m, i, o: seen.__setitem__("readout", o.detach()))
    model.train()
    with torch.no_grad():
        out = model(x)
    assert torch.allclose(seen["hidden"], 1.25 * raw_hidden, atol=1e-6)
    assert torch.allclose(out, expected, atol=1e-6)
    assert not torch.allclose(out, plain, atol=1e-3)
    assert torch.allclose(seen["readout"], out)
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model(x), plain, atol=1e-6)
    # after training the gain is back to 1
    na.after_training(strategy)
    model.train()
    with torch.no_grad():
        assert torch.allclose(model(x), plain, atol=1e-6)


class _Headed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 4), nn.ReLU())
        self.classifier = nn.Linear(4, 2)

    def forward(self, x):
        return self.classifier(self.features(x))


def test_hidden_and_readout_layers() -> None:
    seq = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 2))
    assert [id(m) for m in hidden_layers(seq)] == [id(seq[0]), id(seq[2])]
    assert [id(m) for m in readout_layers(seq)] == [id(seq[4])]
    net = _Headed()
    assert [id(m) for m in hidden_layers(net)] == [id(net.features[0]), id(net.features[2])]
    assert [id(m) for m in readout_layers(net)] == [id(net.classifier)]


def test_gain_hooks_skip_classifier_head() -> None:
    torch.manual_seed(0)
    net = _Headed()
    x = torch.randn(3, 6)
    f = net.features
    with torch.no_grad():  # computed before the hooks exist
        expected = net.classifier(torch.relu(2 * f[2](torch.relu(2 * f[0](x)))))
    na = NoradrenalinePlugin(effects=("gain",), gain_gain=1.0)
    strategy = SimpleNamespace(model=net, device="cpu")
    na.before_training_exp(strategy)
    na.modulator.level.fill_(1.0)  # gain 2
    na.before_forward(strategy)
    with torch.no_grad():
        assert torch.allclose(net.train()(x), expected, atol=1e-6)


def test_na_reset_shrinks_readout_only() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    before = copy.deepcopy(model)
    na = NoradrenalinePlugin(effects=("reset",), reset_gain=0.5)
    strategy = SimpleNamespace(model=model, device="cpu")
    na.modulator.release.fill_(0.6)
    na.before_update(strategy)
    na.after_update(strategy)
    factor = 1.0 - 0.5 * 0.6
    assert torch.allclose(model[2].weight, factor * before[2].weight)
    assert torch.allclose(model[2].bias, factor * before[2].bias)
    assert torch.equal(model[0].weight, before[0].weight)
    assert torch.equal(model[0].bias, before[0].bias)
    # no burst (release <= 0.01): nothing is reset
    na.modulator.release.fill_(0.005)
    snapshot = copy.deepcopy(model)
    na.after_update(strategy)
    assert torch.equal(model[2].weight, snapshot[2].weight)


# --------------------------------------------------------------------------- dopamine


def test_da_supervised_weights_surprising_sample() -> None:
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    criterion = nn.CrossEntropyLoss()
    output = torch.tensor([[2.0, -1.0], [2.0, -1.0]], requires_grad=True)
    y = torch.tensor([0, 1])  # sample 0 correct, sample 1 wrong
    strategy = SimpleNamespace(mb_output=output, mb_y=y, _criterion=criterion, model=model,
                               device="cpu")
    strategy.loss = criterion(output, y)
    da = DopaminePlugin(mode="auto", tonic_rate=0.1, plasticity_gain=1.0)
    da.modulator.expectation.fill_(0.9)  # the learner usually gets it right
    da.before_training_exp(strategy)
    da.after_forward(strategy)
    # r = [1, 0]; delta = r - 0.9 = [0.1, -0.9]; m = 1 + |delta|
    assert da.delta.tolist() == pytest.approx([0.1, -0.9])
    m = da.plasticity
    assert m.tolist() == pytest.approx([1.1, 1.9])
    assert m[1] > m[0]
    assert not hasattr(strategy, "mb_third_factor")
    da.before_backward(strategy)
    losses = F.cross_entropy(output.detach(), y, reduction="none")
    want = float((m * losses).mean())
    assert float(strategy.loss.detach()) == pytest.approx(want, rel=1e-6)
    # the gradient follows the weights: dL/dlogits_i = m_i / B * (softmax - onehot)
    strategy.loss.backward()
    grad = (F.softmax(output.detach(), -1) - F.one_hot(y, 2)) * m[:, None] / 2
    assert torch.allclose(output.grad, grad, atol=1e-6)
    assert da.trace[-1]["DA/plasticity"] == pytest.approx(1.5)
    assert da.trace[-1]["DA/rpe"] == pytest.approx(-0.4)


@pytest.mark.parametrize(
    ("criterion", "y"),
    [
        (nn.CrossEntropyLoss(weight=torch.tensor([10.0, 10.0])), [0, 1, 0]),
        (nn.CrossEntropyLoss(ignore_index=-100), [0, 1, -100]),
    ],
)
def test_da_sample_weighting_respects_criterion_reduction(criterion, y) -> None:
    output = torch.tensor([[2.0, -1.0], [2.0, -1.0], [0.5, 0.0]])
    target = torch.tensor(y)
    strategy = SimpleNamespace(mb_output=output, mb_y=target, _criterion=criterion,
                               model=nn.Linear(1, 1), device="cpu")
    strategy.loss = criterion(output, target)
    da = DopaminePlugin(mode="supervised")
    da.modulator.expectation.fill_(0.9)
    da.after_forward(strategy)
    da.before_backward(strategy)
    # the criterion's own weighted mean of the plasticity-weighted per-sample losses
    w = criterion.weight[target] if criterion.weight is not None else torch.ones(3)
    w = w * (target != criterion.ignore_index)
    losses = F.cross_entropy(output, target, reduction="none")  # 0 where ignored
    want = float((da.plasticity * w * losses).sum() / w.sum())
    assert float(strategy.loss) == pytest.approx(want, rel=1e-5)


def test_da_supervised_loss_reward() -> None:
    output = torch.tensor([[3.0, 0.0], [0.0, 0.0]])
    y = torch.tensor([0, 0])
    strategy = SimpleNamespace(mb_output=output, mb_y=y, _criterion=nn.CrossEntropyLoss(),
                               model=nn.Linear(1, 1), device="cpu")
    da = DopaminePlugin(mode="supervised", reward="loss", plasticity_gain=2.0)
    da.after_forward(strategy)
    losses = F.cross_entropy(output, y, reduction="none")
    assert da.delta.tolist() == pytest.approx((-losses).tolist(), rel=1e-6)
    assert da.plasticity.tolist() == pytest.approx((1 + 2 * losses).tolist(), rel=1e-6)


def test_da_step_scope_gates_update() -> None:
    output = torch.tensor([[2.0, -1.0], [2.0, -1.0]])
    strategy = SimpleNamespace(mb_output=output, mb_y=torch.tensor([0, 0]),
                               _criterion=nn.CrossEntropyLoss(), model=nn.Linear(1, 1),
                               device="cpu")
    strategy.loss = torch.tensor(0.5)
    da = DopaminePlugin(mode="supervised", scope="step", plasticity_gain=2.0)
    da.after_forward(strategy)  # r = [1, 1], V = 0: m = 1 + 2 * 1
    assert float(da.plasticity) == pytest.approx(3.0)
    da.before_backward(strategy)
    assert float(strategy.loss) == pytest.approx(0.5)  # step scope leaves the loss alone
    gated, proposed = _proposed_and_gated(da)
    for g, p in zip(gated, proposed):
        assert torch.allclose(g, 3.0 * p, atol=1e-6)


def test_da_reward_mode_third_factor() -> None:
    reward = torch.tensor([1.0, -1.0, 0.0, 1.0])
    value = torch.tensor([0.25, 0.5, -0.5, 1.0])
    strategy = SimpleNamespace(mb_reward=reward, mb_value=value, model=nn.Linear(1, 1),
                               device="cpu")
    da = DopaminePlugin()
    da.after_forward(strategy)
    assert torch.allclose(strategy.mb_third_factor, reward - value)
    assert da.plasticity is None
    da.before_backward(strategy)  # no loss reweighting in reward mode
    assert not hasattr(strategy, "loss")
    with pytest.raises(RuntimeError, match="mb_reward"):
        DopaminePlugin(mode="reward").after_forward(
            SimpleNamespace(mb_reward=None, mb_output=torch.zeros(1, 2), mb_y=torch.zeros(1)))


@pytest.mark.parametrize("kind", ["loss", "entropy", "rpe"])
def test_na_input_signals(kind: str) -> None:
    output = torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.5, 0.5]])
    y = torch.tensor([0, 0, 1])
    reward, value = torch.tensor([1.0, 0.0, -1.0]), torch.tensor([0.5, 0.5, 0.0])
    strategy = SimpleNamespace(mb_output=output, mb_y=y, _criterion=nn.CrossEntropyLoss(),
                               mb_reward=reward if kind == "rpe" else None, mb_value=value)
    na = NoradrenalinePlugin(signal=kind)
    na.after_forward(strategy)  # the first observation initialises the running mean
    if kind == "loss":
        want = F.cross_entropy(output, y)
        utility = 1 / 3  # accuracy
    elif kind == "entropy":
        logp = F.log_softmax(output, -1)
        want = -(logp.exp() * logp).sum(-1).mean()
        utility = 1 / 3
    else:
        want = (reward - value).abs().mean()
        utility = 0.0  # mean reward
    assert float(na.modulator.stats.mean) == pytest.approx(float(want), rel=1e-6)
    assert float(na.modulator.utility_fast.mean) == pytest.approx(utility, abs=1e-6)


def test_record_every() -> None:
    strategy = SimpleNamespace(mb_reward=torch.tensor([1.0]), mb_value=torch.tensor([0.0]))
    sparse, silent = DopaminePlugin(record_every=3), DopaminePlugin(record_every=0)
    for _ in range(7):
        sparse.after_forward(strategy)
        silent.after_forward(strategy)
    assert len(sparse.trace) == 2
    assert silent.trace == []
    assert silent.signals["DA/rpe"] == pytest.approx(float(silent.modulator.phasic))
    with pytest.raises(ValueError, match="record_every"):
        NoradrenalinePlugin(record_every=-1)


@pytest.mark.parametrize(
    ("cls", "kwargs", "name"),
    [
        (DopaminePlugin, dict(mode="bandit"), "mode"),
        (DopaminePlugin, dict(reward="accuracy"), "reward"),
        (DopaminePlugin, dict(scope="layer"), "scope"),
        (DopaminePlugin, dict(tonic_rate=0.0), "tonic_rate"),
        (NoradrenalinePlugin, dict(signal="surprise"), "signal"),
        (NoradrenalinePlugin, dict(effects=("plasticity", "dropout")), "effects"),
        (NoradrenalinePlugin, dict(time_constant=0.0), "time_constant"),
    ],
)
def test_plugin_bad_params(cls, kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        cls(**kwargs)


@pytest.mark.parametrize("with_da", [False, True])
def test_reward_strategy_third_factor(reversal, with_da: bool) -> None:
    torch.manual_seed(0)
    model = _mlp(reversal.input_size)
    recorder = _Recorder()
    plugins = ([DopaminePlugin()] if with_da else []) + [recorder]
    strategy = RewardDrivenStrategy(
        model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), learning="reward",
        train_mb_size=8, device="cpu", plugins=plugins, evaluator=EvaluationPlugin(loggers=[]))
    strategy.train(reversal.train_stream[0])
    assert len(recorder.steps) == 20
    for step in recorder.steps:
        reward, value, factor = step["mb_reward"], step["mb_value"], step["mb_third_factor"]
        want = reward - value if with_da else reward
        assert torch.allclose(factor, want, atol=1e-6)
    assert any(step["mb_value"].abs().max() > 1e-3 for step in recorder.steps)


# --------------------------------------------------------------------------- in Avalanche


def test_signal_metrics_reach_evaluator(reversal) -> None:
    model = _mlp(reversal.input_size)
    da, na = DopaminePlugin(), NoradrenalinePlugin()
    evaluator = EvaluationPlugin(*modulator_signal_metrics(), loggers=[])
    strategy = _naive(model, torch.optim.SGD(model.parameters(), lr=0.1), [da, na], evaluator)
    strategy.train(reversal.train_stream[0])
    metrics = evaluator.get_all_metrics()
    for name in ("DA/rpe", "DA/expectation", "DA/tonic", "DA/plasticity", "NA/level",
                 "NA/surprise", "NA/tonic", "NM/plasticity", "NM/temperature"):
        xs, ys = metrics[f"Neuromod/{name}"]
        assert len(ys) == 20
        assert ys[-1] == pytest.approx({**da.signals, **na.signals}[name])
    rpe = metrics["Neuromod/DA/rpe"][1]
    assert rpe == pytest.approx([step["DA/rpe"] for step in da.trace])


def test_signal_metrics_every(reversal) -> None:
    model = _mlp(reversal.input_size)
    evaluator = EvaluationPlugin(*modulator_signal_metrics(every=5), loggers=[])
    strategy = _naive(model, torch.optim.SGD(model.parameters(), lr=0.1),
                      [NoradrenalinePlugin()], evaluator)
    strategy.train(reversal.train_stream[0])
    xs, ys = evaluator.get_all_metrics()["Neuromod/NA/level"]
    assert len(ys) == 4
    assert [b - a for a, b in zip(xs, xs[1:])] == [5, 5, 5]
    with pytest.raises(ValueError, match="every"):
        modulator_signal_metrics(every=0)


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_both_plugins_any_optimizer(reversal, opt: str) -> None:
    model = _mlp(reversal.input_size)
    optimizer = (torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if opt == "sgd"
                 else torch.optim.Adam(model.parameters(), lr=1e-2))
    before = [p.detach().clone() for p in model.parameters()]
    da, na = DopaminePlugin(), NoradrenalinePlugin()
    strategy = _naive(model, optimizer, [da, na])
    strategy.train(reversal.train_stream[0])
    assert len(da.trace) == len(na.trace) == 20
    for p, b in zip(model.parameters(), before):
        assert torch.isfinite(p).all()
        assert not torch.equal(p, b)
    results = strategy.eval(reversal.test_stream[:1])
    assert isinstance(results, dict)


def test_na_exploration_in_reward_strategy(reversal) -> None:
    torch.manual_seed(0)
    model = _mlp(reversal.input_size)
    recorder = _Recorder()
    na = NoradrenalinePlugin(effects=("exploration",), exploration_gain=4.0, warmup=2)
    strategy = RewardDrivenStrategy(
        model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), learning="reward",
        train_mb_size=8, device="cpu", plugins=[na, recorder],
        evaluator=EvaluationPlugin(loggers=[]))
    strategy.train(reversal.train_stream[0])
    # the temperature of step t is set from NA's state after step t - 1
    assert recorder.temperatures[0] == pytest.approx(1.0)
    for temperature, previous in zip(recorder.temperatures[1:], na.trace[:-1]):
        assert temperature == pytest.approx(previous["NM/temperature"], rel=1e-6)
        level = max(previous["NA/level"], previous["NA/tonic"])
        assert temperature == pytest.approx(1.0 + 4.0 * level, rel=1e-6)
    assert max(recorder.temperatures) > 1.0
    assert strategy.temperature == 1.0  # back to rest after training

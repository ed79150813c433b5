"""The field's supervised baselines as presets: the labels trick on any strategy
(:mod:`avalanche_neuromod.plugins.labels_trick`), Avalanche's GenerativeReplay, DER, ER-ACE and
online EWC, and the XdG oracle (context gating by the task label, given at test time)."""

from __future__ import annotations

import avalanche.training
import pytest
import torch
import torch.nn.functional as F
from avalanche.benchmarks import nc_benchmark
from avalanche.core import SupervisedPlugin
from avalanche.evaluation.metrics import accuracy_metrics
from avalanche.training.plugins import EvaluationPlugin, EWCPlugin
from torch import nn
from torch.utils.data import TensorDataset

from avalanche_neuromod.benchmarks import gonogo_benchmark
from avalanche_neuromod.checkpoint import resume_blocker
from avalanche_neuromod.leaderboard.spec import load_suite
from avalanche_neuromod.models import build_model
from avalanche_neuromod.plugins import NeuromodulationPlugin
from avalanche_neuromod.plugins.labels_trick import LabelsTrickLoss, LabelsTrickPlugin
from avalanche_neuromod.strategies.presets import PresetError, load_preset
from avalanche_neuromod.strategies.registry import build_strategy


class _Tensors(TensorDataset):
    def __init__(self, x, y):
        super().__init__(x, y)
        self.targets = y.tolist()


def _stream(*, shape=(10,), n_train: int = 40, task_labels: bool = False):
    """Four Gaussian classes in two experiences (classes 0, 1 then 2, 3)."""
    gen = torch.Generator().manual_seed(0)
    centers = torch.randn(4, *shape, generator=gen)

    def make(n):
        y = torch.arange(4).repeat_interleave(n)
        return _Tensors(centers[y] + 0.5 * torch.randn(len(y), *shape, generator=gen), y)

    return nc_benchmark(make(n_train), make(10), n_experiences=2, task_labels=task_labels,
                        seed=0, fixed_class_order=[0, 1, 2, 3])


def _build(preset, *, shape=(10,), plugins=None, lr: float = 0.1):
    torch.manual_seed(0)
    n_in = 1
    for size in shape:
        n_in *= size
    model = build_model(input_size=n_in, n_classes=4, hidden=16, layers=1)
    return build_strategy(preset, model=model, optimizer=torch.optim.SGD(model.parameters(),
                                                                         lr=lr),
                          train_mb_size=8, eval_mb_size=32, device="cpu", plugins=plugins,
                          evaluator=EvaluationPlugin(accuracy_metrics(stream=True), loggers=[]))


# ------------------------------------------------------------------------------ labels trick


def test_labels_trick_loss_is_the_hand_computed_masked_cross_entropy() -> None:
    torch.manual_seed(0)
    logits = torch.randn(6, 5, requires_grad=True)
    targets = torch.tensor([2, 4, 4, 2, 2, 4])
    loss = LabelsTrickLoss(nn.CrossEntropyLoss(), classes=[4, 2])(logits, targets)
    z = logits.detach()
    by_hand = torch.stack([
        -torch.log(torch.exp(z[i, t]) / (torch.exp(z[i, 2]) + torch.exp(z[i, 4])))
        for i, t in enumerate(targets.tolist())]).mean()
    assert torch.allclose(loss, by_hand)
    loss.backward()
    absent = [0, 1, 3]
    assert torch.equal(logits.grad[:, absent], torch.zeros(6, 3))
    assert bool((logits.grad[:, [2, 4]] != 0).all())
    # per-sample losses (what dopamine reweights) are the same restriction
    per_sample = LabelsTrickLoss(nn.CrossEntropyLoss(), classes=[2, 4]).per_sample(z, targets)
    assert torch.allclose(per_sample.mean(), by_hand)


def test_labels_trick_keeps_a_target_outside_the_experience() -> None:
    logits = torch.randn(3, 4)
    targets = torch.tensor([2, 3, 0])  # a replayed sample of class 0
    loss = LabelsTrickLoss(nn.CrossEntropyLoss(), classes=[2, 3])(logits, targets)
    columns = [0, 2, 3]
    assert torch.allclose(loss, F.cross_entropy(logits[:, columns], torch.tensor([1, 2, 0])))
    # inactive (evaluation): every logit
    assert torch.allclose(LabelsTrickLoss(nn.CrossEntropyLoss())(logits, targets),
                          F.cross_entropy(logits, targets))


class _LossSpy(SupervisedPlugin):
    """The training loss of each step beside the hand-computed masked cross-entropy."""

    def __init__(self) -> None:
        super().__init__()
        self.pairs: list[tuple[float, float]] = []

    def before_backward(self, strategy, **kwargs):
        classes = sorted(strategy.experience.classes_in_this_experience)
        y = torch.tensor([classes.index(int(c)) for c in strategy.mb_y])
        masked = F.cross_entropy(strategy.mb_output.detach()[:, classes], y)
        self.pairs.append((float(strategy.loss.detach()), float(masked)))


def test_naive_lt_trains_on_the_current_classes_logits_and_evaluates_on_all() -> None:
    stream = _stream()
    spy = _LossSpy()
    strategy = _build("naive-lt", plugins=[spy])
    head = strategy.model.classifier
    before = head.weight.detach().clone(), head.bias.detach().clone()
    strategy.train(stream.train_stream[0])  # classes 0 and 1
    assert spy.pairs and all(abs(a - b) < 1e-6 for a, b in spy.pairs)
    # the read-out of the absent classes 2, 3 got no gradient (plain SGD: unchanged) ...
    assert torch.equal(head.weight[2:], before[0][2:]) and torch.equal(head.bias[2:],
                                                                      before[1][2:])
    assert not torch.equal(head.weight[:2], before[0][:2])
    # ... the criterion is the plain one again between experiences and in evaluation
    assert isinstance(strategy._criterion, nn.CrossEntropyLoss)
    strategy.train(stream.train_stream[1])
    assert len(spy.pairs) == 2 * 80 // 8 and all(abs(a - b) < 1e-6 for a, b in spy.pairs)


def test_without_the_labels_trick_naive_pushes_absent_classes_down() -> None:
    strategy = _build("naive")
    head = strategy.model.classifier
    before = head.bias.detach().clone()
    strategy.train(_stream().train_stream[0])
    assert bool((head.bias[2:] < before[2:]).all())


@pytest.mark.parametrize("name", ["ewc", "si", "mas", "lwf", "full-class", "da+na"])
def test_labels_trick_is_an_option_of_any_strategy(name) -> None:
    stream = _stream()
    preset = {**load_preset(name), "labels_trick": True}
    strategy = _build(preset)
    assert sum(isinstance(p, LabelsTrickPlugin) for p in strategy.plugins) == 1
    head = strategy.model.classifier
    before = head.weight.detach().clone()
    for experience in stream.train_stream:
        strategy.train(experience)
        if experience.current_experience == 0:
            assert torch.equal(head.weight[2:], before[2:])  # absent classes untouched
    assert isinstance(strategy._criterion, nn.CrossEntropyLoss)
    assert resume_blocker(strategy) is None  # checkpoints still resume


def test_a_suite_turns_the_labels_trick_on_by_override() -> None:
    suite = load_suite({"name": "lt", "seeds": 1, "benchmarks": [
        {"name": "split_mnist", "args": {"n_experiences": 5}}], "strategies": [
        "naive", {"preset": "ewc", "label": "ewc-lt", "override": {"labels_trick": True}},
        {"preset": "full-class", "label": "full-class-lt", "override": {"labels_trick": True}}]})
    presets = {s["label"]: s["preset"] for s in suite["benchmarks"][0]["strategies"]}
    assert presets["ewc-lt"]["labels_trick"] and presets["full-class-lt"]["labels_trick"]
    assert "labels_trick" not in presets["naive"]


@pytest.mark.parametrize("preset, message", [
    ({"name": "x", "baseline": {"class": "Naive", "args": {}}, "labels_trick": "yes"},
     "labels_trick must be true or false"),
    ({**load_preset("der"), "labels_trick": True}, "DER computes its own loss"),
    ({**load_preset("generative-replay"), "labels_trick": True}, "GenerativeReplay"),
])
def test_bad_labels_trick_names_the_field(preset, message) -> None:
    with pytest.raises(PresetError, match=message):
        _build(preset)


def test_labels_trick_is_refused_in_reward_learning() -> None:
    model = nn.Linear(4, 2)
    with pytest.raises(PresetError, match="labels_trick is for supervised"):
        build_strategy({"name": "x", "modulators": {}, "labels_trick": True}, model=model,
                       optimizer=torch.optim.SGD(model.parameters(), lr=0.1), learning="reward")


# ------------------------------------------------------------------- memory and replay baselines


@pytest.mark.parametrize("name", ["der", "er-ace"])
def test_der_and_er_ace_keep_at_most_their_memory(name) -> None:
    assert load_preset(name)["baseline"]["args"]["mem_size"] <= 200
    preset = load_preset(name)
    preset["baseline"]["args"]["mem_size"] = 12
    strategy = _build(preset)
    for experience in _stream().train_stream:
        strategy.train(experience)
    buffer = strategy.storage_policy.buffer
    assert 0 < len(buffer) <= 12
    assert set(buffer.targets) == {0, 1, 2, 3}  # class-balanced over what it saw
    assert resume_blocker(strategy) is not None  # restarted, never resumed without its buffer
    results = strategy.eval(_stream().test_stream)
    accuracy = results["Top1_Acc_Stream/eval_phase/test_stream/Task000"]
    assert accuracy > 0.5  # both experiences' classes are remembered (chance is 0.25)


def test_der_refuses_a_multi_head_model_in_one_line() -> None:
    torch.manual_seed(0)
    model = build_model(input_size=10, n_classes=4, hidden=16, layers=1, multihead=True)
    strategy = build_strategy("der", model=model,
                              optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                              train_mb_size=8, eval_mb_size=32, device="cpu")
    with pytest.raises(ValueError, match="^DER: .*multi-head model") as err:
        strategy.train(_stream(task_labels=True).train_stream[0])
    assert "\n" not in str(err.value)


class _BatchSizes(SupervisedPlugin):
    def __init__(self) -> None:
        super().__init__()
        self.sizes: dict[int, set[int]] = {}

    def before_forward(self, strategy, **kwargs):
        exp = strategy.experience.current_experience
        self.sizes.setdefault(exp, set()).add(len(strategy.mb_x))


def test_generative_replay_replays_generated_samples_and_stores_none(capsys) -> None:
    sizes = _BatchSizes()
    strategy = _build("generative-replay", shape=(1, 28, 28), plugins=[sizes])
    for experience in _stream(shape=(1, 28, 28)).train_stream:
        strategy.train(experience)
    assert sizes.sizes[0] == {8}
    assert sizes.sizes[1] == {16}  # each mini-batch of the second experience: 8 real + 8 replayed
    assert not hasattr(strategy, "storage_policy")
    assert resume_blocker(strategy) is not None
    assert isinstance(strategy, avalanche.training.GenerativeReplay)
    assert capsys.readouterr().out == ""  # its generator's strategy logs nothing


@pytest.mark.parametrize("name, message", [
    ("der", "DER: Avalanche's DER takes \\(x, y, t\\) samples"),
    ("er-ace", "ER_ACE: Avalanche's ER_ACE takes"),
    ("generative-replay", "GenerativeReplay: .* 1x28x28 inputs; this stream's are 64"),
])
def test_replay_baselines_refuse_a_stream_they_cannot_take_in_one_line(name, message) -> None:
    stream = gonogo_benchmark(rules=["A"], trials_per_rule=16, test_trials=8, seed=0)
    torch.manual_seed(0)
    model = build_model(input_size=stream.input_size, n_classes=2, hidden=8, layers=1)
    strategy = build_strategy(name, model=model, device="cpu", train_mb_size=8,
                              optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                              evaluator=EvaluationPlugin(loggers=[]))
    with pytest.raises(ValueError, match=message):
        strategy.train(stream.train_stream[0])


def test_online_ewc_keeps_one_running_importance() -> None:
    stream = _stream()
    online, separate = _build("ewc-online"), _build("ewc")
    for experience in stream.train_stream:
        online.train(experience)
        separate.train(experience)
    ewc = next(p for p in online.plugins if isinstance(p, EWCPlugin))
    assert ewc.mode == "online" and list(ewc.importances) == [1]
    assert len(next(p for p in separate.plugins if isinstance(p, EWCPlugin)).importances) == 2
    assert any(float(v.data.abs().sum()) > 0 for v in ewc.importances[1].values())


# ------------------------------------------------------------------------------ XdG oracle


class _Contexts(SupervisedPlugin):
    """The task label of each eval sample beside the context ACh gated it with."""

    def __init__(self) -> None:
        super().__init__()
        self.pairs: list[tuple[torch.Tensor, torch.Tensor]] = []

    def after_eval_forward(self, strategy, **kwargs):
        plugin = next(p for p in strategy.plugins if isinstance(p, NeuromodulationPlugin))
        self.pairs.append((strategy.mb_task_id.clone(),
                           plugin._contexts.reshape(-1).expand_as(strategy.mb_task_id).clone()))


def test_xdg_oracle_gates_by_the_task_label_at_test_time() -> None:
    preset = load_preset("xdg-oracle")
    assert preset["description"].startswith("ORACLE")
    contexts = _Contexts()
    strategy = _build(preset, plugins=[contexts])
    stream = _stream(task_labels=True)
    for experience in stream.train_stream:
        strategy.train(experience)
    contexts.pairs.clear()
    strategy.eval(stream.test_stream)
    tasks = torch.cat([t for t, _ in contexts.pairs])
    gated = torch.cat([c for _, c in contexts.pairs])
    assert set(tasks.tolist()) == {0, 1} and torch.equal(tasks, gated)
    # the two contexts' gates keep different units: the same input reads out differently
    x = stream.test_stream[0].dataset[0][0][None]
    model = strategy.model.eval()
    plugin = next(p for p in strategy.plugins if isinstance(p, NeuromodulationPlugin))
    outputs = []
    for task in (0, 1):
        plugin._contexts = torch.tensor([task])
        outputs.append(model(x))
    assert not torch.allclose(outputs[0], outputs[1])


class _Killed(Exception):
    """Stands in for a kill right after a checkpoint was written."""


def test_a_labels_trick_run_resumes_to_the_same_record(tmp_path, monkeypatch) -> None:
    from avalanche_neuromod import checkpoint as checkpoint_module
    from avalanche_neuromod.leaderboard.runner import run_suite_cell
    from avalanche_neuromod.leaderboard.spec import suite_cells

    suite = {"name": "lt", "seeds": 1, "strategies": [
        {"preset": "full-class", "label": "full-class-lt", "override": {"labels_trick": True}}],
        "budget": {"model": {"hidden": 16, "layers": 1, "activation": "tanh"},
                   "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
                   "train_mb_size": 8, "eval_mb_size": 64},
        "benchmarks": [{"name": "gonogo", "args": {"cued": True, "rules": ["A", "B", "X"],
                                                   "trials_per_rule": 32, "test_trials": 16}}]}
    cell = suite_cells(load_suite(suite))[0]
    reference = run_suite_cell(cell)
    real = checkpoint_module.save_checkpoint

    def save_then_die(path, **kwargs):
        out = real(path, **kwargs)
        if kwargs["experience_index"] == 1:
            raise _Killed
        return out

    with monkeypatch.context() as patched:
        patched.setattr(checkpoint_module, "save_checkpoint", save_then_die)
        with pytest.raises(_Killed):
            run_suite_cell(cell, checkpoint_dir=tmp_path)
    resumed = run_suite_cell(cell, checkpoint_dir=tmp_path, resume=True)
    same = [k for k in reference if k != "wall_time"]
    assert {k: resumed[k] for k in same} == {k: reference[k] for k in same}


# ------------------------------------------------------------------------------ SI, Omega >= 0
class _Shrink(SupervisedPlugin):
    """Moves the weights by itself after each update (as NA's read-out reset does): steps that
    are not along -g make SI's path integral negative for some weights."""

    def after_update(self, strategy, **kwargs):
        with torch.no_grad():
            for p in strategy.model.parameters():
                p.mul_(0.9)


def _si_importances(nonnegative: bool) -> torch.Tensor:
    from avalanche_neuromod.strategies.baselines import CopyingSIPlugin

    preset = {"name": "si", "baseline": {"class": "SynapticIntelligence",
                                         "args": {"si_lambda": 1.0, "nonnegative": nonnegative}}}
    strategy = _build(preset, plugins=[_Shrink()])
    strategy.train(_stream().train_stream[0])
    plugin = next(p for p in strategy.plugins if isinstance(p, CopyingSIPlugin))
    return torch.cat([v.data.flatten() for v in plugin.ewc_data[1].values()])


def test_si_nonnegative_clamps_avalanches_negative_importances_at_zero() -> None:
    avalanche_omega = _si_importances(False)  # Avalanche's SI: Omega clipped from above only
    assert float(avalanche_omega.min()) < 0.0
    clamped = _si_importances(True)
    assert float(clamped.min()) >= 0.0
    assert torch.equal(clamped, avalanche_omega.clamp(min=0.0))  # same run, only the clamp


def test_si_nonnegative_is_a_preset_override() -> None:
    clamped = {"preset": "si", "label": "si-clamped",
               "override": {"baseline": {"args": {"nonnegative": True}}}}
    suite = load_suite({"name": "t", "seeds": 1, "benchmarks": [{"name": "split_mnist"}],
                        "strategies": [clamped]})
    preset = suite["benchmarks"][0]["strategies"][0]["preset"]
    assert preset["baseline"]["args"] == {"si_lambda": 1.0, "nonnegative": True}

"""Context recall by familiarity (avalanche_neuromod.modulators.familiarity): exact per-context
input moments, the likelihood by hand, and ``recall: familiarity`` through the plugin."""

from __future__ import annotations

import copy

import pytest
import torch
from avalanche.benchmarks import tensors_benchmark
from avalanche.evaluation.metrics import accuracy_metrics
from avalanche.training import Naive
from avalanche.training.plugins import EvaluationPlugin
from torch import nn

from avalanche_neuromod.modulators import Acetylcholine
from avalanche_neuromod.modulators.familiarity import InputFamiliarity
from avalanche_neuromod.plugins import ModulatorConfigError, NeuromodulationPlugin
from avalanche_neuromod.plugins.defaults import DEFAULT_MODULATORS


def test_moments_are_exact_over_minibatches():
    x = torch.randn(37, 3, 4, generator=torch.Generator().manual_seed(0)) * 2 + 1
    fam = InputFamiliarity()
    for chunk in x.split(5):
        fam.observe(chunk, context=2)
    m = fam.moments["2"]
    flat = x.reshape(37, -1).double()
    assert float(m.count) == 37
    assert torch.allclose(m.mean, flat.mean(0))
    assert torch.allclose(m.var, flat.var(0, unbiased=False))
    assert fam.known() == [2]


def test_log_likelihood_by_hand_and_recall():
    fam = InputFamiliarity(eps=0.5)
    fam.observe(torch.tensor([[0.0, 0.0], [2.0, 2.0]]), context=0)  # mean 1, var 1
    fam.observe(torch.tensor([[10.0, 0.0], [10.0, 0.0]]), context=3)  # mean (10, 0), var 0
    x = torch.tensor([[1.0, 1.0], [10.0, 0.0], [float("nan"), 0.0]])
    ll = fam.log_likelihood(x[:2], [0, 3])  # [context, sample]
    log = torch.log(torch.tensor([1.5, 0.5], dtype=torch.float64)).tolist()
    assert ll[0, 0] == pytest.approx(-0.5 * (0.0 + log[0]))
    assert ll[0, 1] == pytest.approx(-0.5 * ((81 / 1.5 + 1 / 1.5) / 2 + log[0]))
    assert ll[1, 0] == pytest.approx(-0.5 * ((81 / 0.5 + 1 / 0.5) / 2 + log[1]))
    assert ll[1, 1] == pytest.approx(-0.5 * (0.0 + log[1]))
    assert fam.recall(x, [0, 3]).tolist() == [0, 1, 0]  # a NaN sample goes to the first
    with pytest.raises(ValueError, match=r"without input moments: \[7\]"):
        fam.recall(x, [0, 7])
    with pytest.raises(ValueError, match="eps"):
        InputFamiliarity(eps=0.0)


def test_non_finite_samples_are_not_folded_in_and_checkpoints_restore_the_moments():
    fam = InputFamiliarity()
    fam.observe(torch.tensor([[1.0, float("inf")], [3.0, 1.0]]), context=1)
    assert float(fam.moments["1"].count) == 1
    fam.observe(torch.full((2, 2), float("nan")), context=4)  # nothing finite: no context
    assert fam.known() == [1]
    ach = Acetylcholine()
    ach.familiarity.observe(torch.randn(6, 5), context=0)
    ach.familiarity.observe(torch.randn(6, 5) + 3, context=1)
    fresh = Acetylcholine()
    fresh.load_state_dict(copy.deepcopy(ach.state_dict()))
    x = torch.randn(8, 5) + 3
    assert torch.equal(fresh.familiarity.recall(x, [0, 1]), ach.familiarity.recall(x, [0, 1]))
    assert not any("familiarity" in key for key in Acetylcholine().state_dict())  # unused: none


def _two_domains(*, n: int = 800, dim: int = 20, seed: int = 0):
    """Two experiences with the same two labels whose inputs live in different regions, and
    whose label maps the other way: a domain-incremental shift."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for offset, flip in ((0.0, False), (3.0, True)):
        x = torch.randn(n, dim, generator=g)
        x[:, 1:6] += offset
        y = (x[:, 0] > 0).long()
        out.append((x, 1 - y if flip else y))
    return out


def _trained(recall: str, *, seed: int = 0):
    data = _two_domains()
    bm = tensors_benchmark(train_tensors=data, test_tensors=data, task_labels=[0, 0])
    modulators = copy.deepcopy(DEFAULT_MODULATORS)
    modulators["acetylcholine"]["recall"] = recall
    torch.manual_seed(seed)  # ACh's gates (``seed: cell``) and the weights
    plugin = NeuromodulationPlugin(**modulators)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 2))
    strategy = Naive(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                     criterion=nn.CrossEntropyLoss(), train_mb_size=8, eval_mb_size=1000,
                     plugins=[plugin],
                     evaluator=EvaluationPlugin(accuracy_metrics(experience=True), loggers=[]))
    for experience in bm.train_stream:
        strategy.train(experience)
    accuracy, recalled = [], []
    for i, experience in enumerate(bm.test_stream):
        results = strategy.eval([experience])
        accuracy.append(results[f"Top1_Acc_Exp/eval_phase/test_stream/Task000/Exp{i:03d}"])
        recalled.append(plugin.recalled.float().mean().item())  # share read through context 1
    return plugin, accuracy, recalled


def test_familiarity_recall_reads_each_test_sample_through_its_own_context():
    plugin, accuracy, recalled = _trained("familiarity")
    assert plugin.inferred()["contexts"] == 2
    assert plugin.modulators["acetylcholine"].familiarity.known() == [0, 1]
    assert recalled[0] < 0.01 and recalled[1] > 0.99  # each sample through its own context
    assert accuracy[0] > 0.9  # the first context kept what it learnt
    # recall by entropy, same seed: the first context's confident read-out draws most of the
    # second experience's samples, and maps their labels the other way
    _, by_entropy, entropy_recalled = _trained("entropy")
    assert entropy_recalled[1] < 0.5 and by_entropy[1] < accuracy[1]


def test_an_unknown_recall_names_the_choices():
    with pytest.raises(ModulatorConfigError,
                       match="recall must be one of current, entropy, familiarity"):
        NeuromodulationPlugin(acetylcholine={"recall": "prototype"})


def test_train_recall_gates_replayed_samples_by_their_own_context():
    # Avalanche's Replay concatenates stored samples of the first experience to each step of the
    # second: with ``train_recall: familiarity`` they are gated by context 0, the new ones by 1
    from avalanche.training import Replay

    data = _two_domains(n=1600)  # long enough a first experience for NA to see the shift
    bm = tensors_benchmark(train_tensors=data, test_tensors=data, task_labels=[0, 0])
    modulators = copy.deepcopy(DEFAULT_MODULATORS)
    # gates kept on (the default leaves a memory host ungated: _ungated)
    modulators["acetylcholine"].update(train_recall="familiarity", gating=True)
    torch.manual_seed(0)
    plugin = NeuromodulationPlugin(**modulators)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 2))
    seen = []  # (inputs' offset region, context) of every training sample after the switch

    def spy(module, inputs):
        if module.training and plugin._contexts is not None and plugin._contexts.dim() == 1:
            shifted = inputs[0][:, 1:6].mean(1) > 1.5  # the second experience's region
            seen.append((shifted, plugin._contexts.clone()))

    strategy = Replay(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                      criterion=nn.CrossEntropyLoss(), mem_size=100, train_mb_size=8,
                      eval_mb_size=1000, plugins=[plugin],
                      evaluator=EvaluationPlugin(accuracy_metrics(experience=True), loggers=[]))
    for experience in bm.train_stream:
        strategy.train(experience)
        if not seen:
            model.register_forward_pre_hook(spy)  # after the plugin's own pre-hook
    assert plugin.inferred()["contexts"] == 2 and seen
    shifted = torch.cat([s for s, _ in seen])
    contexts = torch.cat([c for _, c in seen])
    assert 0.3 < float(shifted.float().mean()) < 0.9  # new and replayed samples in the steps
    assert float((contexts == shifted.long()).float().mean()) > 0.98  # each by its own context
    ach = plugin.modulators["acetylcholine"]  # context 1's moments: its own samples only
    assert float(ach.familiarity.moments["1"].mean[1:6].mean()) > 2.5
    with pytest.raises(ModulatorConfigError, match="train_recall must be one of current, "
                                                   "familiarity"):
        NeuromodulationPlugin(acetylcholine={"train_recall": "entropy"})

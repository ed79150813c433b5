"""Acetylcholine's attention over outputs and its precision read-out (class-incremental learning).

The modulator's maths by hand (pure torch), then the plugin in an Avalanche strategy on a small
class-incremental stream of Gaussian blobs.
"""

from __future__ import annotations

import pytest
import torch
from avalanche.benchmarks import nc_benchmark
from avalanche.core import SupervisedPlugin
from avalanche.evaluation.metrics import accuracy_metrics
from avalanche.training import Naive
from avalanche.training.plugins import EvaluationPlugin
from torch import nn
from torch.utils.data import TensorDataset

from avalanche_neuromod.modulators import Acetylcholine
from avalanche_neuromod.modulators.output_attention import MASKED, OutputAttention
from avalanche_neuromod.plugins import NeuromodulationPlugin
from avalanche_neuromod.plugins.neuromodulation import ModulatorConfigError

# ================================================================================ modulator


def test_mask_keeps_only_the_labels_observed_in_this_context() -> None:
    att = OutputAttention()
    logits = torch.arange(10.0).reshape(2, 5)
    labels = torch.tensor([2, 3])
    att.observe(logits, labels)
    masked = att.mask(logits, labels)
    assert torch.equal(masked[:, [2, 3]], logits[:, [2, 3]])
    assert bool((masked[:, [0, 1, 4]] == MASKED).all())
    # a later step of the same context adds its labels to the attended set
    att.observe(logits, torch.tensor([4, 4]))
    assert att.attended.tolist() == [False, False, True, True, True]


def test_masked_outputs_get_no_gradient_from_the_loss() -> None:
    att = OutputAttention()
    logits = torch.randn(4, 6, requires_grad=True)
    labels = torch.tensor([1, 2, 1, 2])
    att.observe(logits, labels)
    nn.functional.cross_entropy(att.mask(logits, labels), labels).backward()
    grad = logits.grad
    assert bool((grad[:, [0, 3, 4, 5]] == 0).all())
    assert bool((grad[:, [1, 2]] != 0).any())


def test_reset_starts_a_new_context_but_keeps_what_was_seen() -> None:
    att = OutputAttention()
    att.observe(torch.zeros(2, 4), torch.tensor([0, 1]))
    att.reset()
    assert not bool(att.attended.any())
    assert att.seen.tolist() == [True, True, False, False]
    logits = torch.randn(3, 4)
    labels = torch.tensor([0, 1, 2])
    assert torch.equal(att.mask(logits, labels), logits)  # nothing attended yet: nothing masked


def test_familiar_labels_keep_every_output_novel_ones_compete_among_themselves() -> None:
    # context 1 learns 0, 1; context 2 brings 2, 3 and (replayed) 0
    att = OutputAttention()
    att.observe(torch.zeros(2, 5), torch.tensor([0, 1]))
    att.reset()
    labels = torch.tensor([2, 3, 0])
    logits = torch.randn(3, 5)
    att.observe(logits, labels)
    assert att.novel().tolist() == [False, False, True, True, False]
    masked = att.mask(logits, labels)
    assert torch.equal(masked[2], logits[2])  # replayed sample: asymmetric (ER-ACE)
    for row in (0, 1):
        assert torch.equal(masked[row, [2, 3]], logits[row, [2, 3]])
        assert bool((masked[row, [0, 1, 4]] == MASKED).all())
    # a context whose labels are all familiar (domain-incremental) is not masked at all
    att.reset()
    att.observe(logits, torch.tensor([0, 1, 2]))
    assert torch.equal(att.mask(logits, torch.tensor([0, 1, 2])), logits)


def test_statistics_are_per_label_moving_moments_by_hand() -> None:
    rate = 0.25
    att = OutputAttention(rate=rate)
    # label 0's own logit: batch 1 -> [1, 3] (mean 2, var 1); batch 2 -> [6] (mean 6, var 0)
    att.observe(torch.tensor([[1.0, 9.0], [3.0, 9.0], [0.0, 5.0]]), torch.tensor([0, 0, 1]))
    assert att.mean.tolist() == pytest.approx([2.0, 5.0])
    assert att.var.tolist() == pytest.approx([1.0, 0.0])
    att.observe(torch.tensor([[6.0, -1.0]]), torch.tensor([0]))
    diff = 6.0 - 2.0
    mean = 2.0 + rate * diff
    var = (1 - rate) * (1.0 + rate * diff * diff) + rate * 0.0
    assert att.mean.tolist() == pytest.approx([mean, 5.0])
    assert att.var.tolist() == pytest.approx([var, 0.0])
    assert att.count.tolist() == [3, 1]


def test_readout_is_precision_weighted_evidence_and_masks_unseen_outputs() -> None:
    att = OutputAttention(eps=0.5)
    logits = torch.tensor([[1.0, 2.0, 3.0]])
    assert torch.equal(att.readout(logits), logits)  # nothing seen: unchanged
    att.observe(torch.tensor([[4.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 6.0, 0.0]]),
                torch.tensor([0, 1, 1]))
    out = att.readout(logits)
    # label 0: mean 4, var 0; label 1: mean 4, var 4; label 2 never seen
    assert float(out[0, 0]) == pytest.approx((1.0 - 4.0) / (0.0 + 0.5) ** 0.5)
    assert float(out[0, 1]) == pytest.approx((2.0 - 4.0) / (4.0 + 0.5) ** 0.5)
    assert float(out[0, 2]) == MASKED


def test_readout_reverses_a_scale_imbalance_between_contexts() -> None:
    # context A's outputs run large, context B's small: raw argmax always says A
    att = OutputAttention()
    att.observe(torch.tensor([[20.0, 10.0, 0.0, 0.0], [10.0, 20.0, 0.0, 0.0]]),
                torch.tensor([0, 1]))
    att.reset()
    att.observe(torch.tensor([[0.0, 0.0, 2.0, 1.0], [0.0, 0.0, 1.0, 2.0]]),
                torch.tensor([2, 3]))
    x = torch.tensor([[12.0, 11.0, 2.0, 1.0]])  # well below what class 0 expects; class 2 typical
    assert int(x.argmax()) == 0
    assert int(att.readout(x).argmax()) == 2


def test_outputs_grow_and_non_finite_logits_are_ignored() -> None:
    att = OutputAttention()
    att.observe(torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([1]))
    att.observe(torch.tensor([[1.0, 2.0, 3.0, 4.0, float("nan")]]), torch.tensor([4]))
    assert att.attended.numel() == 5
    assert att.mean[1].item() == pytest.approx(2.0)
    assert att.count.tolist() == [0, 1, 0, 0, 0]  # the NaN observation was not folded in
    assert bool(torch.isfinite(att.mean).all() and torch.isfinite(att.var).all())


def test_bad_parameters_name_the_field() -> None:
    with pytest.raises(ValueError, match="output_rate"):
        Acetylcholine(output_rate=0.0)
    with pytest.raises(ValueError, match="output_eps"):
        Acetylcholine(output_eps=-1.0)


def test_state_round_trips_and_old_checkpoints_still_load(roundtrip) -> None:
    ach = Acetylcholine(output_rate=0.1)
    ach.outputs.observe(torch.randn(8, 4), torch.tensor([0, 1, 2, 3, 0, 1, 2, 3]))
    fresh = Acetylcholine(output_rate=0.1)
    fresh.load_state_dict(roundtrip(ach.state_dict()))
    for name in ("attended", "familiar", "seen", "mean", "var", "count"):
        assert torch.equal(getattr(fresh.outputs, name), getattr(ach.outputs, name))
    # a checkpoint written before output attention existed has no outputs.* keys
    old = {k: v for k, v in ach.state_dict().items() if not k.startswith("outputs.")}
    legacy = Acetylcholine()
    legacy.load_state_dict(old)
    assert legacy.outputs.attended.numel() == 0


def test_an_inferred_context_switch_leaves_output_attention_alone() -> None:
    # NA declares changes a few steps into a new experience: were output attention to restart
    # there, the new experience's own labels would count as familiar and go unmasked
    ach = Acetylcholine()
    ach.outputs.reset()
    ach.outputs.observe(torch.zeros(2, 3), torch.tensor([0, 1]))
    ach.switch_context()
    assert ach.outputs.novel().tolist() == [True, True, False]


# =================================================================== plugin in a strategy


class _Tensors(TensorDataset):
    def __init__(self, x, y):
        super().__init__(x, y)
        self.targets = y.tolist()


@pytest.fixture(scope="module")
def blobs():
    """Class-incremental: 3 experiences of 2 classes, overlapping Gaussian blobs."""
    gen = torch.Generator().manual_seed(0)
    centers = torch.randn(6, 20, generator=gen)

    def make(n):
        y = torch.arange(6).repeat_interleave(n)
        return _Tensors(centers[y] + torch.randn(len(y), 20, generator=gen), y)

    return nc_benchmark(make(64), make(32), n_experiences=3, task_labels=False, seed=0,
                        fixed_class_order=[0, 1, 2, 3, 4, 5])


def _run(bm, plugins, *, momentum=0.0, watch=None):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 6))
    strategy = Naive(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1,
                                                            momentum=momentum),
                     criterion=nn.CrossEntropyLoss(), train_mb_size=16, train_epochs=5,
                     eval_mb_size=64, plugins=plugins,
                     evaluator=EvaluationPlugin(accuracy_metrics(stream=True), loggers=[]))
    snapshots = []
    for experience in bm.train_stream:
        strategy.train(experience)
        snapshots.append(model[2].weight.detach().clone())
    results = strategy.eval(bm.test_stream)
    return results["Top1_Acc_Stream/eval_phase/test_stream/Task000"], snapshots


def _attention(**extra):
    return NeuromodulationPlugin(acetylcholine=dict(gating=False, outputs="attended",
                                                    readout="precision", **extra))


def test_attention_leaves_earlier_outputs_untouched_without_momentum(blobs) -> None:
    _, snaps = _run(blobs, [_attention()])
    # rows 0-1 were learnt in experience 0; experiences 1 and 2 never touch them
    assert torch.equal(snaps[0][:2], snaps[2][:2])
    assert torch.equal(snaps[1][2:4], snaps[2][2:4])
    assert not torch.equal(snaps[0][4:], snaps[2][4:])  # the current context's rows do learn
    _, naive = _run(blobs, [])
    assert not torch.equal(naive[0][:2], naive[2][:2])


class _SwitchMidExperience(SupervisedPlugin):
    """Declare an inferred context change a few steps into each experience, as NA does."""

    def __init__(self, neuromodulation):
        super().__init__()
        self.neuromodulation = neuromodulation

    def after_training_iteration(self, strategy, **kwargs):
        if strategy.clock.train_exp_iterations == 3:
            self.neuromodulation.modulators["acetylcholine"].switch_context()


def test_na_switches_inside_an_experience_do_not_unmask_its_labels(blobs) -> None:
    plugin = _attention()
    _, snaps = _run(blobs, [plugin, _SwitchMidExperience(plugin)])
    assert int(plugin.modulators["acetylcholine"].context) >= 3
    assert torch.equal(snaps[0][:2], snaps[2][:2])
    assert torch.equal(snaps[1][2:4], snaps[2][2:4])


def test_attention_and_readout_beat_naive_on_class_incremental_blobs(blobs) -> None:
    naive, _ = _run(blobs, [])
    masked_raw, _ = _run(blobs, [NeuromodulationPlugin(acetylcholine=dict(
        gating=False, outputs="attended", readout="raw"))])
    attended, _ = _run(blobs, [_attention()])
    assert naive < 0.7  # forgets (0.63 when written)
    assert attended > naive + 0.2  # 0.91 when written
    assert attended >= masked_raw - 0.02


def test_readout_acts_in_evaluation_only_and_options_are_checked(blobs) -> None:
    plugin = _attention()
    _run(blobs, [plugin])
    outputs = plugin.modulators["acetylcholine"].outputs
    assert outputs.seen.tolist() == [True] * 6
    with pytest.raises(ModulatorConfigError, match="outputs"):
        NeuromodulationPlugin(acetylcholine=dict(outputs="some"))
    with pytest.raises(ModulatorConfigError, match="readout"):
        NeuromodulationPlugin(acetylcholine=dict(readout="softmax"))


@pytest.mark.cuda
def test_output_attention_on_cuda_matches_cpu() -> None:
    logits = torch.randn(16, 6, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 1] * 8)
    cpu, gpu = OutputAttention(), OutputAttention().to("cuda")
    for att, device in ((cpu, "cpu"), (gpu, "cuda")):
        att.observe(logits.to(device), labels.to(device))
        att.reset()
        att.observe(logits.to(device), (labels + 2).to(device))
    assert gpu.mean.is_cuda and gpu.familiar.is_cuda
    masked = gpu.mask(logits.cuda(), (labels + 2).cuda())
    assert masked.is_cuda
    assert torch.allclose(masked.cpu(), cpu.mask(logits, labels + 2))
    assert torch.allclose(gpu.readout(logits.cuda()).cpu(), cpu.readout(logits), atol=1e-5)

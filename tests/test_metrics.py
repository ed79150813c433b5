"""Tests for avalanche_neuromod.metrics: pure functions by hand, plugins inside Avalanche."""

from __future__ import annotations

import math
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from avalanche_neuromod.metrics import (
    ActionEntropy,
    TrialsToCriterion,
    action_entropy_metrics,
    conditional_action_entropy,
    entropy_curve,
    moving_accuracy,
    summarize_shifts,
    trials_to_criterion,
    trials_to_criterion_metrics,
)

TTC_EXP = "TrialsToCriterion/train_phase/train_stream/Exp{:03d}"
TTC_STREAM = "TrialsToCriterion/train_phase/train_stream"
SOLVED_STREAM = "ShiftsSolved/train_phase/train_stream"
ENTROPY = "ActionEntropy/train_phase/train_stream"


# --------------------------------------------------------------------------- trials_to_criterion


def test_ttc_hand_computed() -> None:
    # windows ending at t=4: [0,0,1,1] -> 0.5; t=5: [0,1,1,1] -> 0.75 >= 0.75
    assert trials_to_criterion([0, 0, 1, 1, 1, 1], window=4, criterion=0.75) == 5


def test_ttc_first_window_counts() -> None:
    assert trials_to_criterion([1, 1, 1], window=3, criterion=1.0) == 3
    assert trials_to_criterion(np.array([True, False, True, True]), window=2, criterion=1.0) == 4


def test_ttc_exact_fraction_meets_criterion() -> None:
    # 17/20 must meet 0.85 despite 0.85 not being exactly representable
    correct = [0] * 3 + [1] * 17
    assert trials_to_criterion(correct, window=20, criterion=0.85) == 20
    assert trials_to_criterion([0] * 4 + [1] * 16, window=20, criterion=0.85) is None


def test_ttc_never_reached_and_too_short() -> None:
    assert trials_to_criterion([1, 0] * 10, window=4, criterion=0.75) is None
    assert trials_to_criterion([1, 1], window=4, criterion=0.5) is None
    assert trials_to_criterion([], window=1, criterion=0.5) is None


def test_ttc_accepts_tensor() -> None:
    assert trials_to_criterion(torch.tensor([0, 1, 1]), window=2, criterion=1.0) == 3


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"window": 0, "criterion": 0.5}, "window"),
        ({"window": 2.5, "criterion": 0.5}, "window"),
        ({"window": 3, "criterion": 0.0}, "criterion"),
        ({"window": 3, "criterion": 1.2}, "criterion"),
    ],
)
def test_ttc_validates_arguments(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        trials_to_criterion([1, 1, 1], **kwargs)


def test_ttc_rejects_bad_correct() -> None:
    with pytest.raises(ValueError, match="correct"):
        trials_to_criterion([[1, 0]], window=1, criterion=0.5)
    with pytest.raises(ValueError, match="correct"):
        trials_to_criterion([2, 0], window=1, criterion=0.5)


# --------------------------------------------------------------------------- moving_accuracy


def test_moving_accuracy_hand_computed() -> None:
    got = moving_accuracy([1, 0, 1, 1, 0], window=2)
    np.testing.assert_allclose(got, [1.0, 0.5, 0.5, 1.0, 0.5])
    got3 = moving_accuracy([0, 1, 1, 1], window=3)
    np.testing.assert_allclose(got3, [0.0, 0.5, 2 / 3, 1.0])
    assert moving_accuracy([], window=3).shape == (0,)
    with pytest.raises(ValueError, match="window"):
        moving_accuracy([1], window=0)


# --------------------------------------------------------------------------- summarize_shifts


def test_summarize_all_solved() -> None:
    assert summarize_shifts([10, 30, 20]) == {"median": 20.0, "solved_share": 1.0, "n_shifts": 3}


def test_summarize_with_failures() -> None:
    minority = summarize_shifts([10, None, 30])  # sorted 10, 30, inf -> 30
    assert minority["median"] == 30.0
    assert minority["solved_share"] == pytest.approx(2 / 3)
    half = summarize_shifts([10, None, 20, None])  # sorted 10, 20, inf, inf -> inf
    assert half["median"] == math.inf and half["solved_share"] == 0.5
    assert half["n_shifts"] == 4
    assert isinstance(summarize_shifts([4, 6])["median"], float)
    assert summarize_shifts([4, 6])["median"] == 5.0


def test_summarize_empty() -> None:
    out = summarize_shifts([])
    assert out["n_shifts"] == 0
    assert math.isnan(out["median"]) and math.isnan(out["solved_share"])


# --------------------------------------------------------------------------- entropy


def test_entropy_uniform_and_deterministic() -> None:
    assert conditional_action_entropy([0, 0], [[0.5, 0.5], [0.5, 0.5]]) == pytest.approx(1.0)
    assert conditional_action_entropy([0], [[0.25] * 4]) == pytest.approx(2.0)
    assert conditional_action_entropy([0, 1], [[1.0, 0.0], [0.0, 1.0]]) == 0.0


def test_entropy_one_hot_actions_are_frequencies() -> None:
    # cue 0: actions 0, 1 -> P = (.5, .5) -> 1 bit; cue 1: actions 0, 0, 0, 0 -> 0 bits
    cues = [0, 0, 1, 1, 1, 1]
    one_hot = [[1, 0], [0, 1], [1, 0], [1, 0], [1, 0], [1, 0]]
    assert conditional_action_entropy(cues, one_hot) == pytest.approx(1 / 3)


def test_entropy_mixed_cues_weighted_by_share() -> None:
    # cue 0 (1/4 of trials): uniform -> 1 bit; cue 1 (3/4): mean P = (.75, .25)
    # H(.75, .25) = -.75 log2 .75 - .25 log2 .25 = 0.8112781244591328
    cues = torch.tensor([1, 0, 1, 1])
    probs = torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.5, 0.5], [0.75, 0.25]])
    expected = 0.25 * 1.0 + 0.75 * 0.8112781244591328
    assert conditional_action_entropy(cues, probs) == pytest.approx(expected)


def test_entropy_validation() -> None:
    with pytest.raises(ValueError, match="2-D"):
        conditional_action_entropy([0, 1], [0, 1])
    with pytest.raises(ValueError, match="number of trials"):
        conditional_action_entropy([0, 1, 2], [[1, 0], [0, 1]])
    with pytest.raises(ValueError, match="sum to 1"):
        conditional_action_entropy([0], [[0.2, 0.2]])
    with pytest.raises(ValueError, match="at least one"):
        conditional_action_entropy([], np.zeros((0, 2)))


def test_entropy_curve_bins() -> None:
    cues = [0] * 5
    probs = [[0.5, 0.5]] * 2 + [[1.0, 0.0]] * 2 + [[0.5, 0.5]]
    np.testing.assert_allclose(entropy_curve(cues, probs, bin_size=2), [1.0, 0.0])
    with pytest.raises(ValueError, match="bin_size"):
        entropy_curve(cues, probs, bin_size=0)


# --------------------------------------------------------------------------- plugin constructors


def test_plugin_constructors_validate_and_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        TrialsToCriterion(10)  # type: ignore[misc]
    with pytest.raises(ValueError, match="criterion"):
        TrialsToCriterion(criterion=0.0)
    with pytest.raises(ValueError, match="bin_size"):
        ActionEntropy(bin_size=0)
    (ttc,) = trials_to_criterion_metrics(window=7, criterion=0.5)
    (ent,) = action_entropy_metrics(bin_size=3)
    assert (ttc.window, ttc.criterion, ent.bin_size) == (7, 0.5, 3)


# --------------------------------------------------------------------------- stub strategy


def _stub(
    exp: int, y: list[int], stim: list[int], output: list[list[float]], **extra
) -> SimpleNamespace:
    experience = SimpleNamespace(
        current_experience=exp, origin_stream=SimpleNamespace(name="train"), task_labels=[0]
    )
    y_t = torch.tensor(y)
    n = len(y)
    return SimpleNamespace(
        mbatch=(torch.zeros(n, 1), y_t, torch.tensor(stim), torch.zeros(n, dtype=torch.long)),
        mb_y=y_t,
        mb_output=torch.tensor(output),
        experience=experience,
        clock=SimpleNamespace(train_iterations=11),
        **extra,
    )


def test_stub_mb_action_and_mb_policy_are_honoured() -> None:
    ttc = TrialsToCriterion(window=2, criterion=1.0)
    ent = ActionEntropy(bin_size=4)
    # logits always favour action 0 (wrong for y=1 and deterministic), but the strategy sampled
    # the correct actions from a uniform policy
    strat = _stub(
        0,
        y=[1, 0, 1, 0],
        stim=[0, 1, 0, 1],
        output=[[9.0, -9.0]] * 4,
        mb_action=torch.tensor([1, 0, 1, 0]),
        mb_policy=torch.full((4, 2), 0.5),
    )
    for metric in (ttc, ent):
        metric.before_training_exp(strat)
    ttc.after_training_iteration(strat)
    values = ent.after_training_iteration(strat)
    ttc_values = ttc.after_training_exp(strat)
    assert ttc.history[0]["correct"] == [1, 1, 1, 1]
    assert ttc.history[0]["trials_to_criterion"] == 2
    assert [(v.name, v.value, v.x_plot) for v in ttc_values] == [(TTC_EXP.format(0), 2.0, 11)]
    assert [(v.name, v.value, v.x_plot) for v in values] == [(ENTROPY, 1.0, 4)]


def test_stub_falls_back_to_logits_when_attributes_are_none() -> None:
    ttc = TrialsToCriterion(window=2, criterion=1.0)
    ent = ActionEntropy(bin_size=2)
    strat = _stub(
        3, y=[1, 0], stim=[2, 2], output=[[9.0, -9.0]] * 2, mb_action=None, mb_policy=None
    )
    ttc.after_training_iteration(strat)  # hooks called without before_training_exp
    (value,) = ent.after_training_iteration(strat)
    ttc.after_training_exp(strat)
    assert ttc.history == [
        {"experience": 3, "correct": [0, 1], "trials_to_criterion": None, "is_shift": False}
    ]
    assert value.value == pytest.approx(0.0, abs=1e-6)
    assert ent.history == [{"experience": 3, "entropies": [value.value]}]


def test_stub_three_tuple_batch_uses_targets_as_cues() -> None:
    ent = ActionEntropy(bin_size=4)
    strat = _stub(0, y=[0, 0, 1, 1], stim=[0, 0, 0, 0], output=[[0.0, 0.0]] * 4)
    # cue 0: policy (1, 0); cue 1: uniform -> H = 0.5 * 0 + 0.5 * 1
    strat.mbatch = strat.mbatch[:2] + strat.mbatch[3:]
    strat.mb_policy = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.5, 0.5], [0.5, 0.5]])
    (value,) = ent.after_training_iteration(strat)
    assert value.value == pytest.approx(0.5)


def test_entropy_bins_span_iterations_and_reset() -> None:
    ent = ActionEntropy(bin_size=3)
    strat = _stub(0, y=[0, 1], stim=[0, 1], output=[[0.0, 0.0]] * 2)
    emitted = [v.x_plot for _ in range(4) for v in ent.after_training_iteration(strat)]
    assert emitted == [3, 6]  # 8 trials -> two full bins, ending at trials 3 and 6
    assert [x for x, _ in ent.curve] == [3, 6] and ent.result() == pytest.approx(1.0)
    ent.reset()
    assert ent.curve == [] and ent.history == [] and ent.result() is None


# --------------------------------------------------------------------------- real Avalanche run

N_TRIALS = 48
MB_SIZE = 8


def _go_no_go_dataset(go_cues: set[int]):
    from avalanche.benchmarks.utils.classification_dataset import (
        _make_taskaware_tensor_classification_dataset as mk,
    )

    stim = torch.arange(N_TRIALS) % 4
    x = nn.functional.one_hot(stim, 4).float()
    y = torch.tensor([int(int(s) in go_cues) for s in stim])
    return mk(x, y, stim, task_labels=0)


def _fixed_model(go_cues: set[int], scale: float) -> nn.Module:
    """Linear read-out of the cue one-hot; logit(Go) - logit(No-Go) = +-scale per the rule."""
    model = nn.Linear(4, 2, bias=False)
    with torch.no_grad():
        model.weight.zero_()
        for cue in range(4):
            model.weight[1, cue] = scale if cue in go_cues else -scale
    return model


def _run(model: nn.Module, rules: list[set[int]], metrics: list) -> tuple[object, object]:
    from avalanche.benchmarks.scenarios.dataset_scenario import benchmark_from_datasets
    from avalanche.training.plugins import EvaluationPlugin
    from avalanche.training.supervised import Naive

    datasets = [_go_no_go_dataset(rule) for rule in rules]
    bm = benchmark_from_datasets(train=datasets, test=datasets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        evaluator = EvaluationPlugin(*metrics, loggers=[])
    strategy = Naive(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.0),  # frozen: outputs are known
        criterion=nn.CrossEntropyLoss(),
        train_mb_size=MB_SIZE,
        train_epochs=1,
        evaluator=evaluator,
        device="cpu",
    )
    for experience in bm.train_stream:
        strategy.train(experience, shuffle=False)
    return strategy, evaluator


RULE_A = {0, 1}
RULE_B = {2, 3}


def test_trials_to_criterion_in_naive_strategy() -> None:
    window = 16
    ttc = TrialsToCriterion(window=window, criterion=0.85)
    ent = ActionEntropy(bin_size=20)
    _, evaluator = _run(_fixed_model(RULE_A, 20.0), [RULE_A, RULE_B, RULE_A], [[ttc], [ent]])
    allm = evaluator.get_all_metrics()

    # the model already solves rule A: criterion met at exactly `window`; rule B is never met
    assert allm[TTC_EXP.format(0)] == ([N_TRIALS // MB_SIZE], [float(window)])
    assert math.isnan(allm[TTC_EXP.format(1)][1][0])
    assert allm[TTC_EXP.format(2)][1] == [float(window)]
    # stream summary only once shifts exist: shifts = [None] then [None, 16]
    assert allm[TTC_STREAM] == ([12, 18], [math.inf, math.inf])
    assert allm[SOLVED_STREAM][1] == [0.0, 0.5]

    assert [h["experience"] for h in ttc.history] == [0, 1, 2]
    assert [h["is_shift"] for h in ttc.history] == [False, True, True]
    assert [h["trials_to_criterion"] for h in ttc.history] == [window, None, window]
    assert ttc.history[0]["correct"] == [1] * N_TRIALS
    assert ttc.history[1]["correct"] == [0] * N_TRIALS
    assert ttc.result() == {"median": math.inf, "solved_share": 0.5, "n_shifts": 2}

    # a confident (|logit gap| = 20) policy has ~0 conditional entropy
    assert max(allm[ENTROPY][1]) < 1e-6


def test_action_entropy_in_naive_strategy() -> None:
    ttc_metrics = trials_to_criterion_metrics(window=8, criterion=1.0)
    _, evaluator = _run(
        _fixed_model(RULE_A, 0.0), [RULE_A, RULE_B], [*ttc_metrics, *action_entropy_metrics()]
    )
    allm = evaluator.get_all_metrics()
    # zero logits -> uniform policy -> 1 bit; 48 trials / 20 -> 2 bins per experience, the
    # partial tail is dropped and bins restart with the experience (x = trials seen so far)
    xs, values = allm[ENTROPY]
    assert xs == [20, 40, 68, 88]
    assert values == pytest.approx([1.0] * 4)
    registered = [m for m in evaluator.metrics if isinstance(m, ActionEntropy)][0]
    assert registered.curve == list(zip(xs, values))
    assert [h["experience"] for h in registered.history] == [0, 1]
    assert [len(h["entropies"]) for h in registered.history] == [2, 2]
    # argmax of tied logits is No-Go (0): correct exactly on the No-Go half, never 8 in a row
    ttc = ttc_metrics[0]
    assert ttc.history[0]["correct"] == [0, 0, 1, 1] * (N_TRIALS // 4)
    assert [h["trials_to_criterion"] for h in ttc.history] == [None, None]

"""Tests for the Go/No-Go set-shifting streams (avalanche_neuromod.benchmarks.gonogo)."""

from __future__ import annotations

import pytest
import torch

from avalanche_neuromod.benchmarks import gonogo_benchmark

# rule name -> (dimension, cue): A/B are visual cues 0/1, X/Y auditory cues 0/1
CUES = {"A": ("visual", 0), "B": ("visual", 1), "X": ("auditory", 0), "Y": ("auditory", 1)}


def tensors(experience) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x, y, stimulus, task_label)`` of every trial of an experience, in dataset order."""
    ds = experience.dataset
    items = [ds[i] for i in range(len(ds))]
    x = torch.stack([item[0] for item in items])
    y = torch.tensor([int(item[1]) for item in items])
    stimulus = torch.tensor([int(item[2]) for item in items])
    task = torch.tensor([int(item[3]) for item in items])
    return x, y, stimulus, task


def stream_tensors(stream) -> list[tuple[torch.Tensor, ...]]:
    return [tensors(experience) for experience in stream]


def expected_go(rule: str, stimulus: torch.Tensor) -> torch.Tensor:
    """Go exactly when the rule's cue is shown (stimulus = 2 * visual cue + auditory cue)."""
    dimension, cue = CUES[rule[0]]
    shown = stimulus // 2 if dimension == "visual" else stimulus % 2
    return (shown == cue).long()


# --------------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("cued", [False, True])
def test_same_seed_gives_identical_streams(cued: bool) -> None:
    kwargs = dict(shifts=["reversal", "intra", "extra"], trials_per_rule=24, test_trials=12,
                  cued=cued, seed=7)
    first, second = gonogo_benchmark(**kwargs), gonogo_benchmark(**kwargs)
    assert first.rules == second.rules
    for name in ("train_stream", "test_stream"):
        a = stream_tensors(getattr(first, name))
        b = stream_tensors(getattr(second, name))
        assert len(a) == len(b) == 4
        for exp_a, exp_b in zip(a, b):
            for tensor_a, tensor_b in zip(exp_a, exp_b):
                assert torch.equal(tensor_a, tensor_b)


def test_different_seeds_differ() -> None:
    kwargs = dict(trials_per_rule=24, test_trials=12)
    first, second = gonogo_benchmark(seed=0, **kwargs), gonogo_benchmark(seed=1, **kwargs)
    for name in ("train_stream", "test_stream"):
        x0, _, s0, _ = tensors(getattr(first, name)[0])
        x1, _, s1, _ = tensors(getattr(second, name)[0])
        assert not torch.equal(x0, x1)
        assert not torch.equal(s0, s1)


# --------------------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("cued", [False, True])
@pytest.mark.parametrize("shifts", [["reversal"], ["extra", "reversal", "intra"]])
def test_shapes(cued: bool, shifts: list[str]) -> None:
    population, trials, test_trials = 12, 20, 8
    bm = gonogo_benchmark(shifts=shifts, trials_per_rule=trials, test_trials=test_trials,
                          population_size=population, sparsity=0.25, cued=cued, seed=3)
    n_exp = len(shifts) + 1
    expected_input = 2 * population + (n_exp if cued else 0)
    assert bm.input_size == expected_input
    assert bm.n_classes == 2
    assert bm.cued is cued
    assert len(bm.rules) == n_exp
    assert bm.config["shifts"] == tuple(shifts)
    assert len(bm.train_stream) == len(bm.test_stream) == n_exp
    for stream, n in ((bm.train_stream, trials), (bm.test_stream, test_trials)):
        for experience in stream:
            x, y, stimulus, task = tensors(experience)
            assert x.shape == (n, expected_input)
            assert x.dtype == torch.float32
            assert y.shape == stimulus.shape == task.shape == (n,)
            assert set(y.tolist()) <= {0, 1}
            assert set(stimulus.tolist()) <= {0, 1, 2, 3}
            assert bool((x >= 0).all())  # rectified activity


def test_population_code_without_noise_is_sparse_and_binary() -> None:
    population, sparsity = 20, 0.3
    bm = gonogo_benchmark(shifts=["reversal"], population_size=population, sparsity=sparsity,
                          noise=0.0, trials_per_rule=16, test_trials=8, seed=5)
    x, _, stimulus, _ = tensors(bm.train_stream[0])
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    active = round(sparsity * population)
    assert bool((x[:, :population].sum(1) == active).all())
    assert bool((x[:, population:].sum(1) == active).all())
    # the visual part is the code of stimulus // 2, the auditory part that of stimulus % 2
    for s in range(4):
        rows = x[stimulus == s]
        assert bool((rows == rows[0]).all())
    visual = {int(s) // 2: x[stimulus == s][0, :population] for s in range(4)}
    auditory = {int(s) % 2: x[stimulus == s][0, population:] for s in range(4)}
    assert torch.equal(x[stimulus == 0][0, :population], x[stimulus == 1][0, :population])
    assert torch.equal(x[stimulus == 0][0, population:], x[stimulus == 2][0, population:])
    assert not torch.equal(visual[0], visual[1])
    assert not torch.equal(auditory[0], auditory[1])


# --------------------------------------------------------------------------------- contingencies


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "shifts",
    [["reversal", "extra", "reversal"], ["extra", "reversal", "intra"], ["intra", "extra"]],
)
def test_label_is_go_exactly_when_relevant_cue_shown(seed: int, shifts: list[str]) -> None:
    bm = gonogo_benchmark(shifts=shifts, trials_per_rule=40, test_trials=16, seed=seed)
    assert len(bm.rules) == len(shifts) + 1
    for stream in (bm.train_stream, bm.test_stream):
        for rule, experience in zip(bm.rules, stream):
            _, y, stimulus, _ = tensors(experience)
            assert torch.equal(y, expected_go(rule, stimulus)), rule


def test_reversal_switches_to_other_cue_of_same_dimension() -> None:
    bm = gonogo_benchmark(shifts=["reversal", "reversal"], trials_per_rule=16, test_trials=8)
    assert bm.rules == ["A", "B", "A"]
    bm = gonogo_benchmark(initial_rule="X", shifts=["reversal"], trials_per_rule=16, test_trials=8)
    assert bm.rules == ["X", "Y"]
    _, y, stimulus, _ = tensors(bm.train_stream[1])
    assert torch.equal(y, (stimulus % 2 == 1).long())


@pytest.mark.parametrize("seed", range(6))
def test_extra_shift_moves_to_other_dimension(seed: int) -> None:
    bm = gonogo_benchmark(shifts=["extra", "extra"], trials_per_rule=16, test_trials=8, seed=seed)
    assert bm.rules[0] == "A"
    assert bm.rules[1] in ("X", "Y")  # visual -> auditory
    assert bm.rules[2] in ("A", "B")  # auditory -> visual
    for rule, experience in zip(bm.rules, bm.train_stream):
        _, y, stimulus, _ = tensors(experience)
        assert torch.equal(y, expected_go(rule, stimulus))


def test_extra_shift_draws_both_cues_over_seeds() -> None:
    seen = {gonogo_benchmark(shifts=["extra"], trials_per_rule=4, test_trials=4,
                             seed=seed).rules[1] for seed in range(12)}
    assert seen == {"X", "Y"}


def test_intra_shift_draws_new_codes() -> None:
    population = 16
    bm = gonogo_benchmark(shifts=["intra"], population_size=population, noise=0.0,
                          trials_per_rule=32, test_trials=16, seed=4)
    assert bm.rules == ["A", "A1"]
    x0, _, s0, _ = tensors(bm.train_stream[0])
    x1, y1, s1, _ = tensors(bm.train_stream[1])
    for cue in (0, 1):
        old = x0[s0 // 2 == cue][0, :population]
        new = x1[s1 // 2 == cue][0, :population]
        assert not torch.equal(old, new), f"visual cue {cue} kept its code after an intra shift"
    # the auditory (irrelevant) dimension keeps its exemplars
    for cue in (0, 1):
        assert torch.equal(x0[s0 % 2 == cue][0, population:], x1[s1 % 2 == cue][0, population:])
    # Go follows cue 0 of the new pair (A1)
    assert torch.equal(y1, (s1 // 2 == 0).long())
    # train and test streams share the codes of an experience
    xt, _, st, _ = tensors(bm.test_stream[1])
    for s in range(4):
        assert torch.equal(xt[st == s][0], x1[s1 == s][0])


# ------------------------------------------------------------------------------------- balance


@pytest.mark.parametrize("seed", [0, 1])
def test_go_nogo_balanced(seed: int) -> None:
    bm = gonogo_benchmark(trials_per_rule=400, test_trials=100, seed=seed)
    for stream, n in ((bm.train_stream, 400), (bm.test_stream, 100)):
        for experience in stream:
            _, y, stimulus, _ = tensors(experience)
            assert int(y.sum()) == n // 2
            assert torch.bincount(stimulus, minlength=4).tolist() == [n // 4] * 4


def test_trials_are_shuffled() -> None:
    bm = gonogo_benchmark(trials_per_rule=64, test_trials=16, seed=0)
    _, _, stimulus, _ = tensors(bm.train_stream[0])
    assert not torch.equal(stimulus, torch.arange(64) % 4)


# ------------------------------------------------------------------------------- cued / uncued


def test_cued_stream_has_context_cue_and_task_labels() -> None:
    population = 8
    bm = gonogo_benchmark(shifts=["reversal", "extra", "reversal"], population_size=population,
                          trials_per_rule=16, test_trials=8, cued=True, seed=0)
    n_exp = len(bm.rules)
    assert bm.input_size == 2 * population + n_exp
    for stream in (bm.train_stream, bm.test_stream):
        for index, experience in enumerate(stream):
            x, _, _, task = tensors(experience)
            context = x[:, 2 * population:]
            expected = torch.zeros(n_exp)
            expected[index] = 1.0
            assert bool((context == expected).all())
            assert task.tolist() == [index] * len(task)


def test_uncued_stream_has_task_label_zero() -> None:
    population = 8
    bm = gonogo_benchmark(population_size=population, trials_per_rule=16, test_trials=8, seed=0)
    assert bm.input_size == 2 * population
    for stream in (bm.train_stream, bm.test_stream):
        for experience in stream:
            x, _, _, task = tensors(experience)
            assert x.shape[1] == 2 * population
            assert task.tolist() == [0] * len(task)


# -------------------------------------------------------------------------------- explicit rules


def test_explicit_rules_override_shifts() -> None:
    rules = ["B", "X", "Y2", "A"]
    bm = gonogo_benchmark(rules=rules, shifts=["reversal"], trials_per_rule=24, test_trials=8,
                          seed=2)
    assert bm.rules == rules
    assert len(bm.train_stream) == len(bm.test_stream) == len(rules)
    for stream in (bm.train_stream, bm.test_stream):
        for rule, experience in zip(rules, stream):
            _, y, stimulus, _ = tensors(experience)
            assert torch.equal(y, expected_go(rule, stimulus))


def test_explicit_exemplar_rule_uses_new_codes() -> None:
    population = 16
    bm = gonogo_benchmark(rules=["X", "X2"], population_size=population, noise=0.0,
                          trials_per_rule=16, test_trials=8, seed=1)
    x0, _, s0, _ = tensors(bm.train_stream[0])
    x1, _, s1, _ = tensors(bm.train_stream[1])
    assert not torch.equal(x0[s0 % 2 == 0][0, population:], x1[s1 % 2 == 0][0, population:])
    assert torch.equal(x0[s0 // 2 == 0][0, :population], x1[s1 // 2 == 0][0, :population])


# ----------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        (dict(trials_per_rule=-1), "trials_per_rule"),
        (dict(trials_per_rule=0), "trials_per_rule"),
        (dict(test_trials=0), "test_trials"),
        (dict(population_size=0), "population_size"),
        (dict(noise=-0.1), "noise"),
        (dict(noise=float("nan")), "noise"),
        (dict(sparsity=1.5), "sparsity"),
        (dict(sparsity=0.0), "sparsity"),
        (dict(population_size=2, sparsity=0.1), "sparsity"),
        (dict(shifts=["sideways"]), "shifts"),
        (dict(rules=["Q"]), "rules"),
        (dict(rules=[]), "rules"),
        (dict(rules=["A", "Q"]), "rules"),
        (dict(initial_rule="Q"), "initial_rule"),
        (dict(shifts="reversal"), "shifts"),
        (dict(sparsity="lots"), "sparsity"),
        (dict(noise="loud"), "noise"),
        (dict(population_size=True), "population_size"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_bad_input_raises_value_error_naming_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        gonogo_benchmark(**{"trials_per_rule": 8, "test_trials": 4, **kwargs})


# ------------------------------------------------------------------ recurring rules (serial)


def test_recurring_rules_reuse_their_codes_and_dwell_jitter_varies_the_dwell() -> None:
    rules = ["A", "B", "A", "X", "A"]
    bm = gonogo_benchmark(rules=rules, trials_per_rule=40, test_trials=8, noise=0.0,
                          dwell_jitter=12, seed=3)
    assert bm.rules == rules
    lengths = [len(e.dataset) for e in bm.train_stream]
    assert lengths == bm.dwells and all(28 <= n <= 52 for n in lengths)
    assert len(set(lengths)) > 1  # the change is not predictable from the trial count
    data = stream_tensors(bm.train_stream)
    for (_x, y, stim, _), rule in zip(data, rules):
        assert torch.equal(y, expected_go(rule, stim))
    # without noise, a stimulus has one code: rule A's trials look the same at every occurrence
    first = {int(s): x for x, s in zip(data[0][0], data[0][2])}
    again = {int(s): x for x, s in zip(data[4][0], data[4][2])}
    assert all(torch.equal(first[s], again[s]) for s in first)
    same = gonogo_benchmark(rules=rules, trials_per_rule=40, test_trials=8, noise=0.0,
                            dwell_jitter=12, seed=3)
    assert same.dwells == bm.dwells


def test_dwell_jitter_zero_leaves_the_stream_unchanged() -> None:
    plain = stream_tensors(gonogo_benchmark(trials_per_rule=24, test_trials=8, seed=5).train_stream)
    zero = stream_tensors(gonogo_benchmark(trials_per_rule=24, test_trials=8, seed=5,
                                           dwell_jitter=0).train_stream)
    assert all(torch.equal(a, b) for p, z in zip(plain, zero) for a, b in zip(p, z))


@pytest.mark.parametrize("jitter", [-1, 24, 2.5, True])
def test_bad_dwell_jitter_names_the_field(jitter) -> None:
    with pytest.raises(ValueError, match="dwell_jitter"):
        gonogo_benchmark(trials_per_rule=24, dwell_jitter=jitter)

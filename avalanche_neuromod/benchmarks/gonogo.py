"""Go/No-Go set-shifting streams, the case study of Mei et al. (2025, arXiv:2501.06762).

A trial is a compound stimulus: one of two visual cues (A/B) and one of two auditory cues (X/Y),
each encoded as a noisy sparse population code. A *rule* (contingency) says which single cue means
Go; every other trial is No-Go. A stream is a sequence of rules, one per experience, and the step
from one rule to the next is a shift:

- ``reversal``: same dimension, the other cue (Go on A -> Go on B);
- ``intra``: intra-dimensional shift, the same dimension with new exemplars (the population codes
  of that dimension are drawn anew: Go on A -> Go on A1, the first cue of the new pair);
- ``extra``: extra-dimensional shift, the other dimension becomes relevant (visual -> auditory).

Cued streams append a one-hot context cue (the rule's index) to the input and use it as the
Avalanche task label, so every rule can be kept at once (this is where forgetting is measured);
uncued streams hide the rule, so the network must notice the shift and re-adapt.

Population code (per dimension, ``population_size`` neurons): each cue exemplar activates a random
set of ``round(sparsity * population_size)`` neurons; a trial's activity is that binary pattern plus
Gaussian noise of std ``noise``, rectified at 0. Everything is drawn from ``seed``.

Recurring rules (serial reversal, returns across dimensions): ``rules`` may name a rule more than
once (``A, B, A, B, ...``; ``A, X, A, Y, X``); a rule that recurs shows the same population codes.
``dwell_jitter`` > 0 draws each rule's dwell uniformly from ``trials_per_rule +- dwell_jitter``
(from its own generator, so that ``dwell_jitter = 0`` leaves every other draw as it was), so that a
change cannot be predicted from the trial count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch and Avalanche are imported where used: a suite validates without them
    import torch

VISUAL, AUDITORY = "visual", "auditory"
CUE_NAMES = {VISUAL: ("A", "B"), AUDITORY: ("X", "Y")}
SHIFT_KINDS = ("reversal", "intra", "extra")
GO, NOGO = 1, 0


@dataclass(frozen=True)
class Rule:
    """A contingency: Go when ``dimension`` shows cue ``cue`` (0/1) of exemplar set ``exemplar``."""

    dimension: str
    cue: int
    exemplar: int = 0

    @property
    def name(self) -> str:
        base = CUE_NAMES[self.dimension][self.cue]
        return base if self.exemplar == 0 else f"{base}{self.exemplar}"


def parse_rule(name: str, *, field: str = "rules") -> Rule:
    """``"A"`` -> visual cue 0; ``"Y2"`` -> auditory cue 1 of exemplar set 2."""
    text = str(name).strip()
    for dimension, cues in CUE_NAMES.items():
        for index, cue in enumerate(cues):
            if text[:1] == cue and (text[1:] == "" or text[1:].isdigit()):
                return Rule(dimension, index, int(text[1:] or 0))
    raise ValueError(f"{field}: unknown cue {name!r} (use A, B, X, Y, optionally with an exemplar "
                     "number such as A1)")


def apply_shift(
    rule: Rule, kind: str, rng: torch.Generator, exemplars: dict[str, int] | None = None
) -> Rule:
    """The rule that follows ``rule`` after a shift of ``kind``.

    ``exemplars`` holds the exemplar set each dimension shows now: an extra-dimensional shift
    moves to the other dimension's current cues (not back to its first ones).
    """
    if kind == "reversal":
        return Rule(rule.dimension, 1 - rule.cue, rule.exemplar)
    if kind == "intra":
        return Rule(rule.dimension, 0, rule.exemplar + 1)
    if kind == "extra":
        import torch

        other = AUDITORY if rule.dimension == VISUAL else VISUAL
        cue = int(torch.randint(0, 2, (1,), generator=rng))
        return Rule(other, cue, (exemplars or {}).get(other, 0))
    raise ValueError(f"shifts: unknown shift {kind!r}; choose from {', '.join(SHIFT_KINDS)}")


@dataclass(frozen=True)
class GoNoGoConfig:
    """Parameters of a Go/No-Go stream (all validated, see :func:`gonogo_benchmark`)."""

    shifts: tuple[str, ...] = ("reversal", "extra", "reversal")
    initial_rule: str = "A"
    rules: tuple[str, ...] | None = None
    trials_per_rule: int = 320
    test_trials: int = 128
    population_size: int = 32
    sparsity: float = 0.25
    noise: float = 0.2
    cued: bool = False
    seed: int = 0
    dwell_jitter: int = 0

    def validate(self) -> GoNoGoConfig:
        """Check every field; a ValueError's message starts with the field's name."""
        for name in ("trials_per_rule", "test_trials", "population_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name}: must be a positive integer, got {value!r}")
        jitter = self.dwell_jitter
        if not isinstance(jitter, int) or isinstance(jitter, bool) or \
                not 0 <= jitter < self.trials_per_rule:
            raise ValueError(f"dwell_jitter: must be an integer in [0, trials_per_rule), got "
                             f"{jitter!r}")
        for name in ("sparsity", "noise"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name}: must be a number, got {value!r}")
        if not (0.0 < float(self.sparsity) < 1.0):
            raise ValueError(f"sparsity: must be in (0, 1), got {self.sparsity!r}")
        if round(self.sparsity * self.population_size) < 1:
            raise ValueError("sparsity: population_size * sparsity must give at least one active "
                             f"neuron, got {self.population_size} * {self.sparsity}")
        if not (math.isfinite(float(self.noise)) and float(self.noise) >= 0.0):
            raise ValueError(f"noise: must be a finite number >= 0, got {self.noise!r}")
        if isinstance(self.shifts, str) or not all(isinstance(k, str) for k in self.shifts):
            raise ValueError(f"shifts: must be a list of shift kinds, got {self.shifts!r}")
        for kind in self.shifts:
            if kind not in SHIFT_KINDS:
                raise ValueError(f"shifts: unknown shift {kind!r}; choose from "
                                 f"{', '.join(SHIFT_KINDS)}")
        if self.rules is not None:
            if isinstance(self.rules, str) or len(self.rules) < 1:
                raise ValueError("rules: must name at least one rule")
            for rule in self.rules:
                parse_rule(rule, field="rules")
        parse_rule(self.initial_rule, field="initial_rule")
        return self

    def nbytes(self) -> tuple[int, int]:
        """``(input size, bytes of the whole stream)``: float32 inputs (two populations, plus
        the context cue when cued), int64 labels and stimuli, train and test trials."""
        n_rules = len(self.rules) if self.rules is not None else len(self.shifts) + 1
        width = 2 * self.population_size + (n_rules if self.cued else 0)
        trials = self.trials_per_rule + self.dwell_jitter + self.test_trials
        return width, n_rules * trials * (4 * width + 16)


class PopulationCode:
    """Sparse binary codes of each cue exemplar, drawn once per stream from its generator."""

    def __init__(self, *, population_size: int, sparsity: float, rng: torch.Generator):
        self.size = population_size
        self.active = max(1, round(sparsity * population_size))
        self.rng = rng
        self._codes: dict[tuple[str, int, int], torch.Tensor] = {}

    def code(self, dimension: str, cue: int, exemplar: int) -> torch.Tensor:
        import torch

        key = (dimension, cue, exemplar)
        if key not in self._codes:
            # draw both cues of a pair together so the order of requests never matters
            for c in (0, 1):
                pattern = torch.zeros(self.size)
                pattern[torch.randperm(self.size, generator=self.rng)[: self.active]] = 1.0
                self._codes[(dimension, c, exemplar)] = pattern
        return self._codes[key]


def _rule_sequence(config: GoNoGoConfig, rng: torch.Generator) -> list[Rule]:
    if config.rules is not None:
        return [parse_rule(name) for name in config.rules]
    rules = [parse_rule(config.initial_rule)]
    exemplars = {VISUAL: 0, AUDITORY: 0}
    for kind in config.shifts:
        exemplars[rules[-1].dimension] = rules[-1].exemplar
        rules.append(apply_shift(rules[-1], kind, rng, exemplars))
    return rules


def dwells(config: GoNoGoConfig, n_rules: int) -> list[int]:
    """Training trials of each rule: ``trials_per_rule``, or uniform in ``trials_per_rule +-
    dwell_jitter`` drawn from a generator of its own (seeded by ``seed``)."""
    if config.dwell_jitter == 0:
        return [config.trials_per_rule] * n_rules
    import torch

    rng = torch.Generator().manual_seed(config.seed * 1_000_003 + 101)
    j = config.dwell_jitter
    offsets = torch.randint(-j, j + 1, (n_rules,), generator=rng)
    return [config.trials_per_rule + int(o) for o in offsets]


def _trials(
    *,
    rule: Rule,
    exemplars: dict[str, int],
    n: int,
    code: PopulationCode,
    config: GoNoGoConfig,
    context: int | None,
    n_rules: int,
    rng: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` balanced trials (each compound stimulus equally often, shuffled)."""
    import torch

    stimulus = torch.arange(n) % 4
    stimulus = stimulus[torch.randperm(n, generator=rng)]
    visual_cue, auditory_cue = stimulus // 2, stimulus % 2
    codes = {
        dim: torch.stack([code.code(dim, c, exemplars[dim]) for c in (0, 1)])
        for dim in (VISUAL, AUDITORY)
    }
    parts = [codes[VISUAL][visual_cue], codes[AUDITORY][auditory_cue]]
    x = torch.cat(parts, dim=1)
    x = (x + config.noise * torch.randn(x.shape, generator=rng)).clamp_min(0.0)
    if context is not None:
        cue = torch.zeros(n, n_rules)
        cue[:, context] = 1.0
        x = torch.cat([x, cue], dim=1)
    relevant = visual_cue if rule.dimension == VISUAL else auditory_cue
    y = (relevant == rule.cue).long()
    return x, y, stimulus


def gonogo_benchmark(
    *,
    shifts: Sequence[str] = GoNoGoConfig.shifts,
    initial_rule: str = "A",
    rules: Sequence[str] | None = None,
    trials_per_rule: int = 320,
    test_trials: int = 128,
    population_size: int = 32,
    sparsity: float = 0.25,
    noise: float = 0.2,
    cued: bool = False,
    seed: int = 0,
    dwell_jitter: int = 0,
):
    """Build a Go/No-Go set-shifting benchmark (an Avalanche ``CLScenario``).

    :param shifts: shift kinds applied one after the other from ``initial_rule``
        (``reversal``, ``intra``, ``extra``); ignored when ``rules`` is given.
    :param rules: explicit rule per experience, e.g. ``["A", "B", "X", "Y"]``.
    :param trials_per_rule: training trials per experience (one trial = one sample).
    :param test_trials: test trials per experience.
    :param population_size: neurons per sensory dimension.
    :param sparsity: share of a dimension's neurons that a cue activates.
    :param noise: std of the Gaussian noise on each neuron's activity.
    :param cued: append a one-hot context cue and use the rule index as task label.
    :param seed: fixes codes, rules, trial order and noise.
    :param dwell_jitter: each rule's training trials are drawn from ``trials_per_rule +-
        dwell_jitter`` (0: exactly ``trials_per_rule``).

    Experiences carry ``(x, y, stimulus, task_label)``: ``y`` is 1 for Go, 0 for No-Go, and
    ``stimulus`` (0..3 = 2 * visual cue + auditory cue) identifies the compound cue. The scenario
    has ``rules`` (names), ``input_size``, ``n_classes`` (2), ``cued`` and ``config`` attributes.
    """
    config = GoNoGoConfig(
        shifts=tuple(shifts), initial_rule=initial_rule,
        rules=None if rules is None else tuple(rules), trials_per_rule=trials_per_rule,
        test_trials=test_trials, population_size=population_size, sparsity=sparsity,
        noise=noise, cued=bool(cued), seed=int(seed), dwell_jitter=dwell_jitter,
    ).validate()
    import torch
    from avalanche.benchmarks.scenarios.dataset_scenario import benchmark_from_datasets
    from avalanche.benchmarks.scenarios.supervised import with_classes_timeline
    from avalanche.benchmarks.utils.classification_dataset import (
        _make_taskaware_tensor_classification_dataset as make_tensor_dataset,
    )

    rng = torch.Generator().manual_seed(config.seed)
    sequence = _rule_sequence(config, rng)
    code = PopulationCode(population_size=config.population_size, sparsity=config.sparsity,
                          rng=rng)
    exemplars = {VISUAL: 0, AUDITORY: 0}
    train, test = [], []
    dwell = dwells(config, len(sequence))
    for index, rule in enumerate(sequence):
        exemplars[rule.dimension] = rule.exemplar
        common = dict(rule=rule, exemplars=dict(exemplars), code=code, config=config,
                      context=index if config.cued else None, n_rules=len(sequence), rng=rng)
        task = index if config.cued else 0
        for n, out in ((dwell[index], train), (config.test_trials, test)):
            x, y, stim = _trials(n=n, **common)
            out.append(make_tensor_dataset(x, y, stim, task_labels=task))
    # experiences get ``classes_in_this_experience`` (used by multi-head models); wrap the
    # scenario in Avalanche's ``with_task_labels`` for task-aware forwarding of a multi-head model
    scenario = with_classes_timeline(benchmark_from_datasets(train=train, test=test))
    for stream in (scenario.train_stream, scenario.test_stream):
        for experience in stream:  # Avalanche's heads index with these: a list, not a set
            experience.classes_in_this_experience = sorted(experience.classes_in_this_experience)
    scenario.rules = [rule.name for rule in sequence]
    scenario.input_size = int(train[0][0][0].numel())
    scenario.n_classes = 2
    scenario.cued = config.cued
    scenario.dwells = dwell
    scenario.config = asdict(config)
    return scenario

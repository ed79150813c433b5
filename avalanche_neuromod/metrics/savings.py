"""Savings on recurring rules: how much faster a rule is re-acquired each time it comes back.

Serial reversal (rats re-acquire a reversed discrimination in about one trial after some ten
reversal problems; criterion 11 of 12 correct) and latent-state inference in macaques (Bartolo &
Averbeck 2020) measure learning by the trials a rule takes on its k-th occurrence. Here, with
``correct`` the per-trial correctness of one occurrence (the trials from the change on):

- trials to criterion ``TTC`` as :func:`~.criterion.trials_to_criterion` (window ``W``,
  criterion ``q``: the first trial whose trailing ``W`` trials are >= ``q`` correct);
- re-acquisition ``TTC - W``: the trials *before* the first criterion run (0: correct from the
  change on; the animal literature's "trials to criterion" excluding the criterion run);
- savings of the k-th occurrence of a rule ``TTC_1 / TTC_k`` (trials to criterion at its first
  occurrence over those at the k-th; ``TTC >= W``, so it is always defined when both are);
- contexts held: the distinct contexts the agent's acetylcholine entered (against the rules);
- ``H(A|cue)`` around each change: the entropy bins before and after it.

:class:`RuleSavings` wraps them as an Avalanche ``PluginMetric``: the rules of the stream are
the metric's (evaluation side); nothing reaches the agent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from avalanche.evaluation.metric_results import MetricValue

from .criterion import TrialsToCriterion, train_metric_name, trials_to_criterion


def occurrences(rules: Sequence[str]) -> list[int]:
    """The 1-based occurrence of each rule in a stream: ``A, B, A`` -> ``1, 1, 2``."""
    seen: dict[str, int] = {}
    out = []
    for rule in rules:
        seen[rule] = seen.get(rule, 0) + 1
        out.append(seen[rule])
    return out


def reacquisition(correct: Sequence[int], *, window: int, criterion: float) -> int | None:
    """Trials before the first criterion run (``TTC - window``); ``None`` if never reached."""
    ttc = trials_to_criterion(correct, window=window, criterion=criterion)
    return None if ttc is None else ttc - window


def occurrence_table(rules: Sequence[str], segments: Sequence[Sequence[int]], *, window: int,
                     criterion: float) -> list[dict[str, Any]]:
    """One row per rule occurrence: rule, occurrence, ``ttc``, ``reacquisition``, ``savings``
    (``TTC`` of the rule's first occurrence over this one's; ``None`` where either failed)."""
    if len(rules) != len(segments):
        raise ValueError(f"rules and segments disagree: {len(rules)} vs {len(segments)}")
    rows, first = [], {}
    for rule, k, correct in zip(rules, occurrences(rules), segments):
        ttc = trials_to_criterion(correct, window=window, criterion=criterion)
        if k == 1:
            first[rule] = ttc
        base = first.get(rule)
        rows.append({"rule": rule, "occurrence": k, "ttc": ttc,
                     "reacquisition": None if ttc is None else ttc - window,
                     "savings": None if ttc is None or base is None else base / ttc})
    return rows


def split(values: Sequence, lengths: Sequence[int]) -> list[list]:
    """Cut a concatenated per-trial list into consecutive segments of ``lengths``."""
    out, start = [], 0
    for n in lengths:
        out.append(list(values[start:start + n]))
        start += n
    if start != len(values):
        raise ValueError(f"lengths add up to {start}, values hold {len(values)}")
    return out


def contexts_held(contexts: Sequence[float]) -> int:
    """Distinct contexts in a trace of acetylcholine's context (``ACh/context``)."""
    return len({int(round(float(c))) for c in contexts if math.isfinite(float(c))})


def entropy_around_changes(entropy: Sequence[float], dwells: Sequence[int], *, bin_size: int,
                           before: int = 2, after: int = 6) -> np.ndarray:
    """``[changes, before + after]`` bins of ``H(A|cue)``: the last ``before`` bins of each rule
    and the first ``after`` of the next (NaN where a rule has fewer); ``entropy`` holds
    ``dwell // bin_size`` full bins per rule, concatenated (:class:`~.entropy.ActionEntropy`)."""
    bins = split(list(entropy), [d // bin_size for d in dwells])
    rows = []
    for prev, new in zip(bins, bins[1:]):
        left = [math.nan] * max(before - len(prev), 0) + prev[-before:] if before else []
        right = (new[:after] + [math.nan] * max(after - len(new), 0))
        rows.append(left + right)
    return np.array(rows, dtype=float).reshape(len(rows), before + after)


class RuleSavings(TrialsToCriterion):
    """Re-acquisition and savings per rule occurrence, and the contexts the agent holds.

    Emitted after each training experience (x = training iteration):

    * ``Reacquisition/train_phase/train_stream/ExpNNN``: ``TTC - W`` (NaN if failed);
    * ``Savings/train_phase/train_stream/ExpNNN``: ``TTC_1 / TTC_k`` of the experience's rule
      (from its second occurrence on);
    * ``ContextsHeld/train_phase/train_stream``: distinct contexts of the strategy's
      acetylcholine (when a modulator plugin has one).

    :param rules: the rule of each experience (the stream's, e.g. ``scenario.rules``).
    """

    def __init__(self, *, rules: Sequence[str], window: int = 20, criterion: float = 0.85):
        super().__init__(window=window, criterion=criterion)
        self.rules = list(rules)
        self.contexts: set[int] = set()

    def __str__(self) -> str:
        return "Reacquisition"

    def reset(self) -> None:
        super().reset()
        self.contexts = set()

    def after_training_iteration(self, strategy: Any) -> None:
        super().after_training_iteration(strategy)
        for plugin in getattr(strategy, "plugins", []):
            ach = getattr(plugin, "modulators", {})
            ach = ach["acetylcholine"] if "acetylcholine" in ach else None
            if ach is not None:
                self.contexts.add(int(ach.context))

    def table(self) -> list[dict[str, Any]]:
        """:func:`occurrence_table` of the experiences trained so far."""
        rules = [self.rules[h["experience"]] for h in self.history]
        return occurrence_table(rules, [h["correct"] for h in self.history],
                                window=self.window, criterion=self.criterion)

    def _package(self, strategy: Any, record: dict[str, Any]) -> list[MetricValue]:
        x_plot = strategy.clock.train_iterations
        row = self.table()[-1]
        exp = record["experience"]
        values = [MetricValue(self, train_metric_name(self, strategy, experience_id=exp),
                              math.nan if row["reacquisition"] is None
                              else float(row["reacquisition"]), x_plot)]
        if row["occurrence"] > 1:
            values.append(MetricValue(
                self, train_metric_name("Savings", strategy, experience_id=exp),
                math.nan if row["savings"] is None else float(row["savings"]), x_plot))
        if self.contexts:
            values.append(MetricValue(self, train_metric_name("ContextsHeld", strategy),
                                      float(len(self.contexts)), x_plot))
        return values

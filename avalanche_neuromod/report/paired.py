"""Paired comparisons over seeds: our best preset against the strongest baseline of a benchmark.

A claim "A beats B" on a leaderboard is a claim about the difference of two strategies run on the
same seeds (same class orders, permutations, initial weights), so it is tested on the per-seed
differences ``d_s = acc_A(s) - acc_B(s)`` over the seeds both finished: their mean and the
half-width of its Student-t 95% confidence interval (:func:`~.stats.mean_ci`, ``df = n - 1``).
B is the *strongest* baseline of the benchmark, not the weakest: the highest mean final accuracy
among the strategies without a neuromodulator (Avalanche's baselines, with the labels trick or a
memory when the suite has them, and our reward-driven learners without modulators such as
``none`` and ``a2c``). Upper references that are no continual learner (:data:`UPPER_BOUNDS`:
joint training, cumulative retraining) and oracles (a preset whose name says ``oracle``: given
the task label at test time) on streams that give the others no task label are left out of both
sides; where the stream gives every strategy its task label (task-IL, cued Go/No-Go), the oracle
is a baseline like any other.
"""

from __future__ import annotations

import numpy as np

from .stats import mean_ci

UPPER_BOUNDS = ("JointTraining", "Cumulative")  # Avalanche classes that see all past data

PAIRED_NOTE = ("Paired comparison, per benchmark: our best preset (highest mean final accuracy "
               "among presets with a neuromodulator) against the strongest baseline (highest "
               "mean among strategies without one: Avalanche's baselines, with labels trick or "
               "memory where the suite has them, `none`, `a2c`, and XdG given the task label "
               "where the stream gives it to all; joint training, cumulative retraining and "
               "oracles without task labels left out), over the seeds both finished: the per-seed "
               "differences (ours − baseline) and their mean ± 95% CI (Student t, n − 1 "
               "degrees of freedom). *higher* / *lower*: the interval excludes 0; *not "
               "resolved*: it contains 0.")


def gives_task_labels(benchmark_args: dict | None) -> bool:
    """Whether a stream gives every strategy the task label at test time (task-IL SplitMNIST,
    cued Go/No-Go)."""
    args = benchmark_args or {}
    return bool(args.get("return_task_id") or args.get("cued"))


def role(preset: dict | None, benchmark_args: dict | None = None) -> str:
    """``ours`` (a preset with a neuromodulator), ``baseline``, or ``reference`` (an upper
    bound, or an oracle on a stream that gives no task labels: compared with nothing). An
    oracle given the task label (``xdg-oracle``) is a baseline where every strategy has it."""
    preset = preset or {}
    baseline = preset.get("baseline") or {}
    if baseline.get("class") in UPPER_BOUNDS:
        return "reference"
    if "oracle" in str(preset.get("name", "")).lower():
        return "baseline" if gives_task_labels(benchmark_args) else "reference"
    return "ours" if preset.get("modulators") else "baseline"


def _by_seed(row: dict) -> dict[int, float]:
    return {r["seed"]: float(r["final_accuracy"]) for r in row["runs"]
            if r.get("final_accuracy") is not None and r.get("status") != "diverged"}


def _best(rows: list[dict], which: str) -> dict | None:
    """The row of ``which`` role with the highest mean final accuracy (rows are ranked)."""
    for row in rows:
        mean = row["final_accuracy"][0]
        config = row["runs"][0].get("config") or {}
        if role(config.get("preset"), config.get("benchmark_args")) == which and \
                mean is not None and np.isfinite(mean):
            return row
    return None


def pair(ours: dict[int, float], base: dict[int, float]) -> dict:
    """Per-seed differences ``ours - base`` over the seeds both have, their mean ± 95% CI and
    the verdict (``higher``, ``lower``: the interval excludes 0; ``not resolved``)."""
    seeds = sorted(set(ours) & set(base))
    diffs = [ours[s] - base[s] for s in seeds]
    mean, half = mean_ci(diffs)
    if len(diffs) < 2 or not np.isfinite(half):
        verdict = "one seed: no interval" if diffs else "no common seed"
    elif mean - half > 0:
        verdict = "higher"
    elif mean + half < 0:
        verdict = "lower"
    else:
        verdict = "not resolved"
    return {"seeds": seeds, "differences": diffs, "mean": mean, "half": half,
            "verdict": verdict,
            "ours_mean": float(np.mean([ours[s] for s in seeds])) if seeds else float("nan"),
            "baseline_mean": float(np.mean([base[s] for s in seeds])) if seeds else float("nan")}


COMPARABLE = ("benchmark_name", "benchmark_args", "budget", "learning")  # what must be equal


def pair_runs(ours: list[dict], base: list[dict]) -> dict:
    """:func:`pair` of two strategies' records, from one results file or two: their cells must
    run the same stream under the same budget (:data:`COMPARABLE` of their configs equal;
    ``ValueError`` naming the field otherwise), so that seed ``s`` is the same stream for both."""
    for key in COMPARABLE:
        values = {repr((r.get("config") or {}).get(key)) for r in [*ours, *base]}
        if len(values) > 1:
            raise ValueError(f"config.{key}: the cells compared differ ({sorted(values)[:2]})")
    return pair(_by_seed({"runs": ours}), _by_seed({"runs": base}))


def paired_comparison(rows: list[dict]) -> dict | None:
    """Our best row against the strongest baseline row of one benchmark (``rows`` as
    :func:`~.leaderboard.summarize_leaderboard` ranks them); ``None`` without both."""
    ours, base = _best(rows, "ours"), _best(rows, "baseline")
    if ours is None or base is None:
        return None
    return {"ours": ours["strategy"], "baseline": base["strategy"],
            **pair(_by_seed(ours), _by_seed(base))}


def paired_lines(rows: list[dict]) -> list[str]:
    """The markdown table of :func:`paired_comparison` (no lines when it is ``None``)."""
    pair = paired_comparison(rows)
    if pair is None:
        return []
    half = "" if not np.isfinite(pair["half"]) else f" ± {pair['half']:.3f}"
    mean = "n/a" if not np.isfinite(pair["mean"]) else f"{pair['mean']:+.3f}{half}"
    diffs = ", ".join(f"{d:+.3f}" for d in pair["differences"])
    return ["| ours | strongest baseline | seeds | ours | baseline | ours − baseline per seed | "
            "mean ± 95% CI | ours is |",
            "|---|---|---|---:|---:|---|---|---|",
            f"| {pair['ours']} | {pair['baseline']} | {', '.join(map(str, pair['seeds']))} | "
            f"{pair['ours_mean']:.3f} | {pair['baseline_mean']:.3f} | {diffs} | {mean} | "
            f"{pair['verdict']} |"]


__all__ = ["COMPARABLE", "PAIRED_NOTE", "UPPER_BOUNDS", "gives_task_labels", "pair", "pair_runs",
           "paired_comparison", "paired_lines", "role"]

"""The serial-reversal section of the case-study report: re-acquisition per rule occurrence.

For runs of recurring-rule streams (records with ``occurrences``, written by
:class:`~avalanche_neuromod.metrics.savings.RuleSavings`): a table per setting of the median
re-acquisition (trials before the first criterion run) at the 1st, 2nd, 3rd and >= 4th
occurrence of a rule, the share of changes solved and the contexts held against the distinct
rules; a figure of re-acquisition per occurrence (median over seeds, band = the seeds' 25-75%);
and ``H(A|cue)`` around each change (mean over changes and seeds, 95% band).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.ticker import MaxNLocator

from ..metrics.savings import entropy_around_changes
from .loading import _order, _runs
from .plots import band, line_style, nan_stack, plt, save

OCCURRENCES = (1, 2, 3, 4)  # the last column pools the 4th occurrence and later ones


def _median(values: list[float | None]) -> float:
    vals = [math.inf if v is None else float(v) for v in values]
    return float(np.median(vals)) if vals else math.nan


def _fmt(value: float) -> str:
    return "–" if math.isnan(value) else "fail" if math.isinf(value) else f"{value:g}"


def occurrence_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (setting, preset): medians by occurrence, solved share, contexts held."""
    rows = []
    for setting in _order(r["setting"] for r in runs):
        for preset in _order(r["preset"] for r in runs if r["setting"] == setting):
            sel = [r for r in runs if r["setting"] == setting and r["preset"] == preset]
            by_k: dict[int, list] = {k: [] for k in OCCURRENCES}
            changes = []
            for r in sel:
                for i, row in enumerate(r["occurrences"]):
                    by_k[min(row["occurrence"], OCCURRENCES[-1])].append(row["reacquisition"])
                    if i:
                        changes.append(row["reacquisition"])
            held = [(r.get("contexts_held"), len(set(r["rules"]))) for r in sel]
            ok = [h is not None and h <= n + 1 for h, n in held if h is not None]
            rows.append({
                "setting": setting, "preset": preset, "mode": sel[0]["mode"], "seeds": len(sel),
                **{f"k{k}": _median(by_k[k]) for k in OCCURRENCES},
                "solved": sum(v is not None for v in changes) / max(len(changes), 1),
                "contexts": (max(h for h, _ in held) if ok else None),
                "contexts_ok": all(ok) if ok else None,
                "rules": max(n for _, n in held)})
    return rows


def _finish(fig, ax, path: Path, *, xlabel: str, ylabel: str, title: str) -> Path:
    """Labels, grid and the legend outside the data (as every figure of the report), then save."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        fig.legend(frameon=False, loc="outside right upper", fontsize=8)
    return save(fig, path)


def plot_occurrences(runs: list[dict[str, Any]], setting: str, path: Path) -> Path:
    """Re-acquisition at each occurrence of a rule: median over seeds, 25-75% band."""
    fig, ax = plt.subplots(figsize=(7.6, 3.8), layout="constrained")
    presets = list(_order(r["preset"] for r in runs if r["setting"] == setting))
    for i, preset in enumerate(presets):
        per_seed = []
        for r in runs:
            if r["setting"] == setting and r["preset"] == preset:
                by_k: dict[int, list[float]] = {}
                for row in r["occurrences"]:
                    v = row["reacquisition"]
                    by_k.setdefault(row["occurrence"], []).append(np.nan if v is None else v)
                per_seed.append([np.nanmedian(by_k[k]) if by_k.get(k) else np.nan
                                 for k in range(1, max(by_k) + 1)])
        m = nan_stack(per_seed)
        x = np.arange(1, m.shape[1] + 1)
        style = line_style(i)
        with np.errstate(all="ignore"):
            ax.plot(x, np.nanmedian(m, axis=0), label=preset, **style)
            ax.fill_between(x, np.nanpercentile(m, 25, axis=0), np.nanpercentile(m, 75, axis=0),
                            color=style["color"], alpha=0.2)
    ax.set_yscale("symlog", linthresh=10)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # occurrences are counts
    return _finish(fig, ax, path, xlabel="occurrence of the rule",
                   ylabel="re-acquisition [trials]",
                   title=f"Re-acquisition per occurrence \u2014 {setting}")


def plot_entropy_changes(runs: list[dict[str, Any]], setting: str, path: Path, *, ebin: int,
                         before: int = 2, after: int = 8) -> Path:
    """H(A|cue) in bins of ``ebin`` trials around each change (mean over changes and seeds)."""
    fig, ax = plt.subplots(figsize=(7.6, 3.8), layout="constrained")
    presets = list(_order(r["preset"] for r in runs if r["setting"] == setting))
    for i, preset in enumerate(presets):
        rows = []
        for r in runs:
            if r["setting"] == setting and r["preset"] == preset and r.get("entropy"):
                dwells = r.get("dwells") or [r["trials_per_rule"]] * len(r["rules"])
                rows.extend(entropy_around_changes(r["entropy"], dwells, bin_size=ebin,
                                                   before=before, after=after).tolist())
        if rows:
            x = (np.arange(before + after) - before + 1) * ebin
            band(ax, x, nan_stack(rows), label=preset, clip=(0, 1),
                 **line_style(i, marker=False))
    ax.axvline(0, color="k", lw=0.8, ls=":")
    return _finish(fig, ax, path, xlabel="trials from the change (bin end)",
                   ylabel="H(A | cue) [bits]",
                   title=f"Action entropy around each change \u2014 {setting}")


def savings_section(results: dict, out: Path, fname, *, window: int, criterion: float,
                    ebin: int) -> tuple[list[str], list[Path]]:
    """The section's markdown lines and its figures (none without recurring-rule runs)."""
    runs = [r for r in _runs(results) if r.get("occurrences")]
    if not runs:
        return [], []
    lines = ["", "## Serial reversal: re-acquisition per occurrence", "",
             f"Re-acquisition = trials before the first run of {window} trials with >= "
             f"{criterion:g} correct (TTC - {window}); medians over every occurrence of every "
             "rule and seed (a failed one counts as infinite). `k>=4` pools the 4th occurrence "
             "and later ones. Solved = share of the changes (every rule after the first) that "
             "reached the criterion. Contexts = most contexts acetylcholine held on any seed, "
             "against the distinct rules of the stream.", "",
             "| setting | mode | preset | seeds | k=1 | k=2 | k=3 | k>=4 | solved | contexts "
             "(rules) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for row in occurrence_rows(runs):
        ctx = "–" if row["contexts"] is None else f"{row['contexts']} ({row['rules']})"
        lines.append(f"| {row['setting']} | {row['mode']} | {row['preset']} | {row['seeds']} | "
                     + " | ".join(_fmt(row[f"k{k}"]) for k in OCCURRENCES)
                     + f" | {row['solved']:.3f} | {ctx} |")
    written = []
    for setting in _order(r["setting"] for r in runs):
        name = fname("occurrences", setting)
        written.append(plot_occurrences(runs, setting, out / name))
        lines += ["", f"![Re-acquisition per occurrence \u2014 `{setting}`]({name})"]
        name = fname("entropy-changes", setting)
        written.append(plot_entropy_changes(runs, setting, out / name, ebin=ebin))
        lines += ["", f"![H(A|cue) around each change \u2014 `{setting}`]({name})"]
    return lines, written

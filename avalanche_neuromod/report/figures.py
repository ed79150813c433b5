"""The case study's figures: adaptation after each rule shift, action entropy, and forgetting
on cued streams (Mei et al. 2025, arXiv:2501.06762)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .loading import (
    Results,
    _metric,
    _n_experiences,
    _order,
    _presets,
    _select,
    _trials_per_rule,
    rule_starts,
)
from .plots import band, line_style, nan_stack, plot_curves, plt, save


def _moving_accuracy(correct: Sequence[float], window: int) -> np.ndarray:
    """Trailing moving mean of ``correct`` (partial windows at the very start of the stream)."""
    c = np.asarray(correct, dtype=float)
    cs = np.concatenate([[0.0], np.cumsum(c)])
    idx = np.arange(1, c.size + 1)
    lo = np.maximum(idx - window, 0)
    return (cs[idx] - cs[lo]) / (idx - lo)



def plot_shifts(results: Results, *, setting: str, mode: str, path: str | Path) -> Path:
    """Moving accuracy around each rule shift of the uncued runs of (setting, mode).

    One subplot per shift k; x = trials relative to the shift (from ``-window`` to
    ``trials_per_rule - 1``), y = trailing moving accuracy over ``metric.window`` trials, computed
    on the concatenated training stream and averaged over seeds; one line per preset with a
    mean ± 95% CI band. Vertical line at the shift, dashed line at the criterion.
    """
    window, criterion, _ = _metric(results)
    runs = _select(results, setting=setting, mode=mode, cued=False)
    presets = _presets(runs)
    n_shifts = max((_n_experiences(r) - 1 for r in runs), default=0)
    ncols = max(1, min(n_shifts, 4))
    nrows = max(1, math.ceil(n_shifts / ncols))
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(3.6 * ncols + 0.6, 3.0 * nrows + 0.7),
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    rules = next((r.get("rules") for r in runs if r.get("rules")), None)
    for k in range(1, n_shifts + 1):
        ax = axes[(k - 1) // ncols][(k - 1) % ncols]
        for preset in presets:
            traces = []
            x = None
            for r in runs:
                if r["preset"] != preset or _n_experiences(r) <= k:
                    continue
                tpr = _trials_per_rule(r)
                acc = _moving_accuracy(r.get("correct") or [], window)
                start = rule_starts(r)[k]
                lo, hi = max(start - window, 0), min(start + tpr, acc.size)
                seg = np.full(window + tpr, np.nan)
                seg[lo - (start - window) : hi - (start - window)] = acc[lo:hi]
                traces.append(seg)
                if x is None or x.size < seg.size:
                    x = np.arange(-window, tpr)
            if traces:
                band(ax, x, nan_stack(traces), label=preset, clip=(0, 1),
                     **line_style(presets.index(preset), marker=False))
        ax.axvline(0, color="k", lw=0.8)
        ax.axhline(criterion, color="k", lw=0.8, ls="--")
        title = f"shift {k}"
        if rules and len(rules) > k:
            title += f": {rules[k - 1]} \u2192 {rules[k]}"
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("trials since shift")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    for i in range(n_shifts, nrows * ncols):
        ax = axes[i // ncols][i % ncols]
        if n_shifts == 0 and i == 0:
            ax.text(0.5, 0.5, "no shifts", ha="center", va="center", transform=ax.transAxes)
        else:
            ax.set_visible(False)
    for row in axes:
        row[0].set_ylabel(f"accuracy (moving, {window} trials)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside upper right", ncol=len(labels), frameon=False)
    fig.suptitle(
        f"Adaptation after rule shifts \u2014 {setting}, {mode} (uncued)",
        x=0.02,
        ha="left",
        fontsize=11,
    )
    return save(fig, path)


def plot_entropy(results: Results, *, setting: str, mode: str, path: str | Path) -> Path:
    """Action entropy H(A|cue) (bits) over training trials of the uncued runs of (setting, mode).

    x = bin index * ``metric.entropy_bin``; mean ± 95% CI band over seeds per preset; dotted
    vertical lines at the shifts (multiples of ``trials_per_rule``).
    """
    _, _, ebin = _metric(results)
    runs = _select(results, setting=setting, mode=mode, cued=False)
    presets = _presets(runs)
    fig, ax = plt.subplots(figsize=(8.8, 3.6), layout="constrained")
    for preset in presets:
        ent = [r.get("entropy") or [] for r in runs if r["preset"] == preset]
        m = nan_stack(ent)
        if m.size:
            x = np.arange(m.shape[1]) * ebin
            band(ax, x, m, label=preset, clip=(0, 1),
                 **line_style(presets.index(preset), marker=False))
    if runs:
        for start in rule_starts(runs[0])[1:]:  # the first seed's shifts when dwells vary
            ax.axvline(start, color="k", lw=0.8, ls=":")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("training trial")
    ax.set_ylabel("H(A | cue) [bits]")
    ax.set_title(
        f"Action entropy \u2014 {setting}, {mode} (uncued; dotted = rule shift)", fontsize=11
    )
    ax.grid(alpha=0.3)
    if presets:
        fig.legend(frameon=False, loc="outside right upper", fontsize=8)
    return save(fig, path)


def plot_forgetting(results: Results, *, mode: str, path: str | Path) -> Path:
    """Accuracy on rules learnt so far, forgetting of the learnt ones and how many were learnt,
    after each trained experience of the cued runs of ``mode`` (:func:`.plots.plot_curves`).

    One line per preset (per setting and preset when several settings have cued runs); x = the
    experience just trained, from 0 as in the accuracy matrix; a rule counts as learnt once its
    test accuracy reached ``metric.criterion``, and forgetting averages over learnt rules only.
    """
    _, criterion, _ = _metric(results)
    runs = _select(results, mode=mode, cued=True)
    settings = list(_order(r["setting"] for r in runs))
    curves: dict[str, list] = {}
    for setting in settings:
        for preset in _presets(runs):
            label = preset if len(settings) == 1 else f"{setting} / {preset}"
            matrices = [r.get("accuracy_matrix") or [] for r in runs
                        if r["setting"] == setting and r["preset"] == preset]
            if any(matrices):
                curves[label] = matrices
    return plot_curves(curves, path, learnt=criterion, unit="rules",
                       title=f"Forgetting on cued streams \u2014 {mode}")

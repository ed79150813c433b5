"""What every figure of the reports shares: line styles, saving, bands over seeds, and the curves
and heat map of an accuracy matrix.

An accuracy matrix ``A`` has one row per trained experience and one column per evaluated one:
``A[i][j]`` is the test accuracy on experience ``j`` after training experience ``i`` (both
counted from 0, as Avalanche counts them). Its curves, after each trained experience ``i``:
the mean accuracy on the experiences seen so far (``j <= i``), and the forgetting of the
earlier experiences that were *learnt* (:func:`forgetting_curves`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from .stats import column_mean_ci  # noqa: E402

LEARNT = 0.85  # an experience counts as learnt once its test accuracy reached this
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf"]  # matplotlib's tab10
LINESTYLES = ["-", "--", ":", "-."]
MARKERS = ["o", "s", "^", "D", "v", "P", "X"]
PNG_META = {"Software": None}  # figures do not carry the matplotlib version string


def line_style(k: int, *, marker: bool = True) -> dict[str, Any]:
    """The style of the ``k``-th line of a figure: colour, line style and marker all cycle, with
    periods 10, 4 and 7, so no two of the first 20 lines share both colour and line style (and
    none of the first 140 shares all three)."""
    style: dict[str, Any] = {"color": COLORS[k % len(COLORS)],
                             "ls": LINESTYLES[k % len(LINESTYLES)]}
    if marker:
        style.update(marker=MARKERS[k % len(MARKERS)], ms=4)
    return style


def nan_stack(rows: Sequence[Sequence[float]]) -> np.ndarray:
    """Rows of unequal length (``None`` = missing) as one float array padded with NaN."""
    width = max((len(r) for r in rows), default=0)
    m = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):
        m[i, : len(r)] = [np.nan if v is None else float(v) for v in r]
    return m


def save(fig: Any, path: str | Path, *, dpi: int = 110) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, metadata=PNG_META)
    plt.close(fig)
    return path


def band(ax: Any, x: np.ndarray, matrix: np.ndarray, *, label: str,
         clip: tuple[float, float] | None = None, **style: Any) -> None:
    """Mean line over seeds (rows) with a 95% t-CI band, optionally clipped to ``clip``."""
    mean, half = column_mean_ci(matrix)
    ax.plot(x, mean, label=label, lw=1.6, **style)
    ok = ~np.isnan(half)
    if ok.any():
        lo = mean - np.where(ok, half, 0)
        hi = mean + np.where(ok, half, 0)
        if clip is not None:
            lo, hi = np.clip(lo, *clip), np.clip(hi, *clip)
        ax.fill_between(x, lo, hi, where=ok, color=style.get("color"), alpha=0.2, lw=0)


def forgetting_curves(matrix: Sequence[Sequence[float]], *, learnt: float = LEARNT
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per trained experience ``i``: ``(accuracy, forgetting, learnt)``.

    ``accuracy[i]``: the mean of ``A[i][j]`` over ``j <= i``. ``forgetting[i]``: the mean, over
    the earlier experiences ``j < i`` that were learnt (best accuracy ``max_{j <= l < i}
    A[l][j] >= learnt``), of that best accuracy minus ``A[i][j]``; NaN where none was learnt
    (and for ``i = 0``), so a stream that learnt nothing has no forgetting to show rather than
    the drop from a lucky first guess. ``learnt[i]``: how many earlier experiences were learnt.
    """
    a = nan_stack(matrix)
    n = a.shape[0]
    acc, fgt, count = np.full(n, np.nan), np.full(n, np.nan), np.zeros(n)
    for i in range(n):
        seen = a[i, : i + 1]
        acc[i] = np.nanmean(seen) if np.isfinite(seen).any() else np.nan
        drops = []
        for j in range(min(i, a.shape[1])):
            column = a[j:i, j]
            if np.isfinite(column).any() and np.nanmax(column) >= learnt:
                drops.append(np.nanmax(column) - a[i, j])
        count[i] = len(drops)
        fgt[i] = np.nanmean(drops) if drops else np.nan
    return acc, fgt, count


def experience_axis(ax: Any, *, label: str = "after training experience") -> None:
    """Integer ticks at the experiences, counted from 0 as the accuracy matrix counts them."""
    ax.set_xlabel(label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)


def plot_curves(curves: dict[str, list[Sequence[Sequence[float]]]], path: str | Path, *,
                title: str = "", learnt: float = LEARNT, unit: str = "experiences") -> Path:
    """Accuracy on the experiences seen so far, forgetting of the learnt ones and how many were
    learnt, after each trained experience: one line per entry of ``curves`` (label -> the
    accuracy matrices of its seeds; mean ± 95% CI band over seeds), legend outside the data."""
    fig, (ax_a, ax_f, ax_n) = plt.subplots(1, 3, figsize=(13.5, 3.8), layout="constrained",
                                           sharex=True, gridspec_kw={"width_ratios": [3, 3, 2]})
    for k, (label, matrices) in enumerate(curves.items()):
        rows = [forgetting_curves(m, learnt=learnt) for m in matrices if m]
        if not rows:
            continue
        acc, fgt, count = (nan_stack([r[c] for r in rows]) for c in range(3))
        x = np.arange(acc.shape[1])
        style = line_style(k)
        with warnings.catch_warnings():  # a column of NaN (nothing learnt yet): no point
            warnings.simplefilter("ignore", RuntimeWarning)
            band(ax_a, x, acc, label=label, clip=(0, 1), **style)
            band(ax_f, x, fgt, label=label, **style)
            ax_n.plot(x, np.nanmean(count, axis=0), label=label, lw=1.2, **style)
    ax_a.set(title=f"accuracy on {unit} seen so far (j ≤ i)", ylim=(0, 1.02))
    ax_f.set(title=f"forgetting of learnt {unit} (j < i, acc. ≥ {learnt:g})")
    ax_f.axhline(0, color="k", lw=0.8)
    ax_n.set(title=f"earlier {unit} learnt", ylim=(0, None))
    ax_n.yaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (ax_a, ax_f, ax_n):
        experience_axis(ax)
    handles, labels = ax_a.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside right upper", frameon=False, fontsize=8,
                   ncol=1 if len(labels) <= 12 else 2)
    else:
        ax_a.text(0.5, 0.5, "no runs", ha="center", va="center", transform=ax_a.transAxes)
    if title:
        fig.suptitle(title, x=0.02, ha="left", fontsize=11)
    return save(fig, path)


def plot_heatmaps(matrices: dict[str, np.ndarray], path: str | Path, *, title: str = "") -> Path:
    """One accuracy matrix per entry (label -> matrix), experiences ticked from 0, one shared
    colour bar (accuracy, 0 to 1); values printed when a matrix has at most 10 rows."""
    n = max(len(matrices), 1)
    cols = min(4, n)
    nrows = (n + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols + 1.0, 3.0 * nrows + 0.4),
                             squeeze=False, layout="constrained")
    for ax in axes.flat[len(matrices):]:
        ax.axis("off")
    image = None
    for ax, (label, m) in zip(axes.flat, matrices.items()):
        m = np.atleast_2d(np.asarray(m, dtype=float))
        ax.set_title(label, fontsize=9)
        if not np.isfinite(m).any():  # e.g. every seed diverged
            ax.text(0.5, 0.5, "no trained run", ha="center", va="center",
                    transform=ax.transAxes)
            ax.set_axis_off()
            continue
        image = ax.imshow(m, vmin=0.0, vmax=1.0, cmap="viridis")
        ax.set_xlabel("evaluated on experience", fontsize=8)
        ax.set_ylabel("after training experience", fontsize=8)
        for axis, size in ((ax.xaxis, m.shape[1]), (ax.yaxis, m.shape[0])):
            step = max(1, int(np.ceil(size / 10)))
            axis.set_ticks(range(0, size, step))
        ax.tick_params(labelsize=7)
        if m.shape[0] <= 10:
            for (i, j), v in np.ndenumerate(m):
                if np.isfinite(v):
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6,
                            color="white" if v < 0.6 else "black")
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.8, label="accuracy")
    if title:
        fig.suptitle(title)
    return save(fig, path, dpi=100)

"""Report for the Go/No-Go set-shifting case study (Mei et al. 2025, arXiv:2501.06762).

Input is the ``results.json`` written by ``avalanche-neuromod run`` (a dict with ``command``,
``created``, ``config``, ``versions``, ``git_commit``, ``device``, ``metric`` and ``runs``; see
:func:`summarize` for the run fields used). Output is a summary table, a claim check
(``da+na`` adapts to a rule shift in at most half the trials of ``da``), figures and a
``report.md`` that regenerates byte-identically from the same results.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from .stats import column_mean_ci, mean_ci, median_with_failures, solved_share  # noqa: E402

__all__ = [
    "load_results",
    "summarize",
    "claim_check",
    "format_table",
    "markdown_table",
    "plot_shifts",
    "plot_entropy",
    "plot_forgetting",
    "write_report",
]

Results = dict[str, Any]
Row = dict[str, Any]

DEFAULT_WINDOW = 40
DEFAULT_CRITERION = 0.85
DEFAULT_ENTROPY_BIN = 20
CLAIM_RATIO = 0.5
CLAIM_SOLVED = 0.95

_PRESET_COLORS = {"none": "#7f7f7f", "da": "#1f77b4", "da+na": "#d62728"}
_EXTRA_COLORS = ["#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
_LINESTYLES = ["-", "--", ":", "-."]
# Fixed PNG metadata so figures do not carry the matplotlib version string.
_PNG_META = {"Software": None}


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def load_results(path: str | Path) -> Results:
    """Read a ``results.json`` file."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _runs(results: Results) -> list[dict[str, Any]]:
    return list(results.get("runs", []))


def _metric(results: Results) -> tuple[int, float, int]:
    m = results.get("metric") or {}
    return (
        int(m.get("window", DEFAULT_WINDOW)),
        float(m.get("criterion", DEFAULT_CRITERION)),
        int(m.get("entropy_bin", DEFAULT_ENTROPY_BIN)),
    )


def _order(values: Iterable[Any]) -> dict[Any, int]:
    """Index of first appearance of each value."""
    seen: dict[Any, int] = {}
    for v in values:
        seen.setdefault(v, len(seen))
    return seen


def _presets(runs: Sequence[dict[str, Any]]) -> list[str]:
    return list(_order(r["preset"] for r in runs))


def _preset_colors(presets: Sequence[str]) -> dict[str, str]:
    colors: dict[str, str] = {}
    extra = iter(_EXTRA_COLORS * (1 + len(presets) // len(_EXTRA_COLORS)))
    for p in presets:
        colors[p] = _PRESET_COLORS.get(p) or next(extra)
    return colors


def _float(v: Any) -> float:
    return math.nan if v is None else float(v)


def _trials_per_rule(run: dict[str, Any]) -> int:
    t = run.get("trials_per_rule")
    if t:
        return int(t)
    n_exp = max(len(run.get("trials_to_criterion") or []), 1)
    return max(len(run.get("correct") or []) // n_exp, 1)


def _n_experiences(run: dict[str, Any]) -> int:
    ttc = run.get("trials_to_criterion")
    if ttc:
        return len(ttc)
    if run.get("rules"):
        return len(run["rules"])
    return len(run.get("correct") or []) // _trials_per_rule(run)


def _select(
    results: Results, *, setting: str | None = None, mode: str | None = None, cued: bool
) -> list[dict[str, Any]]:
    return [
        r
        for r in _runs(results)
        if bool(r.get("cued", False)) == cued
        and (setting is None or r["setting"] == setting)
        and (mode is None or r["mode"] == mode)
    ]


def _safe(name: str) -> str:
    """Filesystem-safe fragment of a file name."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", str(name).replace("+", "-")).strip("-.")
    return s or "x"


# --------------------------------------------------------------------------------------------
# summary and claim
# --------------------------------------------------------------------------------------------


def summarize(results: Results) -> list[Row]:
    """One row per (setting, mode, cued, preset), in order of first appearance (uncued first).

    Every row has ``setting``, ``mode``, ``cued``, ``preset``, ``n_seeds`` (distinct seeds) and
    ``final_accuracy_mean`` / ``final_accuracy_ci`` (mean and 95% t-CI half-width over seeds).

    Uncued rows (adaptation) also have:

    - ``median_trials_to_criterion``: median over all shifts of all seeds pooled (the first
      experience, initial learning, is excluded; a failed shift counts as +inf);
    - ``median_trials_per_shift``: list, one median per shift index (shift k = experience k);
    - ``shifts_solved``: share of (seed, shift) pairs that reached criterion;
    - ``median_initial_trials``: median trials to criterion on the first experience.

    Cued rows (forgetting) also have ``forgetting_mean`` / ``forgetting_ci`` and
    ``stream_accuracy_mean`` / ``stream_accuracy_ci``. Keys that do not apply are ``None``.
    """
    runs = _runs(results)
    s_ord = _order(r["setting"] for r in runs)
    m_ord = _order(r["mode"] for r in runs)
    p_ord = _order(r["preset"] for r in runs)
    groups: dict[tuple[str, str, bool, str], list[dict[str, Any]]] = {}
    for r in runs:
        key = (r["setting"], r["mode"], bool(r.get("cued", False)), r["preset"])
        groups.setdefault(key, []).append(r)
    keys = sorted(groups, key=lambda k: (s_ord[k[0]], m_ord[k[1]], k[2], p_ord[k[3]]))

    rows: list[Row] = []
    for key in keys:
        setting, mode, cued, preset = key
        grp = groups[key]
        fa_mean, fa_ci = mean_ci(_float(r.get("final_accuracy")) for r in grp)
        row: Row = {
            "setting": setting,
            "mode": mode,
            "cued": cued,
            "preset": preset,
            "n_seeds": len({r.get("seed") for r in grp}),
            "median_trials_to_criterion": None,
            "median_trials_per_shift": None,
            "shifts_solved": None,
            "median_initial_trials": None,
            "final_accuracy_mean": fa_mean,
            "final_accuracy_ci": fa_ci,
            "forgetting_mean": None,
            "forgetting_ci": None,
            "stream_accuracy_mean": None,
            "stream_accuracy_ci": None,
        }
        if not cued:
            ttcs = [list(r.get("trials_to_criterion") or []) for r in grp]
            pooled = [v for t in ttcs for v in t[1:]]
            n_shifts = max((len(t) - 1 for t in ttcs), default=0)
            row["median_trials_to_criterion"] = median_with_failures(pooled)
            row["median_trials_per_shift"] = [
                median_with_failures([t[k] for t in ttcs if len(t) > k])
                for k in range(1, n_shifts + 1)
            ]
            row["shifts_solved"] = solved_share(pooled)
            row["median_initial_trials"] = median_with_failures([t[0] for t in ttcs if t])
        else:
            fg = mean_ci(_float(r.get("forgetting")) for r in grp)
            sa = mean_ci(_float(r.get("stream_accuracy")) for r in grp)
            row["forgetting_mean"], row["forgetting_ci"] = fg
            row["stream_accuracy_mean"], row["stream_accuracy_ci"] = sa
        rows.append(row)
    return rows


def _ratio(treated: float, base: float) -> float:
    """``treated / base`` for medians that may be +inf (failures) or NaN (no data)."""
    if math.isnan(treated) or math.isnan(base):
        return math.nan
    if math.isinf(base):
        return math.nan if math.isinf(treated) else 0.0
    if math.isinf(treated):
        return math.inf
    if base == 0:
        return 1.0 if treated == 0 else math.inf
    return treated / base


def claim_check(summary: Sequence[Row], *, base: str = "da", treated: str = "da+na") -> list[Row]:
    """Check, per (setting, mode) of the uncued rows, that ``treated`` adapts twice as fast.

    Each returned dict has ``setting``, ``mode``, ``base``, ``treated``, ``base_median``,
    ``treated_median`` (pooled median trials to criterion after a shift), ``ratio``
    (treated / base, inf-aware: a failed base with a finite treated gives 0, both failed gives
    NaN), ``treated_shifts_solved``, ``base_shifts_solved`` and ``holds``
    (``ratio <= 0.5`` and ``treated_shifts_solved >= 0.95``). (setting, mode) pairs lacking
    either preset are skipped.
    """
    uncued = [r for r in summary if not r["cued"]]
    pairs = list(_order((r["setting"], r["mode"]) for r in uncued))
    out: list[Row] = []
    for setting, mode in pairs:
        by_preset = {r["preset"]: r for r in uncued if (r["setting"], r["mode"]) == (setting, mode)}
        if base not in by_preset or treated not in by_preset:
            continue
        b, t = by_preset[base], by_preset[treated]
        bm = _float(b["median_trials_to_criterion"])
        tm = _float(t["median_trials_to_criterion"])
        ratio = _ratio(tm, bm)
        solved = _float(t["shifts_solved"])
        holds = (not math.isnan(ratio)) and ratio <= CLAIM_RATIO and solved >= CLAIM_SOLVED
        out.append(
            {
                "setting": setting,
                "mode": mode,
                "base": base,
                "treated": treated,
                "base_median": bm,
                "treated_median": tm,
                "ratio": ratio,
                "base_shifts_solved": _float(b["shifts_solved"]),
                "treated_shifts_solved": solved,
                "holds": bool(holds),
            }
        )
    return out


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------


def _fmt_trials(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if math.isinf(v):
        return "fail"
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


def _fmt_mean_ci(mean: Any, half: Any, *, pm: str) -> str:
    if mean is None or math.isnan(mean):
        return "-"
    if half is None or math.isnan(half):
        return f"{mean:.3f}"
    return f"{mean:.3f} {pm} {half:.3f}"


def _fmt_share(v: Any) -> str:
    if v is None or math.isnan(v):
        return "-"
    return f"{100 * v:.0f}%"


_UNCUED_HEAD = [
    "setting", "mode", "preset", "seeds", "median trials/shift", "per shift", "shifts solved",
    "initial", "final acc",
]  # fmt: skip
_CUED_HEAD = ["setting", "mode", "preset", "seeds", "forgetting", "stream acc", "final acc"]


def _table_cells(summary: Sequence[Row], *, pm: str) -> tuple[list[list[str]], list[list[str]]]:
    uncued, cued = [], []
    for r in summary:
        common = [str(r["setting"]), str(r["mode"]), str(r["preset"]), str(r["n_seeds"])]
        fa = _fmt_mean_ci(r["final_accuracy_mean"], r["final_accuracy_ci"], pm=pm)
        if not r["cued"]:
            per_shift = "/".join(_fmt_trials(v) for v in r["median_trials_per_shift"] or [])
            uncued.append(
                common
                + [
                    _fmt_trials(r["median_trials_to_criterion"]),
                    per_shift or "-",
                    _fmt_share(r["shifts_solved"]),
                    _fmt_trials(r["median_initial_trials"]),
                    fa,
                ]
            )
        else:
            cued.append(
                common
                + [
                    _fmt_mean_ci(r["forgetting_mean"], r["forgetting_ci"], pm=pm),
                    _fmt_mean_ci(r["stream_accuracy_mean"], r["stream_accuracy_ci"], pm=pm),
                    fa,
                ]
            )
    return uncued, cued


def _fixed_width(head: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(c) for c in col) for col in zip(head, *rows)]
    numeric_from = 3  # setting, mode, preset left-aligned; the rest right-aligned

    def line(cells: list[str]) -> str:
        parts = [
            c.ljust(w) if i < numeric_from else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), rule] + [line(r) for r in rows])


def format_table(summary: Sequence[Row]) -> str:
    """Plain-text fixed-width tables for the terminal: adaptation (uncued) then forgetting (cued).

    Medians are trials to criterion after a shift (``fail`` = a median that never reached
    criterion); means are shown as ``mean +- 95% CI half-width`` over seeds.
    """
    uncued, cued = _table_cells(summary, pm="+-")
    parts = []
    if uncued:
        parts.append("Adaptation (uncued streams)\n" + _fixed_width(_UNCUED_HEAD, uncued))
    if cued:
        parts.append("Forgetting (cued streams)\n" + _fixed_width(_CUED_HEAD, cued))
    return "\n\n".join(parts) + "\n" if parts else "(no runs)\n"


def _md(head: list[str], rows: list[list[str]]) -> str:
    def esc(c: str) -> str:
        return c.replace("|", "\\|")

    lines = ["| " + " | ".join(esc(c) for c in head) + " |"]
    lines.append("|" + "|".join(["---"] * 3 + ["---:"] * (len(head) - 3)) + "|")
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def markdown_table(summary: Sequence[Row]) -> str:
    """The same tables as :func:`format_table`, as GitHub-flavoured markdown."""
    uncued, cued = _table_cells(summary, pm="±")
    parts = []
    if uncued:
        parts.append("**Adaptation (uncued streams)**\n\n" + _md(_UNCUED_HEAD, uncued))
    if cued:
        parts.append("**Forgetting (cued streams)**\n\n" + _md(_CUED_HEAD, cued))
    return "\n\n".join(parts) + "\n" if parts else "(no runs)\n"


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------


def _moving_accuracy(correct: Sequence[float], window: int) -> np.ndarray:
    """Trailing moving mean of ``correct`` (partial windows at the very start of the stream)."""
    c = np.asarray(correct, dtype=float)
    cs = np.concatenate([[0.0], np.cumsum(c)])
    idx = np.arange(1, c.size + 1)
    lo = np.maximum(idx - window, 0)
    return (cs[idx] - cs[lo]) / (idx - lo)


def _band(
    ax: Any,
    x: np.ndarray,
    matrix: np.ndarray,
    *,
    color: str,
    label: str,
    clip: tuple[float, float] | None = None,
    **kw: Any,
) -> None:
    """Mean line over seeds (rows) with a 95% t-CI band, optionally clipped to ``clip``."""
    mean, half = column_mean_ci(matrix)
    ax.plot(x, mean, color=color, label=label, lw=1.6, **kw)
    ok = ~np.isnan(half)
    if ok.any():
        lo = mean - np.where(ok, half, 0)
        hi = mean + np.where(ok, half, 0)
        if clip is not None:
            lo, hi = np.clip(lo, *clip), np.clip(hi, *clip)
        ax.fill_between(
            x,
            lo,
            hi,
            where=ok,
            color=color,
            alpha=0.2,
            lw=0,
        )


def _nan_stack(rows: Sequence[Sequence[float]]) -> np.ndarray:
    width = max((len(r) for r in rows), default=0)
    m = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):
        m[i, : len(r)] = [_float(v) for v in r]
    return m


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata=_PNG_META)
    plt.close(fig)
    return path


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
    colors = _preset_colors(presets)
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
                start = k * tpr
                lo, hi = max(start - window, 0), min(start + tpr, acc.size)
                seg = np.full(window + tpr, np.nan)
                seg[lo - (start - window) : hi - (start - window)] = acc[lo:hi]
                traces.append(seg)
                if x is None or x.size < seg.size:
                    x = np.arange(-window, tpr)
            if traces:
                _band(ax, x, _nan_stack(traces), color=colors[preset], label=preset, clip=(0, 1))
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
    return _save(fig, path)


def plot_entropy(results: Results, *, setting: str, mode: str, path: str | Path) -> Path:
    """Action entropy H(A|cue) (bits) over training trials of the uncued runs of (setting, mode).

    x = bin index * ``metric.entropy_bin``; mean ± 95% CI band over seeds per preset; dotted
    vertical lines at the shifts (multiples of ``trials_per_rule``).
    """
    _, _, ebin = _metric(results)
    runs = _select(results, setting=setting, mode=mode, cued=False)
    presets = _presets(runs)
    colors = _preset_colors(presets)
    fig, ax = plt.subplots(figsize=(8.0, 3.6))
    for preset in presets:
        ent = [r.get("entropy") or [] for r in runs if r["preset"] == preset]
        m = _nan_stack(ent)
        if m.size:
            x = np.arange(m.shape[1]) * ebin
            _band(ax, x, m, color=colors[preset], label=preset, clip=(0, 1))
    if runs:
        tpr = _trials_per_rule(runs[0])
        n_exp = max(_n_experiences(r) for r in runs)
        for k in range(1, n_exp):
            ax.axvline(k * tpr, color="k", lw=0.8, ls=":")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("training trial")
    ax.set_ylabel("H(A | cue) [bits]")
    ax.set_title(
        f"Action entropy \u2014 {setting}, {mode} (uncued; dotted = rule shift)", fontsize=11
    )
    ax.grid(alpha=0.3)
    if presets:
        ax.legend(frameon=False, ncol=len(presets), loc="upper right")
    fig.tight_layout()
    return _save(fig, path)


def _forgetting_curves(matrix: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Per trained experience i: mean accuracy over j <= i, mean forgetting over j < i.

    Forgetting of j after i is ``max_{j <= l < i} A[l][j] - A[i][j]`` (best accuracy on j since it
    was learnt, minus now); it is NaN for i = 0.
    """
    a = _nan_stack(matrix)
    n = a.shape[0]
    acc = np.full(n, np.nan)
    fgt = np.full(n, np.nan)
    for i in range(n):
        acc[i] = np.nanmean(a[i, : i + 1]) if np.isfinite(a[i, : i + 1]).any() else np.nan
        if i:
            f = [np.nanmax(a[j:i, j]) - a[i, j] for j in range(i) if np.isfinite(a[j:i, j]).any()]
            fgt[i] = np.nanmean(f) if f else np.nan
    return acc, fgt


def plot_forgetting(results: Results, *, mode: str, path: str | Path) -> Path:
    """Accuracy on rules learnt so far and forgetting, after each trained experience (cued runs).

    Two panels, x = experiences trained (1..n); mean ± 95% CI band over seeds per preset (and per
    setting, by line style, when several settings have cued runs).
    """
    runs = _select(results, mode=mode, cued=True)
    presets = _presets(runs)
    settings = list(_order(r["setting"] for r in runs))
    colors = _preset_colors(presets)
    fig, (ax_a, ax_f) = plt.subplots(1, 2, figsize=(11.0, 3.8), sharex=True, layout="constrained")
    for s_i, setting in enumerate(settings):
        for preset in presets:
            grp = [r for r in runs if r["setting"] == setting and r["preset"] == preset]
            curves = [_forgetting_curves(r.get("accuracy_matrix") or []) for r in grp]
            if not curves:
                continue
            acc = _nan_stack([c[0] for c in curves])
            fgt = _nan_stack([c[1] for c in curves])
            if not acc.size:
                continue
            x = np.arange(1, acc.shape[1] + 1)
            label = preset if len(settings) == 1 else f"{setting} / {preset}"
            ls = _LINESTYLES[s_i % len(_LINESTYLES)]
            style = {"ls": ls, "marker": "o", "ms": 3}
            _band(ax_a, x, acc, color=colors[preset], label=label, clip=(0, 1), **style)
            _band(ax_f, x, fgt, color=colors[preset], label=label, **style)
    ax_a.set_title("accuracy on rules learnt so far", fontsize=10)
    ax_a.set_ylabel("mean accuracy (j \u2264 i)")
    ax_a.set_ylim(0, 1.02)
    ax_f.set_title("forgetting of earlier rules", fontsize=10)
    ax_f.set_ylabel("mean forgetting (j < i)")
    ax_f.axhline(0, color="k", lw=0.8)
    for ax in (ax_a, ax_f):
        ax.set_xlabel("experiences trained")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    handles, labels = ax_a.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside right upper", frameon=False, fontsize=8)
    else:
        ax_a.text(0.5, 0.5, "no cued runs", ha="center", va="center", transform=ax_a.transAxes)
    fig.suptitle(f"Forgetting on cued streams \u2014 {mode}", x=0.02, ha="left", fontsize=11)
    return _save(fig, path)


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------


def _command_str(cmd: Any) -> str:
    if cmd is None:
        return "(unknown)"
    if isinstance(cmd, list | tuple):
        return shlex.join(str(c) for c in cmd)
    return str(cmd)


def _yaml(obj: Any) -> str:
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False, allow_unicode=True)


_SETTINGS_KEYS = ("settings", "streams", "stream", "benchmark")


def _claim_sentence(c: Row) -> str:
    ratio = c["ratio"]
    ratio_s = "n/a" if math.isnan(ratio) else ("inf" if math.isinf(ratio) else f"{ratio:.2f}")
    verdict = "**holds**" if c["holds"] else "**does not hold**"

    def med(v: float) -> str:
        return "\u221e (median shift failed)" if math.isinf(v) else _fmt_trials(v)

    return (
        f"- `{c['setting']}` / `{c['mode']}`: {verdict} \u2014 median trials to criterion per "
        f"shift {med(c['treated_median'])} for `{c['treated']}` versus "
        f"{med(c['base_median'])} for `{c['base']}` (ratio {ratio_s}; needs "
        f"\u2264 {CLAIM_RATIO:g}); `{c['treated']}` solved "
        f"{_fmt_share(c['treated_shifts_solved'])} of shifts "
        f"(needs \u2265 {100 * CLAIM_SOLVED:.0f}%; `{c['base']}` solved "
        f"{_fmt_share(c['base_shifts_solved'])})."
    )


def write_report(
    results: Results | str | Path,
    out_dir: str | Path,
    *,
    results_name: str = "results.json",
    base: str = "da",
    treated: str = "da+na",
) -> list[Path]:
    """Write ``out_dir/report.md`` and its figures; return the written paths (report.md first).

    Figures: ``shifts_<setting>_<mode>.png`` and ``entropy_<setting>_<mode>.png`` per
    (setting, mode) with uncued runs (the entropy figure only when entropy was recorded), and
    ``forgetting_<mode>.png`` per mode with cued runs. ``results`` may be the dict or a path to
    ``results.json`` (``results_name`` is only used in the reproduce instructions). The output is
    a pure function of ``results``: regenerating gives a byte-identical report.md.
    """
    if not isinstance(results, dict):
        results_name = Path(results).name
        results = load_results(results)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    window, criterion, ebin = _metric(results)
    runs = _runs(results)
    summary = summarize(results)
    claims = claim_check(summary, base=base, treated=treated)

    used: set[str] = set()

    def fname(*parts: str) -> str:
        stem = "_".join(_safe(p) for p in parts)
        name, i = f"{stem}.png", 2
        while name in used:
            name, i = f"{stem}-{i}.png", i + 1
        used.add(name)
        return name

    written: list[Path] = []
    figures: list[tuple[str, str]] = []  # (caption, file name)
    uncued_pairs = list(_order((r["setting"], r["mode"]) for r in runs if not r.get("cued")))
    for setting, mode in uncued_pairs:
        name = fname("shifts", setting, mode)
        written.append(plot_shifts(results, setting=setting, mode=mode, path=out / name))
        figures.append((f"Adaptation after each shift \u2014 `{setting}`, `{mode}`", name))
        sel = _select(results, setting=setting, mode=mode, cued=False)
        if any(r.get("entropy") for r in sel):
            name = fname("entropy", setting, mode)
            written.append(plot_entropy(results, setting=setting, mode=mode, path=out / name))
            figures.append((f"Action entropy H(A|cue) \u2014 `{setting}`, `{mode}`", name))
    for mode in _order(r["mode"] for r in runs if r.get("cued")):
        name = fname("forgetting", mode)
        written.append(plot_forgetting(results, mode=mode, path=out / name))
        figures.append((f"Forgetting on cued streams \u2014 `{mode}`", name))

    cmd = _command_str(results.get("command"))
    commit = results.get("git_commit")
    config = results.get("config") or {}
    versions = results.get("versions") or {}
    lines: list[str] = []
    add = lines.append
    add("# Go/No-Go set-shifting case study")
    add("")
    add(
        "Neuromodulated continual learning on Go/No-Go set-shifting streams "
        "(Mei et al. 2025, arXiv:2501.06762): presets "
        + ", ".join(f"`{p}`" for p in _presets(runs))
        + "."
    )
    add("")
    add(f"- created: {results.get('created', '(unknown)')}")
    add(f"- git commit: {'`' + str(commit) + '`' if commit else '(unknown / not a git checkout)'}")
    add(f"- device: {results.get('device', '(unknown)')}")
    add(
        f"- runs: {len(runs)}; metric: window = {window} trials, criterion = {criterion:g}, "
        f"entropy bin = {ebin} trials"
    )
    add("")
    add("## Command and how to reproduce")
    add("")
    add("The results were produced by:")
    add("")
    add("```bash")
    add(cmd)
    add("```")
    add("")
    add(
        "To reproduce, check out the same commit"
        + (f" (`git checkout {commit}`)" if commit else "")
        + ", install the package with the versions listed below, run the command above with the "
        "configuration listed below, and regenerate this report from its output with:"
    )
    add("")
    add("```bash")
    add(
        'python -c "from avalanche_neuromod.report import write_report; '
        f"write_report('{results_name}', 'report')\""
    )
    add("```")
    add("")
    add("## Versions")
    add("")
    if versions:
        add("| package | version |")
        add("|---|---|")
        for k in sorted(versions):
            add(f"| {k} | {versions[k]} |")
    else:
        add("(not recorded)")
    add("")
    add("## Stream settings")
    add("")
    settings_cfg = next((config[k] for k in _SETTINGS_KEYS if k in config), None)
    if settings_cfg is not None:
        add("```yaml")
        add(_yaml(settings_cfg).rstrip())
        add("```")
        add("")
    add("<details><summary>Full configuration</summary>")
    add("")
    add("```yaml")
    add(_yaml(config).rstrip() if config else "{}")
    add("```")
    add("")
    add("</details>")
    add("")
    add("## Summary")
    add("")
    add(
        "Median trials to criterion after a shift are pooled over all shifts of all seeds "
        "(initial learning excluded; `fail` = the median shift never reached criterion). "
        "Means are ± 95% Student-t CI over seeds."
    )
    add("")
    add(markdown_table(summary).rstrip())
    add("")
    add("## Claim check")
    add("")
    add(
        f"Claim: `{treated}` reaches criterion after a rule shift in at most "
        f"{CLAIM_RATIO:g}\u00d7 the median trials of `{base}`, and solves \u2265 "
        f"{100 * CLAIM_SOLVED:.0f}% of shifts."
    )
    add("")
    if claims:
        lines.extend(_claim_sentence(c) for c in claims)
        n_hold = sum(c["holds"] for c in claims)
        add("")
        add(f"The claim holds in {n_hold} of {len(claims)} (setting, mode) combinations.")
    else:
        add(f"(no uncued (setting, mode) with both `{base}` and `{treated}`)")
    add("")
    add("## Figures")
    add("")
    for caption, name in figures:
        add(f"### {caption}")
        add("")
        add(f"![{caption.replace('`', '')}]({name})")
        add("")
    add("## How to read")
    add("")
    add(
        f"- **Trials to criterion**: the first training trial of an experience after which the "
        f"moving accuracy over the last {window} trials is \u2265 {criterion:g}. The first "
        "experience is initial learning; each later one follows a rule shift. A shift whose "
        "criterion is never reached within the experience is a **failure**: it counts as +\u221e "
        "in the medians and as unsolved in *shifts solved*."
    )
    add(
        f"- **Shift figures**: moving accuracy (trailing {window} trials, over the concatenated "
        "training stream) from just before to the end of each new rule; 0 = first trial of the "
        "new rule, dashed line = criterion; lines are means over seeds, bands 95% CI."
    )
    add(
        "- **Entropy**: H(A|cue) = \u2212\u03a3\u2090 P(a|cue) log\u2082 P(a|cue), the "
        f"action entropy given the cue, in bits, per bin of {ebin} trials (1 bit = choosing at "
        "random, 0 = deterministic). Dotted lines mark rule shifts; a rise after a shift shows "
        "exploration."
    )
    add(
        "- **Forgetting** (cued streams, the rule is given as a context cue): after training "
        "experience i, the mean accuracy on the rules learnt so far (j \u2264 i) and the mean "
        "drop from the best accuracy on each earlier rule j < i to its current accuracy. The "
        "table's forgetting / stream accuracy are the runner's end-of-stream values."
    )
    text = "\n".join(lines).rstrip() + "\n"
    report = out / "report.md"
    report.write_text(text, encoding="utf-8")
    return [report, *written]

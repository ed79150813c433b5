"""The case study's summary rows and its claim check (``da+na`` adapts to a rule shift in at
most half the trials of ``da``), from a ``results.json`` alone."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .loading import Results, Row, _float, _order, _runs
from .stats import mean_ci, median_with_failures, solved_share

CLAIM_RATIO = 0.5
CLAIM_SOLVED = 0.95


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

"""The case study's tables (terminal and markdown) and the definitions of their columns."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .loading import Row


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


COLUMNS = {  # every column of the case study's tables, defined once (report.md's "Columns")
    "setting": "a named stream of `config.settings` (population size, noise, shifts)",
    "mode": "`supervised` (the correct action is given) or `reward` (only a reward for the "
            "chosen action)",
    "preset": "the neuromodulation preset (`none`, `da`, `da+na`, ...)",
    "seeds": "distinct seeds the row averages over",
    "median trials/shift": "trials to criterion after a rule shift, median over every shift of "
                           "every seed (initial learning excluded); `fail` = the median shift "
                           "never reached criterion",
    "per shift": "the same median for each shift 1, 2, ... separately",
    "shifts solved": "share of (seed, shift) pairs that reached criterion",
    "initial": "trials to criterion on the first rule (initial learning), median over seeds",
    "forgetting": "Avalanche's `StreamForgetting` after the last experience: over the "
                  "experiences trained before the last one, the mean of (test accuracy just "
                  "after training on it - test accuracy at the end)",
    "stream acc": "Avalanche's `Top1_Acc_Stream` after the last experience: test accuracy over "
                  "the test trials of every rule of the stream",
    "final acc": "test accuracy on the last rule just after training on it (the last diagonal "
                 "entry of the accuracy matrix), mean ± 95% CI over seeds",
}

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


def column_definitions() -> str:
    """A markdown list defining every column of :func:`markdown_table` (:data:`COLUMNS`)."""
    return "\n".join(f"- **{name}**: {text}." for name, text in COLUMNS.items())

"""Reading a case study's ``results.json`` (written by ``avalanche-neuromod run``): its runs,
metric settings and the small lookups every table and figure of the report shares."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from itertools import accumulate
from pathlib import Path
from typing import Any

Results = dict[str, Any]
Row = dict[str, Any]

DEFAULT_WINDOW = 40
DEFAULT_CRITERION = 0.85
DEFAULT_ENTROPY_BIN = 20


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



def _float(v: Any) -> float:
    return math.nan if v is None else float(v)


def _trials_per_rule(run: dict[str, Any]) -> int:
    t = run.get("trials_per_rule")
    if t:
        return int(t)
    n_exp = max(len(run.get("trials_to_criterion") or []), 1)
    return max(len(run.get("correct") or []) // n_exp, 1)


def rule_starts(run: dict[str, Any]) -> list[int]:
    """The first trial of each rule in ``correct``: multiples of ``trials_per_rule``, or the
    cumulative ``dwells`` of a stream whose dwell varies (``dwell_jitter``)."""
    if run.get("dwells"):
        return list(accumulate([0, *run["dwells"][:-1]]))
    return [k * _trials_per_rule(run) for k in range(_n_experiences(run))]


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

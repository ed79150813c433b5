"""Which scenario a preset was selected for, and a warning when it runs on another.

A selected preset records where its parameters were chosen: ``selection.suite`` in
``strategies/<name>.yaml`` (written by ``avalanche-neuromod select --write``). Its scenario is
derived from that suite's benchmarks: SplitMNIST class-, task- or domain-incremental, PermutedMNIST,
RotatedMNIST, Go/No-Go cued or uncued, and the learning mode. The preset files carry no extra
field for it, so no cell's config (and no record's key) changes.

Running such a preset on another scenario is allowed (robustness checks do it on purpose) and
prints one warning line per preset and scenario, e.g. ``full-class`` on Go/No-Go.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable

NAMES = {"permuted_mnist": "PermutedMNIST", "rotated_mnist": "RotatedMNIST"}


def scenario(benchmark: str, args: dict | None = None, learning: str = "supervised") -> str:
    """A benchmark's scenario in words: ``SplitMNIST class-IL``, ``Go/No-Go uncued (reward)``."""
    args = args or {}
    if benchmark == "split_mnist":
        kind = "task-IL" if args.get("return_task_id") else \
            "domain-IL" if args.get("domain") else "class-IL"
        text = "SplitMNIST " + kind
    elif benchmark == "gonogo":
        text = "Go/No-Go " + ("cued" if args.get("cued") else "uncued")
    else:
        text = NAMES.get(benchmark, benchmark)
    return text if learning == "supervised" else f"{text} ({learning})"


@functools.cache
def _suite_scenarios(suite: str) -> tuple[str, ...] | None:
    from .catalog import resolve
    from .config import ConfigError, load_yaml

    try:
        data = load_yaml(resolve(suite))
    except ConfigError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        return None
    learning = data.get("learning", "supervised")
    return tuple(dict.fromkeys(scenario(b.get("name"), b.get("args"), learning)
                               for b in data["benchmarks"] if isinstance(b, dict)))


def selected_for(preset: dict) -> tuple[str, ...] | None:
    """The scenarios of the suite a preset was selected on (``None``: not selected, or the suite
    is not found)."""
    selection = preset.get("selection")
    if not isinstance(selection, dict) or not isinstance(selection.get("suite"), str):
        return None
    return _suite_scenarios(selection["suite"])


def mismatches(runs: Iterable[tuple[dict, str]]) -> list[str]:
    """One line per (selected preset, scenario it runs on but was not selected for)."""
    lines = []
    for preset, where in _unique(runs):
        chosen = selected_for(preset)
        if chosen and where not in chosen:
            lines.append(f"preset {preset.get('name')!r} was selected for "
                         f"{' and '.join(chosen)} (selection.suite: "
                         f"{preset['selection']['suite']}) and runs here on {where}")
    return lines


def _unique(runs: Iterable[tuple[dict, str]]) -> list[tuple[dict, str]]:
    seen, out = set(), []
    for preset, where in runs:
        key = (preset.get("name"), where)
        if key not in seen:
            seen.add(key)
            out.append((preset, where))
    return out


def suite_runs(suite: dict) -> list[tuple[dict, str]]:
    """(preset, scenario) of every strategy of a loaded suite (:func:`load_suite`)."""
    return [(s["preset"], scenario(b["name"], b["args"], suite["learning"]))
            for b in suite["benchmarks"] for s in b["strategies"]]


def casestudy_runs(cfg: dict) -> list[tuple[dict, str]]:
    """(preset, scenario) of every run of a validated case-study config."""
    from .strategies.presets import load_preset

    cued = [False] * len(cfg["settings"]) + ([True] if cfg["cued"] is not None else [])
    return [(load_preset(name), scenario("gonogo", {"cued": c}, learning))
            for learning in cfg["learning"] for c in dict.fromkeys(cued)
            for name in cfg["presets"]]


def warn(lines: Iterable[str]) -> None:
    for line in lines:
        print(f"avalanche-neuromod: warning: {line}", file=sys.stderr)


__all__ = ["casestudy_runs", "mismatches", "scenario", "selected_for", "suite_runs", "warn"]

"""Hyper-parameter selection on a validation stream, written into the preset it tunes.

A selection runs one suite's benchmarks with their test streams swapped for a validation split
of the training data (``validation`` in every benchmark's args: a held-out fraction of each
training experience; for Go/No-Go an independent draw), for ``trials`` candidate settings of one
preset, over the suite's seeds and under the suite's budget. The candidate with the best mean
final accuracy (averaged over seeds, then benchmarks) wins; ties go to the earlier candidate.
The test stream is never touched. Cells are ordinary leaderboard cells, appended to
``results.jsonl`` in the selection folder, so a selection resumes like a suite.

A grid is data: dotted paths into the preset, each with its candidate values::

    modulators.serotonin.strength: [0.5, 1.0, 2.0]
    modulators.acetylcholine.gate_keep: [0.1, 0.2, 0.4]

When the grid has more points than ``trials``, ``trials`` of them are drawn without replacement
(seeded), so that every strategy compared gets the same number of trials.
"""

from __future__ import annotations

import copy
import itertools
import math
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from ..catalog import resolve
from ..config import ConfigError, load_yaml
from ..outputs import check_output_dir
from ..strategies.presets import LOCAL_DIR, PresetError, build_plugins, load_preset, preset_source
from .spec import load_suite
from .store import read_records

DEFAULT_VALIDATION = 0.1
MAX_GRID_POINTS = 1_000_000


def load_grid(source: str | Path | dict) -> dict[str, list]:
    """A grid from a YAML file, a grid's name (``full``: :func:`avalanche_neuromod.catalog.resolve`)
    or a dict: ``{"a.b.c": [values...]}`` (validated)."""
    if not isinstance(source, dict):
        source = resolve(source, kind="grid")
    where = "grid" if isinstance(source, dict) else str(source)
    data = copy.deepcopy(source) if isinstance(source, dict) else load_yaml(source)
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{where}: must be a non-empty mapping of dotted preset paths to lists")
    for key, values in data.items():
        if not isinstance(key, str) or not key.startswith(("modulators.", "baseline.args.",
                                                           "learner.")):
            raise ConfigError(f"{where}.{key}: paths start with modulators.<name>., "
                              "baseline.args. or learner.")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}.{key}: must be a non-empty list of candidate values")
    points = math.prod(len(values) for values in data.values())
    if points > MAX_GRID_POINTS:  # every point is listed before trials of them are drawn
        raise ConfigError(f"{where}: {points} points, at most {MAX_GRID_POINTS}")
    return data


def _override(path: str, value: Any) -> dict:
    out: dict = {}
    node = out
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def _merge(a: dict, b: dict) -> dict:
    out = copy.deepcopy(a)
    for key, value in b.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and \
            isinstance(out.get(key), dict) else copy.deepcopy(value)
    return out


def candidates(grid: dict[str, list], *, trials: int, seed: int = 0) -> list[dict]:
    """The overrides to try: the whole grid, or ``trials`` points drawn from it (seeded)."""
    keys = sorted(grid)
    points = list(itertools.product(*(grid[k] for k in keys)))
    if len(points) > trials:
        points = random.Random(seed).sample(points, trials)
    out = []
    for point in points:
        override: dict = {}
        for key, value in zip(keys, point, strict=True):
            override = _merge(override, _override(key, value))
        out.append(override)
    return out


def _check_candidate(preset: dict, override: dict, *, field: str) -> dict:
    try:
        merged = load_preset(_merge(preset, override))
        if merged.get("baseline") is None:
            build_plugins(merged)  # unknown modulator parameters fail here, before any run
    except PresetError as err:
        raise ConfigError(f"{field}: {err}") from None
    return merged


def selection_suite(suite: dict, *, preset: str, grid: dict, trials: int,
                    validation: float = DEFAULT_VALIDATION, seed: int = 0) -> dict:
    """The suite of a selection: the suite's benchmarks on validation streams x candidates."""
    base = load_preset(preset)
    points = candidates(grid, trials=trials, seed=seed)
    strategies = []
    for i, override in enumerate(points):
        _check_candidate(base, override, field=f"grid candidate {i}")
        strategies.append({"preset": preset, "label": f"{base.get('name', preset)}#{i}",
                           "override": override})
    raw = {"name": f"{suite['name']}-select-{base.get('name', preset)}",
           "seeds": suite["seeds"], "learning": suite["learning"],
           "benchmarks": [{"name": b["name"], "label": b["label"],
                           "args": {**b["args"], "validation": validation},
                           "budget": b["budget"]} for b in suite["benchmarks"]],
           "strategies": strategies}
    out = load_suite(raw)
    out["candidates"] = points
    return out


def score_candidates(records: list[dict]) -> list[dict]:
    """Candidates ranked by mean (over benchmarks) of mean (over seeds) final accuracy; a seed
    that diverged counts as accuracy 0."""
    per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if r.get("status") == "diverged":  # a setting that cannot train scores nothing there
            per[r["strategy"]][r["benchmark"]].append(0.0)
        elif r.get("final_accuracy") is not None:
            per[r["strategy"]][r["benchmark"]].append(float(r["final_accuracy"]))
    rows = []
    for label, benches in per.items():
        means = {b: sum(v) / len(v) for b, v in sorted(benches.items())}
        rows.append({"label": label, "score": sum(means.values()) / len(means),
                     "per_benchmark": means})
    rows.sort(key=lambda r: (-r["score"], int(r["label"].rsplit("#", 1)[1])))
    return rows


def presets_folder(write: bool | str | Path) -> Path:
    """Where ``select --write [DIR]`` writes: ``DIR``, else ``./strategies`` when the current
    folder has one; never into an installed package (site-packages)."""
    if write is True or write == "":
        root = Path.cwd() / LOCAL_DIR
        if not root.is_dir():
            raise ConfigError(f"--write: no {LOCAL_DIR}/ folder in the current directory to write "
                              "the selected preset into; name one: --write DIR")
    else:
        root = Path(write)
        if root.exists() and not root.is_dir():
            raise ConfigError(f"--write: {root} is not a folder")
    package = Path(__file__).resolve().parents[1]  # avalanche_neuromod/, wherever installed
    target = root.resolve()
    if target.is_relative_to(package) or {"site-packages", "dist-packages"} & set(target.parts):
        raise ConfigError(f"--write: {root} is inside an installed package; name a folder of "
                          "your own: --write DIR")
    return root


def write_selected(preset: str, override: dict, *, provenance: dict,
                   presets_dir: str | Path | None = None) -> Path:
    """Write ``override`` into ``<presets_dir>/<preset>.yaml`` (default :func:`presets_folder`)
    with where it came from. A folder without that preset starts from the preset as it is found
    now (:func:`~avalanche_neuromod.strategies.presets.load_preset`), comments included."""
    root = presets_folder(presets_dir if presets_dir else True)
    path = root / f"{preset}.yaml"
    if path.is_file():
        text = path.read_text(encoding="utf-8")
    else:
        source = preset_source(preset)
        if source is None:
            raise ConfigError(f"--strategy: no preset file {preset!r} to write the selection "
                              "from")
        text = source.read_text(encoding="utf-8")
        root.mkdir(parents=True, exist_ok=True)
    header = [line for line in text.splitlines() if line.startswith("#")]
    data = yaml.safe_load(text) or {}
    data = _merge(data, override)
    data["selection"] = provenance
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=96)
    path.write_text("\n".join(header) + ("\n" if header else "") + body, encoding="utf-8")
    load_preset(str(path))  # what was written is a valid preset
    return path


def run_selection(suite_source, *, preset: str, grid, trials: int, out_dir=None,
                  validation: float = DEFAULT_VALIDATION, seeds=None, workers: int = 1,
                  device: str | None = None, write: bool | str | Path = False,
                  command: str | None = None, progress: bool = True, presets_dir=None) -> dict:
    """Select ``preset``'s hyper-parameters on ``suite_source``'s validation streams.

    ``write`` (``True``: ``./strategies``; or a folder) writes the winner into
    ``<folder>/<preset>.yaml`` (:func:`write_selected`); the folder is checked before any run.
    """
    from .runner import run_suite

    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ConfigError(f"--trials: must be a positive integer, got {trials!r}")
    if not 0.0 < validation < 1.0:
        raise ConfigError(f"--validation: must be a fraction in (0, 1), got {validation!r}")
    try:
        load_preset(preset)
    except PresetError as err:
        raise ConfigError(f"--strategy: {err}") from None
    if write and not presets_dir:
        presets_dir = presets_folder(write)  # a bad target fails before anything runs
    suite = load_suite(suite_source, seeds=seeds)
    grid = load_grid(grid)
    sel = selection_suite(suite, preset=preset, grid=grid, trials=trials, validation=validation)
    out = check_output_dir(out_dir or Path("reports") / "selection" / sel["name"],
                           files=("results.jsonl",))  # before anything runs
    run_suite(sel, out_dir=out, workers=workers, device=device, progress=progress,
              command=command)
    labels = {f"{load_preset(preset).get('name', preset)}#{i}" for i in
              range(len(sel["candidates"]))}
    records = [r for r in read_records(out / "results.jsonl") if r["strategy"] in labels]
    ranking = score_candidates(records)
    best = ranking[0]
    best_override = sel["candidates"][int(best["label"].rsplit("#", 1)[1])]
    result = {"suite": suite["name"], "preset": preset, "trials": len(sel["candidates"]),
              "validation": validation, "seeds": suite["seeds"], "best": best_override,
              "score": round(best["score"], 6), "ranking": ranking, "out": str(out)}
    if write:
        provenance = {"suite": suite["name"], "validation": validation,
                      "seeds": suite["seeds"], "trials": len(sel["candidates"]),
                      "grid": grid, "validation_accuracy": round(best["score"], 4),
                      "command": command, "results": str(out / "results.jsonl")}
        result["written"] = str(write_selected(preset, best_override, provenance=provenance,
                                               presets_dir=presets_dir))
    return result


__all__ = ["candidates", "load_grid", "presets_folder", "run_selection", "score_candidates",
           "selection_suite", "write_selected"]

"""Hyper-parameter selection on a validation stream, written into the preset it tunes.

A selection runs one suite's benchmarks with their test streams swapped for a validation split
of the training data (``validation`` in every benchmark's args: a held-out fraction of each
training experience; for Go/No-Go an independent draw), for ``trials`` candidate settings of one
preset, under the suite's budget, on **validation seeds disjoint from the test seeds**: by
default each test seed ``s`` of the suite becomes ``s +`` :data:`VALIDATION_SEED_OFFSET`
(seeds 0-4 are selected on 1000-1004), or ``validation_seeds`` names them. A validation cell's
seed sets everything a test cell's seed sets: other class orders, other permutations and
rotations, other Go/No-Go draws, other initial weights, other held-out samples; no validation
stream is a part of a test seed's stream. The test stream is never touched. Cells are ordinary
leaderboard cells, appended to ``results.jsonl`` in the selection folder, so a selection
resumes like a suite (only the cells of this selection, by key, are scored).

The objective (``objective``, :data:`OBJECTIVES`): ``final`` ranks by mean final accuracy
(averaged over seeds, then benchmarks); ``shifts`` is for reward-driven set-shifting streams,
where the accuracy over every rule at the end is no goal (a reversal contradicts the rule
before it): it ranks by the share of rule shifts (experiences after the first) learnt to the
case study's criterion (accuracy on the new rule's test trials >= 0.85 right after training on
it), then by the mean of those accuracies, the objective the case study's presets were judged
by on its validation seeds (reports/probes/casestudy-validation). Ties go to the earlier
candidate.

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
from ..strategies.presets import (
    DEFAULT,
    LOCAL_DIR,
    PresetError,
    build_plugins,
    load_preset,
    preset_source,
)
from .spec import SEED_LIMIT, load_suite, suite_cells
from .store import read_records

DEFAULT_VALIDATION = 0.1
MAX_GRID_POINTS = 1_000_000
VALIDATION_SEED_OFFSET = 1000  # test seed s is selected on seed s + 1000 (the case study's too)
OBJECTIVES = ("final", "shifts")


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


def validation_seeds_for(test_seeds: list[int], given: list[int] | None = None) -> list[int]:
    """The seeds to select on: ``given``, else each test seed + :data:`VALIDATION_SEED_OFFSET`;
    never one of ``test_seeds`` (``ConfigError`` naming ``--validation-seeds``)."""
    field = "--validation-seeds"
    if given is None:
        seeds = [s + VALIDATION_SEED_OFFSET for s in test_seeds]
    else:
        if not isinstance(given, list) or not given or any(
                isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in given):
            raise ConfigError(f"{field}: must be a non-empty list of integers >= 0, got "
                              f"{given!r}")
        if len(set(given)) != len(given):
            raise ConfigError(f"{field}: duplicate seeds in {given!r}")
        seeds = list(given)
    shared = sorted(set(seeds) & set(test_seeds))
    if shared:
        raise ConfigError(f"{field}: seed {shared[0]} is also a test seed of the suite; "
                          "validation seeds must be disjoint from the test seeds")
    too_big = [s for s in seeds if s >= SEED_LIMIT]
    if too_big:
        raise ConfigError(f"{field}: seed {too_big[0]} is too large (validation seeds are "
                          f"below {SEED_LIMIT})")
    return seeds


def parse_seed_list(text: str | None) -> list[int] | None:
    """``--validation-seeds 1000,1001``: a comma list of seeds (``None`` when not given)."""
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--validation-seeds: expected a comma list of seeds, got "
                          f"{text!r}") from None


def selection_suite(suite: dict, *, preset: str, grid: dict, trials: int,
                    validation: float = DEFAULT_VALIDATION, seed: int = 0,
                    validation_seeds: list[int] | None = None) -> dict:
    """The suite of a selection: the suite's benchmarks on validation streams x candidates, on
    :func:`validation_seeds_for` the suite's seeds."""
    base = load_preset(preset)
    points = candidates(grid, trials=trials, seed=seed)
    strategies = []
    for i, override in enumerate(points):
        _check_candidate(base, override, field=f"grid candidate {i}")
        strategies.append({"preset": preset, "label": f"{base.get('name', preset)}#{i}",
                           "override": override})
    raw = {"name": f"{suite['name']}-select-{base.get('name', preset)}",
           "seeds": validation_seeds_for(suite["seeds"], validation_seeds),
           "learning": suite["learning"],
           "benchmarks": [{"name": b["name"], "label": b["label"],
                           "args": {**b["args"], "validation": validation},
                           "budget": b["budget"]} for b in suite["benchmarks"]],
           "strategies": strategies}
    out = load_suite(raw)
    out["candidates"] = points
    return out


def _shifts(record: dict, criterion: float) -> tuple[float, float]:
    """(share of shifts learnt to ``criterion``, mean accuracy on them) of one cell: the
    accuracy on each experience after the first right after training on it (the diagonal of
    the accuracy matrix); the first experience when the stream has only one."""
    matrix = record.get("accuracy_matrix") or []
    diagonal = [row[k] for k, row in enumerate(matrix) if k < len(row)]
    shifts = [0.0 if v is None else float(v) for v in (diagonal[1:] or diagonal)]
    if not shifts:
        return 0.0, 0.0
    return (sum(v >= criterion for v in shifts) / len(shifts), sum(shifts) / len(shifts))


def score_candidates(records: list[dict], *, objective: str = "final") -> list[dict]:
    """Candidates ranked by mean (over benchmarks) of mean (over seeds) of the objective; a seed
    that diverged scores 0.

    ``final``: final accuracy (``score``). ``shifts``: the share of shifts learnt to the case
    study's criterion (``score``), then the mean accuracy on the new rules (``acquisition``).
    """
    if objective not in OBJECTIVES:
        raise ConfigError(f"--objective: must be one of {', '.join(OBJECTIVES)}, got "
                          f"{objective!r}")
    criterion = None
    if objective == "shifts":
        from ..metrics.thresholds import CRITERION as criterion
    per: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if r.get("status") == "diverged":  # a setting that cannot train scores nothing there
            value = (0.0, 0.0)
        elif objective == "shifts":
            value = _shifts(r, criterion)
        elif r.get("final_accuracy") is not None:
            value = (float(r["final_accuracy"]), 0.0)
        else:
            continue
        per[r["strategy"]][r["benchmark"]].append(value)
    rows = []
    for label, benches in per.items():
        means = {b: (sum(v[0] for v in vals) / len(vals), sum(v[1] for v in vals) / len(vals))
                 for b, vals in sorted(benches.items())}
        row = {"label": label, "score": sum(m[0] for m in means.values()) / len(means),
               "per_benchmark": {b: m[0] for b, m in means.items()}}
        if objective == "shifts":
            row["acquisition"] = sum(m[1] for m in means.values()) / len(means)
        rows.append(row)
    rows.sort(key=lambda r: (-round(r["score"], 12), -round(r.get("acquisition", 0.0), 12),
                             int(r["label"].rsplit("#", 1)[1])))  # equal up to rounding: tied
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
    if data.get("modulators") == DEFAULT and "modulators" in override:
        # the adaptive default spelt out, so that the selected values change it, not replace it
        from ..plugins.defaults import DEFAULT_MODULATORS

        data["modulators"] = copy.deepcopy(DEFAULT_MODULATORS)
    data = _merge(data, override)
    data["selection"] = provenance
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=96)
    path.write_text("\n".join(header) + ("\n" if header else "") + body, encoding="utf-8")
    load_preset(str(path))  # what was written is a valid preset
    return path


def run_selection(suite_source, *, preset: str, grid, trials: int, out_dir=None,
                  validation: float = DEFAULT_VALIDATION, seeds=None, workers: int = 1,
                  device: str | None = None, write: bool | str | Path = False,
                  command: str | None = None, progress: bool = True, presets_dir=None,
                  validation_seeds: list[int] | None = None, objective: str = "final") -> dict:
    """Select ``preset``'s hyper-parameters on ``suite_source``'s validation streams.

    ``seeds`` picks the suite's test seeds (as in a suite run); the selection runs on
    ``validation_seeds`` (default: each of them + :data:`VALIDATION_SEED_OFFSET`), ranked by
    ``objective`` (:func:`score_candidates`). ``write`` (``True``: ``./strategies``; or a
    folder) writes the winner into ``<folder>/<preset>.yaml`` (:func:`write_selected`); the
    folder is checked before any run.
    """
    from .runner import run_suite

    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ConfigError(f"--trials: must be a positive integer, got {trials!r}")
    if not 0.0 < validation < 1.0:
        raise ConfigError(f"--validation: must be a fraction in (0, 1), got {validation!r}")
    score_candidates([], objective=objective)  # a bad objective fails before any run
    try:
        load_preset(preset)
    except PresetError as err:
        raise ConfigError(f"--strategy: {err}") from None
    if write and not presets_dir:
        presets_dir = presets_folder(write)  # a bad target fails before anything runs
    suite = load_suite(suite_source, seeds=seeds)
    grid = load_grid(grid)
    sel = selection_suite(suite, preset=preset, grid=grid, trials=trials, validation=validation,
                          validation_seeds=validation_seeds)
    out = check_output_dir(out_dir or Path("reports") / "selection" / sel["name"],
                           files=("results.jsonl",))  # before anything runs
    run_suite(sel, out_dir=out, workers=workers, device=device, progress=progress,
              command=command)
    keys = {cell.key for cell in suite_cells(sel)}  # not records of another selection's seeds
    records = [r for r in read_records(out / "results.jsonl") if r["key"] in keys]
    ranking = score_candidates(records, objective=objective)
    best = ranking[0]
    best_override = sel["candidates"][int(best["label"].rsplit("#", 1)[1])]
    result = {"suite": suite["name"], "preset": preset, "trials": len(sel["candidates"]),
              "validation": validation, "objective": objective, "test_seeds": suite["seeds"],
              "seeds": sel["seeds"], "best": best_override, "score": round(best["score"], 6),
              "ranking": ranking, "out": str(out)}
    if write:
        provenance = {"suite": suite["name"], "validation": validation,
                      "seeds": sel["seeds"], "test_seeds": suite["seeds"],
                      "trials": len(sel["candidates"]), "grid": grid, "objective": objective,
                      "validation_score" if objective != "final" else "validation_accuracy":
                      round(best["score"], 4),
                      "command": command, "results": str(out / "results.jsonl")}
        result["written"] = str(write_selected(preset, best_override, provenance=provenance,
                                               presets_dir=presets_dir))
    return result


__all__ = ["OBJECTIVES", "VALIDATION_SEED_OFFSET", "candidates", "load_grid", "parse_seed_list",
           "presets_folder", "run_selection", "score_candidates", "selection_suite",
           "validation_seeds_for", "write_selected"]

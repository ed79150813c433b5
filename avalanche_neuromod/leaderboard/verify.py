"""``avalanche-neuromod verify``: re-run committed cells at the current code, compare bit for bit.

A committed results file is a claim that its command, run again, gives the same numbers. This
module re-runs a sample of its cells with the one cell function that wrote them (the
leaderboard's :func:`~avalanche_neuromod.leaderboard.runner.run_suite_cell` for a
``results.jsonl`` of a suite or a selection, :func:`avalanche_neuromod.casestudy.run_cell` for
the case study's ``results.json``), each rebuilt from the record's stored, resolved config, and
compares what is deterministic: the accuracy matrix, forgetting, BWT, FWT, the final and stream
accuracies, a diverged cell's status and where it stopped, and for the case study the trials to
criterion, the per-trial correct choices, the entropy bins and the modulator signals. Wall times,
versions, the commit, the command and the device are not compared.

Each cell is reported as ``identical`` or ``different`` with the first experience (row of the
accuracy matrix) at which any compared field departs, and that field. Which cells run: the
cheapest first (the record's ``wall_time``), one per strategy before a second of any strategy;
with ``seed`` a random sample drawn with that seed (run cheapest first); with ``keys`` exactly
those records. Structural problems of the file (not JSON, a record without its config, a stored
config whose hash does not match it, an unknown key) are bad input (:class:`ConfigError`).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ConfigError
from .spec import SuiteCell

SUITE_FIELDS = ("status", "fault", "accuracy_matrix", "final_accuracy", "forgetting", "bwt", "fwt")
CASE_FIELDS = ("rules", "trials_to_criterion", "accuracy_matrix", "correct", "entropy", "signals",
               "final_accuracy", "stream_accuracy", "forgetting", "bwt", "fwt")
PER_EXPERIENCE = {"accuracy_matrix", "trials_to_criterion", "rules"}  # index = experience
FINAL = {"final_accuracy", "stream_accuracy", "forgetting", "bwt", "fwt"}  # after the last one
_FAULT = re.compile(r"\(experience (\d+), iteration (\d+)\)")
ENVIRONMENT = ("torch", "avalanche-lib", "numpy", "cpu")  # what the last bits depend on
CONFIG_FIELDS = ("suite", "benchmark", "benchmark_name", "benchmark_args", "strategy", "preset",
                 "seed", "learning", "budget")


@dataclass(frozen=True)
class Check:
    """One committed cell to re-run: its key, cost, the record and the cell to run."""

    key: str
    cost: float
    strategy: str
    record: dict
    cell: Any
    fields: tuple[str, ...]


# ---------------------------------------------------------------------------------- reading

def _suite_cell(record: dict, where: str) -> SuiteCell:
    config = record.get("config")
    if not isinstance(config, dict):
        raise ConfigError(f"{where}.config: missing (a record written by the leaderboard's runner "
                          "holds its resolved config)")
    missing = [k for k in CONFIG_FIELDS if k not in config]
    if missing:
        raise ConfigError(f"{where}.config.{missing[0]}: missing")
    cell = SuiteCell(**{k: config[k] for k in CONFIG_FIELDS}, target=record.get("target"))
    if cell.config_hash != record.get("config_hash"):
        raise ConfigError(f"{where}.config_hash: {record.get('config_hash')!r} is not the hash of "
                          f"its stored config ({cell.config_hash}); the record was edited")
    if cell.key != record.get("key"):
        raise ConfigError(f"{where}.key: {record.get('key')!r} is not its config's key "
                          f"{cell.key!r}")
    return cell


def _suite_checks(path: Path) -> list[Check]:
    checks = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise ConfigError(f"{where}: not a JSON record") from None
        if not isinstance(record, dict) or not isinstance(record.get("key"), str):
            raise ConfigError(f"{where}.key: missing (not a leaderboard record)")
        cell = _suite_cell(record, where)
        checks.append(Check(key=cell.key, cost=_cost(record), strategy=cell.strategy,
                            record=record, cell=cell, fields=SUITE_FIELDS))
    return checks


def case_key(run: dict) -> str:
    """A case-study run's key: ``mode|setting|preset|seed``."""
    return f"{run.get('mode')}|{run.get('setting')}|{run.get('preset')}|{run.get('seed')}"


def _case_checks(path: Path, results: dict) -> list[Check]:
    from ..casestudy import make_cells, validate_config

    if not isinstance(results.get("config"), dict):
        raise ConfigError(f"{path}.config: missing (a results.json of `avalanche-neuromod run`)")
    runs = results.get("runs")
    if not isinstance(runs, list) or not runs:
        raise ConfigError(f"{path}.runs: missing or empty")
    cfg = validate_config(results["config"], source=f"{path}.config")
    cells = {f"{c.learning}|{c.setting}|{c.preset}|{c.seed}": c for c in make_cells(cfg)}
    checks = []
    for i, run in enumerate(runs):
        if not isinstance(run, dict):
            raise ConfigError(f"{path}.runs[{i}]: must be a mapping")
        key = case_key(run)
        if key not in cells:
            raise ConfigError(f"{path}.runs[{i}]: no cell of its config is {key!r}")
        run = {**run, "versions": results.get("versions")}  # one set for the whole file
        checks.append(Check(key=key, cost=_cost(run), strategy=f"{run['mode']}|{run['preset']}",
                            record=run, cell=cells[key], fields=CASE_FIELDS))
    return checks


def _cost(record: dict) -> float:
    wall = record.get("wall_time")
    return float(wall) if isinstance(wall, (int, float)) and not isinstance(wall, bool) \
        else float("inf")


def load_checks(path: str | Path) -> tuple[str, list[Check]]:
    """Every cell of a committed results file: ``("suite" | "casestudy", checks)``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"results: no such file {path}")
    if path.suffix == ".jsonl":
        checks = _suite_checks(path)
        kind = "suite"
    else:
        try:
            results = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ConfigError(f"results: {path} is not JSON ({err})") from None
        if not isinstance(results, dict):
            raise ConfigError(f"results: {path} is not a case-study results.json")
        checks, kind = _case_checks(path, results), "casestudy"
    if not checks:
        raise ConfigError(f"results: {path} holds no records")
    return kind, checks


def sample(checks: list[Check], *, cells: int | None = 3, seed: int | None = None,
           keys: list[str] | None = None) -> list[Check]:
    """The cells to re-run, cheapest first (see the module docstring); ``cells=None``: all."""
    if keys is not None:
        by_key = {c.key: c for c in checks}
        unknown = [k for k in keys if k not in by_key]
        if unknown:
            raise ConfigError(f"--keys: {unknown[0]!r} is not a record of this file")
        return sorted((by_key[k] for k in dict.fromkeys(keys)), key=lambda c: (c.cost, c.key))
    ordered = sorted(checks, key=lambda c: (c.cost, c.key))
    if cells is None or cells >= len(ordered):
        return ordered
    if seed is not None:
        return sorted(random.Random(seed).sample(ordered, cells), key=lambda c: (c.cost, c.key))
    picked, seen = [], set()
    for check in ordered:  # the cheapest of each strategy first, then the next cheapest
        if check.strategy not in seen and check.cost != float("inf"):  # unknown cost: last
            seen.add(check.strategy)
            picked.append(check)
    chosen = {c.key for c in picked}
    picked += [c for c in ordered if c.key not in chosen]
    return sorted(picked[:cells], key=lambda c: (c.cost, c.key))


# ------------------------------------------------------------------------------- comparing

def _same(a, b) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)  # NaN == NaN here


def _first_leaf(a, b, path: tuple) -> tuple | None:
    """The path of the first leaf where ``a`` and ``b`` differ (None when equal)."""
    if isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            if i >= len(a) or i >= len(b):
                return (*path, i)
            found = _first_leaf(a[i], b[i], (*path, i))
            if found is not None:
                return found
        return None
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return (*path, k)
            found = _first_leaf(a[k], b[k], (*path, k))
            if found is not None:
                return found
        return None
    return None if _same(a, b) else path


def _fault(record: dict):
    match = _FAULT.search(str(record.get("error") or ""))
    return [int(match[1]), int(match[2])] if match else None


def _get(record: dict, path: tuple):
    value: Any = record
    for step in path:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            return "<missing>"
    return value


def _experience(field: str, path: tuple, committed: dict, now: dict, n_exp: int) -> int:
    """The experience at which the difference at ``path`` happens."""
    if field in PER_EXPERIENCE:
        return int(path[1]) if len(path) > 1 else 0
    if field in FINAL:
        return n_exp - 1
    if field in ("status", "fault"):
        stops = [f[0] for f in (_fault(committed), _fault(now)) if f is not None]
        return min(stops) if stops else n_exp - 1
    series = _get(committed, path[:-1]) if len(path) > 1 else None
    if isinstance(series, list) and series and isinstance(path[-1], int):
        return min(path[-1] * n_exp // len(series), n_exp - 1)  # a per-trial or per-bin list
    return 0


def compare(committed: dict, now: dict, *, fields=SUITE_FIELDS) -> dict | None:
    """None when every compared field is identical, else the first divergence.

    Returns ``{"experience", "field", "path", "committed", "now", "also"}``: the earliest
    experience at which a field departs, the first such field (in ``fields`` order), the path of
    its first differing value, both values, and the other fields differing at that experience.
    """
    now = json.loads(json.dumps(now))  # the record as it would have been written
    committed, now = dict(committed), dict(now)
    for record in (committed, now):
        record["fault"] = _fault(record)
        record.setdefault("status", "finished")
    n_exp = max(len(committed.get("accuracy_matrix") or []), len(now.get("accuracy_matrix") or []),
                len(committed.get("trials_to_criterion") or []), 1)
    found = []
    for field in fields:
        path = _first_leaf(committed.get(field), now.get(field), (field,))
        if path is not None:
            found.append((_experience(field, path, committed, now, n_exp), field, path))
    if not found:
        return None
    first = min(exp for exp, _, _ in found)
    at = [(field, path) for exp, field, path in found if exp == first]
    field, path = at[0]
    return {"experience": first, "field": field, "path": list(path),
            "committed": _get(committed, path), "now": _get(now, path),
            "also": [f for f, _ in at[1:]]}


# --------------------------------------------------------------------------------- running

def _rerun(check: Check, *, kind: str, device: str) -> dict:
    """Re-run one cell with the cell function that wrote it; an error is returned, not raised."""
    try:
        if kind == "suite":
            from .runner import _run_one  # the runner's own cell function (divergence: a record)

            return {"record": _run_one(check.cell, device=device)}
        from ..casestudy import run_cell

        return {"record": run_cell(check.cell, device=device)}
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as err:  # noqa: BLE001 - reported as this cell's difference
        return {"error": f"{type(err).__name__}: {err}"}


def verify_checks(kind: str, checks: list[Check], *, device: str = "cpu", workers: int = 1,
                  on_result=None) -> list[dict]:
    """Re-run ``checks``; one result per check: ``{"key", "identical", "diff", "wall_time"}``.

    A cell that the current code cannot build or run at all is reported as different, with
    field ``run`` and the error (the record no longer reproduces)."""
    import torch

    from ..parallel import run_cells

    todo = list(checks)
    results: list[dict | None] = [None] * len(todo)

    def finished(index: int, out: dict) -> None:
        check = todo[index]
        if "error" in out:
            result = {"key": check.key, "identical": False, "wall_time": None,
                      "diff": {"experience": 0, "field": "run", "path": ["run"],
                               "committed": "a record", "now": out["error"], "also": []}}
        else:
            diff = compare(check.record, out["record"], fields=check.fields)
            result = {"key": check.key, "identical": diff is None, "diff": diff,
                      "wall_time": out["record"].get("wall_time")}
        results[index] = result
        if on_result is not None:
            on_result(result)

    run_cells(_rerun, todo, workers=workers, device=torch.device(device), desc="verify",
              kwargs=dict(kind=kind, device=str(device)), progress=False, on_result=finished)
    return [r for r in results if r is not None]


def format_result(result: dict) -> str:
    """One line: ``identical KEY`` or ``different KEY: experience E, FIELD...``."""
    if result["identical"]:
        wall = result.get("wall_time")
        return f"identical  {result['key']}" + (f"  ({wall:.1f} s)" if wall is not None else "")
    diff = result["diff"]
    where = diff["path"][0] + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]"
                                      for p in diff["path"][1:])
    also = f" (also {', '.join(diff['also'])})" if diff["also"] else ""
    return (f"different  {result['key']}: experience {diff['experience']}, {where}: committed "
            f"{_short(diff['committed'])}, now {_short(diff['now'])}{also}")


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _cells_arg(text: str) -> int | None:
    if text == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"--cells: must be an integer >= 1 or all, got {text!r}")
    return value


def verify_command(args) -> int:
    """The CLI's ``verify``: print one line per cell; 0 all identical, 1 a difference."""
    import os

    from ..runtime import resolve_device

    cells = _cells_arg(args.cells)
    if args.workers < 1:
        raise ConfigError(f"--workers: must be >= 1, got {args.workers}")
    keys = [k.strip() for k in args.keys.split(",") if k.strip()] if args.keys else None
    if args.keys is not None and not keys:
        raise ConfigError("--keys: must name at least one record key")
    device = resolve_device(args.device)
    if args.data_root is not None:
        from ..benchmarks.mnist import DATA_ENV, resolve_data_root

        os.environ[DATA_ENV] = str(resolve_data_root(args.data_root))
    kind, checks = load_checks(args.results)
    todo = sample(checks, cells=cells, seed=args.seed, keys=keys)
    if kind == "suite" and any(c.cell.benchmark_name != "gonogo" for c in todo):
        from ..benchmarks.mnist import resolve_data_root

        resolve_data_root(None)  # MNIST must be there before any cell runs
    results = verify_checks(kind, todo, device=str(device), workers=args.workers,
                            on_result=lambda r: print(format_result(r), flush=True))
    same = sum(r["identical"] for r in results)
    print(f"verify: {same} of {len(results)} cells identical ({len(checks)} in {args.results})")
    if same < len(results):
        for line in environment_notes([c.record for c in todo]):
            print(f"note: {line}")
    return 0 if same == len(results) else 1


def environment_notes(records: list[dict]) -> list[str]:
    """What differs between the environment that wrote ``records`` and this one.

    Bit for bit holds with the same library versions on the same CPU code path
    (:func:`avalanche_neuromod.determinism.cpu_kernels`); a difference found where these differ
    may be the machine's, not the code's."""
    from ..runtime import versions

    here, notes = versions(), []
    for name in ENVIRONMENT:
        seen = sorted({str((r.get("versions") or {}).get(name, "not recorded")) for r in records})
        if seen != [here.get(name)]:
            notes.append(f"{name}: the records say {', '.join(seen)}; here {here.get(name)}")
    if notes:
        notes.append("records repeat bit for bit only with the same versions on the same CPU "
                     "code path (see avalanche_neuromod.determinism.cpu_kernels)")
    return notes

"""Suite files: benchmarks x strategies x seeds under one shared budget (configs as data).

```yaml
name: ablation
seeds: 5                       # or a list
learning: supervised           # or reward (Go/No-Go only)
budget:                        # shared by every strategy of the suite
  model: {hidden: 400, layers: 2, activation: relu}
  optimizer: {name: sgd, lr: 0.01, momentum: 0.9}
  epochs: 1                    # or iterations: N: exactly N mini-batches per experience (epochs
                               # then unused; plugins.iterations)
  train_mb_size: 128
  eval_mb_size: 1024
benchmarks:
  - {name: split_mnist, label: splitmnist-class, args: {n_experiences: 5}}
  - {name: gonogo, label: gonogo-cued, args: {cued: true}, budget: {train_mb_size: 8}}
strategies: [naive, full, full-no-da]
```
A benchmark's ``budget`` overrides the suite's for that benchmark only (the same for every
strategy there). A strategy is a preset name, or a mapping that changes a preset for this suite
(deep-merged, e.g. a baseline's hyper-parameters as in a reference setting)::

    - {preset: si, label: si-l10, override: {baseline: {args: {si_lambda: 10}}}}

A benchmark may list its own ``strategies`` (then the suite-level list is optional), which is
how a fidelity suite pairs each reference setting with its strategy.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import config
from ..benchmarks import (
    BENCHMARKS,
    VALIDATION_SEED_OFFSET,
    cell_args,
    check_benchmark_args,
    stream_size,
)
from ..catalog import resolve as resolve_suite
from ..config import (
    ConfigError,
    check_keys,
    check_memory,
    deep_merge,
    load_yaml,
    number,
    positive_int,
    run_memory,
    safe_name,
    seed_values,
)
from ..registry import check_model, merge_model
from ..strategies.presets import PresetError, load_preset
from ..strategies.registry import build_strategy as _build_strategy  # bound here: spies skip it

SUITE_KEYS = {"name", "description", "seeds", "learning", "budget", "benchmarks", "strategies"}
BUDGET_DEFAULT: dict[str, Any] = {
    "model": {"hidden": 400, "layers": 2, "activation": "relu"},
    "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.0},
    "epochs": 1,
    "train_mb_size": 128,
    "eval_mb_size": 1024,
}
BUDGET_KEYS = {*BUDGET_DEFAULT, "iterations"}  # iterations: in a budget only where it is set,
# so that the config (and key) of every cell without it stays what it was
OPTIMIZERS = ("sgd", "adam")
SEED_LIMIT = config.SEED_LIMIT - VALIDATION_SEED_OFFSET  # Go/No-Go validation streams add it


@dataclass(frozen=True)
class SuiteCell:
    """One run of a suite: a benchmark, a strategy and a seed, with its resolved config."""

    suite: str
    benchmark: str  # label
    benchmark_name: str
    benchmark_args: dict
    strategy: str  # label
    seed: int
    learning: str
    budget: dict
    preset: dict  # resolved preset (overrides applied)
    target: float | None = None  # a reference result to reproduce (not part of the config)

    @property
    def config(self) -> dict:
        return {"suite": self.suite, "benchmark": self.benchmark,
                "benchmark_name": self.benchmark_name, "benchmark_args": self.benchmark_args,
                "strategy": self.strategy, "preset": self.preset,
                "seed": self.seed, "learning": self.learning, "budget": self.budget}

    @property
    def config_hash(self) -> str:
        text = json.dumps(self.config, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def key(self) -> str:
        return f"{self.benchmark}|{self.strategy}|{self.seed}|{self.config_hash}"


def _merge_budget(base: dict, update, *, field: str) -> dict:
    if update is None:
        return copy.deepcopy(base)
    check_keys(update, BUDGET_KEYS, field=field)
    for key in ("model", "optimizer"):
        if key in update and not isinstance(update[key], dict):
            raise ConfigError(f"{field}.{key}: must be a mapping, got "
                              f"{type(update[key]).__name__}")
    merged = deep_merge(base, update)
    if "model" in update:  # another (registered) model replaces the MLP's arguments
        merged["model"] = merge_model(base["model"], update["model"])
    return merged


def _check_budget(budget: dict, *, field: str) -> dict:
    check_keys(budget, BUDGET_KEYS, field=field)
    check_model(budget["model"], field=f"{field}.model")  # the MLP's, or a registered model's
    opt = check_keys(budget["optimizer"], {"name", "lr", "momentum"}, field=f"{field}.optimizer")
    if opt["name"] not in OPTIMIZERS:
        raise ConfigError(f"{field}.optimizer.name: unknown optimizer {opt['name']!r}; choose "
                          f"from {', '.join(OPTIMIZERS)}")
    number(opt["lr"], field=f"{field}.optimizer.lr", low=0.0, low_open=True)
    number(opt.get("momentum", 0.0), field=f"{field}.optimizer.momentum", low=0.0, high=1.0)
    if opt["name"] != "sgd" and opt.get("momentum"):  # an option it would silently ignore
        raise ConfigError(f"{field}.optimizer.momentum: does not apply to {opt['name']} (got "
                          f"{opt['momentum']}); remove it")
    for key in ("epochs", "train_mb_size", "eval_mb_size"):
        positive_int(budget[key], field=f"{field}.{key}")
    if "iterations" in budget:  # replaces epochs (plugins.iterations)
        positive_int(budget["iterations"], field=f"{field}.iterations")
    return budget


def load_suite(source: str | Path | dict, *, seeds=None, strategies=None,
               build: bool = True) -> dict:
    """Read (a YAML path, or a suite's name: :func:`avalanche_neuromod.catalog.resolve`) and
    validate a suite.

    ``seeds`` (a count or a list) replaces the file's seeds; ``strategies`` (labels) keeps only
    those strategies' cells. Neither changes a cell's key, so a suite run in parts (by seeds or by
    strategies, in several processes or sessions) fills one ``results.jsonl``.

    Every check that needs no Avalanche runs first, for the whole suite; then (``build``) each
    strategy is built once, which imports Avalanche: a caller with checks of its own (the command
    line) passes ``build=False`` first, so that their errors come before that import."""
    pending: list[tuple] = []  # (label, preset, learning, where) to build, after every check
    if isinstance(source, dict):
        data, where = copy.deepcopy(source), "suite"
    else:
        path = resolve_suite(source)  # the current folder's, else the packaged one
        data, where = load_yaml(path), str(path)
    data = check_keys(data, SUITE_KEYS, field=where)
    if seeds is not None:
        data["seeds"] = seeds
    name = data.get("name") or (Path(str(source)).stem if not isinstance(source, dict) else "")
    safe_name(name, field=f"{where}.name")  # it names the output folder
    seed_list = seed_values(data.get("seeds", 5), field=f"{where}.seeds" if seeds is None
                            else "--seeds", limit=SEED_LIMIT)
    learning = data.get("learning", "supervised")
    if learning not in ("supervised", "reward"):
        raise ConfigError(f"{where}.learning: must be supervised or reward, got {learning!r}")
    budget = _check_budget(_merge_budget(BUDGET_DEFAULT, data.get("budget"),
                                         field=f"{where}.budget"), field=f"{where}.budget")
    benchmarks = data.get("benchmarks")
    if not isinstance(benchmarks, list) or not benchmarks:
        raise ConfigError(f"{where}.benchmarks: must be a non-empty list")
    resolved, labels = [], set()
    for i, bench in enumerate(benchmarks):
        field = f"{where}.benchmarks[{i}]"
        bench = check_keys(bench, {"name", "label", "args", "budget", "strategies", "targets"},
                           field=field)
        if bench.get("name") not in BENCHMARKS:
            raise ConfigError(f"{field}.name: unknown benchmark {bench.get('name')!r}; choose "
                              f"from {', '.join(sorted(BENCHMARKS))}")
        label = safe_name(bench.get("label") or bench["name"], field=f"{field}.label")
        if label in labels:
            raise ConfigError(f"{field}.label: duplicate label {label!r}")
        labels.add(label)
        args = bench.get("args") or {}
        if not isinstance(args, dict):
            raise ConfigError(f"{field}.args: must be a mapping")
        try:
            check_benchmark_args(bench["name"], args, field=f"{field}.args")
        except ValueError as err:
            raise ConfigError(str(err)) from None
        args = cell_args(bench["name"], args)  # sample_order's default written out
        bench_budget = _check_budget(_merge_budget(budget, bench.get("budget"),
                                                   field=f"{field}.budget"),
                                     field=f"{field}.budget")
        own = bench.get("strategies")
        targets = check_keys(bench.get("targets"), set(_labels(own)) if own else
                             set(_labels(data.get("strategies"))), field=f"{field}.targets")
        for key, value in targets.items():
            number(value, field=f"{field}.targets.{key}", low=0.0, high=1.0)
        resolved.append({"name": bench["name"], "label": label, "args": args,
                         "budget": bench_budget, "targets": targets,
                         "strategies": None if own is None else
                         _strategies(own, field=f"{field}.strategies", learning=learning,
                                     pending=pending)})
    suite_strategies = data.get("strategies")
    if suite_strategies is None and all(b["strategies"] is not None for b in resolved):
        suite_strategies = []
    else:
        suite_strategies = _strategies(suite_strategies, field=f"{where}.strategies",
                                       learning=learning, pending=pending)
    for bench in resolved:
        if bench["strategies"] is None:
            bench["strategies"] = suite_strategies
    if strategies is not None:
        resolved, suite_strategies = _keep_strategies(resolved, suite_strategies, strategies,
                                                      where=where)
    _check_memory(resolved, data, where=where)
    kept = {s["label"] for b in resolved for s in b["strategies"]}
    for label, preset, how, at in pending if build else ():
        if label in kept:
            _check_buildable(preset, learning=how, where=at)
    return {"name": name, "description": data.get("description", ""), "seeds": seed_list,
            "learning": learning, "benchmarks": resolved,
            "strategies": [s["label"] for s in suite_strategies], "source": where}


def _keep_strategies(benchmarks: list[dict], suite_strategies: list[dict], keep,
                     *, where: str) -> tuple[list[dict], list[dict]]:
    """Only the cells of the strategies labelled in ``keep``; benchmarks left without any go."""
    known = {s["label"] for b in benchmarks for s in b["strategies"]}
    if not isinstance(keep, (list, tuple)) or not keep:
        raise ConfigError("--strategies: must be a non-empty list of strategy labels")
    unknown = [k for k in keep if k not in known]
    if unknown:
        raise ConfigError(f"--strategies: {unknown[0]!r} is not a strategy of {where}; choose "
                          f"from {', '.join(sorted(known))}")
    kept = []
    for bench in benchmarks:
        own = [s for s in bench["strategies"] if s["label"] in keep]
        if own:
            kept.append({**bench, "strategies": own})
    return kept, [s for s in suite_strategies if s["label"] in keep]


def _labels(entries) -> list[str]:
    if not isinstance(entries, list):
        return []
    return [e if isinstance(e, str) else (e.get("label") or e.get("preset"))
            for e in entries if isinstance(e, (str, dict))]


def _default_label(preset: str) -> str:
    """A strategy's label when it has none: the preset's name, or a preset file's stem."""
    return Path(preset).stem if preset.endswith((".yaml", ".yml")) else preset


def _strategies(entries, *, field: str, learning: str, pending: list) -> list[dict]:
    """Resolve a list of strategy entries to ``{"label", "preset"}`` (validated, unique)."""
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{field}: must be a non-empty list of preset names")
    out, labels = [], set()
    for i, entry in enumerate(entries):
        where = f"{field}[{i}]"
        if isinstance(entry, dict):
            entry = check_keys(entry, {"preset", "label", "override"}, field=where)
            base, override = entry.get("preset"), entry.get("override") or {}
            if not isinstance(base, str) or not base:
                raise ConfigError(f"{where}.preset: must be a preset name")
            if not isinstance(override, dict):
                raise ConfigError(f"{where}.override: must be a mapping")
            label = entry.get("label") or _default_label(base)
        elif isinstance(entry, str):
            base, override = entry, {}
            label = _default_label(entry)
        else:
            raise ConfigError(f"{where}: must be a preset name or a mapping with preset, label "
                              f"and override, got {type(entry).__name__}")
        safe_name(label, field=f"{where}.label")
        if label in labels:
            raise ConfigError(f"{where}: duplicate strategy {label!r}")
        labels.add(label)
        try:
            preset = load_preset(base)
            if override:
                preset = load_preset(deep_merge(preset, override))
                preset["name"] = label
        except PresetError as err:
            raise ConfigError(f"{where}: {err}") from None
        if learning == "reward" and preset.get("baseline") is not None:
            raise ConfigError(f"{where}: {label!r} is an Avalanche baseline, which learns "
                              "supervised only; the suite has learning: reward")
        pending.append((label, preset, learning, where))
        out.append({"label": label, "preset": preset})
    return out


_BUILDABLE: set[str] = set()


def _check_buildable(preset: dict, *, learning: str, where: str) -> None:
    """Build the strategy once on a 2x2 model, so that an unknown baseline class or argument, or
    a modulator parameter out of range, fails here and not after other cells have run."""
    key = json.dumps([preset, learning], sort_keys=True, default=str)
    if key in _BUILDABLE:
        return
    import warnings

    import torch
    from avalanche.training.plugins import EvaluationPlugin

    model = torch.nn.Linear(2, 2)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _build_strategy(preset, model=model, learning=learning, device="cpu",
                           optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                           evaluator=EvaluationPlugin(loggers=[]))
    except PresetError as err:
        raise ConfigError(f"{where}: preset {preset.get('name')!r}: {err}") from None
    except (TypeError, ValueError, AssertionError) as err:  # Avalanche's own argument checks
        raise ConfigError(f"{where}: preset {preset.get('name')!r}: {err}") from None
    _BUILDABLE.add(key)


def _check_memory(benchmarks: list[dict], data: dict, *, where: str) -> None:
    """A cell whose stream, model, batch or stored samples cannot fit in this machine's memory
    fails here, with the estimate, instead of a MemoryError mid-suite."""
    for i, bench in enumerate(benchmarks):
        field = f"{where}.benchmarks[{i}]"
        own = isinstance(data["benchmarks"][i], dict) and data["benchmarks"][i].get("budget")
        budget_field = f"{field}.budget" if own else f"{where}.budget"
        stream = stream_size(bench["name"], bench["args"])
        if stream is None or "name" in bench["budget"]["model"]:
            continue  # a registered benchmark or model: its size is not known here
        for strategy in bench["strategies"]:
            preset = strategy["preset"]
            args = (preset.get("baseline") or {}).get("args") or {}
            n_exp = bench["args"].get("n_experiences", 10)
            stored = sum(v for v in ((preset.get("memory") or {}).get("size"),
                                     args.get("mem_size"), args.get("patterns_per_exp", 0) * n_exp)
                         if isinstance(v, int) and not isinstance(v, bool))
            budget = bench["budget"]
            parts = run_memory(stream, hidden=budget["model"]["hidden"],
                               layers=budget["model"]["layers"],
                               train_mb_size=budget["train_mb_size"],
                               eval_mb_size=budget["eval_mb_size"], stored=stored)
            check_memory({f"{field}.args": parts["stream"],
                          f"{budget_field}.model": parts["model"],
                          f"{budget_field}.train_mb_size": parts["batch"],
                          f"strategy {strategy['label']!r} (stored samples)": parts["stored"]},
                         what=f"a cell of {bench['label']!r} with {strategy['label']!r}")


def suite_cells(suite: dict) -> list[SuiteCell]:
    """Every cell, benchmark-major, then strategy, then seed."""
    return [SuiteCell(suite=suite["name"], benchmark=b["label"], benchmark_name=b["name"],
                      benchmark_args=b["args"], strategy=s["label"], seed=seed,
                      learning=suite["learning"], budget=b["budget"], preset=s["preset"],
                      target=b.get("targets", {}).get(s["label"]))
            for b in suite["benchmarks"] for s in b["strategies"] for seed in suite["seeds"]]

"""Suite files: benchmarks x strategies x seeds under one shared budget (configs as data).

```yaml
name: ablation
seeds: 5                       # or a list
learning: supervised           # or reward (Go/No-Go only)
budget:                        # shared by every strategy of the suite
  model: {hidden: 400, layers: 2, activation: relu}
  optimizer: {name: sgd, lr: 0.01, momentum: 0.9}
  epochs: 1
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

from ..benchmarks import BENCHMARKS, check_benchmark_args
from ..config import ConfigError, check_keys, deep_merge, load_yaml, number, positive_int
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
OPTIMIZERS = ("sgd", "adam")


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
    check_keys(update, set(BUDGET_DEFAULT), field=field)
    for key in ("model", "optimizer"):
        if key in update and not isinstance(update[key], dict):
            raise ConfigError(f"{field}.{key}: must be a mapping, got "
                              f"{type(update[key]).__name__}")
    return deep_merge(base, update)


def _check_budget(budget: dict, *, field: str) -> dict:
    check_keys(budget, set(BUDGET_DEFAULT), field=field)
    model = check_keys(budget["model"], {"hidden", "layers", "activation"}, field=f"{field}.model")
    positive_int(model["hidden"], field=f"{field}.model.hidden")
    if isinstance(model["layers"], bool) or not isinstance(model["layers"], int) or \
            model["layers"] < 0:
        raise ConfigError(f"{field}.model.layers: must be an integer >= 0")
    if model["activation"] not in ("relu", "tanh", "leaky_relu"):
        raise ConfigError(f"{field}.model.activation: unknown activation "
                          f"{model['activation']!r}; choose from relu, tanh, leaky_relu")
    opt = check_keys(budget["optimizer"], {"name", "lr", "momentum"}, field=f"{field}.optimizer")
    if opt["name"] not in OPTIMIZERS:
        raise ConfigError(f"{field}.optimizer.name: unknown optimizer {opt['name']!r}; choose "
                          f"from {', '.join(OPTIMIZERS)}")
    number(opt["lr"], field=f"{field}.optimizer.lr", low=0.0, low_open=True)
    number(opt.get("momentum", 0.0), field=f"{field}.optimizer.momentum", low=0.0, high=1.0)
    for key in ("epochs", "train_mb_size", "eval_mb_size"):
        positive_int(budget[key], field=f"{field}.{key}")
    return budget


def load_suite(source: str | Path | dict, *, seeds=None, strategies=None) -> dict:
    """Read (YAML path, or a name of ``benchmarks/<name>.yaml``) and validate a suite.

    ``seeds`` (a count or a list) replaces the file's seeds; ``strategies`` (labels) keeps only
    those strategies' cells. Neither changes a cell's key, so a suite run in parts (by seeds or by
    strategies, in several processes or sessions) fills one ``results.jsonl``."""
    if isinstance(source, dict):
        data, where = copy.deepcopy(source), "suite"
    else:
        path = Path(source)
        if not path.suffix and not path.exists():
            path = Path(__file__).resolve().parents[2] / "benchmarks" / f"{source}.yaml"
        if not path.is_file():
            raise ConfigError(f"suite: no suite file {source!r} (give a path or a name in "
                              "benchmarks/)")
        data, where = load_yaml(path), str(path)
    data = check_keys(data, SUITE_KEYS, field=where)
    if seeds is not None:
        data["seeds"] = seeds
    name = data.get("name") or (Path(str(source)).stem if not isinstance(source, dict) else "")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}.name: must be a non-empty string")
    seeds_value = data.get("seeds", 5)
    if isinstance(seeds_value, list):
        if not seeds_value or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                      for s in seeds_value):
            raise ConfigError(f"{where}.seeds: must be a count or a list of integers >= 0")
        seed_list = list(seeds_value)
        if len(set(seed_list)) != len(seed_list):
            raise ConfigError(f"{where}.seeds: duplicate seed in {seed_list}")
    else:
        seed_list = list(range(positive_int(seeds_value, field=f"{where}.seeds")))
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
        label = bench.get("label") or bench["name"]
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
                         _strategies(own, field=f"{field}.strategies", learning=learning)})
    suite_strategies = data.get("strategies")
    if suite_strategies is None and all(b["strategies"] is not None for b in resolved):
        suite_strategies = []
    else:
        suite_strategies = _strategies(suite_strategies, field=f"{where}.strategies",
                                       learning=learning)
    for bench in resolved:
        if bench["strategies"] is None:
            bench["strategies"] = suite_strategies
    if strategies is not None:
        resolved, suite_strategies = _keep_strategies(resolved, suite_strategies, strategies,
                                                      where=where)
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


def _strategies(entries, *, field: str, learning: str) -> list[dict]:
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
            label = entry.get("label") or base
        elif isinstance(entry, str):
            base, override, label = entry, {}, entry
        else:
            raise ConfigError(f"{where}: must be a preset name or a mapping with preset, label "
                              f"and override, got {type(entry).__name__}")
        if not isinstance(label, str):
            raise ConfigError(f"{where}.label: must be a string")
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
        _check_buildable(preset, learning=learning, where=where)
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


def suite_cells(suite: dict) -> list[SuiteCell]:
    """Every cell, benchmark-major, then strategy, then seed."""
    return [SuiteCell(suite=suite["name"], benchmark=b["label"], benchmark_name=b["name"],
                      benchmark_args=b["args"], strategy=s["label"], seed=seed,
                      learning=suite["learning"], budget=b["budget"], preset=s["preset"],
                      target=b.get("targets", {}).get(s["label"]))
            for b in suite["benchmarks"] for s in b["strategies"] for seed in suite["seeds"]]

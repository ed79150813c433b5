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
strategy there).
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..benchmarks import BENCHMARKS
from ..config import ConfigError, check_keys, deep_merge, load_yaml, number, positive_int
from ..strategies.presets import PresetError, load_preset

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
    strategy: str
    seed: int
    learning: str
    budget: dict

    @property
    def config(self) -> dict:
        return {"suite": self.suite, "benchmark": self.benchmark,
                "benchmark_name": self.benchmark_name, "benchmark_args": self.benchmark_args,
                "strategy": self.strategy, "preset": load_preset(self.strategy),
                "seed": self.seed, "learning": self.learning, "budget": self.budget}

    @property
    def config_hash(self) -> str:
        text = json.dumps(self.config, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def key(self) -> str:
        return f"{self.benchmark}|{self.strategy}|{self.seed}|{self.config_hash}"


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


def load_suite(source: str | Path | dict, *, seeds=None) -> dict:
    """Read (YAML path, or a name of ``benchmarks/<name>.yaml``) and validate a suite."""
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
    else:
        seed_list = list(range(positive_int(seeds_value, field=f"{where}.seeds")))
    learning = data.get("learning", "supervised")
    if learning not in ("supervised", "reward"):
        raise ConfigError(f"{where}.learning: must be supervised or reward, got {learning!r}")
    budget = _check_budget(deep_merge(BUDGET_DEFAULT, data.get("budget") or {}),
                           field=f"{where}.budget")
    benchmarks = data.get("benchmarks")
    if not isinstance(benchmarks, list) or not benchmarks:
        raise ConfigError(f"{where}.benchmarks: must be a non-empty list")
    resolved, labels = [], set()
    for i, bench in enumerate(benchmarks):
        field = f"{where}.benchmarks[{i}]"
        bench = check_keys(bench, {"name", "label", "args", "budget"}, field=field)
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
        bench_budget = _check_budget(deep_merge(budget, bench.get("budget") or {}),
                                     field=f"{field}.budget")
        resolved.append({"name": bench["name"], "label": label, "args": args,
                         "budget": bench_budget})
    strategies = data.get("strategies")
    if not isinstance(strategies, list) or not strategies:
        raise ConfigError(f"{where}.strategies: must be a non-empty list of preset names")
    for i, strategy in enumerate(strategies):
        try:
            load_preset(strategy)
        except PresetError as err:
            raise ConfigError(f"{where}.strategies[{i}]: {err}") from None
    return {"name": name, "description": data.get("description", ""), "seeds": seed_list,
            "learning": learning, "benchmarks": resolved, "strategies": list(strategies),
            "source": where}


def suite_cells(suite: dict) -> list[SuiteCell]:
    """Every cell, benchmark-major, then strategy, then seed."""
    return [SuiteCell(suite=suite["name"], benchmark=b["label"], benchmark_name=b["name"],
                      benchmark_args=b["args"], strategy=s, seed=seed,
                      learning=suite["learning"], budget=b["budget"])
            for b in suite["benchmarks"] for s in suite["strategies"] for seed in suite["seeds"]]

"""The case study of Mei et al. (2025, arXiv:2501.06762), made quantitative.

Go/No-Go set-shifting streams (:mod:`avalanche_neuromod.benchmarks.gonogo`) learnt by a network with
no neuromodulation (``none``), dopamine alone (``da``) and dopamine with noradrenaline (``da+na``),
reward-driven (actor-critic) and supervised, over many seeds and several stream settings. Uncued
streams measure adaptation (trials to criterion after each shift); the cued stream measures
forgetting. Configuration is data (:data:`DEFAULT_CONFIG`, or a YAML file merged over it).
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .benchmarks.gonogo import GoNoGoConfig
from .config import (
    ConfigError,
    check_keys,
    check_memory,
    deep_merge,
    number,
    positive_int,
    run_memory,
    safe_name,
    seed_values,
    string_list,
)
from .metrics.thresholds import CRITERION, WINDOW
from .modulators.registry import names as modulator_names
from .outputs import OutputError, check_output_dir, write_or_fallback
from .registry import check_model
from .runtime import git_commit, resolve_device, versions
from .strategies.presets import PresetError, build_plugins, load_preset

DEFAULT_CONFIG: dict[str, Any] = {
    "seeds": 10,
    "presets": ["none", "da", "da+na"],
    "learning": ["reward", "supervised"],
    "stream": {"trials_per_rule": 480, "test_trials": 128},
    "settings": [
        {"name": "default",
         "stream": {"population_size": 32, "noise": 0.2,
                    "shifts": ["reversal", "extra", "reversal"]}},
        {"name": "small-noisy",
         "stream": {"population_size": 16, "noise": 0.4,
                    "shifts": ["extra", "reversal", "intra"]}},
        {"name": "large-clean",
         "stream": {"population_size": 64, "noise": 0.1, "sparsity": 0.125,
                    "shifts": ["intra", "extra", "reversal"]}},
    ],
    "cued": {"name": "cued",
             "stream": {"population_size": 32, "noise": 0.2,
                        "shifts": ["reversal", "extra", "reversal"]}},
    "model": {"hidden": 64, "activation": "tanh"},
    "optimizer": {"lr": 0.3},
    "train_mb_size": 8,
    "reward": {"hit": 1.0, "false_alarm": -1.0, "correct_rejection": 0.0, "miss": 0.0},
    "metric": {"window": WINDOW, "criterion": CRITERION, "entropy_bin": 20},
    "modulators": {},
}
TOP_KEYS = set(DEFAULT_CONFIG) | {"wandb"}
STREAM_KEYS = {"shifts", "initial_rule", "rules", "trials_per_rule", "test_trials",
               "population_size", "sparsity", "noise", "dwell_jitter"}


@dataclass(frozen=True)
class Cell:
    """One run: a stream setting x learning mode x preset x seed."""

    setting: str
    learning: str
    cued: bool
    preset: str
    seed: int
    stream: dict
    config: dict


def _check_stream(stream: Any, *, field: str) -> dict:
    stream = dict(check_keys(stream, STREAM_KEYS, field=field))
    try:
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in stream.items()}
        GoNoGoConfig(**kwargs).validate()
    except ValueError as err:  # messages start with "<field>: "
        raise ConfigError(f"{field}.{err}") from None
    except TypeError as err:
        raise ConfigError(f"{field}: {err}") from None
    return stream


def validate_config(config: Any, *, source: str = "config") -> dict:
    """Merge ``config`` over the defaults and validate every field (ConfigError names it)."""
    check_keys(config, TOP_KEYS, field=source)
    cfg = deep_merge(copy.deepcopy(DEFAULT_CONFIG), config or {})
    seed_values(cfg["seeds"], field=f"{source}.seeds")
    for i, name in enumerate(string_list(cfg["presets"], field=f"{source}.presets")):
        try:
            preset = load_preset(name)
        except PresetError as err:
            raise ConfigError(f"{source}.presets[{i}]: {err}") from None
        try:
            build_plugins(preset)  # its parameters too, before anything runs
        except PresetError as err:
            raise ConfigError(f"{source}.presets[{i}]: preset {name}: {err}") from None
    from .strategies.reward import LEARNING_MODES  # Avalanche: not for resolve_device's callers

    string_list(cfg["learning"], field=f"{source}.learning", choices=LEARNING_MODES)
    base_stream = check_keys(cfg["stream"], STREAM_KEYS, field=f"{source}.stream")
    if not isinstance(cfg["settings"], list):
        raise ConfigError(f"{source}.settings: must be a list of stream settings")
    names = set()
    for i, setting in enumerate(cfg["settings"]):
        field = f"{source}.settings[{i}]"
        setting = check_keys(setting, {"name", "stream"}, field=field)
        safe_name(setting.get("name"), field=f"{field}.name")  # it names the figures
        if setting["name"] in names:
            raise ConfigError(f"{field}.name: duplicate setting name {setting['name']!r}")
        names.add(setting["name"])
        _check_stream(deep_merge(base_stream, setting.get("stream") or {}),
                      field=f"{field}.stream")
    if cfg["cued"] is not None:
        cued = check_keys(cfg["cued"], {"name", "stream"}, field=f"{source}.cued")
        if "name" in cued:
            safe_name(cued["name"], field=f"{source}.cued.name")
        _check_stream(deep_merge(base_stream, cued.get("stream") or {}),
                      field=f"{source}.cued.stream")
    model = check_keys(cfg["model"], {"hidden", "activation"}, field=f"{source}.model")
    check_model({**model, "layers": 1}, field=f"{source}.model")  # one hidden layer
    opt = check_keys(cfg["optimizer"], {"lr"}, field=f"{source}.optimizer")
    number(opt["lr"], field=f"{source}.optimizer.lr", low=0.0, low_open=True)
    positive_int(cfg["train_mb_size"], field=f"{source}.train_mb_size")
    reward = check_keys(cfg["reward"], set(DEFAULT_CONFIG["reward"]), field=f"{source}.reward")
    for key, value in reward.items():
        number(value, field=f"{source}.reward.{key}")
    metric = check_keys(cfg["metric"], set(DEFAULT_CONFIG["metric"]), field=f"{source}.metric")
    positive_int(metric["window"], field=f"{source}.metric.window")
    number(metric["criterion"], field=f"{source}.metric.criterion", low=0.0, high=1.0,
           low_open=True)
    positive_int(metric["entropy_bin"], field=f"{source}.metric.entropy_bin")
    overrides = check_keys(cfg["modulators"], set(modulator_names()), field=f"{source}.modulators")
    for name, params in overrides.items():
        if not isinstance(params, dict):
            raise ConfigError(f"{source}.modulators.{name}: must be a mapping of parameters")
    try:  # build every modulator once so that bad parameters fail before anything runs
        build_plugins({"modulators": {name: {} for name in modulator_names()}},
                      overrides=overrides)
    except PresetError as err:
        raise ConfigError(f"{source}.{err}") from None
    _check_memory(cfg, source=source)
    return cfg


def _check_memory(cfg: dict, *, source: str) -> None:
    """A stream or network too large for this machine fails here, with the estimate."""
    streams = [(f"{source}.settings[{i}].stream", s.get("stream") or {}, False)
               for i, s in enumerate(cfg["settings"])]
    if cfg["cued"] is not None:
        streams.append((f"{source}.cued.stream", cfg["cued"].get("stream") or {}, True))
    for field, stream, cued in streams:
        merged = {k: tuple(v) if isinstance(v, list) else v
                  for k, v in deep_merge(cfg["stream"], stream).items()}
        width, nbytes = GoNoGoConfig(**merged, cued=cued).nbytes()
        size = {"input_size": width, "n_classes": 2, "bytes": nbytes,
                "samples": max(merged.get("trials_per_rule", GoNoGoConfig.trials_per_rule),
                               merged.get("test_trials", GoNoGoConfig.test_trials))}
        parts = run_memory(size, hidden=cfg["model"]["hidden"], layers=1,
                           train_mb_size=cfg["train_mb_size"], eval_mb_size=1)
        check_memory({field: parts["stream"], f"{source}.model.hidden": parts["model"],
                      f"{source}.train_mb_size": parts["batch"]}, what="a run")


def seed_list(cfg: dict) -> list[int]:
    seeds = cfg["seeds"]
    return list(seeds) if isinstance(seeds, list) else list(range(seeds))


def make_cells(cfg: dict) -> list[Cell]:
    """Every run of the case study, in a stable order."""
    streams = [(s["name"], False, s.get("stream") or {}) for s in cfg["settings"]]
    if cfg["cued"] is not None:
        streams.append((cfg["cued"].get("name", "cued"), True, cfg["cued"].get("stream") or {}))
    cells = []
    for learning in string_list(cfg["learning"], field="learning"):
        for name, cued, stream in streams:
            for preset in string_list(cfg["presets"], field="presets"):
                for seed in seed_list(cfg):
                    full = deep_merge(cfg["stream"], stream)
                    cells.append(Cell(setting=name, learning=learning, cued=cued, preset=preset,
                                      seed=seed, stream=full, config=cfg))
    return cells


def run_cell(cell: Cell, *, device: str = "cpu", wandb_options: dict | None = None) -> dict:
    """Train one cell and return its record (JSON-serialisable)."""
    from .cell import train_gonogo_cell

    return train_gonogo_cell(cell, device=torch.device(device), wandb_options=wandb_options)


def run_cells(cells: list[Cell], *, device: torch.device, workers: int = 1,
              wandb_options: dict | None = None, progress: bool = True) -> list[dict]:
    """Run cells on ``workers`` local processes (CPU) or in this process (GPU / workers=1)."""
    from .parallel import run_cells as run_parallel

    return run_parallel(run_cell, cells, workers=workers, device=device, desc="case study",
                        kwargs=dict(device=str(device), wandb_options=wandb_options),
                        progress=progress)


def run_casestudy(
    config: dict | None = None,
    *,
    out_dir: str | Path = "runs/casestudy",
    device: str | None = None,
    workers: int | None = None,
    command: str = "avalanche-neuromod run",
    wandb_options: dict | None = None,
    progress: bool = True,
) -> dict:
    """Validate, run every cell, write ``results.json`` and the report; return the results."""
    cfg = validate_config(config)
    dev = resolve_device(device)
    out = check_output_dir(out_dir, files=("results.json", "report.md"))  # before any run
    if workers is None:
        workers = max(1, min(2, os.cpu_count() or 1))
    cells = make_cells(cfg)
    start = time.perf_counter()
    records = run_cells(cells, device=dev, workers=workers, wandb_options=wandb_options,
                        progress=progress)
    results = {
        "command": command,
        "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "config": cfg,
        "versions": versions(),
        "git_commit": git_commit(),
        "device": str(dev),
        "workers": workers,
        "wall_time": round(time.perf_counter() - start, 2),
        "metric": dict(cfg["metric"]),
        "runs": records,
    }
    write_or_fallback(out / "results.json", json.dumps(results, indent=1, sort_keys=False) + "\n")
    from .report import write_report

    try:
        write_report(results, out)
    except OSError as err:
        raise OutputError(f"cannot write the report in {out} ({err.strerror or err}); the "
                          f"results are in {out / 'results.json'} (avalanche-neuromod report "
                          "rebuilds it)") from None
    return results

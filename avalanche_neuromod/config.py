"""Configs as data: loading YAML safely and validating it with errors that name the field.

Every error is a :class:`ConfigError` whose message starts with the dotted path of the offending
field (``settings[1].stream.population_size: ...``), and the file when there is one, so the CLI can
print it on one line and exit with code 2.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """Bad input in a config (the message names the field and, when known, the file)."""


def load_yaml(path: str | Path) -> Any:
    """Read a YAML file with ``yaml.safe_load``; a missing or malformed file is a ConfigError."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"config: cannot read {path}: {err.strerror or err}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config: {path} is not valid YAML{where}") from None


def check_keys(data: Any, allowed: set[str], *, field: str) -> dict:
    """``data`` must be a mapping whose keys are all in ``allowed``."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{field}: must be a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - allowed)
    if unknown:
        allowed_text = ", ".join(sorted(allowed))
        raise ConfigError(f"{field}.{unknown[0]}: unknown key; allowed: {allowed_text}")
    return data


def positive_int(value: Any, *, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{field}: must be a positive integer, got {value!r}")
    return value


def nonnegative_int(value: Any, *, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{field}: must be an integer >= 0, got {value!r}")
    return value


def number(value: Any, *, field: str, low: float | None = None, high: float | None = None,
           low_open: bool = False) -> float:
    """A finite real number within bounds (``low`` exclusive when ``low_open``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{field}: must be a finite number, got {value!r}")
    if low is not None and (value <= low if low_open else value < low):
        raise ConfigError(f"{field}: must be {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and value > high:
        raise ConfigError(f"{field}: must be <= {high}, got {value!r}")
    return float(value)


def string_list(value: Any, *, field: str, choices: tuple[str, ...] | None = None) -> list[str]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{field}: must be a non-empty list of names, got {value!r}")
    if choices is not None:
        for v in value:
            if v not in choices:
                raise ConfigError(f"{field}: unknown name {v!r}; choose from {', '.join(choices)}")
    return value


def deep_merge(base: dict, update: dict) -> dict:
    """A deep copy of ``base`` with ``update`` merged in, recursively for mappings.

    Neither argument is modified, nor shares nested mappings with the result.
    """
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out

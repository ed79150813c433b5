"""Configs as data: loading YAML safely and validating it with errors that name the field.

Every error is a :class:`ConfigError` whose message starts with the dotted path of the offending
field (``settings[1].stream.population_size: ...``), and the file when there is one, so the CLI can
print it on one line and exit with code 2.
"""

from __future__ import annotations

import copy
import math
import os
import re
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping with the same key twice (YAML itself lets the
    last one win silently)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:  # before merge keys (<<) are flattened: they may repeat
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key, line = self.construct_object(key_node, deep=True), key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise _DuplicateKey(key, line, seen[key])
                seen[key] = line
            except TypeError:  # an unhashable key: SafeLoader's own error follows
                continue
        return super().construct_mapping(node, deep=deep)


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key, line: int, first: int):
        super().__init__(f"duplicate key {key!r} at line {line} (first at line {first})")
        self.message = str(self)


def parse_yaml(data: bytes | str, *, source: str) -> Any:
    """Parse YAML text safely (no Python objects) and strictly: UTF-8 only, no duplicate keys.

    Errors are ConfigErrors naming ``source`` and the line: ``p.yaml: duplicate key 'seeds' at
    line 3 (first at line 2)``, ``p.yaml is not valid YAML at line 4``, ``p.yaml is not UTF-8
    text (byte 0xff at offset 12)``.
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ConfigError(f"config: {source} is not UTF-8 text (byte 0x{data[err.start]:02x} "
                              f"at offset {err.start})") from None
    loader = _UniqueKeyLoader(data)  # what yaml.safe_load does, with the stricter SafeLoader
    try:
        return loader.get_single_data()
    except _DuplicateKey as err:
        raise ConfigError(f"config: {source}: {err.message}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config: {source} is not valid YAML{where}") from None
    finally:
        loader.dispose()


def load_yaml(path: str | Path) -> Any:
    """Read a YAML file with :func:`parse_yaml`; a missing or malformed file is a ConfigError."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"config: cannot read {path}: {err.strerror or err}") from None
    return parse_yaml(raw, source=str(path))


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


_SAFE_NAME = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9._+#-]*")


def safe_name(value: Any, *, field: str) -> str:
    """A name that becomes part of a path (suite, benchmark and strategy labels, settings).

    Letters, digits and ``. _ + - #`` only (``#`` numbers a selection's candidates), not starting
    with ``.``, ``-`` or ``#``, at most 100 characters: no path separator, no ``..``, no hidden
    file, nothing a shell or another OS reads differently."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{field}: must be a non-empty string, got {value!r}")
    if len(value) > 100 or not _SAFE_NAME.fullmatch(value):
        raise ConfigError(f"{field}: {value[:100]!r} is not a safe name (it becomes a file or "
                          "folder name): use letters, digits and . _ + - only, not starting "
                          "with . or -")
    return value


SEED_LIMIT = 2**32  # NumPy's seeds (np.random.seed, RandomState) are 0 <= seed < 2**32
MAX_SEEDS = 10_000  # runs per strategy; range(10**9) alone would be a list of 8 GB


def seed_values(value: Any, *, field: str, limit: int = SEED_LIMIT) -> list[int]:
    """A seed count or a list of distinct seeds, each ``0 <= seed < limit`` (a count of at most
    :data:`MAX_SEEDS`); the seeds as a list."""
    if isinstance(value, list):
        if not value or not all(isinstance(s, int) and not isinstance(s, bool) for s in value):
            raise ConfigError(f"{field}: must be a count or a non-empty list of integer seeds")
        if len(value) > MAX_SEEDS:
            raise ConfigError(f"{field}: at most {MAX_SEEDS} seeds, got {len(value)}")
        for s in value:
            check_seed(s, field=field, limit=limit)
        if len(set(value)) != len(value):
            raise ConfigError(f"{field}: duplicate seed in {value}")
        return list(value)
    positive_int(value, field=field)
    if value > MAX_SEEDS:
        raise ConfigError(f"{field}: at most {MAX_SEEDS} seeds (each is a run of every "
                          f"strategy), got {value}")
    return list(range(value))


def check_seed(value: Any, *, field: str, limit: int = SEED_LIMIT) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < limit:
        raise ConfigError(f"{field}: a seed must be an integer with 0 <= seed < {limit} (NumPy "
                          f"and torch seed from it), got {value!r}")
    return value


WORKERS_PER_CPU = 4


def check_workers(value: int, *, field: str = "--workers") -> int:
    """Local worker processes: at least 1, at most :data:`WORKERS_PER_CPU` per CPU (each is a
    process of its own, ~0.6 GB; more only slows the run)."""
    limit = WORKERS_PER_CPU * (os.cpu_count() or 1)
    if value < 1 or value > limit:
        raise ConfigError(f"{field}: must be between 1 and {limit} on this machine "
                          f"({WORKERS_PER_CPU} per CPU), got {value}")
    return value


def machine_memory() -> int:
    """This machine's memory in bytes (physical, or the container's limit when lower)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit.isdigit():
            total = min(total, int(limit))
    except OSError:
        pass
    return total


def gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def run_memory(stream: dict[str, int], *, hidden: int, layers: int, train_mb_size: int,
               eval_mb_size: int, stored: int = 0) -> dict[str, int]:
    """The least one run needs, in bytes, by part: ``stream`` (the benchmark's tensors, see
    ``benchmarks.stream_size``); ``model`` (an MLP's float32 weights and gradients; the input
    layer counts as the stream's when the inputs are wider than it); ``batch``
    (one batch's activations, forward and backward when training, forward when evaluating;
    a batch is at most an experience); ``stored`` (``stored`` samples a strategy keeps)."""
    inputs, classes = stream["input_size"], stream["n_classes"]
    widths = [inputs] + [hidden] * layers + [classes]
    weights = sum((a + 1) * b for a, b in zip(widths, widths[1:], strict=False))
    first = (inputs + 1) * widths[1]  # the stream's share when its inputs are the wider side
    from_stream = first if inputs > widths[1] else 0
    train = min(train_mb_size, stream["samples"]) * sum(widths) * 4 * 2
    evaluate = min(eval_mb_size, stream["samples"]) * sum(widths) * 4
    return {"stream": stream["bytes"] + 2 * 4 * from_stream,
            "model": 2 * 4 * (weights - from_stream),
            "batch": max(train, evaluate), "stored": stored * inputs * 4}


def check_memory(parts: dict[str, int], *, what: str) -> None:
    """Fail early when ``parts`` (``{field: bytes}``, an estimate of the least a run needs) add up
    to more than this machine's memory, naming the field that needs the most."""
    total, have = sum(parts.values()), machine_memory()
    if total > have:
        field = max(parts, key=parts.get)
        raise ConfigError(f"{field}: {what} needs about {gib(total)} of memory ({field} alone "
                          f"{gib(parts[field])}), more than this machine's {gib(have)}")


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

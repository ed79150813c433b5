"""Benchmarks by name: Go/No-Go set-shifting streams, SplitMNIST, PermutedMNIST, RotatedMNIST.

Every benchmark takes ``seed`` (class orders, permutations, rotations and Go/No-Go draws all
follow it) and ``validation``: a fraction of each training experience held out as the stream to
select hyper-parameters on. For the synthetic Go/No-Go streams the validation stream is an
independent draw of the same generator (seed offset :data:`VALIDATION_SEED_OFFSET`), which no
test seed uses.
"""

from __future__ import annotations

import inspect

from .gonogo import GoNoGoConfig, gonogo_benchmark
from .mnist import (
    BACKENDS,
    DataRootError,
    permuted_mnist,
    resolve_data_root,
    rotated_mnist,
    split_mnist,
    validation_split,
)

BENCHMARKS = {
    "gonogo": gonogo_benchmark,
    "split_mnist": split_mnist,
    "permuted_mnist": permuted_mnist,
    "rotated_mnist": rotated_mnist,
}
VALIDATION_SEED_OFFSET = 100_000
_RESERVED = ("seed", "dataset_root")


def benchmark_args(name: str) -> list[str]:
    """The arguments a suite may give benchmark ``name`` (``seed`` comes from the suite)."""
    params = inspect.signature(BENCHMARKS[name]).parameters
    names = [p for p in params if p not in _RESERVED]
    if name == "gonogo":
        names.append("validation")
    return names


def check_benchmark_args(name: str, args: dict, *, field: str) -> dict:
    """Unknown argument names raise ``ValueError`` naming ``field.<arg>`` (before any run)."""
    if name not in BENCHMARKS:
        raise ValueError(f"{field}: unknown benchmark {name!r}; choose from "
                         f"{', '.join(sorted(BENCHMARKS))}")
    allowed = benchmark_args(name)
    for key in args:
        if key not in allowed:
            raise ValueError(f"{field}.{key}: unknown argument of benchmark {name!r}; allowed: "
                             f"{', '.join(allowed)}")
    if "backend" in args and args["backend"] not in BACKENDS:
        raise ValueError(f"{field}.backend: unknown backend {args['backend']!r}; choose from "
                         f"{', '.join(BACKENDS)}")
    validation = args.get("validation", 0.0)
    if isinstance(validation, bool) or not isinstance(validation, (int, float)) or \
            not 0.0 <= validation < 1.0:
        raise ValueError(f"{field}.validation: must be a fraction in [0, 1), got {validation!r}")
    n_exp = args.get("n_experiences")
    if n_exp is not None and (isinstance(n_exp, bool) or not isinstance(n_exp, int) or
                              n_exp < 1):
        raise ValueError(f"{field}.n_experiences: must be a positive integer, got {n_exp!r}")
    if name == "split_mnist" and n_exp is not None and 10 % n_exp:
        raise ValueError(f"{field}.n_experiences: must divide the 10 classes, got {n_exp}")
    for flag in ("cued", "return_task_id"):
        if flag in args and not isinstance(args[flag], bool):
            raise ValueError(f"{field}.{flag}: must be true or false, got {args[flag]!r}")
    if name == "gonogo":  # values too, so a bad stream fails before any cell runs
        stream = {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()
                  if k != "validation"}
        try:
            GoNoGoConfig(**stream).validate()
        except ValueError as err:  # messages start with the field's name
            raise ValueError(f"{field}.{err}") from None
        except TypeError as err:
            raise ValueError(f"{field}: a value of the wrong type ({err})") from None
    return args


def get_benchmark(name: str, **kwargs):
    """Build a benchmark by name (``gonogo``, ``split_mnist``, ``permuted_mnist``,
    ``rotated_mnist``)."""
    if name not in BENCHMARKS:
        raise ValueError(f"benchmark: unknown benchmark {name!r}; choose from "
                         f"{', '.join(sorted(BENCHMARKS))}")
    if name == "gonogo" and kwargs.pop("validation", 0.0):
        kwargs["seed"] = kwargs.get("seed", 0) + VALIDATION_SEED_OFFSET
    return BENCHMARKS[name](**kwargs)


__all__ = ["BENCHMARKS", "VALIDATION_SEED_OFFSET", "DataRootError", "GoNoGoConfig",
           "benchmark_args", "check_benchmark_args", "get_benchmark", "gonogo_benchmark",
           "permuted_mnist", "resolve_data_root", "rotated_mnist", "split_mnist",
           "validation_split"]

"""Benchmarks by name: Go/No-Go set-shifting streams, SplitMNIST, PermutedMNIST, RotatedMNIST.

Every benchmark takes ``seed`` (class orders, permutations, rotations and Go/No-Go draws all
follow it) and ``validation``: a fraction of each training experience held out as the stream to
select hyper-parameters on. For the synthetic Go/No-Go streams the validation stream is an
independent draw of the same generator (seed offset :data:`VALIDATION_SEED_OFFSET`), which no
test seed uses.
"""

from __future__ import annotations

import inspect

from ..registry import register_benchmark
from .gonogo import GoNoGoConfig, gonogo_benchmark
from .mnist import (
    BACKENDS,
    SAMPLE_ORDERS,
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
BUILT_IN = tuple(BENCHMARKS)  # more: register_benchmark (avalanche_neuromod.registry)
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
    if "sample_order" in args and args["sample_order"] not in SAMPLE_ORDERS:
        raise ValueError(f"{field}.sample_order: unknown order {args['sample_order']!r}; choose "
                         f"from {', '.join(SAMPLE_ORDERS)}")
    if args.get("sample_order", "avalanche") != "avalanche" and \
            args.get("backend", "tensor") != "tensor":
        raise ValueError(f"{field}.sample_order: {args['sample_order']!r} is the tensor "
                         "backend's only")
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
    for flag in ("cued", "return_task_id", "domain"):
        if flag in args and not isinstance(args[flag], bool):
            raise ValueError(f"{field}.{flag}: must be true or false, got {args[flag]!r}")
    if args.get("domain") and args.get("return_task_id"):
        raise ValueError(f"{field}.domain: domain-IL has no task labels; drop return_task_id")
    if args.get("domain") and args.get("backend", "tensor") != "tensor":
        raise ValueError(f"{field}.domain: domain-IL SplitMNIST is the tensor backend's only")
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


MNIST_SAMPLES, MNIST_PIXELS = 70_000, 784  # train + test images, 28 x 28


def stream_size(name: str, args: dict) -> dict[str, int] | None:
    """What benchmark ``name`` with (checked) ``args`` holds in memory, at least:
    ``input_size``, ``n_classes``, ``samples`` (the most in one training experience) and
    ``bytes`` (the tensor backend keeps every experience as float32; Avalanche's lazy one only
    MNIST's uint8 images); ``None`` for a registered benchmark (its size is not known here)."""
    if name not in BUILT_IN:
        return None
    if name == "gonogo":
        stream = {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()
                  if k != "validation"}
        config = GoNoGoConfig(**stream)
        width, nbytes = config.nbytes()
        return {"input_size": width, "n_classes": 2, "bytes": nbytes,
                "samples": max(config.trials_per_rule, config.test_trials)}
    raw = MNIST_SAMPLES * (MNIST_PIXELS + 8)
    if args.get("backend", "tensor") != "tensor":
        nbytes = raw
    elif name == "split_mnist":
        nbytes = raw + MNIST_SAMPLES * MNIST_PIXELS * 4
    else:
        n_exp = args.get("n_experiences",
                         inspect.signature(BENCHMARKS[name]).parameters["n_experiences"].default)
        nbytes = raw + n_exp * MNIST_SAMPLES * MNIST_PIXELS * 4
    n_classes = 2 if args.get("domain") else 10  # domain-IL: a digit's place in its pair
    return {"input_size": MNIST_PIXELS, "n_classes": n_classes, "bytes": nbytes,
            "samples": 60_000}


LABEL_ORDER = "label"  # a leaderboard cell's sample_order when its args do not name one


def cell_args(name: str, args: dict) -> dict:
    """A leaderboard cell's ``benchmark_args`` (hashed into its key) from a suite's ``args``.

    ``sample_order`` (PermutedMNIST, RotatedMNIST) is written out when a suite leaves it at its
    default, ``"avalanche"``, and left out when it is :data:`LABEL_ORDER`: the cells recorded
    before the argument existed ran that order and have no ``sample_order`` in their config, so
    their keys, and re-runs of their stored configs (:func:`call_args`), stay what they were."""
    if "sample_order" not in inspect.signature(BENCHMARKS[name]).parameters:
        return dict(args)
    out = {**args, "sample_order": args.get("sample_order", "avalanche")}
    if out["sample_order"] == LABEL_ORDER:
        del out["sample_order"]
    return out


def call_args(name: str, args: dict) -> dict:
    """The keyword arguments that build a cell's benchmark from its ``benchmark_args``: an
    absent ``sample_order`` is :data:`LABEL_ORDER` (the inverse of :func:`cell_args`)."""
    if "sample_order" not in inspect.signature(BENCHMARKS[name]).parameters:
        return dict(args)
    return {**args, "sample_order": args.get("sample_order", LABEL_ORDER)}


def get_benchmark(name: str, **kwargs):
    """Build a benchmark by name (``gonogo``, ``split_mnist``, ``permuted_mnist``,
    ``rotated_mnist``)."""
    if name not in BENCHMARKS:
        raise ValueError(f"benchmark: unknown benchmark {name!r}; choose from "
                         f"{', '.join(sorted(BENCHMARKS))}")
    if name == "gonogo" and kwargs.pop("validation", 0.0):
        kwargs["seed"] = kwargs.get("seed", 0) + VALIDATION_SEED_OFFSET
    return BENCHMARKS[name](**kwargs)


__all__ = ["BENCHMARKS", "LABEL_ORDER", "SAMPLE_ORDERS", "VALIDATION_SEED_OFFSET",
           "DataRootError", "GoNoGoConfig", "benchmark_args", "call_args", "cell_args",
           "check_benchmark_args", "get_benchmark", "gonogo_benchmark", "permuted_mnist",
           "register_benchmark", "resolve_data_root", "rotated_mnist", "split_mnist",
           "stream_size", "validation_split"]

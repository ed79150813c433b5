"""Benchmarks by name: Go/No-Go set-shifting streams, SplitMNIST, PermutedMNIST."""

from .gonogo import GoNoGoConfig, gonogo_benchmark
from .mnist import DataRootError, permuted_mnist, resolve_data_root, split_mnist

BENCHMARKS = {
    "gonogo": gonogo_benchmark,
    "split_mnist": split_mnist,
    "permuted_mnist": permuted_mnist,
}


def get_benchmark(name: str, **kwargs):
    """Build a benchmark by name (``gonogo``, ``split_mnist``, ``permuted_mnist``)."""
    if name not in BENCHMARKS:
        raise ValueError(f"benchmark: unknown benchmark {name!r}; choose from "
                         f"{', '.join(sorted(BENCHMARKS))}")
    return BENCHMARKS[name](**kwargs)


__all__ = ["BENCHMARKS", "DataRootError", "GoNoGoConfig", "get_benchmark", "gonogo_benchmark",
           "permuted_mnist", "resolve_data_root", "split_mnist"]

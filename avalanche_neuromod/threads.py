"""Intra-op threads of torch: one per worker unless asked otherwise, set in one place.

Cells are small (MLPs of a few hundred units, batches of 8-128): a second intra-op thread adds
synchronisation, not speed, and with other processes on the machine it costs several times the
work (issue 18: 53 s instead of 9 s for one SplitMNIST cell with torch's default two threads on
two busy cores). Every entry point (``train``, ``select``, ``run``, ``leaderboard``, worker
processes and Ray tasks) calls :func:`set_threads` with its number of workers.

``$AVALANCHE_NEUROMOD_THREADS`` overrides the default of 1: a positive integer, or ``auto`` for the
machine's cores divided by the workers (at least 1; a Ray task counts as one worker, so there
give a number: ``--cpus-per-cell``'s, say). The committed records were produced with one
thread, which is why it stays the default: a float reduction split over more threads may round
differently (docs/performance.md).
"""

from __future__ import annotations

import os

ENV = "AVALANCHE_NEUROMOD_THREADS"


def cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def intra_op_threads(workers: int = 1) -> int:
    """The intra-op threads for each of ``workers`` processes: ``$AVALANCHE_NEUROMOD_THREADS``
    (an integer, or ``auto`` = cores // workers, at least 1), else 1.

    A bad value raises :class:`~avalanche_neuromod.errors.ConfigError` naming the variable."""
    from .errors import ConfigError

    text = os.environ.get(ENV, "").strip()
    if not text:
        return 1
    if text == "auto":
        return max(1, cores() // max(1, int(workers)))
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{ENV}: must be a positive integer or auto, got {text!r}")
    return value


def set_threads(workers: int = 1) -> int:
    """Set torch's intra-op threads for one of ``workers`` processes; returns the number."""
    import torch

    threads = intra_op_threads(workers)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


__all__ = ["ENV", "cores", "intra_op_threads", "set_threads"]

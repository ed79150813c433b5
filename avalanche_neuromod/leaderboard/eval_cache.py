"""An experience's evaluation batches, read once per cell and replayed (issue 18).

Avalanche reads an evaluation's samples one by one (``AvalancheDataset.__getitem__``, ~12-40 µs
each on this machine) and collates them per mini-batch; a cell evaluates the whole test stream
after every experience, so it reads the same test samples again and again. Where the benchmark
says its evaluation data are fixed (no per-sample transforms: the tensor benchmarks'
``fixed_eval_data``), :func:`cache_eval_batches` keeps the collated batches of the first
evaluation of each experience and serves later evaluations of it from them.

What the loader would do otherwise is done too: its random draws. The first, real, iteration
measures how many int64 draws from torch's global generator each ``next`` makes (one, the base
seed of torch's DataLoader iterator, at the first batch); a replay makes the same draws at the
same points, so the next training shuffles are those of an uncached run. A loader that draws in
any other way (Python's or NumPy's generator, another distribution), uses workers or a custom
dataset or loader method is not cached. Each replayed batch is a fresh copy, so a consumer that
writes into its inputs cannot change a later evaluation. The kept batches live on the
strategy's device (on a GPU: the test data resident there, no host-to-device copy per batch).
"""

from __future__ import annotations

import random

import numpy as np
import torch

MAX_BYTES = 1 << 29  # beyond this (all experiences' batches), later experiences are read as usual
_MAX_DRAWS = 8


def _int64_draws(before: torch.Tensor, after: torch.Tensor) -> int | None:
    """How many ``torch.empty((), dtype=torch.int64).random_()`` take the generator from
    ``before`` to ``after`` (``None``: not a number of those)."""
    if torch.equal(before, after):
        return 0
    probe = torch.Generator()
    probe.set_state(before)
    for n in range(1, _MAX_DRAWS + 1):
        torch.empty((), dtype=torch.int64).random_(generator=probe)
        if torch.equal(probe.get_state(), after):
            return n
    return None


def _draw(n: int) -> None:
    for _ in range(n):
        torch.empty((), dtype=torch.int64).random_()


def _copy(batch, device=None):
    return type(batch)(t.clone() if device is None else t.to(device, copy=True) for t in batch)


class _Entry:
    def __init__(self, dataset):
        self.dataset = dataset  # held, so that its id is not reused while cached
        self.batches: list = []
        self.draws: list[int] = []  # before batch i; the last one at the end


class _Replay:
    """Iterates like ``loader`` (length, attributes), from ``entry`` once it is complete."""

    def __init__(self, loader, entry: _Entry, cache: EvalBatchCache):
        self.loader, self.entry, self.cache = loader, entry, cache

    def __len__(self):
        return len(self.loader)

    def __getattr__(self, name):
        return getattr(self.loader, name)

    def __iter__(self):
        entry = self.entry
        if entry.draws:  # complete: replay
            for n, batch in zip(entry.draws, entry.batches):
                _draw(n)
                yield _copy(batch)
            _draw(entry.draws[-1])
            return
        yield from self._record(entry)

    def _record(self, entry: _Entry):
        batches, draws, size, it = [], [], 0, None
        while True:
            state = torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy()
            try:
                it = iter(self.loader) if it is None else it
                batch = next(it)
            except StopIteration:
                batch = None
            n = _int64_draws(state[0], torch.get_rng_state())
            keep = (n is not None and random.getstate() == state[1]
                    and np.array_equal(np.random.get_state()[1], state[2]))
            if batch is None:
                if keep and draws is not None:
                    draws.append(n)
                    self.cache.store(entry, batches, draws, size)
                return
            if not keep or type(batch) not in (list, tuple) or not all(
                    isinstance(t, torch.Tensor) for t in batch):
                draws = None  # not replayable: read as usual from now on
            if draws is not None:
                draws.append(n)
                batches.append(_copy(batch, self.cache.device))  # resident on a GPU
                size += sum(t.numel() * t.element_size() for t in batch)
            yield batch


class EvalBatchCache:
    """The per-experience batch store behind :func:`cache_eval_batches`."""

    def __init__(self, max_bytes: int = MAX_BYTES, device=None):
        self.entries: dict = {}
        self.bytes, self.max_bytes, self.device = 0, max_bytes, device

    def loader(self, strategy):
        """``strategy.dataloader``, or a replaying stand-in for it."""
        loader = strategy.dataloader
        kwargs = getattr(loader, "loader_kwargs", {})
        if kwargs.get("num_workers", 0) or kwargs.get("generator") is not None:
            return loader
        dataset = strategy.experience.dataset
        key = (id(dataset), strategy.eval_mb_size, len(strategy.adapted_dataset))
        entry = self.entries.get(key)
        if entry is None:
            if self.bytes >= self.max_bytes:
                return loader
            entry = self.entries[key] = _Entry(dataset)
        return _Replay(loader, entry, self)

    def store(self, entry: _Entry, batches: list, draws: list[int], size: int) -> None:
        if entry.draws or self.bytes + size > self.max_bytes:
            return
        entry.batches, entry.draws = batches, draws
        self.bytes += size


def cache_eval_batches(strategy) -> EvalBatchCache | None:
    """Serve ``strategy``'s evaluations of an experience from its first one (same batches,
    same random draws). Only for a strategy whose evaluation data set and loader are the
    templates' own; returns the cache (``None``: left as it was)."""
    from .evals import template_owns

    if not template_owns(strategy, ("eval_dataset_adaptation", "make_eval_dataloader",
                                    "_before_eval_exp", "eval_epoch", "_eval_exp")):
        return None
    cache = EvalBatchCache(device=strategy.device)
    make = strategy.make_eval_dataloader  # the template's, bound

    def make_eval_dataloader(**kwargs):
        make(**kwargs)
        strategy.dataloader = cache.loader(strategy)

    strategy.make_eval_dataloader = make_eval_dataloader  # this instance only, not checkpointed
    return cache

"""leaderboard/eval_cache.py: replayed evaluation batches keep a run bit for bit."""

from __future__ import annotations

import torch
from test_evals import assert_same, record, tiny_benchmark, tiny_strategy

from avalanche_neuromod.leaderboard.eval_cache import _int64_draws, cache_eval_batches


def test_a_cached_run_equals_a_read_one_bit_for_bit():
    bm = tiny_benchmark()
    assert bm.fixed_eval_data
    caches = []
    read = record(tiny_strategy(), bm, skip=False)
    cached = record(tiny_strategy(), bm, skip=False,
                    before=lambda s: caches.append(cache_eval_batches(s)))
    assert_same(read, cached)
    entries = list(caches[0].entries.values())
    assert len(entries) == len(bm.test_stream)  # one per experience, each replayed
    assert all(e.draws == [1, 0, 0] for e in entries)  # the loader's base seed, then nothing


def test_a_replayed_batch_is_a_copy():
    bm = tiny_benchmark()
    strategy = tiny_strategy()
    cache = cache_eval_batches(strategy)
    strategy.eval(bm.test_stream)
    entry = next(iter(cache.entries.values()))
    kept = [t.clone() for t in entry.batches[0]]
    strategy.experience = bm.test_stream[0]
    strategy.eval_dataset_adaptation()
    strategy.make_eval_dataloader()
    batch = next(iter(strategy.dataloader))
    assert len(cache.entries) == len(bm.test_stream)  # replayed, not read again
    batch[0].add_(1.0)  # a consumer writing into its inputs
    assert all(torch.equal(a, b) for a, b in zip(kept, entry.batches[0]))


def test_draws_are_counted_or_refused():
    before = torch.get_rng_state()
    torch.empty((), dtype=torch.int64).random_()
    torch.empty((), dtype=torch.int64).random_()
    assert _int64_draws(before, torch.get_rng_state()) == 2
    assert _int64_draws(before, before) == 0
    state = torch.get_rng_state()
    torch.rand(1000)  # not int64 draws
    assert _int64_draws(state, torch.get_rng_state()) is None

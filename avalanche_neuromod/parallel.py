"""Run independent cells on local worker processes (CPU) or in this process (GPU, workers=1)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import Any

import torch


def _worker_init(workers: int = 1) -> None:
    from .threads import set_threads

    set_threads(workers)  # one intra-op thread per worker unless asked (threads.py)


def run_cells(
    fn: Callable[..., dict],
    cells: Sequence[Any],
    *,
    workers: int,
    device: torch.device,
    kwargs: dict,
    desc: str,
    unit: str = "run",
    progress: bool = True,
    on_result: Callable[[int, dict], None] | None = None,
) -> list[dict]:
    """``fn(cell, **kwargs)`` for every cell; results in cell order.

    ``on_result(index, result)`` is called in the driver as each cell finishes (completion
    order), e.g. to append it to a results file: workers never write.
    """
    from tqdm.auto import tqdm

    bar = tqdm(total=len(cells), desc=desc, unit=unit, disable=not progress)
    results: list[dict | None] = [None] * len(cells)

    def done(index: int, result: dict) -> None:
        results[index] = result
        if on_result is not None:
            on_result(index, result)
        bar.update()

    try:
        if workers <= 1 or device.type == "cuda":
            threads = torch.get_num_threads()
            _worker_init(1)
            try:
                for i, cell in enumerate(cells):
                    done(i, fn(cell, **kwargs))
            finally:
                torch.set_num_threads(threads)
        else:
            ctx = get_context("fork" if os.name == "posix" else "spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                     initializer=_worker_init, initargs=(workers,)) as pool:
                futures = {pool.submit(fn, cell, **kwargs): i for i, cell in enumerate(cells)}
                for future in as_completed(futures):
                    done(futures[future], future.result())
    finally:
        bar.close()
    return [r for r in results if r is not None]

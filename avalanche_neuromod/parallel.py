"""Run independent cells on local worker processes (CPU) or in this process (GPU, workers=1).

With worker processes, Ctrl-C (SIGINT) and SIGTERM stop the run at once: the pending cells are
cancelled, the workers are terminated (the cells they were running resume from their checkpoint
next time), and :class:`Interrupted` is raised in the driver; results already handed to
``on_result`` are kept. Workers ignore SIGINT (the driver decides) and, on Linux, die with the
driver however it ends (``PR_SET_PDEATHSIG``), so no worker outlives it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import Any

import torch

from .threads import set_threads


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal (``signum``: SIGINT or SIGTERM)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _worker_init(workers: int = 1) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the driver's handler, inherited by fork
    _die_with_parent()
    from .leaderboard.store import close_inherited_locks

    close_inherited_locks()
    set_threads(workers)  # one intra-op thread per worker unless asked (threads.py)


@contextlib.contextmanager
def _signals_raise():
    """SIGINT and SIGTERM raise :class:`Interrupted` in the driver while the block runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started, end every worker now, and wait for them to be gone."""
    old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)} \
        if threading.current_thread() is threading.main_thread() else {}
    try:
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            with contextlib.suppress(Exception):
                process.terminate()
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
        queue = getattr(pool, "_call_queue", None)  # its feeder would wait on dead readers
        if queue is not None:
            queue.cancel_join_thread()
    finally:
        for s, h in old.items():
            signal.signal(s, h)


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
            set_threads(1)  # one intra-op thread unless asked (threads.py)
            try:
                for i, cell in enumerate(cells):
                    done(i, fn(cell, **kwargs))
            finally:
                torch.set_num_threads(threads)
        else:
            ctx = get_context("fork" if os.name == "posix" else "spawn")
            with _signals_raise():
                pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                           initializer=_worker_init, initargs=(workers,))
                try:
                    futures = {pool.submit(fn, cell, **kwargs): i for i, cell in enumerate(cells)}
                    for future in as_completed(futures):
                        done(futures[future], future.result())
                except BaseException:
                    _stop(pool)  # an error, Ctrl-C or SIGTERM: nothing keeps running
                    raise
                pool.shutdown(wait=True)
    finally:
        bar.close()
    return [r for r in results if r is not None]

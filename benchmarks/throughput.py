"""Leaderboard throughput with 1 and 2 local workers, in one run (issue 4's target: >= 1.8x).

    python benchmarks/throughput.py [--suite quick] [--seeds 16] [--repeats 5] [--out FILE]

Runs the suite's cells into fresh temporary folders, first with one worker, then with two,
alternating ``--repeats`` times, and prints cells per second for each and the ratio of the
medians. Every worker uses one torch thread, as the runner does, so the ratio measures how
well cells spread over the cores. The quick suite is run with more seeds than its default (two)
so that each pass holds enough cells to keep both workers busy to the end; ``--seeds 2`` gives
the suite as CI runs it. Needs an otherwise idle machine: anything else running takes a core.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from avalanche_neuromod.leaderboard import load_suite, read_records, run_suite


def _pass(suite: dict, workers: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        run_suite(suite, out_dir=tmp, workers=workers, device="cpu", progress=False)
        elapsed = time.perf_counter() - start
        cells = len(read_records(Path(tmp) / "results.jsonl"))
    return elapsed, cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="quick")
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=None, help="also write the result as JSON here")
    args = parser.parse_args()
    suite = load_suite(args.suite, seeds=args.seeds)
    _pass(suite, 1)  # warm-up: imports, data generation caches
    rates: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(args.repeats):
        for workers in (1, 2):
            elapsed, cells = _pass(suite, workers)
            rates[workers].append(cells / elapsed)
            print(f"workers={workers}: {cells} cells in {elapsed:.2f} s "
                  f"({cells / elapsed:.2f} cells/s)", flush=True)
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    result = {"suite": suite["name"], "seeds": args.seeds, "cells": cells,
              "repeats": args.repeats, "cpu_count": os.cpu_count(),
              "cells_per_s_1_worker": round(one, 3), "cells_per_s_2_workers": round(two, 3),
              "speedup": round(two / one, 3)}
    print(f"speedup 2 workers / 1 worker: {two / one:.2f}x "
          f"({two:.2f} vs {one:.2f} cells/s, median of {args.repeats})")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

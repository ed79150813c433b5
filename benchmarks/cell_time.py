"""Time one case-study cell per device (CPU, and CUDA when present), interleaved, repeated.

    python benchmarks/cell_time.py [--repeats 3] [--preset da+na] [--learning reward]

Prints the median wall time of a default-setting cell on each device. The case study's MLP is
tiny (64 hidden units, mini-batches of 8 trials), so the loop is latency-bound: expect the GPU to
be no faster than one CPU core here; the GPU path exists for larger models and leaderboards.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from avalanche_neuromod.casestudy import make_cells, run_cell, validate_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--preset", default="da+na")
    parser.add_argument("--learning", default="reward")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = validate_config({"seeds": 1, "presets": [args.preset], "learning": [args.learning]})
    cell = next(c for c in make_cells(cfg) if c.setting == "default")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    times: dict[str, list[float]] = {d: [] for d in devices}
    records = {}
    for _ in range(args.repeats):
        for device in devices:
            start = time.perf_counter()
            records[device] = run_cell(cell, device=device)
            if device == "cuda":
                torch.cuda.synchronize()
            times[device].append(time.perf_counter() - start)
    for device in devices:
        rec = records[device]
        print(f"{device:5s} median {statistics.median(times[device]):.2f} s over {args.repeats} "
              f"(trials/criterion {rec['trials_to_criterion']}, final acc "
              f"{rec['final_accuracy']:.3f})")
    if torch.cuda.is_available():
        print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")


if __name__ == "__main__":
    main()

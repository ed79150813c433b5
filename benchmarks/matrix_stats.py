"""Plasticity and stability from a leaderboard's accuracy matrices.

    python benchmarks/matrix_stats.py reports/leaderboard/targets-pmnist/results.jsonl

For each benchmark and strategy, mean over seeds of:

- ``just learnt``: accuracy on experience j right after training on it (the matrix diagonal,
  averaged over j): how well one pass learns a new experience;
- ``final``: accuracy over the stream after the last experience (the leaderboard's number);
- ``lost``: ``just learnt`` minus each experience's final accuracy, averaged over all but the last
  experience (Avalanche's forgetting, from the matrix).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path


def matrix_stats(matrix: list[list[float]]) -> tuple[float, float, float]:
    n = len(matrix)
    diagonal = [matrix[j][j] for j in range(n)]
    final = matrix[-1]
    lost = [diagonal[j] - final[j] for j in range(n - 1)] or [0.0]
    return sum(diagonal) / n, sum(final) / n, sum(lost) / len(lost)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a leaderboard's results.jsonl")
    args = parser.parse_args()
    rows = defaultdict(list)
    for line in args.results.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            matrix = record.get("accuracy_matrix")
            if matrix and all(v is not None for row in matrix for v in row):
                rows[(record["benchmark"], record["strategy"])].append(matrix_stats(matrix))
    print("| benchmark | strategy | seeds | just learnt | final | lost |")
    print("|---|---|---:|---:|---:|---:|")
    for (benchmark, strategy), values in rows.items():
        mean = [sum(v[i] for v in values) / len(values) for i in range(3)]
        print(f"| {benchmark} | {strategy} | {len(values)} | {mean[0]:.3f} | {mean[1]:.3f} | "
              f"{mean[2]:.3f} |")


if __name__ == "__main__":
    main()

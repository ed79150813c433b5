"""Probe (issue 6): how NA's change detections split a PermutedMNIST stream into ACh contexts.

    python benchmarks/probes/context_recall.py '[{"preset": "full", "label": "recall",
        "override": {"modulators": {"acetylcholine": {"recall": "entropy"}}}}]' 5

Runs suite entries (JSON) on the *validation* stream of PermutedMNIST with N experiences
(default 5) under the standard budget, and prints per cell the final accuracy, the accuracy
matrix, the known contexts, the training steps at which ACh switched context, and NA's surprise
z-score around each switch (how a real change, 25-37, compares with minibatch noise, below 5).
"""

from __future__ import annotations

import argparse
import json

import torch

from avalanche_neuromod.leaderboard import load_suite, runner, suite_cells
from avalanche_neuromod.strategies import registry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("strategies", help="JSON list of suite strategy entries")
    parser.add_argument("experiences", nargs="?", type=int, default=5)
    parser.add_argument("--seeds", default="0")
    args = parser.parse_args()
    torch.set_num_threads(1)
    suite = load_suite({
        "name": "probe", "seeds": [int(s) for s in args.seeds.split(",")],
        "budget": {"model": {"hidden": 256, "layers": 2, "activation": "relu"},
                   "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9}, "epochs": 1,
                   "train_mb_size": 128, "eval_mb_size": 1024},
        "benchmarks": [{"name": "permuted_mnist", "label": "p",
                        "args": {"n_experiences": args.experiences, "validation": 0.1,
                                 "sample_order": "label"}}],
        "strategies": json.loads(args.strategies)})
    real, built = registry.build_strategy, []

    def build(*a, **k):
        strategy = real(*a, **k)
        built.append(strategy)
        return strategy

    registry.build_strategy = build
    for cell in suite_cells(suite):
        record = runner.run_suite_cell(cell)
        print(cell.strategy, cell.seed, round(record["final_accuracy"], 4), flush=True)
        for row in record["accuracy_matrix"]:
            print("  ", [round(x, 2) for x in row])
        for plugin in getattr(built[-1], "modulator_plugins", []):
            if "acetylcholine" not in plugin.modulators:
                continue
            print("   contexts", plugin.modulators["acetylcholine"].known_contexts())
            context = [step.get("ACh/context") for step in plugin.trace]
            switches = [i for i in range(1, len(context)) if context[i] != context[i - 1]]
            print("   switches at steps", switches, "of", len(context))
            z = [step.get("NA/surprise") for step in plugin.trace]
            for i in switches:
                print("   NA z around", i, [round(v, 1) for v in z[max(i - 3, 0):i + 12]
                                               if v is not None])


if __name__ == "__main__":
    main()

"""Probe (issue 6, class-incremental SplitMNIST without stored samples): attend to the current
experience's classes only, by masking the other logits during training (the "labels trick"),
beside a strategy, on the *validation* stream. Exploratory; not a preset yet.

    python benchmarks/probes/output_masking.py '["naive", "5ht"]' [--seeds 0,1]

Strategies are suite entries (JSON): preset names or ``{"preset", "label", "override"}``.
Prints, per cell, the final average accuracy and the last row of the accuracy matrix.
"""

from __future__ import annotations

import argparse
import json

import torch
from avalanche.core import SupervisedPlugin

from avalanche_neuromod.leaderboard import load_suite, runner, suite_cells
from avalanche_neuromod.strategies import registry


class CurrentClassMask(SupervisedPlugin):
    """During training, logits of classes absent from the experience are set to -1e9."""

    def after_forward(self, strategy, **kwargs):
        out = strategy.mb_output
        mask = torch.ones(out.shape[1], dtype=torch.bool, device=out.device)
        mask[list(strategy.experience.classes_in_this_experience)] = False
        strategy.mb_output = out.masked_fill(mask, -1e9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("strategies", help="JSON list of suite strategy entries")
    parser.add_argument("--seeds", default="0,1")
    args = parser.parse_args()
    torch.set_num_threads(1)
    real = registry.build_strategy

    def build(*a, **k):
        strategy = real(*a, **k)
        strategy.plugins.append(CurrentClassMask())
        return strategy

    registry.build_strategy = build
    suite = load_suite({
        "name": "probe", "seeds": [int(s) for s in args.seeds.split(",")],
        "budget": {"model": {"hidden": 256, "layers": 2},
                   "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9}},
        "benchmarks": [{"name": "split_mnist", "label": "c",
                        "args": {"n_experiences": 5, "validation": 0.1}}],
        "strategies": json.loads(args.strategies)})
    for cell in suite_cells(suite):
        record = runner.run_suite_cell(cell)
        print(cell.strategy, cell.seed, record["final_accuracy"],
              [round(x, 2) for x in record["accuracy_matrix"][-1]], flush=True)


if __name__ == "__main__":
    main()

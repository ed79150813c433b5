"""Cost of the neuromodulation stack: one epoch of SplitMNIST, Naive vs Naive + `full`.

    python benchmarks/overhead.py [--repeats 5] [--data-root ../shared/data] [--preset full]

Each variant trains experience 0 untimed (so consolidation terms are active), then the wall time of
one epoch on experience 1 is measured; variants run interleaved, in a rotating order, over
`--repeats` rounds, each on a fresh 2x400 MLP with the same seed, with one intra-op thread. Prints
per-variant medians, the median per-round ratio to Naive (target for `full`, the adaptive default:
<= 1.15, issue 17), Avalanche's
EWC and SI for reference, and the extra memory the plugin holds per parameter (target <= 3x).
Writes reports/overhead/overhead.json and overhead.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
import warnings
from pathlib import Path

import torch
from avalanche.models import SimpleMLP
from avalanche.training import EWC, Naive, SynapticIntelligence
from avalanche.training.plugins import EvaluationPlugin

from avalanche_neuromod.benchmarks import split_mnist
from avalanche_neuromod.strategies import build_plugins, load_preset

ROOT = Path(__file__).resolve().parents[1]
TARGET = 1.15  # issue 17: one epoch with the default plugin within 1.15x Naive's


def _strategy(variant: str, preset: str, mb: int):
    torch.manual_seed(0)
    model = SimpleMLP(num_classes=10, hidden_size=400, hidden_layers=2, drop_rate=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    common = dict(model=model, optimizer=opt, criterion=torch.nn.CrossEntropyLoss(),
                  train_mb_size=mb, device="cpu",
                  evaluator=EvaluationPlugin(loggers=[]))
    plugins = build_plugins(load_preset(preset)) if variant == "naive+" + preset else []
    if variant == "ewc":
        return EWC(ewc_lambda=1.0, **common), model, plugins
    if variant == "si":
        return SynapticIntelligence(si_lambda=1.0, **common), model, plugins
    return Naive(plugins=plugins, **common), model, plugins


def _plugin_bytes(plugins) -> int:
    total = 0
    for plugin in plugins:
        for tensor in plugin.modulators.state_dict().values():
            if isinstance(tensor, torch.Tensor):
                total += tensor.numel() * tensor.element_size()
        ht = plugin.modulators["serotonin"] if "serotonin" in plugin.modulators else None
        if ht is not None:
            for t in [*ht.importance, *ht.anchor, *ht._running]:
                total += t.numel() * t.element_size()
            if not ht._running and ht.importance:  # peak: the running sum during an epoch
                total += sum(t.numel() * t.element_size() for t in ht.importance)
    return total


def _profile(bm, args) -> None:
    import cProfile
    import pstats

    strategy, _, _ = _strategy("naive+" + args.preset, args.preset, args.mb)
    strategy.train(bm.train_stream[0])
    profiler = cProfile.Profile()
    profiler.enable()
    strategy.train(bm.train_stream[1])
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats("avalanche_neuromod|training_epoch", 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--preset", default="full")
    parser.add_argument("--mb", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "reports" / "overhead"))
    parser.add_argument("--profile", action="store_true",
                        help="profile one epoch of Naive + preset (package functions only)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    bm = split_mnist(dataset_root=args.data_root, seed=0)
    if args.profile:
        _profile(bm, args)
        return
    variants = ["naive", "naive+" + args.preset, "ewc", "si"]
    times: dict[str, list[float]] = {v: [] for v in variants}
    memory = None
    for r in range(args.repeats):
        order = variants[r % len(variants):] + variants[: r % len(variants)]
        for variant in order:
            strategy, model, plugins = _strategy(variant, args.preset, args.mb)
            strategy.train(bm.train_stream[0])
            start = time.perf_counter()
            strategy.train(bm.train_stream[1])
            times[variant].append(time.perf_counter() - start)
            if plugins and memory is None:
                params = sum(p.numel() * p.element_size() for p in model.parameters())
                memory = _plugin_bytes(plugins) / params
    naive = times["naive"]
    ratios = {v: statistics.median(t / n for t, n in zip(times[v], naive)) for v in variants}
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), platform.processor())
    result = {"command": "python benchmarks/overhead.py " + " ".join(
                  f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
                  if k in ("repeats", "preset", "mb", "threads")),
              "cpu": cpu, "threads": args.threads, "torch": torch.__version__,
              "median_seconds": {v: statistics.median(t) for v, t in times.items()},
              "median_ratio_to_naive": ratios, "extra_memory_per_parameter": memory,
              "times": times}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "overhead.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = ["# Cost of the neuromodulation stack", "", "Made by:", "", "```bash",
             result["command"], "```", "",
             f"CPU: {cpu}; {args.threads} thread(s); torch {torch.__version__}. One epoch of "
             "SplitMNIST experience 1 (after experience 0), 2x400 MLP, SGD, mini-batch "
             f"{args.mb}; {args.repeats} interleaved rounds.", "",
             "| variant | median s/epoch | median ratio to Naive |", "|---|---:|---:|"]
    for v in variants:
        lines.append(f"| {v} | {result['median_seconds'][v]:.3f} | {ratios[v]:.3f} |")
    met = "met" if ratios["naive+" + args.preset] <= TARGET else "not met"
    lines += ["", f"Target `{args.preset}` <= {TARGET:.2f}x Naive: **{met}** "
              f"({ratios['naive+' + args.preset]:.3f}).",
              f"Extra memory held by the plugin: {memory:.2f}x the parameters (target <= 3x).",
              ""]
    (out / "overhead.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

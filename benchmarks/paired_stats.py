"""Paired comparison over seeds of one strategy against others, across results files.

    python benchmarks/paired_stats.py \\
        reports/leaderboard/targets-pmnist/results.jsonl:pmnist10:full-domain \\
        reports/leaderboard/standard-pmnist/results.jsonl:pmnist10:gem

The first ``FILE:BENCHMARK:STRATEGY`` is compared with each of the others: per-seed differences
(first - other) over the seeds both finished, mean ± 95% CI (Student t), and whether the
interval excludes 0 (:func:`avalanche_neuromod.report.paired.pair_runs`). Cells of different
suites are paired only when they run the same stream under the same budget (benchmark, its
arguments, budget and learning equal), so that a seed is the same stream for both.
leaderboard.md holds the same comparison within one suite (our best against its strongest
baseline).

A case study's ``results.json`` is named ``FILE:SETTING/MODE:PRESET`` (``default/reward``); its
seeds are compared on the share of shifts solved (experiences after the first that reach
criterion) and on the mean trials to criterion, an unsolved shift counted as its rule's trials.
"""

from __future__ import annotations

import argparse
import sys

from avalanche_neuromod.leaderboard.store import read_records
from avalanche_neuromod.report.paired import pair, pair_runs


def _casestudy(path: str, where: str, preset: str) -> list[dict]:
    import json

    setting, _, mode = where.partition("/")
    out = []
    for run in json.loads(open(path, encoding="utf-8").read())["runs"]:
        if run["setting"] == setting and run["mode"] == (mode or "reward") and \
                run["preset"] == preset:
            shifts = run["trials_to_criterion"][1:]
            out.append({"seed": run["seed"], "solved": sum(t is not None for t in shifts) /
                        len(shifts), "trials": sum(run["trials_per_rule"] if t is None else t
                                                   for t in shifts) / len(shifts)})
    return out


def _runs(spec: str) -> list[dict]:
    path, bench, strategy = spec.rsplit(":", 2)
    if path.endswith(".json"):
        runs = _casestudy(path, bench, strategy)
        if not runs:
            sys.exit(f"{spec}: no runs of preset {strategy!r} in setting {bench!r}")
        return runs
    runs = [r for r in read_records(path) if r["benchmark"] == bench and
            r["strategy"] == strategy]
    if not runs:
        sys.exit(f"{spec}: no records of strategy {strategy!r} on benchmark {bench!r}")
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ours", help="FILE:BENCHMARK:STRATEGY")
    parser.add_argument("others", nargs="+", help="FILE:BENCHMARK:STRATEGY")
    args = parser.parse_args()
    ours = _runs(args.ours)
    for spec in args.others:
        if args.ours.split(":")[0].endswith(".json"):
            others = _runs(spec)
            for metric in ("solved", "trials"):
                p = pair({r["seed"]: r[metric] for r in ours},
                         {r["seed"]: r[metric] for r in others})
                print(f"{args.ours.rsplit(':', 1)[1]} - {spec.rsplit(':', 1)[1]}, {metric}, "
                      f"seeds {','.join(map(str, p['seeds']))}: {p['ours_mean']:.3f} vs "
                      f"{p['baseline_mean']:.3f}, mean {p['mean']:+.3f} ± {p['half']:.3f}: "
                      f"{p['verdict']}")
            continue
        try:
            p = pair_runs(ours, _runs(spec))
        except ValueError as err:
            sys.exit(f"{spec}: {err}")
        print(f"{args.ours.rsplit(':', 1)[1]} - {spec.rsplit(':', 1)[1]} "
              f"({spec.split(':')[0]}), seeds {','.join(map(str, p['seeds']))}: "
              f"{p['ours_mean']:.3f} vs {p['baseline_mean']:.3f}, per seed "
              f"{' '.join(f'{d:+.3f}' for d in p['differences'])}, "
              f"mean {p['mean']:+.3f} ± {p['half']:.3f}: {p['verdict']}")


if __name__ == "__main__":
    main()

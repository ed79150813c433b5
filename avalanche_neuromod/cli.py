"""Command line: ``avalanche-neuromod run`` (the case study) and ``avalanche-neuromod report``.

Bad input (names, numbers, config files, missing data, a GPU that is not there) ends with one line
on stderr naming the field, and exit code 2; nothing already written is touched.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from .benchmarks.mnist import DataRootError
from .config import ConfigError, load_yaml
from .strategies.presets import PresetError

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints usage + error otherwise)
        raise ConfigError(f"arguments: {message}")


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _seeds(text: str):
    parts = _csv(text)
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise ConfigError(
            f"--seeds: expected a count or a comma list of integers, got {text!r}") from None
    if len(values) == 1 and "," not in text:
        return values[0]
    return values


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="avalanche-neuromod",
                     description="Neuromodulation for continual learning (Avalanche).")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the Go/No-Go case study (default: 10 seeds)")
    run.add_argument("--config", help="YAML file merged over the built-in case-study config")
    run.add_argument("--seeds", help="number of seeds, or a comma list of seeds")
    run.add_argument("--presets", help="comma list of presets (default none,da,da+na)")
    run.add_argument("--learning", help="comma list of learning modes: reward,supervised")
    run.add_argument("--out", default="reports/casestudy", help="output folder")
    run.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda[:N]")
    run.add_argument("--workers", type=int, default=None, help="local worker processes (CPU)")
    run.add_argument("--wandb", action="store_true",
                     help="log every run to Weights & Biases (offline without an API key)")
    run.add_argument("--wandb-dir", default=None, help="W&B run directory (default ./wandb)")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    board = sub.add_parser("leaderboard", help="run a suite (resumes: finished cells are kept)")
    board.add_argument("suite", help="suite YAML file, or the name of one in benchmarks/")
    board.add_argument("--seeds", help="number of seeds, or a comma list of seeds")
    board.add_argument("--workers", type=int, default=1, help="local worker processes (CPU)")
    board.add_argument("--out", default=None,
                       help="output folder (default reports/leaderboard/<suite>)")
    board.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda[:N]")
    board.add_argument("--data-root", default=None,
                       help="local data root (MNIST/raw/...); default $AVALANCHE_NEUROMOD_DATA, "
                            "else Avalanche's default folder (downloads)")
    board.add_argument("--wandb", action="store_true", help="one W&B run per cell")
    board.add_argument("--wandb-dir", default=None, help="W&B run directory")
    board.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    report = sub.add_parser("report", help="rebuild a report from results.json (case study) "
                            "or results.jsonl (leaderboard)")
    report.add_argument("results", help="path to results.json or results.jsonl")
    report.add_argument("--out", default=None, help="output folder (default: next to results)")
    select = sub.add_parser("select", help="select a preset's hyper-parameters on a validation "
                            "stream of a suite's benchmarks (never the test stream)")
    select.add_argument("suite", help="suite YAML file, or the name of one in benchmarks/")
    select.add_argument("--strategy", required=True, help="the preset to tune")
    select.add_argument("--grid", required=True,
                        help="YAML grid: dotted preset paths -> candidate values")
    select.add_argument("--trials", type=int, default=8,
                        help="candidates tried (drawn from the grid when it is larger)")
    select.add_argument("--validation", type=float, default=0.1,
                        help="fraction of each training experience held out (default 0.1)")
    select.add_argument("--seeds", help="number of seeds, or a comma list of seeds")
    select.add_argument("--workers", type=int, default=1, help="local worker processes (CPU)")
    select.add_argument("--out", default=None,
                        help="output folder (default reports/selection/<suite>-select-<preset>)")
    select.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda[:N]")
    select.add_argument("--data-root", default=None, help="local data root (MNIST/raw/...)")
    select.add_argument("--write", action="store_true",
                        help="write the winner into strategies/<preset>.yaml")
    select.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def _run(args, argv) -> int:
    from .casestudy import run_casestudy, validate_config
    from .report import format_table, summarize

    config = {}
    if args.config:
        config = load_yaml(args.config)
        source = args.config
    else:
        source = "config"
    if config is not None and not isinstance(config, dict):
        raise ConfigError(f"{source}: must be a mapping of settings")
    config = dict(config or {})
    if args.seeds is not None:
        config["seeds"] = _seeds(args.seeds)
    if args.presets is not None:
        config["presets"] = _csv(args.presets)
    if args.learning is not None:
        config["learning"] = _csv(args.learning)
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers: must be >= 1, got {args.workers}")
    validate_config(config, source=source)  # before anything runs or is written
    wandb_options = {"dir": args.wandb_dir, "group": "casestudy"} if args.wandb else None
    command = " ".join(["avalanche-neuromod", *map(shlex.quote, argv)])
    results = run_casestudy(config, out_dir=args.out, device=args.device, workers=args.workers,
                            command=command, wandb_options=wandb_options,
                            progress=not args.no_progress)
    print(format_table(summarize(results)))
    print(f"\nreport: {Path(args.out) / 'report.md'}  ({results['wall_time']:.0f} s, "
          f"{len(results['runs'])} runs on {results['device']})")
    return 0


def _leaderboard(args, argv) -> int:
    from .leaderboard import load_suite, run_suite
    from .report.leaderboard import write_leaderboard

    if args.workers < 1:
        raise ConfigError(f"--workers: must be >= 1, got {args.workers}")
    seeds = _seeds(args.seeds) if args.seeds is not None else None
    suite = load_suite(args.suite, seeds=seeds)
    out = Path(args.out) if args.out else Path("reports") / "leaderboard" / suite["name"]
    from .casestudy import resolve_device

    resolve_device(args.device)  # a GPU asked for but absent fails before anything runs
    if args.data_root is not None:
        from .benchmarks.mnist import DATA_ENV, resolve_data_root

        os.environ[DATA_ENV] = str(resolve_data_root(args.data_root))
    command = " ".join(["avalanche-neuromod", *map(shlex.quote, argv)])
    wandb_options = {"dir": args.wandb_dir, "group": suite["name"]} if args.wandb else None
    summary = run_suite(suite, out_dir=out, workers=args.workers, device=args.device,
                        wandb_options=wandb_options, progress=not args.no_progress,
                        command=command)
    path = write_leaderboard(out / "results.jsonl")
    if wandb_options is not None:
        from .report.leaderboard import log_leaderboard_to_wandb

        log_leaderboard_to_wandb(out / "results.jsonl", suite=suite["name"],
                                 dir=wandb_options.get("dir"))
    print(f"{summary['ran']} cells run, {summary['skipped']} already finished; "
          f"leaderboard: {path}")
    return 0


def _select(args, argv) -> int:
    from .casestudy import resolve_device
    from .leaderboard.selection import run_selection

    if args.workers < 1:
        raise ConfigError(f"--workers: must be >= 1, got {args.workers}")
    resolve_device(args.device)
    if args.data_root is not None:
        from .benchmarks.mnist import DATA_ENV, resolve_data_root

        os.environ[DATA_ENV] = str(resolve_data_root(args.data_root))
    command = " ".join(["avalanche-neuromod", *map(shlex.quote, argv)])
    result = run_selection(args.suite, preset=args.strategy, grid=args.grid,
                           trials=args.trials, validation=args.validation,
                           seeds=_seeds(args.seeds) if args.seeds is not None else None,
                           workers=args.workers, device=args.device, out_dir=args.out,
                           write=args.write, command=command, progress=not args.no_progress)
    for rank, row in enumerate(result["ranking"], start=1):
        print(f"{rank:3d}. {row['label']}: validation accuracy {row['score']:.4f}")
    print(f"best for {args.strategy}: {result['best']} "
          f"(validation accuracy {result['score']:.4f})")
    if result.get("written"):
        print(f"written into {result['written']}")
    return 0


def _report(args) -> int:
    from .report import format_table, load_results, summarize, write_report

    path = Path(args.results)
    if not path.is_file():
        raise ConfigError(f"results: no such file {path}")
    if path.suffix == ".jsonl":
        from .report.leaderboard import write_leaderboard

        try:
            print(f"leaderboard: {write_leaderboard(path, args.out)}")
        except ValueError as err:
            raise ConfigError(f"results: {err}") from None
        return 0
    try:
        results = load_results(path)
    except ValueError as err:
        raise ConfigError(f"results: {path} is not a valid results file ({err})") from None
    write_report(results, Path(args.out) if args.out else path.parent)
    print(format_table(summarize(results)))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        if args.command == "run":
            return _run(args, argv)
        if args.command == "select":
            return _select(args, argv)
        if args.command == "leaderboard":
            return _leaderboard(args, argv)
        return _report(args)
    except (ConfigError, PresetError, DataRootError) as err:
        print(f"avalanche-neuromod: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("avalanche-neuromod: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

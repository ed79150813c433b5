"""Command line: ``avalanche-neuromod run`` (the case study) and ``avalanche-neuromod report``.

Bad input (names, numbers, config files, missing data, a GPU that is not there, an unusable
checkpoint) ends with one line on stderr naming the field, and exit code 2; nothing already written
is touched. ``train`` runs one cell checkpointed after every experience (``--resume`` continues a
killed run); a run stopped by too many non-finite updates in a row ends with one line and exit
code 3 (see docs/reliability.md).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from .config import ConfigError, check_seed, check_workers, load_yaml
from .errors import CheckpointError, DataRootError, NumericalFaultError, PresetError
from .leaderboard.store import WriteFailedError, output_lock
from .outputs import OutputError, check_output_dir, inside, write_or_fallback
from .threads import intra_op_threads

EXIT_BAD_INPUT = 2
EXIT_NUMERICAL_FAULT = 3


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints usage + error otherwise)
        raise ConfigError(f"arguments: {message}")


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


SEEDS_HELP = ("a count (5: seeds 0,1,2,3,4) or a comma list of seeds (0,3); one seed alone "
              "with a trailing comma (3,)")


def _seeds(text: str):
    """``--seeds``: a count without a comma, a list with one (``3,`` is seed 3 alone)."""
    try:
        values = [int(p) for p in _csv(text)]
    except ValueError:
        raise ConfigError(f"--seeds: expected {SEEDS_HELP}, got {text!r}") from None
    if "," not in text:
        if values and values[0] < 1:
            raise ConfigError(f"--seeds: {text} is a count of seeds (N runs seeds 0..N-1); "
                              f"for seed {values[0]} alone write --seeds {values[0]},")
        return values[0] if values else []
    if any(v < 0 for v in values):
        raise ConfigError(f"--seeds: seeds are integers >= 0, got {text!r}")
    duplicate = next((v for i, v in enumerate(values) if v in values[:i]), None)
    if duplicate is not None:
        raise ConfigError(f"--seeds: duplicate seed {duplicate} in {text!r}")
    return values


WANDB_VERBOSE_HELP = "show wandb's own console output (its run summary; silenced by default)"


def build_parser() -> argparse.ArgumentParser:
    from .listing import WHAT, version_text

    parser = _Parser(prog="avalanche-neuromod",
                     description="Neuromodulation for continual learning (Avalanche).")
    parser.add_argument("--version", action="version", version=version_text())
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="list presets, suites, grids, benchmarks or models")
    listing.add_argument("what", choices=WHAT)
    listing.add_argument("--markdown", action="store_true",
                         help="presets as the page docs/presets.md")
    run = sub.add_parser("run", help="run the Go/No-Go case study (default: 10 seeds)")
    run.add_argument("--config", help="YAML file merged over the built-in case-study config")
    run.add_argument("--seeds", help=SEEDS_HELP)
    run.add_argument("--presets", help="comma list of presets (default none,da,da+na)")
    run.add_argument("--learning", help="comma list of learning modes: reward,supervised")
    run.add_argument("--out", default="runs/casestudy", help="output folder (default "
                     "runs/casestudy; the committed report: make casestudy)")
    run.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda[:N]")
    run.add_argument("--workers", type=int, default=None, help="local worker processes (CPU)")
    run.add_argument("--wandb", action="store_true",
                     help="log every run to Weights & Biases (offline without an API key)")
    run.add_argument("--wandb-dir", default=None, help="W&B run directory (default ./wandb)")
    run.add_argument("--wandb-verbose", action="store_true", help=WANDB_VERBOSE_HELP)
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    board = sub.add_parser("leaderboard", help="run a suite (resumes: finished cells are kept)")
    board.add_argument("suite", help="suite YAML file, or the name of one in benchmarks/")
    board.add_argument("--seeds", help=SEEDS_HELP)
    board.add_argument("--strategies", help="comma list of strategy labels: run only their cells "
                       "(the suite's other cells stay as they are; resume works across parts)")
    board.add_argument("--workers", type=int, default=1, help="local worker processes (CPU)")
    board.add_argument("--out", default=None,
                       help="output folder (default reports/leaderboard/<suite>)")
    board.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda[:N]")
    board.add_argument("--data-root", default=None,
                       help="local data root (MNIST/raw/...); default $AVALANCHE_NEUROMOD_DATA, "
                            "else Avalanche's default folder (downloads)")
    board.add_argument("--wandb", action="store_true", help="one W&B run per cell")
    board.add_argument("--wandb-dir", default=None, help="W&B run directory")
    board.add_argument("--wandb-verbose", action="store_true", help=WANDB_VERBOSE_HELP)
    board.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    board.add_argument("--engine", choices=("local", "ray"), default="local",
                       help="local: worker processes on this machine; ray: one Ray task per cell "
                            "(pip install 'avalanche-neuromod[ray]'; docs/scaling.md)")
    board.add_argument("--ray-address", default=None,
                       help="Ray cluster to join: host:port, or auto (RAY_ADDRESS or the latest "
                            "`ray start` here); default: start a local Ray for the run")
    board.add_argument("--cpus-per-cell", default=None, help="Ray CPUs per cell (default 1)")
    board.add_argument("--gpus-per-cell", default=None,
                       help="Ray GPUs per cell (default 0); a fraction such as 0.25 packs "
                            "several cells onto one GPU")
    board.add_argument("--max-retries", default=None,
                       help="Ray retries of a cell after a lost worker or an error (default 3)")
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
    select.add_argument("--seeds", help=SEEDS_HELP)
    select.add_argument("--workers", type=int, default=1, help="local worker processes (CPU)")
    select.add_argument("--out", default=None,
                        help="output folder (default reports/selection/<suite>-select-<preset>)")
    select.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda[:N]")
    select.add_argument("--data-root", default=None, help="local data root (MNIST/raw/...)")
    select.add_argument("--write", nargs="?", const=True, default=False, metavar="DIR",
                        help="write the winner into DIR/<preset>.yaml (default "
                        "./strategies; never into the installed package)")
    select.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    train = sub.add_parser("train", help="run one cell of a suite, checkpointed after every "
                           "experience (--resume continues a killed run)")
    train.add_argument("suite", help="suite YAML file, or the name of one in benchmarks/")
    train.add_argument("--benchmark", required=True, help="benchmark label in the suite")
    train.add_argument("--strategy", required=True, help="strategy label in the suite")
    train.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    train.add_argument("--out", default=None,
                       help="output folder (default reports/train/<suite>-<benchmark>-"
                            "<strategy>-s<seed>)")
    train.add_argument("--resume", action="store_true",
                       help="continue from the last checkpoint in --out")
    train.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda[:N]")
    train.add_argument("--data-root", default=None, help="local data root (MNIST/raw/...)")
    train.add_argument("--wandb", action="store_true", help="log the run to Weights & Biases")
    train.add_argument("--wandb-dir", default=None, help="W&B run directory")
    train.add_argument("--wandb-verbose", action="store_true", help=WANDB_VERBOSE_HELP)
    show = sub.add_parser("wandb-show", help="print an offline W&B run (config, summary, "
                          "history) without syncing it")
    show.add_argument("run_dir", help="a wandb/offline-run-*/ folder or its run-*.wandb file")
    show.add_argument("--key", default=None, help="only keys containing this text")
    verify = sub.add_parser("verify", help="re-run sampled cells of a committed results file at "
                            "the current code; exit 1 on a difference")
    verify.add_argument("results", help="results.jsonl (suite, selection) or results.json (case "
                        "study)")
    verify.add_argument("--cells", default="3", help="cells to re-run: a count (default 3, "
                        "cheapest first, one per strategy first) or all")
    verify.add_argument("--seed", type=int, default=None,
                        help="draw the cells at random with this seed instead")
    verify.add_argument("--keys", default=None, help="comma list of record keys to re-run")
    verify.add_argument("--workers", type=int, default=1, help="local worker processes (CPU)")
    verify.add_argument("--device", default="cpu", help="cpu (as committed), cuda[:N]")
    verify.add_argument("--data-root", default=None, help="local data root (MNIST/raw/...)")
    return parser


def _run(args, argv) -> int:
    from .casestudy import resolve_device, run_casestudy, validate_config
    from .report import format_table, summarize
    from .scenarios import casestudy_runs, mismatches, warn

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
    if args.workers is not None:
        check_workers(args.workers)
    cfg = validate_config(config, source=source)  # before anything runs or is written
    warn(mismatches(casestudy_runs(cfg)))  # a preset selected for another scenario
    wandb_options = {"dir": args.wandb_dir, "group": "casestudy"} if args.wandb else None
    command = " ".join(["avalanche-neuromod", *map(shlex.quote, argv)])
    resolve_device(args.device)  # both before the lock creates --out: nothing made on bad input
    check_output_dir(args.out, files=("results.json", "report.md"))
    with output_lock(args.out):  # one process at a time writes a folder
        results = run_casestudy(config, out_dir=args.out, device=args.device,
                                workers=args.workers, command=command,
                                wandb_options=wandb_options, progress=not args.no_progress)
    print(format_table(summarize(results)))
    print(f"\nreport: {Path(args.out) / 'report.md'}  ({results['wall_time']:.0f} s, "
          f"{len(results['runs'])} runs on {results['device']})")
    return 0


def _leaderboard(args, argv) -> int:
    from .leaderboard import load_suite, run_suite
    from .scenarios import mismatches, suite_runs, warn

    check_workers(args.workers)
    engine_options = _engine_options(args)
    seeds = _seeds(args.seeds) if args.seeds is not None else None
    strategies = _csv(args.strategies) if args.strategies is not None else None
    suite = load_suite(args.suite, seeds=seeds, strategies=strategies, build=False)
    warn(mismatches(suite_runs(suite)))  # a preset selected for another scenario
    out = check_output_dir(args.out or inside("reports/leaderboard", suite["name"],
                                                  field=f"{suite['source']}.name"),
                           files=("results.jsonl", "leaderboard.md"))  # before anything runs
    from .casestudy import resolve_device

    if args.engine == "local":
        resolve_device(args.device)  # a GPU asked for but absent fails before anything runs
    else:  # with Ray the GPU is the task's, on whichever node runs it
        from .leaderboard.ray_engine import task_device

        task_device(args.device, engine_options["gpus_per_cell"])
    if args.data_root is not None:
        from .benchmarks.mnist import DATA_ENV, resolve_data_root

        os.environ[DATA_ENV] = str(resolve_data_root(args.data_root))
    if args.engine == "local":
        _check_data_roots(suite)  # a data root without the data fails before any cell runs
    suite = load_suite(args.suite, seeds=seeds, strategies=strategies)  # builds (Avalanche)
    command = " ".join(["avalanche-neuromod", *map(shlex.quote, argv)])
    wandb_options = {"dir": args.wandb_dir, "group": suite["name"]} if args.wandb else None
    if wandb_options is not None and args.engine == "ray" and args.wandb_dir:
        wandb_options["dir"] = str(Path(args.wandb_dir).absolute())  # tasks run elsewhere
    summary = run_suite(suite, out_dir=out, workers=args.workers, device=args.device,
                        wandb_options=wandb_options, progress=not args.no_progress,
                        command=command, engine=args.engine, engine_options=engine_options)
    failed = summary.get("failed") or []
    if failed:
        print(f"avalanche-neuromod: {len(failed)} cell(s) failed after their retries (listed "
              f"above); the others are saved in {out / 'results.jsonl'}; run the same command "
              "again to retry only the missing cells", file=sys.stderr)
        if not (out / "results.jsonl").is_file():
            return 1
    from .report.leaderboard import write_leaderboard  # matplotlib: after the run

    try:
        path = write_leaderboard(out / "results.jsonl")
    except OSError as err:
        raise OutputError(f"cannot write the leaderboard in {out} ({err.strerror or err}); the "
                          f"records are in {out / 'results.jsonl'}") from None
    if wandb_options is not None:
        from .report.leaderboard import log_leaderboard_to_wandb

        log_leaderboard_to_wandb(out / "results.jsonl", suite=suite["name"],
                                 dir=wandb_options.get("dir"))
    print(f"{summary['ran']} cells run, {summary['skipped']} already finished; "
          f"leaderboard: {path}")
    return 1 if failed else 0


def _flag_number(text: str | None, flag: str, default, kind=float):
    if text is None:
        return default
    try:
        return kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise ConfigError(f"{flag}: must be {what}, got {text!r}") from None


def _engine_options(args) -> dict | None:
    """The Ray engine's options, checked before anything runs (None for the local engine)."""
    flags = {"--ray-address": args.ray_address, "--cpus-per-cell": args.cpus_per_cell,
             "--gpus-per-cell": args.gpus_per_cell, "--max-retries": args.max_retries}
    if args.engine == "local":
        for flag, value in flags.items():
            if value is not None:
                raise ConfigError(f"{flag}: only with --engine ray")
        return None
    if args.workers != 1:
        raise ConfigError("--workers: local engine only; with --engine ray the cluster's CPUs "
                          "are used (see --cpus-per-cell)")
    from .leaderboard.ray_engine import check_options, require_ray

    options = check_options(
        address=args.ray_address,
        cpus_per_cell=_flag_number(args.cpus_per_cell, "--cpus-per-cell", 1.0),
        gpus_per_cell=_flag_number(args.gpus_per_cell, "--gpus-per-cell", 0.0),
        max_retries=_flag_number(args.max_retries, "--max-retries", 3, int))
    require_ray()  # one line with the install command when Ray is missing
    return options


def _select(args, argv) -> int:
    from .casestudy import resolve_device
    from .leaderboard.selection import run_selection

    check_workers(args.workers)
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


def _check_data_roots(suite: dict) -> None:
    """A configured data root without the data fails before any cell runs (not mid-suite)."""
    from .benchmarks.mnist import resolve_data_root

    if any(b["name"] != "gonogo" for b in suite["benchmarks"]):
        resolve_data_root(None)  # $AVALANCHE_NEUROMOD_DATA, when set, must hold MNIST


def _train(args, argv) -> int:
    import contextlib

    with contextlib.ExitStack() as held:  # the output folder's lock, once it is known
        return _train_cell(args, argv, held)


def _train_cell(args, argv, held) -> int:
    import json
    import warnings

    from .leaderboard import load_suite, suite_cells
    from .leaderboard.spec import SEED_LIMIT

    check_seed(args.seed, field="--seed", limit=SEED_LIMIT)
    suite = load_suite(args.suite, seeds=[args.seed], build=False)
    cells = suite_cells(suite)
    labels = list(dict.fromkeys(c.benchmark for c in cells))
    if args.benchmark not in labels:
        raise ConfigError(f"--benchmark: no benchmark {args.benchmark!r} in {suite['source']}; "
                          f"choose from {', '.join(labels)}")
    cells = [c for c in cells if c.benchmark == args.benchmark]
    strategies = [c.strategy for c in cells]
    if args.strategy not in strategies:
        raise ConfigError(f"--strategy: no strategy {args.strategy!r} for benchmark "
                          f"{args.benchmark!r} in {suite['source']}; choose from "
                          f"{', '.join(strategies)}")
    cell = next(c for c in cells if c.strategy == args.strategy)
    from .scenarios import mismatches, scenario, warn

    warn(mismatches([(cell.preset, scenario(cell.benchmark_name, cell.benchmark_args,
                                            cell.learning))]))
    from .casestudy import resolve_device
    from .leaderboard.runner import checkpoint_path, run_suite_cell
    from .parallel import run_cells

    device = resolve_device(args.device)  # a GPU asked for but absent fails here
    if args.data_root is not None:
        from .benchmarks.mnist import DATA_ENV, resolve_data_root

        os.environ[DATA_ENV] = str(resolve_data_root(args.data_root))
    _check_data_roots(suite)
    load_suite(args.suite, seeds=[args.seed], strategies=[args.strategy])  # builds (Avalanche)
    out = check_output_dir(args.out or inside(
        "reports/train", f"{suite['name']}-{cell.benchmark}-{cell.strategy}-s{cell.seed}",
        field="--out"), files=("record.json",))  # before anything runs
    held.enter_context(output_lock(out))  # one process at a time writes a folder
    record_path, ckpt_dir = out / "record.json", out / "checkpoints"
    checkpoint = checkpoint_path(ckpt_dir, cell)
    if record_path.is_file():
        try:
            done = json.loads(record_path.read_text())
        except (OSError, ValueError):
            done = None
        if not isinstance(done, dict) or done.get("key") != cell.key:
            raise ConfigError(f"--out: {record_path} holds another run; choose another --out")
        if not args.resume:
            raise ConfigError(f"--out: {record_path} already holds this run; pass --resume to "
                              "keep it, or choose another --out")
        print(f"already finished: {record_path}")
        return 0
    if checkpoint.is_file() and not args.resume:
        raise ConfigError(f"--out: {checkpoint} holds a started run; pass --resume to continue "
                          "it, or choose another --out")
    other = next((p for p in sorted(ckpt_dir.glob("*.pt")) if p != checkpoint and not
                  p.name.endswith("-fault.pt")), None) if not checkpoint.is_file() else None
    if other is not None:  # the suite or a preset changed since: never strand that run
        raise ConfigError(f"--out: {other} is a run started with another config (this one's "
                          f"hash is {cell.config_hash}: the suite or its presets changed); "
                          "resume it with the suite it started with, or choose another --out")
    if args.resume and not checkpoint.is_file():
        print(f"avalanche-neuromod: note: no checkpoint of this run in {ckpt_dir}; starting "
              "from the first experience", file=sys.stderr)
    command = " ".join(["avalanche-neuromod", *map(shlex.quote, argv)])
    wandb_options = {"dir": args.wandb_dir, "group": suite["name"]} if args.wandb else None

    def one_line(message, category, *rest, **kwargs):
        if not issubclass(category, (DeprecationWarning, PendingDeprecationWarning)):
            print(f"avalanche-neuromod: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = one_line
        [record] = run_cells(run_suite_cell, [cell], workers=1, device=device, desc="train",
                             progress=False,
                             kwargs=dict(device=str(device), wandb_options=wandb_options,
                                         command=command, checkpoint_dir=ckpt_dir,
                                         resume=args.resume))
    write_or_fallback(record_path, json.dumps(record, sort_keys=True, indent=1) + "\n",
                      what="record")
    fwt = "n/a" if record["fwt"] is None else f"{record['fwt']:.4f}"
    print(f"{cell.benchmark} / {cell.strategy} / seed {cell.seed}: final accuracy "
          f"{record['final_accuracy']:.4f}, forgetting {record['forgetting']}, fwt {fwt}; "
          f"record: {record_path}" + (f", checkpoint: {checkpoint}" if checkpoint.is_file()
                                        else ""))
    return 0


def _report(args) -> int:
    from .report import format_table, load_results, summarize, write_report

    path = Path(args.results)
    if not path.is_file():
        raise ConfigError(f"results: no such file {path}")
    check_output_dir(args.out or path.parent, field="--out" if args.out else "results",
                     files=("leaderboard.md",) if path.suffix == ".jsonl" else ("report.md",))
    if path.suffix == ".jsonl":
        import warnings

        from .leaderboard.store import RecordWarning, read_checked
        from .report.leaderboard import write_leaderboard

        records, problems = read_checked(path)  # each line checked: one line per problem
        if problems and not records:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise ConfigError(f"results: {problems[0]}{more}; no record to report")
        for problem in problems:
            print(f"avalanche-neuromod: warning: {problem}", file=sys.stderr)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RecordWarning)  # said above
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
        intra_op_threads()  # a bad $AVALANCHE_NEUROMOD_THREADS fails before anything runs
        if getattr(args, "wandb", False) and not args.wandb_verbose:  # workers inherit it
            os.environ.setdefault("WANDB_SILENT", "true")  # wandb's ~40 lines per run
        if args.command == "wandb-show":
            from .logging.offline import show_command

            return show_command(args)
        if args.command == "run":
            return _run(args, argv)
        if args.command == "list":
            from .listing import list_command

            return list_command(args)
        if args.command == "select":
            return _select(args, argv)
        if args.command == "leaderboard":
            return _leaderboard(args, argv)
        if args.command == "train":
            return _train(args, argv)
        if args.command == "verify":
            from .leaderboard.verify import verify_command

            return verify_command(args)
        return _report(args)
    except (ConfigError, PresetError, DataRootError, CheckpointError) as err:
        print(f"avalanche-neuromod: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except NumericalFaultError as err:
        print(f"avalanche-neuromod: error: {err}", file=sys.stderr)
        return EXIT_NUMERICAL_FAULT
    except (OutputError, WriteFailedError) as err:  # not written where asked (a full disk)
        print(f"avalanche-neuromod: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM with worker processes
        signum = getattr(err, "signum", 2)
        print(f"avalanche-neuromod: interrupted ({'SIGTERM' if signum == 15 else 'Ctrl-C'}); "
              "finished cells are kept, run the same command again to go on", file=sys.stderr)
        return 128 + signum


if __name__ == "__main__":
    sys.exit(main())

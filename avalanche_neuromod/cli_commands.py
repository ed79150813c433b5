"""The command line's commands: ``run``, ``leaderboard``, ``select``, ``train`` and ``report``.

Each checks its arguments before anything runs or is written and raises the project's errors;
``avalanche_neuromod.cli.main`` turns those into one line on stderr and the exit code. Heavy modules
(torch, Avalanche, wandb, matplotlib, Ray) are imported inside the command that needs them.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from .cli_parser import _csv, _seeds
from .config import ConfigError, check_seed, check_workers, load_yaml
from .leaderboard.store import output_lock
from .outputs import OutputError, check_output_dir, inside, write_or_fallback


def _run(args, argv) -> int:
    from .casestudy import run_casestudy, validate_config
    from .report import format_table, summarize
    from .runtime import resolve_device
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
    from .runtime import resolve_device

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
    from .leaderboard.selection import parse_seed_list, run_selection
    from .runtime import resolve_device

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
                           write=args.write, command=command, progress=not args.no_progress,
                           validation_seeds=parse_seed_list(args.validation_seeds),
                           objective=args.objective)
    what = "validation accuracy" if args.objective == "final" else "shifts learnt"
    for rank, row in enumerate(result["ranking"], start=1):
        extra = f", accuracy on new rules {row['acquisition']:.4f}" if "acquisition" in row \
            else ""
        print(f"{rank:3d}. {row['label']}: {what} {row['score']:.4f}{extra}")
    print(f"best for {args.strategy}: {result['best']} ({what} {result['score']:.4f}, "
          f"validation seeds {', '.join(map(str, result['seeds']))})")
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
    from .leaderboard.runner import checkpoint_path, run_suite_cell
    from .parallel import run_cells
    from .runtime import resolve_device

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

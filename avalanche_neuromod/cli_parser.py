"""The command line's parser: ``build_parser`` and the argument helpers the commands share.

Parsing imports nothing heavy (no torch, Avalanche, wandb, matplotlib or Ray; see
tests/test_startup.py): each command imports what it needs when it runs. A parse error is a
``ConfigError``, so it ends like any other bad input (one line on stderr, exit code 2; see
``avalanche_neuromod.cli``).
"""

from __future__ import annotations

import argparse

from .config import ConfigError


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
    select.add_argument("--seeds", help=SEEDS_HELP + " (the suite's test seeds; each is "
                        "selected on seed + 1000)")
    select.add_argument("--validation-seeds", default=None, metavar="S,S,...",
                        help="seeds to select on instead (disjoint from the test seeds)")
    select.add_argument("--objective", default="final",
                        help="final (accuracy, default), or shifts (learnt to criterion: "
                        "reward-driven set-shifting streams)")
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

"""Command line: ``avalanche-neuromod run`` (the case study) and ``avalanche-neuromod report``.

Bad input (names, numbers, config files, missing data, a GPU that is not there, an unusable
checkpoint) ends with one line on stderr naming the field, and exit code 2; nothing already written
is touched. ``train`` runs one cell checkpointed after every experience (``--resume`` continues a
killed run); a run stopped by too many non-finite updates in a row ends with one line and exit
code 3 (see docs/reliability.md).

This module maps the errors to exit codes and dispatches; the parser is in ``cli_parser``, the
commands in ``cli_commands``.
"""

from __future__ import annotations

import os
import sys

from .cli_commands import _leaderboard, _report, _run, _select, _train
from .cli_parser import _seeds as _seeds  # re-exported: tests/test_cli.py imports it from here
from .cli_parser import build_parser
from .config import ConfigError
from .errors import CheckpointError, DataRootError, NumericalFaultError, PresetError
from .leaderboard.store import WriteFailedError
from .outputs import OutputError
from .startup import defer_unused_imports
from .threads import intra_op_threads

EXIT_BAD_INPUT = 2
EXIT_NUMERICAL_FAULT = 3


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    defer_unused_imports()  # wandb, gdown lazy; jax hidden from qpsolvers (startup.py)
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

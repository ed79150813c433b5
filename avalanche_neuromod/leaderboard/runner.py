"""Run a suite: every cell once, the driver alone appending finished cells (resumable)."""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path

import torch

from ..config import ConfigError
from ..runtime import git_commit, resolve_device, versions
from .eval_cache import cache_eval_batches
from .evals import eval_draws, repeats, skip_initial_eval
from .spec import SuiteCell, suite_cells
from .store import append_record, output_lock, read_records

ACC = "Top1_Acc_Exp/eval_phase/test_stream"
STREAM = "eval_phase/test_stream"


def _optimizer(model: torch.nn.Module, spec: dict) -> torch.optim.Optimizer:
    if spec["name"] == "adam":
        return torch.optim.Adam(model.parameters(), lr=spec["lr"])
    return torch.optim.SGD(model.parameters(), lr=spec["lr"], momentum=spec.get("momentum", 0.0))


def _benchmark(cell: SuiteCell):
    from ..benchmarks import call_args, get_benchmark

    return get_benchmark(cell.benchmark_name, seed=cell.seed,
                         **call_args(cell.benchmark_name, cell.benchmark_args))


def _input_size(bm) -> int:
    size = getattr(bm, "input_size", None)
    if size is not None:
        return int(size)
    x = bm.train_stream[0].dataset[0][0]
    return int(x.numel())


def _n_classes(bm) -> int:
    n = getattr(bm, "n_classes", None)
    if n is not None:
        return int(n)
    return len({c for exp in bm.train_stream for c in exp.classes_in_this_experience})


def _acc_name(exp_id: int, task: int | None) -> str:
    return f"{ACC}/Task{task:03d}/Exp{exp_id:03d}" if task is not None else \
        f"{ACC}/Exp{exp_id:03d}"


def is_joint(preset: dict) -> bool:
    """Joint training (Avalanche's ``JointTraining``) sees the whole stream in one experience."""
    return (preset.get("baseline") or {}).get("class") == "JointTraining"


def _row(results: dict, n_exp: int) -> list[float | None]:
    row = []
    for j in range(n_exp):
        value = None
        for name, v in results.items():
            if name.startswith(ACC) and name.endswith(f"/Exp{j:03d}"):
                value = float(v)
        row.append(value)
    return row


def _stream_metric(results: dict, prefix: str) -> float | None:
    for name, value in results.items():
        if name.startswith(f"{prefix}/{STREAM}"):
            return float(value)
    return None


def checkpoint_path(checkpoint_dir: str | Path, cell: SuiteCell) -> Path:
    """Where ``cell``'s checkpoint lives: ``<dir>/<benchmark>-<strategy>-s<seed>-<hash>.pt``."""
    stem = re.sub(r"[^A-Za-z0-9_.+-]+", "_", f"{cell.benchmark}-{cell.strategy}-s{cell.seed}")
    return Path(checkpoint_dir) / f"{stem}-{cell.config_hash}.pt"


def _numbers(results: dict) -> dict[str, float]:
    """The scalar metric values of an eval, as floats (what a record is made of)."""
    out = {}
    for name, value in results.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = float(value)
        elif isinstance(value, torch.Tensor) and value.numel() == 1:
            out[name] = float(value)
    return out


def run_suite_cell(cell: SuiteCell, *, device: str = "cpu",
                   wandb_options: dict | None = None, command: str | None = None,
                   checkpoint_dir: str | Path | None = None,
                   resume: bool | str = False) -> dict:
    """Train one cell, evaluating the whole test stream after each experience.

    With ``checkpoint_dir`` the run is saved after every experience
    (:func:`checkpoint_path`, see :mod:`avalanche_neuromod.checkpoint`); ``resume=True``
    continues from that checkpoint when there is one (an unusable one raises
    :class:`~avalanche_neuromod.checkpoint.CheckpointError`), ``resume="auto"`` restarts the cell
    instead, with a warning. The record of a resumed run equals the uninterrupted one (on CPU,
    bit for bit) except ``wall_time``. A strategy that cannot resume mid-stream
    (:func:`~avalanche_neuromod.checkpoint.resume_blocker`) writes no checkpoint and restarts.
    """
    from ..determinism import deterministic

    with deterministic(cell.seed):
        return _run_cell(cell, device=device, wandb_options=wandb_options, command=command,
                         checkpoint_dir=checkpoint_dir, resume=resume)


def _run_cell(cell: SuiteCell, *, device, wandb_options, command, checkpoint_dir,
              resume) -> dict:
    from ..checkpoint import (
        CheckpointError,
        check_compatible,
        load_checkpoint,
        restore,
        restore_rng,
        resume_blocker,
        save_checkpoint,
    )
    from ..evaluation import continual_evaluator
    from ..models import build_model
    from ..plugins import modulator_signal_metrics
    from ..plugins.guard import (
        GuardMetric,
        NumericalFaultError,
        NumericalGuardPlugin,
        install_guard,
    )
    from ..strategies.registry import build_strategy

    start = time.perf_counter()
    bm = _benchmark(cell)
    multihead = bool(cell.benchmark_args.get("return_task_id", False))
    budget = cell.budget
    model = build_model(input_size=_input_size(bm), n_classes=_n_classes(bm), multihead=multihead,
                        **budget["model"])
    optimizer = _optimizer(model, budget["optimizer"])
    loggers = []
    if wandb_options is not None:
        from ..logging import WandBLogger

        loggers.append(WandBLogger(
            run_name=f"{cell.benchmark}-{cell.strategy}-s{cell.seed}",
            group=wandb_options.get("group") or cell.suite, job_type=cell.strategy,
            dir=wandb_options.get("dir"), config=cell.config))
    evaluator = continual_evaluator(*modulator_signal_metrics(every=10), GuardMetric(),
                                    loggers=loggers)
    iterations = budget.get("iterations")  # optimizer steps per experience, instead of epochs
    if iterations is not None and is_joint(cell.preset):
        iterations *= len(bm.train_stream)  # one experience: the whole stream's steps
    strategy = build_strategy(
        cell.preset, model=model, optimizer=optimizer, learning=cell.learning,
        train_mb_size=budget["train_mb_size"],
        train_epochs=budget["epochs"] if iterations is None else iterations,
        eval_mb_size=budget["eval_mb_size"], device=device, evaluator=evaluator, eval_every=0)
    if iterations is not None:
        from ..plugins.iterations import IterationBudgetPlugin

        strategy.plugins.append(IterationBudgetPlugin(iterations=iterations))
    path = Path(checkpoint_path(checkpoint_dir, cell)) if checkpoint_dir is not None else None
    n_exp = len(bm.train_stream)
    matrix: list = []
    last: dict = {}
    done, elapsed = 0, 0.0

    def on_fault(strategy, message: str):
        if path is None:
            return None
        fault = path.with_name(f"{path.stem}-fault.pt")
        save_checkpoint(fault, strategy=strategy, experience_index=done - 1, matrix=matrix,
                        extra={"key": cell.key, "fault": message}, strict=False,
                        resumable=False)
        return fault

    guard = install_guard(strategy, NumericalGuardPlugin(on_fault=on_fault))
    blocker = resume_blocker(strategy)
    if path is not None and blocker is not None:
        warnings.warn(f"{cell.strategy} is not checkpointed mid-stream ({blocker}): an "
                      "interrupted run restarts from its first experience", stacklevel=2)
    if resume and path is not None and path.is_file():
        state = None
        try:
            if blocker is not None:
                raise CheckpointError(f"checkpoint: {cell.strategy} cannot resume mid-stream "
                                      f"({blocker})")
            state = load_checkpoint(path)
            if state["extra"].get("key") != cell.key or not state.get("resumable"):
                raise CheckpointError(f"checkpoint: {path} belongs to another run")
            try:
                check_compatible(strategy, state)
            except CheckpointError as err:
                raise CheckpointError(f"{err} ({path}, written by other code)") from None
        except CheckpointError as err:
            if resume != "auto" and blocker is None:
                raise
            warnings.warn(f"{err}; restarting {cell.key} from its first experience",
                          stacklevel=2)
            state = None
        if state is not None:
            try:
                done = int(state["experience"]) + 1
                restore(strategy, state, train_stream=bm.train_stream,
                        test_stream=bm.test_stream, experiences=done)
                matrix = [list(row) for row in state["matrix"]]
                last = dict(state["extra"].get("last") or {})
                elapsed = float(state["extra"].get("elapsed", 0.0))
                restore_rng(state)  # last: building the run above drew random numbers
            except Exception as err:  # a damaged file that loads: nothing of it can be trusted
                why = CheckpointError(f"{err} ({path})") if isinstance(err, CheckpointError) \
                    else CheckpointError(f"checkpoint: {path} is damaged ({type(err).__name__}: "
                                         f"{str(err).splitlines()[0][:100] if str(err) else ''})")
                if resume != "auto":
                    raise why from None
                warnings.warn(f"{why}; restarting {cell.key} from its first experience",
                              stacklevel=2)
                for logger in loggers:
                    logger.close()
                # the strategy may be half restored: build the run again, from its seed
                return run_suite_cell(cell, device=device, wandb_options=wandb_options,
                                      command=command, checkpoint_dir=checkpoint_dir,
                                      resume=False)
    try:
        if is_joint(cell.preset):  # the upper bound: one model trained on the whole stream
            strategy.train(bm.train_stream)
            last = strategy.eval(bm.test_stream)
            matrix.append(_row(last, n_exp))
        experiences = [] if is_joint(cell.preset) else list(bm.train_stream)
        initial, final = repeats(strategy)  # evaluations of unchanged weights (evals.py)
        if getattr(bm, "fixed_eval_data", False):  # the test batches read once (eval_cache.py)
            cache_eval_batches(strategy)
        for index in range(done, len(experiences)):
            if initial and index > 0:  # the last eval (or the checkpoint's) again: its draws
                skip_initial_eval(strategy)
                eval_draws(bm.test_stream)
            last = strategy.train(experiences[index], eval_streams=[bm.test_stream])
            if final:  # eval_every=0 has just evaluated the test stream, these weights
                eval_draws(bm.test_stream)
            else:
                last = strategy.eval(bm.test_stream)
            matrix.append(_row(last, n_exp))
            done = index + 1
            if path is not None and blocker is None:
                save_checkpoint(path, strategy=strategy, experience_index=index, matrix=matrix,
                                extra={"key": cell.key, "last": _numbers(last),
                                       "elapsed": elapsed + time.perf_counter() - start})
        if not guard.weights_finite(strategy):  # never a ranked record of non-finite weights
            raise NumericalFaultError(f"numerical fault: the weights are not finite at the end "
                                      f"of training ({guard.skipped} updates skipped or undone)")
        record = {
            "key": cell.key, "suite": cell.suite, "benchmark": cell.benchmark,
            "scenario": cell.benchmark_name, "strategy": cell.strategy, "seed": cell.seed,
            "config": cell.config, "config_hash": cell.config_hash,
            "final_accuracy": _stream_metric(last, "Top1_Acc_Stream"),
            "accuracy_matrix": matrix,
            "forgetting": _stream_metric(last, "StreamForgetting"),
            "bwt": _stream_metric(last, "StreamBWT"),
            "fwt": _stream_metric(last, "StreamForwardTransfer"),
            "wall_time": round(elapsed + time.perf_counter() - start, 3), "device": str(device),
            "eval_stream": "validation" if cell.benchmark_args.get("validation") else "test",
            "target": cell.target,
            "versions": versions(), "git_commit": git_commit(), "command": command,
        }
        if is_joint(cell.preset):  # one training phase: no forgetting or transfer to speak of
            record.update(forgetting=None, bwt=None, fwt=None)
        inferred = inferred_situation(strategy)
        if inferred is not None:  # what the adaptive default inferred (plugins/_adaptive.py)
            record["inferred"] = inferred
        for logger in loggers:
            logger.log_summary({k: record[k] for k in ("final_accuracy", "forgetting", "bwt",
                                                       "fwt", "wall_time")}
                               | {f"inferred/{k}": v for k, v in (inferred or {}).items()})
    finally:
        for logger in loggers:
            logger.close()
    return record


def inferred_situation(strategy) -> dict | None:
    """What the adaptive options of the strategy's neuromodulation plugin inferred, or ``None``
    when no plugin leaves an option to the situation."""
    for plugin in strategy.plugins:
        adaptive = getattr(plugin, "_adaptive", None)
        if callable(adaptive) and adaptive():
            return plugin.inferred()
    return None


def remove_checkpoint(checkpoint_dir: str | Path, cell: SuiteCell, *,
                      keep_fault: bool = False) -> None:
    """Delete ``cell``'s checkpoint (once its record is safely appended); its fault checkpoint
    too unless ``keep_fault`` (a diverged record names it: it stays where the record says)."""
    path = checkpoint_path(checkpoint_dir, cell)
    fault = path.with_name(f"{path.stem}-fault.pt")
    for stale in (path,) if keep_fault else (path, fault):
        try:
            stale.unlink()
        except FileNotFoundError:
            pass


def run_suite(suite: dict, *, out_dir: str | Path, workers: int = 1, device: str | None = None,
              wandb_options: dict | None = None, progress: bool = True,
              command: str | None = None, engine: str = "local",
              engine_options: dict | None = None) -> dict:
    """Run every unfinished cell of ``suite``; append each to ``out_dir/results.jsonl``.

    ``engine="local"`` runs cells on local worker processes (``workers``); ``engine="ray"`` runs
    each cell as a Ray task (``engine_options``: ``address``, ``cpus_per_cell``,
    ``gpus_per_cell``, ``max_retries``; see :mod:`.ray_engine`). Either way the driver alone
    appends finished cells, so a suite can be resumed with either engine. With Ray, cells whose
    retries ran out are listed under ``"failed"`` (their keys) instead of raising. One process at
    a time writes ``out_dir`` (:func:`~.store.output_lock`).
    """
    if engine not in ("local", "ray"):
        raise ConfigError(f"--engine: unknown engine {engine!r}; choose from local, ray")
    with output_lock(out_dir):
        return _run_suite(suite, out_dir=Path(out_dir), workers=workers, device=device,
                          wandb_options=wandb_options, progress=progress, command=command,
                          engine=engine, engine_options=engine_options)


def _run_suite(suite: dict, *, out_dir: Path, workers, device, wandb_options, progress, command,
               engine, engine_options) -> dict:
    from ..parallel import run_cells

    results = out_dir / "results.jsonl"
    done = {r["key"]: r for r in read_records(results)}
    todo = [c for c in suite_cells(suite) if c.key not in done]
    checkpoints = out_dir / "checkpoints"  # in-progress cells resume from here
    for cell in suite_cells(suite):  # a kill between append and delete left these behind
        if cell.key in done:
            remove_checkpoint(checkpoints, cell,
                              keep_fault=done[cell.key].get("status") == "diverged")

    def finished(index: int, record: dict) -> None:
        append_record(results, record)
        # the record holds all of it now (a diverged one names its fault checkpoint: kept)
        remove_checkpoint(checkpoints, todo[index], keep_fault=record.get("status") == "diverged")

    if engine == "ray":  # the device is resolved in each task: the driver may have no GPU
        from .ray_engine import check_options, run_cells_ray, task_device

        opts = check_options(**(engine_options or {}))
        failed: list[str] = []
        run_cells_ray(_run_one, todo, **opts, desc=f"suite {suite['name']}", progress=progress,
                      kwargs=dict(device=task_device(device, opts["gpus_per_cell"]),
                                  wandb_options=wandb_options, command=command,
                                  checkpoint_dir=str(checkpoints.absolute()), resume="auto"),
                      on_result=finished, on_failure=lambda i, _: failed.append(todo[i].key))
        return {"skipped": len(done), "ran": len(todo) - len(failed), "failed": failed,
                "results": str(results)}
    dev = resolve_device(device)
    run_cells(_run_one, todo, workers=workers, device=dev, desc=f"suite {suite['name']}",
              unit="cell", progress=progress,
              kwargs=dict(device=str(dev), wandb_options=wandb_options, command=command,
                          checkpoint_dir=str(checkpoints), resume="auto"),
              on_result=finished)
    return {"skipped": len(done), "ran": len(todo), "results": str(results)}


def diverged_record(cell: SuiteCell, error: Exception, *, device: str = "cpu",
                    command: str | None = None, wall_time: float | None = None) -> dict:
    """The record of a cell whose training diverged (a :class:`NumericalFaultError`).

    A strategy that cannot train under the suite's budget is a result, not a crash: the suite
    goes on, the record says ``status: diverged`` and why (the fault checkpoint is named in the
    message), its metrics are null, and the report counts it per strategy instead of averaging
    it in. Re-running the suite does not retry it (delete the line to do so).
    """
    return {
        "key": cell.key, "suite": cell.suite, "benchmark": cell.benchmark,
        "scenario": cell.benchmark_name, "strategy": cell.strategy, "seed": cell.seed,
        "config": cell.config, "config_hash": cell.config_hash, "status": "diverged",
        "error": str(error), "final_accuracy": None, "accuracy_matrix": [],
        "forgetting": None, "bwt": None, "fwt": None, "wall_time": wall_time,
        "device": str(device), "eval_stream": "validation" if cell.benchmark_args.get(
            "validation") else "test", "target": cell.target, "versions": versions(),
        "git_commit": git_commit(), "command": command,
    }


def _run_one(cell: SuiteCell, **kwargs) -> dict:
    from ..plugins.guard import NumericalFaultError

    start = time.perf_counter()
    try:
        # looked up at call time, so the runner can be wrapped (tests spy on run_suite_cell)
        return run_suite_cell(cell, **kwargs)
    except NumericalFaultError as err:
        warnings.warn(f"{cell.key}: diverged, recorded as such ({err})", stacklevel=1)
        return diverged_record(cell, err, device=kwargs.get("device", "cpu"),
                               command=kwargs.get("command"),
                               wall_time=round(time.perf_counter() - start, 3))

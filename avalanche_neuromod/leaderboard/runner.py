"""Run a suite: every cell once, the driver alone appending finished cells (resumable)."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ..casestudy import git_commit, resolve_device, versions
from .spec import SuiteCell, suite_cells
from .store import append_record, finished_keys

ACC = "Top1_Acc_Exp/eval_phase/test_stream"
STREAM = "eval_phase/test_stream"


def _optimizer(model: torch.nn.Module, spec: dict) -> torch.optim.Optimizer:
    if spec["name"] == "adam":
        return torch.optim.Adam(model.parameters(), lr=spec["lr"])
    return torch.optim.SGD(model.parameters(), lr=spec["lr"], momentum=spec.get("momentum", 0.0))


def _benchmark(cell: SuiteCell):
    from ..benchmarks import get_benchmark

    return get_benchmark(cell.benchmark_name, seed=cell.seed, **cell.benchmark_args)


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


def run_suite_cell(cell: SuiteCell, *, device: str = "cpu",
                   wandb_options: dict | None = None, command: str | None = None) -> dict:
    """Train one cell, evaluating the whole test stream after each experience."""
    from avalanche.training.determinism.rng_manager import RNGManager

    from ..evaluation import continual_evaluator
    from ..models import build_model
    from ..plugins import modulator_signal_metrics
    from ..strategies.registry import build_strategy

    start = time.perf_counter()
    RNGManager.set_random_seeds(cell.seed)
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
    evaluator = continual_evaluator(*modulator_signal_metrics(every=10), loggers=loggers)
    strategy = build_strategy(
        cell.preset, model=model, optimizer=optimizer, learning=cell.learning,
        train_mb_size=budget["train_mb_size"], train_epochs=budget["epochs"],
        eval_mb_size=budget["eval_mb_size"], device=device, evaluator=evaluator, eval_every=0)
    n_exp = len(bm.train_stream)
    matrix, last = [], {}
    if is_joint(cell.preset):  # the upper bound: one model trained on the whole stream at once
        strategy.train(bm.train_stream)
        last = strategy.eval(bm.test_stream)
        matrix.append(_row(last, n_exp))
    for experience in ([] if is_joint(cell.preset) else bm.train_stream):
        strategy.train(experience, eval_streams=[bm.test_stream])
        last = strategy.eval(bm.test_stream)
        matrix.append(_row(last, n_exp))
    record = {
        "key": cell.key, "suite": cell.suite, "benchmark": cell.benchmark,
        "scenario": cell.benchmark_name, "strategy": cell.strategy, "seed": cell.seed,
        "config": cell.config, "config_hash": cell.config_hash,
        "final_accuracy": _stream_metric(last, "Top1_Acc_Stream"),
        "accuracy_matrix": matrix,
        "forgetting": _stream_metric(last, "StreamForgetting"),
        "bwt": _stream_metric(last, "StreamBWT"),
        "fwt": _stream_metric(last, "StreamForwardTransfer"),
        "wall_time": round(time.perf_counter() - start, 3), "device": str(device),
        "target": cell.target,
        "eval_stream": "validation" if cell.benchmark_args.get("validation") else "test",
        "versions": versions(), "git_commit": git_commit(), "command": command,
    }
    if is_joint(cell.preset):  # one training phase: no forgetting or transfer to speak of
        record.update(forgetting=None, bwt=None, fwt=None)
    for logger in loggers:
        logger.log_summary({k: record[k] for k in ("final_accuracy", "forgetting", "bwt", "fwt",
                                                   "wall_time")})
        logger.close()
    return record


def run_suite(suite: dict, *, out_dir: str | Path, workers: int = 1, device: str | None = None,
              wandb_options: dict | None = None, progress: bool = True,
              command: str | None = None) -> dict:
    """Run every unfinished cell of ``suite``; append each to ``out_dir/results.jsonl``."""
    from ..parallel import run_cells

    dev = resolve_device(device)
    results = Path(out_dir) / "results.jsonl"
    done = finished_keys(results)
    todo = [c for c in suite_cells(suite) if c.key not in done]
    run_cells(_run_one, todo, workers=workers, device=dev, desc=f"suite {suite['name']}",
              unit="cell", progress=progress,
              kwargs=dict(device=str(dev), wandb_options=wandb_options, command=command),
              on_result=lambda _, record: append_record(results, record))
    return {"skipped": len(done), "ran": len(todo), "results": str(results)}


def _run_one(cell: SuiteCell, **kwargs) -> dict:
    # looked up at call time, so the runner can be wrapped (tests spy on run_suite_cell)
    return run_suite_cell(cell, **kwargs)

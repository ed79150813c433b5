"""Train one Go/No-Go cell of the case study and turn what Avalanche measured into a record."""

from __future__ import annotations

import time

import torch

from .benchmarks.gonogo import gonogo_benchmark
from .determinism import deterministic
from .evaluation import continual_evaluator
from .metrics import ActionEntropy, TrialsToCriterion
from .models import build_model
from .plugins import modulator_signal_metrics
from .strategies import NeuromodulatedStrategy

ACC = "Top1_Acc_Exp/eval_phase/test_stream/Exp{:03d}"


def signal_keys() -> dict[str, str]:
    """Record key -> signal the case study keeps per trial (each modulator's ``SPEC.record``)."""
    from .modulators.registry import specs

    return {key: signal for spec in specs().values() for key, signal in spec["record"].items()}

SUMMARY_KEYS = ("trials_to_criterion", "final_accuracy", "stream_accuracy", "forgetting", "bwt",
                "fwt", "wall_time")


def _stream_kwargs(stream: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in stream.items()}


def train_gonogo_cell(cell, *, device: torch.device, wandb_options: dict | None = None) -> dict:
    """Train ``cell`` (see :class:`avalanche_neuromod.casestudy.Cell`), return its record."""
    with deterministic(cell.seed):  # seeds every generator; deterministic algorithms
        return _train_gonogo_cell(cell, device=device, wandb_options=wandb_options)


def _train_gonogo_cell(cell, *, device: torch.device, wandb_options: dict | None) -> dict:
    cfg = cell.config
    start = time.perf_counter()
    bm = gonogo_benchmark(**_stream_kwargs(cell.stream), cued=cell.cued, seed=cell.seed)
    # the suites' model factory: one hidden layer of rate units (tanh by default)
    model = build_model(input_size=bm.input_size, n_classes=bm.n_classes, layers=1,
                        hidden=cfg["model"]["hidden"], activation=cfg["model"]["activation"])
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg["optimizer"]["lr"])
    metric = cfg["metric"]
    ttc = TrialsToCriterion(window=metric["window"], criterion=metric["criterion"])
    entropy = ActionEntropy(bin_size=metric["entropy_bin"])
    loggers = []
    if wandb_options is not None:
        from .logging import WandBLogger

        loggers.append(WandBLogger(
            run_name=f"{cell.setting}-{cell.learning}-{cell.preset}-s{cell.seed}",
            group=wandb_options.get("group", "casestudy"), job_type=cell.preset,
            dir=wandb_options.get("dir"),
            config={"setting": cell.setting, "learning": cell.learning, "cued": cell.cued,
                    "preset": cell.preset, "seed": cell.seed, "stream": cell.stream,
                    "config": cfg}))
    extra = []
    if len(set(bm.rules)) < len(bm.rules):  # recurring rules: savings per occurrence
        from .metrics.savings import RuleSavings

        extra.append(RuleSavings(rules=bm.rules, window=metric["window"],
                                 criterion=metric["criterion"]))
    evaluator = continual_evaluator(ttc, entropy, *extra, *modulator_signal_metrics(),
                                    loggers=loggers)
    strategy = NeuromodulatedStrategy(
        model=model, optimizer=optimizer, preset=cell.preset, learning=cell.learning,
        modulators=cfg.get("modulators") or None, train_mb_size=cfg["train_mb_size"],
        eval_mb_size=512, device=device, evaluator=evaluator, eval_every=0,
        **cfg["reward"],
    )
    matrix, last = [], {}
    n_exp = len(bm.train_stream)
    for experience in bm.train_stream:
        strategy.train(experience, eval_streams=[bm.test_stream])
        last = strategy.eval(bm.test_stream)
        matrix.append([float(last[ACC.format(j)]) for j in range(n_exp)])
    trace = [step for p in strategy.modulator_plugins for step in p.trace]
    signals = {}
    for key, name in signal_keys().items():
        if trace and name in trace[0]:
            signals[key] = [round(step[name], 5) for step in trace]

    def metric_or_none(name: str):
        value = last.get(name)
        return None if value is None else float(value)

    record = {
        "setting": cell.setting, "mode": cell.learning, "cued": cell.cued,
        "preset": cell.preset, "seed": cell.seed, "rules": list(bm.rules),
        "trials_per_rule": cell.stream["trials_per_rule"],
        "trials_to_criterion": [h["trials_to_criterion"] for h in ttc.history],
        "final_accuracy": matrix[-1][-1],
        "stream_accuracy": float(last["Top1_Acc_Stream/eval_phase/test_stream"]),
        "forgetting": metric_or_none("StreamForgetting/eval_phase/test_stream"),
        "bwt": metric_or_none("StreamBWT/eval_phase/test_stream"),
        "fwt": metric_or_none("StreamForwardTransfer/eval_phase/test_stream"),
        "accuracy_matrix": [[round(v, 5) for v in row] for row in matrix],
        "correct": [c for h in ttc.history for c in h["correct"]],
        "entropy": [round(float(v), 5) for h in entropy.history for v in h["entropies"]],
        "signals": signals,
        "wall_time": round(time.perf_counter() - start, 3),
        "device": str(device),
    }
    if cell.stream.get("dwell_jitter"):  # dwells vary: where each rule's trials end in correct
        record["dwells"] = list(bm.dwells)
    if extra:
        record["occurrences"] = extra[0].table()
        record["contexts_held"] = len(extra[0].contexts) or None
    for logger in loggers:
        logger.log_summary({key: record[key] for key in SUMMARY_KEYS})
        logger.close()
    return record

"""The evaluator every run of this package uses: what makes the accuracy matrix and CL metrics."""

from __future__ import annotations

import warnings


def continual_evaluator(*extra_metrics, loggers=()):
    """Avalanche's accuracy (per experience and stream), forgetting, BWT and FWT, plus extras.

    Forgetting and BWT need an eval of the whole test stream after every experience, FWT a
    strategy with ``eval_every > -1``; the runners do both.
    """
    from avalanche.evaluation.metrics import (
        accuracy_metrics,
        bwt_metrics,
        forgetting_metrics,
        forward_transfer_metrics,
    )
    from avalanche.training.plugins import EvaluationPlugin

    with warnings.catch_warnings():  # a run without W&B has no loggers on purpose
        warnings.filterwarnings("ignore", message="No loggers specified")
        return EvaluationPlugin(
            accuracy_metrics(experience=True, stream=True),
            forgetting_metrics(experience=True, stream=True),
            bwt_metrics(experience=True, stream=True),
            forward_transfer_metrics(experience=True, stream=True),
            *extra_metrics,
            loggers=list(loggers))

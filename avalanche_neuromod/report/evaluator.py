"""An accuracy matrix, and its figures, from any Avalanche evaluator's results.

Works with a plain Avalanche pipeline: train on each experience, evaluate on the whole test
stream after each one, and pass either the strategy's :class:`EvaluationPlugin` (or the dict
its ``get_all_metrics()`` returns), or the list of dicts that ``strategy.eval`` returned::

    results = []
    for experience in benchmark.train_stream:
        strategy.train(experience)
        results.append(strategy.eval(benchmark.test_stream))
    plot_accuracy_matrix(results, "matrix.png")
    plot_forgetting_curves({"naive": results}, "curves.png")

The matrix is read from ``Top1_Acc_Exp/eval_phase/test_stream/Exp<j>`` (Avalanche's
``accuracy_metrics(experience=True)``; ``.../Task<t>/Exp<j>`` with task labels): row ``i`` is
the ``i``-th evaluation, column ``j`` the experience evaluated, both counted from 0 as Avalanche
counts them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

_KEY = re.compile(r"^Top1_Acc_Exp/eval_phase/(?P<stream>[^/]+)/(?:Task\d+/)?Exp(?P<exp>\d+)$")


def _is_run(obj: Any) -> bool:
    """One run's results: an evaluator, its ``get_all_metrics()`` (name -> ``(x, values)``), or
    a list of ``strategy.eval`` dicts (name -> number)."""
    if hasattr(obj, "get_all_metrics"):
        return True
    if isinstance(obj, Mapping):
        return any("/" in str(k) for k in obj)
    return isinstance(obj, list | tuple) and bool(obj) and all(
        isinstance(d, Mapping) and not any(isinstance(v, tuple | list) for v in d.values())
        for d in obj)


def accuracy_matrix(results: Any, *, stream: str = "test_stream") -> np.ndarray:
    """The accuracy matrix (evaluations x experiences; NaN where not evaluated) of ``results``:
    an ``EvaluationPlugin``, its ``get_all_metrics()`` dict (name -> ``(x, values)``), or a
    list of the dicts ``strategy.eval`` returns (one per evaluation). ``ValueError`` when no
    ``Top1_Acc_Exp`` metric of ``stream`` is in it."""
    if hasattr(results, "get_all_metrics"):
        results = results.get_all_metrics()
    columns: dict[int, list[float]] = {}
    if isinstance(results, Mapping):
        for key, value in results.items():
            match = _KEY.match(str(key))
            if match and match["stream"] == stream:
                values = value[1] if isinstance(value, tuple | list) and len(value) == 2 and \
                    isinstance(value[1], Sequence) else value
                columns[int(match["exp"])] = [float(v) for v in values]
        n_rows = max((len(v) for v in columns.values()), default=0)
        rows = [[columns[j][i] if j in columns and i < len(columns[j]) else np.nan
                 for j in range(max(columns, default=-1) + 1)] for i in range(n_rows)]
    elif isinstance(results, Sequence) and not isinstance(results, str):
        parsed = [{int(m["exp"]): float(v) for k, v in d.items()
                   if (m := _KEY.match(str(k))) and m["stream"] == stream} for d in results]
        width = max((max(p) + 1 for p in parsed if p), default=0)
        rows = [[p.get(j, np.nan) for j in range(width)] for p in parsed if p]
    else:
        raise ValueError(f"results: an EvaluationPlugin, its get_all_metrics() or a list of "
                         f"strategy.eval() results, got {type(results).__name__}")
    if not rows or not rows[0]:
        raise ValueError(f"results: no Top1_Acc_Exp/eval_phase/{stream}/Exp* metric (add "
                         "accuracy_metrics(experience=True) to the evaluator and evaluate on "
                         "the whole stream after each experience)")
    return np.asarray(rows, dtype=float)


def _runs(results: Any) -> dict[str, list[np.ndarray]]:
    """``label -> matrices``: one run, or a mapping of labels to a run or a list of runs."""
    if _is_run(results):
        return {"run": [accuracy_matrix(results)]}
    if not isinstance(results, Mapping):
        raise ValueError("results: a run's results, or a mapping of labels to runs")
    return {str(label): [accuracy_matrix(r) for r in ([runs] if _is_run(runs) else runs)]
            for label, runs in results.items()}


def plot_accuracy_matrix(results: Any, path: str | Path, *, title: str = "accuracy matrix",
                         stream: str = "test_stream") -> Path:
    """A heat map of :func:`accuracy_matrix` (with its values and a colour bar) at ``path``."""
    from .plots import plot_heatmaps

    return plot_heatmaps({title: accuracy_matrix(results, stream=stream)}, path)


def plot_forgetting_curves(results: Any, path: str | Path, *, title: str = "",
                           learnt: float | None = None) -> Path:
    """Accuracy on the experiences seen so far, forgetting of the learnt ones and how many were
    learnt, after each trained experience (:func:`.plots.plot_curves`). ``results``: one run's
    results, or a mapping ``label -> run`` (or ``label -> [runs of several seeds]``, drawn as
    mean ± 95% CI)."""
    from .plots import LEARNT, plot_curves

    curves = {label: [m.tolist() for m in ms] for label, ms in _runs(results).items()}
    return plot_curves(curves, path, title=title, learnt=LEARNT if learnt is None else learnt)

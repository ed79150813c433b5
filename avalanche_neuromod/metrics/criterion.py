"""Trials-to-criterion: how fast a learner re-acquires a Go/No-Go contingency after a rule shift.

Set-shifting performance in the Go/No-Go case study of Mei et al. (2025), "Improving the adaptive
and continuous learning capabilities of artificial neural networks: Lessons from
multi-neuromodulatory dynamics", arXiv:2501.06762, is read out as the number of trials needed to
reach a performance criterion after the contingency changes:

    TTC = min { t >= W : (1/W) * sum_{i=t-W+1..t} correct_i >= criterion }

(W = window; TTC is undefined, a *failed* shift, when the criterion is never met.)

The pure functions (:func:`trials_to_criterion`, :func:`moving_accuracy`,
:func:`summarize_shifts`) use numpy only; :class:`TrialsToCriterion` wraps them as an Avalanche
:class:`~avalanche.evaluation.metric_definitions.PluginMetric`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from avalanche.evaluation.metric_definitions import PluginMetric
from avalanche.evaluation.metric_results import MetricValue
from avalanche.evaluation.metric_utils import default_metric_name_template, generic_get_metric_name

from .thresholds import CRITERION, WINDOW

ArrayLike = Sequence[float] | np.ndarray | torch.Tensor

_TOL = 1e-9


# --------------------------------------------------------------------------- validation helpers


def _check_window(window: int, name: str = "window") -> None:
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {window!r}")


def _check_criterion(criterion: float) -> None:
    if not isinstance(criterion, int | float) or not 0.0 < float(criterion) <= 1.0:
        raise ValueError(f"criterion must be in (0, 1], got {criterion!r}")


def to_numpy(values: ArrayLike) -> np.ndarray:
    """Convert a list / numpy array / (possibly CUDA) torch tensor to a numpy array."""
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def _as_correct_array(correct: ArrayLike) -> np.ndarray:
    arr = to_numpy(correct).astype(np.float64)
    if arr.ndim != 1:
        raise ValueError(f"correct must be 1-D, got shape {arr.shape}")
    if arr.size and (np.any(arr < 0.0) or np.any(arr > 1.0)):
        raise ValueError("correct must contain 0/1 (or booleans)")
    return arr


# --------------------------------------------------------------------------- pure functions


def trials_to_criterion(correct: ArrayLike, *, window: int, criterion: float) -> int | None:
    """Smallest 1-based trial count ``t >= window`` whose trailing window reaches ``criterion``.

    Returns ``None`` when ``mean(correct[t-window:t]) >= criterion`` never holds (a failed shift).
    Comparison is done on hit counts (``hits >= criterion * window``), so e.g. 17/20 meets 0.85.
    """
    _check_window(window)
    _check_criterion(criterion)
    arr = _as_correct_array(correct)
    if arr.size < window:
        return None
    csum = np.concatenate(([0.0], np.cumsum(arr)))
    hits = csum[window:] - csum[:-window]  # hits[i] = sum(arr[i:i + window]); t = i + window
    reached = np.flatnonzero(hits >= criterion * window - _TOL)
    return int(reached[0]) + window if reached.size else None


def moving_accuracy(correct: ArrayLike, *, window: int) -> np.ndarray:
    """Trailing-window accuracy per trial; before ``window`` trials, the mean of what is there."""
    _check_window(window)
    arr = _as_correct_array(correct)
    csum = np.concatenate(([0.0], np.cumsum(arr)))
    ends = np.arange(1, arr.size + 1)
    starts = np.maximum(ends - window, 0)
    return (csum[ends] - csum[starts]) / (ends - starts)


def summarize_shifts(values: Sequence[int | None]) -> dict[str, float | int]:
    """Summarise trials-to-criterion over shifts.

    ``median`` counts failed shifts (``None``) as ``+inf``, so it is ``inf`` as soon as at least
    half of the shifts failed; ``solved_share`` is the share of shifts that reached criterion.
    Both are NaN when there are no shifts.
    """
    n_shifts = len(values)
    if n_shifts == 0:
        return {"median": math.nan, "solved_share": math.nan, "n_shifts": 0}
    as_float = np.array([math.inf if v is None else float(v) for v in values])
    solved = sum(v is not None for v in values)
    return {
        "median": float(np.median(as_float)),
        "solved_share": solved / n_shifts,
        "n_shifts": n_shifts,
    }


# --------------------------------------------------------------------------- strategy readers


def strategy_actions(strategy: Any) -> torch.Tensor:
    """Actions taken in the current mini-batch: ``mb_action`` if set, else argmax of logits."""
    actions = getattr(strategy, "mb_action", None)
    if actions is None:
        actions = strategy.mb_output.detach().argmax(dim=-1)
    return torch.as_tensor(actions).detach().cpu().long().reshape(-1)


def strategy_policy(strategy: Any) -> torch.Tensor:
    """Action probabilities ``[B, n_actions]``: ``mb_policy`` if set, else softmax of logits."""
    policy = getattr(strategy, "mb_policy", None)
    if policy is None:
        policy = torch.softmax(strategy.mb_output.detach().float(), dim=-1)
    return torch.as_tensor(policy).detach().cpu().double()


def strategy_cues(strategy: Any) -> torch.Tensor:
    """Cue per trial: the stimulus of ``(x, y, stimulus, t)`` batches, else the target ``y``."""
    mbatch = strategy.mbatch
    cues = mbatch[2] if len(mbatch) >= 4 else strategy.mb_y
    return torch.as_tensor(cues).detach().cpu().long().reshape(-1)


def train_metric_name(metric: Any, strategy: Any, *, experience_id: int | None = None) -> str:
    """Avalanche-style name ``<metric>/train_phase/<stream>_stream[/ExpNNN]`` (no task label)."""
    origin = getattr(strategy.experience, "origin_stream", None)
    stream = getattr(origin, "name", "train")
    info = {
        "metric_name": str(metric),
        "phase_name": "train",
        "stream_name": stream,
        "experience_id": experience_id,
        "task_label": None,
    }
    return generic_get_metric_name(default_metric_name_template, info)


# --------------------------------------------------------------------------- plugin metric


class TrialsToCriterion(PluginMetric[dict]):
    """Trials needed to reach a performance criterion in each trained experience (contingency).

    Mei et al. (2025), arXiv:2501.06762, Go/No-Go set-shifting case study: after each rule shift
    the learner's adaptability is the number of trials until its trailing accuracy meets the
    criterion, ``TTC = min { t >= W : (1/W) sum_{i=t-W+1..t} correct_i >= criterion }``.

    Per-trial correctness is ``action == mb_y``, where the action is ``strategy.mb_action`` when a
    reward-driven strategy sets it, else ``argmax(mb_output)``. Trials are recorded in the order
    mini-batches arrive (train with ``shuffle=False`` for true trial order).

    Emitted after each training experience (x_plot = ``strategy.clock.train_iterations``):

    * ``TrialsToCriterion/train_phase/train_stream/ExpNNN``: TTC as a float, NaN if never met;
    * ``TrialsToCriterion/train_phase/train_stream``: median TTC over the shifts so far
      (failed = inf), and ``ShiftsSolved/train_phase/train_stream``: share of shifts solved.
      Every experience after the first one trained is a shift; the two stream values are only
      emitted once at least one shift has been trained.

    ``history`` keeps one dict per trained experience (keys ``experience``, ``correct``,
    ``trials_to_criterion``, ``is_shift``) across the whole run; only :meth:`reset` clears it.
    """

    def __init__(self, *, window: int = WINDOW, criterion: float = CRITERION) -> None:
        super().__init__()
        _check_window(window)
        _check_criterion(criterion)
        self.window = int(window)
        self.criterion = float(criterion)
        self.history: list[dict[str, Any]] = []
        self._correct: list[int] = []

    def __str__(self) -> str:
        return "TrialsToCriterion"

    def reset(self) -> None:
        """Forget everything, including the per-experience history."""
        self.history = []
        self._correct = []

    def shift_values(self) -> list[int | None]:
        """Trials-to-criterion of every shift trained so far (``None`` = failed)."""
        return [rec["trials_to_criterion"] for rec in self.history if rec["is_shift"]]

    def result(self) -> dict[str, float | int]:
        """Summary over shifts so far, see :func:`summarize_shifts`."""
        return summarize_shifts(self.shift_values())

    def before_training_exp(self, strategy: Any) -> None:
        super().before_training_exp(strategy)
        self._correct = []

    def after_training_iteration(self, strategy: Any) -> None:
        super().after_training_iteration(strategy)
        actions = strategy_actions(strategy)
        targets = torch.as_tensor(strategy.mb_y).detach().cpu().long().reshape(-1)
        self._correct.extend((actions == targets).long().tolist())

    def after_training_exp(self, strategy: Any) -> list[MetricValue]:
        super().after_training_exp(strategy)
        record = self._close_experience(strategy.experience.current_experience)
        return self._package(strategy, record)

    def _close_experience(self, experience: int) -> dict[str, Any]:
        ttc = trials_to_criterion(self._correct, window=self.window, criterion=self.criterion)
        record = {
            "experience": int(experience),
            "correct": list(self._correct),
            "trials_to_criterion": ttc,
            "is_shift": len(self.history) > 0,
        }
        self.history.append(record)
        self._correct = []
        return record

    def _package(self, strategy: Any, record: dict[str, Any]) -> list[MetricValue]:
        x_plot = strategy.clock.train_iterations
        ttc = record["trials_to_criterion"]
        exp_name = train_metric_name(self, strategy, experience_id=record["experience"])
        values = [MetricValue(self, exp_name, math.nan if ttc is None else float(ttc), x_plot)]
        if record["is_shift"]:
            summary = self.result()
            stream_name = train_metric_name(self, strategy)
            solved_name = train_metric_name("ShiftsSolved", strategy)
            values.append(MetricValue(self, stream_name, float(summary["median"]), x_plot))
            values.append(MetricValue(self, solved_name, float(summary["solved_share"]), x_plot))
        return values


def trials_to_criterion_metrics(*, window: int = 40, criterion: float = 0.85) -> list[PluginMetric]:
    """Helper like Avalanche's ``accuracy_metrics``: ``[TrialsToCriterion(...)]``."""
    return [TrialsToCriterion(window=window, criterion=criterion)]


__all__ = [
    "trials_to_criterion",
    "moving_accuracy",
    "summarize_shifts",
    "TrialsToCriterion",
    "trials_to_criterion_metrics",
]

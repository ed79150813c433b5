"""Cue-conditional action entropy: how exploratory a policy is, given the stimulus.

Go/No-Go case study of Mei et al. (2025), "Improving the adaptive and continuous learning
capabilities of artificial neural networks: Lessons from multi-neuromodulatory dynamics",
arXiv:2501.06762: exploration after a rule shift is measured by the entropy of the action
distribution given the cue,

    H(A | cue = c) = - sum_a P(a | c) log2 P(a | c)
    H(A | C)       =   sum_c p(c) H(A | C = c)          (bits)

where ``P(a | c)`` is the mean per-trial action probability over the trials with cue ``c`` and
``p(c)`` is the empirical share of those trials. One-hot actions as ``probs`` give the entropy of
the empirical action frequencies.

The pure functions use numpy only; :class:`ActionEntropy` wraps them as an Avalanche
:class:`~avalanche.evaluation.metric_definitions.PluginMetric`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from avalanche.evaluation.metric_definitions import PluginMetric
from avalanche.evaluation.metric_results import MetricValue

from .criterion import (
    ArrayLike,
    _check_window,
    strategy_cues,
    strategy_policy,
    to_numpy,
    train_metric_name,
)

_ROW_SUM_TOL = 1e-3


# --------------------------------------------------------------------------- pure functions


def _check_cues_probs(cues: ArrayLike, probs: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    cue_arr = to_numpy(cues).reshape(-1)
    prob_arr = to_numpy(probs).astype(np.float64)
    if prob_arr.ndim != 2:
        raise ValueError(f"probs must be 2-D [n_trials, n_actions], got shape {prob_arr.shape}")
    if cue_arr.shape[0] != prob_arr.shape[0]:
        raise ValueError(
            f"cues and probs disagree on the number of trials: {cue_arr.shape[0]} vs "
            f"{prob_arr.shape[0]}"
        )
    if cue_arr.size == 0:
        raise ValueError("cues and probs must hold at least one trial")
    if not np.all(np.isfinite(prob_arr)) or np.any(prob_arr < 0.0):
        raise ValueError("probs must be finite and non-negative")
    if np.any(np.abs(prob_arr.sum(axis=1) - 1.0) > _ROW_SUM_TOL):
        raise ValueError("each row of probs must sum to 1 (a distribution or a one-hot action)")
    return cue_arr, prob_arr


def _entropy_bits(dist: np.ndarray) -> float:
    dist = dist / dist.sum()
    nonzero = dist[dist > 0.0]
    return max(0.0, float(-(nonzero * np.log2(nonzero)).sum()))


def conditional_action_entropy(cues: ArrayLike, probs: ArrayLike) -> float:
    """``H(A|C) = sum_c p(c) H(A|C=c)`` in bits (Mei et al. 2025, arXiv:2501.06762).

    :param cues: cue id per trial, shape ``[N]``.
    :param probs: action probabilities per trial, shape ``[N, n_actions]`` (or one-hot actions).
    """
    cue_arr, prob_arr = _check_cues_probs(cues, probs)
    total = 0.0
    for cue in np.unique(cue_arr):
        mask = cue_arr == cue
        total += float(mask.mean()) * _entropy_bits(prob_arr[mask].mean(axis=0))
    return total


def entropy_curve(cues: ArrayLike, probs: ArrayLike, *, bin_size: int) -> np.ndarray:
    """``H(A|C)`` per consecutive full bin of ``bin_size`` trials; a partial tail is dropped."""
    _check_window(bin_size, "bin_size")
    cue_arr, prob_arr = _check_cues_probs(cues, probs)
    n_bins = cue_arr.shape[0] // bin_size
    return np.array(
        [
            conditional_action_entropy(
                cue_arr[i * bin_size : (i + 1) * bin_size],
                prob_arr[i * bin_size : (i + 1) * bin_size],
            )
            for i in range(n_bins)
        ],
        dtype=np.float64,
    )


# --------------------------------------------------------------------------- plugin metric


class ActionEntropy(PluginMetric[float]):
    """Cue-conditional action entropy ``H(A|C)`` over consecutive bins of training trials.

    Mei et al. (2025), arXiv:2501.06762: ``H(A|cue) = -sum_a P(a|cue) log2 P(a|cue)`` and
    ``H(A|C) = sum_c p(c) H(A|C=c)``, with ``P(a|c)`` the mean policy over the bin's trials with
    cue ``c``. The policy is ``strategy.mb_policy`` when set, else ``softmax(mb_output)``; the cue
    is the stimulus of ``(x, y, stimulus, t)`` batches, else the target ``y``.

    Bins never straddle experiences (contingencies): the buffer is cleared at the start of each
    training experience and a partial bin left at its end is dropped. Each full bin emits
    ``ActionEntropy/train_phase/train_stream`` with x_plot = total training trials seen so far
    (not iterations). ``curve`` keeps ``(trial_index, entropy)`` pairs and ``history`` one dict
    per trained experience (``experience``, ``entropies``); only :meth:`reset` clears them.
    """

    def __init__(self, *, bin_size: int = 20) -> None:
        super().__init__()
        _check_window(bin_size, "bin_size")
        self.bin_size = int(bin_size)
        self.curve: list[tuple[int, float]] = []
        self.history: list[dict[str, Any]] = []
        self._n_trials = 0
        self._open: dict[str, Any] | None = None
        self._clear_buffer()

    def __str__(self) -> str:
        return "ActionEntropy"

    def _clear_buffer(self) -> None:
        self._cues = np.zeros(0, dtype=np.int64)
        self._probs: np.ndarray | None = None

    def reset(self) -> None:
        """Forget everything: curve, history, trial counter and pending trials."""
        self.curve = []
        self.history = []
        self._n_trials = 0
        self._open = None
        self._clear_buffer()

    def result(self) -> float | None:
        """Entropy of the last full bin, ``None`` before the first one."""
        return self.curve[-1][1] if self.curve else None

    def before_training_exp(self, strategy: Any) -> None:
        super().before_training_exp(strategy)
        self._start_experience(strategy.experience.current_experience)

    def after_training_iteration(self, strategy: Any) -> list[MetricValue]:
        super().after_training_iteration(strategy)
        if self._open is None:
            self._start_experience(strategy.experience.current_experience)
        self._append(strategy_cues(strategy).numpy(), strategy_policy(strategy).numpy())
        return [self._emit(strategy, entry) for entry in self._drain_full_bins()]

    def after_training_exp(self, strategy: Any) -> None:
        super().after_training_exp(strategy)
        self._open = None
        self._clear_buffer()

    def _start_experience(self, experience: int) -> None:
        self._open = {"experience": int(experience), "entropies": []}
        self.history.append(self._open)
        self._clear_buffer()

    def _append(self, cues: np.ndarray, probs: np.ndarray) -> None:
        self._n_trials += cues.shape[0]
        self._cues = np.concatenate([self._cues, cues])
        self._probs = probs if self._probs is None else np.concatenate([self._probs, probs])

    def _drain_full_bins(self) -> list[tuple[int, float]]:
        entries = []
        while self._cues.shape[0] >= self.bin_size:
            end_trial = self._n_trials - self._cues.shape[0] + self.bin_size
            value = conditional_action_entropy(
                self._cues[: self.bin_size], self._probs[: self.bin_size]
            )
            self._cues = self._cues[self.bin_size :]
            self._probs = self._probs[self.bin_size :]
            entries.append((end_trial, value))
        return entries

    def _emit(self, strategy: Any, entry: tuple[int, float]) -> MetricValue:
        self.curve.append(entry)
        self._open["entropies"].append(entry[1])
        return MetricValue(self, train_metric_name(self, strategy), entry[1], entry[0])


def action_entropy_metrics(*, bin_size: int = 20) -> list[PluginMetric]:
    """Helper like Avalanche's ``accuracy_metrics``: ``[ActionEntropy(...)]``."""
    return [ActionEntropy(bin_size=bin_size)]


__all__ = [
    "conditional_action_entropy",
    "entropy_curve",
    "ActionEntropy",
    "action_entropy_metrics",
]

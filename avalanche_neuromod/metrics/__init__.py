"""Behavioural read-outs for Go/No-Go set-shifting (Mei et al. 2025, arXiv:2501.06762).

Pure numpy functions plus Avalanche ``PluginMetric`` wrappers:

* trials-to-criterion after each contingency shift (:mod:`.criterion`);
* cue-conditional action entropy ``H(A|C)`` in bits (:mod:`.entropy`).
"""

from .criterion import (
    TrialsToCriterion,
    moving_accuracy,
    summarize_shifts,
    trials_to_criterion,
    trials_to_criterion_metrics,
)
from .entropy import (
    ActionEntropy,
    action_entropy_metrics,
    conditional_action_entropy,
    entropy_curve,
)

__all__ = [
    "trials_to_criterion",
    "moving_accuracy",
    "summarize_shifts",
    "conditional_action_entropy",
    "entropy_curve",
    "TrialsToCriterion",
    "ActionEntropy",
    "trials_to_criterion_metrics",
    "action_entropy_metrics",
]

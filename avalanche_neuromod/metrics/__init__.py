"""Behavioural read-outs for Go/No-Go set-shifting (Mei et al. 2025, arXiv:2501.06762).

Pure numpy functions plus Avalanche ``PluginMetric`` wrappers:

* trials-to-criterion after each contingency shift (:mod:`.criterion`);
* cue-conditional action entropy ``H(A|C)`` in bits (:mod:`.entropy`).
"""

from .._lazy import lazy_exports

_EXPORTS = {**dict.fromkeys(("TrialsToCriterion", "moving_accuracy", "summarize_shifts",
                             "trials_to_criterion", "trials_to_criterion_metrics"), ".criterion"),
            **dict.fromkeys(("ActionEntropy", "action_entropy_metrics",
                             "conditional_action_entropy", "entropy_curve"), ".entropy")}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)  # imported on first use (Avalanche)
__all__ = sorted(_EXPORTS)

"""The adaptive default of :class:`~.neuromodulation.NeuromodulationPlugin`, as data.

Torch-free, so that presets (``modulators: default``) are validated before torch is loaded.
"""

from __future__ import annotations

# What ``NeuromodulationPlugin()`` runs with no argument, and the preset ``full`` (``modulators:
# default``): all four modulators, each option that depends on the situation left to what the plugin
# observes (plugins/_adaptive.py; docs/modulators.md, "The adaptive default"). Task labels seen at
# training time: ACh gates by label (``context: auto``). Labels met for the first time after an
# earlier experience (class-incremental): the precision read-out (``readout: auto``) and no
# hidden-unit gates from then on (``gating: auto``); attention over the new outputs while training
# (``outputs: attended``) acts only on labels new in an experience. NA's surprise while every label
# of the step is familiar (the inputs shifted): a new inferred context with its own gates (drawn
# from the run's seed) and input moments, recalled at test time by familiarity (``switch:
# unexplained``, ``recall: familiarity``: the context under whose input moments a test sample is
# most likely; chosen over recall by entropy on validation seeds 1000-1004,
# benchmarks/probes/recall-familiarity.yaml, where every context is a confident two-way classifier
# and entropy sends a pair's samples through another pair's context). Reward-driven strategies: DA's
# RPE as third factor, NA's surprise as in the case study. NA's threshold 8 and ACh's dwell of 50
# steps: a true change of input distribution raises the loss z-score to 30-39, minibatch noise stays
# at 4.1 or below (benchmarks/probes/context_recall.py); 5-HT's strength 4 was selected on
# validation streams in three of the four per-benchmark presets. ``gate_decay`` (a share of units
# that shrinks with each new context) stays 0: shares of 1/(1+c) and 1/sqrt(1+c) lowered
# RotatedMNIST on validation seeds 1000-1001 (benchmarks/probes/adaptive-gating.yaml).
DEFAULT_MODULATORS = {
    "dopamine": {"mode": "auto", "reward": "correct", "scope": "sample"},
    "noradrenaline": {"threshold": 8.0, "signal": "auto"},
    "acetylcholine": {"signal": "auto", "gating": "auto", "context": "auto", "outputs": "attended",
                      "readout": "auto", "recall": "familiarity", "switch": "unexplained",
                      "min_dwell": 50, "seed": "cell", "gate_decay": 0.0},
    "serotonin": {"strength": 4.0},
}

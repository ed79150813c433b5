"""The case study's learning criterion, stated once and torch-free (configs are checked before
torch and Avalanche load).

A rule is learnt when the moving accuracy over ``WINDOW`` trials reaches ``CRITERION``
(:mod:`~avalanche_neuromod.metrics.criterion`; Mei et al. 2025's set-shifting reading: 85% correct
over 40 trials). The defaults of :class:`~.criterion.TrialsToCriterion`, the case study's config
and the selection objective ``shifts`` read them here.
"""

WINDOW = 40
CRITERION = 0.85

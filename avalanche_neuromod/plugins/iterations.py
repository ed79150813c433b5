"""A training budget in optimizer steps: exactly ``n`` mini-batches per experience.

The literature's budgets are counted in iterations, not epochs (van de Ven, Tuytelaars & Tolias
2022: 2000 iterations of 128 per context on SplitMNIST): the strategy's epoch loop is given
enough epochs (``train_epochs >= n``, each epoch at least one mini-batch) and this plugin stops it
after the ``n``-th iteration of each experience, so epochs cycle over the experience's data until
then (a new shuffle each epoch, as Avalanche's own loop does).
"""

from __future__ import annotations

from avalanche.core import SupervisedPlugin


class IterationBudgetPlugin(SupervisedPlugin):
    """Stop training an experience after ``iterations`` mini-batches (optimizer steps)."""

    def __init__(self, *, iterations: int):
        super().__init__()
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
            raise ValueError(f"iterations: must be a positive integer, got {iterations!r}")
        self.iterations = iterations
        self.done = 0

    def before_training_exp(self, strategy, *args, **kwargs):
        self.done = 0
        strategy._stop_training = False  # Avalanche resets it only when an epoch is cut short

    def after_training_iteration(self, strategy, *args, **kwargs):
        self.done += 1
        if self.done >= self.iterations:
            strategy.stop_training()

    def after_training_exp(self, strategy, *args, **kwargs):
        strategy._stop_training = False  # the last epoch may have ended on the n-th mini-batch

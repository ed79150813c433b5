"""Evaluations a cell need not repeat: the same weights give the same numbers (issue 18).

The runner trains each experience with ``train(exp, eval_streams=[test])`` and ``eval_every=0``,
so Avalanche's :class:`~avalanche.training.templates.base_sgd.PeriodicEval` evaluates the test
stream after the experience, and before every ``train`` call (``do_initial``, for forward
transfer). Until this module the runner then evaluated the test stream once more, explicitly:
three evaluations per experience, two of which repeat the last one's weights and metric updates
(the forgetting, BWT and forward-transfer metrics update their stored accuracies idempotently).

An evaluation that is skipped still makes its random draws: each evaluation DataLoader's
iterator draws one int64 from torch's global generator for its base seed
(``torch.utils.data.dataloader._BaseDataLoaderIter``; no generator, no workers), and every
later shuffle depends on those draws. :func:`eval_draws` makes them, so records stay bit for bit
what they were with three evaluations.

An evaluation is skipped only where nothing can have changed since the last one
(:func:`repeats`): every hook that runs between the two is Avalanche's own or a no-op.
"""

from __future__ import annotations

import torch


def eval_draws(stream) -> None:
    """Draw from torch's global generator what ``strategy.eval(stream)`` draws: one int64 per
    experience (the base seed of its DataLoader's iterator)."""
    for _ in range(len(stream)):
        torch.empty((), dtype=torch.int64).random_()


def _acts(plugin, hook: str) -> bool:
    """Whether ``plugin`` has a ``hook`` of its own (not the no-op of Avalanche's base plugin).

    The evaluator does not count: its callbacks reach metrics and loggers, which read the
    strategy (the train-phase metrics reset themselves there; no eval metric has these hooks).
    """
    from avalanche.core import BasePlugin
    from avalanche.training.plugins import EvaluationPlugin

    if isinstance(plugin, EvaluationPlugin):
        return False
    return getattr(type(plugin), hook, None) is not getattr(BasePlugin, hook)


def template_owns(strategy, names: tuple[str, ...]) -> bool:
    """Whether Avalanche's templates define these methods of ``strategy`` (no subclass does)."""
    for name in names:
        owner = next(k for k in type(strategy).__mro__ if name in vars(k))
        if not owner.__module__.startswith("avalanche.training.templates"):
            return False
    return True


def repeats(strategy) -> tuple[bool, bool]:
    """``(initial, final)``: whether the periodic eval at the start of ``train`` (``do_initial``)
    repeats the previous evaluation, and whether an explicit eval right after ``train`` repeats
    the periodic one at its end.

    The initial one does when no plugin ahead of ``PeriodicEval`` has a ``before_training`` hook
    (nothing runs between the previous evaluation and it); the final one when no plugin has an
    ``after_training`` hook and none after ``PeriodicEval`` but the clock has an
    ``after_training_exp`` one. Either needs ``train``, ``eval`` and their phase methods to be
    the templates' own, and the data loaders to use no workers (:func:`eval_draws`).
    """
    from avalanche.training.plugins.clock import Clock
    from avalanche.training.templates.base_sgd import PeriodicEval

    plugins = list(strategy.plugins)
    index = next((i for i, p in enumerate(plugins) if isinstance(p, PeriodicEval)), None)
    if index is None or plugins[index].eval_every != 0 or plugins[index].peval_mode != "epoch":
        return False, False
    if getattr(strategy, "train_epochs", 1) < 1:
        return False, False
    if not template_owns(strategy, ("train", "eval", "_before_training", "_after_training",
                                     "_after_training_exp", "_before_eval", "_after_eval",
                                     "make_eval_dataloader", "eval_dataset_adaptation")):
        return False, False
    initial = not any(_acts(p, "before_training") for p in plugins[:index])
    final = not any(_acts(p, "after_training") for p in plugins) and not any(
        _acts(p, "after_training_exp") for p in plugins[index + 1:] if not isinstance(p, Clock))
    return initial, final


def skip_initial_eval(strategy) -> None:
    """From now on ``train`` starts without the periodic eval (call :func:`eval_draws` before
    it instead)."""
    from avalanche.training.templates.base_sgd import PeriodicEval

    for plugin in strategy.plugins:
        if isinstance(plugin, PeriodicEval):
            plugin.do_initial = False

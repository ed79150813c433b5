"""NumericalGuardPlugin: a NaN or inf in the loss or the gradients skips that update, never the run.

After every backward pass the guard checks the final loss (every plugin's terms included) and,
with ``check_gradients``, the sum of every gradient the strategy would apply (NaN or infinite as
soon as one element is; a sum that overflows counts as infinite), with one device sync per step.
When either is not finite:

* every gradient is dropped (``grad = None``), so ``optimizer.step()`` leaves the parameters and
  the optimizer's state alone (SGD, with or without momentum, and Adam skip parameters without a
  gradient): no non-finite value ever reaches the weights;
* the update is counted (``skipped``, ``consecutive``), a :class:`NonFiniteUpdateWarning` is
  issued and logged, and :class:`GuardMetric` reports ``Guard/skipped_updates`` to every logger
  (W&B included);
* after the optimizer step the gradients come back as zeros, for plugins that read them later in
  the iteration (Avalanche's SI reads ``p.grad`` after the update).

``max_consecutive`` bad steps in a row stop the run: ``on_fault(strategy, message)`` is called
first (the leaderboard's runner saves a checkpoint of the last finite state there and returns its
path), then :class:`NumericalFaultError` is raised with one line naming the experience, the
iteration and the checkpoint.

The guard must see the loss after every other plugin's ``before_backward`` and the gradients
before any other plugin's ``after_backward`` (serotonin's importances, GEM's projections):
:func:`install_guard` puts it first in ``strategy.plugins``, which its ``after_backward`` needs.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable

import torch
from avalanche.core import SupervisedPlugin
from avalanche.evaluation.metric_definitions import PluginMetric
from avalanche.evaluation.metric_results import MetricValue

LOG = logging.getLogger("avalanche_neuromod")
SKIPPED_METRIC = "Guard/skipped_updates/train_phase/train_stream"


class NumericalFaultError(RuntimeError):
    """Too many consecutive training steps had a non-finite loss or gradient."""


class NonFiniteUpdateWarning(RuntimeWarning):
    """One update was skipped because its loss or a gradient was NaN or infinite."""


def _strategy_params(strategy) -> list[torch.Tensor]:
    """Every parameter the strategy's optimizers may step (model, optimizer groups, critic)."""
    seen: dict[int, torch.Tensor] = {}
    optimizers = [getattr(strategy, "optimizer", None), getattr(strategy, "critic_optimizer", None)]
    for optimizer in optimizers:
        for group in getattr(optimizer, "param_groups", ()):
            for p in group["params"]:
                seen.setdefault(id(p), p)
    for module in (getattr(strategy, "model", None), getattr(strategy, "critic", None)):
        if isinstance(module, torch.nn.Module):
            for p in module.parameters():
                seen.setdefault(id(p), p)
    return list(seen.values())


def _all_finite(values: list[torch.Tensor]) -> bool:
    if not values:
        return True
    if len({(v.dtype, v.device) for v in values}) == 1:
        return bool(torch.isfinite(torch.stack(values)).all())
    return all(bool(torch.isfinite(v).all()) for v in values)


class NumericalGuardPlugin(SupervisedPlugin):
    """Skip and count updates whose loss or gradients are not finite; stop after too many.

    :param max_consecutive: bad steps in a row that stop the run (:class:`NumericalFaultError`).
    :param check_gradients: check the gradients too (else only the loss).
    :param on_fault: ``on_fault(strategy, message) -> path or None``, called before the error is
        raised (e.g. to save a checkpoint); its return value is named in the error.
    """

    def __init__(self, *, max_consecutive: int = 10, check_gradients: bool = True,
                 on_fault: Callable | None = None):
        super().__init__()
        if isinstance(max_consecutive, bool) or int(max_consecutive) < 1:
            raise ValueError(f"max_consecutive must be an integer >= 1, got {max_consecutive!r}")
        self.max_consecutive = int(max_consecutive)
        self.check_gradients = bool(check_gradients)
        self.on_fault = on_fault
        self.skipped = 0  # updates skipped in all
        self.consecutive = 0  # bad steps in a row, up to now
        self.steps = 0  # steps checked
        self.last_fault: str | None = None
        self._skipped_now = False
        self._dropped: list[torch.Tensor] = []

    # ------------------------------------------------------------------------ checks
    def _fault(self, strategy) -> str | None:
        loss = getattr(strategy, "loss", None)
        values = []
        if isinstance(loss, torch.Tensor):
            values.append(loss.detach().reshape(-1).sum())
        elif isinstance(loss, float) and not math.isfinite(loss):
            return "loss"
        sums = []
        if self.check_gradients:  # a sum is NaN or infinite when any element is (cheapest test)
            sums = [p.grad.sum() for p in _strategy_params(strategy) if p.grad is not None]
        if _all_finite(values + sums):
            return None
        return "loss" if values and not _all_finite(values) else "gradient"

    def after_backward(self, strategy, **kwargs):
        self.steps += 1
        self._skipped_now = False
        what = self._fault(strategy)
        if what is None:
            self.consecutive = 0
            return
        params = _strategy_params(strategy)
        self._dropped = [p for p in params if p.grad is not None]
        for p in params:
            p.grad = None  # optimizer.step() skips parameters without a gradient
        self.skipped += 1
        self.consecutive += 1
        self._skipped_now = True
        exp = getattr(getattr(strategy, "experience", None), "current_experience", "?")
        iteration = getattr(getattr(strategy, "clock", None), "train_exp_iterations", "?")
        message = (f"non-finite {what} at experience {exp}, iteration {iteration}: update "
                   f"skipped ({self.consecutive} in a row, {self.skipped} in all)")
        self.last_fault = message
        LOG.warning(message)
        warnings.warn(message, NonFiniteUpdateWarning, stacklevel=2)
        if self.consecutive >= self.max_consecutive:
            where = None
            if self.on_fault is not None:
                where = self.on_fault(strategy, message)
            saved = f"; last finite state saved to {where}" if where else ""
            raise NumericalFaultError(
                f"numerical fault: {self.consecutive} consecutive updates with a non-finite "
                f"{what} (experience {exp}, iteration {iteration}); run stopped{saved}")

    def after_update(self, strategy, **kwargs):
        if self._skipped_now:
            for p in self._dropped:  # later readers of p.grad (SI) see a zero step, not None
                p.grad = torch.zeros_like(p)
            self._dropped = []

    # ------------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        return {"skipped": self.skipped, "consecutive": self.consecutive, "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.skipped = int(state["skipped"])
        self.consecutive = int(state["consecutive"])
        self.steps = int(state["steps"])


def install_guard(strategy, guard: NumericalGuardPlugin | None = None) -> NumericalGuardPlugin:
    """Put ``guard`` (a new one by default) first in ``strategy.plugins``; return it."""
    guard = guard if guard is not None else NumericalGuardPlugin()
    strategy.plugins.insert(0, guard)
    return guard


class GuardMetric(PluginMetric[int]):
    """``Guard/skipped_updates``: the updates the guard skipped so far, for every logger.

    Emitted on the training iteration of each skip (x = training iteration) and at the end of
    every training experience.
    """

    def __init__(self):
        super().__init__()
        self._value = 0

    def result(self) -> int:
        return self._value

    def reset(self) -> None:
        self._value = 0

    @staticmethod
    def _guard(strategy) -> NumericalGuardPlugin | None:
        for plugin in strategy.plugins:
            if isinstance(plugin, NumericalGuardPlugin):
                return plugin
        return None

    def _emit(self, strategy) -> list[MetricValue]:
        guard = self._guard(strategy)
        if guard is None:
            return []
        self._value = guard.skipped
        return [MetricValue(self, SKIPPED_METRIC, guard.skipped, strategy.clock.train_iterations)]

    def after_training_iteration(self, strategy):
        guard = self._guard(strategy)
        if guard is not None and guard._skipped_now:
            return self._emit(strategy)
        return None

    def after_training_exp(self, strategy):
        return self._emit(strategy)

    def __str__(self):
        return "Guard"

"""NumericalGuardPlugin: a NaN or inf in the loss, the gradients or an update undoes that update,
never the run.

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

Finite gradients can still make a non-finite update (a huge learning rate: Adam with ``lr``
1e308 fills every weight with inf in one step). With ``check_parameters`` the guard copies the
parameters and the optimizers' state before each step (into buffers reused from step to step,
one fused ``torch._foreach_copy_``) and checks them after it (one sum per tensor, one sync): a
step that left any of them NaN or infinite, or whose arithmetic overflowed (``value cannot be
converted to type float without overflow``), is undone (the copy is put back) and counted like a
bad gradient. The weights are therefore finite at every step; :meth:`weights_finite` lets a
runner check them at the end (a run whose weights are not finite is a fault, never a result).

``max_consecutive`` bad steps in a row stop the run: ``on_fault(strategy, message)`` is called
first, with the last finite state in place (the leaderboard's runner saves a checkpoint of it
there and returns its path), then :class:`NumericalFaultError` is raised with one line naming the
experience, the iteration and the checkpoint.

The guard must see the loss after every other plugin's ``before_backward``, the gradients before
any other plugin's ``after_backward`` (serotonin's importances, GEM's projections) and the
parameters before any other plugin's ``before_update`` and ``after_update``: :func:`install_guard`
puts it first in ``strategy.plugins`` and wraps ``strategy.optimizer_step`` (for overflows).
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
from torch.nn.parameter import is_lazy

from ..errors import NumericalFaultError

LOG = logging.getLogger("avalanche_neuromod")
SKIPPED_METRIC = "Guard/skipped_updates/train_phase/train_stream"
_OVERFLOW = "without overflow"  # torch's RuntimeError when a step's scalar does not fit the dtype


class NonFiniteUpdateWarning(RuntimeWarning):
    """One update was skipped or undone because a loss, gradient or result was NaN or inf."""


def _optimizers(strategy) -> list[torch.optim.Optimizer]:
    return [o for o in (getattr(strategy, "optimizer", None),
                        getattr(strategy, "critic_optimizer", None)) if o is not None]


def _strategy_params(strategy) -> list[torch.Tensor]:
    """Every parameter the strategy's optimizers may step (model, optimizer groups, critic)."""
    seen: dict[int, torch.Tensor] = {}
    for optimizer in _optimizers(strategy):
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


def _state_tensors(strategy) -> list[torch.Tensor]:
    """The parameters and every floating-point tensor of the optimizers' state, in order."""
    tensors = [p for p in _strategy_params(strategy) if not is_lazy(p)]  # a critic not built yet
    for optimizer in _optimizers(strategy):
        for entry in optimizer.state.values():
            tensors += [v for v in entry.values()
                        if isinstance(v, torch.Tensor) and v.is_floating_point()]
    return [t for t in tensors if t.numel() > 0]


def tensors_finite(tensors: list[torch.Tensor]) -> bool:
    """Every element finite. Fast path: one sum per tensor, one sync (NaN and inf propagate);
    only when a sum is not finite (it may have overflowed) are the elements looked at."""
    if not tensors:
        return True
    with torch.no_grad():
        if _all_finite([t.sum() for t in tensors]):
            return True
    return all(bool(torch.isfinite(t).all()) for t in tensors)


class _Snapshot:
    """Parameters and optimizer state before a step, copied into buffers reused across steps."""

    def __init__(self):
        self._layout: tuple = ()
        self._buffers: list[torch.Tensor] = []
        self._tensors: list[torch.Tensor] = []
        self._state: list[tuple[torch.optim.Optimizer, dict]] = []

    def take(self, strategy) -> None:
        tensors = _state_tensors(strategy)
        layout = tuple((id(t), t.shape, t.dtype, t.device) for t in tensors)
        if layout != self._layout:  # a new experience, a new optimizer state: new buffers
            self._buffers = [torch.empty_like(t, memory_format=torch.preserve_format)
                             for t in tensors]
            self._layout = layout
        if tensors:
            with torch.no_grad():
                torch._foreach_copy_(self._buffers, tensors)
        self._tensors = tensors
        # which parameters had state, and its plain (non-tensor) values
        self._state = [(o, {p: {k: v for k, v in entry.items()
                                if not (isinstance(v, torch.Tensor) and v.is_floating_point())}
                            for p, entry in o.state.items()}) for o in _optimizers(strategy)]

    def restore(self) -> None:
        with torch.no_grad():
            for tensor, saved in zip(self._tensors, self._buffers):
                tensor.copy_(saved)
        for optimizer, plain in self._state:
            for p in [p for p in optimizer.state if p not in plain]:  # state made by the step
                del optimizer.state[p]
            for p, values in plain.items():
                optimizer.state[p].update(values)


class NumericalGuardPlugin(SupervisedPlugin):
    """Skip or undo and count updates that are not finite; stop after too many in a row.

    :param max_consecutive: bad steps in a row that stop the run (:class:`NumericalFaultError`).
    :param check_gradients: check the gradients too (else only the loss).
    :param check_parameters: check the parameters and optimizer state after every step, and undo
        a step that made them non-finite.
    :param on_fault: ``on_fault(strategy, message) -> path or None``, called before the error is
        raised (e.g. to save a checkpoint); its return value is named in the error.
    """

    def __init__(self, *, max_consecutive: int = 10, check_gradients: bool = True,
                 check_parameters: bool = True, on_fault: Callable | None = None):
        super().__init__()
        if isinstance(max_consecutive, bool) or int(max_consecutive) < 1:
            raise ValueError(f"max_consecutive must be an integer >= 1, got {max_consecutive!r}")
        self.max_consecutive = int(max_consecutive)
        self.check_gradients = bool(check_gradients)
        self.check_parameters = bool(check_parameters)
        self.on_fault = on_fault
        self.skipped = 0  # updates skipped or undone in all
        self.consecutive = 0  # bad steps in a row, up to now
        self.steps = 0  # steps checked
        self.last_fault: str | None = None
        self._skipped_now = False
        self._dropped: list[torch.Tensor] = []
        self._snapshot = _Snapshot()

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

    def weights_finite(self, strategy) -> bool:
        """Whether every parameter the strategy trains is finite."""
        return tensors_finite([p for p in _strategy_params(strategy) if not is_lazy(p)])

    def _bad_step(self, strategy, what: str, done: str) -> None:
        """Count a bad step, warn; raise after ``max_consecutive`` in a row."""
        self.skipped += 1
        self.consecutive += 1
        self._skipped_now = True
        exp = getattr(getattr(strategy, "experience", None), "current_experience", "?")
        iteration = getattr(getattr(strategy, "clock", None), "train_exp_iterations", "?")
        message = (f"non-finite {what} at experience {exp}, iteration {iteration}: update "
                   f"{done} ({self.consecutive} in a row, {self.skipped} in all)")
        self.last_fault = message
        LOG.warning(message)
        warnings.warn(message, NonFiniteUpdateWarning, stacklevel=3)
        if self.consecutive >= self.max_consecutive:
            where = None
            if self.on_fault is not None:
                where = self.on_fault(strategy, message)
            saved = f"; last finite state saved to {where}" if where else ""
            raise NumericalFaultError(
                f"numerical fault: {self.consecutive} consecutive updates with a non-finite "
                f"{what} (experience {exp}, iteration {iteration}); run stopped{saved}")

    def after_backward(self, strategy, **kwargs):
        self.steps += 1
        self._skipped_now = False
        what = self._fault(strategy)
        if what is None:
            return
        params = _strategy_params(strategy)
        self._dropped = [p for p in params if p.grad is not None]
        for p in params:
            p.grad = None  # optimizer.step() skips parameters without a gradient
        self._bad_step(strategy, what, "skipped")

    def before_update(self, strategy, **kwargs):
        if self.check_parameters and not self._skipped_now:
            self._snapshot.take(strategy)

    def undo(self, strategy) -> None:
        """Put back the state from before this step and count the step as bad."""
        self._snapshot.restore()
        self._dropped = [p for p in _strategy_params(strategy) if p.grad is not None]
        for p in self._dropped:
            p.grad = None
        self._bad_step(strategy, "update", "undone")

    def after_update(self, strategy, **kwargs):
        if not self._skipped_now and self.check_parameters and \
                not tensors_finite(_state_tensors(strategy)):
            self.undo(strategy)
        if self._skipped_now:
            for p in self._dropped:  # later readers of p.grad (SI) see a zero step, not None
                p.grad = torch.zeros_like(p)
            self._dropped = []
        else:
            self.consecutive = 0

    # ------------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        return {"skipped": self.skipped, "consecutive": self.consecutive, "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.skipped = int(state["skipped"])
        self.consecutive = int(state["consecutive"])
        self.steps = int(state["steps"])


def install_guard(strategy, guard: NumericalGuardPlugin | None = None) -> NumericalGuardPlugin:
    """Put ``guard`` (a new one by default) first in ``strategy.plugins``; return it.

    ``strategy.optimizer_step`` is wrapped so that a step whose arithmetic overflows (torch's
    ``RuntimeError: value cannot be converted ... without overflow``) is undone and counted."""
    guard = guard if guard is not None else NumericalGuardPlugin()
    strategy.plugins.insert(0, guard)
    step = strategy.optimizer_step

    def optimizer_step(*args, **kwargs):
        try:
            return step(*args, **kwargs)
        except RuntimeError as err:
            if _OVERFLOW not in str(err) or not guard.check_parameters:
                raise
            guard.undo(strategy)
            return None

    strategy.optimizer_step = optimizer_step
    return guard


class GuardMetric(PluginMetric[int]):
    """``Guard/skipped_updates``: the updates the guard skipped or undid so far, for every logger.

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

"""The labels trick for class-incremental learning (Zeno, Golan, Hoffer & Soudry 2018).

During training the loss of a mini-batch is computed on the logits of the classes of the current
experience only: with ``C`` those classes and ``y_i`` in ``C``,

    L = mean_i -log( exp(z_{i, y_i}) / sum_{c in C} exp(z_{i, c}) )

so the logits of absent classes get no gradient and are not pushed down by the current
experience (what drives the 0.20 floor of plain fine-tuning on SplitMNIST class-IL). Evaluation
reads all logits. A class of a mini-batch's targets outside ``C`` (a replayed or memory sample) is
kept as well, so the restricted loss is defined for every sample it is given.

It works with any strategy whose loss is ``strategy._criterion(logits, targets)`` (Avalanche's
Naive, EWC, SI, MAS, LwF, Replay, GEM, ... and our presets); strategies that compute their own
loss terms (DER, ER-ACE, GenerativeReplay) are refused by the preset that asks for it.
"""

from __future__ import annotations

import torch
from avalanche.core import SupervisedPlugin
from torch import nn


class LabelsTrickLoss(nn.Module):
    """``base`` (e.g. cross-entropy) on the columns of ``classes`` (and the targets' classes),
    targets renumbered to those columns; ``classes=None`` is ``base`` on every logit."""

    def __init__(self, base, classes=None):
        super().__init__()
        self.base = base
        self.classes = None if classes is None else [int(c) for c in classes]

    def columns(self, logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(kept columns, targets renumbered to them)``."""
        keep = torch.zeros(logits.shape[-1], dtype=torch.bool, device=logits.device)
        keep[torch.as_tensor(self.classes, dtype=torch.long, device=logits.device)] = True
        keep[targets.long()] = True
        columns = keep.nonzero().squeeze(1)
        index = torch.full_like(keep, -1, dtype=torch.long)
        index[columns] = torch.arange(len(columns), device=logits.device)
        return columns, index[targets.long()]

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.classes is None:
            return self.base(logits, targets)
        columns, renumbered = self.columns(logits, targets)
        return self.base(logits[:, columns], renumbered)

    def per_sample(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Per-sample cross-entropy of the restricted logits (what plugins reweight)."""
        if self.classes is not None:
            columns, targets = self.columns(logits, targets)
            logits = logits[:, columns]
        return nn.functional.cross_entropy(logits, targets, reduction="none")


class LabelsTrickPlugin(SupervisedPlugin):
    """Train each experience with :class:`LabelsTrickLoss` on its classes
    (``experience.classes_in_this_experience``); evaluate on every logit.

    The strategy's criterion is wrapped for the length of each training experience and unwrapped
    after it; an evaluation inside training (``eval_every``) pauses the restriction. Between
    experiences the plugin holds nothing (a checkpoint has nothing of it to keep).
    """

    def __init__(self) -> None:
        super().__init__()
        self._paused: list[int] | None = None  # the classes while an eval runs inside training

    def before_training_exp(self, strategy, **kwargs):
        criterion = strategy._criterion
        if not isinstance(criterion, LabelsTrickLoss):
            criterion = strategy._criterion = LabelsTrickLoss(criterion)
        classes = getattr(strategy.experience, "classes_in_this_experience", None)
        if classes is None:
            raise ValueError("labels_trick: the experience does not say which classes it holds "
                             "(classes_in_this_experience)")
        criterion.classes = sorted(int(c) for c in classes)

    def before_eval(self, strategy, **kwargs):
        criterion = strategy._criterion
        if isinstance(criterion, LabelsTrickLoss):
            self._paused, criterion.classes = criterion.classes, None

    def after_eval(self, strategy, **kwargs):
        criterion = strategy._criterion
        if isinstance(criterion, LabelsTrickLoss):
            criterion.classes, self._paused = self._paused, None

    def after_training_exp(self, strategy, **kwargs):
        criterion = strategy._criterion
        if isinstance(criterion, LabelsTrickLoss):
            strategy._criterion = criterion.base


__all__ = ["LabelsTrickLoss", "LabelsTrickPlugin"]

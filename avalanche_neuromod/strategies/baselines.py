"""Avalanche baselines that need a shim to run on every benchmark of the package.

Avalanche's ``MASPlugin`` computes importances from batches of exactly ``(x, y)`` or
``(x, y, t)``; Go/No-Go experiences carry ``(x, y, stimulus, t)`` (the stimulus feeds
H(A|cue)). And it raises "Loss is not available" when a mini-batch's loss is exactly 0 (it tests
``not strategy.loss``), which a saturated network reaches. :class:`MAS` is Avalanche's MAS
(Aljundi et al. 2018; importance ``Omega_k = E_x |d ||f(x)||^2 / d theta_k|``, penalty
``lambda * sum_k Omega_k (theta_k - theta*_k)^2``) with both fixed; everything else is
Avalanche's code.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
from avalanche.training.plugins import MASPlugin
from avalanche.training.templates import SupervisedTemplate
from torch.utils.data import Dataset


class _InputLabelTask(Dataset):
    """A view of a dataset keeping the first two items and the task label of each sample."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index):
        item = self.dataset[index]
        return item[0], item[1], item[-1]


class BatchAgnosticMASPlugin(MASPlugin):
    """MAS whose importance pass accepts batches with extra items between ``y`` and ``t``."""

    def _get_importance(self, strategy):
        dataset = strategy.experience.dataset
        if len(dataset) and len(dataset[0]) <= 3:
            return super()._get_importance(strategy)
        view = SimpleNamespace(model=strategy.model, optimizer=strategy.optimizer,
                               device=strategy.device, train_mb_size=strategy.train_mb_size,
                               experience=SimpleNamespace(dataset=_InputLabelTask(dataset)))
        return super()._get_importance(view)


    def before_backward(self, strategy, **kwargs):
        loss = strategy.loss
        if isinstance(loss, torch.Tensor) and loss.numel() == 1 and not bool(loss):
            strategy.loss = loss + 1.0  # a constant: the gradient is unchanged
            super().before_backward(strategy, **kwargs)
            strategy.loss = strategy.loss - 1.0
            return
        super().before_backward(strategy, **kwargs)


class MAS(SupervisedTemplate):
    """Avalanche's ``MAS`` strategy (same arguments) with :class:`BatchAgnosticMASPlugin`."""

    def __init__(self, *, model, optimizer, criterion, lambda_reg: float = 1.0,
                 alpha: float = 0.5, verbose: bool = False, plugins=None, **base_kwargs):
        plugins = [*(plugins or []),
                   BatchAgnosticMASPlugin(lambda_reg=lambda_reg, alpha=alpha, verbose=verbose)]
        super().__init__(model=model, optimizer=optimizer, criterion=criterion, plugins=plugins,
                         **base_kwargs)

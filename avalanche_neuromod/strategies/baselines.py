"""Avalanche baselines that need a shim to run on every benchmark of the package.

Avalanche's ``MASPlugin`` computes importances from batches of exactly ``(x, y)`` or
``(x, y, t)``; Go/No-Go experiences carry ``(x, y, stimulus, t)`` (the stimulus feeds
H(A|cue)). And it raises "Loss is not available" when a mini-batch's loss is exactly 0 (it tests
``not strategy.loss``), which a saturated network reaches. :class:`MAS` is Avalanche's MAS
(Aljundi et al. 2018; importance ``Omega_k = E_x |d ||f(x)||^2 / d theta_k|``, penalty
``lambda * sum_k Omega_k (theta_k - theta*_k)^2``) with both fixed; everything else is
Avalanche's code.

Avalanche's ``SynapticIntelligencePlugin`` (Zenke et al. 2017; importance
``Omega_k = sum_exp w_k / (Delta_k^2 + xi)`` with path integral ``w_k = -sum_t g_k(t) dtheta_k(t)``,
penalty ``lambda / 2 * sum_k Omega_k (theta_k - theta*_k)^2``) snapshots the weights with
``param.detach().cpu().flatten()``, which on a CPU is a *view* of the live parameter, not a copy:
the "old" weights move with every update, so the path integral, the importances and the anchor
distance are all zero and SI trains exactly like Naive, whatever ``si_lambda`` (on a GPU ``.cpu()``
copies, so it works there). :class:`SynapticIntelligence` is Avalanche's SI whose snapshots are
copies.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
from avalanche.training.plugins import MASPlugin, SynapticIntelligencePlugin
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


def _own(params: dict) -> None:
    """Replace each snapshot that may share storage with a live parameter by a copy."""
    for value in params.values():
        value.data = value.data.clone()


class CopyingSIPlugin(SynapticIntelligencePlugin):
    """Avalanche's SI plugin whose anchor and per-step snapshots are copies, not views."""

    def before_training_exp(self, strategy, **kwargs):
        super().before_training_exp(strategy, **kwargs)
        _own(self.ewc_data[0])  # theta*: the anchor of the penalty

    def before_training_iteration(self, strategy, **kwargs):
        super().before_training_iteration(strategy, **kwargs)
        _own(self.syn_data["old_theta"])  # theta(t) before this step's update


class SynapticIntelligence(SupervisedTemplate):
    """Avalanche's ``SynapticIntelligence`` strategy (same arguments) with
    :class:`CopyingSIPlugin`."""

    def __init__(self, *, model, optimizer, criterion, si_lambda, eps: float = 1e-7,
                 plugins=None, **base_kwargs):
        plugins = [*(plugins or []), CopyingSIPlugin(si_lambda=si_lambda, eps=eps)]
        super().__init__(model=model, optimizer=optimizer, criterion=criterion, plugins=plugins,
                         **base_kwargs)


class MAS(SupervisedTemplate):
    """Avalanche's ``MAS`` strategy (same arguments) with :class:`BatchAgnosticMASPlugin`."""

    def __init__(self, *, model, optimizer, criterion, lambda_reg: float = 1.0,
                 alpha: float = 0.5, verbose: bool = False, plugins=None, **base_kwargs):
        plugins = [*(plugins or []),
                   BatchAgnosticMASPlugin(lambda_reg=lambda_reg, alpha=alpha, verbose=verbose)]
        super().__init__(model=model, optimizer=optimizer, criterion=criterion, plugins=plugins,
                         **base_kwargs)

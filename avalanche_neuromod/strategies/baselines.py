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
copies. Avalanche clips ``Omega_k`` from above only: a step that is not along ``-g_k`` (momentum, a
rescaled or reweighted loss, a plugin that moves weights itself) makes ``w_k`` and ``Omega_k``
negative, and a negative ``Omega_k`` turns the penalty into a reward for moving away from the
anchor, which diverges once it outweighs the task loss's curvature. ``nonnegative=True`` keeps
``Omega_k = max(0, Omega_k)`` (Mammoth's SI is non-negative by construction, ``w_k = lr g_k^2``);
the default is Avalanche's.

Avalanche's ``DER`` and ``ER_ACE`` take mini-batches of exactly ``(x, y, t)`` (their buffers and
logit passes unpack three items); :class:`DER` and :class:`ER_ACE` are theirs, refusing a stream
with more items (Go/No-Go's ``(x, y, stimulus, t)``) with one line instead of an unpacking error.
Avalanche's ``GenerativeReplay`` builds its VAE for ``1x28x28`` inputs and trains it with a
strategy that prints to stdout; :class:`GenerativeReplay` is theirs with the same VAE, optimizer
and replay plugin, a silent generator strategy, and one line for a stream of other inputs.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
from avalanche.models import MultiTaskModule
from avalanche.training import DER as _DER
from avalanche.training import ER_ACE as _ER_ACE
from avalanche.training import GenerativeReplay as _GenerativeReplay
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
    """Avalanche's SI plugin whose anchor and per-step snapshots are copies, not views;
    ``nonnegative=True`` clamps the importances at 0 after each experience (module docstring)."""

    def __init__(self, *, si_lambda, eps: float = 1e-7, nonnegative: bool = False, **kwargs):
        super().__init__(si_lambda=si_lambda, eps=eps, **kwargs)
        self.nonnegative = bool(nonnegative)

    def after_training_exp(self, strategy, **kwargs):
        super().after_training_exp(strategy, **kwargs)
        if self.nonnegative:
            for value in self.ewc_data[1].values():
                value.data.clamp_(min=0.0)

    def before_training_exp(self, strategy, **kwargs):
        super().before_training_exp(strategy, **kwargs)
        _own(self.ewc_data[0])  # theta*: the anchor of the penalty

    def before_training_iteration(self, strategy, **kwargs):
        super().before_training_iteration(strategy, **kwargs)
        _own(self.syn_data["old_theta"])  # theta(t) before this step's update


class SynapticIntelligence(SupervisedTemplate):
    """Avalanche's ``SynapticIntelligence`` strategy (same arguments, and ``nonnegative``) with
    :class:`CopyingSIPlugin`."""

    def __init__(self, *, model, optimizer, criterion, si_lambda, eps: float = 1e-7,
                 nonnegative: bool = False, plugins=None, **base_kwargs):
        plugins = [*(plugins or []),
                   CopyingSIPlugin(si_lambda=si_lambda, eps=eps, nonnegative=nonnegative)]
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


def _require_triples(strategy, name: str) -> None:
    dataset = strategy.experience.dataset
    if len(dataset) and len(dataset[0]) > 3:
        raise ValueError(f"{name}: Avalanche's {name} takes (x, y, t) samples; this stream's "
                         f"have {len(dataset[0])} items (Go/No-Go adds the stimulus)")


class DER(_DER):
    """Avalanche's ``DER`` (Dark Experience Replay++, Buzzega et al. 2020; same arguments):
    ``L = CE(f(x), y) + alpha ||f(x_m) - z_m||^2 + beta CE(f(x_m'), y_m')`` over buffer samples
    ``x_m`` with their stored logits ``z_m``. Avalanche stores ``z_m = f(x_m)`` without the task
    label, so a multi-head model (task-IL) is refused before training, in one line."""

    def _before_training_exp(self, **kwargs):
        _require_triples(self, "DER")
        if isinstance(self.model, MultiTaskModule):
            raise ValueError("DER: Avalanche's DER stores buffer logits f(x) without the task "
                             "label, so it cannot train a multi-head model (task-IL)")
        super()._before_training_exp(**kwargs)


class ER_ACE(_ER_ACE):  # noqa: N801 (Avalanche's name)
    """Avalanche's ``ER_ACE`` (Caccia et al. 2022; same arguments): replay with the asymmetric
    cross-entropy (incoming samples on the classes of their mini-batch only)."""

    def _before_training_exp(self, **kwargs):
        _require_triples(self, "ER_ACE")
        super()._before_training_exp(**kwargs)


class GenerativeReplay(_GenerativeReplay):
    """Avalanche's ``GenerativeReplay`` (Shin et al. 2017; same arguments) whose default
    generator strategy (Avalanche's: ``MlpVAE((1, 28, 28), nhid=2)``, Adam lr 0.01, weight decay
    1e-4, ``GenerativeReplayPlugin``) logs nothing."""

    def __init__(self, *, model, optimizer, train_mb_size: int = 1, train_epochs: int = 1,
                 eval_mb_size=None, device="cpu", generator_strategy=None,
                 replay_size=None, increasing_replay_size: bool = False,
                 is_weighted_replay: bool = False, weight_replay_loss_factor: float = 1.0,
                 weight_replay_loss: float = 0.0001, **kwargs):
        replay = dict(replay_size=replay_size, increasing_replay_size=increasing_replay_size,
                      is_weighted_replay=is_weighted_replay,
                      weight_replay_loss_factor=weight_replay_loss_factor,
                      weight_replay_loss=weight_replay_loss)
        if generator_strategy is None:
            from avalanche.models import MlpVAE
            from avalanche.models.generator import VAE_loss
            from avalanche.training.plugins import EvaluationPlugin, GenerativeReplayPlugin
            from avalanche.training.supervised import VAETraining

            generator = MlpVAE((1, 28, 28), nhid=2, device=device)
            generator_strategy = VAETraining(
                model=generator, criterion=VAE_loss, train_mb_size=train_mb_size,
                optimizer=torch.optim.Adam([p for p in generator.parameters() if
                                            p.requires_grad], lr=0.01, weight_decay=0.0001),
                train_epochs=train_epochs, eval_mb_size=eval_mb_size, device=device,
                plugins=[GenerativeReplayPlugin(**replay)], evaluator=EvaluationPlugin(loggers=[]))
        super().__init__(model=model, optimizer=optimizer, train_mb_size=train_mb_size,
                         train_epochs=train_epochs, eval_mb_size=eval_mb_size, device=device,
                         generator_strategy=generator_strategy, **replay, **kwargs)

    def _before_training_exp(self, **kwargs):
        dataset = self.experience.dataset
        shape = tuple(dataset[0][0].shape) if len(dataset) else (1, 28, 28)
        if shape != (1, 28, 28):
            raise ValueError(f"GenerativeReplay: Avalanche's default generator (MlpVAE) makes "
                             f"1x28x28 inputs; this stream's are {'x'.join(map(str, shape))}")
        super()._before_training_exp(**kwargs)

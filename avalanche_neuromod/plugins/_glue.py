"""Glue shared by the plugins: update gating, layer lookup, reading signals off a strategy.

None of this is neuromodulation by itself; it is how a modulator's factor reaches an arbitrary
Avalanche strategy, torch model and optimizer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class UpdateGate:
    """Scale the optimizer's update of every model parameter by a plasticity factor ``m``.

    Three-factor form (Frémaux & Gerstner 2016): ``dw = m * e`` where ``e`` is the update the
    optimizer proposes (its eligibility, whatever the optimizer: SGD, Adam, ...). Implemented as
    ``w <- w_old + m * (w_new - w_old)`` around ``optimizer.step()``, so it composes
    multiplicatively with other gates and leaves the optimizer's own state untouched.
    """

    def __init__(self) -> None:
        self._params: list[torch.Tensor] = []
        self._before: list[torch.Tensor] = []

    def snapshot(self, model: nn.Module) -> None:
        self._params = [p for p in model.parameters() if p.requires_grad]
        self._before = [p.detach().clone() for p in self._params]

    @torch.no_grad()
    def apply(self, factor: torch.Tensor | float) -> None:
        if not self._params:
            return
        if not isinstance(factor, torch.Tensor) or factor.numel() == 1:
            value = float(factor)
            if value != 1.0:
                for old, p in zip(self._before, self._params):
                    p.copy_(torch.lerp(old, p, value))
        self._params, self._before = [], []


def _layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, m) for name, m in model.named_modules()
            if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d))]


def readout_layers(model: nn.Module) -> list[nn.Module]:
    """The read-out: the last Linear/conv layer, or every head of a multi-head model."""
    hidden = {id(m) for m in hidden_layers(model)}
    return [m for _, m in _layers(model) if id(m) not in hidden]


def hidden_layers(model: nn.Module) -> list[nn.Module]:
    """Linear and convolutional layers of ``model`` except the last one (the read-out).

    Found by walking the module tree, so any ``nn.Module`` works; multi-head models keep all of
    their heads out of the list (heads are the read-out).
    """
    layers = _layers(model)
    head_names = {name for name, _ in layers if "classifier" in name or "head" in name}
    layers = [(name, m) for name, m in layers
              if not any(name == h or name.startswith(h + ".") for h in head_names)]
    if not head_names and layers:
        layers = layers[:-1]
    return [m for _, m in layers]


def is_reward_driven(strategy) -> bool:
    """True when the strategy chose actions and received rewards this step."""
    return getattr(strategy, "mb_reward", None) is not None


def reward_prediction_error(strategy) -> torch.Tensor:
    """``r - V`` from a reward-driven strategy (``V = 0`` when it has no critic value)."""
    reward = strategy.mb_reward.detach().float()
    value = getattr(strategy, "mb_value", None)
    return reward if value is None else reward - value.detach().float()


def per_sample_loss(strategy) -> torch.Tensor:
    """Per-sample cross-entropy of the current mini-batch, with the criterion's settings."""
    criterion = getattr(strategy, "_criterion", None)
    if callable(getattr(criterion, "per_sample", None)):  # e.g. the labels trick's restriction
        return criterion.per_sample(strategy.mb_output, strategy.mb_y)
    kwargs = {}
    if isinstance(criterion, nn.CrossEntropyLoss):
        kwargs = dict(weight=criterion.weight, ignore_index=criterion.ignore_index,
                      label_smoothing=criterion.label_smoothing)
    return F.cross_entropy(strategy.mb_output, strategy.mb_y, reduction="none", **kwargs)


def loss_normaliser(strategy) -> torch.Tensor:
    """The denominator of the criterion's mean: ``sum_i w_{y_i}`` over the samples it keeps.

    ``nn.CrossEntropyLoss`` divides by the summed class weights of the kept (non-ignored) samples,
    so a reweighting term must use the same denominator to stay a weighted mean of ``m_i l_i``.
    """
    criterion = getattr(strategy, "_criterion", None)
    y = strategy.mb_y
    if not isinstance(criterion, nn.CrossEntropyLoss) or y.dim() != 1:
        return torch.tensor(float(y.shape[0]), device=y.device)
    keep = y != criterion.ignore_index
    if criterion.weight is None:
        return keep.sum().clamp_min(1).float()
    weights = criterion.weight.to(y.device)[y.clamp_min(0)] * keep
    return weights.sum().clamp_min(torch.finfo(weights.dtype).tiny)


def output_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Per-sample entropy (nats) of the softmax of ``logits``."""
    logp = F.log_softmax(logits.detach().float(), dim=-1)
    return -(logp.exp() * logp).sum(-1)

"""Models of the suites: MLPs, single-head or multi-head (task-incremental), and the models
registered by name (:mod:`avalanche_neuromod.registry`)."""

from __future__ import annotations

import torch
from avalanche.models import MultiHeadClassifier, MultiTaskModule
from torch import nn

from .registry import ACTIVATIONS as _ACTIVATION_NAMES
from .registry import register_model  # noqa: F401 (documented here too)

ACTIVATIONS = {name: getattr(nn, cls) for name, cls in _ACTIVATION_NAMES.items()}


def _features(input_size: int, hidden: int, layers: int, activation: str) -> nn.Sequential:
    modules: list[nn.Module] = [nn.Flatten()]
    width = input_size
    for _ in range(layers):
        modules += [nn.Linear(width, hidden), ACTIVATIONS[activation]()]
        width = hidden
    return nn.Sequential(*modules)


class MLP(nn.Module):
    """``layers`` hidden layers of ``hidden`` units and a linear read-out (``classifier``)."""

    def __init__(self, *, input_size: int, n_classes: int, hidden: int = 400, layers: int = 2,
                 activation: str = "relu"):
        super().__init__()
        self.features = _features(input_size, hidden, layers, activation)
        self.classifier = nn.Linear(hidden if layers else input_size, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class MultiHeadMLP(MultiTaskModule):
    """The same trunk with one read-out per task (Avalanche's ``MultiHeadClassifier``)."""

    def __init__(self, *, input_size: int, hidden: int = 400, layers: int = 2,
                 activation: str = "relu", initial_out_features: int = 2):
        super().__init__()
        self.features = _features(input_size, hidden, layers, activation)
        self.classifier = MultiHeadClassifier(hidden if layers else input_size,
                                              initial_out_features=initial_out_features)

    def forward_single_task(self, x: torch.Tensor, task_label: int) -> torch.Tensor:
        return self.classifier(self.features(x), task_label)


def build_model(*, input_size: int, n_classes: int, multihead: bool = False,
                name: str | None = None, **args) -> nn.Module:
    """The model of a suite's ``budget.model``: the MLP (:func:`mlp`, no ``name``) or a model
    registered by ``name`` (:func:`avalanche_neuromod.registry.register_model`)."""
    from .registry import DEFAULT_MODEL, model_factory

    return model_factory(name or DEFAULT_MODEL)(input_size=input_size, n_classes=n_classes,
                                                multihead=multihead, **args)


def mlp(*, input_size: int, n_classes: int, multihead: bool = False, hidden: int = 400,
        layers: int = 2, activation: str = "relu") -> nn.Module:
    """The built-in model ``mlp``: :class:`MLP`, or :class:`MultiHeadMLP` when ``multihead``."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation: unknown activation {activation!r}; choose from "
                         f"{', '.join(ACTIVATIONS)}")
    if multihead:
        return MultiHeadMLP(input_size=input_size, hidden=hidden, layers=layers,
                            activation=activation)
    return MLP(input_size=input_size, n_classes=n_classes, hidden=hidden, layers=layers,
               activation=activation)

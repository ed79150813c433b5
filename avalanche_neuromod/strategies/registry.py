"""Strategies by name: our neuromodulation presets and Avalanche's baselines, one constructor.

A preset file (``strategies/<name>.yaml``) holds either ``modulators`` (a neuromodulated strategy)
or ``baseline`` (an Avalanche strategy class and its hyper-parameters)::

    name: ewc
    baseline: {class: EWC, args: {ewc_lambda: 1.0, mode: separate}}

Both together are a host strategy with :class:`~avalanche_neuromod.plugins.NeuromodulationPlugin`
appended to its plugins, unchanged (``modulators: default``: the plugin's adaptive default)::

    name: ewc+nm
    baseline: {class: EWC, args: {ewc_lambda: 1.0, mode: separate}}
    modulators: default
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .presets import PresetError, build_plugins, load_preset

if TYPE_CHECKING:  # imported where used: suites validate presets before torch is loaded
    import torch

BASELINES = ("Naive", "JointTraining", "Cumulative", "EWC", "SynapticIntelligence", "LwF",
             "MAS", "GEM", "AGEM", "Replay", "DER", "ER_ACE", "GenerativeReplay")
# baselines whose loss is not ``_criterion(logits, targets)`` alone: no labels trick for them
OWN_LOSS = ("DER", "ER_ACE", "GenerativeReplay")


def labels_trick_plugins(preset: dict, *, learning: str = "supervised") -> list:
    """``[LabelsTrickPlugin()]`` when the preset asks for ``labels_trick: true``, else ``[]``."""
    if not preset.get("labels_trick"):
        return []
    name = preset.get("name")
    if learning != "supervised":
        raise PresetError(f"preset {name!r}: labels_trick is for supervised learning")
    cls = (preset.get("baseline") or {}).get("class")
    if cls in OWN_LOSS:
        raise PresetError(f"preset {name!r}: labels_trick: {cls} computes its own loss terms, "
                          "which the labels trick does not restrict")
    from ..plugins.labels_trick import LabelsTrickPlugin

    return [LabelsTrickPlugin()]


def _baseline_class(name: str):
    import avalanche.training as training

    from . import baselines

    if name not in BASELINES:
        raise PresetError(f"baseline.class: unknown Avalanche strategy {name!r}; choose from "
                          f"{', '.join(BASELINES)}")
    return getattr(baselines, name, None) or getattr(training, name)


def build_strategy(
    name_or_preset,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    learning: str = "supervised",
    plugins=None,
    overrides: dict | None = None,
    **kwargs,
):
    """An Avalanche strategy for a preset name/dict: a baseline or a NeuromodulatedStrategy.

    ``kwargs`` are the suite's shared budget (``train_mb_size``, ``train_epochs``,
    ``eval_mb_size``, ``device``, ``evaluator``, ``eval_every``, ``criterion``).
    """
    preset = load_preset(name_or_preset)
    baseline = preset.get("baseline")
    if baseline is not None:
        import torch

        if learning != "supervised":
            raise PresetError(f"preset {preset.get('name')!r}: Avalanche baselines learn "
                              "supervised only")
        cls = _baseline_class(baseline.get("class"))
        # a host strategy with our plugin appended to its own (``modulators`` beside ``baseline``)
        plugins = [*(plugins or []), *build_plugins(preset),
                   *labels_trick_plugins(preset)] or plugins
        args = dict(baseline.get("args") or {})
        criterion = kwargs.pop("criterion", None) or torch.nn.CrossEntropyLoss()
        try:
            return cls(model=model, optimizer=optimizer, criterion=criterion, plugins=plugins,
                       **args, **kwargs)
        except TypeError as err:
            raise PresetError(f"preset {preset.get('name')!r}: baseline.args: {err}") from None
    from .neuromodulated import NeuromodulatedStrategy

    return NeuromodulatedStrategy(model=model, optimizer=optimizer, preset=preset,
                                  modulators=overrides, learning=learning, plugins=plugins,
                                  **kwargs)

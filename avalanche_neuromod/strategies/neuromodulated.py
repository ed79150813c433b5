"""NeuromodulatedStrategy: an Avalanche strategy configured by a neuromodulation preset."""

from __future__ import annotations

from .presets import PresetError, build_plugins, load_preset
from .registry import labels_trick_plugins
from .reward import RewardDrivenStrategy


class NeuromodulatedStrategy(RewardDrivenStrategy):
    """A strategy whose learning is shaped by the neuromodulators of a preset.

    Mei et al. (2025, arXiv:2501.06762): dopamine (reward prediction error, third factor) and
    noradrenaline (surprise, gain, flexibility) co-modulate one learner. ``preset`` names a preset
    (every one is listed, with its parameters and the scenario it was selected for, in
    docs/presets.md and by ``avalanche-neuromod list presets``), a YAML file or a dict; its plugins
    are added before the user's ``plugins``. ``learning`` selects supervised learning (default) or
    reward-driven actor-critic learning (see :class:`RewardDrivenStrategy`, whose keyword
    arguments are accepted too).

    A preset's ``memory: {size: N}`` adds Avalanche's ``ReplayPlugin`` with ``N`` stored samples
    (balanced over experiences, as Avalanche's ``Replay``), for supervised learning only. Its
    ``learner`` block gives the reward-driven rule's arguments (e.g. ``a2c``'s entropy bonus;
    keyword arguments given here take precedence; supervised learning ignores it), and
    ``labels_trick: true`` adds :class:`~avalanche_neuromod.plugins.labels_trick.LabelsTrickPlugin`
    (supervised only).

    :param preset: preset name, path or dict.
    :param modulators: per-modulator parameter overrides, e.g.
        ``{"noradrenaline": {"threshold": 2.5}}``.
    """

    def __init__(
        self,
        *,
        model,
        optimizer,
        preset="da+na",
        modulators: dict | None = None,
        learning: str = "supervised",
        plugins=None,
        **kwargs,
    ):
        self.preset = load_preset(preset)
        self.modulator_plugins = build_plugins(self.preset, overrides=modulators)
        memory = []
        if self.preset.get("memory") is not None:
            if learning != "supervised":
                raise PresetError(f"preset {self.preset.get('name')!r}: memory (replay) is for "
                                  "supervised learning")
            from avalanche.training.plugins import ReplayPlugin

            memory = [ReplayPlugin(mem_size=self.preset["memory"]["size"])]
        memory += labels_trick_plugins(self.preset, learning=learning)
        if learning == "reward":
            kwargs = {**(self.preset.get("learner") or {}), **kwargs}
        super().__init__(model=model, optimizer=optimizer, learning=learning,
                         plugins=[*self.modulator_plugins, *memory, *(plugins or [])], **kwargs)

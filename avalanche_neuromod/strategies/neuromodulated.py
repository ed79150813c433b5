"""NeuromodulatedStrategy: an Avalanche strategy configured by a neuromodulation preset."""

from __future__ import annotations

from .presets import PresetError, build_plugins, load_preset
from .reward import RewardDrivenStrategy


class NeuromodulatedStrategy(RewardDrivenStrategy):
    """A strategy whose learning is shaped by the neuromodulators of a preset.

    Mei et al. (2025, arXiv:2501.06762): dopamine (reward prediction error, third factor) and
    noradrenaline (surprise, gain, flexibility) co-modulate one learner. ``preset`` names a preset
    of ``strategies/`` (``none``, ``da``, ``na``, ``da+na``), a YAML file or a dict; its plugins are
    added before the user's ``plugins``. ``learning`` selects supervised learning (default) or
    reward-driven actor-critic learning (see :class:`RewardDrivenStrategy`, whose keyword
    arguments are accepted too).

    A preset's ``memory: {size: N}`` adds Avalanche's ``ReplayPlugin`` with ``N`` stored samples
    (balanced over experiences, as Avalanche's ``Replay``), for supervised learning only.

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
        super().__init__(model=model, optimizer=optimizer, learning=learning,
                         plugins=[*self.modulator_plugins, *memory, *(plugins or [])], **kwargs)

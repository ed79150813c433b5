"""Strategy presets as data: ``strategies/<name>.yaml`` (installed as package data).

A preset names the modulators a strategy uses and their parameters::

    name: da+na
    modulators:
      dopamine: {tonic_rate: 0.05, ...}
      noradrenaline: {threshold: 3.0, ...}

``learner`` sets the reward-driven learning rule (``RewardDrivenStrategy``'s ``rule``,
``advantage``, ``entropy_coef``, ``inverse_temperature``, ``actor_lr``, ``epsilon``, ...; supervised
learning ignores it), ``labels_trick: true`` trains every experience on its own classes' logits
(:mod:`avalanche_neuromod.plugins.labels_trick`; any strategy, also a baseline).
"""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

from ..config import parse_yaml, safe_name
from ..errors import ConfigError, PresetError

MODULATORS = ("dopamine", "noradrenaline", "acetylcholine", "serotonin")
PRESET_KEYS = {"name", "description", "modulators", "integration", "baseline", "selection",
               "memory", "learner", "labels_trick"}


LOCAL_DIR = "strategies"  # ./strategies/<name>.yaml shadows a packaged preset


def packaged_presets() -> dict[str, Any]:
    """The presets shipped with the package, by name (files of ``avalanche_neuromod.presets``)."""
    root = resources.files("avalanche_neuromod.presets")
    return {p.name[:-5]: p for p in root.iterdir() if p.name.endswith(".yaml")}


def _preset_files() -> dict[str, Any]:
    """Packaged presets, each shadowed by ``./strategies/<name>.yaml`` when the current folder
    has one (where ``avalanche-neuromod select --write`` writes a selection)."""
    files = packaged_presets()
    local = Path.cwd() / LOCAL_DIR
    if local.is_dir():
        files.update({p.stem: p for p in sorted(local.glob("*.yaml"))})
    return files


def preset_source(name: str | Path):
    """The file a preset name (or ``.yaml`` path) reads from, or ``None``."""
    text = str(name)
    files = _preset_files()
    if text in files:
        return files[text]
    path = Path(text)
    return path if text.endswith((".yaml", ".yml")) and path.is_file() else None


def list_presets() -> list[str]:
    """Names of the presets: the packaged ones and those of ``./strategies/``."""
    return sorted(_preset_files())


def validate_preset(data: Any, *, source: str) -> dict:
    """Check a preset's structure; return a normalised deep copy."""
    if not isinstance(data, dict):
        raise PresetError(f"{source}: a preset must be a mapping, got {type(data).__name__}")
    unknown = set(data) - PRESET_KEYS
    if unknown:
        raise PresetError(f"{source}: unknown key(s) {sorted(unknown)}; allowed "
                          f"{sorted(PRESET_KEYS)}")
    modulators = data.get("modulators") or {}
    if not isinstance(modulators, dict):
        raise PresetError(f"{source}: modulators must be a mapping")
    for name, params in modulators.items():
        if name not in MODULATORS:
            raise PresetError(f"{source}: modulators.{name}: unknown modulator; choose from "
                              f"{', '.join(MODULATORS)}")
        if params is not None and not isinstance(params, dict):
            raise PresetError(f"{source}: modulators.{name} must be a mapping of parameters")
    baseline = data.get("baseline")
    if baseline is not None:
        if not isinstance(baseline, dict) or set(baseline) - {"class", "args"} or \
                not isinstance(baseline.get("class"), str):
            raise PresetError(f"{source}: baseline must be a mapping with class and args")
        if modulators:
            raise PresetError(f"{source}: a preset has either modulators or a baseline")
    memory = data.get("memory")
    if memory is not None:
        size = memory.get("size") if isinstance(memory, dict) else None
        if not isinstance(memory, dict) or set(memory) != {"size"} or isinstance(size, bool) \
                or not isinstance(size, int) or size < 1:
            raise PresetError(f"{source}: memory must be a mapping {{size: N}} with N a positive "
                              f"integer (stored samples), got {memory!r}")
        if baseline is not None:
            raise PresetError(f"{source}: memory is for modulator presets; a baseline sets its "
                              "own (e.g. Replay's mem_size)")
    learner = data.get("learner")
    if learner is not None:  # the reward-driven learning rule's settings (RewardDrivenStrategy)
        from .reward import check_learner

        if baseline is not None:
            raise PresetError(f"{source}: learner is for our reward-driven learner; a baseline "
                              "sets its own args")
        try:
            check_learner(learner)
        except ValueError as err:
            raise PresetError(f"{source}: {err}") from None
        if learner.get("rule") == "q-learning" and modulators:
            raise PresetError(f"{source}: learner.rule: q-learning takes no modulators (they act "
                              "on the actor-critic's third factor and policy)")
    labels_trick = data.get("labels_trick")
    if labels_trick is not None and not isinstance(labels_trick, bool):
        raise PresetError(f"{source}: labels_trick must be true or false, got {labels_trick!r}")
    integration = data.get("integration")
    if integration is not None:
        from ..modulators.integration import IntegrationError, validate_integration

        try:
            validate_integration(integration)
        except IntegrationError as err:
            raise PresetError(f"{source}: {err}") from None
    out = copy.deepcopy(data)
    out["modulators"] = {k: dict(v or {}) for k, v in modulators.items()}
    return out


def load_preset(name_or_path: str | Path | dict) -> dict:
    """A preset by name (``"da+na"``), from a YAML file path, or a dict (validated)."""
    if isinstance(name_or_path, dict):
        return validate_preset(name_or_path, source="preset")
    text = str(name_or_path)
    files = _preset_files()
    if text in files:
        source, raw = f"preset {text!r}", files[text].read_bytes()
    elif text.endswith((".yaml", ".yml")):
        path = Path(text)
        try:
            raw = path.read_bytes()
        except OSError as err:
            raise PresetError(f"preset: cannot read {path}: {err.strerror}") from None
        source = str(path)
    else:
        raise PresetError(f"preset: unknown preset {text!r}; choose from "
                          f"{', '.join(list_presets())} or give a .yaml file")
    try:  # UTF-8, no duplicate keys: the suites' loader
        data = parse_yaml(raw, source=source)
    except ConfigError as err:
        raise PresetError(str(err).removeprefix("config: ")) from None
    preset = validate_preset(data, source=source)
    if "name" in preset:  # a file's own name names selection folders and strategy labels
        try:
            safe_name(preset["name"], field="name")
        except ConfigError as err:
            raise PresetError(f"{source}: {err}") from None
    preset.setdefault("name", text)
    return preset


def build_plugins(preset: dict, *, overrides: dict | None = None) -> list:
    """The plugin a preset describes: one :class:`NeuromodulationPlugin` (none for ``none``).

    ``overrides`` update the parameters of modulators the preset uses; an override for a
    modulator the preset does not use is ignored (so one set of overrides can serve a whole suite
    without turning the ``none`` or ``da`` baselines into something else).
    """
    from ..plugins import ModulatorConfigError, NeuromodulationPlugin

    if preset.get("baseline") is not None:
        raise PresetError(f"preset {preset.get('name')!r} is an Avalanche baseline; build it with "
                          "avalanche_neuromod.strategies.build_strategy")
    modulators = copy.deepcopy(preset["modulators"])
    for name, params in (overrides or {}).items():
        if name not in MODULATORS:
            raise PresetError(f"modulators.{name}: unknown modulator")
        if not isinstance(params, dict):
            raise PresetError(f"modulators.{name}: must be a mapping of parameters")
        if name in modulators:
            modulators[name].update(params)
    if not modulators:
        return []
    try:
        return [NeuromodulationPlugin(integration=preset.get("integration"), **modulators)]
    except ModulatorConfigError as err:
        raise PresetError(f"modulators.{err}") from None

"""``avalanche-neuromod list presets|suites|grids|benchmarks|models`` and ``--version``.

``list presets --markdown`` renders docs/presets.md from the packaged preset files (every preset
with its description, parameters and provenance); tests/test_presets.py checks that the
committed page is this text.
"""

from __future__ import annotations

import inspect
import re
from importlib import metadata

import yaml

WHAT = ("presets", "suites", "grids", "benchmarks", "models")
PAGE = "docs/presets.md"


def version_text() -> str:
    """``avalanche-neuromod 0.1.0 (avalanche-lib 0.6.0, torch 2.14.1)``."""
    from . import __version__

    deps = []
    for dist in ("avalanche-lib", "torch"):
        try:
            deps.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            deps.append(f"{dist} not installed")
    return f"avalanche-neuromod {__version__} ({', '.join(deps)})"


def _doc_line(obj) -> str:
    """A docstring's first line without its reST markup (``x`` and :class:`X` read x, X)."""
    doc = (inspect.getdoc(obj) or "").split("\n")[0]
    return re.sub(r":\w+:`~?([^`]+)`", r"\1", doc).replace("``", "")


def _kind(preset: dict) -> str:
    if preset.get("baseline") is not None:
        return f"Avalanche {preset['baseline']['class']}"
    names = [n.replace("noradrenaline", "NA").replace("dopamine", "DA")
             .replace("acetylcholine", "ACh").replace("serotonin", "5-HT")
             for n in preset["modulators"]]
    kind = "+".join(names) or "no modulator"
    return kind + (f", replay {preset['memory']['size']}" if preset.get("memory") else "")


def rows(what: str) -> list[tuple[str, ...]]:
    """The rows ``list WHAT`` prints (name first, a one-line description last)."""
    if what == "presets":
        from .scenarios import selected_for
        from .strategies.presets import list_presets, load_preset, packaged_presets

        packaged = packaged_presets()
        out = []
        for name in list_presets():
            preset = load_preset(name)
            chosen = selected_for(preset)
            where = "" if name in packaged and _same(name, packaged) else " (./strategies)"
            out.append((name + where, _kind(preset),
                        f"selected for {' and '.join(chosen)}" if chosen else "",
                        str(preset.get("description", ""))))
        return out
    if what in ("suites", "grids"):
        from .catalog import entries

        return [(name, "" if where == "package" else "(./benchmarks)", text)
                for name, where, text in entries(what[:-1])]
    if what == "benchmarks":
        from .benchmarks import BENCHMARKS

        return [(name, _doc_line(BENCHMARKS[name])) for name in sorted(BENCHMARKS)]
    from .registry import MODELS, model_factory

    return [(name, _doc_line(model_factory(name))) for name in sorted(MODELS)]


def _same(name: str, packaged: dict) -> bool:
    from .strategies.presets import preset_source

    source = preset_source(name)
    return source is not None and str(source) == str(packaged[name])


def format_rows(table: list[tuple[str, ...]]) -> str:
    if not table:
        return ""
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]) - 1)]
    lines = []
    for row in table:
        cells = [c.ljust(w) for c, w in zip(row, widths)] + [row[-1]]
        lines.append("  ".join(c for c in cells).rstrip())
    return "\n".join(lines)


def _value(value) -> str:
    if isinstance(value, (dict, list)):
        return yaml.safe_dump(value, default_flow_style=True, sort_keys=False,
                              width=10**6).strip()
    if isinstance(value, bool) or value is None:
        return yaml.safe_dump(value).split("\n")[0]
    return str(value)


def _header(text: str) -> list[str]:
    """The leading ``#`` comment of a preset file, as prose."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].strip())
    return [" ".join(lines)] if lines else []


def presets_markdown() -> str:
    """docs/presets.md: every packaged preset, with description, parameters and provenance."""
    from .scenarios import selected_for
    from .strategies.presets import packaged_presets, validate_preset

    files = packaged_presets()
    presets = {}
    for name in sorted(files):
        text = files[name].read_text(encoding="utf-8")
        presets[name] = (text, validate_preset(yaml.safe_load(text), source=name))
    out = ["# Presets", "",
           "<!-- Generated from strategies/*.yaml by `avalanche-neuromod list presets --markdown "
           f"> {PAGE}`; do not edit (tests/test_presets.py checks it). -->", "",
           f"The {len(presets)} presets shipped in the package (`strategies/*.yaml`, installed as "
           "`avalanche_neuromod.presets`; a file `./strategies/<name>.yaml` in the current "
           "folder takes the place of the packaged one). Load one into any Avalanche strategy "
           "with `plugins=build_plugins(load_preset(\"<name>\"))` "
           "(`from avalanche_neuromod.strategies import build_plugins, load_preset`; an Avalanche "
           "baseline is built with `avalanche_neuromod.strategies.registry.build_strategy`), or "
           "name it in a suite or with `--presets`. Which one for which scenario: the README's "
           "table; how the modulators work: [modulators.md](modulators.md).", "",
           "| preset | uses | selected for | description |", "|---|---|---|---|"]
    for name, (_, preset) in presets.items():
        chosen = selected_for(preset)
        out.append(f"| `{name}` | {_kind(preset)} | {' and '.join(chosen or ()) or '-'} | "
                   f"{preset.get('description', '')} |")
    for name, (text, preset) in presets.items():
        out += ["", f"## `{name}`", "", str(preset.get("description", "")), ""]
        out += [*_header(text), ""] if _header(text) else []
        if preset.get("baseline") is not None:
            args = preset["baseline"].get("args") or {}
            out.append(f"Avalanche baseline `{preset['baseline']['class']}`"
                       + (f", arguments: {_value(args)}" if args else " with its defaults")
                       + ".")
        elif not preset["modulators"]:
            out.append("No modulator.")
        else:
            out += ["| modulator | parameters |", "|---|---|"]
            out += [f"| {mod} | {', '.join(f'{k}: {_value(v)}' for k, v in params.items())} |"
                    for mod, params in preset["modulators"].items()]
        for key in ("memory", "integration"):
            if preset.get(key) is not None:
                out += ["", f"{key}: `{_value(preset[key])}`"]
        selection = preset.get("selection")
        if isinstance(selection, dict):
            out += ["", "Provenance (`selection:`, written by `avalanche-neuromod select "
                    "--write`):", ""]
            out += [f"- {key}: `{_value(value)}`" for key, value in selection.items()]
    return "\n".join(out) + "\n"


def list_command(args) -> int:
    if args.markdown:
        if args.what != "presets":
            from .config import ConfigError

            raise ConfigError("--markdown: only with list presets")
        print(presets_markdown(), end="")
        return 0
    print(format_rows(rows(args.what)))
    return 0


__all__ = ["WHAT", "format_rows", "list_command", "presets_markdown", "rows", "version_text"]

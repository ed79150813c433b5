"""Where suites and grids are found: the current folder first, then the installed package.

Suites (``benchmarks/*.yaml``) and selection grids (``benchmarks/grids/*.yaml``) ship in the
wheel as package data (``avalanche_neuromod.suites``), as the presets do
(``avalanche_neuromod.presets``, see :mod:`avalanche_neuromod.strategies.presets`). A suite or
grid is named by

1. a path to an existing file, used as it is;
2. a bare name (``quick``, ``full`` for a grid): ``./benchmarks/<name>.yaml`` (grids:
   ``./benchmarks/grids/<name>.yaml``) when the current folder has one, else the packaged file;
3. a repository path that does not exist here (``benchmarks/standard.yaml``,
   ``benchmarks/grids/full.yaml``): the packaged file of that name, so the commands of the
   README and of the suite files work from any folder.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .config import ConfigError

SUITES_PACKAGE = "avalanche_neuromod.suites"
LOCAL_DIR = "benchmarks"
KINDS = {"suite": "", "grid": "grids"}


def packaged_root() -> Path:
    """The folder of the packaged suites (the repository's ``benchmarks/`` in a checkout)."""
    try:
        return Path(str(resources.files(SUITES_PACKAGE)))
    except ModuleNotFoundError:  # an editable install made before suites were package data
        return Path(__file__).resolve().parents[1] / LOCAL_DIR


def _folders(kind: str) -> list[tuple[str, Path]]:
    sub = KINDS[kind]
    here, package = Path.cwd() / LOCAL_DIR / sub, packaged_root() / sub
    if here.resolve() == package.resolve():  # a checkout's root (or an editable install)
        return [("package", package)]
    return [("here", here), ("package", package)]


def resolve(source: str | Path, *, kind: str = "suite") -> Path:
    """The YAML file that ``source`` names (see the module docstring); ConfigError if none."""
    text = str(source)
    path = Path(text)
    if path.is_file():
        return path
    if not path.suffix and len(path.parts) == 1:
        for _, folder in _folders(kind):
            candidate = folder / f"{text}.yaml"
            if candidate.is_file():
                return candidate
    elif path.suffix in (".yaml", ".yml") and not path.is_absolute() and \
            path.parts[0] == LOCAL_DIR and len(path.parts) > 1:
        candidate = packaged_root().joinpath(*path.parts[1:])
        if candidate.is_file():
            return candidate
    names = ", ".join(n for n, _, _ in entries(kind))
    raise ConfigError(f"{kind}: no {kind} file {text!r} (a path, or a name in ./{LOCAL_DIR}/"
                      f"{KINDS[kind] + '/' if KINDS[kind] else ''} or among the packaged "
                      f"{kind}s: {names})")


def _description(path: Path) -> str:
    """A suite's ``description:``, else the first line of its leading comment."""
    import yaml

    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("description"), str):
        return data["description"].strip()
    comment = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        comment.append(line.lstrip("#").strip())
    first = " ".join(comment).split(". ")[0].strip()
    return first if first.endswith(".") or not first else first + "."


def entries(kind: str = "suite") -> list[tuple[str, str, str]]:
    """``(name, where, description)`` of every suite (or grid): the current folder's first (where
    = ``here``), then the packaged ones it does not shadow (``package``)."""
    seen: dict[str, tuple[str, str, str]] = {}
    for where, folder in _folders(kind):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.yaml")):
            if path.stem not in seen:
                seen[path.stem] = (path.stem, where, _description(path))
    return [seen[name] for name in sorted(seen)]


__all__ = ["SUITES_PACKAGE", "entries", "packaged_root", "resolve"]

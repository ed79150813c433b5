"""The package's rooms and floors: module sizes and the depth of the import graph (issue 15).

    python benchmarks/module_graph.py [--package avalanche_neuromod] [--limit 400] [--json]

Reads every module of the package with ``ast`` (nothing is imported) and prints:

* each module's line count, the largest ones first, and how many exceed ``--limit``;
* the import graph between the package's modules: an arrow ``a -> b`` where ``a`` imports ``b``
  (``from .x import y`` resolves to module ``x``, or ``x.y`` when that is a module); imports at
  module level (the ones that run when ``a`` is imported) and all imports (those inside
  functions too, the lazy ones) are counted apart;
* the depth of each graph: the number of modules on the longest import chain (its floors), with
  that chain; modules importing each other (a cycle, possible only through lazy imports) count
  as one floor;
* the arrows from a generic module up to the case study (``casestudy``, ``cell``,
  ``report.casestudy``): issue 15 asks for none.

Before issue 15 (its text): report/casestudy.py 838 lines, logging/wandb_logger.py 597,
plugins/neuromodulation.py 578, checkpoint.py 514; 9 import floors for about 10k lines.
"""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASE_STUDY = ("casestudy", "cell", "report.casestudy")
# modules that belong to the case study or drive every command: arrows from them are expected
CASE_STUDY_USERS = ("cli", "cli_commands", "cli_parser", "__main__", "report", "report.writer",
                    "report.figures", "report.summary", "report.savings", "report.plots")


def modules(package: Path) -> dict[str, Path]:
    """Dotted module name (relative to the package; ``""`` for its ``__init__``) -> file."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _resolve(name: str, level: int, current: str, is_package: bool, known: set[str]) -> str | None:
    if level == 0:
        return None  # an absolute import: the package imports itself relatively
    base = current.split(".") if current else []
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    target = ".".join([*base, *name.split(".")]) if name else ".".join(base)
    return target if target in known else None


def imports(package: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module-level arrows, all arrows): module -> the package modules it imports."""
    mods = modules(package)
    known = set(mods)
    top: dict[str, set[str]] = {m: set() for m in mods}
    every: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        is_package = path.name == "__init__.py"
        module_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = _resolve(node.module or "", node.level, name, is_package, known)
            if base is None:
                continue
            targets = set()
            for alias in node.names:
                sub = f"{base}.{alias.name}" if base else alias.name
                targets.add(sub if sub in known else base)
            targets.discard(name)
            every[name] |= targets
            if id(node) in module_level:
                top[name] |= targets
    return top, every


def depth(graph: dict[str, set[str]]) -> tuple[int, list[str]]:
    """Floors of the longest import chain (a cycle counts as one floor), and the chain."""
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def strong(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            sccs.append(comp)

    for v in sorted(graph):
        if v not in index:
            strong(v)
    comp_of = {v: i for i, comp in enumerate(sccs) for v in comp}
    best: dict[int, tuple[int, list[str]]] = {}
    for i, comp in enumerate(sccs):  # Tarjan emits components in reverse topological order
        below = [best[comp_of[w]] for v in comp for w in graph[v] if comp_of[w] != i]
        floors, chain = max(below, default=(0, []), key=lambda t: t[0])
        best[i] = (floors + 1, [sorted(comp)[0], *chain])
    return max(best.values(), key=lambda t: t[0])


def up_to_case_study(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Arrows from a generic module to a case-study module."""
    return sorted((a, b) for a, targets in graph.items() for b in targets
                  if b in CASE_STUDY and a not in CASE_STUDY and a not in CASE_STUDY_USERS)


def summary(package: Path, *, limit: int) -> dict:
    mods = modules(package)
    lines = {name or "__init__": len(path.read_text(encoding="utf-8").splitlines())
             for name, path in mods.items()}
    top, every = imports(package)
    top_depth, top_chain = depth(top)
    all_depth, all_chain = depth(every)
    return {"modules": len(mods), "lines": sum(lines.values()),
            "largest": sorted(lines.items(), key=lambda kv: -kv[1])[:10],
            "over_limit": sorted(name for name, n in lines.items() if n > limit),
            "floors_module_level": top_depth, "chain_module_level": top_chain,
            "floors_all_imports": all_depth, "chain_all_imports": all_chain,
            "up_to_case_study": up_to_case_study(every)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default=str(ROOT / "avalanche_neuromod"))
    parser.add_argument("--limit", type=int, default=400)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out = summary(Path(args.package), limit=args.limit)
    if args.json:
        print(json.dumps(out, indent=1))
        return
    print(f"{out['modules']} modules, {out['lines']} lines")
    print("largest: " + ", ".join(f"{name} {n}" for name, n in out["largest"]))
    print(f"over {args.limit} lines: {', '.join(out['over_limit']) or 'none'}")
    print(f"import floors, module level: {out['floors_module_level']} "
          f"({' -> '.join(out['chain_module_level'])})")
    print(f"import floors, all imports: {out['floors_all_imports']} "
          f"({' -> '.join(out['chain_all_imports'])})")
    arrows = out["up_to_case_study"]
    print("generic -> case study: " + (", ".join(f"{a} -> {b}" for a, b in arrows) or "none"))


if __name__ == "__main__":
    main()

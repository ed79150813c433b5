"""benchmarks/module_graph.py: module sizes and import floors of the package (issue 15), and the
house rules it measures: no module far over 400 lines, no generic module importing the case
study except ``leaderboard.verify`` (it re-runs case-study records until the case study runs
through the leaderboard runner)."""

from __future__ import annotations

from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "module_graph.py"
PACKAGE = SCRIPT.parent.parent / "avalanche_neuromod"



def test_depth_counts_floors_and_a_cycle_as_one(benchmark_script) -> None:
    depth = benchmark_script("module_graph").depth
    assert depth({"a": {"b"}, "b": {"c"}, "c": set()}) == (3, ["a", "b", "c"])
    # b and c import each other (lazily): one floor between a and d
    floors, chain = depth({"a": {"b"}, "b": {"c"}, "c": {"b", "d"}, "d": set()})
    assert floors == 3 and chain[0] == "a" and chain[-1] == "d"
    assert depth({"x": set()}) == (1, ["x"])


def test_relative_imports_resolve_to_modules(tmp_path: Path, benchmark_script) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .core import thing\n")
    (pkg / "core.py").write_text("thing = 1\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "leaf.py").write_text(
        "from .. import core\nfrom ..core import thing\n\ndef f():\n    from . import other\n")
    (pkg / "sub" / "other.py").write_text("")
    top, every = benchmark_script("module_graph").imports(pkg)
    assert top[""] == {"core"}
    assert top["sub.leaf"] == {"core"}  # the lazy import is not module level
    assert every["sub.leaf"] == {"core", "sub.other"}


def test_the_package_keeps_the_house_rules(benchmark_script) -> None:
    out = benchmark_script("module_graph").summary(PACKAGE, limit=420)
    assert out["over_limit"] == [], out["largest"][:3]
    assert out["up_to_case_study"] == [("leaderboard.verify", "casestudy")]
    assert out["floors_module_level"] <= 9  # the issue's count before it

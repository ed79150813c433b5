"""The committed suites load, every committed leaderboard record is a cell of its suite file, and
a few cheap cells of every committed results file re-run bit for bit at the current code.

The second check is what makes "the command at the top of each report" true: re-running that
command on the committed suite file finds each committed record finished (nothing orphaned by a
later edit of the suite or of a preset). The third is ``avalanche-neuromod verify`` in CI: per
results file (every suite, selection and probe under reports/, and the case study) the cheapest
cells of distinct strategies, as many as fit in ``FILE_BUDGET_S`` of their recorded wall time; a
file whose cheapest cell took more than ``CELL_LIMIT_S`` is skipped with the command that verifies
it by hand. Records repeat bit for bit on the CPU code path that wrote them
(:func:`avalanche_neuromod.determinism.cpu_kernels`): elsewhere a failure may be the machine's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avalanche_neuromod.leaderboard import load_suite, suite_cells
from avalanche_neuromod.leaderboard.verify import (
    environment_notes,
    format_result,
    load_checks,
    sample,
    verify_checks,
)

ROOT = Path(__file__).resolve().parent.parent
SUITES = sorted(p for p in [*(ROOT / "benchmarks").glob("*.yaml"),
                            *(ROOT / "benchmarks" / "probes").glob("*.yaml")]
                if p.name != "casestudy.yaml")  # the case study has its own config format
BOARDS = sorted((ROOT / "reports" / "leaderboard").glob("*/results.jsonl"))
RESULTS = [*sorted((ROOT / "reports").glob("**/results.jsonl")),
           ROOT / "reports" / "casestudy" / "results.json"]
# Records written before they named their CPU code path (``versions["cpu"]``) were all written on
# AVX512 (docs/reliability.md, .ci/run).
UNRECORDED_PATH = "AVX512"
CELL_LIMIT_S = 60.0  # recorded wall time of the dearest cell CI re-runs
FILE_BUDGET_S = 15.0  # cells of one file are added while their recorded total stays under this


def _by_name() -> dict[str, Path]:
    return {load_suite(p)["name"]: p for p in SUITES}


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.name)
def test_committed_suite_loads(path: Path) -> None:
    suite = load_suite(path)
    assert suite_cells(suite)


@pytest.mark.parametrize("board", BOARDS, ids=lambda p: p.parent.name)
def test_every_committed_record_is_a_cell_of_its_suite(board: Path) -> None:
    records = [json.loads(line) for line in board.read_text().splitlines() if line.strip()]
    suite_name = records[0]["config"]["suite"]
    suites = _by_name()
    assert suite_name in suites, f"no suite file named {suite_name!r} in benchmarks/"
    keys = {cell.key for cell in suite_cells(load_suite(suites[suite_name]))}
    orphans = [r["key"] for r in records if r["key"] not in keys]
    name = suites[suite_name].name
    assert not orphans, f"{board}: records that no cell of {name} makes: {orphans[:3]}"


def _ci_cells(kind: str, checks: list) -> list:
    """The cheapest cells of distinct strategies (the case study: of each mode and preset)."""
    picked = [c for c in sample(checks, cells=6 if kind == "casestudy" else 3)
              if c.cost <= CELL_LIMIT_S]
    keep, total = [], 0.0
    for check in picked:
        if keep and total + check.cost > FILE_BUDGET_S:
            break
        keep.append(check)
        total += check.cost
    return keep


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: str(p.parent.relative_to(ROOT / "reports")))
def test_committed_results_reproduce_at_head(path: Path, mnist_root: Path) -> None:
    kind, checks = load_checks(path)
    todo = _ci_cells(kind, checks)
    if not todo:
        cheapest = min(c.cost for c in checks)
        pytest.skip(f"its cheapest cell took {cheapest:.0f} s (CI re-runs cells up to "
                    f"{CELL_LIMIT_S:.0f} s); verify it by hand: avalanche-neuromod verify "
                    f"{path.relative_to(ROOT)} --cells 1")
    here = code_path()
    results = list(zip(todo, verify_checks(kind, todo)))
    strict = [(c, r) for c, r in results if written_on(c.record, here)]
    elsewhere = [(c, r) for c, r in results if not written_on(c.record, here)]
    different = [format_result(r) for _, r in strict if not r["identical"]]
    notes = environment_notes([c.record for c, _ in strict]) if different else []
    assert not different, "\n".join([f"{path.relative_to(ROOT)}:", *different, *notes])
    moved = [format_result(r) for _, r in elsewhere if not r["identical"]]
    if moved:  # bit for bit holds per code path: this CPU cannot judge these records
        pytest.skip(f"{len(moved)} of {len(elsewhere)} cells written on another CPU code path "
                    f"than this one's {here} differ here ({moved[0]}); "
                    f"{sum(r['identical'] for _, r in results)} of {len(results)} identical")


def code_path() -> str:
    """This machine's CPU capability as PyTorch dispatches on it (AVX512, AVX2, DEFAULT, ...)."""
    import torch

    return torch.backends.cpu.get_cpu_capability()


def written_on(record: dict, path: str) -> bool:
    """Whether ``record`` was written on CPU code path ``path`` (``versions["cpu"]`` starts with
    it; :data:`UNRECORDED_PATH` for the records written before they said)."""
    cpu = (record.get("versions") or {}).get("cpu")
    return cpu.startswith(path + " ") if cpu else path == UNRECORDED_PATH


def test_a_record_is_judged_on_the_code_path_that_wrote_it() -> None:
    assert written_on({"versions": {"cpu": "AVX2 x86_64 AMD EPYC"}}, "AVX2")
    assert not written_on({"versions": {"cpu": "AVX2 x86_64 AMD EPYC"}}, "AVX512")
    assert written_on({}, UNRECORDED_PATH) and not written_on({"versions": {}}, "AVX2")
    assert code_path() in ("AVX512", "AVX2", "DEFAULT", "NO AVX", "VSX", "ZVECTOR", "SVE256")

"""The committed suites load, and every committed leaderboard record is a cell of its suite file.

The second check is what makes "the command at the top of each report" true: re-running that
command on the committed suite file finds each committed record finished (nothing orphaned by a
later edit of the suite or of a preset).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avalanche_neuromod.leaderboard import load_suite, suite_cells

ROOT = Path(__file__).resolve().parent.parent
SUITES = sorted(p for p in [*(ROOT / "benchmarks").glob("*.yaml"),
                            *(ROOT / "benchmarks" / "probes").glob("*.yaml")]
                if p.name != "casestudy.yaml")  # the case study has its own config format
BOARDS = sorted((ROOT / "reports" / "leaderboard").glob("*/results.jsonl"))


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

"""Intra-op threads: one per worker by default, overridable (avalanche_neuromod.threads)."""

from __future__ import annotations

import pytest
import torch

from avalanche_neuromod.cli import main
from avalanche_neuromod.config import ConfigError
from avalanche_neuromod.leaderboard.ray_engine import run_cell_task
from avalanche_neuromod.parallel import run_cells
from avalanche_neuromod.threads import ENV, cores, intra_op_threads


def threads_in_cell(cell) -> dict:
    return {"cell": cell, "threads": torch.get_num_threads()}


def _threads(workers: int) -> list[int]:
    out = run_cells(threads_in_cell, [0, 1], workers=workers, device=torch.device("cpu"),
                    kwargs={}, desc="t", progress=False)
    return [r["threads"] for r in out]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_cell_runs_on_one_thread_by_default(monkeypatch, workers):
    monkeypatch.delenv(ENV, raising=False)
    before = torch.get_num_threads()
    assert _threads(workers) == [1, 1]
    assert torch.get_num_threads() == before  # in-process cells give the driver's back


def test_the_variable_overrides_in_workers_and_in_ray_tasks(monkeypatch):
    monkeypatch.setenv(ENV, "2")
    assert _threads(2) == [2, 2]
    assert run_cell_task(threads_in_cell, 0, {})["threads"] == 2
    monkeypatch.setenv(ENV, "auto")
    assert intra_op_threads(workers=2) == max(1, cores() // 2)
    assert intra_op_threads(workers=10 * cores()) == 1


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_a_bad_value_is_one_line_naming_the_variable(monkeypatch, capsys, value):
    monkeypatch.setenv(ENV, value)
    with pytest.raises(ConfigError, match=ENV):
        intra_op_threads()
    assert main(["report", "missing.jsonl"]) == 2
    err = capsys.readouterr().err
    assert ENV in err and err.count("\n") == 1

"""benchmarks/matrix_stats.py: plasticity (diagonal) and loss from accuracy matrices."""

from __future__ import annotations

import json

import pytest


def test_matrix_stats_diagonal_final_and_loss(benchmark_script) -> None:
    matrix = [[0.9, 0.1, 0.1],
              [0.7, 0.8, 0.1],
              [0.5, 0.6, 1.0]]
    learnt, final, lost = benchmark_script("matrix_stats").matrix_stats(matrix)
    assert learnt == pytest.approx((0.9 + 0.8 + 1.0) / 3)
    assert final == pytest.approx((0.5 + 0.6 + 1.0) / 3)
    assert lost == pytest.approx(((0.9 - 0.5) + (0.8 - 0.6)) / 2)


def test_matrix_stats_table_averages_seeds_and_skips_incomplete(tmp_path, monkeypatch, capsys,
                                                                benchmark_script):
    rows = [{"benchmark": "b", "strategy": "s", "accuracy_matrix": [[1.0, 0.0], [0.5, 0.9]]},
            {"benchmark": "b", "strategy": "s", "accuracy_matrix": [[0.8, 0.0], [0.7, 0.7]]},
            {"benchmark": "b", "strategy": "s", "accuracy_matrix": [[0.8, None], [0.7, 0.7]]}]
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setattr("sys.argv", ["matrix_stats.py", str(results)])
    benchmark_script("matrix_stats").main()
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == "| b | s | 2 | 0.850 | 0.700 | 0.300 |"

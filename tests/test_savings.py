"""Savings on recurring rules (avalanche_neuromod.metrics.savings)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from avalanche_neuromod.metrics.savings import (
    contexts_held,
    entropy_around_changes,
    occurrence_table,
    occurrences,
    reacquisition,
    split,
)


def test_occurrences_count_each_rule_separately():
    assert occurrences(["A", "B", "A", "X", "A", "B"]) == [1, 1, 2, 1, 3, 2]


def test_reacquisition_is_trials_before_the_criterion_run():
    assert reacquisition([1] * 20, window=10, criterion=0.85) == 0
    assert reacquisition([0] * 7 + [1] * 20, window=10, criterion=0.85) == 6  # 9/10 at t=16
    assert reacquisition([0] * 30, window=10, criterion=0.85) is None


def test_savings_on_a_hand_built_sequence():
    slow = [0] * 30 + [1] * 20  # TTC 40 with W=10 (first window of >= 9/10 ends at t=40 - 1)
    fast = [0] * 2 + [1] * 20
    rules = ["A", "B", "A", "B"]
    rows = occurrence_table(rules, [slow, slow, fast, [0] * 22], window=10, criterion=0.85)
    ttc_slow = rows[0]["ttc"]
    assert [r["occurrence"] for r in rows] == [1, 1, 2, 2]
    assert rows[2]["ttc"] == 11 and rows[2]["reacquisition"] == 1
    assert rows[2]["savings"] == pytest.approx(ttc_slow / 11)
    assert rows[0]["savings"] == pytest.approx(1.0)
    assert rows[3]["ttc"] is None and rows[3]["savings"] is None  # a failed occurrence


def test_table_and_split_check_lengths():
    with pytest.raises(ValueError, match="disagree"):
        occurrence_table(["A"], [[1], [1]], window=1, criterion=0.85)
    assert split([1, 2, 3, 4, 5], [2, 3]) == [[1, 2], [3, 4, 5]]
    with pytest.raises(ValueError, match="add up"):
        split([1, 2, 3], [2, 2])


def test_contexts_held_counts_distinct_contexts():
    assert contexts_held([0.0, 0.0, 1.0, 0.0, 2.0, 1.0]) == 3


def test_entropy_around_changes_aligns_bins_on_each_change():
    # dwells 60 and 40 with bins of 20: 3 bins, then 2
    out = entropy_around_changes([0.1, 0.2, 0.3, 0.9, 0.8], [60, 40], bin_size=20, before=2,
                                 after=3)
    assert out.shape == (1, 5)
    np.testing.assert_allclose(out[0, :4], [0.2, 0.3, 0.9, 0.8])
    assert math.isnan(out[0, 4])


def test_report_section_tables_each_occurrence_and_writes_its_figures(tmp_path):
    from avalanche_neuromod.report.savings import occurrence_rows, savings_section

    def run(preset, reacq, held):
        rules = ["A", "B", "A", "B"]
        occ = occurrence_table(rules, [[0] * r + [1] * 20 if r is not None else [0] * 30
                                       for r in reacq], window=10, criterion=0.85)
        return {"setting": "reversal", "mode": "reward", "preset": preset, "seed": 0,
                "cued": False, "rules": rules, "trials_per_rule": 30, "dwells": [30, 30, 30, 30],
                "entropy": [1.0, 0.5, 0.9] * 4, "occurrences": occ, "contexts_held": held}

    runs = [run("latent-cause", [50, 40, 2, 1], 2), run("a2c", [50, 40, None, 30], None)]
    rows = occurrence_rows(runs)
    assert rows[0]["k2"] == pytest.approx(0.5)  # re-acquisitions 1 and 0 (W = 10)
    assert math.isnan(rows[0]["k3"]) and rows[0]["contexts"] == 2 and rows[0]["contexts_ok"]
    assert math.isinf(rows[1]["k2"])  # a failed occurrence counts as infinite
    assert rows[1]["solved"] == pytest.approx(2 / 3)
    lines, figs = savings_section({"runs": runs}, tmp_path, lambda *p: "_".join(p) + ".png",
                                  window=10, criterion=0.85, ebin=10)
    assert any("| reversal | reward | latent-cause | 1 |" in line for line in lines)
    assert [f.name for f in figs] == ["occurrences_reversal.png", "entropy-changes_reversal.png"]
    assert all(f.stat().st_size > 0 for f in figs)

"""Paired comparisons over seeds in leaderboard.md (avalanche_neuromod.report.paired)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from avalanche_neuromod.report.leaderboard import summarize_leaderboard, write_leaderboard
from avalanche_neuromod.report.paired import PAIRED_NOTE, paired_comparison, role

PRESETS = {
    "full": {"name": "full", "modulators": {"serotonin": {"strength": 1.0}}},
    "ach": {"name": "ach", "modulators": {"acetylcholine": {}}},
    "naive": {"name": "naive", "baseline": {"class": "Naive", "args": {}}},
    "naive-lt": {"name": "naive-lt", "baseline": {"class": "Naive", "args": {}},
                 "labels_trick": True},
    "none": {"name": "none", "modulators": {}},
    "replay": {"name": "replay", "baseline": {"class": "Replay", "args": {"mem_size": 200}}},
    "joint": {"name": "joint", "baseline": {"class": "JointTraining", "args": {}}},
    "xdg-oracle": {"name": "xdg-oracle", "modulators": {"acetylcholine": {"context": "task"}}},
}


def _records(accuracies: dict[str, list[float | None]], bench: str = "b") -> list[dict]:
    out = []
    for strategy, values in accuracies.items():
        for seed, acc in enumerate(values):
            record = {"key": f"{bench}|{strategy}|{seed}|h", "benchmark": bench,
                      "strategy": strategy, "seed": seed, "final_accuracy": acc,
                      "accuracy_matrix": [[acc if acc is not None else 0.0]],
                      "config": {"preset": PRESETS[strategy], "seed": seed}}
            if acc is None:
                record.update(status="diverged", accuracy_matrix=[])
            out.append(record)
    return out


def test_roles_leave_upper_bounds_and_oracles_out():
    assert [role(PRESETS[n]) for n in ("full", "naive", "naive-lt", "none", "replay", "joint",
                                       "xdg-oracle")] == \
        ["ours", "baseline", "baseline", "baseline", "baseline", "reference", "reference"]
    for args in ({"return_task_id": True}, {"cued": True}):  # the label is everyone's here
        assert role(PRESETS["xdg-oracle"], args) == "baseline"
        assert role(PRESETS["joint"], args) == "reference"


def test_best_of_ours_against_the_strongest_baseline_paired_over_common_seeds():
    records = _records({
        "full": [0.50, 0.60, 0.55, 0.70],
        "ach": [0.40, 0.40, 0.40, 0.40],
        "naive": [0.20, 0.20, 0.20, 0.20],
        "naive-lt": [0.45, 0.50, None, 0.60],  # seed 2 diverged: not paired
        "joint": [0.99, 0.99, 0.99, 0.99],  # an upper bound, not a baseline
        "xdg-oracle": [0.98, 0.98, 0.98, 0.98],
    })
    pair = paired_comparison(summarize_leaderboard(records)["b"])
    assert pair["ours"] == "full" and pair["baseline"].startswith("naive-lt")
    assert pair["seeds"] == [0, 1, 3]
    assert pair["differences"] == pytest.approx([0.05, 0.10, 0.10])
    sd = math.sqrt(((0.05 - 0.25 / 3) ** 2 + 2 * (0.10 - 0.25 / 3) ** 2) / 2)
    assert pair["mean"] == pytest.approx(0.25 / 3)
    assert pair["half"] == pytest.approx(4.3027 * sd / math.sqrt(3))  # t(0.975, df=2)
    assert pair["verdict"] == "higher"


@pytest.mark.parametrize(("ours", "verdict"), [
    ([0.19, 0.21, 0.18, 0.22], "not resolved"),
    ([0.10, 0.11, 0.12, 0.10], "lower"),
])
def test_verdicts_follow_the_interval(ours, verdict):
    records = _records({"full": ours, "naive": [0.20, 0.20, 0.20, 0.20]})
    assert paired_comparison(summarize_leaderboard(records)["b"])["verdict"] == verdict


def test_leaderboard_md_has_the_table_only_where_both_sides_exist(tmp_path: Path):
    records = [*_records({"full": [0.5, 0.6], "naive": [0.2, 0.3]}, bench="both"),
               *_records({"naive": [0.2, 0.3], "joint": [0.9, 0.9]}, bench="baselines-only")]
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in records))
    text = write_leaderboard(results).read_text()
    assert PAIRED_NOTE in text
    only, both = text.split("## baselines-only")[1].split("## both")  # sections by name
    assert "| full | naive | 0, 1 | 0.550 | 0.250 | +0.300, +0.300 | +0.300 ± 0.000 | higher |" \
        in both
    assert "strongest baseline" not in only
    solo = tmp_path / "solo"
    solo.mkdir()
    (solo / "results.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in _records({"naive": [0.2, 0.3]})))
    assert PAIRED_NOTE not in write_leaderboard(solo / "results.jsonl").read_text()


def test_cells_of_two_suites_pair_only_on_the_same_stream_and_budget():
    from avalanche_neuromod.report.paired import pair_runs

    def runs(values, budget):
        return [{"seed": s, "final_accuracy": v,
                 "config": {"benchmark_name": "split_mnist", "benchmark_args": {},
                            "budget": budget, "learning": "supervised"}}
                for s, v in enumerate(values)]

    same = pair_runs(runs([0.5, 0.6, 0.7], {"epochs": 1}), runs([0.4, 0.5], {"epochs": 1}))
    assert same["seeds"] == [0, 1] and same["differences"] == pytest.approx([0.1, 0.1])
    with pytest.raises(ValueError, match="config.budget"):
        pair_runs(runs([0.5], {"epochs": 1}), runs([0.4], {"epochs": 2}))

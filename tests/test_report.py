"""Tests for avalanche_neuromod.report: statistics, case-study summary, claim check, report.md."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from avalanche_neuromod.report import (
    claim_check,
    format_table,
    markdown_table,
    mean_ci,
    median_with_failures,
    solved_share,
    summarize,
    write_report,
)
from avalanche_neuromod.report.figures import _moving_accuracy
from avalanche_neuromod.report.plots import forgetting_curves, line_style
from avalanche_neuromod.report.stats import column_mean_ci

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
INF = math.inf

# ------------------------------------------------------------------------------------------------
# synthetic results
# ------------------------------------------------------------------------------------------------

T = 20  # trials per rule
RULES = ["A", "B", "X"]  # 3 experiences -> 2 shifts
SETTINGS = ["default", "noise 0.5"]
MODES = ["reward", "supervised"]
PRESETS = ["none", "da", "da+na"]
SEEDS = [0, 1, 2]

_N = None  # a failed experience
_DA = [[8, 12, 16], [9, _N, 14], [7, 10, 18]]  # shifts pooled: 10 12 14 16 18 inf -> median 15
_NONE = [[10, _N, _N], [12, _N, 18], [11, 19, _N]]  # pooled: 18 19 inf inf inf inf -> inf
# trials_to_criterion[(setting, mode)][preset][seed]
TTC = {
    # da+na pooled: 4 5 6 6 7 8 -> median 6; ratio 6 / 15 = 0.4, all solved -> holds
    ("default", "reward"): {"none": _NONE, "da": _DA, "da+na": [[8, 6, 7], [9, 5, 8], [7, 6, 4]]},
    # da+na pooled: 4 5 6 6 8 inf -> median 6, ratio 0.4 but only 5/6 solved -> does not hold
    ("default", "supervised"): {
        "none": _NONE,
        "da": _DA,
        "da+na": [[8, 6, _N], [9, 5, 8], [7, 6, 4]],
    },
    # da+na pooled: 8 9 9 10 10 11 -> median 9.5, ratio 9.5 / 15 = 0.633 -> does not hold
    ("noise 0.5", "reward"): {
        "none": _NONE,
        "da": _DA,
        "da+na": [[8, 9, 10], [9, 10, 11], [7, 8, 9]],
    },
    # da never solves a shift (median inf), da+na median 6 -> ratio 0 -> holds
    ("noise 0.5", "supervised"): {
        "none": _NONE,
        "da": [[8, _N, _N], [9, _N, _N], [7, _N, _N]],
        "da+na": [[8, 6, 7], [9, 5, 8], [7, 6, 4]],
    },
}
FORGETTING = {"none": [0.2, 0.3, 0.4], "da": [0.1, 0.2, 0.3], "da+na": [0.0, 0.1, 0.2]}


def _correct(ttc: list[int | None]) -> list[int]:
    out: list[int] = []
    for t in ttc:
        out += [0, 1] * (T // 2) if t is None else [0] * t + [1] * (T - t)
    return out


def _entropy(seed: int) -> list[float]:
    per_rule = [1.0, 0.6 - 0.05 * seed, 0.3, 0.1]  # 4 bins of 5 trials per rule
    return per_rule * len(RULES)


def _acc_matrix(preset_i: int, seed: int) -> list[list[float]]:
    drop = 0.3 - 0.1 * preset_i + 0.01 * seed
    return [
        [0.95 if j == i else (0.95 - drop if j < i else 0.5) for j in range(3)] for i in range(3)
    ]


def make_results() -> dict:
    runs = []
    for setting in SETTINGS:
        for mode in MODES:
            for cued in (False, True):
                for p_i, preset in enumerate(PRESETS):
                    for seed in SEEDS:
                        ttc = TTC[(setting, mode)][preset][seed] if not cued else [5, 6, 7]
                        run = {
                            "setting": setting,
                            "mode": mode,
                            "cued": cued,
                            "preset": preset,
                            "seed": seed,
                            "rules": RULES,
                            "trials_per_rule": T,
                            "trials_to_criterion": ttc,
                            "final_accuracy": 0.9 + 0.01 * seed,
                            "stream_accuracy": 0.5 + 0.1 * seed if cued else 0.4,
                            "forgetting": FORGETTING[preset][seed] if cued else None,
                            "bwt": -FORGETTING[preset][seed] if cued else None,
                            "fwt": 0.0 if cued else None,
                            "accuracy_matrix": _acc_matrix(p_i, seed),
                            "correct": _correct(ttc),
                            "entropy": _entropy(seed),
                            "signals": {"da": [0.1] * (T * 3)} if preset != "none" else {},
                            "wall_time": 0.5,
                        }
                        runs.append(run)
    return {
        "command": "avalanche-neuromod run --config configs/gonogo.yaml --out results",
        "created": "2025-01-01T00:00:00",
        "config": {
            "settings": {"default": {"population_size": 50}, "noise 0.5": {"noise": 0.5}},
            "seeds": 3,
            "presets": PRESETS,
        },
        "versions": {"torch": "2.3.0", "avalanche": "0.6.0", "numpy": "1.26"},
        "git_commit": "abc123",
        "device": "cpu",
        "metric": {"window": 5, "criterion": 0.85, "entropy_bin": 5},
        "runs": runs,
    }


@pytest.fixture(scope="module")
def results() -> dict:
    return make_results()


@pytest.fixture(scope="module")
def summary(results: dict) -> list[dict]:
    return summarize(results)


def _row(summary: list[dict], setting: str, mode: str, cued: bool, preset: str) -> dict:
    (row,) = [
        r
        for r in summary
        if (r["setting"], r["mode"], r["cued"], r["preset"]) == (setting, mode, cued, preset)
    ]
    return row


# ------------------------------------------------------------------------------------------------
# stats
# ------------------------------------------------------------------------------------------------


def test_mean_ci_hand_computed() -> None:
    m, h = mean_ci([1, 2, 3])
    assert m == pytest.approx(2.0)
    assert h == pytest.approx(4.303 * 1.0 / math.sqrt(3), abs=1e-3)
    # None and NaN dropped: [1, 3] -> std sqrt(2), t(df=1) = 12.706 -> half = 12.706
    m, h = mean_ci([1, None, 3, float("nan")])
    assert m == pytest.approx(2.0)
    assert h == pytest.approx(12.706, abs=1e-3)
    # df = 30 uses 2.042; beyond 30, 1.96
    v31 = [0.0, 1.0] * 15 + [0.5]
    assert mean_ci(v31)[1] == pytest.approx(2.042 * np.std(v31, ddof=1) / math.sqrt(31), abs=1e-3)
    v40 = [0.0, 1.0] * 20
    assert mean_ci(v40)[1] == pytest.approx(1.96 * np.std(v40, ddof=1) / math.sqrt(40), abs=1e-6)


def test_mean_ci_small_and_invalid() -> None:
    m, h = mean_ci([5.0])
    assert m == 5.0 and math.isnan(h)
    m, h = mean_ci([None, float("nan")])
    assert math.isnan(m) and math.isnan(h)
    with pytest.raises(ValueError):
        mean_ci([1, 2, 3], confidence=0.9)


def test_column_mean_ci_matches_mean_ci() -> None:
    m = np.array([[1.0, 5.0, np.nan], [2.0, 5.0, 1.0], [3.0, np.nan, np.nan]])
    mean, half = column_mean_ci(m)
    assert mean[0] == pytest.approx(2.0) and half[0] == pytest.approx(mean_ci([1, 2, 3])[1])
    assert mean[1] == pytest.approx(5.0) and half[1] == pytest.approx(0.0)
    assert mean[2] == pytest.approx(1.0) and math.isnan(half[2])


def test_median_with_failures_and_solved_share() -> None:
    assert median_with_failures([3, None, 1]) == 3  # 1 3 inf
    assert median_with_failures([1, 2, 3, 4]) == 2.5
    assert median_with_failures([1, 2, None, None]) == INF  # middle pair 2, inf
    assert median_with_failures([None]) == INF
    assert math.isnan(median_with_failures([]))
    assert solved_share([1, None, 3, None]) == 0.5
    assert solved_share([1, 2]) == 1.0
    assert math.isnan(solved_share([]))


# ------------------------------------------------------------------------------------------------
# summary and claim
# ------------------------------------------------------------------------------------------------


def test_summarize_rows_and_order(summary: list[dict]) -> None:
    assert len(summary) == 2 * 2 * 2 * 3
    keys = [(r["setting"], r["mode"], r["cued"], r["preset"]) for r in summary]
    assert keys[:6] == [("default", "reward", False, p) for p in PRESETS] + [
        ("default", "reward", True, p) for p in PRESETS
    ]
    assert keys[-1] == ("noise 0.5", "supervised", True, "da+na")
    assert all(r["n_seeds"] == 3 for r in summary)


def test_summarize_uncued_medians(summary: list[dict]) -> None:
    da = _row(summary, "default", "reward", False, "da")
    assert da["median_trials_to_criterion"] == 15.0
    assert da["median_trials_per_shift"] == [12.0, 16.0]
    assert da["shifts_solved"] == pytest.approx(5 / 6)
    assert da["median_initial_trials"] == 8.0
    dana = _row(summary, "default", "reward", False, "da+na")
    assert dana["median_trials_to_criterion"] == 6.0
    assert dana["median_trials_per_shift"] == [6.0, 7.0]
    assert dana["shifts_solved"] == 1.0
    none = _row(summary, "default", "reward", False, "none")
    assert none["median_trials_to_criterion"] == INF
    assert none["median_trials_per_shift"] == [INF, INF]  # [inf, inf, 19] and [inf, 18, inf]
    assert none["shifts_solved"] == pytest.approx(2 / 6)
    assert _row(summary, "noise 0.5", "reward", False, "da+na")["median_trials_to_criterion"] == 9.5
    m, h = dana["final_accuracy_mean"], dana["final_accuracy_ci"]
    assert m == pytest.approx(0.91) and h == pytest.approx(4.3027 * 0.01 / math.sqrt(3), abs=1e-6)
    assert dana["forgetting_mean"] is None


def test_summarize_cued(summary: list[dict]) -> None:
    row = _row(summary, "noise 0.5", "supervised", True, "none")
    assert row["forgetting_mean"] == pytest.approx(0.3)
    assert row["forgetting_ci"] == pytest.approx(4.303 * 0.1 / math.sqrt(3), abs=1e-3)
    assert row["stream_accuracy_mean"] == pytest.approx(0.6)
    assert row["median_trials_to_criterion"] is None


def test_claim_check(summary: list[dict]) -> None:
    claims = claim_check(summary)
    got = {(c["setting"], c["mode"]): c for c in claims}
    assert list(got) == [(s, m) for s in SETTINGS for m in MODES]
    assert got[("default", "reward")]["ratio"] == pytest.approx(0.4)
    assert got[("default", "reward")]["holds"] is True
    assert got[("default", "supervised")]["ratio"] == pytest.approx(0.4)
    assert got[("default", "supervised")]["holds"] is False  # 5/6 shifts solved < 0.95
    assert got[("noise 0.5", "reward")]["ratio"] == pytest.approx(9.5 / 15)
    assert got[("noise 0.5", "reward")]["holds"] is False
    assert got[("noise 0.5", "supervised")]["base_median"] == INF
    assert got[("noise 0.5", "supervised")]["ratio"] == 0.0
    assert got[("noise 0.5", "supervised")]["holds"] is True
    # the other way round it never holds; a missing preset is skipped
    assert not any(c["holds"] for c in claim_check(summary, base="da+na", treated="none"))
    assert claim_check(summary, base="da", treated="ach") == []


def test_tables(summary: list[dict]) -> None:
    text = format_table(summary)
    assert "Adaptation (uncued streams)" in text and "Forgetting (cued streams)" in text
    lines = text.splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.startswith("setting"))
    assert set(lines[head + 1]) <= {"-", " "}
    assert "fail" in text and "12/16" in text and "0.300 +- 0.248" in text
    md = markdown_table(summary)
    assert md.count("| setting |") == 2
    assert "| default | reward | da+na | 3 | 6 | 6/7 | 100% | 8 |" in md
    assert "0.300 ± 0.248" in md


# ------------------------------------------------------------------------------------------------
# figures helpers and report
# ------------------------------------------------------------------------------------------------


def test_moving_accuracy_and_forgetting_curves() -> None:
    acc = _moving_accuracy([0, 1, 1, 1, 0], 2)
    assert acc.tolist() == pytest.approx([0.0, 0.5, 1.0, 1.0, 0.5])
    a, f, n = forgetting_curves([[0.9, 0.5], [0.6, 0.8]])
    assert a.tolist() == pytest.approx([0.9, 0.7])
    assert math.isnan(f[0]) and f[1] == pytest.approx(0.3)
    assert n.tolist() == [0, 1]


def test_forgetting_counts_only_what_was_learnt() -> None:
    """A stream that never learnt its first experience (0.5: chance) shows no forgetting of
    it, not a drop from its lucky first guess; the count of learnt experiences says so."""
    never = [[0.5, 0.5, 0.5], [0.4, 0.5, 0.5], [0.3, 0.5, 0.5]]
    _, f, n = forgetting_curves(never)
    assert np.isnan(f).all() and n.tolist() == [0, 0, 0]
    some = [[1.0, 0.5, 0.5], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]  # learnt 0 only, forgot it
    _, f, n = forgetting_curves(some)
    assert f[1:].tolist() == pytest.approx([0.5, 0.5]) and n.tolist() == [0, 1, 1]
    _, f, _ = forgetting_curves(some, learnt=0.4)  # 0.5 counts as learnt at this threshold
    assert f[2] == pytest.approx(0.25)


def test_heatmaps_and_curves_have_colour_bar_integer_ticks_and_outside_legend(
        monkeypatch, tmp_path) -> None:
    from avalanche_neuromod.report import plots

    figures = []
    monkeypatch.setattr(plots, "save", lambda fig, path, dpi=110: figures.append(fig) or path)
    plots.plot_heatmaps({"joint": [[0.5, 0.6]], "naive": np.eye(3)}, tmp_path / "h.png")
    plots.plot_curves({f"s{k}": [np.eye(4).tolist()] for k in range(16)}, tmp_path / "c.png")
    heat, curves = figures
    assert any(ax.get_label() == "<colorbar>" for ax in heat.axes)
    for ax in [*heat.axes[:2], *curves.axes]:
        assert all(float(t).is_integer() for t in ax.get_xticks())
    assert [t for t in heat.axes[0].get_yticks()] == [0]  # one row: one tick, at 0
    (legend,) = curves.legends  # the figure's, beside the axes, not on them
    assert len(legend.get_texts()) == 16
    assert not any(ax.get_legend() for ax in curves.axes)


def test_line_styles_are_distinct_for_a_suite_of_strategies() -> None:
    styles = [line_style(k) for k in range(20)]
    assert len({(s["color"], s["ls"]) for s in styles}) == 20
    assert len({s["color"] for s in styles[:10]}) == 10


def test_write_report(results: dict, tmp_path) -> None:
    out = tmp_path / "report"
    paths = write_report(results, out)
    names = sorted(p.name for p in paths)
    expected = sorted(
        ["report.md"]
        + [
            f"{kind}_{s}_{m}.png"
            for kind in ("shifts", "entropy")
            for s in ("default", "noise-0.5")
            for m in MODES
        ]
        + [f"forgetting_{m}.png" for m in MODES]
    )
    assert names == expected
    for p in paths:
        assert p.parent == out and p.stat().st_size > 0
        if p.suffix == ".png":
            assert p.read_bytes()[:8] == PNG_MAGIC
    text = (out / "report.md").read_text(encoding="utf-8")
    assert results["command"] in text
    assert "2025-01-01T00:00:00" in text and "abc123" in text and "| torch | 2.3.0 |" in text
    assert "population_size: 50" in text
    assert "`default` / `reward`: **holds**" in text
    assert "`default` / `supervised`: **does not hold**" in text
    assert "The claim holds in 2 of 4" in text
    assert "(shifts_noise-0.5_supervised.png)" in text
    assert "log\u2082" in text and "5 trials" in text
    from avalanche_neuromod.report.tables import COLUMNS

    heads = {c.strip() for line in text.splitlines() if line.startswith("| setting")
             for c in line.strip("|").split("|")}
    assert heads and heads <= set(COLUMNS)  # every column of every table is defined
    assert all(f"- **{name}**:" in text for name in heads)

    before = (out / "report.md").read_bytes()
    write_report(copy.deepcopy(results), out)
    assert (out / "report.md").read_bytes() == before


def test_write_report_from_path_and_sparse(results: dict, tmp_path) -> None:
    import json

    sparse = copy.deepcopy(results)
    sparse["runs"] = [r for r in sparse["runs"] if not r["cued"] and r["setting"] == "default"]
    for r in sparse["runs"]:
        r["entropy"] = []
    del sparse["versions"]
    sparse["git_commit"] = None
    src = tmp_path / "results.json"
    src.write_text(json.dumps(sparse), encoding="utf-8")
    paths = write_report(src, tmp_path / "out")
    assert sorted(p.name for p in paths) == [
        "report.md",
        "shifts_default_reward.png",
        "shifts_default_supervised.png",
    ]
    text = paths[0].read_text(encoding="utf-8")
    assert "(not recorded)" in text and "avalanche-neuromod report results.json" in text


# ------------------------------------------------------------------------------------------------
# any Avalanche run: accuracy matrix and forgetting curves from its evaluator
# ------------------------------------------------------------------------------------------------


def test_accuracy_matrix_and_figures_from_a_plain_avalanche_run(tmp_path) -> None:
    import torch
    from avalanche.evaluation.metrics import accuracy_metrics
    from avalanche.training import Naive
    from avalanche.training.plugins import EvaluationPlugin

    from avalanche_neuromod.benchmarks import gonogo_benchmark
    from avalanche_neuromod.report import (
        accuracy_matrix,
        plot_accuracy_matrix,
        plot_forgetting_curves,
    )

    torch.manual_seed(0)
    bm = gonogo_benchmark(rules=["A", "B", "X"], trials_per_rule=64, test_trials=32,
                          population_size=8, seed=0)
    model = torch.nn.Linear(bm.train_stream[0].dataset[0][0].numel(), 2)
    strategy = Naive(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                     train_mb_size=16, train_epochs=2, eval_mb_size=64,
                     evaluator=EvaluationPlugin(accuracy_metrics(experience=True), loggers=[]))
    returned = []
    for experience in bm.train_stream:
        strategy.train(experience)
        returned.append(strategy.eval(bm.test_stream))

    from_list = accuracy_matrix(returned)
    from_plugin = accuracy_matrix(strategy.evaluator)
    assert from_list.shape == (3, 3)
    np.testing.assert_array_equal(from_list, from_plugin)
    np.testing.assert_array_equal(from_list, accuracy_matrix(strategy.evaluator.get_all_metrics()))
    key = "Top1_Acc_Exp/eval_phase/test_stream/Exp001"
    assert from_list[2, 1] == returned[2][key]
    with_tasks = [{k.replace("/Exp", "/Task000/Exp"): v for k, v in d.items()} for d in returned]
    np.testing.assert_array_equal(accuracy_matrix(with_tasks), from_list)  # task-aware keys

    for path in (plot_accuracy_matrix(returned, tmp_path / "matrix.png"),
                 plot_forgetting_curves({"naive": returned, "again": [returned, returned]},
                                        tmp_path / "curves.png")):
        assert path.read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(ValueError, match="Top1_Acc_Exp"):
        accuracy_matrix([{"Loss_Stream/eval_phase/test_stream": 0.1}])

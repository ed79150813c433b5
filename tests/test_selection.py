"""Hyper-parameter selection on validation streams (``avalanche-neuromod select``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from avalanche_neuromod.benchmarks import get_benchmark
from avalanche_neuromod.cli import main
from avalanche_neuromod.config import ConfigError
from avalanche_neuromod.leaderboard import read_records
from avalanche_neuromod.leaderboard.selection import (
    VALIDATION_SEED_OFFSET,
    candidates,
    load_grid,
    run_selection,
    score_candidates,
    selection_suite,
    validation_seeds_for,
    write_selected,
)
from avalanche_neuromod.leaderboard.spec import load_suite
from avalanche_neuromod.strategies.presets import load_preset

TINY = {"name": "tiny", "seeds": 2,
        "budget": {"model": {"hidden": 16, "layers": 1, "activation": "tanh"},
                   "optimizer": {"name": "sgd", "lr": 0.3}, "train_mb_size": 8,
                   "eval_mb_size": 64},
        "benchmarks": [{"name": "gonogo", "label": "g",
                        "args": {"cued": True, "rules": ["A", "B"], "trials_per_rule": 48,
                                 "test_trials": 16}}],
        "strategies": ["naive"]}


def test_candidates_cover_a_small_grid_and_sample_a_large_one():
    grid = {"modulators.serotonin.strength": [0.5, 1.0], "modulators.dopamine.tonic_rate":
            [0.01, 0.05, 0.1]}
    everything = candidates(grid, trials=10)
    assert len(everything) == 6
    assert {json.dumps(c, sort_keys=True) for c in everything} == {
        json.dumps({"modulators": {"serotonin": {"strength": s}, "dopamine": {"tonic_rate": t}}},
                   sort_keys=True) for s in (0.5, 1.0) for t in (0.01, 0.05, 0.1)}
    drawn = candidates(grid, trials=4, seed=3)
    assert len(drawn) == 4 and drawn == candidates(grid, trials=4, seed=3)
    assert len({json.dumps(c, sort_keys=True) for c in drawn}) == 4  # without replacement


@pytest.mark.parametrize(("grid", "needle"), [
    ({}, "grid"),
    ({"epochs": [1, 2]}, "grid.epochs"),
    ({"modulators.serotonin.strength": []}, "modulators.serotonin.strength"),
    ({"modulators.serotonin.strength": 1.0}, "modulators.serotonin.strength"),
])
def test_bad_grids_name_the_path(grid, needle):
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        load_grid(grid)


def test_unknown_modulator_parameter_fails_before_any_run():
    suite = load_suite(TINY)
    with pytest.raises(ConfigError, match="grid candidate 0"):
        selection_suite(suite, preset="full", grid={"modulators.serotonin.nonsense": [1]},
                        trials=1)


def test_selection_runs_on_validation_streams_only(tmp_path: Path, monkeypatch):
    import avalanche_neuromod.benchmarks as benchmarks

    seen = []
    real = benchmarks.get_benchmark

    def spy(name, **kwargs):
        seen.append(kwargs)
        return real(name, **kwargs)

    monkeypatch.setattr(benchmarks, "get_benchmark", spy)
    result = run_selection(TINY, preset="ewc", grid={"baseline.args.ewc_lambda": [0.1, 10.0]},
                           trials=2, out_dir=tmp_path, progress=False)
    assert seen and all(kwargs.get("validation") == 0.1 for kwargs in seen)
    records = read_records(tmp_path / "results.jsonl")
    assert len(records) == 4  # 2 candidates x 2 seeds
    assert {r["eval_stream"] for r in records} == {"validation"}
    assert {r["strategy"] for r in records} == {"ewc#0", "ewc#1"}
    assert {r["seed"] for r in records} == {1000, 1001}  # the test seeds are 0 and 1
    assert result["seeds"] == [1000, 1001] and result["test_seeds"] == [0, 1]
    assert result["best"] in ({"baseline": {"args": {"ewc_lambda": 0.1}}},
                              {"baseline": {"args": {"ewc_lambda": 10.0}}})
    assert result["ranking"][0]["score"] >= result["ranking"][1]["score"]


def test_validation_seeds_are_disjoint_from_the_test_seeds():
    suite = load_suite(TINY)
    sel = selection_suite(suite, preset="ewc", grid={"baseline.args.ewc_lambda": [1.0]},
                          trials=1)
    assert sel["seeds"] == [s + VALIDATION_SEED_OFFSET for s in suite["seeds"]] == [1000, 1001]
    sel = selection_suite(suite, preset="ewc", grid={"baseline.args.ewc_lambda": [1.0]},
                          trials=1, validation_seeds=[7, 9])
    assert sel["seeds"] == [7, 9]
    for given, needle in (([1, 7], "seed 1 is also a test seed"), ([], "non-empty"),
                          ([7, 7], "duplicate"), ([-1], "integers >= 0")):
        with pytest.raises(ConfigError, match=f"--validation-seeds: .*{needle}"):
            validation_seeds_for([0, 1], given)


def test_selection_scores_only_its_own_seeds(tmp_path: Path):
    grid = {"baseline.args.ewc_lambda": [0.1, 10.0]}
    run_selection(TINY, preset="ewc", grid=grid, trials=2, out_dir=tmp_path, progress=False,
                  validation_seeds=[5, 6])
    result = run_selection(TINY, preset="ewc", grid=grid, trials=2, out_dir=tmp_path,
                           progress=False, seeds=[0])  # the same folder, another seed
    assert len(read_records(tmp_path / "results.jsonl")) == 6
    mine = [r for r in read_records(tmp_path / "results.jsonl") if r["seed"] == 1000]
    for row in result["ranking"]:
        own = [r["final_accuracy"] for r in mine if r["strategy"] == row["label"]]
        assert row["score"] == pytest.approx(sum(own) / len(own))


def test_mnist_validation_seed_has_another_class_order(mnist_root):
    test = get_benchmark("split_mnist", n_experiences=5, seed=0, dataset_root=mnist_root)
    valid = get_benchmark("split_mnist", n_experiences=5, seed=VALIDATION_SEED_OFFSET,
                          validation=0.1, dataset_root=mnist_root)
    order = [sorted(e.classes_in_this_experience) for e in test.train_stream]
    assert order != [sorted(e.classes_in_this_experience) for e in valid.test_stream]


def test_shifts_objective_ranks_rules_learnt_to_criterion_then_their_accuracy():
    def cell(label, diagonal, bench="g"):
        n = len(diagonal)  # off-diagonal entries (old, reversed rules) must not count
        matrix = [[diagonal[i] if j == i else 0.0 for j in range(n)] for i in range(n)]
        return {"strategy": label, "benchmark": bench, "accuracy_matrix": matrix,
                "final_accuracy": 0.5}

    records = [cell("p#0", [0.2, 0.9, 0.86, 0.5]),   # 2 of 3 shifts, mean 0.7533
               cell("p#1", [1.0, 0.84, 0.84, 0.84]),  # none (0.85 is the criterion)
               cell("p#2", [0.0, 0.95, 0.99, 0.3]),   # 2 of 3 shifts, mean 0.7467
               {"strategy": "p#3", "benchmark": "g", "accuracy_matrix": [],
                "final_accuracy": None, "status": "diverged"}]
    ranking = score_candidates(records, objective="shifts")
    assert [r["label"] for r in ranking] == ["p#0", "p#2", "p#1", "p#3"]
    assert ranking[0]["score"] == pytest.approx(2 / 3)
    assert ranking[0]["acquisition"] == pytest.approx((0.9 + 0.86 + 0.5) / 3)
    assert ranking[2]["score"] == 0.0 and ranking[3]["score"] == 0.0
    assert [r["label"] for r in score_candidates(records)][:3] == ["p#0", "p#1", "p#2"]
    with pytest.raises(ConfigError, match="--objective"):
        score_candidates(records, objective="reward")


def test_reward_driven_selection_ranks_by_shifts(tmp_path: Path):
    suite = {**TINY, "seeds": [0], "learning": "reward", "strategies": ["a2c"],
             "benchmarks": [{"name": "gonogo", "label": "g",
                             "args": {"cued": False, "shifts": ["reversal"],
                                      "trials_per_rule": 48, "test_trials": 16}}]}
    result = run_selection(suite, preset="a2c", grid={"learner.entropy_coef": [0.1, 0.5]},
                           trials=2, out_dir=tmp_path, progress=False, objective="shifts")
    assert result["objective"] == "shifts" and result["seeds"] == [1000]
    records = read_records(tmp_path / "results.jsonl")
    for row in result["ranking"]:
        [record] = [r for r in records if r["strategy"] == row["label"]]
        new_rule = record["accuracy_matrix"][1][1]  # the reversed rule, right after training
        assert row["score"] == float(new_rule >= 0.85)
        assert row["acquisition"] == pytest.approx(new_rule)


def test_gonogo_validation_stream_is_another_draw():
    test = get_benchmark("gonogo", cued=True, rules=["A", "B"], trials_per_rule=48, seed=0)
    valid = get_benchmark("gonogo", cued=True, rules=["A", "B"], trials_per_rule=48, seed=0,
                          validation=0.1)
    x_test = test.test_stream[0].dataset[0][0]
    x_valid = valid.test_stream[0].dataset[0][0]
    assert x_test.shape == x_valid.shape and not bool((x_test == x_valid).all())


def test_mnist_validation_split_is_held_out_of_training(mnist_root):
    full = get_benchmark("split_mnist", n_experiences=5, seed=0, dataset_root=mnist_root)
    held = get_benchmark("split_mnist", n_experiences=5, seed=0, validation=0.1,
                         dataset_root=mnist_root)
    for a, b, v in zip(full.train_stream, held.train_stream, held.test_stream, strict=True):
        assert len(b.dataset) + len(v.dataset) == len(a.dataset)
        assert abs(len(v.dataset) - 0.1 * len(a.dataset)) <= 1
        assert sorted(v.classes_in_this_experience) == sorted(a.classes_in_this_experience)
    assert sum(len(v.dataset) for v in held.test_stream) != \
        sum(len(t.dataset) for t in full.test_stream)


def test_ranking_averages_seeds_then_benchmarks_and_breaks_ties_by_order():
    records = [
        {"strategy": "p#0", "benchmark": "a", "final_accuracy": 0.9},
        {"strategy": "p#0", "benchmark": "a", "final_accuracy": 0.7},
        {"strategy": "p#0", "benchmark": "b", "final_accuracy": 0.2},
        {"strategy": "p#1", "benchmark": "a", "final_accuracy": 0.6},
        {"strategy": "p#1", "benchmark": "b", "final_accuracy": 0.6},
        {"strategy": "p#2", "benchmark": "a", "final_accuracy": 0.6},
        {"strategy": "p#2", "benchmark": "b", "final_accuracy": 0.6},
    ]
    ranking = score_candidates(records)
    assert [r["label"] for r in ranking] == ["p#1", "p#2", "p#0"]
    assert ranking[2]["score"] == pytest.approx((0.8 + 0.2) / 2)
    diverged = {"strategy": "p#1", "benchmark": "a", "final_accuracy": None,
                "status": "diverged"}
    ranking = score_candidates([*records, diverged])
    assert [r["label"] for r in ranking] == ["p#2", "p#0", "p#1"]  # p#1: (0.3 + 0.6) / 2
    tied = [{"strategy": "q#0", "benchmark": "a", "final_accuracy": 0.1},
            {"strategy": "q#0", "benchmark": "b", "final_accuracy": 0.7},
            {"strategy": "q#1", "benchmark": "a", "final_accuracy": 0.3},
            {"strategy": "q#1", "benchmark": "b", "final_accuracy": 0.5}]
    assert (0.1 + 0.7) / 2 != (0.3 + 0.5) / 2  # equal but for the last bit: a tie
    assert [r["label"] for r in score_candidates(tied)] == ["q#0", "q#1"]


def test_write_selected_keeps_comments_and_records_provenance(tmp_path: Path):
    source = Path(__file__).resolve().parents[1] / "strategies" / "full-static.yaml"
    (tmp_path / "full-static.yaml").write_text(source.read_text())
    path = write_selected("full-static", {"modulators": {"serotonin": {"strength": 3.0}}},
                          provenance={"suite": "s", "validation_accuracy": 0.5},
                          presets_dir=tmp_path)
    text = path.read_text()
    assert text.startswith("# All four neuromodulators")
    preset = load_preset(str(path))
    assert preset["modulators"]["serotonin"]["strength"] == 3.0
    assert preset["modulators"]["dopamine"] == \
        load_preset("full-static")["modulators"]["dopamine"]
    assert yaml.safe_load(text)["selection"]["suite"] == "s"


def test_write_selected_into_the_adaptive_default_changes_it_not_replaces_it(tmp_path: Path):
    from avalanche_neuromod.plugins.defaults import DEFAULT_MODULATORS

    path = write_selected("full", {"modulators": {"serotonin": {"strength": 2.0}}},
                          provenance={"suite": "s"}, presets_dir=tmp_path)
    modulators = load_preset(str(path))["modulators"]
    assert list(modulators) == list(DEFAULT_MODULATORS)  # all four kept
    assert modulators["serotonin"] == {**DEFAULT_MODULATORS["serotonin"], "strength": 2.0}
    assert modulators["acetylcholine"] == DEFAULT_MODULATORS["acetylcholine"]


def test_cli_select_writes_the_winner(tmp_path: Path, monkeypatch, capsys):
    import avalanche_neuromod.leaderboard.selection as selection

    presets = tmp_path / "presets"
    presets.mkdir()
    source = Path(__file__).resolve().parents[1] / "strategies" / "ewc.yaml"
    (presets / "ewc.yaml").write_text(source.read_text())
    real = selection.write_selected
    monkeypatch.setattr(selection, "write_selected",
                        lambda *a, **k: real(*a, **{**k, "presets_dir": presets}))
    suite = tmp_path / "tiny.yaml"
    suite.write_text(yaml.safe_dump(TINY))
    grid = tmp_path / "grid.yaml"
    grid.write_text("baseline.args.ewc_lambda: [0.5, 5.0]\n")
    rc = main(["select", str(suite), "--strategy", "ewc", "--grid", str(grid), "--trials", "2",
               "--out", str(tmp_path / "out"), "--write", "--no-progress"])
    assert rc == 0
    written = yaml.safe_load((presets / "ewc.yaml").read_text())
    assert written["baseline"]["args"]["ewc_lambda"] in (0.5, 5.0)
    assert written["selection"]["trials"] == 2
    assert written["selection"]["command"].startswith("avalanche-neuromod select")
    assert "written into" in capsys.readouterr().out


@pytest.mark.parametrize(("extra", "needle"), [
    (["--trials", "0"], "--trials"),
    (["--validation", "1.5"], "--validation"),
    (["--strategy", "nope"], "--strategy"),
    (["--workers", "0"], "--workers"),
    (["--validation-seeds", "0,1000"], "--validation-seeds"),
    (["--validation-seeds", "a"], "--validation-seeds"),
    (["--objective", "reward"], "--objective"),
])
def test_cli_select_bad_input_exits_2(extra, needle, tmp_path, capsys):
    grid = tmp_path / "grid.yaml"
    grid.write_text("baseline.args.ewc_lambda: [0.5]\n")
    argv = ["select", "quick", "--strategy", "ewc", "--grid", str(grid),
            "--out", str(tmp_path / "out"), *extra]
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and needle in err
    assert not (tmp_path / "out").exists()

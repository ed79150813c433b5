"""``avalanche-neuromod verify`` (avalanche_neuromod/leaderboard/verify.py): a record re-runs
identical; a number edited in a copy of a record, and a change of the code, are caught at the
experience where they start; bad input is one line naming the field and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from avalanche_neuromod.casestudy import make_cells, run_cell, validate_config
from avalanche_neuromod.cli import main
from avalanche_neuromod.leaderboard import load_suite, run_suite
from avalanche_neuromod.leaderboard.verify import Check, compare, load_checks, sample
from avalanche_neuromod.runtime import versions
from avalanche_neuromod.strategies import registry

SUITE = """\
name: tiny-verify
seeds: 1
budget:
  model: {hidden: 16, layers: 1, activation: tanh}
  optimizer: {name: sgd, lr: 0.3}
  train_mb_size: 8
  eval_mb_size: 64
benchmarks:
  - {name: gonogo, label: g, args: {cued: true, rules: [A, B, X, Y], trials_per_rule: 32,
     test_trials: 16}}
strategies: [naive, full]
"""
N_EXP = 4
CASE = {"seeds": [3], "presets": ["da+na"], "learning": ["supervised"],
        "stream": {"trials_per_rule": 80, "test_trials": 16},
        "settings": [{"name": "default", "stream": {"population_size": 8, "noise": 0.2,
                                                    "shifts": ["reversal", "extra"]}}],
        "cued": None}


@pytest.fixture(scope="module")
def suite_results(tmp_path_factory) -> Path:
    """A results.jsonl written by the leaderboard's runner (two cells, four experiences)."""
    out = tmp_path_factory.mktemp("suite")
    spec = out / "tiny.yaml"
    spec.write_text(SUITE)
    run_suite(load_suite(spec), out_dir=out, progress=False)
    return out / "results.jsonl"


@pytest.fixture(scope="module")
def case_results(tmp_path_factory) -> Path:
    """A case-study results.json of one supervised DA+NA cell (three experiences)."""
    cfg = validate_config(CASE)
    runs = [run_cell(cell) for cell in make_cells(cfg)]
    path = tmp_path_factory.mktemp("case") / "results.json"
    path.write_text(json.dumps({"config": cfg, "versions": versions(), "runs": runs}))
    return path


def _edited(src: Path, dst: Path, edit) -> Path:
    records = [json.loads(line) for line in src.read_text().splitlines()]
    edit(records[0])
    dst.write_text("".join(json.dumps(r) + "\n" for r in records))
    return dst


def test_a_record_reruns_identical(suite_results: Path, capsys):
    assert main(["verify", str(suite_results), "--cells", "all"]) == 0
    out = capsys.readouterr().out
    assert out.count("identical  g|") == 2 and "verify: 2 of 2 cells identical" in out


def test_a_case_study_record_reruns_identical(case_results: Path, capsys):
    assert main(["verify", str(case_results)]) == 0
    assert "identical  supervised|default|da+na|3" in capsys.readouterr().out


@pytest.mark.parametrize(("path", "experience"), [
    (("accuracy_matrix", 2, 1), 2),  # a row of the matrix: that experience
    (("accuracy_matrix", 0, 3), 0),
    (("forgetting",), N_EXP - 1),  # a stream metric: after the last experience
    (("final_accuracy",), N_EXP - 1),
])
def test_an_edited_number_is_caught_at_its_experience(suite_results: Path, tmp_path: Path,
                                                      capsys, path, experience):
    def edit(record):
        holder = record
        for step in path[:-1]:
            holder = holder[step]
        holder[path[-1]] += 0.001

    edited = _edited(suite_results, tmp_path / "results.jsonl", edit)
    key = json.loads(edited.read_text().splitlines()[0])["key"]
    assert main(["verify", str(edited), "--keys", key]) == 1
    out = capsys.readouterr().out
    where = path[0] + "".join(f"[{p}]" for p in path[1:])
    assert f"different  {key}: experience {experience}, {where}: committed" in out
    assert "note: cpu: the records say" not in out  # written here, by this code


def test_an_edited_trial_count_is_caught_at_its_experience(case_results: Path, tmp_path: Path,
                                                           capsys):
    results = json.loads(case_results.read_text())
    run = results["runs"][0]
    run["trials_to_criterion"][1] = 999
    run["correct"][2 * 80 + 5] = 1 - run["correct"][2 * 80 + 5]  # a later trial: experience 2
    edited = tmp_path / "results.json"
    edited.write_text(json.dumps(results))
    assert main(["verify", str(edited)]) == 1
    out = capsys.readouterr().out
    assert "experience 1, trials_to_criterion[1]: committed 999" in out


def test_a_code_change_is_caught_at_its_experience(suite_results: Path, monkeypatch, capsys):
    """A change that acts from the third experience on leaves rows 0 and 1 identical."""
    build = registry.build_strategy

    class Flip:  # a plugin standing in for a code change from experience 2 on
        def __getattr__(self, name):
            return lambda *args, **kwargs: None

        def after_training_exp(self, strategy, **kwargs):
            if strategy.experience.current_experience == 2:  # the two logits swap places
                with torch.no_grad():
                    for p in list(strategy.model.parameters())[-2:]:
                        p.copy_(p.flip(0))

    def changed(*args, **kwargs):
        strategy = build(*args, **kwargs)
        strategy.plugins.append(Flip())
        return strategy

    monkeypatch.setattr(registry, "build_strategy", changed)
    assert main(["verify", str(suite_results), "--cells", "all"]) == 1
    out = capsys.readouterr().out
    assert out.count(": experience 2, accuracy_matrix[2][") == 2, out
    assert "verify: 0 of 2 cells identical" in out


def test_compare_maps_per_trial_lists_to_their_experience():
    committed = {"accuracy_matrix": [[1.0, 0.0], [0.5, 1.0]], "correct": [1, 0, 1, 1],
                 "trials_to_criterion": [1, 2]}
    now = json.loads(json.dumps(committed))
    assert compare(committed, now, fields=("accuracy_matrix", "correct")) is None
    now["correct"][3] = 0
    diff = compare(committed, now, fields=("accuracy_matrix", "correct"))
    assert diff["experience"] == 1 and diff["field"] == "correct" and diff["path"] == ["correct", 3]
    assert (diff["committed"], diff["now"]) == (1, 0)


def test_the_sample_is_cheapest_first_one_per_strategy_then_seeded():
    def check(key, cost, strategy):
        return Check(key=key, cost=cost, strategy=strategy, record={}, cell=None, fields=())

    checks = [check("a0", 1.0, "a"), check("a1", 2.0, "a"), check("b0", 5.0, "b"),
              check("c0", 9.0, "c"), check("x", float("inf"), "x")]
    assert [c.key for c in sample(checks, cells=3)] == ["a0", "b0", "c0"]
    assert [c.key for c in sample(checks, cells=4)] == ["a0", "a1", "b0", "c0"]
    assert [c.key for c in sample(checks, cells=None)] == ["a0", "a1", "b0", "c0", "x"]
    drawn = [c.key for c in sample(checks, cells=2, seed=7)]
    assert drawn == [c.key for c in sample(checks, cells=2, seed=7)] and len(drawn) == 2
    assert [c.key for c in sample(checks, keys=["c0", "a0"])] == ["a0", "c0"]


def test_load_checks_rebuilds_the_stored_cell(suite_results: Path):
    kind, checks = load_checks(suite_results)
    records = [json.loads(line) for line in suite_results.read_text().splitlines()]
    assert kind == "suite" and [c.cell.key for c in checks] == [r["key"] for r in records]
    assert checks[0].cell.config == records[0]["config"]


def _break_config(record):
    record["config"]["budget"]["optimizer"]["lr"] = 0.1


@pytest.mark.parametrize(("setup", "args", "field"), [
    (None, ["--cells", "0"], "--cells"),
    (None, ["--cells", "some"], "--cells"),
    (None, ["--keys", "nope"], "--keys"),
    (None, ["--workers", "0"], "--workers"),
    (None, ["--seed", "x"], "--seed"),
    ("missing", [], "results: no such file"),
    ("not-json", [], "not a JSON record"),
    ("no-config", [], ".config: missing"),
    ("edited-config", [], ".config_hash:"),
    ("empty-runs", [], ".runs: missing or empty"),
])
def test_bad_input_is_one_line_and_exit_2(suite_results: Path, tmp_path: Path, capsys, setup,
                                          args, field):
    path = suite_results
    if setup == "missing":
        path = tmp_path / "none.jsonl"
    elif setup == "not-json":
        path = tmp_path / "results.jsonl"
        path.write_text(suite_results.read_text() + "{oops\n")
    elif setup == "no-config":
        path = _edited(suite_results, tmp_path / "results.jsonl", lambda r: r.pop("config"))
    elif setup == "edited-config":
        path = _edited(suite_results, tmp_path / "results.jsonl", _break_config)
    elif setup == "empty-runs":
        path = tmp_path / "results.json"
        path.write_text(json.dumps({"config": {}, "runs": []}))
    assert main(["verify", str(path), *args]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and field in lines[0], captured.err
    assert "identical" not in captured.out  # nothing ran

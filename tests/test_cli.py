"""Tests for the command line (avalanche_neuromod.cli): bad input, then one small real run.

Bad input must end with exit code 2 and exactly one stderr line naming the field, never a
traceback, and must leave existing outputs alone.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import torch

from avalanche_neuromod import casestudy
from avalanche_neuromod.cli import main

PREFIX = "avalanche-neuromod: error:"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# a valid, tiny run config: bad cases below change one field of it
SMALL = ("seeds: 1\npresets: [none]\nlearning: [reward]\ncued: null\n"
         "stream: {trials_per_rule: 16, test_trials: 8}\n")
SETTING = "settings:\n  - name: s\n    stream: {%s}\n"


def _config(text: str) -> str:
    """``SMALL`` with the top-level keys of ``text`` replacing its own."""
    keys = {line.split(":", 1)[0] for line in text.splitlines() if line and line[0].isalpha()}
    base = [line for line in SMALL.splitlines() if line.split(":", 1)[0] not in keys]
    return "\n".join(base) + "\n" + text


def assert_one_line_error(rc: int, out: str, err: str, needle: str) -> None:
    assert "Traceback" not in out + err
    assert rc == 2, (rc, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(PREFIX), err
    assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    assert out == ""


NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(),
                             reason="a CUDA GPU is available, so --device cuda is valid")
# (argv with {cfg}/{tmp} placeholders, config file text or None, substring the error must contain)
CASES = [
    pytest.param(["run", "--presets", "nope"], None, "presets[0]", id="unknown-preset"),
    pytest.param(["run", "--presets", "da,nope"], None, "presets[1]", id="unknown-preset-2"),
    pytest.param(["run", "--learning", "evolution"], None, "learning", id="unknown-learning"),
    pytest.param(["run", "--seeds", "0"], None, "seeds", id="seeds-0"),
    pytest.param(["run", "--seeds", "a"], None, "--seeds", id="seeds-a"),
    pytest.param(["run", "--seeds", "1,-2"], None, "seeds", id="seeds-negative"),
    pytest.param(["run", "--workers", "0"], None, "--workers", id="workers-0"),
    pytest.param(["run", "--workers", "two"], None, "--workers", id="workers-not-int"),
    pytest.param(["run", "--config", "{cfg}", "--device", "cuda"], SMALL, "device",
                 id="device-cuda-without-gpu", marks=NO_CUDA),
    pytest.param(["run", "--config", "{cfg}", "--device", "tpu"], SMALL, "device",
                 id="device-unknown"),
    pytest.param(["run", "--config", "{tmp}/missing.yaml"], None, "missing.yaml",
                 id="config-missing"),
    pytest.param(["run", "--config", "{cfg}"], "seeds: [1, 2\npresets: none\n", "not valid YAML",
                 id="config-invalid-yaml"),
    pytest.param(["run", "--config", "{cfg}"], "- seeds\n- presets\n", "must be a mapping",
                 id="config-not-mapping"),
    pytest.param(["run", "--config", "{cfg}"], _config("bogus: 1\n"), ".bogus",
                 id="unknown-top-level-key"),
    pytest.param(["run", "--config", "{cfg}"], _config(SETTING % "population_size: 0"),
                 "settings[0].stream.population_size", id="population-size-0"),
    pytest.param(["run", "--config", "{cfg}"],
                 _config("stream: {trials_per_rule: -5, test_trials: 8}\n"), "trials_per_rule",
                 id="trials-per-rule-negative"),
    pytest.param(["run", "--config", "{cfg}"], _config(SETTING % "trials_per_rule: -5"),
                 "settings[0].stream.trials_per_rule", id="setting-trials-per-rule-negative"),
    pytest.param(["run", "--config", "{cfg}"], _config("optimizer: {lr: 0}\n"), "optimizer.lr",
                 id="lr-0"),
    pytest.param(["run", "--config", "{cfg}"], _config("optimizer: {lr: -1}\n"), "optimizer.lr",
                 id="lr-negative"),
    pytest.param(["run", "--config", "{cfg}"], _config("metric: {criterion: 1.5}\n"),
                 "metric.criterion", id="criterion-1.5"),
    pytest.param(["run", "--config", "{cfg}"], _config(SETTING % "shifts: [reversal, sideways]"),
                 "settings[0].stream.shifts", id="unknown-shift"),
    pytest.param(["run", "--config", "{cfg}"],
                 _config("cued: {name: c, stream: {noise: -1}}\n"), "cued.stream.noise",
                 id="cued-noise-negative"),
    pytest.param(["run", "--config", "{cfg}"], _config("model: {hidden: 0}\n"), "model.hidden",
                 id="hidden-0"),
    pytest.param(["run", "--config", "{cfg}"], _config("model: {activation: swish}\n"),
                 "model.activation", id="unknown-activation"),
    pytest.param(["run", "--config", "{cfg}"], _config("reward: {hit: .inf}\n"), "reward.hit",
                 id="reward-inf"),
    pytest.param(["run", "--config", "{cfg}"], _config("modulators: {oxytocin: {}}\n"),
                 "modulators.oxytocin", id="unknown-modulator"),
    pytest.param(["run", "--config", "{cfg}"],
                 _config("modulators: {dopamine: {tonic_rate: 5}}\n"),
                 "modulators.dopamine.tonic_rate", id="bad-modulator-parameter"),
    pytest.param(["fly"], None, "fly", id="unknown-subcommand"),
    pytest.param([], None, "arguments", id="no-subcommand"),
    pytest.param(["run", "--bogus"], None, "--bogus", id="unknown-option"),
    pytest.param(["report", "{tmp}/nothing/results.json"], None, "results",
                 id="report-missing-results"),
    pytest.param(["report", "{cfg}"], "{not json", "results", id="report-invalid-results"),
    pytest.param(["run", "--config", "{cfg}"], _config(SETTING % "rules: [A, Q]"),
                 "settings[0].stream.rules", id="unknown-rule"),
    pytest.param(["run", "--config", "{cfg}"], _config(SETTING % "initial_rule: Q"),
                 "settings[0].stream.initial_rule", id="unknown-initial-rule"),
    pytest.param(["run", "--config", "{cfg}"], _config(SETTING % "sparsity: lots"),
                 "settings[0].stream.sparsity", id="sparsity-not-a-number"),
    pytest.param(["run", "--config", "{cfg}"], _config("modulators: {dopamine: 5}\n"),
                 "modulators.dopamine", id="modulator-not-mapping"),
]


@pytest.mark.parametrize(("argv", "config", "needle"), CASES)
def test_bad_input_exits_2_with_one_line(argv, config, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a run that wrongly starts writes here, not into the repo

    def no_run(*args, **kwargs):
        raise AssertionError("bad input reached run_cells: it must fail before anything runs")

    monkeypatch.setattr(casestudy, "run_cells", no_run)
    cfg = tmp_path / "config.yaml"
    if config is not None:
        cfg.write_text(config)
    out_dir = tmp_path / "out"
    argv = [a.format(cfg=cfg, tmp=tmp_path) for a in argv]
    if argv and argv[0] == "run":
        argv += ["--out", str(out_dir), "--no-progress"]
        if "--workers" not in argv:
            argv += ["--workers", "1"]
    rc = main(argv)
    out, err = capsys.readouterr()
    assert_one_line_error(rc, out, err, needle)
    assert not out_dir.exists()


def test_bad_config_leaves_existing_output_untouched(tmp_path, capsys):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    results = out_dir / "results.json"
    results.write_text('{"runs": ["keep me"]}\n')
    (out_dir / "report.md").write_text("# old report\n")
    before = {p.name: p.read_bytes() for p in out_dir.iterdir()}
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(_config("optimizer: {lr: 0}\n"))
    rc = main(["run", "--config", str(cfg), "--out", str(out_dir), "--workers", "1",
               "--no-progress"])
    _, err = capsys.readouterr()
    assert rc == 2
    assert "optimizer.lr" in err
    assert {p.name: p.read_bytes() for p in out_dir.iterdir()} == before


def test_module_entry_point_reports_bad_preset(tmp_path):
    env = dict(os.environ, WANDB_MODE="offline", WANDB_SILENT="true")
    proc = subprocess.run(
        [sys.executable, "-m", "avalanche_neuromod", "run", "--presets", "nope",
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(PREFIX)
    assert "nope" in lines[0]
    assert proc.stdout == ""
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------- end to end

E2E_CONFIG = """\
seeds: 2
presets: [da, da+na]
learning: [reward]
stream: {trials_per_rule: 120, test_trials: 32}
settings:
  - name: tiny
    stream: {population_size: 16, noise: 0.2, shifts: [reversal, extra]}
cued:
  stream: {population_size: 16, shifts: [reversal]}
"""
RUN_KEYS = {
    "setting", "mode", "cued", "preset", "seed", "rules", "trials_per_rule",
    "trials_to_criterion", "final_accuracy", "stream_accuracy", "forgetting", "bwt", "fwt",
    "accuracy_matrix", "correct", "entropy", "signals", "wall_time", "device",
}


def test_run_and_report_end_to_end(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # provenance is not under test here; keep the run hermetic (no git subprocess)
    monkeypatch.setattr(casestudy, "git_commit", lambda: "0" * 40)
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(E2E_CONFIG)
    out_dir = tmp_path / "out"
    rc = main(["run", "--config", str(cfg), "--out", str(out_dir), "--workers", "1",
               "--no-progress"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "Traceback" not in err

    results = json.loads((out_dir / "results.json").read_text())
    assert {"command", "config", "versions", "device", "metric", "runs"} <= set(results)
    assert results["device"] == "cpu"
    assert results["git_commit"] == "0" * 40
    runs = results["runs"]
    # 1 learning mode x (1 setting + the cued stream, kept by default) x 2 presets x 2 seeds
    assert len(runs) == 8
    assert {(r["setting"], r["cued"], r["preset"], r["seed"]) for r in runs} == {
        (setting, cued, preset, seed)
        for setting, cued in (("tiny", False), ("cued", True))
        for preset in ("da", "da+na")
        for seed in (0, 1)
    }
    for run in runs:
        assert RUN_KEYS <= set(run), RUN_KEYS - set(run)
        assert run["mode"] == "reward"
        assert run["trials_per_rule"] == 120
        n_exp = len(run["rules"])
        assert n_exp == (2 if run["cued"] else 3)
        assert len(run["trials_to_criterion"]) == n_exp
        assert len(run["accuracy_matrix"]) == n_exp
        assert all(len(row) == n_exp for row in run["accuracy_matrix"])
        assert all(0.0 <= v <= 1.0 for row in run["accuracy_matrix"] for v in row)
        assert len(run["correct"]) == n_exp * 120
        assert set(run["correct"]) <= {0, 1}
        assert run["final_accuracy"] == pytest.approx(run["accuracy_matrix"][-1][-1], abs=1e-5)
        assert "da" in run["signals"]
        assert ("na" in run["signals"]) == (run["preset"] == "da+na")

    report = out_dir / "report.md"
    assert report.is_file()
    pngs = sorted(p.name for p in out_dir.glob("*.png"))
    assert "shifts_tiny_reward.png" in pngs
    assert "forgetting_reward.png" in pngs
    for name in pngs:
        assert (out_dir / name).read_bytes().startswith(PNG_MAGIC)
    assert "da+na" in out
    assert re.search(r"(?<![\w+])da(?![\w+])", out), out
    assert "report:" in out

    out2 = tmp_path / "again"
    rc = main(["report", str(out_dir / "results.json"), "--out", str(out2)])
    out_report, err = capsys.readouterr()
    assert rc == 0, err
    assert (out2 / "report.md").read_bytes() == report.read_bytes()
    assert sorted(p.name for p in out2.glob("*.png")) == pngs
    assert "da+na" in out_report


@pytest.mark.parametrize(("text", "seeds"), [("5", 5), ("0,3", [0, 3]), ("3,", [3]),
                                             (" 1, 2 ", [1, 2])])
def test_seeds_is_a_count_without_a_comma_and_a_list_with_one(text, seeds):
    from avalanche_neuromod.cli import _seeds

    assert _seeds(text) == seeds


@pytest.mark.parametrize(("text", "needle"), [
    ("0", "--seeds: 0 is a count of seeds (N runs seeds 0..N-1); for seed 0 alone write "
          "--seeds 0,"),
    ("0,0", "--seeds: duplicate seed 0 in '0,0'"),
    ("2,1,2", "--seeds: duplicate seed 2"),
    ("1,-2", "--seeds: seeds are integers >= 0"),
])
@pytest.mark.parametrize("command", [["run"], ["leaderboard", "quick"],
                                     ["select", "quick", "--strategy", "full", "--grid", "full"]])
def test_seeds_mistakes_are_one_line(command, text, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc = main([*command, "--seeds", text, "--no-progress"])
    out, err = capsys.readouterr()
    assert_one_line_error(rc, out, err, needle)


def test_version_names_the_package_and_its_avalanche_and_torch(capsys):
    from importlib.metadata import version

    from avalanche_neuromod import __version__

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert __version__ == version("avalanche-neuromod")  # stated once (pyproject reads it)
    assert capsys.readouterr().out == (f"avalanche-neuromod {__version__} (avalanche-lib "
                                       f"{version('avalanche-lib')}, torch {version('torch')})\n")

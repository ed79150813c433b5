"""Bad input (issue 7, point 4): suites, preset files, case-study configs and ``train``.

Every case ends with exit code 2 and exactly one line on stderr that names the field (and the
file, when there is one), never a traceback, before anything runs; an output folder that already
holds results, a report and a checkpoint is left byte-identical. The cases complement
tests/test_cli.py and tests/test_leaderboard.py (which cover other fields of the same commands).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
import yaml
from test_cli import assert_one_line_error

from avalanche_neuromod import casestudy, parallel
from avalanche_neuromod.cli import main
from avalanche_neuromod.leaderboard import load_suite, suite_cells
from avalanche_neuromod.leaderboard import runner as runner_module
from avalanche_neuromod.leaderboard.runner import checkpoint_path

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(),
                             reason="a CUDA GPU is available, so --device cuda is valid")
BENCH = {"name": "gonogo", "label": "g",
         "args": {"cued": True, "rules": ["A", "B"], "trials_per_rule": 16, "test_trials": 8}}
SUITE = {"name": "bad", "seeds": 1,
         "budget": {"model": {"hidden": 8, "layers": 1, "activation": "tanh"},
                    "optimizer": {"name": "sgd", "lr": 0.1}, "train_mb_size": 8,
                    "eval_mb_size": 64},
         "benchmarks": [BENCH], "strategies": ["naive", "full"]}
RUN = {"seeds": 1, "presets": ["none"], "learning": ["reward"], "cued": None,
       "stream": {"trials_per_rule": 16, "test_trials": 8}}


def suite(**changes) -> str:
    data = copy.deepcopy(SUITE)
    for key, value in changes.items():
        if key.startswith("budget."):
            data["budget"][key.split(".", 1)[1]] = value
        elif key.startswith("args."):
            data["benchmarks"][0]["args"][key.split(".", 1)[1]] = value
        elif key.startswith("bench."):
            data["benchmarks"][0][key.split(".", 1)[1]] = value
        else:
            data[key] = value
    return yaml.safe_dump(data, sort_keys=False)


def run_config(**changes) -> str:
    return yaml.safe_dump({**copy.deepcopy(RUN), **changes}, sort_keys=False)


def preset_suite() -> str:
    return suite(strategies=["naive", "{preset}"])


BOARD = ["leaderboard", "{suite}", "--out", "{out}", "--no-progress"]
TRAIN = ["train", "{suite}", "--benchmark", "g", "--strategy", "full", "--out", "{out}"]
RUN_ARGV = ["run", "--config", "{cfg}", "--out", "{out}", "--workers", "1", "--no-progress"]
MNIST = suite(benchmarks=[{"name": "split_mnist", "label": "m"}])

# (argv, suite text, other files {"cfg"|"preset": text} or {"state": ...}, needles); "{tmp}",
# "{out}", "{suite}", "{cfg}" and "{preset}" are filled in with the test's paths
CASES = [
    # ------------------------------------------------------------------- suite files
    pytest.param(BOARD, "name: [unclosed\n", None, ["not valid YAML", "{suite}"],
                 id="suite-invalid-yaml"),
    pytest.param(BOARD, "- gonogo\n- naive\n", None, ["{suite}", "must be a mapping"],
                 id="suite-not-a-mapping"),
    pytest.param(BOARD, "", None, ["{suite}.benchmarks", "non-empty list"], id="suite-empty"),
    pytest.param(BOARD, suite(name=5), None, ["{suite}.name"], id="name-not-a-string"),
    pytest.param(BOARD, suite(seeds="three"), None, ["{suite}.seeds"], id="seeds-a-word"),
    pytest.param(BOARD, suite(seeds=2.5), None, ["{suite}.seeds"], id="seeds-a-fraction"),
    pytest.param(BOARD, suite(seeds=True), None, ["{suite}.seeds"], id="seeds-a-bool"),
    pytest.param(BOARD, suite(learning=5), None, ["{suite}.learning"], id="learning-a-number"),
    pytest.param(BOARD, suite(**{"budget.epochs": 0}), None, ["{suite}.budget.epochs"],
                 id="epochs-0"),
    pytest.param(BOARD, suite(**{"budget.eval_mb_size": "big"}), None,
                 ["{suite}.budget.eval_mb_size"], id="eval-mb-size-a-word"),
    pytest.param(BOARD, suite(**{"budget.optimizer": {"name": "sgd", "lr": 0.1,
                                                     "momentum": 1.5}}), None,
                 ["{suite}.budget.optimizer.momentum"], id="momentum-1.5"),
    pytest.param(BOARD, suite(**{"budget.optimizer": {"name": "sgd", "lr": float("nan")}}),
                 None, ["{suite}.budget.optimizer.lr"], id="lr-nan"),
    pytest.param(BOARD, suite(**{"budget.model": {"hidden": 2.5}}), None,
                 ["{suite}.budget.model.hidden"], id="hidden-a-fraction"),
    pytest.param(BOARD, suite(**{"budget.model": {"colour": "red"}}), None,
                 ["{suite}.budget.model.colour"], id="model-unknown-key"),
    pytest.param(BOARD, suite(**{"budget.optimizer": "sgd"}), None,
                 ["{suite}.budget.optimizer"], id="optimizer-not-a-mapping"),
    pytest.param(BOARD, suite(benchmarks={"g": BENCH}), None, ["{suite}.benchmarks"],
                 id="benchmarks-a-mapping"),
    pytest.param(BOARD, suite(benchmarks=["gonogo"]), None, ["{suite}.benchmarks[0]"],
                 id="benchmark-a-string"),
    pytest.param(BOARD, suite(**{"bench.colour": "red"}), None,
                 ["{suite}.benchmarks[0].colour"], id="benchmark-unknown-key"),
    pytest.param(BOARD, suite(**{"bench.args": [1, 2]}), None, ["{suite}.benchmarks[0].args"],
                 id="benchmark-args-a-list"),
    pytest.param(BOARD, suite(**{"args.validation": 1.5}), None,
                 ["{suite}.benchmarks[0].args.validation"], id="validation-1.5"),
    pytest.param(BOARD, suite(**{"args.trials_per_rule": -5}), None,
                 ["{suite}.benchmarks[0].args.trials_per_rule"], id="trials-per-rule-negative"),
    pytest.param(BOARD, suite(**{"args.rules": ["A", "Q"]}), None,
                 ["{suite}.benchmarks[0].args.rules"], id="unknown-rule"),
    pytest.param(BOARD, suite(**{"args.noise": "lots"}), None,
                 ["{suite}.benchmarks[0].args.noise"], id="noise-a-word"),
    pytest.param(BOARD, suite(**{"args.cued": "yes"}), None,
                 ["{suite}.benchmarks[0].args.cued"], id="cued-not-a-bool"),
    pytest.param(BOARD, suite(benchmarks=[{"name": "split_mnist",
                                           "args": {"n_experiences": 3}}]), None,
                 ["{suite}.benchmarks[0].args.n_experiences"], id="split-mnist-3-experiences"),
    pytest.param(BOARD, suite(**{"bench.budget": {"train_mb_size": 0}}), None,
                 ["{suite}.benchmarks[0].budget.train_mb_size"], id="benchmark-budget-mb-0"),
    pytest.param(BOARD, suite(**{"bench.strategies": "naive"}), None,
                 ["{suite}.benchmarks[0].strategies"], id="benchmark-strategies-a-string"),
    pytest.param(BOARD, suite(strategies=[5]), None, ["{suite}.strategies[0]"],
                 id="strategy-a-number"),
    pytest.param(BOARD, suite(strategies=[{"preset": "naive", "colour": 1}]), None,
                 ["{suite}.strategies[0].colour"], id="strategy-unknown-key"),
    pytest.param(BOARD, suite(strategies=[{"preset": "ewc", "override": "big"}]), None,
                 ["{suite}.strategies[0].override"], id="override-not-a-mapping"),
    pytest.param(BOARD, suite(strategies=[{"preset": "ewc", "override": {
        "baseline": {"args": {"ewc_lamda": 1.0}}}}]), None,
                 ["{suite}.strategies[0]", "ewc_lamda"], id="baseline-argument-typo"),
    pytest.param(BOARD, suite(strategies=[{"preset": "ewc", "override": {
        "baseline": {"class": "Hopfield"}}}]), None,
                 ["{suite}.strategies[0]", "baseline.class"], id="unknown-baseline-class"),
    pytest.param(BOARD, suite(strategies=[{"preset": "full", "override": {
        "modulators": {"dopamine": {"tonic_rate": 5}}}}]), None,
                 ["{suite}.strategies[0]", "dopamine.tonic_rate"],
                 id="modulator-parameter-out-of-range"),
    pytest.param(BOARD, MNIST, None, ["dataset_root", "{tmp}/empty"],
                 id="data-root-without-mnist"),
    # ------------------------------------------------------------------- preset files
    pytest.param(BOARD, preset_suite(), {"preset": "modulators: {dopamine: [\n"},
                 ["{suite}.strategies[1]", "{preset}", "not valid YAML"], id="preset-invalid-yaml"),
    pytest.param(BOARD, preset_suite(), {"preset": "name: p\ncolour: red\n"},
                 ["{suite}.strategies[1]", "{preset}", "unknown key"], id="preset-unknown-key"),
    pytest.param(BOARD, preset_suite(), {"preset": "modulators: {oxytocin: {}}\n"},
                 ["{suite}.strategies[1]", "{preset}", "modulators.oxytocin"],
                 id="preset-unknown-modulator"),
    pytest.param(BOARD, preset_suite(),
                 {"preset": "modulators: adaptive\nbaseline: {class: EWC, args: {}}\n"},
                 ["{suite}.strategies[1]", "{preset}", "modulators must be a mapping, or default"],
                 id="preset-modulators-neither-mapping-nor-default"),
    pytest.param(BOARD, preset_suite(),
                 {"preset": "modulators: {dopamine: {}}\nintegration: {speed: {}}\n"},
                 ["{suite}.strategies[1]", "{preset}", "integration.speed"],
                 id="preset-unknown-learning-variable"),
    pytest.param(BOARD, preset_suite(), {"preset": "modulators: {noradrenaline: {slope: -1}}\n"},
                 ["{suite}.strategies[1]", "{preset}", "noradrenaline.slope"],
                 id="preset-parameter-out-of-range"),
    pytest.param(BOARD, preset_suite(), None, ["{suite}.strategies[1]", "cannot read"],
                 id="preset-file-missing"),
    pytest.param(RUN_ARGV, None, {"preset": "modulators: {dopamine: {scope: everywhere}}\n",
                                  "cfg": run_config(presets=["{preset}"])},
                 ["{cfg}.presets[0]", "{preset}", "scope"], id="run-with-a-bad-preset-file"),
    # ------------------------------------------------------------ case-study configs
    pytest.param(RUN_ARGV, None, {"cfg": run_config(settings={"name": "s"})}, ["{cfg}.settings"],
                 id="run-settings-a-mapping"),
    pytest.param(RUN_ARGV, None, {"cfg": run_config(settings=[{"name": "s"}, {"name": "s"}])},
                 ["{cfg}.settings[1].name"], id="run-duplicate-setting"),
    pytest.param(RUN_ARGV, None, {"cfg": run_config(model={"hidden": 2.5})}, ["{cfg}.model.hidden"],
                 id="run-hidden-a-fraction"),
    pytest.param(RUN_ARGV, None, {"cfg": run_config(train_mb_size=0)}, ["{cfg}.train_mb_size"],
                 id="run-train-mb-size-0"),
    pytest.param(RUN_ARGV, None, {"cfg": run_config(metric={"window": 0})}, ["{cfg}.metric.window"],
                 id="run-window-0"),
    pytest.param(RUN_ARGV, None, {"cfg": run_config(reward={"false_alarm": "lots"})},
                 ["{cfg}.reward.false_alarm"], id="run-reward-a-word"),
    pytest.param(RUN_ARGV, None, {"cfg": run_config(seeds=[])}, ["{cfg}.seeds"], id="run-no-seeds"),
    pytest.param(RUN_ARGV, None, {"cfg": run_config(presets=[])}, ["{cfg}.presets"],
                 id="run-no-presets"),
    pytest.param(RUN_ARGV, None, {"cfg": run_config(modulators={"dopamine": {"mode": "bogus"}})},
                 ["{cfg}.modulators.dopamine", "mode"], id="run-bad-modulator-option"),
    pytest.param(RUN_ARGV, None, {"cfg": run_config(seed=3)}, ["{cfg}.seed"],
                 id="run-misspelt-key"),
    # ------------------------------------------------------------------- train
    pytest.param(["train", "{suite}", "--strategy", "full", "--out", "{out}"], suite(), None,
                 ["--benchmark"], id="train-without-benchmark"),
    pytest.param([*TRAIN[:3], "nope", *TRAIN[4:]], suite(), None,
                 ["--benchmark", "'nope'", "{suite}"], id="train-unknown-benchmark"),
    pytest.param([*TRAIN[:5], "nope", *TRAIN[6:]], suite(), None,
                 ["--strategy", "'nope'", "{suite}"], id="train-unknown-strategy"),
    pytest.param([*TRAIN, "--seed", "-1"], suite(), None, ["--seed"], id="train-seed-negative"),
    pytest.param([*TRAIN, "--seed", "one"], suite(), None, ["--seed"], id="train-seed-a-word"),
    pytest.param([*TRAIN, "--device", "cuda"], suite(), None, ["device"],
                 id="train-gpu-without-gpu", marks=NO_CUDA),
    pytest.param([*TRAIN[:3], "m", *TRAIN[4:], "--data-root", "{tmp}/nowhere"], MNIST, None,
                 ["dataset_root", "{tmp}/nowhere"], id="train-data-root-missing"),
    pytest.param(TRAIN, "benchmarks: [\n", None, ["{suite}", "not valid YAML"],
                 id="train-suite-invalid-yaml"),
    pytest.param(TRAIN, suite(), {"state": "started"}, ["--out", "pass --resume"],
                 id="train-started-run-without-resume"),
    pytest.param([*TRAIN, "--resume"], suite(), {"state": "torn"},
                 ["checkpoint", "not a valid checkpoint"],
                 id="train-resume-a-torn-checkpoint"),
    pytest.param(TRAIN, suite(), {"state": "other-record"}, ["--out", "another run"],
                 id="train-out-holds-another-run"),
]


def _dup(text: str, key: str, value: str) -> str:
    """``text`` with ``key: value`` appended again (a duplicate key at the top level)."""
    return text + f"{key}: {value}\n"


GRID = "modulators.dopamine.tonic_rate: [0.01, 0.05]\n"
SELECT = ["select", "{suite}", "--strategy", "full", "--grid", "{cfg}", "--out", "{out}",
          "--no-progress"]
HUGE = 10**9
# issue 19: extreme numbers, output locations, names that become paths, duplicate keys, bytes
CASES += [
    # ----------------------------------------------------------- seeds and counts
    pytest.param(BOARD, suite(seeds=[2**32]), None, ["{suite}.seeds", "seed < "],
                 id="seed-2-to-the-32"),
    pytest.param(BOARD, suite(seeds=[-1]), None, ["{suite}.seeds"], id="seed-negative"),
    pytest.param(BOARD, suite(seeds=HUGE), None, ["{suite}.seeds", "at most 10000"],
                 id="seed-count-10-to-the-9"),
    pytest.param([*BOARD, "--seeds", str(HUGE)], suite(), None, ["--seeds", "at most 10000"],
                 id="cli-seed-count-10-to-the-9"),
    pytest.param([*TRAIN, "--seed", str(2**32)], suite(), None, ["--seed", "seed < "],
                 id="train-seed-2-to-the-32"),
    pytest.param(RUN_ARGV, None, {"cfg": run_config(seeds=HUGE)}, ["{cfg}.seeds", "at most"],
                 id="run-seed-count-10-to-the-9"),
    pytest.param(RUN_ARGV, None, {"cfg": run_config(seeds=[2**40])}, ["{cfg}.seeds", "seed < "],
                 id="run-seed-2-to-the-40"),
    pytest.param([*BOARD, "--workers", "0"], suite(), None, ["--workers"], id="workers-0"),
    pytest.param([*BOARD, "--workers", "100000"], suite(), None, ["--workers", "per CPU"],
                 id="workers-huge"),
    pytest.param([*RUN_ARGV[:-3], "--workers", "100000", "--no-progress"], None,
                 {"cfg": run_config()}, ["--workers"], id="run-workers-huge"),
    pytest.param([*SELECT, "--workers", "0"], suite(), {"cfg": GRID}, ["--workers"],
                 id="select-workers-0"),
    pytest.param([*SELECT, "--trials", "-3"], suite(), {"cfg": GRID}, ["--trials"],
                 id="select-trials-negative"),
    pytest.param([*SELECT, "--validation", "1.5"], suite(), {"cfg": GRID}, ["--validation"],
                 id="select-validation-1.5"),
    pytest.param([*SELECT, "--validation", "0"], suite(), {"cfg": GRID}, ["--validation"],
                 id="select-validation-0"),
    pytest.param(SELECT, suite(), {"cfg": "".join(f"modulators.dopamine.p{i}: {list(range(10))}\n"
                                                  for i in range(8))},
                 ["{cfg}", "at most 1000000"], id="select-grid-of-10-to-the-8-points"),
    # ----------------------------------------------------- sizes against memory
    pytest.param(BOARD, suite(**{"budget.model": {"hidden": 10**7}}), None,
                 ["{suite}.budget.model", "more than this machine's"], id="hidden-10-to-the-7"),
    pytest.param(BOARD, suite(**{"budget.model": {"hidden": 4096, "layers": 10**5}}), None,
                 ["{suite}.budget.model", "GiB"], id="layers-10-to-the-5"),
    pytest.param(BOARD, suite(**{"args.population_size": HUGE}), None,
                 ["{suite}.benchmarks[0].args", "more than this machine's"],
                 id="population-size-10-to-the-9"),
    pytest.param(BOARD, suite(**{"args.trials_per_rule": 10**11}), None,
                 ["{suite}.benchmarks[0].args", "GiB"], id="trials-per-rule-10-to-the-11"),
    pytest.param(BOARD, suite(benchmarks=[{"name": "permuted_mnist", "label": "p",
                                           "args": {"n_experiences": 10**5}}]), None,
                 ["{suite}.benchmarks[0].args", "GiB"], id="pmnist-10-to-the-5-experiences"),
    pytest.param(BOARD, suite(**{"bench.budget": {"train_mb_size": 10**9}},
                              **{"args.trials_per_rule": 10**8}), None,
                 ["{suite}.benchmarks[0]", "GiB"], id="batch-and-stream-too-large"),
    pytest.param(BOARD, suite(strategies=[{"preset": "full", "override": {
        "memory": {"size": 10**12}}}]), None, ["strategy 'full' (stored samples)", "GiB"],
                 id="memory-size-10-to-the-12"),
    pytest.param(RUN_ARGV, None, {"cfg": run_config(model={"hidden": HUGE})},
                 ["{cfg}.model.hidden", "GiB"], id="run-hidden-10-to-the-9"),
    pytest.param(RUN_ARGV, None, {"cfg": run_config(settings=[{"name": "s", "stream": {
        "population_size": HUGE}}])},
                 ["{cfg}.settings[0].stream", "GiB"], id="run-population-size-10-to-the-9"),
    # ------------------------------------------------------------ output locations
    pytest.param([*BOARD[:2], "--out", "{file}", "--no-progress"], suite(), None,
                 ["--out", "{file} is a file"], id="board-out-is-a-file"),
    pytest.param([*BOARD[:2], "--out", "{file}/sub", "--no-progress"], suite(), None,
                 ["--out", "{file} is a file"], id="board-out-under-a-file"),
    pytest.param([*RUN_ARGV[:3], "--out", "{file}", *RUN_ARGV[5:]], None, {"cfg": run_config()},
                 ["--out", "{file} is a file"], id="run-out-is-a-file"),
    pytest.param([*RUN_ARGV[:3], "--out", "{file}/a/b", *RUN_ARGV[5:]], None,
                 {"cfg": run_config()}, ["--out", "{file} is a file"], id="run-out-under-a-file"),
    pytest.param([*TRAIN[:-1], "{file}"], suite(), None, ["--out", "{file} is a file"],
                 id="train-out-is-a-file"),
    pytest.param([*SELECT[:-3], "--out", "{file}/x", "--no-progress"], suite(), {"cfg": GRID},
                 ["--out", "{file} is a file"], id="select-out-under-a-file"),
    pytest.param(["report", "{out}/results.jsonl", "--out", "{file}"], None, None,
                 ["--out", "{file} is a file"], id="report-out-is-a-file"),
    pytest.param(["report", "{out}/results.json", "--out", "{file}/x"], None, None,
                 ["--out", "{file} is a file"], id="casestudy-report-out-under-a-file"),
    pytest.param(BOARD, suite(), {"state": "results-a-folder"},
                 ["--out", "results.jsonl is not a file"], id="board-results-jsonl-a-folder"),
    # ------------------------------------------------------ names that become paths
    pytest.param(["leaderboard", "{suite}", "--no-progress"], suite(name="../../../escape"), None,
                 ["{suite}.name", "not a safe name"], id="suite-name-escapes"),
    pytest.param(BOARD, suite(name="/etc/x"), None, ["{suite}.name", "not a safe name"],
                 id="suite-name-absolute"),
    pytest.param(BOARD, suite(name=".hidden"), None, ["{suite}.name"], id="suite-name-hidden"),
    pytest.param(BOARD, suite(**{"bench.label": "a/b"}), None,
                 ["{suite}.benchmarks[0].label", "not a safe name"], id="benchmark-label-slash"),
    pytest.param(BOARD, suite(strategies=[{"preset": "naive", "label": "../x"}]), None,
                 ["{suite}.strategies[0].label", "not a safe name"], id="strategy-label-escapes"),
    pytest.param(BOARD, suite(strategies=[{"preset": "naive", "label": "a b"}]), None,
                 ["{suite}.strategies[0].label"], id="strategy-label-space"),
    pytest.param(BOARD, preset_suite(), {"preset": "name: ../p\nmodulators: {}\n"},
                 ["{suite}.strategies[1]", "{preset}", "name: '../p' is not a safe name"],
                 id="preset-name-escapes"),
    pytest.param([*SELECT[:3], "{preset}", *SELECT[4:]], suite(),
                 {"cfg": GRID, "preset": "name: a/b\nmodulators: {dopamine: {}}\n"},
                 ["--strategy", "not a safe name"], id="select-preset-name-escapes"),
    pytest.param(RUN_ARGV, None, {"cfg": run_config(settings=[{"name": "../s"}])},
                 ["{cfg}.settings[0].name", "not a safe name"], id="run-setting-name-escapes"),
    # --------------------------------------------------- YAML: duplicate keys, bytes
    pytest.param(BOARD, _dup(suite(), "seeds", "2"), None,
                 ["{suite}", "duplicate key 'seeds'", "(first at line"], id="suite-duplicate-key"),
    pytest.param(BOARD, suite().replace("lr: 0.1", "lr: 0.1\n    lr: 0.2"), None,
                 ["{suite}", "duplicate key 'lr'"], id="suite-nested-duplicate-key"),
    pytest.param(RUN_ARGV, None, {"cfg": _dup(run_config(), "presets", "[da]")},
                 ["{cfg}", "duplicate key 'presets'"], id="run-config-duplicate-key"),
    pytest.param(BOARD, preset_suite(), {"preset": "name: p\nname: q\n"},
                 ["{suite}.strategies[1]", "{preset}", "duplicate key 'name' at line 2"],
                 id="preset-duplicate-key"),
    pytest.param(SELECT, suite(), {"cfg": GRID + GRID}, ["{cfg}", "duplicate key"],
                 id="grid-duplicate-key"),
    pytest.param(BOARD, b"name: caf\xe9\n", None, ["{suite}", "not UTF-8"],
                 id="suite-not-utf-8"),
    pytest.param(RUN_ARGV, None, {"cfg": b"seeds: 1\n\xff\xfe\n"}, ["{cfg}", "not UTF-8"],
                 id="run-config-not-utf-8"),
    pytest.param(BOARD, "[]\n", None, ["{suite}", "must be a mapping"], id="suite-an-empty-list"),
    pytest.param(BOARD, "# nothing but a comment\n", None, ["{suite}.benchmarks"],
                 id="suite-only-a-comment"),
]


@pytest.fixture
def existing(tmp_path: Path) -> Path:
    """An output folder with results, a report and a checkpoint already in it."""
    out = tmp_path / "out"
    (out / "checkpoints").mkdir(parents=True)
    (out / "results.jsonl").write_text('{"key": "g|naive|0|abc", "final_accuracy": 0.5}\n')
    (out / "leaderboard.md").write_text("# old leaderboard\n")
    (out / "results.json").write_text('{"runs": ["keep me"]}\n')
    (out / "report.md").write_text("# old report\n")
    (out / "checkpoints" / "g-naive-s0-0123456789abcdef.pt").write_bytes(b"an older run")
    return out


def _write(path: str, text: str | bytes, places: dict) -> None:
    if isinstance(text, bytes):
        Path(path).write_bytes(text)
    else:
        Path(path).write_text(text.replace("{preset}", places["preset"]))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize(("argv", "suite_text", "other", "needles"), CASES)
def test_bad_input_exits_2_with_one_line_and_keeps_outputs(argv, suite_text, other, needles,
                                                           existing, tmp_path, capsys,
                                                           monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("AVALANCHE_NEUROMOD_DATA", str(tmp_path / "empty"))
    (tmp_path / "afile").write_text("a file, not a folder\n")
    places = {"tmp": str(tmp_path), "out": str(existing), "suite": str(tmp_path / "suite.yaml"),
              "file": str(tmp_path / "afile"),
              "cfg": str(tmp_path / "config.yaml"), "preset": str(tmp_path / "preset.yaml")}
    if suite_text is not None:
        _write(places["suite"], suite_text, places)
    other = other or {}
    for key in ("cfg", "preset"):
        if key in other:
            _write(places[key], other[key], places)
    state = other.get("state")
    allow_run = state == "torn"  # the run starts, and stops at the checkpoint it cannot read
    if state in ("started", "torn"):
        cell = next(c for c in suite_cells(load_suite(places["suite"])) if c.strategy == "full")
        checkpoint_path(existing / "checkpoints", cell).write_bytes(
            b"PK\x03\x04 torn" if state == "torn" else b"a started run")
    elif state == "results-a-folder":
        (existing / "results.jsonl").unlink()
        (existing / "results.jsonl").mkdir()
    elif state == "other-record":
        (existing / "record.json").write_text('{"key": "another|run|0|x"}\n')

    def no_run(*args, **kwargs):
        raise AssertionError("bad input reached a run: it must fail before anything runs")

    if not allow_run:
        monkeypatch.setattr(runner_module, "run_suite_cell", no_run)
        monkeypatch.setattr(parallel, "run_cells", no_run)
    monkeypatch.setattr(casestudy, "run_cells", no_run)
    before = {**_snapshot(existing), "afile": (tmp_path / "afile").read_bytes()}
    rc = main([a.format(**places) for a in argv])
    out, err = capsys.readouterr()
    needles = [n.format(**places) for n in needles]
    assert_one_line_error(rc, out, err, needles[0])
    for needle in needles[1:]:
        assert needle in err, f"{needle!r} not in {err!r}"
    after = {**_snapshot(existing), "afile": (tmp_path / "afile").read_bytes()}
    assert after == before  # nothing already computed is lost or touched
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["afile", "empty", "out", *(Path(places[k]).name for k in ("suite", "cfg", "preset")
                                    if Path(places[k]).exists())])  # nothing written astray
    assert not (tmp_path / "reports").exists()


def test_the_battery_is_large_enough():
    assert len(CASES) >= 114

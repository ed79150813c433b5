"""Scenarios: a selected preset names the scenario of its selection suite (derived from
``selection.suite``, so no preset gains a field and no record's key changes) and warns, one line,
when it runs on another."""

from __future__ import annotations

from avalanche_neuromod import casestudy
from avalanche_neuromod.cli import main
from avalanche_neuromod.scenarios import mismatches, scenario, selected_for
from avalanche_neuromod.strategies.presets import load_preset


def test_selected_presets_name_the_scenario_of_their_selection_suite():
    assert selected_for(load_preset("full-class")) == ("SplitMNIST class-IL",)
    assert selected_for(load_preset("full-task")) == ("SplitMNIST task-IL",)
    assert selected_for(load_preset("full-gonogo")) == ("Go/No-Go cued",)
    assert selected_for(load_preset("full-domain")) == ("PermutedMNIST",)
    assert selected_for(load_preset("full")) is None  # not selected: runs anywhere silently


def test_domain_il_split_mnist_is_a_scenario_of_its_own():
    assert scenario("split_mnist", {"domain": True}) == "SplitMNIST domain-IL"
    assert mismatches([(load_preset("full-class"), scenario("split_mnist", {"domain": True}))])


def test_a_selected_preset_on_another_scenario_gives_one_line_per_pair():
    full_class, full = load_preset("full-class"), load_preset("full")
    runs = [(full_class, scenario("gonogo", {"cued": False}, "reward")),
            (full_class, scenario("gonogo", {"cued": False}, "reward")),
            (full_class, scenario("split_mnist", {"n_experiences": 5})),
            (full, scenario("gonogo", {"cued": True}))]
    assert mismatches(runs) == [
        "preset 'full-class' was selected for SplitMNIST class-IL (selection.suite: "
        "splitmnist-class) and runs here on Go/No-Go uncued (reward)"]


def test_run_warns_when_a_preset_selected_for_splitmnist_runs_on_gonogo(tmp_path, capsys,
                                                                         monkeypatch):
    monkeypatch.chdir(tmp_path)
    ran = []
    monkeypatch.setattr(casestudy, "run_cells", lambda cells, **kw: ran.append(cells) or
                        (_ for _ in ()).throw(KeyboardInterrupt))
    rc = main(["run", "--presets", "full-class,da", "--seeds", "0,", "--learning", "reward",
               "--out", str(tmp_path / "out"), "--no-progress", "--workers", "1"])
    err = capsys.readouterr().err.splitlines()
    assert rc == 130 and ran  # the warning does not stop the run
    warnings = [line for line in err if "warning:" in line]
    assert warnings == [
        "avalanche-neuromod: warning: preset 'full-class' was selected for SplitMNIST class-IL "
        "(selection.suite: splitmnist-class) and runs here on Go/No-Go uncued (reward)",
        "avalanche-neuromod: warning: preset 'full-class' was selected for SplitMNIST class-IL "
        "(selection.suite: splitmnist-class) and runs here on Go/No-Go cued (reward)"]

"""Suites and grids by name: the current folder's ./benchmarks first, then the package's."""

from __future__ import annotations

import pytest

from avalanche_neuromod.catalog import entries, packaged_root, resolve
from avalanche_neuromod.config import ConfigError
from avalanche_neuromod.leaderboard import load_suite
from avalanche_neuromod.leaderboard.selection import load_grid, presets_folder


def test_names_and_repository_paths_resolve_to_the_packaged_files_from_anywhere(tmp_path,
                                                                                monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve("quick") == packaged_root() / "quick.yaml"
    assert resolve("benchmarks/standard.yaml") == packaged_root() / "standard.yaml"
    assert resolve("full", kind="grid") == packaged_root() / "grids" / "full.yaml"
    assert load_grid("benchmarks/grids/full.yaml") == load_grid("full")
    assert load_suite("quick")["name"] == "quick"


def test_the_current_folder_comes_first(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "quick.yaml").write_text("# Mine.\nname: my-quick\n")
    assert resolve("quick") == tmp_path / "benchmarks" / "quick.yaml"
    assert ("quick", "here", "Mine.") in entries("suite")
    assert ("ablation", "package", "Issue 3: what each modulator contributes.") in \
        entries("suite")  # the first sentence of its leading comment


def test_a_name_found_nowhere_is_one_error_listing_the_suites(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"^suite: no suite file 'nope' \(.*quick, "):
        resolve("nope")
    with pytest.raises(ConfigError, match=r"^grid: no grid file 'nope'"):
        load_grid("nope")


def test_select_writes_into_a_named_folder_or_strategies_here_never_the_package(tmp_path,
                                                                              monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"--write: no strategies/ folder in the current "):
        presets_folder(True)
    (tmp_path / "strategies").mkdir()
    assert presets_folder(True) == tmp_path / "strategies"
    assert presets_folder(str(tmp_path / "mine")) == tmp_path / "mine"
    with pytest.raises(ConfigError, match="inside an installed package"):
        presets_folder(str(packaged_root().parent / "avalanche_neuromod" / "presets"))

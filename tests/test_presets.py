"""Presets: docs/presets.md is generated from the preset files; ./strategies shadows the
package."""

from __future__ import annotations

from pathlib import Path

import pytest

from avalanche_neuromod.cli import main
from avalanche_neuromod.listing import presets_markdown
from avalanche_neuromod.strategies.presets import (
    PresetError,
    list_presets,
    load_preset,
    packaged_presets,
)

REPO = Path(__file__).resolve().parent.parent


def test_docs_presets_page_is_the_generated_text():
    page = (REPO / "docs" / "presets.md").read_text(encoding="utf-8")
    assert page == presets_markdown(), (
        "docs/presets.md is stale: avalanche-neuromod list presets --markdown > docs/presets.md")
    for name in packaged_presets():  # every preset has its section
        assert f"\n## `{name}`\n" in page


def test_list_presets_markdown_prints_the_page(capsys):
    assert main(["list", "presets", "--markdown"]) == 0
    assert capsys.readouterr().out == presets_markdown()


def test_markdown_is_for_presets_only(capsys):
    assert main(["list", "suites", "--markdown"]) == 2
    assert capsys.readouterr().err.strip().endswith("--markdown: only with list presets")


def test_a_preset_in_the_current_folder_takes_the_place_of_the_packaged_one(tmp_path,
                                                                              monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_preset("da")["modulators"]["dopamine"]["tonic_rate"] == 0.05
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "da.yaml").write_text(
        "name: da\nmodulators:\n  dopamine: {tonic_rate: 0.2}\n")
    (tmp_path / "strategies" / "mine.yaml").write_text("name: mine\nmodulators: {}\n")
    assert load_preset("da")["modulators"]["dopamine"] == {"tonic_rate": 0.2}
    assert "mine" in list_presets() and load_preset("mine")["name"] == "mine"
    with pytest.raises(PresetError, match="unknown preset 'other'"):
        load_preset("other")

"""The README's Python blocks run as pasted, in order, in one namespace (as a reader would)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"),
                    flags=re.MULTILINE | re.DOTALL)


def test_the_readme_has_the_pipeline_and_the_preset_line():
    assert len(BLOCKS) >= 2
    assert any("NeuromodulationPlugin(" in b and "strategy.train(" in b for b in BLOCKS)
    assert any("build_plugins(load_preset(" in b for b in BLOCKS)


def test_readme_python_blocks_run_as_pasted(mnist_root, monkeypatch, capsys):
    monkeypatch.setenv("AVALANCHE_NEUROMOD_DATA", str(mnist_root))
    namespace: dict = {"__name__": "__readme__"}
    for i, block in enumerate(BLOCKS):
        try:
            exec(compile(block, f"README.md python block {i}", "exec"), namespace)
        except Exception as err:  # noqa: BLE001 (name the block that failed)
            pytest.fail(f"README python block {i} failed: {type(err).__name__}: {err}")
    accuracy = float(re.search(r"accuracy: ([0-9.]+)", capsys.readouterr().out).group(1))
    assert 0.5 < accuracy <= 1.0  # two experiences of SplitMNIST, learnt
    from avalanche_neuromod.plugins import NeuromodulationPlugin

    assert any(isinstance(p, NeuromodulationPlugin) for p in namespace["strategy"].plugins)

"""The modulator registry (avalanche_neuromod.modulators.registry): every table derived from the
modulators' own ``SPEC``; a fifth modulator added in one file (docs/extending.md)."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from avalanche.training import Naive
from torch import nn

from avalanche_neuromod.benchmarks import gonogo_benchmark
from avalanche_neuromod.errors import PresetError
from avalanche_neuromod.modulators import Noradrenaline
from avalanche_neuromod.modulators.integration import (
    IntegrationError,
    default_integration,
    signal_names,
    validate_integration,
)
from avalanche_neuromod.modulators.registry import (
    RegistryError,
    modulator_class,
    names,
    register_modulator,
    specs,
    unregister_modulator,
)
from avalanche_neuromod.plugins import ModulatorConfigError, NeuromodulationPlugin
from avalanche_neuromod.strategies import build_plugins
from avalanche_neuromod.strategies.presets import validate_preset

ROOT = Path(__file__).resolve().parent.parent
BUILT_IN = ("dopamine", "noradrenaline", "acetylcholine", "serotonin")


@pytest.fixture
def adenosine(monkeypatch):
    """The worked example of docs/extending.md, imported (and so registered) for one test."""
    monkeypatch.syspath_prepend(str(ROOT / "docs" / "examples"))
    sys.modules.pop("adenosine", None)
    import adenosine as module

    yield module
    unregister_modulator("adenosine")
    sys.modules.pop("adenosine", None)


def test_the_four_modulators_are_found_in_their_files_in_order():
    assert names() == BUILT_IN
    assert [specs()[n]["tag"] for n in BUILT_IN] == ["DA", "NA", "ACh", "5HT"]
    assert modulator_class("noradrenaline") is Noradrenaline
    for name, spec in specs().items():  # each signal carries its modulator's tag
        assert all(s.startswith(spec["tag"] + "/") for s in spec["signals"]), name


def test_names_are_read_without_importing_torch():
    code = ("import sys; from avalanche_neuromod.modulators.registry import names; "
            "print(','.join(names())); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.split()
    assert out == [",".join(BUILT_IN), "False"]


def test_signals_the_integration_accepts_are_the_specs_signals():
    expected = [s for spec in specs().values() for s in spec["signals"]]
    assert list(signal_names()) == expected
    validate_integration({"gain": {"terms": {"5HT/level": 1.0}}})
    with pytest.raises(IntegrationError, match=r"integration\.gain\.terms\.ADO/level"):
        validate_integration({"gain": {"terms": {"ADO/level": 1.0}}})


def test_default_terms_read_the_constructor_defaults_and_follow_given_parameters():
    na = default_integration({"noradrenaline": {}})
    assert na["plasticity"]["terms"] == {"NA/level": Noradrenaline().plasticity_gain}
    assert na["reset"]["terms"] == {"NA/release": -Noradrenaline().reset_gain}
    moved = default_integration({"noradrenaline": {"plasticity_gain": 0.7}})
    assert moved["plasticity"]["terms"]["NA/level"] == 0.7
    # a term ``with`` a partner applies only when the partner is there: 5-HT opposes DA
    assert "5HT/level" not in default_integration({"serotonin": {}})["da_plasticity"]["terms"]
    both = default_integration({"dopamine": {}, "serotonin": {"opponent": 0.25}})
    assert both["da_plasticity"]["terms"] == {"5HT/level": -0.25}


def test_a_malformed_spec_is_refused_naming_the_key():
    spec = copy.deepcopy(specs()["serotonin"])
    spec = {k: v for k, v in spec.items() if k != "module"}
    with pytest.raises(RegistryError, match=r"register_modulator\(Toy\): SPEC must have"):
        register_modulator(type("Toy", (), {}), {**spec, "extra": 1})
    with pytest.raises(RegistryError, match=r"SPEC\.terms"):
        register_modulator(type("Toy", (), {}), {**spec, "name": "toy",
                                                 "terms": (("gain", "NA/level", 1.0, None),)})
    with pytest.raises(RegistryError, match="'serotonin' is already a modulator"):
        register_modulator(type("Toy", (), {}), spec)
    assert names() == BUILT_IN  # nothing refused was kept


def test_presets_and_the_plugin_name_the_registry_in_their_errors():
    with pytest.raises(PresetError, match=r"modulators\.adenosine: unknown modulator; choose "
                                          r"from dopamine, noradrenaline"):
        validate_preset({"name": "p", "modulators": {"adenosine": {}}}, source="p.yaml")
    with pytest.raises(ModulatorConfigError, match="adenosine: unknown modulator"):
        NeuromodulationPlugin(adenosine={})
    with pytest.raises(ModulatorConfigError, match="switch must be one of surprise, unexplained"):
        NeuromodulationPlugin(acetylcholine={"switch": "never"})


def test_extending_page_runs_as_written(adenosine, monkeypatch, capsys):
    page = (ROOT / "docs" / "extending.md").read_text()
    [block] = re.findall(r"^```python\n(.*?)^```", page, flags=re.MULTILINE | re.DOTALL)
    monkeypatch.chdir(ROOT)
    exec(compile(block, "docs/extending.md", "exec"), {"__name__": "__extending__"})
    assert capsys.readouterr().out.strip() == "{'NA/level': 2.0, 'ADO/level': -0.8}"


def test_adenosine_level_follows_its_equation(adenosine):
    ado = adenosine.Adenosine(rate=0.5, damping=0.8)
    levels = [float(ado.observe(torch.tensor(u))) for u in (1.0, 0.0, 3.0, float("nan"))]
    assert levels == pytest.approx([0.5, 0.25, 1.0, 1.0])  # clipped at 1; NaN carries nothing
    with pytest.raises(ValueError, match="rate"):
        adenosine.Adenosine(rate=0.0)


def test_a_fifth_modulator_drives_plasticity_through_the_plugin(adenosine):
    """The applied learning variable, read off a real Avalanche run: 1 - damping * a_t."""
    assert names() == (*BUILT_IN, "adenosine")
    bm = gonogo_benchmark(rules=["A", "B"], trials_per_rule=32, test_trials=8, cued=True, seed=0)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(bm.input_size, 16), nn.Tanh(), nn.Linear(16, 2))
    plugin = adenosine.AdenosinePlugin(rate=0.3, damping=0.8)
    strategy = Naive(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                     criterion=nn.CrossEntropyLoss(), train_mb_size=8, train_epochs=1,
                     plugins=[plugin], evaluator=None)
    for experience in bm.train_stream:
        strategy.train(experience)
    assert len(plugin.trace) == strategy.clock.train_iterations
    levels = [step["ADO/level"] for step in plugin.trace]
    assert 0.0 < max(levels) <= 1.0 and len(set(levels)) > 1  # it moved with the loss
    for step in plugin.trace:
        assert step["NM/plasticity"] == pytest.approx(max(1.0 - 0.8 * step["ADO/level"], 0.0),
                                                      abs=1e-5)
    [built] = build_plugins({"modulators": {"adenosine": {"damping": 0.1}}})
    assert built.integrator.spec["plasticity"]["terms"] == {"ADO/level": -0.1}

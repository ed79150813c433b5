"""The registry (avalanche_neuromod.registry): a suite names your own benchmark and model."""

from __future__ import annotations

import json

import pytest
import torch

from avalanche_neuromod.benchmarks import BENCHMARKS, gonogo_benchmark, register_benchmark
from avalanche_neuromod.config import ConfigError
from avalanche_neuromod.leaderboard import load_suite, run_suite, suite_cells
from avalanche_neuromod.models import register_model
from avalanche_neuromod.registry import MODELS, merge_model


def two_rules(*, seed: int, trials: int = 24):
    """Two Go/No-Go rules, a few trials each (a stand-in for your own stream)."""
    return gonogo_benchmark(rules=["A", "B"], trials_per_rule=trials, test_trials=8, seed=seed)


def tiny_net(*, input_size: int, n_classes: int, multihead: bool, width: int = 4):
    assert not multihead
    return torch.nn.Sequential(torch.nn.Linear(input_size, width), torch.nn.Tanh(),
                               torch.nn.Linear(width, n_classes))


@pytest.fixture
def registered():
    register_benchmark("two_rules", two_rules)
    register_model("tiny_net", tiny_net)
    yield
    BENCHMARKS.pop("two_rules")
    MODELS.pop("tiny_net")


def suite(**model) -> dict:
    return {"name": "mine", "seeds": 1,
            "budget": {"model": {"name": "tiny_net", **model}, "train_mb_size": 8,
                       "optimizer": {"name": "sgd", "lr": 0.1}},
            "benchmarks": [{"name": "two_rules", "args": {"trials": 16}}],
            "strategies": ["naive"]}


def test_a_suite_runs_a_registered_benchmark_and_model(registered, tmp_path):
    spec = load_suite(suite(width=3))
    [cell] = suite_cells(spec)
    assert cell.budget["model"] == {"name": "tiny_net", "width": 3}  # no MLP arguments merged in
    run_suite(spec, out_dir=tmp_path, progress=False)
    [record] = [json.loads(line) for line in (tmp_path / "results.jsonl").open()]
    assert record["key"] == cell.key and record["final_accuracy"] is not None


def test_registered_names_are_checked_like_the_built_in_ones(registered):
    with pytest.raises(ConfigError, match=r"budget\.model\.depth: unknown key"):
        load_suite(suite(depth=2))
    with pytest.raises(ConfigError, match=r"benchmarks\[0\]\.args\.n: unknown argument"):
        load_suite({**suite(), "benchmarks": [{"name": "two_rules", "args": {"n": 1}}]})
    with pytest.raises(ConfigError, match=r"budget\.model\.name: unknown model 'cnn'"):
        load_suite({**suite(), "budget": {"model": {"name": "cnn"}}})
    with pytest.raises(ValueError, match="'two_rules' is taken"):
        register_benchmark("two_rules", two_rules)
    with pytest.raises(ValueError, match="'mlp' is taken"):
        register_model("mlp", tiny_net)


def test_another_model_replaces_the_inherited_arguments_the_same_merges():
    mlp = {"hidden": 400, "layers": 2, "activation": "relu"}
    assert merge_model(mlp, {"hidden": 8}) == {**mlp, "hidden": 8}
    assert merge_model(mlp, {"name": "tiny_net"}) == {"name": "tiny_net"}
    assert merge_model({"name": "tiny_net", "width": 3}, {"width": 5}) == \
        {"name": "tiny_net", "width": 5}


def test_suites_without_a_model_name_keep_their_configs():
    [cell, *_] = suite_cells(load_suite("quick"))
    assert cell.budget["model"] == {"hidden": 32, "layers": 1, "activation": "tanh"}


def test_docs_api_example_runs_as_written(tmp_path, monkeypatch, capsys):
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text()
    [block] = re.findall(r"^```python\n(.*?)^```", page, flags=re.MULTILINE | re.DOTALL)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("avalanche_neuromod.registry.MODELS", dict(MODELS))
    try:
        exec(compile(block, "docs/api.md", "exec"), {"__name__": "__api__"})
    finally:
        BENCHMARKS.pop("two_rules", None)
    out = capsys.readouterr().out
    assert out.startswith("4 cells\n")
    assert (tmp_path / "runs" / "mine" / "leaderboard.md").is_file()
    records = [json.loads(line) for line in (tmp_path / "runs" / "mine" / "results.jsonl").open()]
    assert sorted(r["strategy"] for r in records) == ["full", "full", "naive", "naive"]

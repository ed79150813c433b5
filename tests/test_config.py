"""avalanche_neuromod.config: the strict YAML loader, safe names, seed bounds, worker bounds and
the memory estimate that fails early (issue 19). CLI-level cases are in tests/test_bad_input.py.
"""

from __future__ import annotations

import glob
import os

import pytest

from avalanche_neuromod import config
from avalanche_neuromod.config import (
    MAX_SEEDS,
    SEED_LIMIT,
    ConfigError,
    check_memory,
    check_seed,
    check_workers,
    load_yaml,
    parse_yaml,
    run_memory,
    safe_name,
    seed_values,
)
from avalanche_neuromod.strategies.presets import PresetError, load_preset


@pytest.mark.parametrize(("text", "needle"), [
    ("seeds: 1\nseeds: 2\n", "duplicate key 'seeds' at line 2 (first at line 1)"),
    ("a: 1\nb:\n  c: 1\n  d: 2\n  c: 3\n", "duplicate key 'c' at line 5 (first at line 3)"),
    ("- {x: 1, x: 2}\n", "duplicate key 'x' at line 1"),
    ("1: a\n1: b\n", "duplicate key 1 at line 2"),
], ids=["top-level", "nested", "flow-mapping", "integer-key"])
def test_duplicate_keys_are_refused_naming_the_key_and_the_line(text, needle):
    with pytest.raises(ConfigError) as info:
        parse_yaml(text, source="s.yaml")
    assert str(info.value).startswith(f"config: s.yaml: {needle}")


def test_merge_keys_may_override_without_being_duplicates():
    text = "base: &b {lr: 0.1, epochs: 1}\nrun:\n  <<: *b\n  lr: 0.2\n"
    assert parse_yaml(text, source="s.yaml")["run"] == {"lr": 0.2, "epochs": 1}


def test_yaml_is_still_safe_and_reports_the_line():
    with pytest.raises(ConfigError, match=r"s.yaml is not valid YAML"):
        parse_yaml("!!python/object/apply:os.system ['true']\n", source="s.yaml")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d"):
        parse_yaml("a: 1\nb: [\n", source="s.yaml")


def test_non_utf8_file_is_one_error_naming_the_byte(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes(b"seeds: 1\nname: caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_yaml(path)
    assert str(info.value) == f"config: {path} is not UTF-8 text (byte 0xe9 at offset 18)"


def test_preset_files_use_the_same_loader(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nmodulators: {}\nname: q\n")
    with pytest.raises(PresetError, match=r"p.yaml: duplicate key 'name' at line 3"):
        load_preset(str(path))
    path.write_bytes(b"name: \xff\n")
    with pytest.raises(PresetError, match=r"p.yaml is not UTF-8"):
        load_preset(str(path))


def test_every_committed_yaml_file_has_unique_keys():
    root = os.path.join(os.path.dirname(__file__), "..")
    files = [f for pattern in ("benchmarks/**/*.yaml", "strategies/*.yaml",
                               "avalanche_neuromod/**/*.yaml")
             for f in glob.glob(os.path.join(root, pattern), recursive=True)]
    assert len(files) > 20
    for path in files:
        load_yaml(path)  # raises on a duplicate key


@pytest.mark.parametrize("name", ["pmnist10", "da+na", "full-domain", "5ht-selected", "a.b",
                                  "x_1", "full#3"])
def test_safe_names_pass(name):
    assert safe_name(name, field="f") == name


@pytest.mark.parametrize("name", ["../../../escape", "a/b", "a\\b", ".hidden", "-rf", "#1", "",
                                  "a b", "caf\u00e9", "x" * 101, "a\nb", None, 5])
def test_names_that_would_escape_or_mislead_are_refused(name):
    with pytest.raises(ConfigError, match=r"^f: "):
        safe_name(name, field="f")


def test_seeds_are_bounded_by_what_numpy_and_torch_accept():
    assert seed_values([0, SEED_LIMIT - 1], field="s") == [0, SEED_LIMIT - 1]
    assert seed_values(3, field="s") == [0, 1, 2]
    for bad in ([SEED_LIMIT], [-1], [True], [1.5], [], [1, 1]):
        with pytest.raises(ConfigError, match=r"^s: "):
            seed_values(bad, field="s")
    with pytest.raises(ConfigError, match=r"s: a seed must be an integer with 0 <= seed < 100"):
        check_seed(100, field="s", limit=100)


def test_a_seed_count_of_a_billion_is_one_error_not_a_list():
    with pytest.raises(ConfigError, match=rf"s: at most {MAX_SEEDS} seeds"):
        seed_values(10**9, field="s")
    with pytest.raises(ConfigError, match=rf"s: at most {MAX_SEEDS} seeds"):
        seed_values(list(range(MAX_SEEDS + 1)), field="s")


def test_suite_seeds_leave_room_for_the_validation_offset():
    import numpy as np

    from avalanche_neuromod.benchmarks import VALIDATION_SEED_OFFSET
    from avalanche_neuromod.leaderboard.spec import SEED_LIMIT as SUITE_LIMIT

    assert SUITE_LIMIT + VALIDATION_SEED_OFFSET == SEED_LIMIT
    np.random.RandomState(SUITE_LIMIT - 1 + VALIDATION_SEED_OFFSET)  # the largest seed used
    with pytest.raises(ValueError):
        np.random.RandomState(SEED_LIMIT)  # the bound is NumPy's


def test_workers_are_bounded_by_the_machine():
    assert check_workers(1) == 1
    limit = config.WORKERS_PER_CPU * (os.cpu_count() or 1)
    assert check_workers(limit) == limit
    for bad in (0, -2, limit + 1, 10**6):
        with pytest.raises(ConfigError, match=r"^--workers: must be between 1 and"):
            check_workers(bad)


def test_memory_estimate_names_the_largest_part_and_the_machine(monkeypatch):
    monkeypatch.setattr(config, "machine_memory", lambda: 8 * 2**30)
    check_memory({"a": 2**30, "b": 2**30}, what="a run")  # fits
    with pytest.raises(ConfigError) as info:
        check_memory({"a": 2**30, "b.hidden": 10 * 2**30}, what="a run")
    assert str(info.value) == ("b.hidden: a run needs about 11.0 GiB of memory (b.hidden alone "
                               "10.0 GiB), more than this machine's 8.0 GiB")


def test_memory_estimate_of_permuted_mnist_matches_its_tensors():
    from avalanche_neuromod.benchmarks import stream_size

    stream = stream_size("permuted_mnist", {"n_experiences": 10})
    parts = run_memory(stream, hidden=400, layers=2, train_mb_size=128, eval_mb_size=1024)
    # ten experiences of 70,000 float32 images of 784 pixels (as tensor_mnist holds them)
    assert parts["stream"] >= 10 * 70_000 * 784 * 4
    # weights and gradients; the 784 -> 400 layer counts as the stream's (its inputs are wider)
    assert parts["model"] == 2 * 4 * (401 * 400 + 401 * 10)
    assert parts["stream"] - stream["bytes"] == 2 * 4 * 785 * 400
    assert sum(parts.values()) < 2.5 * 2**30  # a PermutedMNIST-10 cell runs in ~2.2 GB


def test_machine_memory_is_the_physical_memory_or_less():
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0 < config.machine_memory() <= total

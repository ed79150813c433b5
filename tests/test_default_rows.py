"""benchmarks/default_rows.py: the adaptive default's rows, read from results files, paired over
seeds against the strongest sample-free baseline (a generator-based one named apart)."""

from __future__ import annotations

import json


def _record(strategy: str, seed: int, accuracy: float, preset: dict) -> dict:
    config = {"benchmark": "splitmnist-class", "benchmark_args": {"n_experiences": 5},
              "budget": {"epochs": 1}, "learning": "supervised", "preset": preset,
              "seed": seed, "strategy": strategy}
    return {"key": f"splitmnist-class|{strategy}|{seed}|x", "benchmark": "splitmnist-class",
            "strategy": strategy, "seed": seed, "accuracy_matrix": [[accuracy]],
            "final_accuracy": accuracy, "config": config}


def test_class_il_row_pairs_full_with_the_strongest_and_names_a_generator_apart(
        tmp_path, benchmark_script) -> None:
    module = benchmark_script("default_rows")
    presets = {"full": {"name": "full", "modulators": {"serotonin": {}}},
               "naive-lt": {"name": "naive-lt", "baseline": {"class": "Naive"}, "modulators": {}},
               "replay": {"name": "replay", "baseline": {"class": "Replay"}, "modulators": {}},
               "generative-replay": {"name": "generative-replay", "modulators": {},
                                     "baseline": {"class": "GenerativeReplay"}},
               "full-class": {"name": "full-class", "modulators": {"acetylcholine": {}}}}
    accuracy = {"full": 0.44, "naive-lt": 0.40, "replay": 0.90, "generative-replay": 0.60,
                "full-class": 0.45}
    for suite, strategies in {"standard": ["full", "replay"],
                              "targets-class": ["naive-lt", "generative-replay",
                                                "full-class"]}.items():
        folder = tmp_path / suite
        folder.mkdir()
        lines = [json.dumps(_record(s, seed, accuracy[s] + 0.01 * seed, presets[s]))
                 for s in strategies for seed in range(3)]
        (folder / "results.jsonl").write_text("\n".join(lines) + "\n")
    module.BOARDS = tmp_path
    lines = module.rows_section()
    row = next(line for line in lines if line.startswith("| class-IL"))
    # Replay stores samples: not a sample-free baseline; the generator is, and is stronger
    assert "| 0.450 | generative-replay (targets-class) | 0.610 | -0.160 ± 0.000 (lower" in row
    assert "full-class (targets-class) | 0.460 | -0.010 ± 0.000" in row
    note = next(line for line in lines if line.startswith("class-IL (SplitMNIST): the strongest"))
    assert "without one the strongest is naive-lt (targets-class) (0.410): full − it +0.040" in note
    assert any(line.startswith("| task-IL") and "no records of `full`" in line for line in lines)

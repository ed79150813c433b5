"""leaderboard.md and its figures, rendered from a suite's results.jsonl alone (deterministic)."""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..leaderboard.store import read_records
from .paired import PAIRED_NOTE, paired_lines
from .stats import mean_ci

TOLERANCE = 0.03  # a reproduced reference counts when its mean is within this of the target


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "-", name)


def _fmt(mean: float, half: float) -> str:
    if mean is None or not np.isfinite(mean):
        return "n/a"
    if not np.isfinite(half):
        return f"{mean:.3f}"
    return f"{mean:.3f} ± {half:.3f}"


def _trained(runs: list[dict]) -> list[dict]:
    """Runs with an accuracy matrix (a diverged cell has none)."""
    return [r for r in runs if r.get("accuracy_matrix")]


def _mean_matrix(records: list[dict]) -> np.ndarray:
    """Mean over seeds; rows: experiences trained (one for joint training), columns: tested."""
    records = _trained(records)
    if not records:
        return np.full((1, 1), np.nan)
    n_rows = max(len(r["accuracy_matrix"]) for r in records)
    n_cols = max(len(row) for r in records for row in r["accuracy_matrix"])
    stack = np.full((len(records), n_rows, n_cols), np.nan)
    for k, r in enumerate(records):
        for i, row in enumerate(r["accuracy_matrix"]):
            stack[k, i, : len(row)] = [np.nan if v is None else v for v in row]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(stack, axis=0)


def _setting(record: dict) -> str:
    """A hash of a record's config without its seed: the cells that may be averaged together."""
    config = {k: v for k, v in (record.get("config") or {}).items() if k != "seed"}
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def summarize_leaderboard(records: list[dict]) -> dict[str, list[dict]]:
    """Per benchmark, one row per strategy (mean ± 95% CI over seeds), best final accuracy first.

    Seeds are averaged only over cells of one config: if a suite was re-run into the same folder
    with another budget or preset, each config gets its own row, labelled with its hash.
    """
    groups: dict[str, dict[tuple, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        groups[r["benchmark"]][(r["strategy"], _setting(r))].append(r)
    out = {}
    for bench in sorted(groups):
        rows = []
        settings = defaultdict(set)
        for strategy, setting in groups[bench]:
            settings[strategy].add(setting)
        for (strategy, setting), runs in groups[bench].items():
            runs = sorted(runs, key=lambda r: r["seed"])
            label = strategy if len(settings[strategy]) == 1 else f"{strategy} [{setting}]"
            diverged = sum(r.get("status") == "diverged" for r in runs)
            if diverged:
                label += f" ({diverged}/{len(runs)} diverged)"
            targets = {r.get("target") for r in runs} - {None}
            row = {"strategy": label, "seeds": len(runs), "runs": runs,
                   "target": targets.pop() if len(targets) == 1 else None}
            for metric in ("final_accuracy", "forgetting", "bwt", "fwt", "wall_time"):
                row[metric] = mean_ci([r.get(metric) for r in runs])
            rows.append(row)
        rows.sort(key=lambda r: (-np.nan_to_num(r["final_accuracy"][0], nan=-1.0), r["strategy"]))
        out[bench] = rows
    return out


def _heatmaps(bench: str, rows: list[dict], out: Path) -> Path:
    from .plots import plot_heatmaps

    return plot_heatmaps({row["strategy"]: _mean_matrix(row["runs"]) for row in rows},
                         out / f"heatmap_{_safe(bench)}.png",
                         title=f"{bench}: mean accuracy matrix over seeds")


def _curves(bench: str, rows: list[dict], out: Path) -> Path:
    from .plots import plot_curves

    curves = {}
    for row in rows:  # joint training has one row: no curve over experiences
        runs = [r for r in _trained(row["runs"])
                if len(r["accuracy_matrix"]) == len(r["accuracy_matrix"][0])]
        if runs:
            curves[row["strategy"]] = [r["accuracy_matrix"] for r in runs]
    return plot_curves(curves, out / f"curves_{_safe(bench)}.png", title=bench)


COLUMNS = {  # every column of a leaderboard table, defined once
    "rank": "by final accuracy, best first",
    "strategy": "the preset's label in the suite; `(k/n diverged)`: seeds whose training "
                "diverged, left out of the means",
    "seeds": "seeds (cells) of the row",
    "final accuracy": "Avalanche's `Top1_Acc_Stream` after the last experience: accuracy over "
                      "the whole test stream (every experience's test set)",
    "target": "a reference result the suite reproduces (e.g. from continual-learning-"
              "baselines)",
    "within ±0.03": "whether the mean final accuracy is within 0.03 of the target",
    "forgetting": "Avalanche's `StreamForgetting` after the last experience: over the "
                  "experiences trained before the last one, the mean of (accuracy just after "
                  "training on it - accuracy at the end)",
    "BWT": "Avalanche's `StreamBWT`: minus the forgetting (backward transfer)",
    "FWT": "Avalanche's `StreamForwardTransfer`: over experiences j > 0, the accuracy on j "
           "just before training on it minus that of the untrained model (forward transfer)",
    "time/run (s)": "mean wall time of one cell, in seconds (machine-dependent)",
}


def _columns(has_target: bool) -> list[str]:
    return [f"- **{name}**: {text}." for name, text in COLUMNS.items()
            if has_target or name not in ("target", "within ±0.03")]


def _learnt() -> float:
    from .plots import LEARNT

    return LEARNT


def write_leaderboard(results: str | Path, out_dir: str | Path | None = None) -> Path:
    """Render ``leaderboard.md`` (+ PNGs) next to ``results.jsonl`` from its records alone."""
    results = Path(results)
    out = Path(out_dir) if out_dir is not None else results.parent
    out.mkdir(parents=True, exist_ok=True)
    records = read_records(results)
    if not records:
        raise ValueError(f"{results}: no finished cells")
    summary = summarize_leaderboard(records)
    suite = records[0].get("suite", out.name)
    commits = sorted({str(r.get("git_commit")) for r in records})
    commands = sorted({r["command"] for r in records if r.get("command")})
    lines = [f"# Leaderboard: {suite}", ""]
    if commands:
        lines += ["Made by:", "", "```bash", *commands, "```", ""]
    lines += [f"Rendered from `{results.name}` ({len(records)} cells) by "
              f"`avalanche-neuromod report {results.name}`. Values are mean ± 95% CI (Student t) "
              "over seeds.", "", f"Code: {', '.join(commits)}.", "",
              "Columns:", "", *_columns(any(r.get("target") is not None for r in records)), "",
              "Figures, per benchmark: the mean accuracy matrix of each strategy (row i: after "
              "training experience i, column j: accuracy on experience j, both counted from 0), "
              "and after each trained experience i the mean accuracy on the experiences seen so "
              "far, the forgetting of the earlier experiences that were learnt (accuracy ≥ "
              f"{_learnt():g} at some point; no point where none was) and how many were learnt "
              "(mean ± 95% CI bands over seeds).", ""]
    if any(paired_lines(rows) for rows in summary.values()):
        lines += [PAIRED_NOTE, ""]
    if any(r.get("status") == "diverged" for r in records):
        lines += ["A seed whose training diverged (too many non-finite updates in a row) is "
                  "counted beside its strategy, e.g. `mas (2/5 diverged)`, and left out of the "
                  "means.", ""]
    for bench, rows in summary.items():
        has_target = any(row["target"] is not None for row in rows)
        target_head = " target | within ±0.03 |" if has_target else ""
        lines += [f"## {bench}", "",
                  "| rank | strategy | seeds | final accuracy |" + target_head +
                  " forgetting | BWT | FWT | time/run (s) |",
                  "|---:|---|---:|---|" + ("---:|:-:|" if has_target else "") +
                  "---|---|---|---:|"]
        for rank, row in enumerate(rows, start=1):
            target = ""
            if has_target:
                t, mean = row["target"], row["final_accuracy"][0]
                ok = "" if t is None or mean is None or not np.isfinite(mean) else \
                    ("yes" if abs(mean - t) <= TOLERANCE + 1e-12 else "no")
                target = f" {'' if t is None else f'{t:.2f}'} | {ok} |"
            lines.append(
                f"| {rank} | {row['strategy']} | {row['seeds']} | "
                f"{_fmt(*row['final_accuracy'])} |{target} {_fmt(*row['forgetting'])} | "
                f"{_fmt(*row['bwt'])} | {_fmt(*row['fwt'])} | {row['wall_time'][0]:.1f} |")
        paired = paired_lines(rows)
        if paired:
            lines += ["", *paired]
        heat, curves = _heatmaps(bench, rows, out), _curves(bench, rows, out)
        lines += ["", f"![accuracy matrices]({heat.name})", "", f"![curves]({curves.name})", ""]
    path = out / "leaderboard.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


SUMMARY_COLUMNS = ["benchmark", "rank", "strategy", "seeds", "final_accuracy",
                   "final_accuracy_ci95", "forgetting", "bwt", "fwt", "target", "wall_time"]


def summary_rows(records: list[dict]) -> list[list]:
    """The leaderboard as table rows (:data:`SUMMARY_COLUMNS`): means and 95% CI half-widths."""
    def num(value):
        return None if value is None or not np.isfinite(value) else round(float(value), 6)

    rows = []
    for bench, entries in summarize_leaderboard(records).items():
        for rank, row in enumerate(entries, start=1):
            rows.append([bench, rank, row["strategy"], row["seeds"],
                         num(row["final_accuracy"][0]), num(row["final_accuracy"][1]),
                         num(row["forgetting"][0]), num(row["bwt"][0]), num(row["fwt"][0]),
                         row["target"], num(row["wall_time"][0])])
    return rows


def log_leaderboard_to_wandb(results: str | Path, *, suite: str, dir=None, logger=None) -> str:
    """One W&B run per suite (group = suite, job type ``summary``) with the leaderboard table.

    Its summary holds ``<benchmark>/<strategy>/final_accuracy`` (the mean over seeds), so a
    W&B report can chart the suite beside the per-cell runs of the same group. Returns the
    run id.
    """
    records = read_records(results)
    if not records:
        raise ValueError(f"{results}: no finished cells")
    if logger is None:
        from ..logging import WandBLogger

        logger = WandBLogger(run_name=f"{suite}-leaderboard", group=suite, job_type="summary",
                             dir=dir, config={"suite": suite, "cells": len(records)})
    rows = summary_rows(records)
    logger.log_table("leaderboard", SUMMARY_COLUMNS, rows)
    logger.log_summary({f"{r[0]}/{r[2]}/final_accuracy": r[4] for r in rows})
    run_id = logger.run_id
    logger.close()
    return run_id

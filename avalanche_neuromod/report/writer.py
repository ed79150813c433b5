"""The case study's ``report.md``: summary, claim check, figures and how to read them, written
from a ``results.json`` alone (regenerating gives a byte-identical report.md)."""

from __future__ import annotations

import math
import shlex
from pathlib import Path
from typing import Any

import yaml

from .figures import plot_entropy, plot_forgetting, plot_shifts
from .loading import Results, Row, _metric, _order, _presets, _runs, _safe, _select, load_results
from .summary import CLAIM_RATIO, CLAIM_SOLVED, claim_check, summarize
from .tables import _fmt_share, _fmt_trials, column_definitions, markdown_table


def _command_str(cmd: Any) -> str:
    if cmd is None:
        return "(unknown)"
    if isinstance(cmd, list | tuple):
        return shlex.join(str(c) for c in cmd)
    return str(cmd)


def _yaml(obj: Any) -> str:
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False, allow_unicode=True)


_SETTINGS_KEYS = ("settings", "streams", "stream", "benchmark")


def _claim_sentence(c: Row) -> str:
    ratio = c["ratio"]
    ratio_s = "n/a" if math.isnan(ratio) else ("inf" if math.isinf(ratio) else f"{ratio:.2f}")
    verdict = "**holds**" if c["holds"] else "**does not hold**"

    def med(v: float) -> str:
        return "\u221e (median shift failed)" if math.isinf(v) else _fmt_trials(v)

    return (
        f"- `{c['setting']}` / `{c['mode']}`: {verdict} \u2014 median trials to criterion per "
        f"shift {med(c['treated_median'])} for `{c['treated']}` versus "
        f"{med(c['base_median'])} for `{c['base']}` (ratio {ratio_s}; needs "
        f"\u2264 {CLAIM_RATIO:g}); `{c['treated']}` solved "
        f"{_fmt_share(c['treated_shifts_solved'])} of shifts "
        f"(needs \u2265 {100 * CLAIM_SOLVED:.0f}%; `{c['base']}` solved "
        f"{_fmt_share(c['base_shifts_solved'])})."
    )


def write_report(
    results: Results | str | Path,
    out_dir: str | Path,
    *,
    results_name: str = "results.json",
    base: str = "da",
    treated: str = "da+na",
) -> list[Path]:
    """Write ``out_dir/report.md`` and its figures; return the written paths (report.md first).

    Figures: ``shifts_<setting>_<mode>.png`` and ``entropy_<setting>_<mode>.png`` per
    (setting, mode) with uncued runs (the entropy figure only when entropy was recorded), and
    ``forgetting_<mode>.png`` per mode with cued runs. ``results`` may be the dict or a path to
    ``results.json`` (``results_name`` is only used in the reproduce instructions). The output is
    a pure function of ``results``: regenerating gives a byte-identical report.md.
    """
    if not isinstance(results, dict):
        results_name = Path(results).name
        results = load_results(results)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    window, criterion, ebin = _metric(results)
    runs = _runs(results)
    summary = summarize(results)
    claims = claim_check(summary, base=base, treated=treated)

    used: set[str] = set()

    def fname(*parts: str) -> str:
        stem = "_".join(_safe(p) for p in parts)
        name, i = f"{stem}.png", 2
        while name in used:
            name, i = f"{stem}-{i}.png", i + 1
        used.add(name)
        return name

    written: list[Path] = []
    figures: list[tuple[str, str]] = []  # (caption, file name)
    uncued_pairs = list(_order((r["setting"], r["mode"]) for r in runs if not r.get("cued")))
    for setting, mode in uncued_pairs:
        name = fname("shifts", setting, mode)
        written.append(plot_shifts(results, setting=setting, mode=mode, path=out / name))
        figures.append((f"Adaptation after each shift \u2014 `{setting}`, `{mode}`", name))
        sel = _select(results, setting=setting, mode=mode, cued=False)
        if any(r.get("entropy") for r in sel):
            name = fname("entropy", setting, mode)
            written.append(plot_entropy(results, setting=setting, mode=mode, path=out / name))
            figures.append((f"Action entropy H(A|cue) \u2014 `{setting}`, `{mode}`", name))
    for mode in _order(r["mode"] for r in runs if r.get("cued")):
        name = fname("forgetting", mode)
        written.append(plot_forgetting(results, mode=mode, path=out / name))
        figures.append((f"Forgetting on cued streams \u2014 `{mode}`", name))

    cmd = _command_str(results.get("command"))
    commit = results.get("git_commit")
    config = results.get("config") or {}
    versions = results.get("versions") or {}
    lines: list[str] = []
    add = lines.append
    add("# Go/No-Go set-shifting case study")
    add("")
    add(
        "Neuromodulated continual learning on Go/No-Go set-shifting streams "
        "(Mei et al. 2025, arXiv:2501.06762): presets "
        + ", ".join(f"`{p}`" for p in _presets(runs))
        + "."
    )
    add("")
    add(f"- created: {results.get('created', '(unknown)')}")
    add(f"- git commit: {'`' + str(commit) + '`' if commit else '(unknown / not a git checkout)'}")
    add(f"- device: {results.get('device', '(unknown)')}")
    add(
        f"- runs: {len(runs)}; metric: window = {window} trials, criterion = {criterion:g}, "
        f"entropy bin = {ebin} trials"
    )
    add("")
    add("## Command and how to reproduce")
    add("")
    add("The results were produced by:")
    add("")
    add("```bash")
    add(cmd)
    add("```")
    add("")
    add(
        "To reproduce, check out the same commit"
        + (f" (`git checkout {commit}`)" if commit else "")
        + ", install the package with the versions listed below, run the command above with the "
        "configuration listed below, and regenerate this report from its output with:"
    )
    add("")
    add("```bash")
    add(f"avalanche-neuromod report {results_name}")
    add("```")
    add("")
    add("## Versions")
    add("")
    if versions:
        add("| package | version |")
        add("|---|---|")
        for k in sorted(versions):
            add(f"| {k} | {versions[k]} |")
    else:
        add("(not recorded)")
    add("")
    add("## Stream settings")
    add("")
    settings_cfg = next((config[k] for k in _SETTINGS_KEYS if k in config), None)
    if settings_cfg is not None:
        add("```yaml")
        add(_yaml(settings_cfg).rstrip())
        add("```")
        add("")
    add("<details><summary>Full configuration</summary>")
    add("")
    add("```yaml")
    add(_yaml(config).rstrip() if config else "{}")
    add("```")
    add("")
    add("</details>")
    add("")
    add("## Summary")
    add("")
    add(
        "Median trials to criterion after a shift are pooled over all shifts of all seeds "
        "(initial learning excluded; `fail` = the median shift never reached criterion). "
        "Means are ± 95% Student-t CI over seeds."
    )
    add("")
    add(markdown_table(summary).rstrip())
    add("")
    add("Columns:")
    add("")
    add(column_definitions())
    add("")
    add("## Claim check")
    add("")
    add(
        f"Claim: `{treated}` reaches criterion after a rule shift in at most "
        f"{CLAIM_RATIO:g}\u00d7 the median trials of `{base}`, and solves \u2265 "
        f"{100 * CLAIM_SOLVED:.0f}% of shifts."
    )
    add("")
    if claims:
        lines.extend(_claim_sentence(c) for c in claims)
        n_hold = sum(c["holds"] for c in claims)
        add("")
        add(f"The claim holds in {n_hold} of {len(claims)} (setting, mode) combinations.")
    else:
        add(f"(no uncued (setting, mode) with both `{base}` and `{treated}`)")
    add("")
    add("## Figures")
    add("")
    for caption, name in figures:
        add(f"### {caption}")
        add("")
        add(f"![{caption.replace('`', '')}]({name})")
        add("")
    add("## How to read")
    add("")
    add(
        f"- **Trials to criterion**: the first training trial of an experience after which the "
        f"moving accuracy over the last {window} trials is \u2265 {criterion:g}. The first "
        "experience is initial learning; each later one follows a rule shift. A shift whose "
        "criterion is never reached within the experience is a **failure**: it counts as +\u221e "
        "in the medians and as unsolved in *shifts solved*."
    )
    add(
        f"- **Shift figures**: moving accuracy (trailing {window} trials, over the concatenated "
        "training stream) from just before to the end of each new rule; 0 = first trial of the "
        "new rule, dashed line = criterion; lines are means over seeds, bands 95% CI."
    )
    add(
        "- **Entropy**: H(A|cue) = \u2212\u03a3\u2090 P(a|cue) log\u2082 P(a|cue), the "
        f"action entropy given the cue, in bits, per bin of {ebin} trials (1 bit = choosing at "
        "random, 0 = deterministic). Dotted lines mark rule shifts; a rise after a shift shows "
        "exploration."
    )
    add(
        "- **Forgetting figures** (cued streams, the rule is given as a context cue): after "
        "training experience i (counted from 0, as the rows of the accuracy matrix), the mean "
        "test accuracy on the rules seen so far (j \u2264 i); the mean drop from the best "
        "accuracy on each earlier rule j < i to its current accuracy, over the rules that were "
        f"learnt (test accuracy \u2265 {criterion:g} at some point) only, with no point where "
        "none was; and how many earlier rules were learnt. A preset that learns nothing after "
        "its first rule has little to forget: read the forgetting beside the count. The "
        "table's forgetting and stream accuracy are Avalanche's end-of-stream values (see "
        "Columns)."
    )
    from .savings import savings_section  # recurring-rule streams only (serial reversal)

    section, figs = savings_section(results, out, lambda *p: fname(*p), window=window,
                                    criterion=criterion, ebin=ebin)
    lines.extend(section)
    written.extend(figs)
    text = "\n".join(lines).rstrip() + "\n"
    report = out / "report.md"
    report.write_text(text, encoding="utf-8")
    return [report, *written]

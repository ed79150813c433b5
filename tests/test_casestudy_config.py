"""The built-in case-study config, its YAML copy, and the committed report's claim."""

import json
from pathlib import Path

import yaml

from avalanche_neuromod.casestudy import DEFAULT_CONFIG, make_cells, validate_config
from avalanche_neuromod.report import claim_check, summarize

ROOT = Path(__file__).resolve().parents[1]


def test_yaml_copy_matches_builtin_default():
    data = yaml.safe_load((ROOT / "benchmarks" / "casestudy.yaml").read_text())
    assert data == DEFAULT_CONFIG


def test_default_covers_the_issue():
    cfg = validate_config({})
    cells = make_cells(cfg)
    assert len({c.seed for c in cells}) >= 10
    assert {c.preset for c in cells} >= {"none", "da", "da+na"}
    assert {c.learning for c in cells} == {"reward", "supervised"}
    uncued = {c.setting for c in cells if not c.cued}
    assert len(uncued) >= 2  # the claim is shown on at least two stream settings
    assert any(c.cued for c in cells)


def test_committed_report_matches_its_results():
    results = json.loads((ROOT / "reports" / "casestudy" / "results.json").read_text())
    summary = summarize(results)
    checks = claim_check(summary)
    assert {c["mode"] for c in checks} == {"reward", "supervised"}
    report = (ROOT / "reports" / "casestudy" / "report.md").read_text()
    assert results["command"].startswith("avalanche-neuromod run")
    assert results["command"] in report

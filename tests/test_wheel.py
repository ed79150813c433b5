"""The built wheel works on its own: suites, grids and presets are package data, and
``leaderboard quick`` runs from a folder that is not the repository.

The wheel is installed with ``pip install --no-deps --target`` (a fresh venv would copy torch);
its dependencies come from this environment's site-packages, and ``python -S`` keeps this
checkout's editable install out of the way.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"),
                    str(REPO)], check=True, capture_output=True, cwd=tmp)
    [wheel] = (tmp / "dist").glob("avalanche_neuromod-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(tmp / "site"), str(wheel)],
                   check=True, capture_output=True, cwd=tmp)
    return tmp


def run(installed: Path, *args: str) -> subprocess.CompletedProcess:
    elsewhere = installed / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    deps = os.pathsep.join([str(installed / "site"), *site.getsitepackages()])
    env = {**os.environ, "PYTHONPATH": deps, "WANDB_MODE": "offline", "WANDB_SILENT": "true",
           "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-S", *args], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_package_comes_from_the_wheel(installed):
    proc = run(installed, "-c", "import avalanche_neuromod as a; print(a.__file__)")
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()).is_relative_to(installed / "site")


def test_leaderboard_quick_runs_from_the_wheel_in_another_folder(installed):
    out = installed / "out"
    proc = run(installed, "-m", "avalanche_neuromod", "leaderboard", "quick", "--seeds", "1",
               "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in (out / "results.jsonl").open()]
    assert {r["strategy"] for r in records} == {"naive", "ewc", "full"}
    assert (out / "leaderboard.md").is_file()


LISTS = """
import sys
from avalanche_neuromod.cli import main
from avalanche_neuromod.leaderboard.selection import load_grid

for what in ("suites", "grids", "presets"):
    print("==", what, flush=True)
    print("rc", main(["list", what]), flush=True)
print("== grid", flush=True)
print(sorted(load_grid("benchmarks/grids/full-class.yaml")), flush=True)
print("== select", flush=True)
print("rc", main(["select", "quick", "--strategy", "full", "--grid", "full", "--write",
                  sys.argv[1], "--no-progress"]), flush=True)
"""


def test_suites_grids_presets_listed_and_select_never_writes_into_the_wheel(installed):
    presets = installed / "site" / "avalanche_neuromod" / "presets"
    before = {p.name: p.read_bytes() for p in presets.glob("*.yaml")}
    proc = run(installed, "-c", LISTS, str(presets))
    assert proc.returncode == 0, proc.stderr
    parts = dict(part.split("\n", 1) for part in proc.stdout.split("== ")[1:])
    for what, name in [("suites", "standard"), ("grids", "full-class"), ("presets", "full")]:
        assert parts[what].endswith("rc 0\n"), proc.stdout
        assert any(line.split()[0] == name for line in parts[what].splitlines()), proc.stdout
    assert "modulators.serotonin.strength" in parts["grid"]
    assert parts["select"] == "rc 2\n"
    assert proc.stderr.strip().splitlines()[-1] == (
        f"avalanche-neuromod: error: --write: {presets} is inside an installed package; name "
        "a folder of your own: --write DIR")
    assert {p.name: p.read_bytes() for p in presets.glob("*.yaml")} == before

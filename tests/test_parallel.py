"""Worker processes and signals (issue 19): with ``--workers 2``, Ctrl-C and SIGTERM cancel the
pending cells, stop the workers and leave no process behind; finished records are kept."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

from avalanche_neuromod.leaderboard.store import read_records
from avalanche_neuromod.parallel import run_cells

SUITE = {"name": "sig", "seeds": 4,
         "budget": {"model": {"hidden": 16, "layers": 1, "activation": "tanh"},
                    "optimizer": {"name": "sgd", "lr": 0.1}, "train_mb_size": 8,
                    "eval_mb_size": 256},
         "benchmarks": [{"name": "gonogo", "label": "g",
                         "args": {"cued": True, "rules": ["A", "B", "X", "Y"],
                                  "trials_per_rule": 80, "test_trials": 16}}],
         "strategies": ["naive", "full"]}  # 8 cells of a second or two each


def _descendants(pid: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.append(int(entry))
    return children + [g for c in children for g in _descendants(c)]


def _running(pid: int) -> bool:
    """Alive and not a zombie (an exited child nobody reaped yet is not running)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT"])
def test_a_signal_with_two_workers_stops_everything_and_keeps_finished_records(how, tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text(yaml.safe_dump(SUITE))
    out = tmp_path / "out"
    results = out / "results.jsonl"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "avalanche_neuromod", "leaderboard", str(suite), "--out",
         str(out), "--workers", "2", "--no-progress"], cwd=tmp_path, env=env,
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while not (results.is_file() and results.read_bytes().count(b"\n") >= 1):
            assert proc.poll() is None and time.monotonic() < deadline, "no cell finished"
            time.sleep(0.05)
        workers = _descendants(proc.pid)
        assert len(workers) >= 2  # the worker processes
        before = results.read_bytes()
        if how == "SIGINT":  # Ctrl-C in a terminal: the whole process group gets it
            os.killpg(proc.pid, signal.SIGINT)
        else:  # what a scheduler sends: the driver alone
            proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=120)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    signum = getattr(signal, how)
    assert rc == 128 + signum, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("avalanche-neuromod: interrupted")
    deadline = time.monotonic() + 30
    while any(_running(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in workers if _running(p)], "a worker outlived the driver"
    after = results.read_bytes()
    assert after.startswith(before)  # finished records kept, never rewritten
    kept = read_records(results)
    assert len(kept) < 8  # the pending cells were cancelled, not trained
    assert all(json.loads(raw) for raw in after.splitlines())
    assert not (out / ".lock").exists()


def _fails(cell, *, folder):
    if cell == 0:
        raise ValueError("cell 0 is bad")
    time.sleep(3)
    (folder / f"done-{cell}").write_text("")
    return {"cell": cell}


def test_an_error_in_one_cell_stops_the_other_workers_at_once(tmp_path):
    """The error is raised at once: the pending cells never run, the running one is stopped."""
    with pytest.raises(ValueError, match="cell 0 is bad"):
        run_cells(_fails, list(range(6)), workers=2, device=torch.device("cpu"),
                  kwargs={"folder": tmp_path}, desc="x", progress=False)
    time.sleep(4)  # a worker still running would have finished its cell by now
    assert not list(tmp_path.glob("done-*"))

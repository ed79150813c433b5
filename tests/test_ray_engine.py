"""The Ray engine of the leaderboard (``--engine ray``): flags, equality with the local engine,
retries, and a real loopback cluster (``ray start --head``) that loses a worker mid-run.

Ray is installed by ``make test`` (the ``ray`` extra), so none of these tests is skipped in CI.
Each test that needs Ray starts its own on 127.0.0.1 and stops it, even when it fails.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from avalanche_neuromod.cli import main
from avalanche_neuromod.leaderboard import load_suite, read_records, run_suite, suite_cells
from avalanche_neuromod.leaderboard.ray_engine import INSTALL_HINT, run_cells_ray
from avalanche_neuromod.leaderboard.runner import run_suite_cell

REPO = Path(__file__).resolve().parent.parent
PREFIX = "avalanche-neuromod: error:"
# what a record says about the learning (wall_time, versions and the like may differ)
SAME = ("key", "suite", "benchmark", "scenario", "strategy", "seed", "config", "config_hash",
        "final_accuracy", "accuracy_matrix", "forgetting", "bwt", "fwt", "device")
RAY_ENV = ("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "RAY_USAGE_STATS_ENABLED", "RAY_AUTH_MODE")


def _one_line_error(capsys, needle: str) -> None:
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(PREFIX) and needle in lines[0], lines[0]
    assert "Traceback" not in out + err


def test_engine_ray_without_ray_says_how_to_install(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    out = tmp_path / "out"
    rc = main(["leaderboard", "quick", "--engine", "ray", "--out", str(out), "--no-progress"])
    assert rc == 2
    _one_line_error(capsys, INSTALL_HINT)
    assert not out.exists()  # nothing ran, nothing written


@pytest.mark.parametrize(("flags", "needle"), [
    (["--engine", "ray", "--gpus-per-cell", "-0.5"], "--gpus-per-cell: must be"),
    (["--engine", "ray", "--gpus-per-cell", "1.5"], "--gpus-per-cell: above 1"),
    (["--engine", "ray", "--gpus-per-cell", "half"], "--gpus-per-cell: must be a number"),
    (["--engine", "ray", "--gpus-per-cell", "nan"], "--gpus-per-cell: must be a finite"),
    (["--engine", "ray", "--cpus-per-cell", "0"], "--cpus-per-cell: must be > 0"),
    (["--engine", "ray", "--max-retries", "-1"], "--max-retries: must be an integer >= 0"),
    (["--engine", "ray", "--max-retries", "1.5"], "--max-retries: must be an integer"),
    (["--engine", "ray", "--device", "cuda"], "--device: cuda with --engine ray"),
    (["--engine", "ray", "--device", "cuda:1", "--gpus-per-cell", "1"], "--device: cuda:1"),
    (["--engine", "ray", "--workers", "2"], "--workers: local engine only"),
    (["--gpus-per-cell", "0.5"], "--gpus-per-cell: only with --engine ray"),
    (["--ray-address", "auto"], "--ray-address: only with --engine ray"),
    (["--engine", "spark"], "--engine"),
])
def test_bad_engine_flags_fail_in_one_line(tmp_path: Path, capsys, flags, needle):
    out = tmp_path / "out"
    assert main(["leaderboard", "quick", "--out", str(out), "--no-progress", *flags]) == 2
    _one_line_error(capsys, needle)
    assert not out.exists()


def test_unreachable_cluster_fails_in_one_line(tmp_path: Path, capsys):
    port = _free_port()  # nothing listens there once the probe socket is closed
    out = tmp_path / "out"
    rc = main(["leaderboard", "quick", "--engine", "ray", "--ray-address", f"127.0.0.1:{port}",
               "--out", str(out), "--no-progress"])
    assert rc == 2
    _one_line_error(capsys, f"--ray-address: no Ray cluster answers at 127.0.0.1:{port}")
    assert not (out / "results.jsonl").exists()


def test_ray_and_local_engines_give_the_same_records(tmp_path: Path):
    """The quick suite on a local Ray started for the run equals the local engine, exactly.

    Both run each cell on one torch thread from the same seeds on CPU, so the records are equal
    bit for bit (on GPUs, cuDNN/cuBLAS may differ in the last digits: see docs/scaling.md).
    """
    suite = load_suite("quick")
    keys = sorted(c.key for c in suite_cells(suite))
    run_suite(suite, out_dir=tmp_path / "local", progress=False)
    summary = run_suite(suite, out_dir=tmp_path / "ray", progress=False, engine="ray",
                        engine_options={"cpus_per_cell": 1, "max_retries": 1})
    assert summary["ran"] == len(keys) and summary["skipped"] == 0 and summary["failed"] == []
    local = {r["key"]: r for r in read_records(tmp_path / "local" / "results.jsonl")}
    lines = (tmp_path / "ray" / "results.jsonl").read_text().splitlines()
    remote = {json.loads(line)["key"]: json.loads(line) for line in lines}
    assert len(lines) == len(keys) and sorted(remote) == sorted(local) == keys
    for key in keys:
        for field in SAME:
            assert remote[key][field] == local[key][field], (key, field)
    assert {r["device"] for r in remote.values()} == {"cpu"}
    assert not list((tmp_path / "ray" / "checkpoints").glob("*.pt"))  # removed once saved

    # the same results file resumed by the other engine: only the missing cells run
    (tmp_path / "ray" / "results.jsonl").write_text("\n".join(lines[:4]) + "\n")
    again = run_suite(suite, out_dir=tmp_path / "ray", progress=False)
    assert again == {"skipped": 4, "ran": 2, "results": str(tmp_path / "ray" / "results.jsonl")}
    resumed = [json.loads(line)["key"] for line in
               (tmp_path / "ray" / "results.jsonl").read_text().splitlines()]
    assert sorted(resumed) == keys  # every cell exactly once


# ---------------------------------------------------------------------------------------------
# a real cluster on loopback
# ---------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _session_pids(sid: int) -> list[int]:
    """Processes of the session ``ray start`` ran in: the whole cluster (workers included)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if os.getsid(int(entry.name)) == sid:
                    pids.append(int(entry.name))
            except (ProcessLookupError, PermissionError):
                continue
    return pids


def _title(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.split(b"\0")[0].decode(errors="replace")


def _stop_cluster(sid: int) -> list[int]:
    """Kill the cluster's processes (its session only: other Ray instances are left alone)."""
    deadline = time.time() + 20
    while (pids := _session_pids(sid)) and time.time() < deadline:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)
    return _session_pids(sid)


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory):
    """``ray start --head`` on 127.0.0.1 and a free port, with token authentication; stopped
    (every process of it killed) afterwards, whatever the test did."""
    if not sys.platform.startswith("linux"):
        pytest.fail("the cluster test finds Ray's processes in /proc (Linux, as in CI)")
    ray_bin = Path(sys.executable).with_name("ray")
    temp = Path(tempfile.mkdtemp(prefix="anr-", dir="/tmp"))  # Ray's socket paths must be short
    token = tmp_path_factory.mktemp("ray") / "ray_token"
    token.write_text(secrets.token_hex(32))
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAY_ADDRESS", "RAY_AUTH_TOKEN")}
    env.update(RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_USAGE_STATS_ENABLED="0",
               RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token))
    start = subprocess.Popen(
        [str(ray_bin), "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
         "--ray-client-server-port", str(_free_port()), "--num-cpus", "2",
         "--include-dashboard=false", "--temp-dir", str(temp), "--disable-usage-stats"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    sid = start.pid  # a new session: every process of the cluster inherits it
    try:
        log, _ = start.communicate(timeout=120)
        assert start.returncode == 0, log
        yield {"address": f"127.0.0.1:{port}", "sid": sid, "token": token}
    finally:
        start.kill()
        left = _stop_cluster(sid)
        shutil.rmtree(temp, ignore_errors=True)
        assert not left, f"Ray processes still running: {left}"


def test_retries_then_reports_a_cell_that_keeps_failing(ray_cluster: dict, tmp_path: Path,
                                                        monkeypatch, capsys):
    """A cell failing once is retried and saved once; one failing every time is reported on one
    line naming it, and the other cells still finish. (In this process, where Ray is already
    imported: the engine's loopback and token settings must still reach it.)"""
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(ray_cluster["token"]))
    for name in ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    marks = tmp_path / "marks"
    marks.mkdir()

    def flaky(cell: str, *, marks: str) -> dict:  # pickled by value: the test module stays here
        mark = Path(marks) / cell
        if cell == "always-bad":
            raise RuntimeError("this cell never works")
        if cell == "bad-once" and not mark.exists():
            mark.write_text("failed once")
            raise RuntimeError("transient")
        return {"key": cell, "pid": os.getpid()}

    cells = ["good", "bad-once", "always-bad", "also-good"]
    before = {name: os.environ.get(name) for name in RAY_ENV}
    saved: list[tuple[int, str]] = []
    failed: list[tuple[int, str]] = []
    results = run_cells_ray(flaky, cells, address=ray_cluster["address"], max_retries=1,
                            kwargs={"marks": str(marks)},
                            on_result=lambda i, r: saved.append((i, r["key"])),
                            on_failure=lambda i, e: failed.append((i, type(e).__name__)),
                            progress=False, desc="test")
    assert sorted(saved) == [(0, "good"), (1, "bad-once"), (3, "also-good")]
    assert [r["key"] for r in results] == ["good", "bad-once", "also-good"]  # cell order
    assert [i for i, _ in failed] == [2]
    assert (marks / "bad-once").read_text() == "failed once"  # it did fail before succeeding
    err = capsys.readouterr().err
    reports = [line for line in err.splitlines() if "failed after" in line]
    assert reports == ["test: cell always-bad failed after 1 retries: "
                       "RuntimeError: this cell never works"]
    after = {name: os.environ.get(name) for name in RAY_ENV}
    assert after == before  # the engine's Ray settings were for this run only


def test_loopback_cluster_loses_a_worker_mid_run_and_keeps_every_cell_once(
        ray_cluster: dict, tmp_path: Path):
    """The quick suite (with longer streams, so that a cell lasts long enough to be killed) runs
    through ``--ray-address``; a worker running a cell is SIGKILLed; Ray retries that cell, and
    results.jsonl holds every cell exactly once, the killed one equal to an uninterrupted run."""
    text = (REPO / "benchmarks" / "quick.yaml").read_text()
    assert "trials_per_rule: 96" in text
    suite_file = tmp_path / "quick.yaml"
    suite_file.write_text(text.replace("trials_per_rule: 96", "trials_per_rule: 1500"))
    suite = load_suite(suite_file)
    keys = sorted(c.key for c in suite_cells(suite))
    out = tmp_path / "out"
    # the driver as a user runs it: the token is found, the engine sets the rest
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")}
    env.update(RAY_AUTH_TOKEN_PATH=str(ray_cluster["token"]), PYTHONUNBUFFERED="1")
    log = tmp_path / "driver.log"
    with open(log, "w") as fh:
        driver = subprocess.Popen(
            [sys.executable, "-m", "avalanche_neuromod", "leaderboard", str(suite_file),
             "--engine", "ray", "--ray-address", ray_cluster["address"], "--out", str(out),
             "--no-progress"], env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=tmp_path)
        try:
            killed = None
            deadline = time.time() + 180
            while killed is None and driver.poll() is None and time.time() < deadline:
                for pid in _session_pids(ray_cluster["sid"]):
                    title = _title(pid)
                    if title.startswith("ray::cell "):  # a worker running a cell right now
                        os.kill(pid, signal.SIGKILL)
                        killed = title.removeprefix("ray::cell ").strip()
                        break
                time.sleep(0.02)
            assert killed is not None, "no worker was caught running a cell\n" + log.read_text()
            rc = driver.wait(timeout=300)
        finally:
            if driver.poll() is None:
                driver.kill()
    output = log.read_text()
    assert rc == 0, output
    assert f"{len(keys)} cells run, 0 already finished" in output
    lines = (out / "results.jsonl").read_text().splitlines()
    saved = [json.loads(line)["key"] for line in lines]
    assert sorted(saved) == keys, output  # all cells, none twice
    assert killed in saved
    # the cell whose worker died lost nothing: it equals an uninterrupted local run
    record = next(json.loads(line) for line in lines if json.loads(line)["key"] == killed)
    cell = next(c for c in suite_cells(suite) if c.key == killed)
    fresh = run_suite_cell(cell)
    for field in SAME:
        assert record[field] == fresh[field], field

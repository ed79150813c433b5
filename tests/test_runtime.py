"""avalanche_neuromod.runtime: device, versions and commit, stated once for every record."""

from __future__ import annotations

import pytest

from avalanche_neuromod import runtime
from avalanche_neuromod.errors import ConfigError


def test_versions_name_every_package_and_the_cpu_path():
    out = runtime.versions()
    assert set(out) == set(runtime.PACKAGES) | {"cpu"}
    assert out["torch"] != "not installed" and out["avalanche-lib"] != "not installed"
    assert out["avalanche-neuromod"] != "not installed"
    assert "cpu" not in runtime.versions(cpu=False)


BAD_DEVICES = [("tpu", "unknown device"), ("meta", "unsupported device"),
               ("cuda:x", "unknown device"), ("gpu0", "unknown device")]


@pytest.mark.parametrize("device, field", BAD_DEVICES)
def test_resolve_device_names_the_field(device, field):
    with pytest.raises(ConfigError, match=f"^device: {field}"):
        runtime.resolve_device(device)


def test_resolve_device_auto_and_cpu():
    assert runtime.resolve_device("cpu").type == "cpu"
    assert runtime.resolve_device(None).type in ("cpu", "cuda")


def test_git_commit_is_a_sha_in_a_checkout_and_none_outside(monkeypatch, tmp_path):
    commit = runtime.git_commit()
    assert commit is None or (len(commit) == 40 and int(commit, 16) >= 0)

    def fail(*args, **kwargs):
        raise OSError("no git")

    monkeypatch.setattr(runtime.subprocess, "run", fail)
    assert runtime.git_commit() is None


def test_records_and_wandb_runs_share_the_versions():
    from avalanche_neuromod.casestudy import versions as casestudy_versions
    from avalanche_neuromod.leaderboard.runner import versions as runner_versions
    from avalanche_neuromod.logging.environment import package_versions

    assert casestudy_versions is runtime.versions and runner_versions is runtime.versions
    assert package_versions() == runtime.versions()

"""Start-up: parsing, ``--help``, suite and preset validation and their errors need neither
Avalanche, wandb, matplotlib nor Ray (issue 18; the times are in reports/speed/)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("avalanche", "wandb", "matplotlib", "ray")


def imported_after(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; the heavy modules it imported, and what it printed."""
    script = textwrap.dedent(code) + textwrap.dedent(f"""
        import json, sys
        print(json.dumps({{"heavy": [m for m in {HEAVY + ("torch",)!r} if m in sys.modules]}}))
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["stderr"] = out.stderr
    return result


def test_parsing_every_command_imports_nothing_heavy():
    result = imported_after("""
        from avalanche_neuromod.cli import build_parser
        parser = build_parser()
        for argv in (["train", "quick", "--benchmark", "b", "--strategy", "s"],
                     ["leaderboard", "quick", "--workers", "2"], ["run", "--seeds", "2"],
                     ["select", "quick", "--strategy", "da", "--grid", "g.yaml"],
                     ["report", "results.jsonl"]):
            parser.parse_args(argv)
    """)
    assert result["heavy"] == []  # not even torch


def test_loading_a_suite_imports_no_avalanche_wandb_matplotlib_or_ray():
    result = imported_after("""
        from avalanche_neuromod.leaderboard import load_suite, suite_cells
        suite = load_suite("benchmarks/quick.yaml", build=False)
        assert len(suite_cells(suite)) == 6
    """)
    assert not set(result["heavy"]) & set(HEAVY)


@pytest.mark.parametrize("argv", [
    ["train", "quick", "--benchmark", "gonogo-cued", "--strategy", "nope"],
    ["train", "quick", "--benchmark", "nope", "--strategy", "naive"],
    ["leaderboard", "quick", "--workers", "0"],
    ["train", "benchmarks/missing.yaml", "--benchmark", "b", "--strategy", "s"],
], ids=["misspelt-strategy", "misspelt-benchmark", "workers-0", "missing-suite"])
def test_a_bad_input_error_comes_before_the_heavy_imports(argv):
    result = imported_after(f"""
        from avalanche_neuromod.cli import main
        assert main({argv!r}) == 2
    """)
    assert not set(result["heavy"]) & set(HEAVY)
    assert result["stderr"].count("\n") == 1 and "avalanche-neuromod: error:" in result["stderr"]


def test_a_misspelt_preset_in_a_suite_fails_before_any_strategy_is_built():
    result = imported_after("""
        from avalanche_neuromod.config import ConfigError
        from avalanche_neuromod.leaderboard import load_suite
        try:
            load_suite({"name": "s", "benchmarks": [{"name": "gonogo"}],
                        "strategies": ["naive", "ewc", "nope"]})
        except ConfigError as err:
            assert "suite.strategies[2]" in str(err), err
        else:
            raise AssertionError("no error")
    """)
    assert not set(result["heavy"]) & set(HEAVY)


def test_loading_the_reward_driven_presets_imports_neither_torch_nor_avalanche():
    """Their ``learner:`` blocks are checked by the presets module itself (``list presets``)."""
    result = imported_after("""
        from avalanche_neuromod.strategies.presets import load_preset
        assert load_preset("a2c")["learner"]["advantage"] is True
        assert load_preset("q-egreedy")["learner"]["rule"] == "q-learning"
    """)
    assert not {"torch", "avalanche"} & set(result["heavy"])


def test_the_lazy_packages_still_export_their_names():
    from avalanche_neuromod import leaderboard, plugins, strategies
    from avalanche_neuromod.errors import NumericalFaultError, PresetError

    assert plugins.NumericalFaultError is NumericalFaultError
    assert strategies.PresetError is PresetError
    assert callable(leaderboard.run_suite) and "load_suite" in dir(leaderboard)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = plugins.nothing


def _fresh(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300, check=True)
    return out.stdout


def test_the_entry_point_defers_wandb_and_hides_jax_from_qpsolvers_only():
    """startup.py: after ``cli.main``, Avalanche's import leaves wandb and gdown unexecuted and
    jax unimported; GEM's quadprog solve is unchanged, and ``import jax`` still works."""
    pytest.importorskip("jax")
    out = _fresh("""
        import sys
        import numpy as np
        from avalanche_neuromod.cli import main
        from avalanche_neuromod.startup import DeferringFinder
        try:
            main(["--help"])
        except SystemExit:
            pass
        assert isinstance(sys.meta_path[0], DeferringFinder)
        import avalanche.training  # noqa: F401
        from avalanche.training.plugins import gem
        assert "jax" not in sys.modules and "jaxopt" not in sys.modules
        assert type(sys.modules["wandb"]).__name__ == "_LazyModule"
        P, q = np.eye(2), np.array([1.0, -1.0])
        G, h = np.array([[1.0, 1.0]]), np.array([-0.5])
        x = gem.qpsolvers.solve_qp(P=P, q=q, G=G, h=h, solver="quadprog")
        print(repr(x.tolist()))
        import jax.numpy as jnp
        import wandb
        assert float(jnp.ones(2).sum()) == 2.0 and wandb.__version__
        print("ok")
    """)
    x, ok = out.strip().splitlines()[-2:]
    assert ok == "ok"
    plain = _fresh("""
        import numpy as np
        import qpsolvers
        P, q = np.eye(2), np.array([1.0, -1.0])
        G, h = np.array([[1.0, 1.0]]), np.array([-0.5])
        print(repr(qpsolvers.solve_qp(P=P, q=q, G=G, h=h, solver="quadprog").tolist()))
    """)
    assert x == plain.strip().splitlines()[-1]  # the same solution, bit for bit


def test_importing_the_package_installs_no_import_hook():
    out = _fresh("""
        import sys
        import avalanche_neuromod, avalanche_neuromod.leaderboard  # noqa: F401
        from avalanche_neuromod.startup import DeferringFinder
        print(any(isinstance(f, DeferringFinder) for f in sys.meta_path))
    """)
    assert out.strip() == "False"

"""Leaderboards: suites of benchmarks x strategies x seeds, resumable results, reports.

Exports are imported on first use (:mod:`avalanche_neuromod._lazy`): loading a suite does not
import the runner (torch, Avalanche).
"""

from .._lazy import lazy_exports

_EXPORTS = {"run_suite": ".runner", "run_suite_cell": ".runner", "SuiteCell": ".spec",
            "load_suite": ".spec", "suite_cells": ".spec", "append_record": ".store",
            "finished_keys": ".store", "read_records": ".store"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)

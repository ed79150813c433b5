"""Leaderboards: suites of benchmarks x strategies x seeds, resumable results, reports."""

from .runner import run_suite, run_suite_cell
from .spec import SuiteCell, load_suite, suite_cells
from .store import append_record, finished_keys, read_records

__all__ = ["SuiteCell", "append_record", "finished_keys", "load_suite", "read_records",
           "run_suite", "run_suite_cell", "suite_cells"]

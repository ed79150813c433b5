"""Report for the Go/No-Go set-shifting case study (Mei et al. 2025, arXiv:2501.06762).

Input is the ``results.json`` written by ``avalanche-neuromod run`` (a dict with ``command``,
``created``, ``config``, ``versions``, ``git_commit``, ``device``, ``metric`` and ``runs``; see
:func:`summarize` for the run fields used). Output is a summary table, a claim check
(``da+na`` adapts to a rule shift in at most half the trials of ``da``), figures and a
``report.md`` that regenerates byte-identically from the same results.

The pieces live in :mod:`.loading` (reading), :mod:`.summary` (rows and the claim),
:mod:`.tables`, :mod:`.figures` (on :mod:`.plots`) and :mod:`.writer`; this module gathers their
public names where they have always been importable.
"""

from __future__ import annotations

from .figures import plot_entropy, plot_forgetting, plot_shifts
from .loading import DEFAULT_CRITERION, DEFAULT_ENTROPY_BIN, DEFAULT_WINDOW, load_results
from .summary import CLAIM_RATIO, CLAIM_SOLVED, claim_check, summarize
from .tables import COLUMNS, column_definitions, format_table, markdown_table
from .writer import write_report

__all__ = [
    "CLAIM_RATIO",
    "CLAIM_SOLVED",
    "COLUMNS",
    "DEFAULT_CRITERION",
    "DEFAULT_ENTROPY_BIN",
    "DEFAULT_WINDOW",
    "claim_check",
    "column_definitions",
    "format_table",
    "load_results",
    "markdown_table",
    "plot_entropy",
    "plot_forgetting",
    "plot_shifts",
    "summarize",
    "write_report",
]

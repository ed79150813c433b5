"""Reports for avalanche-neuromod experiments: statistics, tables, figures and ``report.md``.

The case-study report reads the ``results.json`` written by ``avalanche-neuromod run``::

    from avalanche_neuromod.report import write_report
    write_report("results.json", "report/")
"""

from .casestudy import (
    claim_check,
    format_table,
    load_results,
    markdown_table,
    plot_entropy,
    plot_forgetting,
    plot_shifts,
    summarize,
    write_report,
)
from .stats import column_mean_ci, mean_ci, median_with_failures, solved_share

__all__ = [
    "mean_ci",
    "median_with_failures",
    "solved_share",
    "column_mean_ci",
    "summarize",
    "claim_check",
    "format_table",
    "markdown_table",
    "plot_shifts",
    "plot_entropy",
    "plot_forgetting",
    "load_results",
    "write_report",
]

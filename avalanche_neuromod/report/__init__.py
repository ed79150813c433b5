"""Reports for avalanche-neuromod experiments: statistics, tables, figures and ``report.md``.

The case-study report reads the ``results.json`` written by ``avalanche-neuromod run``::

    from avalanche_neuromod.report import write_report
    write_report("results.json", "report/")

Any Avalanche run's accuracy matrix and forgetting curves (:mod:`.evaluator`)::

    from avalanche_neuromod.report import plot_accuracy_matrix, plot_forgetting_curves
    plot_accuracy_matrix(strategy.evaluator, "matrix.png")
"""

from .._lazy import lazy_exports

_EXPORTS = {**dict.fromkeys(("claim_check", "format_table", "load_results", "markdown_table",
                             "plot_entropy", "plot_forgetting", "plot_shifts", "summarize",
                             "write_report"), ".casestudy"),
            **dict.fromkeys(("column_mean_ci", "mean_ci", "median_with_failures",
                             "solved_share"), ".stats"),
            **dict.fromkeys(("accuracy_matrix", "plot_accuracy_matrix",
                             "plot_forgetting_curves"), ".evaluator"),
            "forgetting_curves": ".plots"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)  # matplotlib only when a report is made
__all__ = sorted(_EXPORTS)

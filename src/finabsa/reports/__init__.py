"""Reports: the run report (built once for ``train`` and ``evaluate``), its plots, and the study report."""

from .plots import plot_confusion, plot_learning_curve, write_run_plots
from .run_report import build_report, format_metric, markdown_report, metric_kind, summary_table

__all__ = ["build_report", "format_metric", "markdown_report", "metric_kind", "plot_confusion",
           "plot_learning_curve", "summary_table", "write_run_plots"]

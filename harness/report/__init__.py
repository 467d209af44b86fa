"""HTML report and diffable summary of a claims run (docs/design.md,
"The claim life cycle"); several runs merge into one page."""

from harness.report.load import ReportInputError
from harness.report.render import render_merged, render_report
from harness.report.summary import write_summary

__all__ = ["ReportInputError", "render_merged", "render_report", "write_summary"]

"""HTML report and diffable summary of a claims run (SPEC §6); several runs merge into one page."""

from harness.report.load import ReportInputError
from harness.report.render import render_merged, render_report
from harness.report.summary import write_summary

__all__ = ["ReportInputError", "render_merged", "render_report", "write_summary"]

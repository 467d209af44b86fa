"""HTML report and diffable summary of a claims run (SPEC §6)."""

from harness.report.load import ReportInputError
from harness.report.render import render_report
from harness.report.summary import write_summary

__all__ = ["ReportInputError", "render_report", "write_summary"]

"""The report page in headless Chromium: it loads without console messages and renders a screenshot.

The page carries no JavaScript, so any console line means that text from the data became live markup.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from report_samples import write_model_run, write_planted_run, write_sample_run

from harness.report import render_merged, render_report

CONSOLE = re.compile(r":CONSOLE[:(]|Uncaught")
VIEWPORT = 1400  # the page must read without horizontal scrolling at this width
# Injected into a copy of a page (the page itself has no script): the widths the layout came to.
MEASURE = ("<script>const b = document.body.dataset; b.pageWidth = document.documentElement.scrollWidth; "
           "b.matrixRight = Math.ceil(document.querySelector('table.matrix').getBoundingClientRect().right);</script>")


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail("chromium is not installed but CI is set (apt-get install -y chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium); set CI=true to make this a failure")
    return path


def _run_chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args, page.as_uri()]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def _console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if CONSOLE.search(line)]


def test_console_messages_are_detected(tmp_path: Path) -> None:
    """The check below would see a script that ran."""
    page = tmp_path / "probe.html"
    page.write_text("<!DOCTYPE html><html><body><script>console.error('probe')</script></body></html>")
    proc = _run_chromium(page, tmp_path / "profile", "--dump-dom")
    assert any("probe" in line for line in _console_lines(proc.stderr))


def test_report_renders_in_chromium(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    write_sample_run(run_dir, interrupted=True, evil=True)
    page = render_report(run_dir)
    screenshot = run_dir / "screenshot.png"

    shot = _run_chromium(page, tmp_path / "profile", f"--screenshot={screenshot}", "--window-size=1400,3000")
    assert _console_lines(shot.stderr) == []
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 50_000, "a blank page compresses to a few kB"

    dom = _run_chromium(page, tmp_path / "profile", "--dump-dom").stdout
    assert "<script" not in dom.lower()
    assert dom.count("<img ") == page.read_text(encoding="utf-8").count("<img ")
    assert "Interrupted run" in dom and "ablate-all-shared" in dom


def _layout(page: Path, profile: Path) -> dict[str, int]:
    """The page's scroll width and the matrix's right edge in a 1400 px wide window."""
    probe = page.with_name("measured.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    dom = _run_chromium(probe, profile, "--dump-dom", f"--window-size={VIEWPORT},1000").stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body is not None
    return {name: int(value) for name, value in re.findall(r'data-([a-z-]+)="(\d+)"', body.group(1))}


def test_merged_report_of_two_models_renders_in_chromium(tmp_path: Path) -> None:
    write_model_run(tmp_path / "bloomz", "bloomz-7b1", "20261201-010000-aaaa", base_model="bloom-7b1")
    write_model_run(tmp_path / "bloom", "bloom-7b1", "20261201-020000-bbbb")
    write_model_run(tmp_path / "fp16", "bloomz-7b1", "20261201-030000-cccc", base_model="bloom-7b1", dtype="float16")
    page = render_merged([tmp_path / "bloomz", tmp_path / "bloom", tmp_path / "fp16"], tmp_path / "merged")
    screenshot = tmp_path / "merged" / "screenshot.png"
    shot = _run_chromium(page, tmp_path / "profile", f"--screenshot={screenshot}", f"--window-size={VIEWPORT},3000")
    assert _console_lines(shot.stderr) == []
    assert screenshot.stat().st_size > 50_000
    dom = _run_chromium(page, tmp_path / "profile", "--dump-dom").stdout
    assert "3 runs merged" in dom and "appear in several runs with different settings" in dom
    layout = _layout(page, tmp_path / "profile")
    assert layout["page-width"] <= VIEWPORT and layout["matrix-right"] <= VIEWPORT, layout


def test_a_tiny_tier_page_reads_without_horizontal_scrolling(tmp_path: Path) -> None:
    """20 planted models: one folded matrix column and one provenance row, all inside a 1400 px window."""
    write_planted_run(tmp_path / "run")
    page = render_report(tmp_path / "run")
    layout = _layout(page, tmp_path / "profile")
    assert layout["page-width"] <= VIEWPORT and layout["matrix-right"] <= VIEWPORT, layout

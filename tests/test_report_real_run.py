"""The report of a real claims run (tiny tier and a full-tier run on a saved model): structure, escaping,
identical re-rendering, and a Chromium screenshot kept in the run directory."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_report_browser import _console_lines, _run_chromium

from harness.__main__ import main
from harness.core.models import build_tiny
from harness.report import render_report
from harness.tasks import FIXTURE_DATA

REPO = Path(__file__).resolve().parents[1]
SHARING, KOJIMA = REPO / "claims" / "sharing_matters", REPO / "claims" / "kojima"  # one folder per paper


@pytest.mark.slow
def test_report_of_a_real_run(pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory) -> None:
    model_dir = tmp_path_factory.mktemp("saved") / 'm<b>&"x'  # text from the user's side that must be escaped
    model, tokenizer = build_tiny("tiny-bloom", seed=4)
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    report = pytester.path / "reports"
    pytester.runpytest_subprocess(
        str(SHARING / "test_mid_layer_peak.py"), str(SHARING / "test_ablate_all_shared.py"),
        "--model", str(model_dir), "--tasks", "xnli", "--languages", "en,de", "--limit", "4",
        "--data-dir", str(FIXTURE_DATA), "--report", str(report), "--no-cache",
        "-k", "not planted-shared-xnli- and not planted-specific-xnli-")
    (run_dir,) = [p for p in report.iterdir() if p.is_dir()]
    records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    assert {r["tier"] for r in records} == {"tiny", "full"}
    html = (run_dir / "index.html").read_text()

    for record in records:
        assert record["claim"] in html and record["instance"].replace("&", "&amp;").replace('"', "&#34;") \
            .replace("<", "&lt;").replace(">", "&gt;") in html
    plot_ids = {p["id"] for r in records for p in r["plots"]}
    assert len(re.findall(r'<img[^>]+src="data:image/svg\+xml;base64,', html)) >= len(plot_ids) > 0
    for number in ("53.8", "16.7", "7.5"):  # Table 2 (BLOOMZ XNLI en) and the peak layer of Figs 2-4
        assert number in html
    assert "m<b>" not in html and "m&lt;b&gt;&amp;" in html

    assert render_report(run_dir).read_text() == html  # re-rendered from results.jsonl: the same page
    screenshot = run_dir / "screenshot.png"
    shot = _run_chromium(run_dir / "index.html", pytester.path / "profile", f"--screenshot={screenshot}",
                         "--window-size=1400,4000")
    assert _console_lines(shot.stderr) == []
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_merged_report_of_two_real_runs(pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Two models, one command each (as in the README's audit), then one page: both in the verdict matrix, each
    with its provenance; rendered in Chromium without console messages."""
    root = tmp_path_factory.mktemp("models")
    reports = pytester.path / "audit"
    for name in ("tiny-bloom", "tiny-llama"):
        model, tokenizer = build_tiny(name, seed=5)
        model.save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)
        result = pytester.runpytest_subprocess(
            str(SHARING / "test_mid_layer_peak.py"), str(SHARING / "test_dead_across_tokens.py"),
            "-m", "full", "--model", str(root / name), "--tasks", "xnli", "--languages", "en,de", "--limit", "4",
            "--data-dir", str(FIXTURE_DATA), "--report", str(reports), "--no-cache")
        assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)  # refuted verdicts fail
    runs = sorted(reports.iterdir())
    out = pytester.path / "page"
    assert main(["report", *map(str, runs), "--out", str(out)]) == 0
    html = (out / "index.html").read_text(encoding="utf-8")
    matrix = html.split('<table class="matrix">')[1].split("</table>")[0]
    heads = re.findall(r"<th>([^<]+)<br><span class=\"muted\">xnli", matrix)
    assert heads == [str(root / "tiny-bloom"), str(root / "tiny-llama")]
    assert matrix.count('<td class="cell ') == 4  # two claims x two models
    provenance = html.split('<table class="provenance">')[1].split("</table>")[0]
    assert ">bloom<" in provenance and ">llama<" in provenance and "2 runs merged" in html
    shot = _run_chromium(out / "index.html", pytester.path / "profile", f"--screenshot={out / 'screenshot.png'}",
                         "--window-size=1400,3000")
    assert _console_lines(shot.stderr) == []


@pytest.mark.slow
def test_report_of_the_trained_subject_renders_in_chromium(subject_run, tmp_path: Path) -> None:
    """The full tier's report on the subject pair trained here (tests/subject_runs.py), in headless Chromium."""
    html = (subject_run.run_dir / "index.html").read_text()
    for record in subject_run.records:
        assert record["claim"] in html and record["instance"] in html
    screenshot = subject_run.run_dir / "screenshot.png"
    shot = _run_chromium(subject_run.run_dir / "index.html", tmp_path / "profile", f"--screenshot={screenshot}",
                         "--window-size=1400,6000")
    assert _console_lines(shot.stderr) == []
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

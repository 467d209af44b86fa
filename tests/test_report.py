"""The HTML report and summary.json rendered from a run directory."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from report_samples import EVIL, write_sample_run

from harness.report import figures, render_report, write_summary
from harness.report.figures import plot_data_uri
from harness.report.render import merge_tables

REPO = Path(__file__).resolve().parents[1]
IMG_PREFIX = '<img src="data:image/svg+xml;base64,'


def _records(run_dir: Path) -> list[dict]:
    records = []
    for line in (run_dir / "results.jsonl").read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return records


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=False)


def _html(run_dir: Path) -> str:
    return render_report(run_dir).read_text(encoding="utf-8")


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    write_sample_run(tmp_path / "run")
    return tmp_path / "run"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The sample run rendered once, for the tests that only read the page."""
    path = tmp_path_factory.mktemp("sample")
    write_sample_run(path)
    return path, _html(path)


def test_every_claim_group_plot_and_table_is_present(sample: tuple[Path, str]) -> None:
    run_dir, html = sample
    records = _records(run_dir)
    claims = {r["claim"] for r in records}
    groups = {(r["claim"], r["model"], r["task"]) for r in records}
    plots = {(r["claim"], r["model"], r["task"], p["id"]) for r in records for p in r["plots"]}
    tables = {(r["claim"], r["model"], r["task"], t["id"]) for r in records for t in r["tables"]}
    assert html.count('<section class="claim"') == len(claims) == 4
    for claim in claims:
        assert f"<code>{claim}</code>" in html
    assert html.count('<div class="group">') == len(groups)
    assert html.count(IMG_PREFIX) == len(plots), "a plot id shared by several records is drawn once"
    assert html.count('<table class="spec-table">') == len(tables), "tables with one id are merged per group"
    for title in {p["title"] for r in records for p in r["plots"]} | {t["title"] for r in records for t in r["tables"]}:
        assert title in html
    assert "Fig. 2 left: all-shared peaks mid-layers" in html


def test_paper_numbers_beside_ours(sample: tuple[Path, str]) -> None:
    _, html = sample
    # Table 2 merged over languages: one header with all three, paper rows marked as such.
    assert "<th>en</th><th>de</th><th>fr</th>" in html
    assert re.search(r'<tr class="paper"><td>w/o all-shared</td><td class="src">paper</td>'
                     r'<td class="num">16.7</td><td class="num">3.5</td><td class="num">6.1</td></tr>', html)
    assert re.search(r'<tr class="paper"><td>de</td><td class="src">paper</td><td class="num">41.8</td>'
                     r'<td class="num">3.5</td>', html)
    assert re.search(r'<tr class="ours"><td>de</td><td class="src">ours</td><td class="num">62.5</td>', html)
    assert "0.867 [0.71, 0.95]" in html
    assert "Table 2" in html and "§5.2, Fig. 7" in html


def test_verdict_matrix_cells(sample: tuple[Path, str]) -> None:
    _, html = sample
    matrix = html.split('<table class="matrix">')[1].split("</table>")[0]
    cells = re.findall(r'<td class="cell (\w+)" data-status="(\w+)">(.*?)</td>', matrix, re.DOTALL)
    # Rows: the four claims in first-seen order; columns (tiny-paper, xnli), (tiny-gated, xnli), (tiny-paper, facts).
    assert [status for _, status, _ in cells] == [
        "inconclusive", "error", "supported", "inconclusive", "supported", "refuted", "supported"]
    assert matrix.count('<td class="empty">') == 4 * 3 - len(cells)
    gated = cells[1][2]
    assert "1 supported" in gated and "1 refuted" in gated and "1 error" in gated
    assert 'class="mismatch">planted truth: 1/3 match' in gated


def test_inconclusive_and_error_are_distinct(sample: tuple[Path, str]) -> None:
    _, html = sample
    assert '<span class="badge inconclusive">inconclusive</span>' in html
    assert '<span class="badge supported">supported</span>' in html
    assert '<pre class="err">RuntimeError: verbalizer tokens collide for fr</pre>' in html
    css = html.split("<style>")[1].split("</style>")[0]
    rules = dict(re.findall(r"^\.(\w+) \{(.*?)\}", css, re.MULTILINE | re.DOTALL))
    assert rules["inconclusive"] != rules["supported"]


def test_provenance_header(sample: tuple[Path, str]) -> None:
    _, html = sample
    for text in ("0123456789abcdef0123456789abcdef01234567", "dirty working tree", "2.13.0", "fixtures/tiny-paper",
                 "planted-v1", "sha256:xnli-0f3a9c", "sha256:facts-0f3a9c", "down_proj_input", "seed bootstrap",
                 "<dt>epsilon</dt><dd>0.001</dd>", "<dt>positions</dt><dd>last</dd>", "pytest claims -m tiny",
                 "2026-11-22T04:15:00Z", "2026-11-22T04:16:02Z"):
        assert text in html
    assert "Interrupted run" not in html


def test_text_from_data_is_escaped(tmp_path: Path) -> None:
    write_sample_run(tmp_path, evil=True)
    html = _html(tmp_path)
    assert "<script" not in html.lower()
    assert 'onerror="' not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&amp; &#34;quoted&#34;" in html
    assert EVIL not in html


def test_page_is_self_contained(sample: tuple[Path, str]) -> None:
    _, html = sample
    assert not re.search(r'(?:src|href)="(?!data:|#)', html)
    assert "http://" not in html and "https://" not in html


def test_rendering_is_deterministic(run_dir: Path, tmp_path: Path) -> None:
    first = _html(run_dir)
    assert _html(run_dir) == first
    other = tmp_path / "elsewhere"
    write_sample_run(other)
    assert _html(other) == first


def test_cli_rerenders_html_and_summary(run_dir: Path) -> None:
    expected = _html(run_dir)
    (run_dir / "index.html").unlink()
    proc = _cli("report", str(run_dir))
    assert proc.returncode == 0, proc.stderr
    assert (run_dir / "index.html").read_text(encoding="utf-8") == expected, "identical in a fresh process"
    assert (run_dir / "summary.json").is_file()


@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp / "missing", "run directory not found"),
    (lambda tmp: tmp, "run.json not found"),
])
def test_cli_fails_clearly_on_missing_input(tmp_path: Path, make, message: str) -> None:
    proc = _cli("report", str(make(tmp_path)))
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_interrupted_run_with_truncated_last_line(tmp_path: Path) -> None:
    write_sample_run(tmp_path, interrupted=True)
    html = _html(tmp_path)
    assert "Interrupted run" in html
    assert "skipped truncated last line 13" in html
    summary = json.loads(write_summary(tmp_path).read_text())
    assert set(summary["claims"]["convert-improves"]) == {"tiny-paper-xnli-en", "tiny-paper-xnli-de"}


def test_missing_results_file_renders_a_warning(tmp_path: Path) -> None:
    write_sample_run(tmp_path)
    (tmp_path / "results.jsonl").unlink()
    html = _html(tmp_path)
    assert "results.jsonl not found" in html and "No claim instance finished" in html


def test_undrawable_plot_is_reported_in_the_page(run_dir: Path) -> None:
    record = _records(run_dir)[0] | {"claim": "odd-plot", "plots": [
        {"id": "p", "title": "pie", "kind": "pie", "x": [1], "series": {"a": [1]}},
        {"id": "q", "title": "short", "kind": "lines", "x": [1, 2], "series": {"a": [1]}}]}
    with (run_dir / "results.jsonl").open("a") as f:
        f.write(json.dumps(record) + "\n")
    html = _html(run_dir)
    assert "unsupported plot kind &#39;pie&#39;" in html
    assert "series &#39;a&#39; has 1 values for 2 x values" in html


def test_summary_json(run_dir: Path) -> None:
    path = write_summary(run_dir)
    text = path.read_text()
    summary = json.loads(text)
    assert text == json.dumps(summary, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert summary["run_id"] == "20261122-041500-ab12"
    assert summary["counts"] == {"supported": 8, "refuted": 2, "inconclusive": 2, "error": 1}
    assert summary["claims"]["mid-layer-peak"] == {"tiny-paper-xnli": "supported", "tiny-paper-facts": "refuted"}
    assert len(summary["claims"]["ablate-all-shared"]) == 6
    assert summary["mismatches"] == [
        "ablate-all-shared/tiny-gated-xnli-de",
        "ablate-all-shared/tiny-gated-xnli-fr",
        "ablate-all-shared/tiny-paper-xnli-fr",
        "ift-raises-all-shared/tiny-gated-xnli",
    ]


def test_merge_tables_unites_columns_and_matches_rows() -> None:
    def record(columns: list[str], rows: list[tuple[str, str, list]]) -> dict:
        spec_rows = [{"label": label, "source": source, "values": values} for label, source, values in rows]
        return {"tables": [{"id": "t", "title": "T", "columns": columns, "rows": spec_rows}]}

    merged = merge_tables([
        record(["en"], [("baseline", "ours", [60.0]), ("baseline", "paper", [53.8])]),
        record(["de", "en"], [("baseline", "ours", [58.0, None]), ("w/o", "ours", [None, 3.0])]),
    ])
    assert merged == [{"title": "T", "columns": ["en", "de"], "rows": [
        {"label": "baseline", "source": "ours", "cells": [60.0, 58.0]},
        {"label": "baseline", "source": "paper", "cells": [53.8, None]},
        {"label": "w/o", "source": "ours", "cells": [3.0, None]},
    ]}]


def test_a_plot_names_its_own_twin_suffix() -> None:
    """Series with the spec's suffix are drawn dashed in their twin's colour (Fig. 7 overlays, task against task)."""
    import base64

    def svg(spec: dict) -> str:
        return base64.b64decode(plot_data_uri(spec).split(",", 1)[1]).decode()

    spec = {"kind": "lines", "x": [0, 1], "series": {"a": [1, 2], "a (facts)": [2, 1]}, "versus_suffix": " (facts)"}
    paired = svg(spec)
    assert "stroke-dasharray" in paired
    assert "stroke-dasharray" not in svg({**spec, "versus_suffix": None})  # default " (base)": nothing is a twin
    assert paired.count("stroke: #1f77b4") >= 2 and "stroke: #ff7f0e" not in paired  # one colour for both


def test_plots_drawn_in_parallel_processes_are_those_drawn_one_by_one(monkeypatch) -> None:
    """Many plots are drawn by a pool of processes: the same bytes, in order, and an undrawable one still says why."""
    monkeypatch.setattr(figures, "available_cores", lambda: 2)
    specs = [{"id": f"p{i}", "kind": "lines" if i % 2 else "bars", "x": ["en", "de"], "series": {"s": [i, 1.0]}}
             for i in range(2 * figures.PLOTS_PER_PROCESS)] + [{"id": "bad", "kind": "pie", "x": [], "series": {}}]
    drawn = figures.draw_plots(specs)
    assert drawn == [figures._drawn(spec) for spec in specs]
    assert drawn[-1] == (None, "cannot draw plot 'bad': unsupported plot kind 'pie'")
    assert len({uri for uri, _ in drawn[:-1]}) == len(specs) - 1

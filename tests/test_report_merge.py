"""One report across runs: the verdict matrix of several models, each model's provenance, the paper beside every
model, model pairs lined up, conflicts shown; planted models folded; the "since baseline" column."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from report_samples import write_model_run, write_planted_run, write_sample_run

from harness.__main__ import main
from harness.report import render_merged, render_report


def _matrix_heads(html: str) -> list[str]:
    matrix = html.split('<table class="matrix">')[1].split("</tr>")[0]
    return [re.sub(r"<[^>]+>", " ", head).split() for head in re.findall(r"<th>(.*?)</th>", matrix)][1:]


@pytest.fixture
def models(tmp_path: Path) -> dict[str, Path]:
    write_model_run(tmp_path / "bloomz", "bloomz-7b1", "20261201-010000-aaaa", base_model="bloom-7b1")
    write_model_run(tmp_path / "bloom", "bloom-7b1", "20261201-020000-bbbb")
    write_model_run(tmp_path / "bloomz-fp16", "bloomz-7b1", "20261201-030000-cccc", base_model="bloom-7b1",
                    dtype="float16")
    return {path.name: path for path in tmp_path.iterdir()}


def test_two_models_in_one_matrix_with_the_pair_lined_up(models: dict[str, Path], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "merged"
    assert main(["report", str(models["bloom"]), str(models["bloomz"]), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out / "index.html")
    html = (out / "index.html").read_text(encoding="utf-8")
    # The base model's run came first, yet the instruction-tuned model's columns lead and its base follows.
    assert _matrix_heads(html) == [["bloomz-7b1", "xnli", "base:", "bloom-7b1"], ["bloomz-7b1", "facts"],
                                   ["bloom-7b1", "xnli"], ["bloom-7b1", "facts"]]
    assert "2 runs merged" in html and html.count('<td class="cell ') == 5 + 4  # bloom has no pair claim
    runs = html.split('<table class="runs">')[1].split("</table>")[0]
    assert "20261201-020000-bbbb" in runs and "20261201-010000-aaaa" in runs
    assert re.search(r'<tr class="differs"><th>model</th><td class="mono">bloom-7b1</td><td class="mono">'
                     r"bloomz-7b1</td></tr>", runs)
    provenance = html.split('<table class="provenance">')[1].split("</table>")[0]
    for model in ("org/bloomz-7b1", "org/bloom-7b1"):
        assert f'title="{model}"' in provenance
    for model in ("bloomz-7b1", "bloom-7b1"):  # the paper's numbers beside every model's own
        section = html.split(f"<h3>{model} · xnli</h3>")[1].split('<div class="group">')[0]
        assert "<h4>Paper vs ours</h4>" in section and '<tr class="paper"><td>en</td>' in section
    assert "appear in several runs" not in html


def test_the_same_instance_with_other_settings_is_a_conflict_shown_in_its_own_column(
        models: dict[str, Path], tmp_path: Path) -> None:
    html = render_merged([models["bloomz"], models["bloomz-fp16"]], tmp_path / "out").read_text(encoding="utf-8")
    records = sum(len((models[name] / "results.jsonl").read_text().splitlines()) for name in ("bloomz", "bloomz-fp16"))
    assert html.count('<tr title="') == records, "every record of both runs is shown"
    banner = html.split('<div class="banner conflict">')[1].split("</div>")[0]
    assert "9 instance(s) appear in several runs with different settings" in banner
    assert ("<li><code>ablate-all-shared</code> [bloomz-7b1-xnli-en]: run 20261201-010000-aaaa "
            "(dtype=&#39;float32&#39;) vs run 20261201-030000-cccc (dtype=&#39;float16&#39;)</li>") in banner
    heads = _matrix_heads(html)
    assert len(heads) == 4 and heads[0][:2] == ["bloomz-7b1", "xnli"] and "dtype=&#39;float32&#39;" in heads[0]
    assert " ".join(heads[1]).startswith("bloomz-7b1 xnli base: bloom-7b1 run 20261201-030000-cccc")


def test_the_same_instance_with_the_same_settings_is_shown_once_with_a_warning(models: dict[str, Path],
                                                                              tmp_path: Path) -> None:
    again = tmp_path / "again"
    shutil.copytree(models["bloom"], again)
    info = json.loads((again / "run.json").read_text())
    (again / "run.json").write_text(json.dumps(info | {"run_id": "20261201-040000-dddd"}))
    html = render_merged([models["bloom"], again], tmp_path / "out").read_text(encoding="utf-8")
    assert html.count('<tr title="') == len((again / "results.jsonl").read_text().splitlines())
    assert ("ablate-all-shared [bloom-7b1-xnli-en] is in runs 20261201-020000-bbbb and 20261201-040000-dddd with the "
            "same settings; the record of 20261201-040000-dddd is shown") in html
    with pytest.raises(ValueError, match="the same run was given twice: 20261201-020000-bbbb"):
        render_merged([models["bloom"], models["bloom"]], tmp_path / "twice")


def test_merging_several_runs_needs_out(models: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(models["bloom"]), str(models["bloomz"])])
    assert exit_info.value.code == 2 and "merging several runs needs --out DIR" in capsys.readouterr().err


def test_planted_models_fold_into_one_column_and_one_provenance_row(tmp_path: Path) -> None:
    write_planted_run(tmp_path)
    html = render_report(tmp_path).read_text(encoding="utf-8")
    assert _matrix_heads(html) == [["planted", "models", "xnli"]]
    cells = re.findall(r'<td class="cell (planted-\w+)" data-status="[\w-]+">(.*?)</td>', html, re.DOTALL)
    assert [status for status, _ in cells] == ["planted-match"] * 10
    assert 'planted-model-00</span> 3 supported <span class="match">✓</span>' in cells[0][1]
    assert 'planted-model-01</span> 3 refuted <span class="match">✓</span>' in cells[0][1]
    provenance = html.split('<table class="provenance">')[1].split("</table>")[0]
    assert provenance.count("<tr") == 2  # the header and one folded row
    assert ">20 planted models<" in provenance and ">bloom, llama<" in provenance and ">20 values<" in provenance
    assert '>918f727946b7…<' in provenance  # hashes shortened, in full in the title
    assert "The 20 planted models (tiny tier)" in html


def test_a_mismatch_with_the_planted_truth_colours_the_folded_cell(tmp_path: Path) -> None:
    write_planted_run(tmp_path, n_models=2)
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    record = json.loads(lines[0]) | {"verdict": "refuted"}
    (tmp_path / "results.jsonl").write_text("\n".join([json.dumps(record), *lines[1:]]) + "\n")
    html = render_report(tmp_path).read_text(encoding="utf-8")
    assert '<td class="cell planted-mismatch"' in html and '<span class="mismatch">✗ 2/3</span>' in html


def test_since_baseline_column(tmp_path: Path) -> None:
    write_sample_run(tmp_path)
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    records[0]["baseline"] = {"run_id": "base", "status": "regression", "verdict": "refuted", "effect": 0.2,
                              "ci": [0.1, 0.3], "changes": ["verdict refuted -> supported"]}
    records[1]["baseline"] = {"run_id": "base", "status": "unchanged", "verdict": "supported", "effect": 0.867,
                              "ci": [0.71, 0.95], "changes": []}
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    info = json.loads((tmp_path / "run.json").read_text())
    info["baseline"] = {"path": "ci/base", "run_id": "base", "ignore": [], "missing": ["mid-layer-peak [x-xnli]"],
                        "counts": {"unchanged": 1, "regression": 1, "new": 11, "settings changed": 0, "missing": 1}}
    (tmp_path / "run.json").write_text(json.dumps(info))
    html = render_report(tmp_path).read_text(encoding="utf-8")
    assert html.count("<th>since baseline</th>") == html.count('<table class="instances">') == 7
    assert ('<td class="since"><span class="badge refuted">regression</span><br><span class="muted">was refuted, '
            "0.2 [0.1, 0.3]</span><br>verdict refuted -&gt; supported</td>") in html
    assert '<span class="badge other">unchanged</span>' in html
    assert "Compared with baseline <code>base</code> (ci/base)" in html and "<li><code>mid-layer-peak [x-xnli]" in html
    assert '<span class="mismatch">1 regression</span>' in html and "1 changed since baseline" in html


def test_records_finished_out_of_order_are_shown_in_the_runs_order(tmp_path: Path) -> None:
    """Under pytest-xdist records arrive as workers finish; their position (collection order) orders the page."""
    write_sample_run(tmp_path / "ordered")
    write_sample_run(tmp_path / "shuffled")
    for name in ("ordered", "shuffled"):
        records = [json.loads(line) for line in (tmp_path / name / "results.jsonl").read_text().splitlines()]
        records = [r | {"position": i} for i, r in enumerate(records)]
        if name == "shuffled":
            records = records[1::2] + records[::2]
        (tmp_path / name / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert render_report(tmp_path / "shuffled").read_text() == render_report(tmp_path / "ordered").read_text()

"""Free text (issue 28): CSV cells a spreadsheet would run are quoted; shown as typed elsewhere."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd

from corpus.cases import DATA_CUT_DATE, copy_fixture, set_cell, together
from haplo_report.cli import main
from haplo_report.outputs.tables import Table
from haplo_report.text import spreadsheet_safe, spreadsheet_safe_frame, spreadsheet_value

FORMULAS = ['=HYPERLINK("http://example.org","x")', "+cmd|' /C calc'!A0", "@SUM(1+1)",
            "-@x", "-2+3"]


def test_formula_cells_get_a_quote_numbers_and_text_do_not():
    assert [spreadsheet_safe(v) for v in FORMULAS] == ["'" + v for v in FORMULAS]
    kept = ["-0.2", "+1e-3", "-", "12 (40.0)", "Nausea", "a=b", "", None, 3.5]
    assert [spreadsheet_safe(v) for v in kept] == kept
    assert spreadsheet_safe("'quoted") == "''quoted"
    for value in [*FORMULAS, *kept[:6], "'quoted", "''"]:
        assert spreadsheet_value(spreadsheet_safe(value)) == value
    frame = pd.DataFrame({"=A": FORMULAS, "n": range(5)})
    safe = spreadsheet_safe_frame(frame)
    assert list(safe.columns) == ["'=A", "n"] and safe["n"].tolist() == list(range(5))
    assert safe["'=A"].tolist() == ["'" + v for v in FORMULAS]


def test_table_csv_quotes_formula_cells(tmp_path: Path):
    table = Table("14.3.7", "AEs", "Safety", "2026-01-01", ("Term", "Difference"),
                  tuple((v, "-0.2") for v in FORMULAS) + (("Nausea", "-"),))
    with open(table.to_csv(tmp_path / "t.csv"), encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert [r[1] for r in rows[1:]] == ["'" + v for v in FORMULAS] + ["Nausea"]
    assert {r[2] for r in rows[1:]} == {"-0.2", "-"}


def test_validate_report_csv_quotes_formula_values(tmp_path: Path):
    cut = copy_fixture(tmp_path / "cut")
    together(set_cell("subjects", 2, "SEX", "=1+1"), set_cell("subjects", 3, "SEX", "@x"))(cut)
    params = tmp_path / "params.yml"
    params.write_text(f"study_id: T\nstudy_title: T\ndata_dir: {cut}\n"
                      f"data_cut_date: {DATA_CUT_DATE}\n", encoding="utf-8")
    assert main(["validate", str(params), "--report", str(tmp_path / "v.csv")]) == 1
    assert main(["validate", str(params), "--report", str(tmp_path / "v.json")]) == 1
    rows = list(csv.DictReader(open(tmp_path / "v.csv", encoding="utf-8", newline="")))
    assert [r["value"] for r in rows] == ["'=1+1", "'@x"]
    assert [r["value"] for r in json.loads((tmp_path / "v.json").read_text())] == ["=1+1", "@x"]


def test_rtf_control_words_in_a_term_stay_text(tmp_path: Path):
    """A term holding RTF's own control words (``\\trowd \\row \\cell``) and braces is written
    as escaped text; the rows are still found and indented by level."""
    from haplo_report.outputs.tables.layout import Page  # noqa: PLC0415
    from haplo_report.outputs.tables.rtf import write_rtf  # noqa: PLC0415

    term = "\\trowd \\row \\cell }{\\b bold"
    table = Table("14.3.7", "AEs", "Safety", "2026-01-01", ("Term", "n"),
                  (("SOC", "2"), (term, "1"), ("\\", "1")), indents=(0, 1, 1))
    code = write_rtf(table, tmp_path / "t.rtf", Page("S", "2026-01-01")).read_text()
    assert "\\\\trowd \\\\row \\\\cell \\}\\{\\\\b bold" in code
    assert code.count("\\trowd\\trkeep") == 4  # header and three body rows


def test_narratives_csv_quotes_formula_cells(tmp_path: Path):
    from haplo_report.outputs.narratives import write_narrative_files  # noqa: PLC0415

    write_narrative_files([], {"=1+1": ("died",), "P02": ("serious AE",)}, tmp_path,
                          study_id="S", data_cut="2026-01-01")
    rows = _csv_rows(tmp_path / "narratives.csv")
    assert [r[0] for r in rows[1:]] == ["'=1+1", "P02"]


def _csv_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))

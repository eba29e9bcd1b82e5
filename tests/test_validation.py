"""Validation of whole cuts: cross-table rules, one-pass collection, reports and the CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from corpus.cases import (FIXTURE, add_column, append_row, copy_fixture, drop_column, set_cell,
                          together, write_bytes)
from haplo_report.cli import main
from haplo_report.params import ParamsError
from haplo_report.data.validation import InvalidCutError, validate_cut, write_violations

CUT = dt.date(2026, 6, 30)


def _violations(mutation, tmp_path: Path) -> list[tuple]:
    folder = copy_fixture(tmp_path / "cut")
    mutation(folder)
    with pytest.raises(InvalidCutError) as info:
        validate_cut(folder, CUT)
    v = info.value.violations
    return [(r.table, None if pd.isna(r.row) else int(r.row), r.column, r.value, r.rule)
            for r in v.itertuples(index=False)]


def test_valid_fixture_gives_typed_tables() -> None:
    cut = validate_cut(FIXTURE, CUT)
    assert cut.supplied() == {"subjects": 8, "relapses": 3, "deaths": 3, "gvhd": 5, "mrd": 7,
                              "engraftment": 7, "adverse_events": 6}
    assert cut.subjects["HSCTDT"].isna().sum() == 1  # P08 never transplanted
    assert cut.subjects.loc[0, "HSCTDT"] == pd.Timestamp("2025-02-03")
    assert cut.mrd["RESULT"].tolist()[4] == 5e-05
    assert list(cut.gvhd.index) == list(range(5))
    assert cut.files["deaths"] == FIXTURE / "deaths.csv"


@pytest.mark.parametrize("mutation, expected", [
    (set_cell("mrd", 8, "MRDDT", "2026-07-01"),  # P07 has no death: after the cut is fine
     None),
    (together(append_row("deaths", "P07", "2026-05-01", "OTHER")),
     [("gvhd", 6, "ONSETDT", "2026-03-01", None),
      ("deaths", 5, "DTHDT", "2026-05-01", "must be on or after LSTALVDT (2026-06-25)"),
      ("mrd", 8, "MRDDT", "2025-07-07", None)]),
    (set_cell("engraftment", 4, "PLTDT", "2025-06-13"),
     [("engraftment", 4, "PLTDT", "2025-06-13", "must be on or before DTHDT (2025-06-12)")]),
    (set_cell("adverse_events", 4, "AESTDT", "2025-06-13"),
     [("adverse_events", 4, "AESTDT", "2025-06-13", "must be on or before DTHDT (2025-06-12)")]),
    (set_cell("deaths", 3, "DTHDT", "2025-03-01"),
     [("deaths", 3, "DTHDT", "2025-03-01", "must be on or after HSCTDT (2025-03-02)"),
      ("deaths", 3, "DTHDT", "2025-03-01", "must be on or after LSTALVDT (2025-06-10)"),
      ("gvhd", 3, "ONSETDT", "2025-03-25", "must be on or before DTHDT (2025-03-01)"),
      ("engraftment", None, None, None, None),
      ("adverse_events", 5, "AESTDT", "2025-06-12", "must be on or before DTHDT (2025-03-01)")]),
    (set_cell("gvhd", 4, "ONSETDT", "2025-03-09"),
     [("gvhd", 4, "ONSETDT", "2025-03-09", "must be on or after HSCTDT (2025-03-10)")]),
    (append_row("relapses", "P08", "2025-07-01", "BM"),
     [("relapses", 5, "USUBJID", "P08", "patient was never transplanted (HSCTDT empty)")]),
    (append_row("engraftment", "P08", "", ""),
     [("engraftment", 9, "USUBJID", "P08", "patient was never transplanted (HSCTDT empty)")]),
])
def test_cross_table_rules(mutation, expected, tmp_path: Path) -> None:
    folder = copy_fixture(tmp_path / "cut")
    mutation(folder)
    if expected is None:
        validate_cut(folder, CUT)
        return
    with pytest.raises(InvalidCutError) as info:
        validate_cut(folder, CUT)
    got = [(r.table, None if pd.isna(r.row) else int(r.row), r.column, r.value, r.rule)
           for r in info.value.violations.itertuples(index=False)]
    # A None rule marks a row that must NOT be reported (no false positives nearby).
    assert [e for e in expected if e[4] is not None] == got


def test_several_faults_are_all_reported_in_one_run(tmp_path: Path) -> None:
    got = _violations(together(
        set_cell("subjects", 4, "AGE", "101"),
        drop_column("relapses", "RELSITE"),
        write_bytes("deaths", lambda b: b.replace(b",", b";")),
        set_cell("gvhd", 2, "GRADE", "2"),
        append_row("mrd", "P99", "2025-07-07", "FCM", "0.5%"),
        set_cell("adverse_events", 2, "AESTDT", "2025-01-05"),
    ), tmp_path)
    assert got == [
        ("subjects", 4, "AGE", "101", "must be a whole number from 0 to 100"),
        ("relapses", None, "RELSITE", "", "required column is missing"),
        ("deaths", None, "", "deaths.csv",
         "the header is separated by semicolons, not commas; export as comma-separated"),
        ("gvhd", 2, "GRADE", "2", "must be one of I, II, III, IV, MILD, MODERATE, SEVERE"),
        ("mrd", 9, "RESULT", "0.5%", "must be a number in [0, 1]"),
        ("mrd", 9, "USUBJID", "P99", "USUBJID not in subjects"),
        ("adverse_events", 2, "AESTDT", "2025-01-05", "must be on or after RFICDT (2025-01-10)"),
    ]


def test_identifying_values_are_never_echoed(tmp_path: Path) -> None:
    folder = copy_fixture(tmp_path / "cut")
    append = (folder / "deaths.csv").read_text(encoding="utf-8").splitlines()
    rows = [append[0] + ",PATNAME"] + [line + ",Jane Doe" for line in append[1:]]
    (folder / "deaths.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(InvalidCutError) as info:
        validate_cut(folder, CUT)
    assert "Jane" not in info.value.format()
    assert info.value.violations["column"].tolist() == ["PATNAME"]


def test_format_groups_by_table_with_a_count_line(tmp_path: Path) -> None:
    folder = copy_fixture(tmp_path / "cut")
    set_cell("subjects", 4, "AGE", "101")(folder)
    set_cell("relapses", 2, "RELDT", "2025-10-06")(folder)
    with pytest.raises(InvalidCutError) as info:
        validate_cut(folder, CUT)
    assert info.value.format() == (
        f"invalid data cut: {folder}\n"
        "subjects.csv (1)\n"
        "  row 4 AGE = '101': must be a whole number from 0 to 100\n"
        "relapses.csv (1)\n"
        "  row 2 RELDT = '2025-10-06': must be on or before DTHDT (2025-10-05)\n"
        "2 violation(s) in 2 table(s)")


def test_missing_folder_is_a_violation(tmp_path: Path) -> None:
    with pytest.raises(InvalidCutError) as info:
        validate_cut(tmp_path / "nowhere", CUT)
    assert info.value.violations["rule"].tolist() == ["data folder not found"]
    assert info.value.format().splitlines()[1] == "data folder (1)"


def test_write_violations_csv_and_json(tmp_path: Path) -> None:
    folder = copy_fixture(tmp_path / "cut")
    set_cell("subjects", 4, "AGE", "101")(folder)
    (folder / "relapses.csv").unlink()
    with pytest.raises(InvalidCutError) as info:
        validate_cut(folder, CUT)
    write_violations(info.value.violations, tmp_path / "v.csv")
    write_violations(info.value.violations, tmp_path / "v.json")
    assert (tmp_path / "v.csv").read_text(encoding="utf-8") == (
        "table,row,column,value,rule\n"
        "subjects,4,AGE,101,must be a whole number from 0 to 100\n"
        "relapses,,,,required table is missing: supply relapses.csv (it may have zero rows)\n")
    records = json.loads((tmp_path / "v.json").read_text(encoding="utf-8"))
    assert records[0] == {"table": "subjects", "row": 4, "column": "AGE", "value": "101",
                          "rule": "must be a whole number from 0 to 100"}
    assert records[1]["row"] is None
    write_violations(None, tmp_path / "ok.json")
    write_violations(None, tmp_path / "ok.csv")
    assert json.loads((tmp_path / "ok.json").read_text(encoding="utf-8")) == []
    assert (tmp_path / "ok.csv").read_text(encoding="utf-8") == "table,row,column,value,rule\n"
    with pytest.raises(ParamsError, match="use a .csv or .json file name"):
        write_violations(None, tmp_path / "ok.txt")


def test_cli_validate_valid_cut(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params = tmp_path / "params.yml"
    params.write_text(f"study_id: T\nstudy_title: T\ndata_dir: {FIXTURE}\n"
                      "data_cut_date: 2026-06-30\n", encoding="utf-8")
    assert main(["validate", str(params), "--report", str(tmp_path / "v.csv")]) == 0
    assert capsys.readouterr().out == (
        f"valid: {FIXTURE} (subjects 8, relapses 3, deaths 3, gvhd 5, mrd 7, engraftment 7, "
        "adverse_events 6)\n")


def test_cut_before_first_consent_is_a_parameter_error(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ParamsError, match=r"2025-01-09 is before the first informed consent "
                                          r"\(2025-01-10\)"):
        validate_cut(FIXTURE, dt.date(2025, 1, 9))
    params = tmp_path / "params.yml"
    params.write_text(f"study_id: T\nstudy_title: T\ndata_dir: {FIXTURE}\n"
                      "data_cut_date: 2025-01-09\n", encoding="utf-8")
    assert main(["run", str(params), "--output-dir", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.startswith("error: data_cut_date: 2025-01-09 is before")
    assert not (tmp_path / "out").exists()


def test_dates_after_the_day_of_validation_are_violations(tmp_path: Path) -> None:
    folder = copy_fixture(tmp_path / "cut")
    tomorrow, later = dt.date.today() + dt.timedelta(days=1), dt.date.today() + dt.timedelta(2)
    together(set_cell("subjects", 2, "LSTALVDT", tomorrow.isoformat()),
             set_cell("mrd", 2, "MRDDT", later.isoformat()))(folder)
    with pytest.raises(InvalidCutError) as error:
        validate_cut(folder, CUT)
    assert error.value.violations[["table", "row", "column", "rule"]].values.tolist() == [
        ["mrd", 2, "MRDDT", "must not be after the day of validation (a date in the future)"]]


def test_extra_columns_are_dropped_and_named(tmp_path: Path) -> None:
    folder = copy_fixture(tmp_path / "cut")
    together(add_column("subjects", "SCRNUM", "SCR1"), add_column("mrd", "LABID", "L1"),
             add_column("subjects", "SITENAME", "City Hospital"))(folder)
    cut = validate_cut(folder, CUT)
    assert "SCRNUM" not in cut.subjects and "LABID" not in cut.mrd
    assert cut.dropped == {"subjects": ["SCRNUM", "SITENAME"], "mrd": ["LABID"]}
    assert cut.summary().endswith("columns not in the data-cut spec, checked for identifiers "
                                  "and left out: subjects SCRNUM, SITENAME; mrd LABID")


def test_a_long_value_is_quoted_as_a_short_excerpt(tmp_path: Path) -> None:
    violations = _violations(set_cell("subjects", 2, "SEX", "M" * 100_000), tmp_path)
    assert violations == [("subjects", 2, "SEX", "M" * 60 + "...", "must be one of M, F")]

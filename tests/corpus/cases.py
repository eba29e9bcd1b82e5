"""The bad-input corpus: each case is the valid fixture cut with ONE fault.

A case names its mutation and the exact violations ``(table, row, column, rule)`` it must give;
no violations means the case must validate. Rows are file rows (the header is row 1).
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "valid_cut"
DATA_CUT_DATE = "2026-06-30"

Mutation = Callable[[Path], None]
Expected = tuple[str, int | None, str, str]  # table, row, column, rule

ONE_ROW = "must be unique: one row per patient"
NOT_ISO = "must be a real date written YYYY-MM-DD"
GRADES = "must be one of I, II, III, IV, MILD, MODERATE, SEVERE"
MRD_RANGE = "must be a number in [0, 1]"
PEOPLE = ("identifies people (names, initials, birth dates, contact details, record or national "
          "id numbers): remove the column from the cut")
WHOLE = "must be a whole number from {} to {}"
PRINTABLE = ("must be printable text: no line breaks, tabs or other control characters, no "
             "bidirectional or zero-width characters")
FUTURE = "must not be after the day of validation (a date in the future)"
OUTSIDE = ("cell {} holds a value outside the table (right of the header's last column {}); "
           "give its column a header or remove it")


def copy_fixture(folder: Path) -> Path:
    """A fresh copy of the valid fixture cut in ``folder``."""
    shutil.copytree(FIXTURE, folder)
    return folder


def _rows(folder: Path, table: str) -> list[list[str]]:
    with open(folder / f"{table}.csv", newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _write(folder: Path, table: str, rows: list[list[str]]) -> None:
    with open(folder / f"{table}.csv", "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def set_cell(table: str, row: int, column: str, value: str) -> Mutation:
    """Write ``value`` into file row ``row`` (header = 1) of ``column``."""
    def mutate(folder: Path) -> None:
        rows = _rows(folder, table)
        rows[row - 1][rows[0].index(column)] = value
        _write(folder, table, rows)
    return mutate


def append_row(table: str, *values: str) -> Mutation:
    def mutate(folder: Path) -> None:
        _write(folder, table, _rows(folder, table) + [list(values)])
    return mutate


def copy_row(table: str, row: int) -> Mutation:
    def mutate(folder: Path) -> None:
        rows = _rows(folder, table)
        _write(folder, table, rows + [rows[row - 1]])
    return mutate


def drop_column(table: str, column: str) -> Mutation:
    def mutate(folder: Path) -> None:
        rows = _rows(folder, table)
        at = rows[0].index(column)
        _write(folder, table, [r[:at] + r[at + 1:] for r in rows])
    return mutate


def add_column(table: str, column: str, value: str) -> Mutation:
    def mutate(folder: Path) -> None:
        rows = _rows(folder, table)
        _write(folder, table, [rows[0] + [column]] + [r + [value] for r in rows[1:]])
    return mutate


def header_only(table: str) -> Mutation:
    def mutate(folder: Path) -> None:
        _write(folder, table, _rows(folder, table)[:1])
    return mutate


def remove(table: str) -> Mutation:
    def mutate(folder: Path) -> None:
        (folder / f"{table}.csv").unlink()
    return mutate


def write_bytes(table: str, make: Callable[[bytes], bytes]) -> Mutation:
    """Replace the CSV's bytes by ``make(old bytes)``."""
    def mutate(folder: Path) -> None:
        path = folder / f"{table}.csv"
        path.write_bytes(make(path.read_bytes()))
    return mutate


def as_xlsx(table: str, *, merge_header: str | None = None, keep_csv: bool = False,
            cells: dict[str, str] | None = None, hidden_first: bool = False) -> Mutation:
    """The table as an Excel workbook (optionally with merged header cells, extra ``cells``
    such as formulas, or behind a hidden first sheet)."""
    def mutate(folder: Path) -> None:
        book = openpyxl.Workbook()
        sheet = book.active
        if hidden_first:
            sheet.title, sheet.sheet_state = "Old export", "hidden"
            sheet.append(["USUBJID", "NOTE"])
            sheet = book.create_sheet(table)
        for row in _rows(folder, table):
            sheet.append(row)
        if merge_header:
            sheet.merge_cells(merge_header)
        for cell, value in (cells or {}).items():
            sheet[cell] = value
        book.save(folder / f"{table}.xlsx")
        if not keep_csv:
            (folder / f"{table}.csv").unlink()
    return mutate


def as_parquet(table: str, *, dates: tuple[str, ...] = (), binary: str | None = None
               ) -> Mutation:
    """The table as Parquet: ``dates`` columns as date32, ``binary`` column as raw bytes
    (its first cell not UTF-8)."""
    def mutate(folder: Path) -> None:
        rows = _rows(folder, table)
        columns = {name: [r[i] for r in rows[1:]] for i, name in enumerate(rows[0])}
        arrays = {}
        for name, values in columns.items():
            if name in dates:
                arrays[name] = pa.array([dt.date.fromisoformat(v) if v else None
                                         for v in values], pa.date32())
            elif name == binary:
                arrays[name] = pa.array([b"\xff\xfe" + v.encode() if i == 0 else v.encode()
                                         for i, v in enumerate(values)], pa.binary())
            else:
                arrays[name] = pa.array(values, pa.string())
        pq.write_table(pa.table(arrays), folder / f"{table}.parquet")
        (folder / f"{table}.csv").unlink()
    return mutate


def link_outside(table: str) -> Mutation:
    """The table replaced by a symbolic link to a file outside the cut folder."""
    def mutate(folder: Path) -> None:
        outside = folder.parent / f"outside-{table}.csv"
        (folder / f"{table}.csv").rename(outside)
        (folder / f"{table}.csv").symlink_to(outside)
    return mutate


def rename_column(table: str, column: str, new: str) -> Mutation:
    def mutate(folder: Path) -> None:
        rows = _rows(folder, table)
        rows[0][rows[0].index(column)] = new
        _write(folder, table, rows)
    return mutate


def rename_patient(old: str, new: str) -> Mutation:
    """Patient ``old`` called ``new`` in every table."""
    def mutate(folder: Path) -> None:
        for path in folder.glob("*.csv"):
            rows = _rows(folder, path.stem)
            _write(folder, path.stem, [[new if r and i == 0 and v == old else v
                                        for i, v in enumerate(r)] for r in rows])
    return mutate


def together(*mutations: Mutation) -> Mutation:
    """Several edits that make one fault (e.g. a patient's events all after the cut)."""
    def mutate(folder: Path) -> None:
        for m in mutations:
            m(folder)
    return mutate


@dataclass(frozen=True)
class Case:
    name: str
    mutate: Mutation
    expected: tuple[Expected, ...] = ()  # empty: the cut must be valid


CASES: tuple[Case, ...] = (
    # Tables and files
    Case("missing_subjects", remove("subjects"), (("subjects", None, "", "required table is "
         "missing: supply subjects.csv (it may have zero rows)"),)),
    Case("missing_relapses", remove("relapses"), (("relapses", None, "", "required table is "
         "missing: supply relapses.csv (it may have zero rows)"),)),
    Case("missing_deaths", remove("deaths"), (("deaths", None, "", "required table is "
         "missing: supply deaths.csv (it may have zero rows)"),)),
    Case("optional_mrd_not_supplied", remove("mrd")),
    Case("optional_gvhd_not_supplied", remove("gvhd")),
    Case("missing_column", drop_column("subjects", "AGE"),
         (("subjects", None, "AGE", "required column is missing"),)),
    Case("missing_column_event_date", drop_column("relapses", "RELDT"),
         (("relapses", None, "RELDT", "required column is missing"),)),
    Case("empty_file", write_bytes("deaths", lambda b: b""),
         (("deaths", None, "", "the file is empty (not even a header row)"),)),
    Case("header_only_relapses", header_only("relapses")),
    Case("header_only_mrd", header_only("mrd")),
    Case("semicolon_delimiter", write_bytes("deaths", lambda b: b.replace(b",", b";")),
         (("deaths", None, "", "the header is separated by semicolons, not commas; "
           "export as comma-separated"),)),
    Case("latin1_text", write_bytes("adverse_events",
                                    lambda b: b.replace(b"Nausea,Nausea", "Naus\xe9e,Nausea"
                                                        .encode("latin-1"))),
         (("adverse_events", None, "", "not UTF-8 text (byte 0xe9 in line 6); export the file "
           "as UTF-8"),)),
    Case("utf8_bom", write_bytes("subjects", lambda b: b"\xef\xbb\xbf" + b)),
    Case("xlsx_merged_header", as_xlsx("subjects", merge_header="A1:B1"),
         (("subjects", None, "", "header cell B1 is empty (merged or blank header cells); use "
           "one plain header cell per column"),)),
    Case("xlsx_valid", as_xlsx("gvhd")),
    Case("two_formats", as_xlsx("relapses", keep_csv=True),
         (("relapses", None, "", "the table is supplied in more than one format "
           "(relapses.csv, relapses.xlsx); keep exactly one file"),)),
    Case("extra_column_kept", add_column("mrd", "LABID", "L1")),
    # Identifiers
    Case("duplicate_usubjid", copy_row("subjects", 2),
         (("subjects", 2, "USUBJID", ONE_ROW), ("subjects", 10, "USUBJID", ONE_ROW))),
    Case("usubjid_not_in_subjects", set_cell("relapses", 2, "USUBJID", "P99"),
         (("relapses", 2, "USUBJID", "USUBJID not in subjects"),)),
    Case("empty_usubjid", set_cell("relapses", 3, "USUBJID", ""),
         (("relapses", 3, "USUBJID", "must not be empty"),)),
    Case("two_death_rows", copy_row("deaths", 3),
         (("deaths", 3, "USUBJID", ONE_ROW), ("deaths", 5, "USUBJID", ONE_ROW))),
    Case("two_engraftment_rows", copy_row("engraftment", 2),
         (("engraftment", 2, "USUBJID", ONE_ROW), ("engraftment", 9, "USUBJID", ONE_ROW))),
    Case("name_column", add_column("subjects", "NAME", "Doe"),
         (("subjects", None, "NAME", PEOPLE),)),
    Case("initials_column", add_column("deaths", "INITIALS", "JD"),
         (("deaths", None, "INITIALS", PEOPLE),)),
    Case("birth_date_column", add_column("adverse_events", "BRTHDTC", "1980-01-01"),
         (("adverse_events", None, "BRTHDTC", PEOPLE),)),
    # Dates
    Case("date_day_first", set_cell("relapses", 3, "RELDT", "10/01/2026"),
         (("relapses", 3, "RELDT", NOT_ISO),)),
    Case("date_not_padded", set_cell("mrd", 2, "MRDDT", "2025-3-5"),
         (("mrd", 2, "MRDDT", NOT_ISO),)),
    Case("date_excel_serial", set_cell("deaths", 2, "DTHDT", "45935"),
         (("deaths", 2, "DTHDT", NOT_ISO),)),
    Case("date_impossible", set_cell("subjects", 2, "RFICDT", "2025-02-30"),
         (("subjects", 2, "RFICDT", NOT_ISO),)),
    Case("transplant_before_consent", set_cell("subjects", 5, "HSCTDT", "2025-02-10"),
         (("subjects", 5, "HSCTDT", "must be on or after RFICDT (2025-02-15)"),)),
    Case("alive_before_transplant", set_cell("subjects", 2, "LSTALVDT", "2025-02-01"),
         (("subjects", 2, "LSTALVDT", "must be on or after HSCTDT (2025-02-03)"),)),
    Case("relapse_before_transplant", set_cell("relapses", 2, "RELDT", "2025-02-01"),
         (("relapses", 2, "RELDT", "must be on or after HSCTDT (2025-02-14)"),)),
    Case("relapse_after_death", set_cell("relapses", 2, "RELDT", "2025-10-06"),
         (("relapses", 2, "RELDT", "must be on or before DTHDT (2025-10-05)"),)),
    Case("relapse_on_death_date", set_cell("relapses", 2, "RELDT", "2025-10-05")),
    Case("death_before_last_alive", set_cell("deaths", 2, "DTHDT", "2025-09-29"),
         (("deaths", 2, "DTHDT", "must be on or after LSTALVDT (2025-09-30)"),)),
    Case("death_before_consent_untransplanted", set_cell("deaths", 4, "DTHDT", "2025-05-30"),
         (("deaths", 4, "DTHDT", "must be on or after RFICDT (2025-06-01)"),
          ("deaths", 4, "DTHDT", "must be on or after LSTALVDT (2025-07-15)"),
          ("adverse_events", 7, "AESTDT", "must be on or before DTHDT (2025-05-30)"))),
    Case("gvhd_onset_after_death", set_cell("gvhd", 3, "ONSETDT", "2025-06-13"),
         (("gvhd", 3, "ONSETDT", "must be on or before DTHDT (2025-06-12)"),)),
    Case("mrd_before_transplant", set_cell("mrd", 4, "MRDDT", "2025-02-10"),
         (("mrd", 4, "MRDDT", "must be on or after HSCTDT (2025-02-14)"),)),
    Case("engraftment_before_transplant", set_cell("engraftment", 2, "ANCDT", "2025-02-01"),
         (("engraftment", 2, "ANCDT", "must be on or after HSCTDT (2025-02-03)"),)),
    Case("event_never_transplanted", append_row("mrd", "P08", "2025-07-01", "FCM", "0"),
         (("mrd", 9, "USUBJID", "patient was never transplanted (HSCTDT empty)"),)),
    Case("ae_before_consent", set_cell("adverse_events", 2, "AESTDT", "2025-01-05"),
         (("adverse_events", 2, "AESTDT", "must be on or after RFICDT (2025-01-10)"),)),
    Case("transplant_after_cut", together(
        append_row("subjects", "P09", "S01", "30", "F", "Ph-negative B-ALL", "CR1", "0.004",
                   "FCM", "sibling", "5/10", "PBSC", "6", "7", "BLIN-BU-CY-FLU",
                   "2026-06-01", "2026-07-10", "2026-07-10"))),
    Case("events_after_cut", together(
        append_row("relapses", "P07", "2026-08-01", "PB"),
        append_row("mrd", "P07", "2026-07-20", "FCM", "0.01"),
        append_row("deaths", "P07", "2026-09-01", "RELAPSE"))),
    # Codes and numbers
    Case("grade_digit", set_cell("gvhd", 2, "GRADE", "2"), (("gvhd", 2, "GRADE", GRADES),)),
    Case("grade_range", set_cell("gvhd", 3, "GRADE", "II-III"), (("gvhd", 3, "GRADE", GRADES),)),
    Case("grade_lower_case", set_cell("gvhd", 2, "GRADE", "ii"), (("gvhd", 2, "GRADE", GRADES),)),
    Case("grade_wrong_scale", set_cell("gvhd", 5, "GRADE", "II"),
         (("gvhd", 5, "GRADE", "must be I, II, III or IV for ACUTE and MILD, MODERATE or "
           "SEVERE for CHRONIC GVHD"),)),
    Case("whitespace_around_codes", together(set_cell("subjects", 2, "SEX", " M "),
                                             set_cell("gvhd", 2, "GRADE", "II "))),
    Case("sex_code", set_cell("subjects", 3, "SEX", "female"),
         (("subjects", 3, "SEX", "must be one of M, F"),)),
    Case("mrd_above_one", set_cell("mrd", 4, "RESULT", "1.5"), (("mrd", 4, "RESULT", MRD_RANGE),)),
    Case("mrd_negative", set_cell("mrd", 4, "RESULT", "-0.1"), (("mrd", 4, "RESULT", MRD_RANGE),)),
    Case("mrd_percent", set_cell("mrd", 4, "RESULT", "0.5%"), (("mrd", 4, "RESULT", MRD_RANGE),)),
    Case("cd34_zero", set_cell("subjects", 2, "CD34DOSE", "0"),
         (("subjects", 2, "CD34DOSE", "must be a number > 0"),)),
    Case("cd34_negative", set_cell("subjects", 2, "CD34DOSE", "-2.5"),
         (("subjects", 2, "CD34DOSE", "must be a number > 0"),)),
    Case("age_above_100", set_cell("subjects", 4, "AGE", "101"),
         (("subjects", 4, "AGE", "must be a whole number from 0 to 100"),)),
    Case("age_negative", set_cell("subjects", 4, "AGE", "-1"),
         (("subjects", 4, "AGE", "must be a whole number from 0 to 100"),)),
    Case("ae_grade_six", set_cell("adverse_events", 6, "AETOXGR", "6"),
         (("adverse_events", 6, "AETOXGR", "must be a whole number from 1 to 5"),)),
    # Issue 12: hostile and careless files, each with its outcome now.
    # (1) nobody transplanted / header-only tables: valid (the run reports an empty FAS)
    Case("nobody_transplanted", together(
        *(set_cell("subjects", row, "HSCTDT", "") for row in range(2, 10)),
        *(header_only(t) for t in ("relapses", "deaths", "gvhd", "mrd", "engraftment",
                                   "adverse_events")))),
    Case("header_only_subjects_relapses_deaths", together(
        *(header_only(t) for t in ("subjects", "relapses", "deaths", "gvhd", "mrd",
                                   "engraftment", "adverse_events")))),
    # (2) a stray cell at XFD1048576: read in bounded memory; (issue 28) the cell outside the
    # table is named, not silently ignored
    Case("xlsx_stray_cell_at_xfd1048576", as_xlsx("relapses", cells={"XFD1048576": "x"}),
         (("relapses", None, "", OUTSIDE.format("XFD1048576", "C")),)),
    Case("xlsx_stray_cell_right_of_the_table", as_xlsx("subjects", cells={"S4": "note"}),
         (("subjects", None, "", OUTSIDE.format("S4", "Q")),)),
    Case("xlsx_stray_value_far_down", as_xlsx("relapses", cells={"C1048576": "BM"}),
         (("relapses", 1048576, "USUBJID", "must not be empty"),
          ("relapses", 1048576, "RELDT", "must not be empty"))),
    # (4) dates over the whole ISO range: after the cut they are legal (and cut); (issue 28)
    # after the day of validation they cannot have been exported: a violation
    Case("last_alive_2300", set_cell("subjects", 2, "LSTALVDT", "2300-01-01"),
         (("subjects", 2, "LSTALVDT", FUTURE),)),
    Case("last_alive_9999_12_31", set_cell("subjects", 2, "LSTALVDT", "9999-12-31"),
         (("subjects", 2, "LSTALVDT", FUTURE),)),
    Case("mrd_date_2262_04_12", set_cell("mrd", 2, "MRDDT", "2262-04-12"),
         (("mrd", 2, "MRDDT", FUTURE),)),
    Case("death_after_far_future_last_alive", together(
        set_cell("subjects", 3, "LSTALVDT", "9999-12-31"),
        set_cell("deaths", 2, "DTHDT", "9999-12-30")),
         (("subjects", 3, "LSTALVDT", FUTURE), ("deaths", 2, "DTHDT", FUTURE),
          ("deaths", 2, "DTHDT", "must be on or after LSTALVDT (9999-12-31)"))),
    Case("parquet_date32_year_9999", together(set_cell("subjects", 5, "LSTALVDT", "9999-12-31"),
                                              as_parquet("subjects", dates=("RFICDT", "HSCTDT",
                                                                            "LSTALVDT"))),
         (("subjects", 5, "LSTALVDT", FUTURE),)),
    Case("date_before_1900", set_cell("subjects", 2, "RFICDT", "1899-12-31"),
         (("subjects", 2, "RFICDT", "must be on or after 1900-01-01"),)),
    # (5) numbers
    Case("age_30_digits", set_cell("subjects", 2, "AGE", "1" * 30),
         (("subjects", 2, "AGE", WHOLE.format(0, 100)),)),
    Case("blindays_25_digits", set_cell("subjects", 2, "BLINDAYS", "9" * 25),
         (("subjects", 2, "BLINDAYS", "must be a whole number >= 0 (at most 9 digits)"),)),
    Case("ae_grade_20_digits", set_cell("adverse_events", 2, "AETOXGR", "3" * 20),
         (("adverse_events", 2, "AETOXGR", WHOLE.format(1, 5)),)),
    Case("age_full_width_digits", set_cell("subjects", 2, "AGE", "\uff13\uff10"),
         (("subjects", 2, "AGE", WHOLE.format(0, 100)),)),
    Case("age_arabic_indic_digits", set_cell("subjects", 2, "AGE", "\u0663\u0660"),
         (("subjects", 2, "AGE", WHOLE.format(0, 100)),)),
    Case("mrdpre_arabic_indic_digits", set_cell("subjects", 2, "MRDPRE", "\u0660.\u0660\u0660\u0662"),
         (("subjects", 2, "MRDPRE", "must be a number in (0, 1]"),)),
    Case("cd34_1e999", set_cell("subjects", 2, "CD34DOSE", "1e999"),
         (("subjects", 2, "CD34DOSE", "must be a number > 0"),)),
    Case("mrd_result_1e999", set_cell("mrd", 2, "RESULT", "1e999"),
         (("mrd", 2, "RESULT", MRD_RANGE),)),
    # (6) duplicate column names
    Case("age_twice", add_column("subjects", "AGE", "30"),
         (("subjects", None, "", "column AGE appears more than once in the header; keep one"),)),
    Case("reldt_twice", add_column("relapses", "RELDT", "2025-09-01"),
         (("relapses", None, "", "column RELDT appears more than once in the header; keep "
           "one"),)),
    # (7) binary Parquet column
    Case("parquet_binary_column", as_parquet("adverse_events", binary="AETERM"),
         (("adverse_events", None, "", "column AETERM holds binary values that are not UTF-8 "
           "text; export it as text"),)),
    # (8) identifying columns (spec v2 list); site and investigator names are accepted
    *(Case(f"identifying_column_{column.lower()}", add_column(table, column, value),
           ((table, None, column, PEOPLE),))
      for table, column, value in (
          ("subjects", "EMAIL", "jane@example.org"), ("subjects", "PHONE", "+44 20 7946 0000"),
          ("subjects", "MRN", "12345678"), ("subjects", "ADDRESS", "1 High Street"),
          ("subjects", "PATNAME", "Jane Roe"), ("subjects", "FNAME", "Jane"),
          ("subjects", "LNAME", "Roe"), ("subjects", "SURNAME", "Roe"),
          ("deaths", "PATINIT", "JR"), ("subjects", "DOB", "1970-01-01"),
          ("subjects", "BIRTHDATE", "1970-01-01"), ("subjects", "BRTHDT", "1970-01-01"),
          ("relapses", "NATID", "AB123456C"))),
    Case("site_and_investigator_names_accepted", together(
        add_column("subjects", "SITENAME", "City Hospital"),
        add_column("subjects", "INVNAM", "Dr Who"))),
    # (14) unclear files, now with their reason
    Case("utf16le_without_bom", write_bytes("deaths", lambda b: b.decode().encode("utf-16-le")),
         (("deaths", None, "", "NUL bytes between the header's characters: the file looks like "
           "UTF-16 text; export the file as UTF-8"),)),
    Case("xlsx_first_sheet_hidden", as_xlsx("relapses", hidden_first=True),
         (("relapses", None, "", "the first sheet ('Old export') is hidden; the table is read "
           "from the first sheet: unhide it or move the table's sheet first (visible: "
           "'relapses')"),)),
    Case("xlsx_formula_without_saved_value", as_xlsx("relapses", cells={"B3": "=B2+1"}),
         (("relapses", None, "", "cell B3 holds a formula without a saved value; open and save "
           "the workbook in Excel, or export values only"),)),
    Case("symlink_out_of_the_cut_folder", link_outside("deaths"),
         (("deaths", None, "", "deaths.csv is a link to a file outside the data folder (or to "
           "nothing); copy the file itself into the folder"),)),
    Case("very_long_value_is_cut", set_cell("subjects", 2, "SEX", "M" * 100_000),
         (("subjects", 2, "SEX", "must be one of M, F"),)),
    # Issue 28: free text is printable, bounded text; everything else in it is shown as typed.
    Case("ae_term_line_break", set_cell("adverse_events", 6, "AETERM", "Nausea\n# Heading"),
         (("adverse_events", 6, "AETERM", PRINTABLE),)),
    Case("ae_term_tab_inside", set_cell("adverse_events", 6, "AEDECOD", "Nau\tsea"),
         (("adverse_events", 6, "AEDECOD", PRINTABLE),)),
    Case("ae_term_carriage_return", write_bytes("adverse_events", lambda b: b.replace(
        b"Nausea,Nausea", b'Nausea,"Nau\rsea"')),
         (("adverse_events", 6, "AEDECOD", PRINTABLE),)),
    Case("ae_term_escape_character", set_cell("adverse_events", 6, "AETERM", "Nausea\x1b[31m"),
         (("adverse_events", 6, "AETERM", PRINTABLE),)),
    Case("ae_term_bidi_override", set_cell("adverse_events", 6, "AEDECOD", "Nausea \u202eY=RESEA"),
         (("adverse_events", 6, "AEDECOD", PRINTABLE),)),
    Case("soc_bidi_isolate", set_cell("adverse_events", 6, "AEBODSYS",
                                      "Gastrointestinal \u2066disorders\u2069"),
         (("adverse_events", 6, "AEBODSYS", PRINTABLE),)),
    Case("site_zero_width_space", set_cell("subjects", 2, "SITEID", "S0\u200b1"),
         (("subjects", 2, "SITEID", PRINTABLE),)),
    Case("subtype_line_separator", set_cell("subjects", 2, "SUBTYPE", "Ph-negative\u2028B-ALL"),
         (("subjects", 2, "SUBTYPE", PRINTABLE),)),
    Case("ae_term_over_200_bytes", set_cell("adverse_events", 6, "AETERM", "\xe9" * 101),
         (("adverse_events", 6, "AETERM", "must be at most 200 bytes of text (UTF-8)"),)),
    Case("ae_term_of_200_bytes", set_cell("adverse_events", 6, "AETERM", "\xe9" * 100)),
    Case("usubjid_10000_characters", rename_patient("P08", "P" * 10_000),
         tuple((table, row, "USUBJID", "must be at most 64 bytes of text (UTF-8)")
               for table, row in (("subjects", 9), ("deaths", 4), ("adverse_events", 7)))),
    Case("usubjid_bidi_override", rename_patient("P05", "P\u202e50"),
         tuple((table, row, "USUBJID", PRINTABLE) for table, row in (
             ("subjects", 6), ("relapses", 3), ("relapses", 4), ("mrd", 6),
             ("engraftment", 6), ("adverse_events", 6)))),
    Case("usubjid_mathtext_and_markup", together(
        rename_patient("P05", "$\\frac{1}{0}$"), rename_patient("P07", "<b>P07</b>_x_"))),
    Case("ae_terms_key_syntax_markup_and_formulas", together(*(
        set_cell("adverse_events", row, column, value) for row, column, value in (
            (2, "AETERM", "Nausea;AESER=Y"), (3, "AETERM", "@SUM(1+1)*cmd|' /C calc'!A0"),
            (4, "AETERM", "-@x"), (5, "AETERM", "\\trowd \\row \\cell }{"),
            (6, "AEDECOD", "&lt;b&gt; <!-- c --> _i_ &amp; -- $x$ [click](file:///etc)"),
            (7, "AETERM", '=HYPERLINK("http://example.org","x")'),
            (7, "AEBODSYS", "Infections;PT=Sepsis"))))),
    Case("csv_header_ends_in_empty_cells", write_bytes(
        "subjects", lambda b: b.replace(b"\n", b",,\n"))),
    Case("csv_unnamed_column_holds_a_value", write_bytes(
        "deaths", lambda b: b.replace(b"DTHCAUS\n", b"DTHCAUS,\n")
        .replace(b"RELAPSE\n", b"RELAPSE,note\n")),
         (("deaths", None, "", "column 4 has no header name but holds values (row 2); name "
           "the column in the header or remove it"),)),
)


# Parameters and command lines: each refused with exit 2 before any work (or, last, accepted).
Argv = Callable[[Path], list[str]]


def params_file(body: str, *, cut: bool = True) -> Callable[[Path], Path]:
    """A parameter file in ``folder`` (beside a copy of the fixture cut) holding ``body``."""
    def make(folder: Path) -> Path:
        if cut:
            copy_fixture(folder / "cut")
        path = folder / "params.yml"
        path.write_text(body.format(cut=folder / "cut", out=folder / "output"),
                        encoding="utf-8")
        return path
    return make


GOOD = ("study_id: CORPUS\nstudy_title: Corpus\ndata_dir: {cut}\ndata_cut_date: " + DATA_CUT_DATE
        + "\noutput_dir: {out}\n")
ALIAS_BOMB = ('a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
              + "".join(f"{n}: &{n} [" + ", ".join([f"*{p}"] * 9) + "]\n"
                        for p, n in zip("abcdefgh", "bcdefghi")))


def command(*args: str, params: Callable[[Path], Path] = params_file(GOOD)) -> Argv:
    """``haplo-report`` arguments; ``{params}`` and ``{tmp}`` are filled in per case."""
    def argv(folder: Path) -> list[str]:
        path = params(folder) if any("{params}" in a for a in args) else None
        return [a.format(params=path, tmp=folder) for a in args]
    return argv


@dataclass(frozen=True)
class CliCase:
    name: str
    argv: Argv
    exit_code: int
    message: str  # the one line on stderr (or stdout for exit 0) that must hold this


def _file(name: str, text: str = "x") -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        (folder / name).write_text(text, encoding="utf-8")
        return folder / name
    return make


def _non_empty(folder: Path) -> None:
    (folder / "cut").mkdir()
    (folder / "cut" / "notes.txt").write_text("keep me", encoding="utf-8")


CLI_CASES: tuple[CliCase, ...] = (
    # (3) YAML alias bomb under a known key, (12) YAML keys and the data cut's form
    CliCase("yaml_alias_bomb_study_title",
            command("validate", "{params}", params=params_file(
                ALIAS_BOMB + "study_title: [*i, *i]\n")), 2,
            "more than 10 aliases (*name); write the values out"),
    CliCase("yaml_alias_bomb_landmarks",
            command("run", "{params}", params=params_file(
                GOOD + ALIAS_BOMB.replace("a:", "x:", 1).replace("*a", "*x").replace("&a", "&x")
                + "landmarks_days: *i\n")), 2,
            "more than 10 aliases (*name); write the values out"),
    # Issue 28: text parameters printed in the report are printable, on one line
    CliCase("sponsor_control_character", command("validate", "{params}", params=params_file(
        GOOD + 'sponsor: "Acme\\aCorp"\n')), 2,
        "sponsor: holds a line break, tab or other hidden character (U+0007); write "
        "printable text on one line"),
    CliCase("study_title_bidi_override", command("validate", "{params}", params=params_file(
        GOOD.replace("study_title: Corpus", 'study_title: "Corpus \\u202eevil"'))), 2,
        "study_title: holds a line break, tab or other hidden character (U+202E)"),
    CliCase("confidentiality_line_break", command("validate", "{params}", params=params_file(
        GOOD + 'confidentiality: "Confidential\\n# Injected heading"\n')), 2,
        "confidentiality: holds a line break, tab or other hidden character (U+000A)"),
    CliCase("sponsor_too_long", command("validate", "{params}", params=params_file(
        GOOD + "sponsor: " + "x" * 1001 + "\n")), 2,
        "sponsor: at most 1000 characters, got 1001"),
    CliCase("yaml_duplicate_key", command("validate", "{params}", params=params_file(
        GOOD + "study_id: OTHER\n")), 2, "YAML line 6: key 'study_id' appears more than once"),
    CliCase("yaml_mixed_type_keys", command("validate", "{params}", params=params_file(
        GOOD + "1: a\n")), 2, "parameter names are text, got 1"),
    *(CliCase(f"data_cut_{label}", command("validate", "{params}", params=params_file(
        GOOD.replace(DATA_CUT_DATE, value))), 2,
        f"data_cut_date: {shown} is not a valid date (expected YYYY-MM-DD)")
      for label, value, shown in (("yyyymmdd_integer", "20260630", "20260630"),
                                  ("iso_week", "2026-W27-2", "'2026-W27-2'"),
                                  ("not_padded", "'2026-6-30'", "'2026-6-30'"),
                                  ("quoted_yyyymmdd", "'20260630'", "'20260630'"))),
    CliCase("data_cut_override_yyyymmdd", command("validate", "{params}", "--data-cut-date",
                                                  "20260630"), 2,
            "--data-cut-date: '20260630' is not a valid date (expected YYYY-MM-DD)"),
    # (11) report formats and workers: refused before any work
    CliCase("formats_only_a_comma", command("run", "{params}", "--formats", ","), 2,
            "--formats: an empty format name; name one or more of html, docx, pdf"),
    CliCase("formats_unknown_rtf", command("run", "{params}", "--formats", "html,rtf"), 2,
            "--formats: unknown report format 'rtf' (known: html, docx, pdf)"),
    CliCase("jobs_zero", command("run", "{params}", "--jobs", "0"), 2,
            "--jobs: must be at least 1, got 0"),
    CliCase("jobs_negative", command("run", "{params}", "--jobs", "-1"), 2,
            "--jobs: must be at least 1, got -1"),
    CliCase("stall_timeout_zero", command("run", "{params}", "--stall-timeout", "0"), 2,
            "--stall-timeout: must be a positive number of seconds"),
    # (13) validate --report and simulate
    CliCase("validate_report_impossible_path",
            command("validate", "{params}", "--report", "{tmp}/params.yml/violations.json"), 2,
            "--report: cannot write "),
    CliCase("validate_report_wrong_suffix",
            command("validate", "{params}", "--report", "{tmp}/violations.txt"), 2,
            "--report: use a .csv or .json file name, got violations.txt"),
    CliCase("simulate_negative_seed", command("simulate", "--seed", "-1", "--out", "{tmp}/cut"),
            2, "--seed: must be a whole number >= 0, got -1"),
    CliCase("simulate_out_is_a_file", lambda folder: [
        "simulate", "--out", str(_file("passwd")(folder))], 2, "passwd is a file, not a folder"),
    CliCase("simulate_non_empty_folder", lambda folder: (_non_empty(folder), [
        "simulate", "--out", str(folder / "cut")])[1], 2,
        "is not empty; choose an empty or new folder, or pass --force to replace its tables"),
    CliCase("simulate_non_empty_folder_forced", lambda folder: (_non_empty(folder), [
        "simulate", "--out", str(folder / "cut"), "--n", "5", "--force"])[1], 0,
        "wrote a simulated cut of 5 patients to"),
)

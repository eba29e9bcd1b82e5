"""Reading cut folders: every format gives the same text, so the same typed frames."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from corpus.cases import FIXTURE
from haplo_report.data.cut import TABLES
from haplo_report.data.readers import (UnreadableFileError, _read_csv, _read_csv_carefully, cell_text,
                                  find_tables, read_cut, read_table)
from haplo_report.data.validation import validate_cut

CUT = dt.date(2026, 6, 30)


def _export(frame: pd.DataFrame) -> pd.DataFrame:
    """A typed frame as a database export would hold it: text "" for missing, plain floats."""
    out = frame.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.StringDtype):
            out[column] = out[column].astype(object).where(out[column].notna(), "")
        elif isinstance(out[column].dtype, pd.Int64Dtype):
            out[column] = out[column].astype("float64")
    return out


def _write(folder: Path, file_format: str) -> Path:
    """The valid fixture, typed, written in ``file_format`` by its usual library."""
    cut = validate_cut(FIXTURE, CUT)
    folder.mkdir()
    for name in TABLES:
        frame = _export(cut.table(name))
        path = folder / f"{name}.{file_format}"
        if file_format == "xlsx":
            frame.to_excel(path, index=False, engine="openpyxl")
        elif file_format == "parquet":
            frame.to_parquet(path, index=False)
        else:
            pyreadstat.write_xport(frame, str(path), table_name=name[:8].upper())
    return folder


@pytest.mark.parametrize("file_format", ["xlsx", "parquet", "xpt"])
def test_every_format_validates_to_identical_frames(file_format: str, tmp_path: Path) -> None:
    expected = validate_cut(FIXTURE, CUT)
    got = validate_cut(_write(tmp_path / file_format, file_format), CUT)
    for name in TABLES:
        pd.testing.assert_frame_equal(got.table(name), expected.table(name), check_exact=True)
    assert got.files["subjects"].name == f"subjects.{file_format}"


def test_typed_cells_become_csv_text() -> None:
    assert cell_text(45.0) == "45"
    assert cell_text(0.0005) == "0.0005"
    assert cell_text(5e-05) == "5e-05"
    assert cell_text(7) == "7"
    assert cell_text(pd.Timestamp("2025-03-02")) == "2025-03-02"
    assert cell_text(dt.datetime(2025, 3, 2, 14, 30)) == "2025-03-02T14:30:00"
    assert cell_text(dt.date(2025, 3, 2)) == "2025-03-02"
    assert [cell_text(v) for v in (None, np.nan, pd.NaT, "")] == ["", "", "", ""]
    assert cell_text(b"P01") == "P01"


def test_csv_is_read_as_written_with_file_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "relapses.csv"
    path.write_text("USUBJID,RELDT,RELSITE\nP01, 2025-01-01 ,BM\n\n,,\nP02,NA,\n",
                    encoding="utf-8")
    frame = read_table(path)
    assert list(frame.index) == [2, 5]  # blank and empty rows dropped, numbers kept
    assert frame.loc[2, "RELDT"] == " 2025-01-01 "  # not stripped or parsed here
    assert frame.loc[5, "RELDT"] == "NA" and frame.loc[5, "RELSITE"] == ""  # NA is text


def test_utf8_bom_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "deaths.csv"
    path.write_bytes(b"\xef\xbb\xbfUSUBJID,DTHDT,DTHCAUS\nP01,2025-01-01,GVHD\n")
    assert list(read_table(path).columns) == ["USUBJID", "DTHDT", "DTHCAUS"]


def test_header_only_is_zero_rows(tmp_path: Path) -> None:
    path = tmp_path / "deaths.csv"
    path.write_text("USUBJID,DTHDT,DTHCAUS\n", encoding="utf-8")
    frame = read_table(path)
    assert frame.empty and list(frame.columns) == ["USUBJID", "DTHDT", "DTHCAUS"]


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty (not even a header row)"),
    (b"\xef\xbb\xbf  \n", "the file is empty (not even a header row)"),
    (b"A,B\n1,\"x\"y\n", "not a valid comma-separated table"),
    (b"USUBJID;DTHDT\nP01;2025-01-01\n", "separated by semicolons, not commas"),
    (b"USUBJID\tDTHDT\nP01\t2025-01-01\n", "separated by tabs, not commas"),
    (b"USUBJID,DTHDT\nP01,2025-01-01\nP02,Jos\xe9\n", "not UTF-8 text (byte 0xe9 in line 3)"),
    (b"USUBJID,DTHDT\nP01,2025-01-01,X,Y\n", "row 2 has 4 fields but the header has 2"),
])
def test_unreadable_csv_gives_one_clear_reason(content: bytes, message: str,
                                               tmp_path: Path) -> None:
    path = tmp_path / "deaths.csv"
    path.write_bytes(content)
    with pytest.raises(UnreadableFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_table(path)


def test_broken_binary_files_are_reported_not_raised(tmp_path: Path) -> None:
    for suffix in (".xlsx", ".parquet", ".xpt", ".sas7bdat"):
        (tmp_path / f"x{suffix}").write_bytes(b"not really")
        with pytest.raises(UnreadableFileError, match=f"not a readable"):
            read_table(tmp_path / f"x{suffix}")


def test_find_tables_ignores_other_files_and_flags_two_formats(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "cut")
    folder = tmp_path / "cut"
    (folder / "README.txt").write_text("notes", encoding="utf-8")
    (folder / "notes.csv").write_text("A\n1\n", encoding="utf-8")
    shutil.copy(folder / "mrd.csv", folder / "mrd.parquet")
    files, ambiguous = find_tables(folder)
    assert set(files) == set(TABLES) - {"mrd"}
    assert ambiguous == {"mrd": "the table is supplied in more than one format (mrd.csv, "
                                "mrd.parquet); keep exactly one file"}
    raw = read_cut(folder)
    assert "mrd" not in raw.tables and "mrd" in raw.problems
    assert len(raw.tables["subjects"]) == 8


@settings(max_examples=400, deadline=None)
@given(header=st.text(alphabet="AB ,\t#'", min_size=1, max_size=8),
       body=st.text(alphabet="ab ,\n\r\t#'\\;", max_size=60))
def test_fast_csv_path_reads_exactly_what_the_careful_reader_reads(header: str,
                                                                   body: str) -> None:
    text = header + "\n" + body
    assume("," in header)
    try:
        expected = _read_csv_carefully(text)
    except UnreadableFileError as exc:
        expected = str(exc)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "relapses.csv"
        path.write_text(text, encoding="utf-8", newline="")
        try:
            got = _read_csv(path)
        except UnreadableFileError as exc:
            got = str(exc)
    if isinstance(expected, str):
        assert got == expected
    else:
        pd.testing.assert_frame_equal(got, expected)


def test_quoted_csv_goes_to_the_careful_reader(tmp_path: Path) -> None:
    path = tmp_path / "relapses.csv"
    path.write_text('USUBJID,RELDT,RELSITE\nP01,"2025-01-01",BM\n"P,02",,"a\nb"\n',
                    encoding="utf-8")
    frame = read_table(path)
    assert frame.loc[2].tolist() == ["P01", "2025-01-01", "BM"]
    assert frame.loc[3].tolist() == ["P,02", "", "a\nb"]

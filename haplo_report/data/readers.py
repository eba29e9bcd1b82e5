"""Read a data-cut folder into frames of text, one per table of the data-cut spec.

Every cell becomes the text a CSV export would hold (empty = missing, dates ``YYYY-MM-DD``,
whole numbers without ``.0``), so one cut validates to identical typed frames whatever the file
format. A frame's index is the file row number of each record (the header is row 1), so every
violation can point at the row a data manager sees. Completely empty rows are dropped.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from haplo_report.data.cut import TABLES

FORMATS: tuple[str, ...] = (".csv", ".xlsx", ".parquet", ".xpt", ".sas7bdat")
FIRST_DATA_ROW = 2  # the header is row 1


class UnreadableFileError(Exception):
    """A table file that cannot be read as a table; the message says why, in one line."""


@dataclass
class RawCut:
    """The text tables found in a cut folder, and the files that could not be used."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # table -> reason it was not read


def cell_text(value: object) -> str:
    """One cell as CSV text: missing -> "", dates ISO, whole floats without ".0"."""
    if value is None or value is pd.NaT:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):  # also pd.Timestamp
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def find_tables(data_dir: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """Files of the spec's tables in ``data_dir`` (``<table>.<format>``), and ambiguous tables.

    A table supplied in more than one format is ambiguous: it is returned in the second dict
    with the reason instead of being read.
    """
    found: dict[str, list[Path]] = {}
    for path in sorted(Path(data_dir).iterdir()):
        if path.is_file() and path.stem in TABLES and path.suffix.lower() in FORMATS:
            found.setdefault(path.stem, []).append(path)
    files = {name: paths[0] for name, paths in found.items() if len(paths) == 1}
    ambiguous = {name: "the table is supplied in more than one format ("
                 + ", ".join(p.name for p in paths) + "); keep exactly one file"
                 for name, paths in found.items() if len(paths) > 1}
    return files, ambiguous


def _read_csv(path: Path) -> pd.DataFrame:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")  # a UTF-8 byte-order mark is accepted and removed
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UnreadableFileError(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} in line {line}); "
            "export the file as UTF-8") from None
    if not text.strip():
        raise UnreadableFileError("the file is empty (not even a header row)")
    header = text.splitlines()[0]
    if "," not in header:
        for delimiter, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
            if delimiter in header:
                raise UnreadableFileError(
                    f"the header is separated by {name}, not commas; export as comma-separated")
    # Fast path: pandas' C reader. It is lenient with quotes and NUL bytes, so text holding
    # either goes to the careful reader; a row with surplus fields makes it stop (ParserError)
    # and the careful reader then names the row.
    if '"' not in text and "\0" not in text:
        try:
            rows = pd.read_csv(io.StringIO(text), header=None, dtype=str, na_filter=False,
                               skip_blank_lines=False, engine="c")
        except pd.errors.ParserError:
            pass
        else:
            frame = rows.iloc[1:].set_axis(rows.iloc[0].tolist(), axis=1)
            frame.index = pd.RangeIndex(len(frame)) + FIRST_DATA_ROW
            return frame
    return _read_csv_carefully(text)


def _read_csv_carefully(text: str) -> pd.DataFrame:
    """The csv module, strict: pandas.read_csv would turn surplus fields into an index and
    renumber rows around blank lines; here both stay visible and bad quoting is an error."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise UnreadableFileError(f"not a valid comma-separated table ({exc})") from None
    header = rows[0]
    for number, row in enumerate(rows[1:], start=FIRST_DATA_ROW):
        if len(row) > len(header):
            raise UnreadableFileError(
                f"row {number} has {len(row)} fields but the header has {len(header)}; "
                "quote text that contains commas")
    return _frame(header, rows[1:])


def _frame(header: list[str], body: list[list[str]]) -> pd.DataFrame:
    """Rows of text under ``header`` (short rows padded), indexed by file row number."""
    body = [row + [""] * (len(header) - len(row)) for row in body]
    frame = pd.DataFrame(body, columns=header, dtype=object)
    frame.index = pd.RangeIndex(len(frame)) + FIRST_DATA_ROW
    return frame


def _read_xlsx(path: Path) -> pd.DataFrame:
    import openpyxl  # noqa: PLC0415  (only needed for Excel cuts)

    try:
        book = openpyxl.load_workbook(path, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise UnreadableFileError(f"not a readable Excel workbook ({exc})") from None
    sheet = book.worksheets[0]
    merged = [str(r) for r in sheet.merged_cells.ranges if r.min_row == 1]
    if merged:
        raise UnreadableFileError(
            f"merged cells in the header row ({', '.join(merged)}); use one plain header cell "
            "per column")
    rows = [[cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    if not rows:
        raise UnreadableFileError("the first sheet is empty (not even a header row)")
    header = rows[0]
    while header and header[-1] == "":
        header = header[:-1]
    return _frame(header, [row[: len(header)] for row in rows[1:]])


def _read_typed(path: Path) -> pd.DataFrame:
    """Parquet, SAS transport or SAS7BDAT: typed cells turned into their CSV text."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            import pyreadstat  # noqa: PLC0415  (only needed for SAS cuts)

            reader = pyreadstat.read_xport if suffix == ".xpt" else pyreadstat.read_sas7bdat
            frame, _ = reader(str(path))
    except Exception as exc:  # each backend raises its own types for a broken file
        raise UnreadableFileError(f"not a readable {suffix[1:]} file ({exc})") from None
    frame = frame.astype(object).map(cell_text)
    frame.index = pd.RangeIndex(len(frame)) + FIRST_DATA_ROW
    return frame


def read_table(path: Path) -> pd.DataFrame:
    """One table file as text: every cell a ``str``, index = file row number.

    Raises :class:`UnreadableFileError` with a one-line reason (empty file, not UTF-8, wrong
    delimiter, merged header cells, broken file).
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = _read_csv(path)
    elif suffix == ".xlsx":
        frame = _read_xlsx(path)
    else:
        frame = _read_typed(path)
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.astype(str)
    frame.index.name = "row"
    return frame[(frame != "").any(axis=1)]


def read_cut(data_dir: Path) -> RawCut:
    """Every table file of a cut folder, as text; unusable files are listed in ``problems``."""
    files, problems = find_tables(data_dir)
    raw = RawCut(files=dict(files), problems=dict(problems))
    for name, path in files.items():
        try:
            raw.tables[name] = read_table(path)
        except UnreadableFileError as exc:
            raw.problems[name] = str(exc)
    return raw

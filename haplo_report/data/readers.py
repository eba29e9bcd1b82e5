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
from typing import Any

import pandas as pd
from openpyxl.utils import get_column_letter

from haplo_report.data.cut import TABLES

FORMATS: tuple[str, ...] = (".csv", ".xlsx", ".parquet", ".xpt", ".sas7bdat")
FIRST_DATA_ROW = 2  # the header is row 1
# Excel sheets are read into memory: at most this many cells (rows x header columns); a larger
# table belongs in CSV or Parquet. 20 million cells is a 1,000,000-row table of 20 columns.
MAX_XLSX_CELLS = 20_000_000
EXCERPT = 80  # characters of a library's message quoted in a reason


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
        return value.decode("utf-8")  # UnicodeDecodeError: binary, reported by _read_typed
    return str(value)


def find_tables(data_dir: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """Files of the spec's tables in ``data_dir`` (``<table>.<format>``), and ambiguous tables.

    A table supplied in more than one format is ambiguous, and a link leading out of the
    folder is refused (its values are never read): both are returned in the second dict with
    the reason instead of being read.
    """
    found: dict[str, list[Path]] = {}
    for path in sorted(Path(data_dir).iterdir()):
        if path.stem in TABLES and path.suffix.lower() in FORMATS and (
                path.is_file() or path.is_symlink()):
            found.setdefault(path.stem, []).append(path)
    files = {name: paths[0] for name, paths in found.items() if len(paths) == 1}
    problems = {name: "the table is supplied in more than one format ("
                + ", ".join(p.name for p in paths) + "); keep exactly one file"
                for name, paths in found.items() if len(paths) > 1}
    inside = Path(data_dir).resolve()
    for name, path in list(files.items()):
        target = path.resolve()
        if path.is_symlink() and (not target.is_relative_to(inside) or not target.is_file()):
            problems[name] = (f"{path.name} is a link to a file outside the data folder (or to "
                              "nothing); copy the file itself into the folder")
            del files[name]
    return files, problems


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
    if "\0" in header:  # UTF-8 decodes UTF-16 text without a byte-order mark: NUL-laced
        raise UnreadableFileError("NUL bytes between the header's characters: the file looks "
                                  "like UTF-16 text; export the file as UTF-8")
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
    """The first sheet, streamed (openpyxl read-only mode) and bounded: only the header's columns
    are read, empty rows are skipped, and a sheet beyond :data:`MAX_XLSX_CELLS` cells is refused,
    so a stray cell at XFD1048576 costs a pass over empty rows, not a million-by-16,384 grid.

    A second stream of the same sheet with formulas instead of saved values runs beside the
    first: a formula cell whose saved value is missing is named instead of read as empty.
    """
    import openpyxl  # noqa: PLC0415  (only needed for Excel cuts)

    try:
        books = [openpyxl.load_workbook(path, read_only=True, data_only=data_only)
                 for data_only in (True, False)]
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise UnreadableFileError(f"not a readable Excel workbook ({_excerpt(exc)})") from None
    try:
        return _first_sheet(*books)
    finally:
        for book in books:
            book.close()


def _first_sheet(values_book: Any, formulas_book: Any) -> pd.DataFrame:
    if not values_book.worksheets:
        raise UnreadableFileError("the workbook has no worksheet")
    sheet, formulas = values_book.worksheets[0], formulas_book.worksheets[0]
    if sheet.sheet_state != "visible":
        shown = [s.title for s in values_book.worksheets if s.sheet_state == "visible"]
        raise UnreadableFileError(
            f"the first sheet ({sheet.title[:40]!r}) is hidden; the table is read from the "
            f"first sheet: unhide it or move the table's sheet first (visible: "
            f"{', '.join(repr(t[:40]) for t in shown[:5]) or 'none'})")
    header_cells = next(sheet.iter_rows(max_row=1, values_only=True), ())
    header = [cell_text(v) for v in header_cells]
    while header and header[-1] == "":
        header = header[:-1]
    if not header:
        raise UnreadableFileError("the first sheet is empty (not even a header row)")
    for column, name in enumerate(header, start=1):
        if name == "":
            raise UnreadableFileError(
                f"header cell {get_column_letter(column)}1 is empty (merged or blank header "
                "cells); use one plain header cell per column")
    width = len(header)
    outside = _cell_outside(sheet, width)
    if outside:
        raise UnreadableFileError(
            f"cell {outside} holds a value outside the table (right of the header's last "
            f"column {get_column_letter(width)}); give its column a header or remove it")
    body: list[list[str]] = []
    rows: list[int] = []
    pairs = zip(sheet.iter_rows(min_row=2, max_col=width, values_only=True),
                formulas.iter_rows(min_row=2, max_col=width, values_only=True))
    for number, (values, written) in enumerate(pairs, start=FIRST_DATA_ROW):
        if all(v is None for v in values):
            continue
        if (len(rows) + 1) * width > MAX_XLSX_CELLS:
            raise UnreadableFileError(
                f"more than {MAX_XLSX_CELLS:,} cells in the first sheet; export a table this "
                "large as CSV or Parquet")
        for column, (value, formula) in enumerate(zip(values, written), start=1):
            if value is None and isinstance(formula, str) and formula.startswith("="):
                raise UnreadableFileError(
                    f"cell {get_column_letter(column)}{number} holds a formula without a saved "
                    "value; open and save the workbook in Excel, or export values only")
        body.append([cell_text(v) for v in values])
        rows.append(number)
    frame = pd.DataFrame(body, columns=header, dtype=object)
    frame.index = pd.Index(rows, dtype="int64")
    return frame


def _cell_outside(sheet: Any, width: int) -> str | None:
    """The first cell right of the header's ``width`` columns that holds a value, or None.

    Written against openpyxl's sheet parser, which yields only the cells the file holds:
    the padded rows of ``iter_rows`` would cost a row of 16,384 cells per row for a stray cell
    at XFD1048576. Skipped when the sheet's recorded dimension is within the header.
    """
    from openpyxl.worksheet._reader import WorkSheetParser  # noqa: PLC0415

    if sheet.max_column is not None and sheet.max_column <= width:
        return None
    with sheet._get_source() as source:
        for number, cells in WorkSheetParser(source, sheet._shared_strings).parse():
            for cell in cells:
                if cell["column"] > width and cell["value"] not in (None, ""):
                    return f"{get_column_letter(cell['column'])}{number}"
    return None


def _excerpt(value: object) -> str:
    """The first line of ``value``'s text, cut to :data:`EXCERPT` characters."""
    lines = str(value).strip().splitlines()
    text = lines[0] if lines else ""
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "..."


def _read_typed(path: Path) -> pd.DataFrame:
    """Parquet, SAS transport or SAS7BDAT: typed cells turned into their CSV text.

    Parquet dates and timestamps are read as Python objects, so every year 1..9999 keeps its
    calendar date (pandas' nanosecond range ends in 2262).
    """
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq  # noqa: PLC0415  (only needed for Parquet cuts)

            frame = pq.read_table(path).to_pandas(date_as_object=True, timestamp_as_object=True)
        else:
            import pyreadstat  # noqa: PLC0415  (only needed for SAS cuts)

            reader = pyreadstat.read_xport if suffix == ".xpt" else pyreadstat.read_sas7bdat
            frame, _ = reader(str(path))
    except Exception as exc:  # each backend raises its own types for a broken file
        raise UnreadableFileError(f"not a readable {suffix[1:]} file ({_excerpt(exc)})") from None
    frame = frame.astype(object)
    for position, column in enumerate(frame.columns):
        try:
            frame.isetitem(position, frame.iloc[:, position].map(cell_text))
        except UnicodeDecodeError:
            raise UnreadableFileError(
                f"column {_excerpt(column)} holds binary values that are not UTF-8 text; "
                "export it as text") from None
    frame.index = pd.RangeIndex(len(frame)) + FIRST_DATA_ROW
    return frame


def read_table(path: Path) -> pd.DataFrame:
    """One table file as text: every cell a ``str``, index = file row number.

    Raises :class:`UnreadableFileError` with a one-line reason (empty file, not UTF-8 or UTF-16,
    wrong delimiter, blank or merged header cells, a column named twice, a hidden first sheet, a
    formula without its value, binary values, an oversized sheet, broken file).
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = _read_csv(path)
    elif suffix == ".xlsx":
        frame = _read_xlsx(path)
    else:
        frame = _read_typed(path)
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = _without_unnamed(frame)
    twice = frame.columns[frame.columns.duplicated()]
    if len(twice):
        raise UnreadableFileError(f"column {_excerpt(twice[0])} appears more than once in the "
                                  "header; keep one")
    frame = frame.astype(str)
    frame.index.name = "row"
    return frame[(frame != "").any(axis=1)]


def _without_unnamed(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns without a header name dropped when they hold no value (Excel writes trailing
    empty cells into a CSV header); one holding a value is named as the problem."""
    unnamed = [i for i, name in enumerate(frame.columns) if name == ""]
    for position in unnamed:
        values = frame.iloc[:, position].astype(str)
        filled = values[values.str.strip() != ""]
        if len(filled):
            raise UnreadableFileError(
                f"column {position + 1} has no header name but holds values (row "
                f"{filled.index[0]}); name the column in the header or remove it")
    keep = [i for i in range(frame.shape[1]) if i not in set(unnamed)]
    return frame.iloc[:, keep] if unnamed else frame


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

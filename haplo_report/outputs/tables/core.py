"""``Table``: a numbered, titled, footnoted table written as Markdown, CSV and DOCX, plus the
helpers builders share to look up result rows.

Cells are text, already formatted by :mod:`haplo_report.formatting`; a table never computes.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt

from haplo_report.formatting import fmt_scientific
from haplo_report.analysis.results import ResultRow, results_frame

ACRONYMS = frozenset({"TMA", "VOD", "GVHD", "CRS", "ICANS", "CMV", "EBV", "BM", "PB", "EM"})
INDENT = "\u00a0" * 4  # non-breaking spaces survive Markdown, HTML and Word
FONT = "Arial"
FONT_SIZE = Pt(9)
NOTE_SIZE = Pt(8)
# Fixed archive and document dates: python-docx stamps the current time into both, which
# would make two runs differ in bytes.
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
FIXED_DOC_TIME = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)

POPULATIONS: dict[str, str] = {
    "FAS": "full analysis set", "Enrolled": "enrolled patients", "Safety": "safety set",
}


class TableInputError(ValueError):
    """The result rows a builder needs are missing or ambiguous; the message names them."""


@dataclass(frozen=True)
class Table:
    """One numbered output table (ICH E3), cells already formatted."""

    number: str  # "14.2.1"
    title: str  # "Progression-free survival"
    population: str  # key of POPULATIONS or free text
    data_cut: str  # "2026-03-31"
    columns: tuple[str, ...]  # headers, with N where a column is a population
    rows: tuple[tuple[str, ...], ...]
    indents: tuple[int, ...] = ()  # indentation level of each row's first cell (default 0)
    footnotes: tuple[str, ...] = ()  # method, censoring rule, abbreviations
    source: str = ""  # notebook name, e.g. "03_pfs"
    kind: str = "Table"  # "Table" or "Listing" (per-patient rows)

    def __post_init__(self) -> None:
        width = len(self.columns)
        for row in self.rows:
            if len(row) != width:
                raise TableInputError(f"{self.kind} {self.number}: row {row!r} has "
                                      f"{len(row)} cells, expected {width}")
        if self.indents and len(self.indents) != len(self.rows):
            raise TableInputError(f"{self.kind} {self.number}: {len(self.indents)} indents for "
                                  f"{len(self.rows)} rows")

    @property
    def caption(self) -> str:
        """"Table 14.2.1. Progression-free survival (full analysis set; data cut 2026-03-31)"."""
        population = POPULATIONS.get(self.population, self.population)
        return f"{self.kind} {self.number}. {self.title} ({population}; data cut {self.data_cut})"

    @property
    def source_line(self) -> str:
        return f"Source: notebook {self.source}, data cut {self.data_cut}"

    def display_rows(self) -> list[list[str]]:
        """Rows with the first cell indented by its level."""
        indents = self.indents or (0,) * len(self.rows)
        return [[INDENT * level + row[0], *row[1:]] for row, level in zip(self.rows, indents)]

    def frame(self) -> pd.DataFrame:
        """The cells as a frame (first-column labels without indentation)."""
        return pd.DataFrame([list(r) for r in self.rows], columns=list(self.columns))

    def to_markdown(self) -> str:
        """A pipe table captioned ``Table: ...`` (Pandoc and Quarto caption it), followed by
        the footnotes and source line in a ``table-notes`` div."""

        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

        # numbers right-aligned; a listing's cells are mostly text, left-aligned
        number_align = "---" if self.kind == "Listing" else "--:"
        align = ["---"] + [number_align for _ in self.columns[1:]]
        parts = [line(self.columns), "|" + "|".join(align) + "|"]
        parts += [line(row) for row in self.display_rows()]
        notes = [*self.footnotes, self.source_line]
        body = "\\\n".join(n.replace("|", "\\|") for n in notes)
        return ("\n".join(parts) + f"\n\nTable: {self.caption}\n\n"
                f"::: table-notes\n{body}\n:::\n")

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def to_csv(self, path: Path) -> Path:
        """Headers and cells as UTF-8 CSV (no title or notes: those are in the DOCX)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.frame().to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
        return path

    def to_docx(self, path: Path) -> Path:
        """A Word document: title above, a bordered table with a repeated header row, the
        footnotes and source below; identical bytes for identical tables."""
        document = Document()
        normal = document.styles["Normal"]
        normal.font.name, normal.font.size = FONT, FONT_SIZE
        props = document.core_properties
        props.created = props.modified = FIXED_DOC_TIME
        props.title, props.author, props.last_modified_by = self.caption, "haplo-report", ""
        props.revision = 1
        title = document.add_paragraph()
        title.add_run(self.caption).bold = True
        table = document.add_table(rows=1, cols=len(self.columns))
        table.style = "Table Grid"
        table.alignment = WD_TABLE_ALIGNMENT.LEFT
        for cell, text in zip(table.rows[0].cells, self.columns):
            cell.paragraphs[0].add_run(text).bold = True
        header = table.rows[0]._tr.get_or_add_trPr()
        repeat = OxmlElement("w:tblHeader")
        repeat.set(qn("w:val"), "true")
        header.append(repeat)
        for values in self.display_rows():
            cells = table.add_row().cells
            for i, (cell, text) in enumerate(zip(cells, values)):
                paragraph = cell.paragraphs[0]
                paragraph.add_run(text)
                if i:
                    paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT  # numbers line up
        for note in [*self.footnotes, self.source_line]:
            paragraph = document.add_paragraph()
            paragraph.paragraph_format.space_after = Pt(0)
            paragraph.add_run(note).font.size = NOTE_SIZE
        path.parent.mkdir(parents=True, exist_ok=True)
        return save_docx(document, path)

    def write(self, folder: Path) -> list[Path]:
        """Write ``<number>.csv`` and ``<number>.docx`` into ``folder``."""
        folder = Path(folder)
        return [self.to_csv(folder / f"{self.number}.csv"),
                self.to_docx(folder / f"{self.number}.docx")]


def save_docx(document: DocxDocument, path: Path) -> Path:
    """Save a python-docx document with fixed zip entry times, so equal content gives equal bytes.

    zipfile stamps each entry with the wall clock; Pandoc also copies those stamps from a
    reference document into its output.
    """
    document.save(str(path))
    with zipfile.ZipFile(path) as archive:
        entries = [(info, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in entries:
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(fixed, data)
    return path


# --- looking up result rows -------------------------------------------------------------

Rows = pd.DataFrame | Sequence[ResultRow]


def as_frame(rows: Rows) -> pd.DataFrame:
    """Result rows as a frame (accepts a frame from ``read_results`` or a list of rows)."""
    return rows if isinstance(rows, pd.DataFrame) else results_frame(list(rows))


@dataclass(frozen=True)
class RowLookup:
    """Exact look-up of result rows; a missing or duplicated row is a clear error."""

    frame: pd.DataFrame
    number: str = ""

    def find(self, endpoint: str, subgroup: str, statistic: str,
             time_days: float | None = None) -> pd.Series | None:
        """The one row matching, or ``None`` when there is none."""
        f = self.frame
        mask = (f["endpoint"] == endpoint) & (f["subgroup"] == subgroup) & \
            (f["statistic"] == statistic)
        mask &= f["time_days"].isna() if time_days is None else f["time_days"] == float(time_days)
        hits = f[mask]
        if len(hits) > 1:
            raise TableInputError(f"Table {self.number}: {len(hits)} result rows for "
                                  f"{_describe(endpoint, subgroup, statistic, time_days)}")
        return None if hits.empty else hits.iloc[0]

    def get(self, endpoint: str, subgroup: str, statistic: str,
            time_days: float | None = None) -> pd.Series:
        """The one row matching; :class:`TableInputError` when there is none."""
        row = self.find(endpoint, subgroup, statistic, time_days)
        if row is None:
            raise TableInputError(f"Table {self.number}: no result row for "
                                  f"{_describe(endpoint, subgroup, statistic, time_days)}")
        return row

    def select(self, endpoint: str, statistic: str | None = None) -> pd.DataFrame:
        """All rows of an endpoint (and statistic), in their original order."""
        mask = self.frame["endpoint"] == endpoint
        if statistic is not None:
            mask &= self.frame["statistic"] == statistic
        return self.frame[mask]


def _describe(endpoint: str, subgroup: str, statistic: str, time_days: float | None) -> str:
    when = "" if time_days is None else f" at day {time_days:g}"
    return f"endpoint {endpoint}, subgroup {subgroup}, statistic {statistic}{when}"


def value(row: pd.Series, column: str) -> float | None:
    """A numeric cell of a result row; ``None`` when missing."""
    cell = row[column]
    return None if pd.isna(cell) else float(cell)


def count(row: pd.Series, column: str = "estimate") -> int:
    """A count cell of a result row as an int (missing counts are an input error)."""
    cell = row[column]
    if pd.isna(cell):
        raise TableInputError(f"result row {row['endpoint']}/{row['subgroup']}/"
                              f"{row['statistic']} has no {column}")
    return int(cell)


def sentence_case(text: str) -> str:
    """First letter upper case, the rest as is ("GVHD" stays "GVHD")."""
    return text[:1].upper() + text[1:]


ORGAN_LABELS: dict[str, str] = {"GI": "Gastrointestinal tract", "GUT": "Gastrointestinal tract"}


def code_label(code: str) -> str:
    """A coded value for display: "INFECTION" -> "Infection", "SKIN" -> "Skin", "GI" ->
    "Gastrointestinal tract"; acronyms that are names ("TMA", "VOD", "GVHD") kept."""
    if code in ORGAN_LABELS:
        return ORGAN_LABELS[code]
    return code if code in ACRONYMS else code.capitalize()


def level_label(level: str) -> str:
    """A subgroup level for display: ">=1e-3" -> "≥1×10⁻³", "child" -> "Child"."""
    level = re.sub(r"\d+(?:\.\d+)?e-?\d+", lambda m: fmt_scientific(float(m.group()), 0), level)
    return sentence_case(level.replace(">=", "\u2265").replace("<=", "\u2264"))


def header_n(label: str, n: int) -> str:
    """A column header with its N, e.g. "FAS (N=29)"."""
    return f"{label} (N={n})"


def unique_methods(rows: pd.DataFrame) -> list[str]:
    """The distinct method texts of some rows, in first-seen order."""
    return [m for m in dict.fromkeys(rows["method"].fillna("")) if m]

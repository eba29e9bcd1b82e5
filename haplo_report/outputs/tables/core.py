"""``Table``: a numbered, titled table with notes generated from what it shows, written as
Markdown (the report), CSV, DOCX and RTF (per table), plus the helpers builders share to look
up result rows.

Cells are text, already formatted by :mod:`haplo_report.formatting`; a table never computes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from haplo_report.analysis.results import ResultRow, results_frame
from haplo_report.analysis.summaries import MISSING
from haplo_report.formatting import escape_markdown, fmt_scientific
from haplo_report.outputs.tables.layout import Page, column_needs, orientation
from haplo_report.outputs.tables.notes import table_notes
from haplo_report.outputs.tables.rtf import write_rtf
from haplo_report.outputs.tables.word import save_docx, write_docx
from haplo_report.text import spreadsheet_safe_frame

__all__ = ["Table", "TableInputError", "save_docx"]

ACRONYMS = frozenset({"TMA", "VOD", "GVHD", "CRS", "ICANS", "CMV", "EBV", "BM", "PB", "EM"})
INDENT = "\u00a0" * 4  # Markdown only: non-breaking spaces survive Pandoc into HTML and PDF
LEVEL_COLUMN = "level"  # first CSV column: a row label's hierarchy level (0 SOC, 1 PT, ...)

POPULATIONS: dict[str, str] = {
    "FAS": "full analysis set", "Enrolled": "enrolled patients", "Safety": "safety set",
}


class TableInputError(ValueError):
    """The result rows a builder needs are missing or ambiguous; the message names them."""


@dataclass(frozen=True)
class Table:
    """One numbered output table (ICH E3), cells already formatted.

    ``footnotes`` are the builder's own notes (definitions, event rules); ``methods`` the
    method texts of the result rows shown. :attr:`notes` adds to them what the cells call for.
    """

    number: str  # "14.2.1"
    title: str  # "Progression-free survival"
    population: str  # key of POPULATIONS or free text
    data_cut: str  # "2026-03-31"
    columns: tuple[str, ...]  # headers, with N where a column is a population
    rows: tuple[tuple[str, ...], ...]
    indents: tuple[int, ...] = ()  # hierarchy level of each row's first cell (default 0)
    footnotes: tuple[str, ...] = ()  # definitions and rules this table needs
    source: str = ""  # notebook name, e.g. "03_pfs"
    kind: str = "Table"  # "Table" or "Listing" (per-patient rows)
    methods: tuple[str, ...] = ()  # result rows' method texts, one note line per method

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

    @property
    def levels(self) -> tuple[int, ...]:
        """Each row's hierarchy level (0 without indents)."""
        return self.indents or (0,) * len(self.rows)

    @property
    def notes(self) -> tuple[str, ...]:
        """The notes below the table: its own, one line per method, what its cells show (NE,
        "Not reached", a Missing row) and the abbreviations it uses (:mod:`.notes`)."""
        return table_notes(self.title, self.columns, self.rows, self.footnotes, self.methods)

    def display_rows(self) -> list[list[str]]:
        """Rows with the first cell indented by its level (Markdown)."""
        return [[INDENT * level + row[0], *row[1:]] for row, level in zip(self.rows, self.levels)]

    def frame(self) -> pd.DataFrame:
        """The cells as a frame (first-column labels without indentation)."""
        return pd.DataFrame([list(r) for r in self.rows], columns=list(self.columns))

    def to_markdown(self) -> str:
        """A pipe table captioned ``Table: ...`` (Pandoc and Quarto caption it), followed by
        the notes and source line in a ``table-notes`` div."""

        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(escape_markdown(c) for c in cells) + " |"

        # numbers right-aligned; a listing's cells are mostly text, left-aligned
        number_align = "---" if self.kind == "Listing" else "--:"
        align = ["---"] + [number_align for _ in self.columns[1:]]
        parts = [line(self.columns), "|" + "|".join(align) + "|"]
        parts += [line(row) for row in self.display_rows()]
        notes = [*self.notes, self.source_line]
        body = "\\\n".join(n.replace("|", "\\|") for n in notes)
        return ("\n".join(parts) + f"\n\nTable: {self.caption}\n\n"
                f"::: table-notes\n{body}\n:::\n")

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def to_csv(self, path: Path) -> Path:
        """Headers and cells as CSV with a byte-order mark (Excel then reads "≥" and "×10⁻³");
        a table's first column is each row's hierarchy level. No title or notes: those are in
        the DOCX and RTF. Cells a spreadsheet would run as formulas are quoted (OWASP)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        frame = self.frame()
        if self.kind == "Table":
            frame.insert(0, LEVEL_COLUMN, list(self.levels), allow_duplicates=True)
        spreadsheet_safe_frame(frame).to_csv(path, index=False, lineterminator="\n",
                                             encoding="utf-8-sig")
        return path

    def write(self, folder: Path, study_id: str, page_size: str = "a4") -> list[Path]:
        """Write ``<number>.csv``, ``<number>.docx`` and ``<number>.rtf`` into ``folder``, the
        DOCX and RTF with ``study_id`` and the data cut in every page's header, on landscape
        pages when the table needs them (:func:`.layout.orientation`)."""
        folder = Path(folder)
        turn = orientation(column_needs(self.columns, self.rows, self.levels), self.kind,
                           page_size)
        page = Page(study_id, self.data_cut, page_size, turn)
        return [self.to_csv(folder / f"{self.number}.csv"),
                write_docx(self, folder / f"{self.number}.docx", page),
                write_rtf(self, folder / f"{self.number}.rtf", page)]


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

    def __post_init__(self) -> None:
        # Row positions by (endpoint, subgroup, statistic, time): a table looks up hundreds of
        # rows (Table 14.3.7 one per term and column), a boolean mask each was ~10 ms.
        positions: dict[tuple[Any, ...], list[int]] = {}
        f = self.frame
        for position, key in enumerate(zip(f["endpoint"], f["subgroup"], f["statistic"],
                                           f["time_days"])):
            time = None if pd.isna(key[3]) else float(key[3])
            positions.setdefault((*key[:3], time), []).append(position)
        object.__setattr__(self, "_positions", positions)

    def find(self, endpoint: str, subgroup: str, statistic: str,
             time_days: float | None = None) -> pd.Series | None:
        """The one row matching, or ``None`` when there is none."""
        time = None if time_days is None else float(time_days)
        hits = self._positions.get((endpoint, subgroup, statistic, time), [])  # type: ignore[attr-defined]
        if len(hits) > 1:
            raise TableInputError(f"Table {self.number}: {len(hits)} result rows for "
                                  f"{_describe(endpoint, subgroup, statistic, time_days)}")
        return self.frame.iloc[hits[0]] if hits else None

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


def data_label(level: str | None) -> str:
    """A level from the data shown as typed; missing -> "Missing". A value typed "Missing" (or
    one already in double quotes) is shown in double quotes, so a missing value and a value
    typed "Missing" never share one label (issue 28)."""
    if level is None:
        return MISSING
    if level == MISSING or (len(level) > 1 and level[0] == level[-1] == '"'):
        return f'"{level}"'
    return level


def header_n(label: str, n: int) -> str:
    """A column header with its N, e.g. "FAS (N=29)"."""
    return f"{label} (N={n})"


def unique_methods(rows: pd.DataFrame) -> list[str]:
    """The distinct method texts of some rows, in first-seen order."""
    return [m for m in dict.fromkeys(rows["method"].fillna("")) if m]

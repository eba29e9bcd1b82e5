"""Page layout and type of the per-table files (DOCX, RTF), as constants the consolidated
report reuses so both look the same: page sizes, margins, typeface and sizes, caption and
notes styles, the running header and footer; column widths measured from the content in the
report typeface (no word or number ever broken inside, only prose wrapping, at spaces) and
the page orientation a table needs (issue 25).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from PIL import ImageFont

from haplo_report.typeface import FAMILY, font_files

PAGE_SIZES_CM: dict[str, tuple[float, float]] = {"a4": (21.0, 29.7), "us-letter": (21.59, 27.94)}
MARGIN_CM = 2.0  # every side, as the PDF report
HEADER_DISTANCE_CM = 1.0  # page edge to running header / footer
FONT = FAMILY  # the typeface widths are measured in (the PDF's)
# Word and RTF files, the report's and each table's: Arial, on every writer's machine
# (LibreOffice draws the metric-equal Liberation Sans); DejaVu Sans is wider, so widths
# measured in it fit Arial.
WORD_FONT = RTF_FONT = "Arial"
BODY_PT = 9  # table cells and column headers
CAPTION_PT = 10  # the caption above a table
NOTE_PT = 8  # notes and source line below a table; running header and footer
CAPTION_STYLE = "Table Caption"  # the title style of every table in every Word file (one
# Word "Table of Figures" from this style lists the report's and the per-table files' tables)
NOTES_STYLE = "Table Notes"  # paragraph style of the notes below a table
INDENT_CM = 0.4  # left indent per hierarchy level of a row label
CELL_PADDING_CM = 0.4  # left + right cell margins together (Word's default 0.19 cm a side)
# a number, alone or with its interval in brackets: "72.4 (53.1, 84.9)", "13 (10–16)", "1×10⁻⁹"
NUMBER_START = re.compile(r"^[\d(<>≥≤−\-+.]\S*(\s\(|$)")
PAGE_OF = ("Page ", " of ")  # footer text before the page number and before the page count
RULE_EIGHTHS_PT = 8  # horizontal rules above and below the header and below the table


@dataclass(frozen=True)
class Page:
    """The furniture of every page of a per-table file."""

    study_id: str
    data_cut: str
    size: str = "a4"  # key of PAGE_SIZES_CM
    orientation: str = "portrait"  # or "landscape"

    @property
    def header(self) -> tuple[str, str]:
        """Left and right text of the running header."""
        return self.study_id, f"Data cut {self.data_cut}"

    @property
    def dimensions_cm(self) -> tuple[float, float]:
        """Width and height of the page as it is read."""
        width, height = PAGE_SIZES_CM[self.size]
        return (height, width) if self.orientation == "landscape" else (width, height)

    @property
    def text_width_cm(self) -> float:
        return self.dimensions_cm[0] - 2 * MARGIN_CM


@cache
def _font(bold: bool) -> ImageFont.FreeTypeFont:
    regular, bold_file = font_files()[:2]
    return ImageFont.truetype(str(bold_file if bold else regular), 100)


def text_width_cm(text: str, points: float = BODY_PT, bold: bool = False) -> float:
    """Printed width of ``text`` in the report typeface (FreeType metrics, no guessing)."""
    return _font(bold).getlength(text) / 100 * points / 72 * 2.54


def tokens(cell: str) -> list[str]:
    """The pieces of a cell no line may break: a number with its CI or range ("72.4 (53.1,
    84.9)", "1×10⁻⁹") whole, text (prose, MedDRA terms) word by word."""
    cell = cell.strip()
    if not cell:
        return []
    return [cell] if NUMBER_START.match(cell) else cell.split()


@dataclass(frozen=True)
class ColumnNeeds:
    """What a column needs (cm, cell padding included): ``least`` holds its longest
    unbreakable token and header word, ``most`` its longest cell and header on one line."""

    least: float
    most: float


def column_needs(columns: Sequence[str], rows: Sequence[Sequence[str]],
                 levels: Sequence[int] = (), points: float = BODY_PT,
                 padding_cm: float = CELL_PADDING_CM) -> list[ColumnNeeds]:
    """Each column's :class:`ColumnNeeds` in the report typeface at ``points`` (the first
    column's labels indented by their level). DejaVu Sans is wider than Arial, so widths
    measured in it hold the Word and RTF files' Arial too."""
    levels = levels or (0,) * len(rows)
    needs = []
    for i, header in enumerate(columns):
        indent = [INDENT_CM * level if i == 0 else 0.0 for level in levels]
        cells = [row[i] if i < len(row) else "" for row in rows]
        least = max([text_width_cm(t, points) + pad for cell, pad in zip(cells, indent)
                     for t in tokens(cell)]
                    + [text_width_cm(w, points, bold=True) for w in header.split()] + [0.3])
        most = max([text_width_cm(cell.strip(), points) + pad
                    for cell, pad in zip(cells, indent)]
                   + [text_width_cm(header, points, bold=True), least])
        needs.append(ColumnNeeds(least + padding_cm, most + padding_cm))
    return needs


def fit_columns(needs: Sequence[ColumnNeeds], total_cm: float, *, label: bool = True
                ) -> list[float]:
    """Widths (cm) adding up to ``total_cm``: every column at least its ``least`` (no word
    or number is ever broken inside), the room left shared in proportion to how much more
    each column's longest cell needs, so only prose wraps, at spaces. With room for every
    cell on one line, a ``label`` table gives the rest to its first column, a listing to all
    columns alike. When even the least widths do not fit, they shrink alike (a table that
    cannot fit its page goes on a landscape page first: :func:`orientation`)."""
    least = [n.least for n in needs]
    most = [n.most for n in needs]
    if sum(least) >= total_cm:
        return [w * total_cm / sum(least) for w in least]
    if sum(most) <= total_cm:
        if label:
            return [total_cm - sum(most[1:]), *most[1:]]
        return [w * total_cm / sum(most) for w in most]
    spare = total_cm - sum(least)
    wrap = sum(m - low for m, low in zip(most, least))
    return [low + spare * (m - low) / wrap for m, low in zip(most, least)]


def column_widths(columns: Sequence[str], rows: Sequence[Sequence[str]],
                  levels: Sequence[int], total_cm: float, *, label: bool = True) -> list[float]:
    """Widths (cm) of a per-table file's columns (:func:`fit_columns` of :func:`column_needs`
    at the table type size)."""
    return fit_columns(column_needs(columns, rows, levels), total_cm, label=label)


def orientation(needs: Sequence[ColumnNeeds], kind: str, size: str = "a4") -> str:
    """"landscape" for a table whose unbreakable widths do not fit a portrait page, and for a
    listing (ICH listings commonly are landscape) whose rows would wrap in portrait but fit
    a landscape line better; else "portrait"."""
    portrait = PAGE_SIZES_CM[size][0] - 2 * MARGIN_CM
    if sum(n.least for n in needs) > portrait:
        return "landscape"
    if kind == "Listing" and sum(n.most for n in needs) > portrait:
        return "landscape"
    return "portrait"

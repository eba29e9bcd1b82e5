"""Page layout and type of the per-table files (DOCX, RTF), as constants the consolidated
report reuses so both look the same: page sizes, margins, typeface and sizes, caption and
notes styles, the running header and footer, and column widths fitted to the content.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from PIL import ImageFont

from haplo_report.typeface import FAMILY, font_files

PAGE_SIZES_CM: dict[str, tuple[float, float]] = {"a4": (21.0, 29.7), "us-letter": (21.59, 27.94)}
MARGIN_CM = 2.0  # every side, as the PDF report
HEADER_DISTANCE_CM = 1.0  # page edge to running header / footer
FONT = FAMILY  # the report's typeface (DOCX; RTF offers a fixed font table: Arial there)
RTF_FONT = "Arial"
BODY_PT = 9  # table cells and column headers
CAPTION_PT = 10  # the caption above a table
NOTE_PT = 8  # notes and source line below a table; running header and footer
CAPTION_STYLE = "Caption"  # Word's own caption style: Word builds a list of tables from it
NOTES_STYLE = "Table Notes"  # paragraph style of the notes below a table
INDENT_CM = 0.4  # left indent per hierarchy level of a row label
CELL_PADDING_CM = 0.4  # left + right cell margins together (Word's default 0.19 cm a side)
MIN_LABEL_SHARE = 0.3  # the label column keeps at least this share of a table too wide
PAGE_OF = ("Page ", " of ")  # footer text before the page number and before the page count
RULE_EIGHTHS_PT = 8  # horizontal rules above and below the header and below the table


@dataclass(frozen=True)
class Page:
    """The furniture of every page of a per-table file."""

    study_id: str
    data_cut: str
    size: str = "a4"  # key of PAGE_SIZES_CM

    @property
    def header(self) -> tuple[str, str]:
        """Left and right text of the running header."""
        return self.study_id, f"Data cut {self.data_cut}"

    @property
    def text_width_cm(self) -> float:
        return PAGE_SIZES_CM[self.size][0] - 2 * MARGIN_CM


@cache
def _font(bold: bool) -> ImageFont.FreeTypeFont:
    regular, bold_file = font_files()[:2]
    return ImageFont.truetype(str(bold_file if bold else regular), 100)


def text_width_cm(text: str, points: float = BODY_PT, bold: bool = False) -> float:
    """Printed width of ``text`` in the report typeface (FreeType metrics, no guessing)."""
    return _font(bold).getlength(text) / 100 * points / 72 * 2.54


def header_width_cm(header: str) -> float:
    """The narrowest width at which a bold header fits on two lines (split between words)."""
    words = header.split()
    if len(words) < 2:
        return text_width_cm(header, bold=True)
    return min(max(text_width_cm(" ".join(words[:k]), bold=True),
                   text_width_cm(" ".join(words[k:]), bold=True))
               for k in range(1, len(words)))


def _fit(needs: list[float], total_cm: float) -> list[float]:
    """Columns wider than a common cap shrink to it, narrower ones keep their width: short
    values (patient numbers, counts) never wrap, the longest texts do."""
    cap = total_cm / len(needs)
    for need in sorted(needs):
        narrower = [n for n in needs if n <= need]
        wider = len(needs) - len(narrower)
        if not wider or (total_cm - sum(narrower)) / wider < need:
            break
        cap = (total_cm - sum(narrower)) / wider
    return [min(need, cap) for need in needs]


def column_widths(columns: Sequence[str], rows: Sequence[Sequence[str]],
                  levels: Sequence[int], total_cm: float, *, label: bool = True) -> list[float]:
    """Widths (cm) adding up to ``total_cm``: every column as wide as its longest cell, its
    header on one line where the page has room, else on at most two. With a ``label`` column (first), it takes the space left over,
    or gives it up down to :data:`MIN_LABEL_SHARE` of the width before the others shrink;
    without one (a listing) the widest columns give up space first, or all grow alike."""
    needs, one_line = [], []
    for i, header in enumerate(columns):
        cells = max([text_width_cm(row[i]) + (INDENT_CM * level if i == 0 else 0)
                     for row, level in zip(rows, levels)] + [0.5])
        needs.append(max(cells, header_width_cm(header)) + CELL_PADDING_CM)
        one_line.append(max(cells, text_width_cm(header, bold=True)) + CELL_PADDING_CM)
    if sum(one_line) <= total_cm:  # room enough: headers on one line
        needs = one_line
    if sum(needs) <= total_cm and not label:
        return [need * total_cm / sum(needs) for need in needs]
    if sum(needs) > total_cm and not label:
        return _fit(needs, total_cm)
    first = max(total_cm - sum(needs[1:]), min(needs[0], MIN_LABEL_SHARE * total_cm))
    return [first, *_fit(needs[1:], total_cm - first)] if len(needs) > 1 else [total_cm]

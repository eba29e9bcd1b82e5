"""A table or listing as RTF (the pharma TLF exchange format), composed with rtflite: the same
caption, column headers, cells, notes, source line and page furniture as the Word file, column
widths from :func:`.layout.column_widths`; rtflite breaks the pages itself and repeats the
caption and column headers on each, so every reader shows the same pages.

Two things rtflite does not do right are done here, on its output. Per-row attributes (the
indent of a hierarchy level) restart at row 0 on every page, so the levels are set on the
rows afterwards (:func:`indent_rows`). And it writes characters 128-255 as raw UTF-8 bytes,
which RTF readers take for the ANSI code page ("×" becomes "Ã—"), so every non-ASCII
character is written as an RTF ``\\u`` escape and the file is plain ASCII.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import rtflite as rtf
from rtflite.fonts_mapping import FontMapping

from haplo_report.outputs.tables.layout import (BODY_PT, CAPTION_PT, HEADER_DISTANCE_CM,
                                                INDENT_CM, MARGIN_CM, NOTE_PT, PAGE_OF,
                                                PAGE_SIZES_CM, RTF_FONT, Page, column_widths)

if TYPE_CHECKING:
    from haplo_report.outputs.tables.core import Table

TWIPS_PER_CM = 1440 / 2.54
LINE_CM = BODY_PT * 1.32 / 72 * 2.54  # a 9 pt table line with rtflite's spacing
SPARE_LINES = 6  # rtflite's line count is an estimate: leave room for caption and header
HEADER_ROW = re.compile(r"\{\\f\d+\\b ")  # a bold cell: the column header, on every page
# Control words of rtflite's output, never the same letters in escaped text (where every
# backslash is doubled, so the word's backslash follows another): "\trowd \row" in a term.
ROW_START = re.compile(r"(?<!\\)\\trowd(?![a-z])")
ROW_END = re.compile(r"(?<!\\)\\row(?![a-z])")


def escape(text: str) -> str:
    """Text safe inside RTF: backslash and braces escaped (rtflite passes them through)."""
    return text.replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}")


def ascii_rtf(code: str) -> str:
    """RTF code with every non-ASCII character as a ``\\uN?`` escape (UTF-16 units, signed)."""
    out = []
    for char in code:
        if ord(char) < 128:
            out.append(char)
            continue
        units = char.encode("utf-16-le")
        for i in range(0, len(units), 2):
            unit = int.from_bytes(units[i:i + 2], "little")
            out.append(f"\\u{unit - 65536 if unit > 32767 else unit}?")
    return "".join(out)


def page_fields(font: int) -> str:
    """The footer "Page x of y" as RTF fields. ``{\\chpgn}`` is grouped: a bare control word
    swallows the space after it; the page count's result carries the footer's font (LibreOffice
    draws an unformatted one in the document's default font)."""
    count = (f"{{\\field{{\\*\\fldinst NUMPAGES }}"
             f"{{\\fldrslt {{\\f{font - 1}\\fs{NOTE_PT * 2} 1}}}}}}")
    return f"{PAGE_OF[0]}{{\\chpgn}}{PAGE_OF[1]}{count}"


def rtf_document(table: Table, page: Page) -> rtf.RTFDocument:
    """The rtflite document of ``table`` on ``page``."""
    font = FontMapping.get_font_name_to_number_mapping()[RTF_FONT]
    levels = table.levels
    listing = table.kind == "Listing"
    widths = column_widths(table.columns, table.rows, levels, page.text_width_cm,
                           label=not listing)
    n = len(table.columns)
    justify = ["l", *(["l" if listing else "r"] * (n - 1))]
    names = [f"c{i}" for i in range(n)]  # headers may repeat or be empty; rtflite needs names
    frame = pl.DataFrame([[escape(row[i]) for row in table.rows] for i in range(n)],
                         schema=names, orient="col")
    width_cm, height_cm = PAGE_SIZES_CM[page.size]
    margins = [MARGIN_CM] * 4 + [HEADER_DISTANCE_CM] * 2
    left, right = page.header
    header_stop = round(page.text_width_cm * TWIPS_PER_CM)
    return rtf.RTFDocument(
        df=frame,
        rtf_page=rtf.RTFPage(
            orientation="portrait", width=width_cm / 2.54, height=height_cm / 2.54,
            margin=[m / 2.54 for m in margins], col_width=page.text_width_cm / 2.54,
            nrow=int((height_cm - 2 * MARGIN_CM) / LINE_CM) - SPARE_LINES,
            border_first="single", border_last="single"),
        rtf_page_header=rtf.RTFPageHeader(
            text=[f"\\tqr\\tx{header_stop} {escape(left)}\\tab {escape(right)}"],
            text_justification=["l"], text_font=[font], text_font_size=[NOTE_PT]),
        rtf_page_footer=rtf.RTFPageFooter(text=[page_fields(font)], text_font=[font],
                                          text_font_size=[NOTE_PT]),
        rtf_title=rtf.RTFTitle(text=[escape(table.caption)], text_justification=["l"],
                               text_format=["b"], text_font=[font],
                               text_font_size=[CAPTION_PT], text_convert=[False],
                               text_space_before=[0.0], text_space_after=[120.0]),
        rtf_column_header=[rtf.RTFColumnHeader(
            text=[escape(c) for c in table.columns], col_rel_width=widths,
            text_justification=justify, text_format=["b"] * n, text_font=[font] * n,
            text_font_size=[BODY_PT] * n, text_convert=[False] * n,
            border_left=[""] * n, border_right=[""] * n, border_top=["single"] * n,
            border_bottom=["single"] * n)],
        rtf_body=rtf.RTFBody(
            col_rel_width=widths, text_justification=[justify], text_font=[[font]],
            text_font_size=[[BODY_PT]], text_convert=[[False]],
            border_left=[[""]], border_right=[[""]], border_top=[[""]],
            border_bottom=[[""]]),
        rtf_footnote=rtf.RTFFootnote(
            text=[escape(note) for note in table.notes], as_table=False,
            text_justification=[["l"]], text_font=[[font]], text_font_size=[[NOTE_PT]],
            text_convert=[[False]]) if table.notes else None,
        rtf_source=rtf.RTFSource(
            text=[escape(table.source_line)], as_table=False, text_justification=[["l"]],
            text_font=[[font]], text_font_size=[[NOTE_PT]], text_convert=[[False]]),
    )


def indent_rows(code: str, levels: Sequence[int]) -> str:
    """Each body row's label indented by its level (``\\li`` of its first cell), counting
    body rows across pages; every row kept whole (``\\trkeep``)."""
    chunks = re.split(f"(?={ROW_START.pattern})", code)
    body = [i for i, chunk in enumerate(chunks)
            if ROW_START.match(chunk)
            and not HEADER_ROW.search(ROW_END.split(chunk, 1)[0])]  # the row, not what follows
    if len(body) != len(levels):
        raise ValueError(f"RTF has {len(body)} body rows for {len(levels)} table rows")
    for i, level in zip(body, levels):
        indent = round(INDENT_CM * level * TWIPS_PER_CM)
        chunks[i] = chunks[i].replace("\\li0", f"\\li{indent}", 1)
    return ROW_START.sub(r"\\trowd\\trkeep", "".join(chunks))


def write_rtf(table: Table, path: Path, page: Page) -> Path:
    """``table`` as an ASCII RTF file at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    code = indent_rows(rtf_document(table, page).rtf_encode(), table.levels)
    path.write_text(ascii_rtf(code), encoding="ascii", newline="\n")
    return path

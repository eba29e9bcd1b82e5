"""A table or listing as RTF (the pharma TLF exchange format): the same caption, column
headers, cells, notes, source line and page furniture as the Word file, column widths from
:func:`.layout.column_widths`. rtflite composes the table as one page; the reader breaks the
pages (rtflite's own breaks, from an estimate of the lines, fell anywhere after a wrapped row
and left pages without column headers), repeating the header row (``\\trhdr``), and the
title and notes stand in the page header and footer, as SAS ODS RTF puts them
(:func:`furniture`).

What rtflite does not do is done here, on its output: repeated header rows, rows kept
whole and with the next where a break would orphan them, the indent of a hierarchy level
(:func:`keep_rows`). And rtflite writes characters 128-255 as raw UTF-8 bytes,
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
                                                RTF_FONT, Page, column_widths)

if TYPE_CHECKING:
    from haplo_report.outputs.tables.core import Table

TWIPS_PER_CM = 1440 / 2.54
HEADER_ROW = re.compile(r"\{\\f\d+\\b ")  # a bold cell: the column header, on every page
# Control words of rtflite's output, never the same letters in escaped text (where every
# backslash is doubled, so the word's backslash follows another): "\trowd \row" in a term.
ROW_START = re.compile(r"(?<!\\)\\trowd(?![a-z])")
ROW_END = re.compile(r"(?<!\\)\\row(?![a-z])")
CELL_START = re.compile(r"(?<!\\)\\pard\\hyphpar0(?![0-9])")  # a cell's paragraph


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
             f"{{\\fldrslt {{\\f{font}\\fs{NOTE_PT * 2} 1}}}}}}")
    return f"{PAGE_OF[0]}{{\\chpgn}}{PAGE_OF[1]}{count}"


def _paragraph(text: str, font: int, points: float, *, bold: bool = False, align: str = "l",
               after_twips: int = 0, tab_twips: int | None = None) -> str:
    tab = f"\\tqr\\tx{tab_twips}" if tab_twips is not None else ""
    weight = "\\b" if bold else ""
    return (f"{{\\pard\\plain\\hyphpar0\\keep\\q{align}\\sa{after_twips}{tab}"
            f"\\f{font}\\fs{round(points * 2)}{weight} {text}\\par}}")


def furniture(table: Table, page: Page, font: int) -> str:
    """The pages' header and footer, as SAS ODS RTF writes titles and footnotes: the header
    holds the running header (study, data cut) and the table's title, "(continued)" after the
    first page; the footer holds the notes, the source line and "Page x of y". So every page
    shows what its rows are, and notes are never split from their table or left alone."""
    stop = round(page.text_width_cm * TWIPS_PER_CM)
    left, right = page.header
    running = _paragraph(f"{escape(left)}\\tab {escape(right)}", font, NOTE_PT,
                         after_twips=120, tab_twips=stop)

    def header(kind: str, suffix: str) -> str:
        title = _paragraph(escape(table.caption + suffix), font, CAPTION_PT, bold=True,
                           after_twips=120)
        return f"{{\\{kind}{running}{title}}}"

    notes = "".join(_paragraph(escape(note), font, NOTE_PT)
                    for note in [*table.notes, table.source_line])
    footer = notes + _paragraph(page_fields(font), font, NOTE_PT, align="c")
    return ("\\titlepg\n" + header("headerf", "") + "\n" + header("header", " (continued)")
            + f"\n{{\\footerf{footer}}}\n{{\\footer{footer}}}\n")


def font_number() -> int:
    """The typeface's number in rtflite's font table (``\\fN``)."""
    return FontMapping.get_font_name_to_number_mapping()[RTF_FONT] - 1


def rtf_document(table: Table, page: Page) -> rtf.RTFDocument:
    """The rtflite document of ``table``'s rows on ``page``: column header and body, in one
    table that the reader breaks into pages (title and notes: :func:`furniture`)."""
    font = font_number() + 1  # rtflite counts fonts from 1
    levels = table.levels
    listing = table.kind == "Listing"
    widths = column_widths(table.columns, table.rows, levels, page.text_width_cm,
                           label=not listing)
    n = len(table.columns)
    justify = ["l", *(["l" if listing else "r"] * (n - 1))]
    names = [f"c{i}" for i in range(n)]  # headers may repeat or be empty; rtflite needs names
    frame = pl.DataFrame([[escape(row[i]) for row in table.rows] for i in range(n)],
                         schema=names, orient="col")
    width_cm, height_cm = page.dimensions_cm
    margins = [MARGIN_CM] * 4 + [HEADER_DISTANCE_CM] * 2
    return rtf.RTFDocument(
        df=frame,
        rtf_page=rtf.RTFPage(
            orientation=page.orientation, width=width_cm / 2.54, height=height_cm / 2.54,
            margin=[m / 2.54 for m in margins], col_width=page.text_width_cm / 2.54,
            nrow=len(table.rows) + 2,  # one rtflite page: the reader breaks pages itself
            border_first="single", border_last="single"),
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
    )


def keep_rows(code: str, levels: Sequence[int]) -> str:
    """Rows laid out as a reader needs them: the column header repeated on every page
    (``\\trhdr``), every row kept whole (``\\trkeep``), each body row's label indented by
    its level (``\\li`` of its first cell, counting body rows across pages), and rows kept
    with the next (``\\keepn``) where a page break would orphan them: the header with the
    first two rows, a group heading row (a label followed by deeper ones) with its first two."""
    chunks = re.split(f"(?={ROW_START.pattern})", code)
    rows = [i for i, chunk in enumerate(chunks) if ROW_START.match(chunk)]
    header = [i for i in rows
              if HEADER_ROW.search(ROW_END.split(chunks[i], 1)[0])]  # the row, not what follows
    body = [i for i in rows if i not in header]
    if len(body) != len(levels):
        raise ValueError(f"RTF has {len(body)} body rows for {len(levels)} table rows")
    keep = set(header) | set(body[:1])
    for k, level in enumerate(levels):
        if k + 1 < len(levels) and levels[k + 1] > level:  # a group heading row
            keep |= set(body[k:k + 2])
    for i in header:
        chunks[i] = ROW_START.sub(r"\\trowd\\trhdr", chunks[i], count=1)
    for i, level in zip(body, levels):
        indent = round(INDENT_CM * level * TWIPS_PER_CM)
        chunks[i] = chunks[i].replace("\\li0", f"\\li{indent}", 1)
    for i in keep:
        chunks[i] = CELL_START.sub(r"\\pard\\hyphpar0\\keepn", chunks[i])
    return ROW_START.sub(r"\\trowd\\trkeep", "".join(chunks))


def write_rtf(table: Table, path: Path, page: Page) -> Path:
    """``table`` as an ASCII RTF file at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    code = keep_rows(rtf_document(table, page).rtf_encode(), table.levels)
    at = code.index("\\paperw")
    code = code[:at] + furniture(table, page, font_number()) + code[at:]
    path.write_text(ascii_rtf(code), encoding="ascii", newline="\n")
    return path

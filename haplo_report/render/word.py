"""The Word report: its reference document (styles, page, running header and footer) and the
table layout both renderers' DOCX output gets afterwards.

Pandoc and Quarto take styles, page size, margins, header and footer from the reference
document (``reference-doc``); what a reference document cannot say per table (bold repeated
header rows, rows that do not split, widths fitted to the content, a short table kept with its
notes) is set on the rendered file by :func:`finish_docx`, on either renderer's output.
"""

from __future__ import annotations

import copy
import io
import math
import subprocess
from dataclasses import dataclass
from pathlib import Path

import docx
import pypandoc
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT, WD_TAB_LEADER
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docx.table import Table
from docx.text.paragraph import Paragraph

from haplo_report.outputs.tables.core import save_docx
from haplo_report.outputs.tables.layout import (WORD_FONT, column_needs, fit_columns,
                                                text_width_cm)
from haplo_report.outputs.tables.word import kept_rows, one_typeface, page_field
from haplo_report.render.markdown import NOTES_DOCX_STYLE, TITLE_DOCX_STYLES

FONT = WORD_FONT  # the per-table Word and RTF files' typeface, so all look alike
PAGE_SIZES = {"a4": (Cm(21.0), Cm(29.7)), "us-letter": (Cm(21.59), Cm(27.94))}
MARGIN = Cm(2.0)
KEEP_TOGETHER_ROWS = 30  # a table up to this many rows stays on one page with its notes,
KEEP_TOGETHER_LINES = 40  # when its rows print on at most this many lines (a page: ~60)
INDENT = "\u00a0"  # table labels arrive indented with non-breaking spaces (4 per level)
INDENT_PER_LEVEL = Cm(0.35)
TABLE_PT = 9  # the Word report's table text (the reference document's Table style)
# Paragraph styles of the Word report's contents and lists entries (levels 1 and 2); each
# entry's page is a PAGEREF field after a dotted tab (_page_references)
CONTENTS_STYLES = ("Contents 1", "Contents 2")


@dataclass(frozen=True)
class Furniture:
    """What every page's header and footer and the title page say."""

    study_id: str
    protocol: str
    sponsor: str
    data_cut: str
    run_date: str
    status: str
    version: str
    confidentiality: str
    page_size: str = "a4"

    @property
    def header(self) -> str:
        return f"{self.study_id}   Protocol {self.protocol}   Data cut {self.data_cut}"

    @property
    def footer(self) -> str:
        return f"Report version {self.version}, run {self.run_date}   Confidential"


def _tab_stops(paragraph, width) -> None:
    """A right-aligned tab stop at the text width (status, page numbers to the right)."""
    paragraph.paragraph_format.tab_stops.add_tab_stop(width, alignment=2)  # RIGHT


def write_reference_docx(path: Path, furniture: Furniture) -> Path:
    """Pandoc's default Word styles, adjusted: ruled 9 pt tables, bold upright caption styles
    that keep with the table (Word builds lists of tables and figures from them), a "Table
    Notes" style, one font, the run's page size and margins, and the running header
    (study, protocol, data cut, status) and footer (version, run date, "Page x of y").

    Pandoc's own "Table" style rules only the header row; medical writers copy these tables
    into Word documents, where a fully ruled table is the expected look. Generated from
    Pandoc's data file rather than committed as a binary, so the change stays readable.
    """
    reference = subprocess.run([pypandoc.get_pandoc_path(), "--print-default-data-file",
                                "reference.docx"], capture_output=True, check=True).stdout
    document = docx.Document(io.BytesIO(reference))
    styles = document.styles
    style = styles["Table"]
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        edge = OxmlElement(f"w:{side}")
        edge.set(qn("w:val"), "single")
        edge.set(qn("w:sz"), "4")
        edge.set(qn("w:color"), "808080")
        borders.append(edge)
    # schema order inside w:tblPr: ... w:tblInd, w:tblBorders, ..., w:tblCellMar
    style.element.find(qn("w:tblPr")).find(qn("w:tblInd")).addnext(borders)
    style.font.size = Pt(9)
    one_typeface(document, FONT)  # headings too: their theme font (Aptos Display) replaced
    for name in ("Normal", "Body Text", "First Paragraph", "Compact", "Title", "Subtitle",
                 "Author", "Date", "Heading 1", "Heading 2", "Heading 3"):
        if name in [s.name for s in styles]:
            font = styles[name].font
            font.color.rgb = RGBColor(0x1A, 0x1A, 0x1A) if name.startswith("Heading") else None
    for name in ("Header", "Footer"):  # the page number fields take the size of their text
        if name in [s.name for s in styles]:
            styles[name].font.size = Pt(8)
    for name in set(TITLE_DOCX_STYLES.values()):
        caption = styles[name]
        caption.font.italic = False
        caption.font.bold = True
        caption.font.size = Pt(9.5)
        caption.paragraph_format.keep_with_next = True
        caption.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.LEFT
        caption.paragraph_format.space_before = Pt(10)
        caption.paragraph_format.space_after = Pt(4)
    section = document.sections[0]
    section.page_width, section.page_height = PAGE_SIZES[furniture.page_size]
    for level, name in enumerate(CONTENTS_STYLES):
        entry = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        entry.base_style = styles["Normal"]
        entry.paragraph_format.left_indent = Cm(0.6 * level)
        entry.paragraph_format.space_before = Pt(3 if level == 0 else 0)
        entry.paragraph_format.space_after = Pt(0)
        entry.paragraph_format.tab_stops.add_tab_stop(
            section.page_width - 2 * MARGIN, WD_TAB_ALIGNMENT.RIGHT, WD_TAB_LEADER.DOTS)
    notes = styles.add_style(NOTES_DOCX_STYLE, WD_STYLE_TYPE.PARAGRAPH)
    notes.base_style = styles["Normal"]
    notes.font.size = Pt(8)
    notes.paragraph_format.space_before = Pt(2)
    notes.paragraph_format.space_after = Pt(10)

    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, MARGIN)
    text_width = section.page_width - 2 * MARGIN
    header = section.header.paragraphs[0]
    header.text = f"{furniture.header}\t{furniture.status}"
    _tab_stops(header, text_width)
    footer = section.footer.paragraphs[0]
    footer.text = f"{furniture.footer}\tPage "
    _tab_stops(footer, text_width)
    page_field(footer, "PAGE")
    footer.add_run(" of ")
    page_field(footer, "NUMPAGES")
    for paragraph in (header, footer):
        for run in paragraph.runs:
            run.font.size = Pt(8)
            run.font.name = FONT
    return save_docx(document, path)


def _text_width(document: docx.document.Document) -> int:
    """The text width of the document's last section; the reference document's A4 text width
    when the document has no page set-up (no section, or one without size or margins)."""
    sections = document.sections
    if len(sections):
        section = sections[-1]
        sizes = (section.page_width, section.left_margin, section.right_margin)
        if None not in sizes:
            return sizes[0] - sizes[1] - sizes[2]
    return PAGE_SIZES["a4"][0] - 2 * MARGIN


def _set_widths(table: Table, widths: list[int]) -> None:
    """Fixed column widths (EMU) on the grid and every cell, so Word and LibreOffice agree."""
    properties = table._tbl.tblPr
    width = properties.find(qn("w:tblW"))
    if width is None:
        width = OxmlElement("w:tblW")
        properties.append(width)
    width.set(qn("w:type"), "dxa")
    width.set(qn("w:w"), str(sum(widths) // 635))
    layout = properties.find(qn("w:tblLayout"))
    if layout is None:
        layout = OxmlElement("w:tblLayout")
        width.addnext(layout)
    layout.set(qn("w:type"), "fixed")
    for column, value in zip(table._tbl.tblGrid.findall(qn("w:gridCol")), widths):
        column.set(qn("w:w"), str(value // 635))
    for row in table.rows:
        for cell, value in zip(row.cells, widths):
            cell.width = value


def fitted_widths(rows: list[list[str]], text_width: int) -> list[int]:
    """Column widths (EMU) measured in the report typeface (:func:`.layout.column_needs`): as
    wide as the content needs when it fits, else every column at least its longest word or
    number, the rest shared by the columns that wrap; never wider than the text."""
    columns = max(len(r) for r in rows)
    cells = [r + [""] * (columns - len(r)) for r in rows]
    needs = column_needs(cells[0], cells[1:], points=TABLE_PT)
    total_cm = text_width / 360000
    if sum(n.most for n in needs) <= total_cm:
        return [int(n.most * 360000) for n in needs]
    return [int(w * 360000) for w in fit_columns(needs, total_cm)]


def _sections(document: docx.document.Document) -> None:
    """The section breaks around landscape tables (render.markdown.SECTION_OPENXML marks
    them with an orientation only) completed from the document's last section: page size,
    margins, header and footer, turned for landscape."""
    body = document.element.body
    last = body.sectPr
    for marker in list(body.iterchildren(qn("w:p"))):
        properties = marker.pPr
        section = None if properties is None else properties.find(qn("w:sectPr"))
        if section is None or last is None:
            continue
        size = section.find(qn("w:pgSz"))
        landscape = size is not None and size.get(qn("w:orient")) == "landscape"
        complete = copy.deepcopy(last)
        page = complete.find(qn("w:pgSz"))
        if page is not None and landscape:
            width, height = page.get(qn("w:w")), page.get(qn("w:h"))
            page.set(qn("w:w"), height)
            page.set(qn("w:h"), width)
            page.set(qn("w:orient"), "landscape")
        properties.replace(section, complete)


def _printed_lines(cells: list[list[str]], widths: list[int]) -> int:
    """About how many 9-pt lines the rows take at ``widths`` (EMU): per row, its cell that
    wraps most (measured in the report typeface, rounded up)."""
    total = 0
    for row in cells:
        total += max((math.ceil(text_width_cm(text, TABLE_PT) * 360000
                                / max(width - 0.4 * 360000, 1)) or 1)
                     for text, width in zip(row, widths)) if row else 1
    return total


def _bold(cell) -> None:
    for paragraph in cell.paragraphs:
        for run in paragraph.runs:
            run.bold = True


def _indent_labels(table: Table) -> list[int]:
    """Leading non-breaking spaces of a row label become a paragraph indent (Word wraps an
    indented label under its own start, not under the spaces); each body row's level."""
    levels = []
    for row in table.rows[1:]:
        paragraph = row.cells[0].paragraphs[0]
        runs = paragraph.runs
        if not runs or not runs[0].text.startswith(INDENT):
            levels.append(0)
            continue
        text = runs[0].text
        stripped = text.lstrip(INDENT)
        level = (len(text) - len(stripped)) // 4
        runs[0].text = stripped
        paragraph.paragraph_format.left_indent = INDENT_PER_LEVEL * max(level, 1)
        levels.append(max(level, 1))
    return levels


def _breaks_before(document: docx.document.Document) -> None:
    """A paragraph holding only a page break (before each chapter) becomes "page break
    before" on the paragraph that follows (none after a section break, which starts a page
    itself): on a full page the break paragraph itself moved to a new page and broke again,
    leaving a blank page."""
    body = document.element.body
    for paragraph in list(body.iterchildren(qn("w:p"))):
        breaks = paragraph.findall(f".//{qn('w:br')}[@{qn('w:type')}='page']")
        following = paragraph.getnext()
        if (not breaks or "".join(paragraph.itertext()).strip()
                or paragraph.find(f".//{qn('w:sectPr')}") is not None
                or following is None or following.tag != qn("w:p")):
            continue
        before = paragraph.getprevious()
        if before is None or before.find(f".//{qn('w:sectPr')}") is None:  # a section starts
            Paragraph(following, None).paragraph_format.page_break_before = True  # a page
        body.remove(paragraph)


def _bookmarks_inside(document: docx.document.Document) -> None:
    """A bookmark Pandoc opens between body blocks, around a whole section, made the
    bookmark of the heading paragraph that opens it: LibreOffice loses one that starts
    after a table or ends after one, and a page reference to it read "Error: Reference
    source not found". Page references and links need only its start."""
    body = document.element.body
    ends = {end.get(qn("w:id")): end for end in body.iter(qn("w:bookmarkEnd"))}
    for start in list(body.iterchildren(qn("w:bookmarkStart"))):
        following = start.getnext()
        while following is not None and following.tag == qn("w:bookmarkStart"):
            following = following.getnext()
        if following is None or following.tag != qn("w:p"):
            continue
        properties = following.find(qn("w:pPr"))
        if properties is not None:
            properties.addnext(start)
        else:
            following.insert(0, start)
        end = ends.get(start.get(qn("w:id")))
        if end is not None:
            following.append(end)


def _page_references(document: docx.document.Document) -> None:
    """Each contents entry (:data:`CONTENTS_STYLES`, one link to a heading or title) followed
    by a tab and its page: a PAGEREF field to the link's bookmark, marked dirty so Word
    fills it on opening; LibreOffice computes it when it lays the document out."""
    for paragraph in document.paragraphs:
        if paragraph.style is None or paragraph.style.name not in CONTENTS_STYLES:
            continue
        link = paragraph._p.find(qn("w:hyperlink"))
        anchor = None if link is None else link.get(qn("w:anchor"))
        if not anchor:
            continue
        paragraph.add_run("\t")
        page_field(paragraph, f"PAGEREF {anchor} \\h", points=9)
        paragraph._p[-1].set(qn("w:dirty"), "true")


def _keep_notes(document: docx.document.Document) -> None:
    """A table's notes never split from each other, nor a note across pages: each notes
    paragraph kept whole and with the next notes paragraph."""
    paragraphs = document.paragraphs
    for paragraph, following in zip(paragraphs, [*paragraphs[1:], None]):
        if paragraph.style is None or paragraph.style.name != NOTES_DOCX_STYLE:
            continue
        paragraph.paragraph_format.keep_together = True
        if following is not None and following.style is not None \
                and following.style.name == NOTES_DOCX_STYLE:
            paragraph.paragraph_format.keep_with_next = True


def _keep_with_next(row) -> None:
    for cell in row.cells:
        for paragraph in cell.paragraphs:
            paragraph.paragraph_format.keep_with_next = True


def _row_property(row, name: str) -> None:
    properties = row._tr.get_or_add_trPr()
    if properties.find(qn(f"w:{name}")) is None:
        element = OxmlElement(f"w:{name}")
        element.set(qn("w:val"), "true")
        properties.append(element)


def finish_docx(path: Path) -> Path:
    """Table layout of a rendered report, in place: header rows (repeated on each page, as
    the renderer marks them) bold, rows that never split across pages, labels indented by
    paragraph, widths fitted where the renderer left them equal, a short table kept on one
    page with its notes, a long one kept from orphaning rows (:func:`kept_rows`), and the
    section breaks around landscape tables completed."""
    document = docx.Document(str(path))
    text_width = _text_width(document)
    _sections(document)
    _keep_notes(document)
    _bookmarks_inside(document)
    _breaks_before(document)
    _page_references(document)
    for table in document.tables:
        rows = table.rows
        if not rows:
            continue
        header = [r for r in rows if r._tr.trPr is not None
                  and r._tr.trPr.find(qn("w:tblHeader")) is not None]  # Pandoc marks them
        for row in header:
            for cell in row.cells:
                _bold(cell)
        for row in rows:
            _row_property(row, "cantSplit")
        levels = _indent_labels(table)
        width = table._tbl.tblPr.find(qn("w:tblW"))
        cells = [[c.text for c in row.cells] for row in rows]
        widths = fitted_widths(cells, text_width)
        if width is None or width.get(qn("w:type")) == "auto":
            _set_widths(table, widths)
        short = (len(rows) <= KEEP_TOGETHER_ROWS
                 and _printed_lines(cells, widths) <= KEEP_TOGETHER_LINES)
        kept = range(len(rows)) if short else kept_rows(levels)
        for r in kept:
            _keep_with_next(rows[r])
    return save_docx(document, path)

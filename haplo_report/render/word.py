"""The Word report: its reference document (styles, page, running header and footer) and the
table layout both renderers' DOCX output gets afterwards.

Pandoc and Quarto take styles, page size, margins, header and footer from the reference
document (``reference-doc``); what a reference document cannot say per table (bold repeated
header rows, rows that do not split, widths fitted to the content, a short table kept with its
notes) is set on the rendered file by :func:`finish_docx`, on either renderer's output.
"""

from __future__ import annotations

import io
import subprocess
from dataclasses import dataclass
from pathlib import Path

import docx
import pypandoc
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docx.table import Table

from haplo_report.outputs.tables.core import save_docx
from haplo_report.outputs.tables.word import page_field
from haplo_report.render.markdown import NOTES_DOCX_STYLE, TITLE_DOCX_STYLES

FONT = "Arial"  # the per-table Word files' font (outputs.tables.core), so both look alike
PAGE_SIZES = {"a4": (Cm(21.0), Cm(29.7)), "us-letter": (Cm(21.59), Cm(27.94))}
MARGIN = Cm(2.0)
KEEP_TOGETHER_ROWS = 30  # a table up to this many rows stays on one page with its notes
INDENT = "\u00a0"  # table labels arrive indented with non-breaking spaces (4 per level)
INDENT_PER_LEVEL = Cm(0.35)
_CHAR_WIDTH = Cm(0.19)  # average 9 pt Arial character, for fitting column widths
_CELL_PADDING = Cm(0.4)


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
    for name in ("Normal", "Body Text", "First Paragraph", "Compact", "Title", "Subtitle",
                 "Author", "Date", "Heading 1", "Heading 2", "Heading 3"):
        if name in [s.name for s in styles]:
            font = styles[name].font
            font.name = FONT
            font.color.rgb = RGBColor(0x1A, 0x1A, 0x1A) if name.startswith("Heading") else None
    for name in set(TITLE_DOCX_STYLES.values()):
        caption = styles[name]
        caption.font.italic = False
        caption.font.bold = True
        caption.font.size = Pt(9.5)
        caption.paragraph_format.keep_with_next = True
        caption.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.LEFT
        caption.paragraph_format.space_before = Pt(10)
        caption.paragraph_format.space_after = Pt(4)
    notes = styles.add_style(NOTES_DOCX_STYLE, WD_STYLE_TYPE.PARAGRAPH)
    notes.base_style = styles["Normal"]
    notes.font.size = Pt(8)
    notes.paragraph_format.space_before = Pt(2)
    notes.paragraph_format.space_after = Pt(10)

    section = document.sections[0]
    section.page_width, section.page_height = PAGE_SIZES[furniture.page_size]
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
    """Column widths (EMU) from the longest cell of each column, header words unbroken; the
    table is as wide as its content needs, never wider than the text."""
    columns = max(len(r) for r in rows)
    need = []
    for i in range(columns):
        cells = [r[i] for r in rows if i < len(r)]
        words = max((len(w) for w in cells[0].split()), default=0) if cells else 0
        longest = max((len(c) for c in cells), default=0)
        need.append(max(words, min(longest, 45 if i == 0 else 24), 3) * _CHAR_WIDTH
                    + _CELL_PADDING)
    total = sum(need)
    scale = min(1.0, text_width / total)
    return [int(n * scale) for n in need]


def _bold(cell) -> None:
    for paragraph in cell.paragraphs:
        for run in paragraph.runs:
            run.bold = True


def _indent_labels(table: Table) -> None:
    """Leading non-breaking spaces of a row label become a paragraph indent (Word wraps an
    indented label under its own start, not under the spaces)."""
    for row in table.rows[1:]:
        paragraph = row.cells[0].paragraphs[0]
        runs = paragraph.runs
        if not runs or not runs[0].text.startswith(INDENT):
            continue
        text = runs[0].text
        stripped = text.lstrip(INDENT)
        level = (len(text) - len(stripped)) // 4
        runs[0].text = stripped
        paragraph.paragraph_format.left_indent = INDENT_PER_LEVEL * max(level, 1)


def _row_property(row, name: str) -> None:
    properties = row._tr.get_or_add_trPr()
    if properties.find(qn(f"w:{name}")) is None:
        element = OxmlElement(f"w:{name}")
        element.set(qn("w:val"), "true")
        properties.append(element)


def finish_docx(path: Path) -> Path:
    """Table layout of a rendered report, in place: header rows (repeated on each page, as
    the renderer marks them) bold, rows that never split across pages, labels indented by
    paragraph, widths fitted where the renderer left them equal, and a short table kept on
    one page with its notes."""
    document = docx.Document(str(path))
    text_width = _text_width(document)
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
        _indent_labels(table)
        width = table._tbl.tblPr.find(qn("w:tblW"))
        if width is None or width.get(qn("w:type")) == "auto":
            cells = [[c.text for c in row.cells] for row in rows]
            _set_widths(table, fitted_widths(cells, text_width))
        if len(rows) <= KEEP_TOGETHER_ROWS:
            for row in rows:
                for cell in row.cells:
                    for paragraph in cell.paragraphs:
                        paragraph.paragraph_format.keep_with_next = True
    return save_docx(document, path)

"""A table as a Word document laid out like the consolidated report (:mod:`.layout`): caption
in the report's caption style, one typeface (theme fonts replaced), column widths fitted to
the content, landscape when the table needs it, bold header row repeated on every page, rows
that do not split nor leave a row orphaned (:func:`kept_rows`), levels as paragraph indents,
notes kept with the table, running header (study, data cut; from page 2 the title
"(continued)") and footer (page x of y); identical bytes for identical tables.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path
from collections.abc import Sequence
from typing import TYPE_CHECKING

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docx.text.paragraph import Paragraph

from haplo_report.outputs.tables.layout import (BODY_PT, CAPTION_PT, CAPTION_STYLE,
                                                HEADER_DISTANCE_CM, INDENT_CM, MARGIN_CM,
                                                NOTE_PT, NOTES_STYLE,
                                                RULE_EIGHTHS_PT, WORD_FONT, PAGE_OF, Page,
                                                column_widths)

if TYPE_CHECKING:
    from haplo_report.outputs.tables.core import Table

# Fixed archive and document dates: python-docx stamps the current time into both, which
# would make two runs differ in bytes (tables are byte-identical for the same inputs). A table's
# document date is its data cut at 00:00 UTC (doc_time), the fixed stamp XPT and define.xml
# carry too; the consolidated report is dated by its run instead.
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
BLACK = RGBColor(0, 0, 0)


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


def one_typeface(document: DocxDocument, name: str = WORD_FONT) -> None:
    """``name`` for every script in the document defaults and in every style, the theme's
    fonts replaced (a style's ``asciiTheme`` outranks its font name: Word drew headings in the
    theme's Aptos Display)."""
    styles = document.styles.element
    defaults = styles.find(qn("w:docDefaults"))
    elements = [] if defaults is None else list(defaults.iter(qn("w:rPr")))
    elements += [style.get_or_add_rPr() for style in styles.iter(qn("w:style"))]
    for rpr in elements:
        if rpr.find(qn("w:rFonts")) is None:
            rpr.insert(0, OxmlElement("w:rFonts"))
    for fonts in styles.iter(qn("w:rFonts")):  # table styles' conditional parts too
        for key in ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme"):
            fonts.attrib.pop(qn(f"w:{key}"), None)
        for key in ("ascii", "hAnsi", "eastAsia", "cs"):
            fonts.set(qn(f"w:{key}"), name)


def doc_time(data_cut: str) -> dt.datetime:
    """A table's fixed document date: its data cut at 00:00 UTC."""
    day = dt.date.fromisoformat(data_cut)
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


def set_styles(document: DocxDocument) -> None:
    """The Word typeface and sizes on Normal, header and footer; the report's caption style
    (bold upright black, kept with the table); a Table Notes style for notes."""
    for name, size in (("Normal", BODY_PT), ("Header", NOTE_PT), ("Footer", NOTE_PT)):
        style = document.styles[name]
        style.font.size = Pt(size)
        style.paragraph_format.space_after = Pt(0)
        style.paragraph_format.space_before = Pt(0)
        style.paragraph_format.line_spacing = 1.0
    caption = document.styles.add_style(CAPTION_STYLE, WD_STYLE_TYPE.PARAGRAPH)
    caption.base_style = document.styles["Normal"]
    caption.font.size = Pt(CAPTION_PT)
    caption.font.bold, caption.font.italic, caption.font.color.rgb = True, False, BLACK
    caption.paragraph_format.space_after = Pt(6)
    caption.paragraph_format.keep_with_next = True
    notes = document.styles.add_style(NOTES_STYLE, WD_STYLE_TYPE.PARAGRAPH)
    notes.base_style = document.styles["Normal"]
    notes.font.size = Pt(NOTE_PT)
    notes.paragraph_format.keep_together = True
    one_typeface(document)


def set_page(document: DocxDocument, page: Page, continued: str = "") -> None:
    """Page size, orientation and margins; running header "study ... Data cut" and footer
    "Page x of y"; from the second page on, ``continued`` (the title with "(continued)")
    under the running header."""
    section = document.sections[0]
    width, height = page.dimensions_cm
    section.page_width, section.page_height = Cm(width), Cm(height)
    section.orientation = (WD_ORIENT.LANDSCAPE if page.orientation == "landscape"
                           else WD_ORIENT.PORTRAIT)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(MARGIN_CM))
    section.header_distance = section.footer_distance = Cm(HEADER_DISTANCE_CM)
    document.styles["Header"].paragraph_format.tab_stops.clear_all()  # the template's Letter tabs
    header = section.header.paragraphs[0]
    header.paragraph_format.tab_stops.add_tab_stop(Cm(page.text_width_cm),
                                                   WD_TAB_ALIGNMENT.RIGHT)
    left, right = page.header
    header.add_run(f"{left}\t{right}")
    if continued:
        section.different_first_page_header_footer = True
        first = section.first_page_header.paragraphs[0]
        first.paragraph_format.tab_stops.add_tab_stop(Cm(page.text_width_cm),
                                                      WD_TAB_ALIGNMENT.RIGHT)
        first.add_run(f"{left}\t{right}")
        title = section.header.add_paragraph(continued, style=CAPTION_STYLE)
        title.paragraph_format.space_before = Pt(6)
    footers = [section.footer] + ([section.first_page_footer] if continued else [])
    for part in footers:
        footer = part.paragraphs[0]
        footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
        footer.add_run(PAGE_OF[0])
        page_field(footer, "PAGE")
        footer.add_run(PAGE_OF[1])
        page_field(footer, "NUMPAGES")


def page_field(paragraph: Paragraph, code: str, points: float = NOTE_PT) -> None:
    """A Word field (PAGE, NUMPAGES) whose value Word and LibreOffice fill in, its result in
    the size of the text around it (a field run without one is drawn at the default size)."""
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), code)
    run = OxmlElement("w:r")
    properties = OxmlElement("w:rPr")
    for tag in ("w:sz", "w:szCs"):
        properties.append(_element(tag, val=str(round(points * 2))))
    run.append(properties)
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    field.append(run)
    paragraph._p.append(field)


def _element(tag: str, **attributes: str) -> OxmlElement:
    element = OxmlElement(tag)
    for key, value in attributes.items():
        element.set(qn(f"w:{key}"), value)
    return element


def _rule(side: str) -> OxmlElement:
    return _element(f"w:{side}", val="single", sz=str(RULE_EIGHTHS_PT), space="0", color="000000")


def add_table(document: DocxDocument, table: Table, width_cm: float) -> None:
    """The table itself: rules above and below the header and below the last row only."""
    levels = table.levels
    listing = table.kind == "Listing"
    widths = column_widths(table.columns, table.rows, levels, width_cm, label=not listing)
    grid = document.add_table(rows=1 + len(table.rows), cols=len(table.columns))
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    grid.autofit = False
    properties = grid._tbl.tblPr  # children in schema order: tblW, jc, tblBorders, tblLayout
    width = properties.find(qn("w:tblW"))
    width.set(qn("w:w"), str(round(width_cm / 2.54 * 1440)))
    width.set(qn("w:type"), "dxa")
    borders = _element("w:tblBorders")
    borders.append(_rule("top"))
    borders.append(_rule("bottom"))
    properties.insert_element_before(borders, "w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook")
    for column, width in zip(grid.columns, widths):
        column.width = Cm(width)
    right = [not listing and i > 0 for i in range(len(table.columns))]
    keep = kept_rows(levels)
    for r, row in enumerate(grid.rows):
        row_properties = row._tr.get_or_add_trPr()
        row_properties.append(_element("w:cantSplit"))
        if r == 0:
            row_properties.append(_element("w:tblHeader"))
        values = table.columns if r == 0 else table.rows[r - 1]
        for c, (cell, text) in enumerate(zip(row.cells, values)):
            cell.width = Cm(widths[c])
            paragraph = cell.paragraphs[0]
            paragraph.add_run(text).bold = r == 0
            if right[c]:
                paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            if r and c == 0 and levels[r - 1]:
                paragraph.paragraph_format.left_indent = Cm(INDENT_CM * levels[r - 1])
            if r == 0:
                borders = _element("w:tcBorders")
                borders.append(_rule("bottom"))
                cell._tc.get_or_add_tcPr().insert_element_before(
                    borders, "w:shd", "w:noWrap", "w:tcMar", "w:textDirection", "w:tcFitText",
                    "w:vAlign", "w:hideMark")
                cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.BOTTOM
            if r in keep:
                paragraph.paragraph_format.keep_with_next = True


def kept_rows(levels: Sequence[int]) -> set[int]:
    """Rows (0: the header) kept with the next one, so that no page break orphans a row: the
    header with the first two rows, a group heading row (a label followed by deeper ones)
    with its first two, and the last two rows with the notes below."""
    n = len(levels)
    keep = {0, 1} | {n - 1, n}
    for k in range(n - 1):
        if levels[k + 1] > levels[k]:
            keep |= {k + 1, k + 2}
    return {r for r in keep if r <= n}


def write_docx(table: Table, path: Path, page: Page) -> Path:
    """Caption, table, notes and source line as a Word document at ``path``."""
    document = Document()
    props = document.core_properties
    props.created = props.modified = doc_time(table.data_cut)
    props.title, props.author, props.last_modified_by = table.caption, "haplo-report", ""
    props.revision = 1
    set_styles(document)
    set_page(document, page, f"{table.caption} (continued)")
    document.add_paragraph(table.caption, style=CAPTION_STYLE)
    add_table(document, table, page.text_width_cm)
    notes = [*table.notes, table.source_line]
    for i, note in enumerate(notes):
        paragraph = document.add_paragraph(note, style=NOTES_STYLE)
        paragraph.paragraph_format.space_before = Pt(4 if i == 0 else 0)
        paragraph.paragraph_format.keep_with_next = i < len(notes) - 1
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_docx(document, path)

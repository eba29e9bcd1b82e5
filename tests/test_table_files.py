"""Per-table files read back as a reader would: every numbered table and listing of the shared
real run (conftest ``real_run``) as CSV (level column, byte-order mark), DOCX (python-docx:
page, running header and footer, caption style, bold repeated header, rows kept whole,
fitted column widths, indents) and RTF (striprtf: the same cells as the CSV)."""

from __future__ import annotations

from pathlib import Path

import docx
import pandas as pd
import pytest
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm
from striprtf.striprtf import rtf_to_text

from conftest import REAL_CUT_DATE, REAL_STUDY, RealRun
from haplo_report.outputs.tables import Table
from haplo_report.outputs.tables.layout import CAPTION_STYLE, INDENT_CM
from haplo_report.outputs.tables.notes import GLOSSARY, abbreviations_used


@pytest.fixture(scope="module")
def tables(real_run: RealRun) -> Path:
    assert real_run.exit_code == 0, real_run.stderr
    return real_run.run_dir / "tables"


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def csv_cells(path: Path) -> list[list[str]]:
    """Header and rows of a table CSV without its level column."""
    frame = read_csv(path)
    frame = frame.drop(columns="level") if "level" in frame.columns else frame
    header = [c if not c.startswith("Unnamed: ") else "" for c in frame.columns]
    return [header, *frame.values.tolist()]


def rtf_rows(path: Path, width: int) -> list[list[str]]:
    """Table rows of an RTF file as a reader library sees them (a repeated header once)."""
    rows = [line.split("|")[:-1] for line in rtf_to_text(path.read_text(encoding="ascii"))
            .splitlines() if line.endswith("|")]
    rows = [row for row in rows if len(row) == width]
    return [row for i, row in enumerate(rows) if i == 0 or row != rows[0]]


def test_every_table_and_listing_has_csv_docx_and_rtf(tables: Path) -> None:
    numbers = {p.stem for p in tables.glob("*.csv")}
    assert {"14.1.1", "14.2.1", "14.3.7", "16.2.6"} <= numbers
    for number in numbers:
        assert (tables / f"{number}.docx").is_file() and (tables / f"{number}.rtf").is_file()


def test_csv_has_a_byte_order_mark_and_the_hierarchy_level(tables: Path) -> None:
    for path in tables.glob("*.csv"):
        assert path.read_bytes().startswith(b"\xef\xbb\xbf"), path.name
    socpt = read_csv(tables / "14.3.7.csv")
    assert socpt.columns[0] == "level" and set(socpt["level"]) == {"0", "1"}
    assert socpt.iloc[0, 1] == "Any adverse event" and socpt.iloc[0, 0] == "0"
    first_pt = socpt[socpt["level"] == "1"].iloc[0]
    assert not first_pt.iloc[1].startswith((" ", "\u00a0"))  # the level says it, not spaces
    assert "level" not in read_csv(tables / "16.2.6.csv").columns  # a listing has no levels


def test_rtf_holds_the_same_cells_as_the_csv(tables: Path) -> None:
    for path in sorted(tables.glob("*.rtf")):
        expected = csv_cells(path.with_suffix(".csv"))
        assert rtf_rows(path, len(expected[0])) == expected, path.name
        code = path.read_text(encoding="ascii")  # plain ASCII: every other sign escaped
        assert "\\header" in code and REAL_STUDY in code and str(REAL_CUT_DATE) in code
        assert "\\chpgn" in code and "NUMPAGES" in code
        a4 = (round(21.0 / 2.54 * 1440), round(29.7 / 2.54 * 1440))
        # A4, portrait or (a listing whose rows would wrap in portrait) landscape
        assert f"\\paperw{a4[0]}\\paperh{a4[1]}" in code or (
            path.stem.startswith("16.") and f"\\paperw{a4[1]}\\paperh{a4[0]}" in code)


def test_rtf_keeps_signs_readable(tables: Path) -> None:
    text = rtf_to_text((tables / "14.1.2.rtf").read_text(encoding="ascii"))
    assert "\u22651\u00d710\u207b\u00b3" in text and "Ã" not in text


def test_docx_page_header_footer_and_caption(tables: Path) -> None:
    for path in sorted(tables.glob("*.docx")):
        document = docx.Document(str(path))
        section = document.sections[0]
        size = (round(section.page_width.cm, 1), round(section.page_height.cm, 1))
        assert size == (21.0, 29.7) or (path.stem.startswith("16.") and size == (29.7, 21.0))
        header = section.header.paragraphs[0].text
        assert REAL_STUDY in header and f"Data cut {REAL_CUT_DATE}" in header, path.name
        footer = section.footer.paragraphs[0]._p
        fields = [f.get(qn("w:instr")) for f in footer.iter(qn("w:fldSimple"))]
        assert fields == ["PAGE", "NUMPAGES"] and "Page" in footer.xml and " of " in footer.xml
        caption = document.paragraphs[0]
        assert caption.style.name == CAPTION_STYLE and caption.text.startswith(
            ("Table ", "Listing ")) and path.stem in caption.text
        assert caption.style.font.bold and not caption.style.font.italic


def test_docx_header_row_bold_repeated_rows_whole(tables: Path) -> None:
    for path in sorted(tables.glob("*.docx")):
        table = docx.Document(str(path)).tables[0]
        header = table.rows[0]
        assert header._tr.trPr.find(qn("w:tblHeader")) is not None, path.name
        assert all(run.bold for cell in header.cells for p in cell.paragraphs for run in p.runs)
        assert all(row._tr.trPr.find(qn("w:cantSplit")) is not None for row in table.rows)
        assert not any(run.bold for row in table.rows[1:] for cell in row.cells
                       for p in cell.paragraphs for run in p.runs)


def test_docx_columns_fit_content_numbers_right_under_right_headers(tables: Path) -> None:
    document = docx.Document(str(tables / "14.3.7.docx"))
    table = document.tables[0]
    widths = [column.width for column in table.columns]
    assert widths[0] > 2 * widths[1] and abs(sum(widths) - Cm(17)) < Cm(0.01)
    for row in table.rows:
        assert all(c.paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.RIGHT for c in row.cells[1:])
    rows = read_csv(tables / "14.3.7.csv")
    for row, level in zip(table.rows[1:], rows["level"]):
        label = row.cells[0].paragraphs[0]
        assert "\u00a0" not in label.text
        indent = label.paragraph_format.left_indent
        assert round(indent.cm if indent else 0, 2) == INDENT_CM * int(level)
    listing = docx.Document(str(tables / "16.2.6.docx")).tables[0]
    patient, *_, status = [column.width for column in listing.columns]
    assert status > patient  # the long status text gets the room, the patient number no wrap


def test_notes_list_only_abbreviations_the_table_shows(tables: Path) -> None:
    for path in sorted(tables.glob("*.docx")):
        document = docx.Document(str(path))
        notes = [p.text for p in document.paragraphs[1:]]
        shown = "\n".join([document.paragraphs[0].text, *notes[:-2],
                           *(c.text for row in document.tables[0].rows for c in row.cells)])
        expected = abbreviations_used([shown])  # the abbreviation line, then the source line
        if expected:
            assert notes[-2] == "; ".join(f"{a}: {GLOSSARY[a]}" for a in expected) + "."
        else:
            assert not notes[-2].startswith(tuple(f"{a}: " for a in GLOSSARY)), path.name
        assert not any("ADTTE" in note or "Method: " in note for note in notes), path.name
    pfs = [p.text for p in docx.Document(str(tables / "14.2.1.docx")).paragraphs]
    assert not any("GRFS" in text or "NRM" in text for text in pfs)


def test_rtf_pages_repeat_caption_and_header_and_keep_every_level(tmp_path: Path) -> None:
    """The reader breaks a long table into pages: the caption stands in every page's header
    ("(continued)" after the first), the column header row repeats (``\\trhdr``), each
    level-1 row keeps its indent."""
    rows, levels = [], []
    for soc in range(12):
        rows.append((f"System organ class {soc}", "3 (10.7)"))
        levels.append(0)
        for pt in range(8):
            rows.append((f"Preferred term {soc}.{pt}", "1 (3.6)"))
            levels.append(1)
    table = Table("14.3.7", "AEs", "Safety", "2026-07-31", ("Term", "Any grade (N=28)"),
                  tuple(rows), tuple(levels), source="11_safety")
    code = table.write(tmp_path, "TEST")[2].read_text(encoding="ascii")
    assert "\\page" not in code and code.count("\\trhdr") == 1
    assert "\\titlepg" in code and code.count("\\b Table 14.3.7. AEs") == 2  # first, others
    assert code.count("Table 14.3.7. AEs (safety set; data cut 2026-07-31) (continued)") == 1
    indent = f"\\li{round(INDENT_CM * 1440 / 2.54)}\\ri0\\ql\\fs18{{\\f3 Preferred term"
    assert code.count(indent) == levels.count(1)
    assert rtf_rows(tmp_path / "14.3.7.rtf", 2) == csv_cells(tmp_path / "14.3.7.csv")

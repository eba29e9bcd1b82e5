"""The report rendered without Quarto (Pandoc + Typst) from a small fake run folder, read back:
HTML text, DOCX through python-docx, PDF text page by page through pypdf."""

from __future__ import annotations

import re
import shutil

import docx
from docx.oxml.ns import qn
import pytest
from pypdf import PdfReader

from haplo_report.render import RenderError, render_report
from render_fake_run import CODE_MARKER, FIGURE_CAPTION, PROTOCOL, SPONSOR, make_fake_run

CHAPTERS = ["Synopsis", "Statistical methods", "14.1 Study population", "Study population",
            "14.2 Efficacy", "Progression-free survival", "14.3 Safety",
            "Adverse events and deaths", "16.2 Patient data listings", "Patient data listings",
            "Appendices", "Data validation", "Provenance"]
TABLE_TITLES = ["Table 14.1.1 Disposition and analysis sets", "Table 14.2.1 Progression-free survival",
                "Table 14.3.7 Adverse events by system organ class", "Synopsis: endpoints of the registration",
                "Listing 16.2.6. MRD status at 1 year by patient", FIGURE_CAPTION]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory):
    run_dir = make_fake_run(tmp_path_factory.mktemp("run"))
    return run_dir, render_report(run_dir, renderer="pandoc")


@pytest.fixture(scope="module")
def html(rendered) -> str:
    return rendered[1].outputs["html"].read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def pdf_pages(rendered) -> list[str]:
    return [re.sub(r"\s+", " ", page.extract_text())
            for page in PdfReader(rendered[1].outputs["pdf"]).pages]


@pytest.fixture(scope="module")
def pdf_text(pdf_pages) -> str:
    return " ".join(pdf_pages)


def test_outputs_named_by_study_and_cut(rendered):
    run_dir, result = rendered
    assert result.renderer == "pandoc"
    assert {f: p.name for f, p in result.outputs.items()} == {
        "html": "HAPLO-BLIN-ALL_2026-01-31.html", "docx": "HAPLO-BLIN-ALL_2026-01-31.docx",
        "pdf": "HAPLO-BLIN-ALL_2026-01-31.pdf"}
    assert all(p.parent == run_dir / "report" and p.stat().st_size > 0
               for p in result.outputs.values())


def test_html_has_every_chapter_in_order_and_table_titles(html):
    headings = [re.sub(r"<[^>]+>", "", h).strip()
                for h in re.findall(r"<h[12][^>]*>(.*?)</h[12]>", html, re.S)]
    assert [h for h in headings if h in CHAPTERS] == CHAPTERS
    for title in TABLE_TITLES:
        assert title in html
    assert '<nav id="TOC"' in html
    assert html.count("<table") >= 10  # real tables, not text


def test_html_is_self_contained(html):
    urls = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']*)', html)
    assert urls and not [u for u in urls if re.match(r"(https?:)?//", u)]
    assert not re.search(r"@import\s+url\(\s*['\"]?http", html)
    assert "mathjax" not in html.lower()
    assert 'src="data:image/png;base64,' in html  # the notebook's figure, inlined


def test_code_and_noise_hidden_outputs_kept(html, pdf_text):
    for text in (html, pdf_text):
        assert CODE_MARKER not in text
        assert "DeprecationWarning" not in text  # stderr
        assert "DataFrame repr" not in text  # HTML-only view of a frame
        assert "Figure size" not in text  # object repr beside the image
        assert "Median follow-up 412 days" in text  # printed (stdout) output is kept
    assert "<table><tr><td>html</td>" not in html  # markdown alternative preferred


def test_synopsis_numbers_from_results(html):
    row = re.search(r"Progression-free survival \(primary\) at 1 year, %</td>(.*?)</tr>", html,
                    re.S)
    assert row and re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))[:3] == [
        "64.5 (45.4, 78.6)", "31", "11 relapses or deaths"]
    agvhd = re.search(r"grade III-IV by day 100, %</td>\s*<td[^>]*>(.*?)</td>", html)
    assert agvhd.group(1) == "NE"
    assert "Neutrophil recovery" not in html  # SAP v3: registration endpoints only


def test_docx_tables_are_word_tables_with_the_numbers(rendered):
    document = docx.Document(rendered[1].outputs["docx"])
    cells = [[c.text for c in row.cells] for t in document.tables for row in t.rows]
    assert len(document.tables) >= 10
    assert ["Day 365", "18", "11", "64.5 (45.4, 78.6)"] in cells
    synopsis = next(row for row in cells if row[0].startswith("Progression-free survival (primary)"))
    assert synopsis[1:4] == ["64.5 (45.4, 78.6)", "31", "11 relapses or deaths"]
    text = "\n".join(p.text for p in document.paragraphs)
    for chapter in CHAPTERS:
        assert chapter in text
    for title in TABLE_TITLES:
        assert title in text
    assert CODE_MARKER not in text
    assert document.inline_shapes  # the figure


def test_pdf_has_chapters_tables_and_numbers(rendered, pdf_text):
    for text in CHAPTERS + TABLE_TITLES + ["64.5 (45.4, 78.6)", "Contents"]:
        assert text in pdf_text
    assert not re.search(r"(Table|Figure) \d+:", pdf_text)  # no automatic number
    assert PdfReader(rendered[1].outputs["pdf"]).pages[0].mediabox.width == pytest.approx(595.3, abs=1)


def test_same_run_renders_byte_identical(rendered, tmp_path):
    run_dir, first = rendered
    copy = tmp_path / "again"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("document", "report"))
    second = render_report(copy, renderer="pandoc")
    for fmt, path in first.outputs.items():
        assert second.outputs[fmt].read_bytes() == path.read_bytes(), fmt


def test_bad_run_folder_is_a_clear_error(tmp_path):
    with pytest.raises(RenderError, match="manifest.json not found"):
        render_report(tmp_path, renderer="pandoc")
    with pytest.raises(RenderError, match="unknown report format 'odt'"):
        render_report(tmp_path, ("odt",), renderer="pandoc")
    with pytest.raises(RenderError, match="unknown renderer 'latex'"):
        render_report(tmp_path, renderer="latex")


def test_docx_tables_are_ruled(rendered):
    style = docx.Document(rendered[1].outputs["docx"]).styles["Table"].element
    borders = style.find(qn("w:tblPr")).find(qn("w:tblBorders"))
    assert [b.get(qn("w:val")) for b in borders] == ["single"] * 6


def test_pdf_every_page_has_study_protocol_data_cut_status_and_page_x_of_y(pdf_pages):
    for number, text in enumerate(pdf_pages, start=1):
        assert f"HAPLO-BLIN-ALL Protocol {PROTOCOL} Data cut 2026-01-31 DRAFT" in text, number
        assert f"Page {number} of {len(pdf_pages)}" in text, number
        assert "Report version 1.0, run 2026-11-29" in text, number


def test_pdf_title_page_and_lists_with_pages(pdf_pages):
    title = pdf_pages[0]
    for text in (SPONSOR.upper(), "Clinical Study Report: HAPLO-BLIN-ALL",
                 "Protocol number HBA-01", "Report version 1.0 (DRAFT)", "Run date 2026-11-29",
                 "Confidential: example only."):
        assert text in title, text
    lists = " ".join(pdf_pages[1:4])
    for heading in ("Contents", "List of tables", "List of figures", "List of listings"):
        assert heading in lists
    listing_page = next(i for i, t in enumerate(pdf_pages, 1)
                        if "Listing 16.2.6. MRD status" in t and "HB-01-001" in t)
    assert re.search(r"Listing 16.2.6. MRD status at 1 year by patient \(full analysis set\)"
                     rf"[ .]*{listing_page}\b", lists)


def test_pdf_split_listing_says_continued_on_each_further_page(pdf_pages):
    pages = [i for i, t in enumerate(pdf_pages) if re.search(r"HB-01-0\d\d", t)]
    assert len(pages) >= 2  # 90 rows run over a page
    continued = "Listing 16.2.6. MRD status at 1 year by patient (full analysis set; data cut " \
                "2026-01-31) (continued)"
    assert continued not in pdf_pages[pages[0]]
    for index in pages[1:]:
        assert continued in pdf_pages[index]
        assert "Patient Assessment, study day" in pdf_pages[index]  # header row repeated
    assert sum("(continued)" in t for t in pdf_pages) == len(pages) - 1


def test_pdf_figure_caption_is_text(pdf_text):
    assert FIGURE_CAPTION in pdf_text


def test_docx_page_header_footer_and_size(rendered):
    document = docx.Document(rendered[1].outputs["docx"])
    section = document.sections[0]
    assert (round(section.page_width.cm, 1), round(section.page_height.cm, 1)) == (21.0, 29.7)
    header = section.header.paragraphs[0].text
    assert header == f"HAPLO-BLIN-ALL   Protocol {PROTOCOL}   Data cut 2026-01-31\tDRAFT"
    footer = section.footer.paragraphs[0]
    assert footer.text.startswith("Report version 1.0, run 2026-11-29   Confidential\tPage ")
    fields = [f.get(qn("w:instr")) for f in footer._p.iter(qn("w:fldSimple"))]
    assert fields == ["PAGE", "NUMPAGES"]


def test_docx_titles_in_caption_styles_and_no_toc_field(rendered):
    document = docx.Document(rendered[1].outputs["docx"])
    styles = {p.text: p.style.name for p in document.paragraphs}
    assert styles["Table 14.2.1 Progression-free survival (FAS, N = 31), data cut 2026-01-31"] \
        == "Table Caption"
    assert styles[FIGURE_CAPTION] == "Image Caption"
    caption = document.styles["Table Caption"]
    assert caption.font.bold and not caption.font.italic
    assert caption.paragraph_format.keep_with_next
    body = document.element.body.xml
    assert "TOC \\" not in body and "w:instrText" not in body
    settings = document.settings.element.xml
    assert "updateFields" not in settings


def test_docx_tables_bold_repeated_headers_rows_kept_whole_widths_fitted(rendered):
    document = docx.Document(rendered[1].outputs["docx"])
    identification, *tables = document.tables  # the title page's facts: no header row
    assert identification.rows[0].cells[0].text == "Sponsor"
    assert not any(run.bold for run in identification.rows[0].cells[0].paragraphs[0].runs)
    for table in tables:
        first = table.rows[0]
        assert first._tr.trPr.find(qn("w:tblHeader")) is not None
        assert all(run.bold for cell in first.cells for p in cell.paragraphs for run in p.runs)
        assert all(row._tr.trPr.find(qn("w:cantSplit")) is not None for row in table.rows)
    listing = next(t for t in document.tables if t.rows[0].cells[0].text == "Patient")
    widths = [int(c.get(qn("w:w"))) for c in listing._tbl.tblGrid.findall(qn("w:gridCol"))]
    assert len(set(widths)) > 1 and widths[3] == max(widths)  # the long status column widest
    small = next(t for t in document.tables if t.rows[0].cells[0].text == "Analysis set"
                 and len(t.rows) == 3)
    widths = [int(c.get(qn("w:w"))) for c in small._tbl.tblGrid.findall(qn("w:gridCol"))]
    assert widths[0] > widths[1]  # labels wide, the number column narrow


def test_html_is_one_file_with_title_page_facts_and_working_lists(html):
    assert not re.search(r'<link[^>]+rel="(prev|next)"', html)
    assert "Protocol number" in html and PROTOCOL in html and SPONSOR in html
    targets = re.findall(r'<a href="#([^"]+)"', html)
    ids = set(re.findall(r'id="([^"]+)"', html))
    assert "listing-16-2-6" in targets and set(targets) <= ids
    assert 'font-family: "DejaVu Sans"' in html  # the PDF's and the figures' typeface,
    assert html.count("url(data:font/ttf;base64,") == 2  # embedded: regular and bold

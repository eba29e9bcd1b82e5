"""The report rendered without Quarto (Pandoc + Typst) from a small fake run folder."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import docx
from docx.oxml.ns import qn
import pytest
import yaml
from pypdf import PdfReader

from haplo_report.plan import NOTEBOOKS
from haplo_report.render import RenderError, render_report
from haplo_report.render.book import PROJECT_ROOT, book_chapters
from render_fake_run import CODE_MARKER, make_fake_run

CHAPTERS = ["Synopsis", "Statistical methods", "14.1 Study population", "Study population",
            "14.2 Efficacy", "Progression-free survival", "14.3 Safety",
            "Adverse events and deaths", "Appendices", "Data validation", "Provenance"]
TABLE_TITLES = ["Table 14.1.1 Disposition and analysis sets", "Table 14.2.1 Progression-free survival",
                "Table 14.3.7 Adverse events by system organ class", "Headline results, full analysis set"]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory):
    run_dir = make_fake_run(tmp_path_factory.mktemp("run"))
    return run_dir, render_report(run_dir, renderer="pandoc")


@pytest.fixture(scope="module")
def html(rendered) -> str:
    return rendered[1].outputs["html"].read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def pdf_text(rendered) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(rendered[1].outputs["pdf"]).pages)
    return re.sub(r"\s+", " ", text)


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
    row = re.search(r"Progression-free survival \(primary\), 1 year</td>(.*?)</tr>", html, re.S)
    assert row and re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))[:3] == [
        "64.5 (45.4, 78.6)", "31", "11"]
    agvhd = re.search(r"grade III-IV, day 100</td>\s*<td[^>]*>(.*?)</td>", html)
    assert agvhd.group(1) == "NE"
    assert re.search(r"Neutrophil recovery, median day</td>\s*<td[^>]*>15 \(13, 17\)</td>", html)


def test_docx_tables_are_word_tables_with_the_numbers(rendered):
    document = docx.Document(rendered[1].outputs["docx"])
    cells = [[c.text for c in row.cells] for t in document.tables for row in t.rows]
    assert len(document.tables) >= 10
    assert ["Day 365", "18", "11", "64.5 (45.4, 78.6)"] in cells
    synopsis = next(row for row in cells if row[0].startswith("Progression-free survival (primary)"))
    assert synopsis[1:4] == ["64.5 (45.4, 78.6)", "31", "11"]
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
    assert "Table 6:" not in pdf_text  # no automatic number before the ICH number
    assert PdfReader(rendered[1].outputs["pdf"]).pages[0].mediabox.width == pytest.approx(595.3, abs=1)


def test_same_run_renders_byte_identical(rendered, tmp_path):
    run_dir, first = rendered
    copy = tmp_path / "again"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("book", "report"))
    second = render_report(copy, renderer="pandoc")
    for fmt, path in first.outputs.items():
        assert second.outputs[fmt].read_bytes() == path.read_bytes(), fmt


def test_quarto_yml_chapters_follow_the_plan():
    config = yaml.safe_load((PROJECT_ROOT / "_quarto.yml").read_text(encoding="utf-8"))
    chapters = book_chapters(config)
    notebooks = [c for c in chapters if c.path.startswith("notebooks/")]
    assert [Path(c.path).stem for c in notebooks] == [spec.name for spec in NOTEBOOKS]
    assert [c.part.split()[0] for c in notebooks] == [spec.section for spec in NOTEBOOKS]
    assert [c.path for c in chapters if c.appendix] == ["validation.qmd", "provenance.qmd"]
    assert config["execute"] == {"enabled": False, "echo": False, "warning": False}
    assert config["format"]["html"]["embed-resources"] is True


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

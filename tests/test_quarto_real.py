"""The Quarto path for real (issue 24): ``haplo-report run --renderer quarto`` of the example cut
into an output folder under a hidden folder, each format's promised properties, and the same
numbered outputs, captions and (within 2) page count as the Pandoc + Typst fallback rendering
the same run folder. Skipped when Quarto is not on PATH (as in CI)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader

from conftest import run_cli
from haplo_report.paths import PROJECT_ROOT
from haplo_report.render import quarto_path, render_report
from haplo_report.render.acceptance import docx_problem, html_problem
from haplo_report.render.document import REFERENCE_DOCX
from haplo_report.render.markdown import TITLE_DOCX_STYLES

pytestmark = pytest.mark.skipif(
    quarto_path() is None,
    reason="Quarto is not on PATH: the real Quarto path is not run (put Quarto >= 1.9's bin/ "
           "first on PATH to run it)")

STEM = "HAPLO-BLIN-ALL_2026-07-31"
NUMBERED = re.compile(r"^(?:Table|Figure|Listing) \d+(?:\.\d+)+\.")
A4_POINTS = (595, 842)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The example cut run with Quarto under a hidden folder, and the fallback rendering a copy
    of that run folder: the two renderers' report folders, from the same document."""
    root = tmp_path_factory.mktemp("quarto")
    out = root / ".hidden" / "out"
    code, stdout, stderr = run_cli(["run", str(PROJECT_ROOT / "params" / "example.yml"),
                                    "--output-dir", str(out), "--renderer", "quarto"])
    assert code == 0, stderr
    run_dir = out / "HAPLO-BLIN-ALL" / "2026-07-31"
    assert stdout == f"report written to {run_dir} (rendered with quarto)\n"
    assert "rendering the report (html, docx, pdf) with quarto" in stderr
    fallback = root / "fallback"
    shutil.copytree(run_dir, fallback)
    shutil.rmtree(fallback / "report")
    assert render_report(fallback, renderer="pandoc").renderer == "pandoc"
    return {"quarto": run_dir, "pandoc": fallback}


def report(runs: dict[str, Path], renderer: str, suffix: str) -> Path:
    return runs[renderer] / "report" / f"{STEM}.{suffix}"


def test_the_run_under_a_hidden_folder_is_complete_and_records_quarto(runs):
    run_dir = runs["quarto"]
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["renderer"] == "quarto"
    assert re.fullmatch(r"1\.\d+\.\d+", manifest["toolchain"]["quarto"])
    assert {f"report/{STEM}.{s}" for s in ("html", "docx", "pdf")} <= set(manifest["outputs"])
    leftovers = [p.name for p in run_dir.parent.iterdir() if p.name != run_dir.name]
    assert leftovers == []  # no build, failed build or lock beside the report


def test_html_is_one_self_contained_file_with_contents(runs):
    html = report(runs, "quarto", "html")
    assert html_problem(html) is None
    assert not list(html.parent.glob("*_files"))
    text = html.read_text(encoding="utf-8")
    assert 'id="TOC"' in text
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', text)) >= 5
    assert "DejaVu Sans" in text and "data:font/ttf;base64," in text  # report.css, its font


def test_docx_has_the_reference_documents_page_header_and_footer(runs):
    path = report(runs, "quarto", "docx")
    assert docx_problem(path, runs["quarto"] / "document" / REFERENCE_DOCX) is None
    section = docx.Document(str(path)).sections[0]
    assert (round(section.page_width.cm, 1), round(section.page_height.cm, 1)) == (21.0, 29.7)
    header = section.header.paragraphs[0].text
    assert header.startswith("HAPLO-BLIN-ALL   Protocol ") and "Data cut 2026-07-31" in header


def test_pdf_is_the_suite_template_on_a4(runs):
    pages = PdfReader(report(runs, "quarto", "pdf")).pages
    sizes = [(round(p.mediabox.width), round(p.mediabox.height)) for p in pages]
    # A4 throughout; the listings and the independent check's table on it turned (issue 25)
    assert sizes[0] == A4_POINTS and all(size in (A4_POINTS, A4_POINTS[::-1]) for size in sizes)
    assert A4_POINTS[::-1] in sizes
    assert "Clinical Study Report" in pages[0].extract_text()
    second = " ".join(pages[1].extract_text().split())
    assert re.search(r"HAPLO-BLIN-ALL Protocol \S+ Data cut 2026-07-31", second)
    assert f"Page 2 of {len(pages)}" in second


def html_titles(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    found = re.findall(r'<div id="[^"]*" class="tlf-title"[^>]*>\s*<p>(.*?)</p>', text, re.S)
    return [" ".join(re.sub(r"<[^>]+>", "", title).split()) for title in found]


def docx_titles(path: Path) -> list[str]:
    styles = set(TITLE_DOCX_STYLES.values())
    return [p.text for p in docx.Document(str(path)).paragraphs if p.style.name in styles]


def pdf_titles(path: Path) -> tuple[list[str], list[str], int]:
    """The PDF's lists of tables, figures and listings (short titles without their page
    numbers), its numbered outputs in order of first appearance, and its page count."""
    pages = PdfReader(path).pages
    lines = [" ".join(line.split()) for page in pages for line in page.extract_text().splitlines()]
    lists = [re.sub(r"\.{3,}\s*\d+$", "", line) for line in lines
             if NUMBERED.match(line) and re.search(r"\.{3,}\s*\d+$", line)]
    numbers = [re.match(r"\S+ [\d.]+\d", line).group(0) for line in lines if NUMBERED.match(line)]
    return lists, list(dict.fromkeys(numbers)), len(pages)


def test_same_numbered_outputs_and_captions_as_the_fallback(runs):
    quarto_html = html_titles(report(runs, "quarto", "html"))
    assert len(quarto_html) >= 30 and quarto_html[0].startswith("Table 14.1.1. ")
    assert quarto_html == html_titles(report(runs, "pandoc", "html"))
    quarto_docx = docx_titles(report(runs, "quarto", "docx"))
    assert quarto_docx == docx_titles(report(runs, "pandoc", "docx"))
    numbered = [title for title in quarto_docx if NUMBERED.match(title)]
    assert numbered == [title for title in quarto_html if NUMBERED.match(title)]
    quarto_lists, quarto_numbers, quarto_pages = pdf_titles(report(runs, "quarto", "pdf"))
    pandoc_lists, pandoc_numbers, pandoc_pages = pdf_titles(report(runs, "pandoc", "pdf"))
    assert quarto_lists == pandoc_lists and len(quarto_lists) == len(quarto_html)
    assert quarto_numbers == pandoc_numbers
    assert sorted(quarto_numbers) == sorted(title.split(". ")[0] for title in quarto_html)
    assert abs(quarto_pages - pandoc_pages) <= 2

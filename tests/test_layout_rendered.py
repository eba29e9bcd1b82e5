"""The shared real run's report and listings as a reader sees them (issue 25): no character
printed over another in the PDF, nor in the Word report and the listings' DOCX and RTF as
LibreOffice lays them out; every long word of a listing whole; no page holding only a table's
tail; every RTF repeating its header row. The LibreOffice checks skip without LibreOffice."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from conftest import RealRun
from layout_faults import (broken_words, libreoffice, long_words, near_empty,
                           pdf_overprints, pdf_pages_text, to_pdf)

LISTINGS = ("16.2.6", "16.2.7")


@pytest.fixture(scope="module")
def run_dir(real_run: RealRun) -> Path:
    assert real_run.exit_code == 0, real_run.stderr
    return real_run.run_dir


@pytest.fixture(scope="module")
def office_pdfs(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The Word report and the listings' DOCX and RTF, laid out by LibreOffice."""
    if libreoffice() is None:
        pytest.skip("LibreOffice is not installed (Debian: libreoffice-writer-nogui)")
    sources = [*sorted((run_dir / "report").glob("*.docx"))]
    for number in LISTINGS:
        sources += [run_dir / "tables" / f"{number}.docx", run_dir / "tables" / f"{number}.rtf"]
    pdfs = to_pdf([p for p in sources if p.is_file()], tmp_path_factory.mktemp("office"))
    return {pdf.stem: pdf for pdf in pdfs}


def test_pdf_report_prints_no_character_over_another(run_dir: Path) -> None:
    (pdf,) = (run_dir / "report").glob("*.pdf")
    assert pdf_overprints(pdf) == {}


def test_pdf_report_has_no_page_with_only_a_table_tail(run_dir: Path) -> None:
    (pdf,) = (run_dir / "report").glob("*.pdf")
    pages = pdf_pages_text(pdf)
    assert [n for n, text in enumerate(pages, start=1) if near_empty(text)] == []


def test_every_rtf_repeats_its_header_row(run_dir: Path) -> None:
    files = sorted((run_dir / "tables").glob("*.rtf"))
    assert files and all("\\trhdr" in path.read_text(encoding="ascii") for path in files)


def test_word_and_rtf_print_no_character_over_another(office_pdfs: dict[str, Path]) -> None:
    assert {name: pdf_overprints(pdf) for name, pdf in office_pdfs.items()
            if pdf_overprints(pdf)} == {}


def test_word_and_rtf_pages_are_never_only_a_table_tail(office_pdfs: dict[str, Path]) -> None:
    found = {name: [n for n, text in enumerate(pdf_pages_text(pdf), start=1) if near_empty(text)]
             for name, pdf in office_pdfs.items()}
    assert {name: pages for name, pages in found.items() if pages} == {}


def test_long_words_of_listings_are_whole_in_docx_and_rtf(run_dir: Path,
                                                          office_pdfs: dict[str, Path]) -> None:
    checked = 0
    for number in LISTINGS:
        path = run_dir / "tables" / f"{number}.csv"
        if not path.is_file():
            continue
        with path.open(encoding="utf-8-sig", newline="") as handle:
            words = long_words([cell for row in csv.reader(handle) for cell in row])
        assert any(w.startswith("HB-") or "-" in w for w in words)  # patient numbers among them
        for name in (number, f"{number}.rtf"):
            text = "\n".join(pdf_pages_text(office_pdfs[name], furniture=True))
            assert broken_words(words, text) == set(), name
            checked += 1
    assert checked >= 2

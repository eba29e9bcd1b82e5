"""Issue 28: the shared real run (conftest ``real_run``) carries hostile free text; every output
shows it as typed, and keys built from it keep their own rows."""

from __future__ import annotations

import csv
import html
import re
from pathlib import Path

import docx
import pytest
from lxml import etree
from pypdf import PdfReader

from conftest import (FORMULA_TERM, HOSTILE_CONFIDENTIALITY, HOSTILE_ID, HOSTILE_PT, HOSTILE_SOC,
                      HOSTILE_SPONSOR, MARKUP_PT, REAL_STUDY, RealRun)

SHOWN = (HOSTILE_PT, MARKUP_PT, HOSTILE_SOC, HOSTILE_ID, HOSTILE_SPONSOR,
         HOSTILE_CONFIDENTIALITY, '"Missing"')


def _bare(text: str) -> str:
    return re.sub(r"\s", "", text)


@pytest.fixture(scope="module")
def run_dir(real_run: RealRun) -> Path:
    assert real_run.exit_code == 0, real_run.stderr
    return real_run.run_dir


def _report(run_dir: Path, fmt: str) -> Path:
    return run_dir / "report" / f"{REAL_STUDY}_{run_dir.name}.{fmt}"


def _csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def test_terms_holding_the_key_syntax_keep_their_rows(run_dir: Path) -> None:
    rows = {(r[0], r[1]) for r in _csv(run_dir / "tables" / "14.3.7.csv")[1:]}
    assert {("1", HOSTILE_PT), ("1", "Nausea"), ("1", MARKUP_PT), ("0", HOSTILE_SOC)} <= rows
    baseline = [r[1] for r in _csv(run_dir / "tables" / "14.1.2.csv")[1:]]
    assert '"Missing"' in baseline and "Missing" in baseline


def test_html_shows_free_text_and_parameters_as_typed(run_dir: Path) -> None:
    source = _report(run_dir, "html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", source))
    for value in SHOWN:
        assert value in text, value
    for live in ("<b>Sponsor</b>", HOSTILE_ID, "<!-- c -->", 'href="file:', "<em>i</em>",
                 "<em>Confidential</em>"):
        assert live not in source, live


def test_pdf_and_word_show_free_text_as_typed(run_dir: Path) -> None:
    pdf = _bare("\n".join(p.extract_text() for p in PdfReader(_report(run_dir, "pdf")).pages))
    document = docx.Document(str(_report(run_dir, "docx")))
    word = "\n".join([p.text for p in document.paragraphs]
                     + [c.text for t in document.tables for r in t.rows for c in r.cells])
    for value in SHOWN:
        assert _bare(value) in pdf, value
        assert value in word, value


def test_rtf_csv_and_xml_hold_free_text_safely(run_dir: Path) -> None:
    rtf = (run_dir / "tables" / "14.3.7.rtf").read_text(encoding="ascii")
    assert "&lt;b&gt; <!-- c --> _i_ &amp; -- -@x $x$ \\\\trowd \\\\row \\\\cell \\}\\{" in rtf
    adae = (run_dir / "data" / "adae.csv").read_text(encoding="utf-8")
    assert "'" + FORMULA_TERM.replace('"', '""') in adae
    assert '"=HYPERLINK' not in adae and ",=HYPERLINK" not in adae  # never a live formula
    etree.parse(str(run_dir / "data" / "adam" / "define.xml"))  # well-formed
    assert (run_dir / "figures" / "14.2.4.png").is_file()  # the swimmer plot, hostile id

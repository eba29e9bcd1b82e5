"""``haplo-report run`` for real: the real notebooks on a simulated cut, the real report.

One CLI run (conftest ``real_run``, all three formats) and one forced re-run of the same cut
into another output folder (no rendering) serve every test here.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

import docx
import nbformat
import pandas as pd
import pytest
from pypdf import PdfReader

from conftest import REAL_CUT_DATE, REAL_STUDY, RealRun
from haplo_report import run as pipeline
from haplo_report.analysis.derive import load_derived
from haplo_report.analysis.endpoints import endpoint_landmarks, followup_results, tte_results
from haplo_report.formatting import fmt_estimate_ci
from haplo_report.params import Params, load_params
from haplo_report.plan import NOTEBOOKS
from haplo_report.render import choose_renderer
from haplo_report.analysis.results import ResultRow, read_results, write_results

TABLE_NUMBERS = ([f"14.1.{i}" for i in range(1, 5)] + [f"14.2.{i}" for i in range(1, 11)]
                 + [f"14.3.{i}" for i in (1, 2, 3, 4, 5, 6, 7, 9, 10)])
PARTS = ("14.1 Study population", "14.2 Efficacy", "14.3 Safety")
RESULT_ENDPOINTS = {"DISP", "BASELINE", "TRANSPLANT", "PFS", "OS", "CIR", "NRM", "MRD", "MRD1Y",
                    "GRFS", "AGVHD24", "AGVHD34", "AGVHDMAX", "CGVHD", "CGVHDMS", "CGVHDMAX",
                    "ANC", "PLT", "AE", "AESOCPT", "AESOCPTGR", "AESI", "DEATH"}
TTE_CODES = ("PFS", "OS", "CIR", "NRM", "GRFS", "AGVHD24", "AGVHD34", "CGVHD", "CGVHDMS",
             "ANC", "PLT")
# A remote resource: src/href attribute or CSS url()/@import to http(s) or protocol-relative.
REMOTE = re.compile(r"""(?:\b(?:src|href)\s*=\s*["']?|url\(\s*["']?|@import\s+["'])"""
                    r"""(?:https?:)?//""", re.IGNORECASE)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def words(text: str) -> str:
    """Text with every run of whitespace as one space (PDF and HTML wrap lines anywhere)."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def run_dir(real_run: RealRun) -> Path:
    assert real_run.exit_code == 0, real_run.stderr
    return real_run.run_dir


@pytest.fixture(scope="module")
def params(real_run: RealRun) -> Params:
    return load_params(real_run.params_file)


@pytest.fixture(scope="module")
def manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def results(run_dir: Path) -> pd.DataFrame:
    return read_results(run_dir / "results.csv")


@pytest.fixture(scope="module")
def report(run_dir: Path) -> dict[str, Path]:
    return {fmt: run_dir / "report" / f"{REAL_STUDY}_{run_dir.name}.{fmt}"
            for fmt in ("html", "docx", "pdf")}


@pytest.fixture(scope="module")
def html_text(report: dict[str, Path]) -> str:
    return report["html"].read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def docx_document(report: dict[str, Path]) -> docx.document.Document:
    return docx.Document(str(report["docx"]))


@pytest.fixture(scope="module")
def pdf_text(report: dict[str, Path]) -> str:
    return words("\n".join(page.extract_text() for page in PdfReader(report["pdf"]).pages))


@pytest.fixture(scope="module")
def second_run(real_run: RealRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same cut again, forced, into another output folder (report not rendered)."""
    output = tmp_path_factory.mktemp("second_run") / "output"
    params = load_params(real_run.params_file, output_dir=output)
    result = pipeline.run(params, jobs=2, force=True, render=False, stream=io.StringIO())
    assert set(result.executed) == {spec.name for spec in NOTEBOOKS}
    return result.run_dir


def test_cli_reports_where_and_with_what(real_run: RealRun, run_dir: Path) -> None:
    assert f"report written to {run_dir}" in real_run.stdout
    assert f"rendering the report (html, docx, pdf) with {choose_renderer()}" in real_run.stderr
    assert "Traceback" not in real_run.stdout + real_run.stderr


def test_every_notebook_executed_without_errors(run_dir: Path, manifest: dict) -> None:
    assert list(manifest["notebooks"]) == [spec.name for spec in NOTEBOOKS]
    assert {e["status"] for e in manifest["notebooks"].values()} == {"executed"}
    assert manifest["renderer"] == choose_renderer()
    for spec in NOTEBOOKS:
        notebook = nbformat.read(run_dir / "notebooks" / f"{spec.name}.ipynb", as_version=4)
        errors = [o for cell in notebook.cells if cell.cell_type == "code"
                  for o in cell.outputs if o.output_type == "error"]
        assert errors == [], spec.name
        assert (run_dir / "notebooks" / f"{spec.name}.html").is_file()


def test_manifest_hashes_are_the_files_on_disk(run_dir: Path, manifest: dict,
                                               real_run: RealRun) -> None:
    on_disk = {p.relative_to(run_dir).as_posix(): p for p in run_dir.rglob("*")
               if p.is_file() and p.name != "manifest.json"}
    assert set(manifest["outputs"]) == set(on_disk)
    for relative, path in on_disk.items():
        assert manifest["outputs"][relative]["sha256"] == sha256(path), relative
        assert manifest["outputs"][relative]["bytes"] == path.stat().st_size, relative
    # named relative to the parameter file's folder, as its data_dir is
    base = real_run.params_file.parent
    cut_files = {f"cut/{p.name}" for p in real_run.cut_dir.iterdir()} | {"params.yml"}
    assert set(manifest["inputs"]) == cut_files
    for name, record in manifest["inputs"].items():
        assert record["sha256"] == sha256(base / name), name
    assert manifest["params"]["data_dir"] == "cut"
    assert manifest["location"]["run_dir"] == str(run_dir.resolve())


def test_results_hold_every_endpoint(results: pd.DataFrame, real_run: RealRun) -> None:
    assert set(results["endpoint"]) == RESULT_ENDPOINTS
    statistics = set(zip(results["endpoint"], results["statistic"]))
    assert {("OS", "median_followup"), ("PFS", "survival"), ("CIR", "cif"),
            ("MRD", "proportion"), ("ANC", "median_days")} <= statistics
    subjects = pd.read_csv(real_run.cut_dir / "subjects.csv", dtype=str)
    transplanted = (pd.to_datetime(subjects["HSCTDT"]) <= pd.Timestamp(REAL_CUT_DATE)).sum()
    enrolled = (pd.to_datetime(subjects["RFICDT"]) <= pd.Timestamp(REAL_CUT_DATE)).sum()
    fas = results.query("endpoint == 'DISP' and subgroup == 'FASFL=Y'")
    assert fas[["estimate", "n"]].values.tolist() == [[transplanted, enrolled]]


def _expected_tte_rows(adtte: pd.DataFrame, params: Params) -> list[ResultRow]:
    """What the notebooks are meant to report, straight from the package, in plan order."""
    landmarks = params.landmarks_days
    rows = followup_results(adtte)
    for code in ("PFS", "OS", "CIR", "NRM"):
        rows += tte_results(adtte, code, landmarks=landmarks,
                            subgroup_min_n=params.subgroup_min_n)
    rows += tte_results(adtte, "GRFS", landmarks=landmarks, subgroup_min_n=params.subgroup_min_n)
    for code in ("AGVHD24", "AGVHD34", "CGVHD", "CGVHDMS", "ANC", "PLT"):
        rows += tte_results(adtte, code, landmarks=endpoint_landmarks(code, landmarks),
                            **({"subgroups": ()} if code in ("ANC", "PLT") else
                               {"subgroup_min_n": params.subgroup_min_n}))
    return rows


def test_time_to_event_rows_equal_the_package_on_the_derived_adtte(
        run_dir: Path, params: Params, results: pd.DataFrame, tmp_path: Path) -> None:
    adtte = load_derived(run_dir / "data").adtte
    write_results(_expected_tte_rows(adtte, params), tmp_path / "expected.csv")
    expected = read_results(tmp_path / "expected.csv")
    got = results[results["endpoint"].isin(TTE_CODES)].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)


def test_second_run_is_byte_identical(run_dir: Path, second_run: Path) -> None:
    def hashes(folder: Path) -> dict[str, str]:
        files = [folder / "results.csv", *folder.glob("tables/*"), *folder.glob("figures/*")]
        return {p.relative_to(folder).as_posix(): sha256(p) for p in files}

    first = hashes(run_dir)
    assert {Path(name).suffix for name in first} == {".csv", ".docx", ".rtf", ".png", ".svg"}
    assert {f"tables/{n}.{s}" for n in TABLE_NUMBERS for s in ("csv", "docx", "rtf")} <= set(first)
    assert hashes(second_run) == first


def test_html_has_every_chapter_and_table(html_text: str) -> None:
    text = words(html_text)
    for title in [spec.title for spec in NOTEBOOKS] + list(PARTS):
        assert f">{title}<" in text, title
    for number in TABLE_NUMBERS:
        assert f"Table {number}." in text, number
    assert "<table" in text


def test_html_references_no_other_host(html_text: str) -> None:
    assert REMOTE.findall(html_text) == []
    assert REMOTE.search('<img src="https://cdn.example.org/x.png">')  # the pattern bites


def _landmark_cells(results: pd.DataFrame, endpoint: str, days: int = 365) -> str:
    statistic = "cif" if endpoint in ("CIR", "NRM") else "survival"
    row = results.query("endpoint == @endpoint and subgroup == 'All' and "
                        "statistic == @statistic and time_days == @days").iloc[0]
    return fmt_estimate_ci(row["estimate"], row["ci_lower"], row["ci_upper"])


def test_docx_has_real_tables_holding_the_result_rows(docx_document, results: pd.DataFrame
                                                      ) -> None:
    paragraphs = words("\n".join(p.text for p in docx_document.paragraphs))
    for title in [spec.title for spec in NOTEBOOKS] + list(PARTS):
        assert title in paragraphs, title
    for number in TABLE_NUMBERS:
        assert f"Table {number}." in paragraphs, number
    cells = {cell.text.strip() for table in docx_document.tables
             for row in table.rows for cell in row.cells}
    assert len(docx_document.tables) >= len(TABLE_NUMBERS)
    for endpoint in ("PFS", "OS", "CIR", "NRM", "GRFS"):
        value = _landmark_cells(results, endpoint)
        assert re.fullmatch(r"\d+\.\d \(\d+\.\d, \d+\.\d\)", value), value
        assert value in cells, endpoint
    fas = results.query("endpoint == 'DISP' and subgroup == 'FASFL=Y'")["estimate"].iloc[0]
    assert f"FAS (N={fas:.0f})" in cells


def test_html_and_pdf_show_the_same_numbers(html_text: str, pdf_text: str,
                                            results: pd.DataFrame) -> None:
    for endpoint in ("PFS", "OS", "CIR", "NRM", "GRFS"):
        value = _landmark_cells(results, endpoint)
        assert value in html_text, endpoint
        assert value in pdf_text, endpoint


def test_pdf_has_every_chapter_and_table(pdf_text: str) -> None:
    for title in [spec.title for spec in NOTEBOOKS] + list(PARTS):
        assert title in pdf_text, title
    for number in TABLE_NUMBERS:
        assert f"Table {number}." in pdf_text, number


def test_pdf_pages_carry_furniture_figure_captions_and_continued_titles(report, run_dir) -> None:
    """Every page of the real report: study, data cut, status and "Page x of y"; every
    figure's caption as text; a table or listing that runs over a page is titled again
    "(continued)" on the pages it runs onto."""
    from haplo_report.outputs.captions import FIGURES

    pages = [words(page.extract_text()) for page in PdfReader(report["pdf"]).pages]
    for number, text in enumerate(pages, start=1):
        assert f"{REAL_STUDY} Protocol" in text and f"Data cut {REAL_CUT_DATE}" in text, number
        assert "DRAFT" in text and f"Page {number} of {len(pages)}" in text, number
    everything = " ".join(pages)
    for figure in FIGURES:
        assert f"Figure {figure}." in everything, figure
    continued = [re.search(r"((?:Table|Listing) [\d.]+)\. [^()]*\([^)]*\) \(continued\)", p)
                 for p in pages]
    for index, match in enumerate(continued):
        if match:  # the output started on an earlier page
            assert any(match.group(1) + "." in p for p in pages[:index]), match.group(1)

"""No patient-level calendar date and no identifier but USUBJID leaves a run, except in the
auditors' derived datasets (``data/``); a cut with a people-identifying column is refused.

The shared real run (conftest ``real_run``) carries an extra screening-number column; its
values and every date of the cut are searched for in everything the run shows.
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from pypdf import PdfReader

from conftest import REAL_CUT_DATE, REAL_STUDY, SCREENING_COLUMN, RealRun, run_cli, write_params

DATE_COLUMNS = ("RFICDT", "HSCTDT", "LSTALVDT", "RELDT", "DTHDT", "ONSETDT", "MRDDT", "ANCDT",
                "PLTDT", "AESTDT")


# The source notebooks' parameter defaults are the example cut's: its data cut date shows in
# every notebook's code, whatever cut ran.
EXAMPLE_CUT_DATE = "2026-07-31"


def cut_dates(cut_dir: Path) -> set[str]:
    """Every date of the cut (ISO), the data cut dates (this one, the example's) excepted."""
    dates: set[str] = set()
    for path in cut_dir.glob("*.csv"):
        frame = pd.read_csv(path, dtype=str)
        for column in DATE_COLUMNS:
            if column in frame:
                dates |= set(frame[column].dropna())
    return dates - {str(REAL_CUT_DATE), EXAMPLE_CUT_DATE}


# Whole-word candidates: ISO dates, YYYYMMDD, screening numbers (matched against a set: fast).
CANDIDATE = re.compile(r"\b(?:\d{4}-\d{2}-\d{2}|\d{8}|SCR\d+X)\b")


def secrets(real_run: RealRun) -> set[str]:
    """The cut's dates as ISO and YYYYMMDD, and its screening numbers."""
    dates = cut_dates(real_run.cut_dir)
    subjects = pd.read_csv(real_run.cut_dir / "subjects.csv", dtype=str)
    return dates | {d.replace("-", "") for d in dates} | set(subjects[SCREENING_COLUMN])


def found(text: str, hidden: set[str]) -> set[str]:
    """The hidden values ``text`` shows."""
    return set(CANDIDATE.findall(text)) & hidden


def docx_text(path: Path) -> str:
    """Every XML part of a DOCX (body, headers, properties)."""
    with zipfile.ZipFile(path) as archive:
        return "\n".join(archive.read(name).decode("utf-8", "replace")
                         for name in archive.namelist() if name.endswith((".xml", ".rels")))


def pdf_text(path: Path) -> str:
    reader = PdfReader(path)
    metadata = " ".join(str(v) for v in (reader.metadata or {}).values())
    return metadata + "\n".join(page.extract_text() for page in reader.pages)


def notebook_outputs(path: Path) -> str:
    """The text of every output of an executed notebook (images excepted)."""
    notebook = nbformat.read(path, as_version=4)
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            for kind, value in output.get("data", {}).items():
                if not kind.startswith("image/png"):
                    parts.append(value if isinstance(value, str) else str(value))
    return "\n".join(parts)


def shown_text(run_dir: Path) -> dict[str, str]:
    """What the run shows, by relative path: report, tables, figures, results, notebooks."""
    texts: dict[str, str] = {}
    for path in sorted(run_dir.rglob("*")):
        relative = path.relative_to(run_dir).as_posix()
        if not path.is_file() or relative.startswith("data/"):
            continue
        if path.suffix == ".docx":
            texts[relative] = docx_text(path)
        elif path.suffix == ".pdf":
            texts[relative] = pdf_text(path)
        elif path.suffix == ".ipynb":
            texts[relative] = notebook_outputs(path)
        elif path.suffix in (".html", ".csv", ".svg", ".json", ".md", ".qmd", ".typ"):
            texts[relative] = path.read_text(encoding="utf-8")
    return texts


@pytest.fixture(scope="module")
def run_dir(real_run: RealRun) -> Path:
    assert real_run.exit_code == 0, real_run.stderr
    return real_run.run_dir


def test_the_search_finds_what_it_looks_for(real_run: RealRun, run_dir: Path) -> None:
    hidden = secrets(real_run)
    assert len(cut_dates(real_run.cut_dir)) > 100
    in_adsl = found((run_dir / "data" / "adsl.csv").read_text(encoding="utf-8"), hidden)
    assert any(re.fullmatch(r"\d{4}-\d{2}-\d{2}", hit) for hit in in_adsl)  # derived: dates
    assert "SCR9100X" not in in_adsl  # the extra column is dropped (privacy by allow-list)
    validation = json.loads((run_dir / "validation.json").read_text(encoding="utf-8"))
    assert validation["dropped_columns"] == {"subjects": [SCREENING_COLUMN]}
    data = "".join(p.read_text(encoding="utf-8") for p in (run_dir / "data").rglob("*.csv"))
    assert "SCR9100X" not in data and SCREENING_COLUMN not in data
    # matplotlib keeps each drawn text as an XML comment beside its glyphs: SVG text is searchable
    svg = (run_dir / "figures" / "14.2.1.svg").read_text(encoding="utf-8")
    assert "<!-- Progression-free survival (%) -->" in svg  # the y-axis label
    assert found("seen on 20240322 and SCR9100X.", {"20240322", "SCR9100X"}) == \
        {"20240322", "SCR9100X"}


def test_nothing_shown_holds_a_patient_date_or_another_identifier(real_run: RealRun,
                                                                  run_dir: Path) -> None:
    texts = shown_text(run_dir)
    for required in ("results.csv", "tables/14.2.1.csv", "tables/14.2.1.docx",
                     "figures/14.2.1.svg", "notebooks/03_pfs.ipynb", "notebooks/03_pfs.html",
                     "narratives/narratives.json", "notebooks/12_narratives.ipynb"):
        assert required in texts, required
    assert {Path(n).suffix for n in texts if n.startswith("report/")} == {".html", ".docx", ".pdf"}
    hidden = secrets(real_run)
    leaks = {name: sorted(found(text, hidden))[:5] for name, text in texts.items()
             if found(text, hidden)}
    assert leaks == {}
    assert str(REAL_CUT_DATE) in texts[f"report/{REAL_STUDY}_{REAL_CUT_DATE}.html"]  # allowed


def test_console_output_holds_no_patient_date(real_run: RealRun) -> None:
    console = real_run.stdout + real_run.stderr
    assert "report written to" in console
    assert found(console, secrets(real_run)) == set()


@pytest.mark.parametrize(("table", "column"), [("subjects", "PATNAME"),
                                               ("adverse_events", "BRTHDT")])
def test_people_identifying_column_is_refused(real_run: RealRun, tmp_path: Path, table: str,
                                              column: str) -> None:
    cut = Path(shutil.copytree(real_run.cut_dir, tmp_path / "cut"))
    frame = pd.read_csv(cut / f"{table}.csv", dtype=str, keep_default_na=False)
    values = [f"Zelda Quimby {i}" if column == "PATNAME" else f"1961-07-{1 + i % 28:02d}"
              for i in range(len(frame))]
    frame.insert(1, column, values)
    frame.to_csv(cut / f"{table}.csv", index=False, lineterminator="\n")
    output = tmp_path / "output"
    params = write_params(tmp_path / "params.yml", cut, REAL_CUT_DATE, output)

    code, stdout, stderr = run_cli(["run", str(params), "--jobs", "1"])

    assert code == 1
    assert column in stderr and table in stderr
    assert "identifies people" in stderr
    assert "Traceback" not in stderr
    assert not any(value in stdout + stderr for value in values)
    assert "Zelda" not in stdout + stderr and "1961-07" not in stdout + stderr
    assert not output.exists()


NAME, PHONE = "Zelda Quimby", "07700 900123"


def test_text_typed_into_free_text_fields_does_not_reach_tables_or_derived_data(
        tmp_path: Path) -> None:
    from corpus.cases import copy_fixture, set_cell, together  # noqa: PLC0415
    from haplo_report.analysis.derive import derive_cut  # noqa: PLC0415
    from haplo_report.analysis.results import results_frame  # noqa: PLC0415
    from haplo_report.analysis.summaries import (baseline_summary, gvhd_summary,  # noqa: PLC0415
                                                 transplant_summary)
    from haplo_report.data.validation import validate_cut  # noqa: PLC0415
    from haplo_report.outputs.tables.population import table_14_1_2, table_14_1_3  # noqa: PLC0415
    from haplo_report.params import Params  # noqa: PLC0415

    cut_dir = copy_fixture(tmp_path / "cut")
    together(set_cell("subjects", 2, "CONDREG", f"{NAME} {PHONE}"),
             set_cell("subjects", 3, "HLAMATCH", NAME), set_cell("subjects", 4, "SUBTYPE", NAME),
             set_cell("subjects", 5, "SITEID", PHONE),
             set_cell("adverse_events", 2, "AETERM", f"told {NAME} on {PHONE}"),
             set_cell("gvhd", 2, "ORGANS", f"SKIN;{NAME}"))(cut_dir)
    cut = validate_cut(cut_dir, REAL_CUT_DATE)
    derived = derive_cut(cut, Params("T", "T", cut_dir, REAL_CUT_DATE))
    rows = baseline_summary(derived.adsl) + transplant_summary(derived.adsl)
    shown = [table_14_1_2(rows, str(REAL_CUT_DATE)).to_markdown(),
             table_14_1_3(rows, str(REAL_CUT_DATE)).to_markdown(),
             results_frame(rows + gvhd_summary(derived.adgvhd, derived.adsl)).to_csv()]
    shown += [getattr(derived, name).to_csv() for name in ("adsl", "adtte", "admrd", "adgvhd",
                                                           "adae")]
    text = "\n".join(shown)
    assert NAME not in text and PHONE not in text and "Zelda" not in text
    assert "CONDREG=Other" in shown[2] and "HLAMATCH=Other" in shown[2]
    assert derived.adgvhd.loc[derived.adgvhd["USUBJID"] == "P01", "ORGANS"].iloc[0] == "SKIN;OTHER"

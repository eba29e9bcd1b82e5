"""The generated chapters of the book: synopsis, validation and provenance from run data."""

from __future__ import annotations

import json
import re

import docx
import pandas as pd
import pytest
import yaml

from haplo_report.render.book import (BookError, assemble_book, pipe_table, synopsis_frame,
                                      validation_markdown)
from haplo_report.analysis.results import ResultRow, results_frame
from render_fake_run import RESULTS, make_fake_run


def test_synopsis_formats_rows_and_marks_missing_and_ne():
    frame = synopsis_frame(results_frame(RESULTS)).set_index("Endpoint")
    assert frame.loc["Progression-free survival (primary), 1 year", "Estimate"] == "64.5 (45.4, 78.6)"
    assert frame.loc["Cumulative incidence of relapse, 1 year", "n"] == "31"
    assert frame.loc["Acute GVHD grade III-IV, day 100", "Estimate"] == "NE"
    assert frame.loc["Neutrophil recovery, median day", "Estimate"] == "15 (13, 17)"
    assert frame.loc["Overall survival, 1 year", "Events"] == "8"
    assert frame.loc["Non-relapse mortality, 1 year", "Estimate"] == "not reported"


def test_synopsis_takes_the_landmark_asked_for_not_another():
    rows = [ResultRow("PFS", "All", "survival", 100, 0.9, 0.8, 0.95, n=31, events=3),
            ResultRow("PFS", "DISGRP=CR1", "survival", 365, 0.5, 0.4, 0.6, n=20, events=9),
            ResultRow("PFS", "All", "survival", 365, 0.7, 0.6, 0.8, n=31, events=8)]
    frame = synopsis_frame(results_frame(rows)).set_index("Endpoint")
    assert frame.loc["Progression-free survival (primary), 1 year", "Estimate"] == "70.0 (60.0, 80.0)"


def test_recovery_median_without_ci_shows_its_range():
    rows = [ResultRow("PLT", "All", "median_days", None, 21, n=28, events=28),
            ResultRow("PLT", "All", "min", None, 12, n=28, events=28),
            ResultRow("PLT", "All", "max", None, 45, n=28, events=28)]
    frame = synopsis_frame(results_frame(rows)).set_index("Endpoint")
    assert frame.loc["Platelet recovery, median day", "Estimate"] == "21 (12\u201345)"  # as in the tables


def test_synopsis_numbers_right_aligned_methods_in_words():
    from haplo_report.render.book import index_markdown, methods_markdown

    identity = {"study_id": "S", "study_title": "T", "data_cut": "2026-03-31", "suite": "0",
                "commit": "abc"}
    lines = index_markdown(identity, results_frame(RESULTS)).splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| Endpoint"))
    cells = [c.strip() for c in lines[header + 1].strip("|").split("|")]
    assert [c.endswith(":") and not c.startswith(":") for c in cells] == [
        False, True, True, True, False]  # Estimate, n, Events right; labels and method left
    assert "ADTTE" not in "\n".join(lines)
    methods = methods_markdown({})
    assert "est^exp" not in methods and "log(-log) scale" in methods


def test_pipe_table_escapes_bars_and_keeps_caption():
    text = pipe_table(pd.DataFrame({"a": ["x|y"], "b": [None]}), "Table 9 Title")
    assert "x\\|y" in text and text.rstrip().endswith(": Table 9 Title")


def test_validation_appendix_lists_unsupplied_tables():
    text = validation_markdown({"supplied": {"subjects": 31, "mrd": None}, "violations": []})
    text = re.sub(" +", " ", text)
    assert "| subjects | supplied | 31 |" in text
    assert "| mrd | not supplied | |" in text
    assert "Violations of the input contract: 0." in text


def test_book_keeps_chapters_present_in_order(tmp_path):
    book = assemble_book(make_fake_run(tmp_path / "run"))
    config = yaml.safe_load((book.folder / "_quarto.yml").read_text(encoding="utf-8"))
    assert config["book"]["chapters"][2:] == [
        {"part": "14.1 Study population", "chapters": ["notebooks/01_population.ipynb"]},
        {"part": "14.2 Efficacy", "chapters": ["notebooks/03_pfs.ipynb"]},
        {"part": "14.3 Safety", "chapters": ["notebooks/11_safety.ipynb"]}]
    assert config["book"]["date"] == "Data cut 2026-01-31"
    provenance = re.sub(" +", " ", (book.folder / "provenance.qmd").read_text(encoding="utf-8"))
    assert "| subjects.csv | " + "a" * 64 + " | 33 |" in provenance
    assert "| 03_pfs | ok | 3.1 |" in provenance


def test_manifest_without_data_cut_is_a_clear_error(tmp_path):
    run = make_fake_run(tmp_path / "run")
    (run / "manifest.json").write_text(json.dumps({"params": {"study_id": "X"}}))
    with pytest.raises(BookError, match="study_id and data_cut_date are required"):
        assemble_book(run)


def test_table_notes_get_a_style_in_every_format(tmp_path):
    from haplo_report.render.book import NOTES_DOCX_STYLE, TEMPLATES, write_reference_docx
    from haplo_report.render.pandoc import _normalise, _parse

    doc = _parse("::: table-notes\nMethod: KM.\\\nSource: notebook 03_pfs\n:::\n", tmp_path)
    _normalise(doc["blocks"], "03_pfs")
    (attributes, blocks), = [block["c"] for block in doc["blocks"]]
    assert ["custom-style", NOTES_DOCX_STYLE] in attributes[2]
    assert blocks[0] == {"t": "RawBlock", "c": ["typst", "#tablenotes["]}
    assert blocks[-1] == {"t": "RawBlock", "c": ["typst", "]"]}
    header = (TEMPLATES / "report-header.typ").read_text()
    assert "#let tablenotes(body)" in header
    # a breakable table's caption stays with its first rows (not alone at a page foot)
    assert "#show figure.caption: it => block(sticky: true, it)" in header
    assert "div.table-notes" in (TEMPLATES / "report.css").read_text()
    style = docx.Document(str(write_reference_docx(tmp_path / "ref.docx"))).styles[
        NOTES_DOCX_STYLE]
    assert style.font.size.pt == 8


def test_provenance_lists_python_and_direct_dependencies_only():
    from haplo_report.render.book import direct_dependencies, provenance_markdown, software_frame
    names = direct_dependencies()
    assert names[:3] == ["pandas", "numpy", "scipy"] and "jupyter-client" in names
    assert "pytest" not in names  # a test extra, not a runtime dependency
    manifest = {"python": {"version": "3.12.3"},
                "versions": {"pandas": "2.3.3", "jupyter_client": "8.10.0", "Jinja2": "3.1.6"}}
    frame = software_frame(manifest)
    assert len(frame) == 1 + len(names)
    versions = dict(zip(frame["Software"], frame["Version"]))
    assert versions["Python"] == "3.12.3" and versions["pandas"] == "2.3.3"
    assert versions["jupyter-client"] == "8.10.0" and versions["lifelines"] == "not recorded"
    assert "Jinja2" not in versions
    text = provenance_markdown(manifest, {"suite": "0.1.0", "commit": "abc"})
    assert "manifest.json lists every installed distribution" in text and "Jinja2" not in text
    assert text.index("## Parameters") < text.index("## Software versions") < text.index(
        "## Notebooks executed")

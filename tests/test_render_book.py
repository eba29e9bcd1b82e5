"""The generated chapters: synopsis, validation and provenance from run data."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from haplo_report.render.book import BookError, pipe_table, synopsis_frame, validation_markdown
from haplo_report.render.document import assemble_document
from haplo_report.analysis.results import ResultRow, results_frame
from haplo_report.analysis.mrd import mrd_headline, mrd_negative_1y
from render_fake_run import RESULTS, make_fake_run
from test_mrd import make_admrd, make_adsl, patient


def test_synopsis_formats_rows_and_marks_missing_and_ne():
    frame = synopsis_frame(results_frame(RESULTS)).set_index("Endpoint")
    assert frame.loc["Progression-free survival (primary), 1 year", "Estimate"] == "64.5 (45.4, 78.6)"
    assert frame.loc["Cumulative incidence of relapse, 1 year", "n"] == "31"
    assert frame.loc["Acute GVHD grade III-IV, day 100", "Estimate"] == "NE"
    recovery = "Neutrophil recovery, median day among patients who recovered"
    assert frame.loc[recovery, "Estimate"] == "15 (13, 17)"
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
    recovery = "Platelet recovery, median day among patients who recovered"
    assert frame.loc[recovery, "Estimate"] == "21 (12\u201345)"  # as in the tables


def test_synopsis_numbers_right_aligned_methods_in_words():
    from haplo_report.render.book import index_markdown, methods_markdown

    identity = {"study_id": "S", "study_title": "T", "data_cut": "2026-03-31", "suite": "0",
                "commit": "abc", "run_id": "0123456789abcdef"}
    lines = index_markdown(identity, results_frame(RESULTS)).splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| Endpoint"))
    cells = [c.strip() for c in lines[header + 1].strip("|").split("|")]
    assert [c.endswith(":") and not c.startswith(":") for c in cells] == [
        False, True, True, True, False]  # Estimate, n, Events right; labels and method left
    assert "ADTTE" not in "\n".join(lines)
    methods = methods_markdown({})
    assert "est^exp" not in methods and "log(-log) scale" in methods


def test_synopsis_quotes_the_mrd_primary_rate_with_its_denominator_as_the_text_does():
    rows = mrd_negative_1y(*_mrd_cut(), threshold=1e-4, window_days_365=30)
    frame = synopsis_frame(results_frame(rows)).set_index("Endpoint")
    label = "MRD-negative at 1 year, primary rate (success / (success + failure))"
    estimate = frame.loc[label, "Estimate"]
    assert estimate.startswith("66.7% (2/3; 95% CI ")
    assert estimate in mrd_headline(rows)
    assert (frame.loc[label, "n"], frame.loc[label, "Events"]) == ("3", "2")


def _mrd_cut():
    adsl = make_adsl([patient("S1"), patient("S2"), patient("F", death=100), patient("P",
                                                                               hsct_offset=500)])
    return adsl, make_admrd([("S1", 360, 0.0), ("S2", 370, 0.0)])


def test_pipe_table_escapes_bars_and_keeps_caption():
    text = pipe_table(pd.DataFrame({"a": ["x|y"], "b": [None]}), "Table 9 Title")
    assert "x\\|y" in text and text.rstrip().endswith(": Table 9 Title")


def test_validation_appendix_lists_unsupplied_tables():
    text = validation_markdown({"supplied": {"subjects": 31, "mrd": None}, "violations": []})
    text = re.sub(" +", " ", text)
    assert "| subjects | supplied | 31 |" in text
    assert "| mrd | not supplied | |" in text
    assert "Violations of the input contract: 0." in text


def test_validation_appendix_names_dropped_columns():
    text = validation_markdown({"supplied": {"subjects": 31}, "violations": [],
                                "dropped_columns": {"subjects": ["SCRNUM", "SITENAME"],
                                                    "mrd": ["LAB_ID"]}})
    assert ("Columns not in the data-cut specification, left out of the analysis: subjects: "
            "SCRNUM, SITENAME; mrd: LAB_ID.") in text


def test_provenance_appendix_from_the_manifest(tmp_path):
    document = assemble_document(make_fake_run(tmp_path / "run"))
    text = re.sub(" +", " ", document.source.read_text(encoding="utf-8"))
    assert "| subjects.csv | " + "a" * 16 + " | 33 |" in text and "a" * 17 not in text
    # the manifest's wall-clock duration (3.1 s) is not shown: a report rendered again later
    # from the final manifest reads the same as the one the run rendered
    assert "| 03_pfs | ok |\n" in text and "| 3.1 |" not in text


def test_manifest_without_data_cut_is_a_clear_error(tmp_path):
    run = make_fake_run(tmp_path / "run")
    (run / "manifest.json").write_text(json.dumps({"params": {"study_id": "X"}}))
    with pytest.raises(BookError, match="study_id and data_cut_date are required"):
        assemble_document(run)


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
    text = provenance_markdown(manifest, {"suite": "0.1.0", "commit": "abc",
                                          "run_id": "0123456789abcdef"})
    assert text.splitlines()[2].startswith("Run 0123456789abcdef, made by haplo-report 0.1.0")
    assert "manifest.json lists every installed distribution" in text and "Jinja2" not in text
    assert text.index("## Parameters") < text.index("## Software versions") < text.index(
        "## Notebooks executed")


def test_provenance_says_which_file_each_parameter_came_from():
    from haplo_report.render.book import provenance_markdown
    manifest = {"params": {"sponsor": "S", "data_cut_date": "2026-10-31", "ltfu_days": 180},
                "params_origins": {"sponsor": "study.yml", "data_cut_date": "example-later.yml",
                                   "ltfu_days": "default"}}
    text = re.sub(" +", " ", provenance_markdown(manifest, {"suite": "0.1.0", "commit": "abc",
                                                            "run_id": "0123456789abcdef"}))
    assert "| parameter | value | from |" in text
    assert "| sponsor | S | study.yml |" in text
    assert "| data_cut_date | 2026-10-31 | example-later.yml |" in text
    assert "| ltfu_days | 180 | default |" in text

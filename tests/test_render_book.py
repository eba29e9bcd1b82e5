"""The generated chapters: synopsis, validation and provenance from run data."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from haplo_report.render.book import (BookError, pipe_table, synopsis_frame, synopsis_narrative,
                                      validation_markdown)
from haplo_report.render.document import assemble_document
from haplo_report.analysis.results import ResultRow, results_frame
from haplo_report.analysis.mrd import mrd_headline, mrd_negative_1y
from render_fake_run import RESULTS, make_fake_run
from test_mrd import make_admrd, make_adsl, patient


def test_synopsis_formats_rows_and_marks_missing_and_ne():
    frame = synopsis_frame(results_frame(RESULTS)).set_index("Endpoint")
    pfs = "Progression-free survival (primary) at 1 year, %"
    assert frame.loc[pfs, "Estimate (95% CI)"] == "64.5 (45.4, 78.6)"
    assert frame.loc["Cumulative incidence of relapse at 1 year, %", "n"] == "31"
    assert frame.loc["Acute GVHD grade III-IV by day 100, %", "Estimate (95% CI)"] == "NE"
    assert frame.loc["Overall survival at 1 year, %", "Events"] == "8 deaths"
    assert frame.loc[pfs, "Events"] == "11 relapses or deaths"
    assert frame.loc["Non-relapse mortality at 1 year, %", "Estimate (95% CI)"] == "not reported"


def test_sap_v3_synopsis_rows_narrative_and_few_at_risk():
    # SAP v3: the registration's endpoints at their registration time, PFS and OS at 2 years
    # and median follow-up; no engraftment or GRFS; a 2-year estimate on 2 patients at risk
    # is not quoted, in the table or the narrative.
    rows = [ResultRow("DISP", "ENRLFL=Y", "count", None, 31, n=31),
            ResultRow("DISP", "FASFL=Y", "count", None, 30, n=31),
            ResultRow("PFS", "All", "survival", 365, 0.6952, 0.4953, 0.8286, n=30, events=9),
            ResultRow("PFS", "All", "at_risk", 365, 17, n=30, events=9),
            ResultRow("PFS", "All", "survival", 730, 0.6083, 0.40, 0.77, n=30, events=10),
            ResultRow("PFS", "All", "at_risk", 730, 2, n=30, events=10, flag="few at risk"),
            ResultRow("OS", "All", "survival", 730, 0.765, 0.570, 0.881, n=30, events=7),
            ResultRow("OS", "All", "at_risk", 730, 6, n=30, events=7),
            ResultRow("OS", "All", "median_followup", None, 412, 380, 450, n=30, events=7)]
    results = results_frame(rows)
    frame = synopsis_frame(results).set_index("Endpoint")
    assert [label.split(",")[0].split(" at ")[0].split(" by ")[0] for label in frame.index] == [
        "Progression-free survival (primary)", "Overall survival",
        "Cumulative incidence of relapse", "Non-relapse mortality", "MRD-negative",
        "Acute GVHD grade II-IV", "Acute GVHD grade III-IV", "Chronic GVHD", "Chronic GVHD",
        "Progression-free survival", "Overall survival", "Median follow-up"]
    assert frame.loc["Progression-free survival at 2 years, %", "Estimate (95% CI)"] == (
        "not quoted: 2 at risk, imprecise")
    assert frame.loc["Overall survival at 2 years, %", "Estimate (95% CI)"] == (
        "76.5 (57.0, 88.1)")
    assert frame.loc["Median follow-up, days", "Estimate (95% CI)"] == "412 (380, 450)"
    assert frame.loc["Median follow-up, days", "Events"] == "7 deaths (follow-up censored)"
    text = synopsis_narrative(results)
    assert text.startswith("Of 31 patients enrolled by the data cut, 30 were transplanted")
    assert "progression-free survival (primary endpoint) 69.5% (95% CI 49.5, 82.9)" in text
    assert "At 2 years: overall survival 76.5% (95% CI 57.0, 88.1)." in text
    assert "60.8" not in text and "not quoted" in text
    assert "412 days (95% CI 380, 450)" in text


def test_synopsis_takes_the_landmark_asked_for_not_another():
    rows = [ResultRow("PFS", "All", "survival", 100, 0.9, 0.8, 0.95, n=31, events=3),
            ResultRow("PFS", "DISGRP=CR1", "survival", 365, 0.5, 0.4, 0.6, n=20, events=9),
            ResultRow("PFS", "All", "survival", 365, 0.7, 0.6, 0.8, n=31, events=8)]
    frame = synopsis_frame(results_frame(rows)).set_index("Endpoint")
    assert frame.loc["Progression-free survival (primary) at 1 year, %",
                     "Estimate (95% CI)"] == "70.0 (60.0, 80.0)"


def test_synopsis_numbers_right_aligned_methods_in_words():
    from haplo_report.render.book import index_markdown, methods_markdown

    identity = {"study_id": "S", "study_title": "T", "data_cut": "2026-03-31", "suite": "0",
                "commit": "abc", "run_id": "0123456789abcdef"}
    lines = index_markdown(identity, results_frame(RESULTS)).splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| Endpoint"))
    cells = [c.strip() for c in lines[header + 1].strip("|").split("|")]
    assert [c.endswith(":") and not c.startswith(":") for c in cells] == [
        False, True, True, False]  # Estimate and n right; labels and events left
    assert "ADTTE" not in "\n".join(lines)
    methods = methods_markdown({})
    assert "est^exp" not in methods and "log(-log) scale" in methods


def test_synopsis_quotes_the_mrd_primary_rate_with_its_denominator_as_the_text_does():
    rows = mrd_negative_1y(*_mrd_cut(), threshold=1e-4, window_days_365=30)
    results = results_frame(rows)
    frame = synopsis_frame(results).set_index("Endpoint")
    label = "MRD-negative at 1 year (primary rate), %"
    estimate = frame.loc[label, "Estimate (95% CI)"]
    assert estimate.startswith("66.7 (")  # the one number format of every row
    assert (frame.loc[label, "n"], frame.loc[label, "Events"]) == ("3", "2 MRD-negative patients")
    assert "66.7% (2/3; 95% CI " in synopsis_narrative(results)
    assert "66.7% (2/3; 95% CI " in mrd_headline(rows)


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


def test_sap_v3_methods_name_every_v3_rule_with_the_run_parameters():
    from haplo_report.render.book import methods_markdown

    text = methods_markdown({"subgroup_min_events": 6, "min_at_risk": 4, "subgroup_min_n": 5})
    assert "levels together at least 6 events" in text
    assert "fewer than 4 at risk is reported, marked" in text
    assert "| Death before transplant" in text
    assert "appendix 16.2 (the patient listings together)" in text
    assert "37.0 (32.0, 44.8)" in text

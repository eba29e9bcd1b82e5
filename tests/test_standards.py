"""Standard outputs: ADaM SAS transport files, define.xml and the ARS reporting event."""

from __future__ import annotations

import copy
import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

from haplo_report.analysis.results import read_results
from haplo_report.outputs.standards import ADAM_DIR, ARS_FILE, write_standard_outputs
from haplo_report.outputs.standards.ars import (ArsError, check_references, reporting_event,
                                                rows_from_ars, tables_of)
from haplo_report.outputs.standards.metadata import VARIABLES, MetadataError, Variable
from haplo_report.outputs.standards.xpt import write_xpt
from conftest import REAL_STUDY

CUT = dt.date(2026, 7, 31)
ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
DEF = "{http://www.cdisc.org/ns/def/v2.1}"
KEY = ["endpoint", "subgroup", "statistic", "time_days", "method"]


@pytest.fixture(scope="module")
def run_dir(real_run) -> Path:
    assert real_run.exit_code == 0, real_run.stderr
    return real_run.run_dir


@pytest.fixture(scope="module")
def event(run_dir: Path) -> dict:
    return json.loads((run_dir / ARS_FILE).read_text(encoding="utf-8"))


@pytest.mark.parametrize("dataset", ["adsl", "adtte", "admrd", "adgvhd", "adae"])
def test_xpt_reads_back_with_the_parquet_values_and_labels(run_dir, dataset):
    parquet = pd.read_parquet(run_dir / "data" / f"{dataset}.parquet")
    xpt, meta = pyreadstat.read_xport(str(run_dir / ADAM_DIR / f"{dataset}.xpt"))
    assert meta.table_name == dataset.upper()
    assert list(xpt.columns) == ["STUDYID", *parquet.columns]
    assert (xpt["STUDYID"] == REAL_STUDY).all()
    labels = dict(zip(meta.column_names, meta.column_labels))
    assert labels["USUBJID"] == "Unique Subject Identifier"
    for name, column in parquet.items():
        read = xpt[name]
        if pd.api.types.is_datetime64_any_dtype(column):
            assert meta.original_variable_types[name] == "DATE9."  # SAS writes the format name with its period
            expected = [None if pd.isna(v) else v.date() for v in column]
            assert [None if pd.isna(v) else v for v in read] == expected, name
        elif pd.api.types.is_numeric_dtype(column):
            assert read.astype("float64").tolist() == pytest.approx(
                column.astype("float64").tolist(), nan_ok=True), name
        else:
            assert read.replace("", None).tolist() == \
                [None if pd.isna(v) else str(v) for v in column], name


def test_adsl_labels_and_dates_as_sas_dates(run_dir):
    _, meta = pyreadstat.read_xport(str(run_dir / ADAM_DIR / "adsl.xpt"))
    labels = dict(zip(meta.column_names, meta.column_labels))
    assert labels["FASFL"] == "Full Analysis Set Population Flag"
    assert labels["HSCTDT"] == "Date of Transplant"
    assert meta.file_label == "Subject-Level Analysis Dataset"


@pytest.mark.parametrize(("frame", "variable", "message"), [
    (pd.DataFrame({"USUBJIDLONG": ["A"]}), None, r"USUBJIDLONG: a SAS name is 1-8"),
    (pd.DataFrame({"AGE": [1]}), Variable("Age of the patient at registration, in whole years"),
     r"ADSL.AGE: label .* at most 40 ASCII"),
    (pd.DataFrame({"AGE": [1]}), Variable("Âge (années)"), r"ADSL.AGE: label .* ASCII"),
    (pd.DataFrame({"SITEID": ["x" * 201]}), None, r"ADSL.SITEID: a value is 201 bytes"),
    (pd.DataFrame({"NEWVAR": ["x"]}), None, r"ADSL.NEWVAR has no label"),
])
def test_transport_rules_refuse_naming_the_variable(tmp_path, monkeypatch, frame, variable,
                                                    message):
    if variable is not None:
        monkeypatch.setitem(VARIABLES["ADSL"], frame.columns[0], variable)
    with pytest.raises(MetadataError, match=message):
        write_xpt("ADSL", frame, tmp_path / "adsl.xpt", study_id="S", cut=CUT)
    assert not (tmp_path / "adsl.xpt").exists()


def test_define_xml_parses_and_every_reference_resolves(run_dir):
    root = ET.parse(run_dir / ADAM_DIR / "define.xml").getroot()
    version = root.find(f"{ODM}Study/{ODM}MetaDataVersion")
    items = {e.get("OID") for e in version.iter(f"{ODM}ItemDef")}
    codelists = {e.get("OID") for e in version.iter(f"{ODM}CodeList")}
    methods = {e.get("OID") for e in version.iter(f"{ODM}MethodDef")}
    refs = list(version.iter(f"{ODM}ItemRef"))
    assert len(refs) == len(items) > 60
    assert all(ref.get("ItemOID") in items for ref in refs)
    assert all(ref.get("MethodOID") in methods for ref in refs if ref.get("MethodOID"))
    assert all(ref.get("CodeListOID") in codelists for ref in version.iter(f"{ODM}CodeListRef"))
    groups = {g.get("Name"): g for g in version.iter(f"{ODM}ItemGroupDef")}
    assert sorted(groups) == ["ADAE", "ADGVHD", "ADMRD", "ADSL", "ADTTE"]
    leaf = groups["ADTTE"].find(f"{DEF}leaf")
    assert leaf.get("{http://www.w3.org/1999/xlink}href") == "adtte.xpt"
    paramcd = version.find(f"{ODM}CodeList[@OID='CL.PARAMCD']")
    coded = {e.get("CodedValue") for e in paramcd}
    assert {"PFS", "OS", "CIR", "NRM", "GRFS"} <= coded
    cnsr = version.find(f"{ODM}CodeList[@OID='CL.CNSR']")
    assert [e.get("CodedValue") for e in cnsr] == ["0", "1", "2", "3", "4"]
    fasfl = version.find(f"{ODM}MethodDef[@OID='MT.ADSL.FASFL']")
    assert "transplanted" in "".join(fasfl.itertext())


def test_ars_holds_every_result_row_and_round_trips(run_dir, event):
    original = read_results(run_dir / "results.csv")
    back = rows_from_ars(event)
    assert len(back) == len(original)
    pd.testing.assert_frame_equal(
        back.sort_values(KEY, na_position="first").reset_index(drop=True),
        original.sort_values(KEY, na_position="first").reset_index(drop=True))


def test_ars_ids_resolve_and_required_fields_are_present(event):
    check_references(event)  # raises on a dangling id
    assert {"id", "name", "mainListOfContents"} <= set(event)
    for analysis in event["analyses"]:
        assert {"id", "name", "reason", "purpose", "methodId"} <= set(analysis)
        assert analysis["reason"] == {"controlledTerm": "SPECIFIED IN SAP"}
        assert analysis["purpose"]["controlledTerm"] in (
            "PRIMARY OUTCOME MEASURE", "SECONDARY OUTCOME MEASURE",
            "EXPLORATORY OUTCOME MEASURE")
        assert analysis["programmingCode"]["documentRef"]["pageRefs"][0]["pageNames"]
    for method in event["methods"]:
        assert method["operations"] and all({"id", "name", "order"} <= set(op)
                                             for op in method["operations"])
    primary = [a for a in event["analyses"]
               if a["purpose"]["controlledTerm"] == "PRIMARY OUTCOME MEASURE"]
    assert primary and all(a["name"].startswith("PFS") for a in primary)
    assert {s["id"] for s in event["analysisSets"]} == {"AS_ENRL", "AS_FAS", "AS_SAF"}
    pfs = next(a for a in event["analyses"] if a["name"] == "PFS, day 365")
    assert pfs["analysisSetId"] == "AS_FAS" and pfs["dataSubsetId"] == "DS_PFS"


def test_every_result_is_shown_by_a_numbered_output(run_dir, event):
    original = read_results(run_dir / "results.csv")
    unmapped = original[[not tables_of(r.endpoint, r.subgroup, r.statistic)
                         for r in original.itertuples()]]
    assert unmapped.empty, unmapped[["endpoint", "statistic"]].drop_duplicates()
    numbers = [o["name"] for o in event["outputs"]]
    assert "Table 14.2.1" in numbers and "Table 14.3.10" in numbers


def test_a_dangling_reference_is_refused(event):
    broken = copy.deepcopy(event)
    broken["analyses"][0]["methodId"] = "MTH_99"
    with pytest.raises(ArsError, match="methodId 'MTH_99' is not defined"):
        check_references(broken)


def test_standard_outputs_are_byte_identical_on_a_second_write(run_dir, tmp_path):
    copy_dir = tmp_path / "run"
    for part in ("data", "results", "notebooks"):
        for path in (run_dir / part).glob("*.*"):
            (copy_dir / part).mkdir(parents=True, exist_ok=True)
            (copy_dir / part / path.name).write_bytes(path.read_bytes())
    written = write_standard_outputs(copy_dir, study_id=REAL_STUDY,
                                     study_title=_title(run_dir),
                                     data_cut_date=run_dir.name)
    for path in written:
        assert path.read_bytes() == (run_dir / path.relative_to(copy_dir)).read_bytes(), path


def _title(run_dir: Path) -> str:
    return json.loads((run_dir / "manifest.json").read_text())["params"]["study_title"]


def test_reporting_event_of_hand_built_rows():
    rows = pd.DataFrame([
        {"endpoint": "OS", "subgroup": "DISGRP=CR1", "statistic": "survival", "time_days": 365.0,
         "estimate": 0.8, "ci_lower": 0.5, "ci_upper": 0.93, "n": 10, "events": 2,
         "method": "KM", "flag": "", "notebook": "04_os"},
        {"endpoint": "OS", "subgroup": "DISGRP=CR2+", "statistic": "survival",
         "time_days": 365.0, "estimate": None, "ci_lower": None, "ci_upper": None, "n": 3,
         "events": 0, "method": "KM", "flag": "NE", "notebook": "04_os"}])
    event = reporting_event(rows, study_id="S", study_title="T", data_cut_date="2026-01-31")
    assert [a["name"] for a in event["analyses"]] == ["OS, DISGRP=CR1, day 365",
                                                      "OS, DISGRP=CR2+, day 365"]
    grouping = event["analysisGroupings"][0]
    assert [g["label"] for g in grouping["groups"]] == ["CR1", "CR2+"]
    first = {r["operationId"]: r for r in event["analyses"][0]["results"]}
    assert first["MTH_01_SURVIVAL_ESTIMATE"]["formattedValue"] == "80.0"
    assert first["MTH_01_SURVIVAL_EVENTS"]["rawValue"] == "2"
    flags = [r["rawValue"] for r in event["analyses"][1]["results"]
             if r["operationId"].endswith("_FLAG")]
    assert flags == ["NE"]
    assert event["outputs"][0]["name"] == "Table 14.2.4"


def test_ars_round_trips_subgroup_keys_holding_free_text():
    """Issue 28: levels holding ";", "=", "\\" and a missing level come back as the same keys."""
    from haplo_report.analysis.results import ResultRow, results_frame  # noqa: PLC0415
    from haplo_report.analysis.summaries import count_row  # noqa: PLC0415
    from haplo_report.outputs.standards.ars import reporting_event  # noqa: PLC0415

    keys = ["SOC=Infections\\;PT=Sepsis;PT=ZS1 Sepsis\\;AESER=Y",
            "SOC=Infections\\;PT=Sepsis;PT=ZS1 Sepsis\\;AESER=Y;AESER=Y",
            "SUBTYPE=", "SUBTYPE=Missing", "SUBTYPE=a\\\\b", "AGE"]
    rows: list[ResultRow] = [count_row("AESOCPT", k, 1, 5) for k in keys]
    frame = results_frame(rows).assign(notebook="11_safety")
    event = reporting_event(frame, study_id="S", study_title="T", data_cut_date="2026-01-01")
    back = rows_from_ars(event)
    assert sorted(back["subgroup"]) == sorted(keys)


def test_ars_counts_and_numbers_at_risk_formatted_as_the_tables_show_them():
    # ARS formattedValue was "31.0" for counts the tables show as "31"; SAP v3 at_risk rows
    # are in the reporting event with their flag.
    rows = pd.DataFrame([
        {"endpoint": "DISP", "subgroup": "FASFL=Y", "statistic": "count", "time_days": None,
         "estimate": 31.0, "ci_lower": None, "ci_upper": None, "n": 33, "events": None,
         "method": "n (%)", "flag": "", "notebook": "01_population"},
        {"endpoint": "PFS", "subgroup": "PHGRP=Ph-positive", "statistic": "at_risk",
         "time_days": 730.0, "estimate": 2.0, "ci_lower": None, "ci_upper": None, "n": 6,
         "events": 3, "method": "at risk", "flag": "few at risk", "notebook": "03_pfs"}])
    event = reporting_event(rows, study_id="S", study_title="T", data_cut_date="2026-01-31")
    values = {r["operationId"]: r for a in event["analyses"] for r in a["results"]}
    count = next(v for k, v in values.items() if k.endswith("COUNT_ESTIMATE"))
    at_risk = next(v for k, v in values.items() if k.endswith("AT_RISK_ESTIMATE"))
    assert (count["rawValue"], count["formattedValue"]) == ("31", "31")
    assert (at_risk["rawValue"], at_risk["formattedValue"]) == ("2", "2")
    flag = next(v for k, v in values.items() if k.endswith("AT_RISK_FLAG"))
    assert flag["rawValue"] == "few at risk"
    assert "Table 14.2.2" in [o["name"] for o in event["outputs"]]

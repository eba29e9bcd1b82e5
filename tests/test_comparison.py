"""analysis.comparison: what changed between two cuts, on hand-built pairs of run folders."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from haplo_report.analysis.chapters import chapter_rows
from haplo_report.analysis.comparison import (INPUT_DIR, ComparisonError, displayed_change,
                                              table_changes)
from haplo_report.analysis.derive import derive_cut
from haplo_report.analysis.results import read_results, results_frame, write_results
from haplo_report.data.cut import Cut
from haplo_report.data.simulate import simulate_cut
from haplo_report.formatting import fmt_percent
from haplo_report.outputs.tables.cells import cell_changes, section_14_tables
from haplo_report.outputs.tables.cells import table_cells as cells_of
from haplo_report.params import Params
from haplo_report.paths import previous_run
from haplo_report.plan import NOTEBOOKS
from haplo_report.run.comparison import compare_runs

OLD_CUT = dt.date(2026, 7, 31)
NEW_CUT = dt.date(2026, 10, 31)
LATER_EXPORT = np.datetime64("2026-11-20", "D")


def _typed(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Simulated frames typed as validation types them (text as pandas strings)."""
    out = {}
    for name, frame in frames.items():
        frame = frame.copy()
        for column in frame.columns:
            if frame[column].dtype == object:
                frame[column] = frame[column].astype("string")
        if "AETOXGR" in frame:
            frame["AETOXGR"] = frame["AETOXGR"].astype("Int64")
        out[name] = frame
    return out


def make_run(root: Path, frames: dict[str, pd.DataFrame], cut: dt.date,
             study_id: str = "STUDY", **options) -> Path:
    """A run folder as a comparison reads it: inputs, ADSL, every chapter's result rows, the
    section 14 tables (CSV) and the manifest's parameters (``options``: Params fields)."""
    run = root / study_id / str(cut)
    (run / INPUT_DIR).mkdir(parents=True)
    frames = _typed(frames)
    for name, frame in frames.items():
        frame.to_parquet(run / INPUT_DIR / f"{name}.parquet", index=False)
    params = Params(study_id=study_id, study_title="T", data_dir=run, data_cut_date=cut,
                    **options)
    derived = derive_cut(Cut(**frames), params)
    derived.adsl.to_parquet(run / "data" / "adsl.parquet", index=False)
    rows = {spec.name: chapter_rows(spec.name, derived,
                                    **{k: getattr(params, k) for k in spec.params})
            for spec in NOTEBOOKS}
    write_results(results_frame([row for found in rows.values() for row in found]),
                  run / "results.csv")
    for table in section_14_tables(rows, str(cut), derived.supplied, params.ltfu_days):
        table.to_csv(run / "tables" / f"{table.number}.csv")
    manifest = {"params": {**params.to_dict(), "data_dir": "data"}}
    del manifest["params"]["output_dir"]
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return run


@pytest.fixture(scope="module")
def base() -> dict[str, pd.DataFrame]:
    return simulate_cut(31, 2032)


@pytest.fixture(scope="module")
def previous_template(tmp_path_factory, base) -> Path:
    """The run of ``base`` at the previous cut, made once for the module."""
    return make_run(tmp_path_factory.mktemp("previous"), base, OLD_CUT)


@pytest.fixture
def previous(tmp_path, previous_template) -> Path:
    """A copy of :func:`previous_template` under this test's ``STUDY`` folder."""
    return Path(shutil.copytree(previous_template, tmp_path / "STUDY" / str(OLD_CUT)))


@pytest.fixture(scope="module")
def later() -> dict[str, pd.DataFrame]:
    return simulate_cut(31, 2032, LATER_EXPORT)


def test_unchanged_export_reports_nothing_retrospective(tmp_path, previous, base, later):
    old = previous
    new = make_run(tmp_path, later, NEW_CUT)  # the same study exported later, no correction
    comparison = compare_runs(old, new)
    assert comparison.retrospective.empty
    assert comparison.table_cells.empty
    assert set(comparison.headlines["corrections"]) <= {"0.0", "0"}
    assert comparison.patients.empty  # all 31 were enrolled and transplanted before
    events = comparison.new_events
    assert (pd.to_datetime(events["date"]) > pd.Timestamp(OLD_CUT)).all()
    assert (pd.to_datetime(events["date"]) <= pd.Timestamp(NEW_CUT)).all()


def test_new_relapse_is_a_new_event_of_its_patient(tmp_path, previous, base):
    newer = {k: v.copy() for k, v in base.items()}
    patient = newer["subjects"].loc[newer["subjects"]["HSCTDT"].notna(), "USUBJID"].iloc[0]
    newer["relapses"] = pd.concat([newer["relapses"], pd.DataFrame(
        {"USUBJID": [patient], "RELDT": [pd.Timestamp("2026-09-02")], "RELSITE": ["BM"]})],
        ignore_index=True)
    newer["subjects"].loc[newer["subjects"]["USUBJID"] == patient, "LSTALVDT"] = \
        pd.Timestamp("2026-10-20")
    comparison = compare_runs(previous,
                              make_run(tmp_path, newer, NEW_CUT))
    relapses = comparison.new_events[comparison.new_events["event"] == "relapse"]
    assert relapses[["USUBJID", "date"]].values.tolist() == [[patient, "2026-09-02"]]
    assert comparison.retrospective.empty  # LSTALVDT moving later is follow-up


def test_new_patient_is_newly_enrolled_and_transplanted(tmp_path, previous, base):
    newer = {k: v.copy() for k, v in base.items()}
    subjects = newer["subjects"]
    added = subjects.iloc[[0]].assign(USUBJID="HB-09-001", RFICDT=pd.Timestamp("2026-08-10"),
                                      HSCTDT=pd.Timestamp("2026-09-01"),
                                      LSTALVDT=pd.Timestamp("2026-10-25"))
    newer["subjects"] = pd.concat([subjects, added], ignore_index=True)
    comparison = compare_runs(previous,
                              make_run(tmp_path, newer, NEW_CUT))
    found = comparison.patients[comparison.patients["USUBJID"] == "HB-09-001"]
    assert sorted(found["analysis_set"]) == ["enrolled", "full analysis set", "safety set"]
    assert set(found["change"]) == {"new"}
    assert comparison.retrospective.empty  # consent after the previous cut


def test_corrected_date_before_previous_cut_is_retrospective(tmp_path, previous, base):
    newer = {k: v.copy() for k, v in base.items()}
    row = newer["deaths"].index[newer["deaths"]["DTHDT"] <= pd.Timestamp("2026-01-01")][0]
    old_date = newer["deaths"].loc[row, "DTHDT"]
    newer["deaths"].loc[row, "DTHDT"] = old_date - pd.Timedelta(days=20)
    comparison = compare_runs(previous,
                              make_run(tmp_path, newer, OLD_CUT + dt.timedelta(days=1)))
    change = comparison.retrospective
    assert change[["table", "column", "old", "new", "change"]].values.tolist() == [[
        "deaths", "DTHDT", old_date.strftime("%Y-%m-%d"),
        (old_date - pd.Timedelta(days=20)).strftime("%Y-%m-%d"), "value changed"]]
    # both dates before day 365: no headline estimate moves
    assert set(comparison.headlines["corrections"]) <= {"0.0", "0"}


def test_deleted_adverse_event_is_retrospective(tmp_path, previous, base):
    newer = {k: v.copy() for k, v in base.items()}
    events = newer["adverse_events"]
    row = events.index[events["AESTDT"] <= pd.Timestamp(OLD_CUT)][0]
    deleted = events.loc[row]
    newer["adverse_events"] = events.drop(index=row)
    comparison = compare_runs(previous,
                              make_run(tmp_path, newer, NEW_CUT))
    change = comparison.retrospective
    assert change["change"].tolist() == ["record deleted"]
    assert change["key"].iloc[0] == (f"USUBJID={deleted['USUBJID']}; "
                                     f"AEDECOD={deleted['AEDECOD']}; "
                                     f"AESTDT={deleted['AESTDT']:%Y-%m-%d}")


def test_duplicate_key_is_reported_not_guessed():
    frame = pd.DataFrame({"USUBJID": ["A", "A"], "AEDECOD": ["Nausea", "Nausea"],
                          "AESTDT": pd.to_datetime(["2026-01-02", "2026-01-02"]),
                          "AETOXGR": [1, 2]})
    found = table_changes("adverse_events", frame, frame.iloc[[0]], OLD_CUT)
    assert found["change"].tolist() == ["key not unique in the previous export: not compared",
                                        "record added"]


def test_refuses_other_study_and_the_same_cut(tmp_path, previous, base):
    old = previous
    with pytest.raises(ComparisonError, match="not compared with itself"):
        compare_runs(old, old)
    other = make_run(tmp_path, base, NEW_CUT, study_id="OTHER")
    with pytest.raises(ComparisonError, match="different studies: STUDY .* and OTHER"):
        compare_runs(old, other)
    newer = make_run(tmp_path, base, NEW_CUT)
    with pytest.raises(ComparisonError, match="give the earlier run folder first"):
        compare_runs(newer, old)


def test_previous_run_is_the_latest_earlier_cut(tmp_path, previous, base):
    make_run(tmp_path, base, dt.date(2026, 1, 31))
    middle = previous
    assert previous_run(tmp_path / "STUDY", NEW_CUT) == middle
    assert previous_run(tmp_path / "STUDY", dt.date(2026, 1, 31)) is None


def test_report_chapter_lists_changes_and_escapes_data(tmp_path, previous, base):
    from haplo_report.render.changes import changes_markdown

    newer = {k: v.copy() for k, v in base.items()}
    events = newer["adverse_events"]
    before = events[events["AESTDT"] <= pd.Timestamp(OLD_CUT)]
    patients = list(dict.fromkeys(before["USUBJID"]))
    held = before["USUBJID"].isin(patients[:3])  # a term of 3 patients is shown, escaped
    events.loc[before.index[held], "AETERM"] = "-@<script>alert(1)</script>"
    events.loc[before.index[~held][0], "AETERM"] = "=HYPERLINK(\"http://x\",\"Jane Roe\")"
    comparison = compare_runs(previous,
                              make_run(tmp_path, newer, NEW_CUT))
    comparison.write(tmp_path / "run" / "comparison")
    text = changes_markdown(tmp_path / "run")
    assert text.startswith("# Changes since the data cut of 2026-07-31")
    assert "AETERM: " in text and "<script>" not in text
    assert "\\<script\\>alert(1)\\</script\\>" in text
    # issue 28: text of fewer than 3 patients is "Other", in the chapter and the CSV
    assert "Jane Roe" not in text and "HYPERLINK" not in text
    retrospective = (tmp_path / "run" / "comparison" / "retrospective.csv").read_text()
    assert "Jane Roe" not in retrospective and "\u2192 Other" in text
    # a formula to a spreadsheet is quoted in the CSV (OWASP), shown as typed in the chapter
    assert ",'-@<script>" in retrospective and "\u2192 -\\@\\<script" in text
    assert "Headline estimates, previous and this data cut" in text
    assert re.search(r"\| data_cut_date +\| 2026-07-31 +\| 2026-10-31 +\|", text)


def test_first_cut_has_no_changes_appendix(tmp_path):
    from haplo_report.render.changes import has_changes
    from haplo_report.run.comparison import write_comparison

    params = Params(study_id="S", study_title="T", data_dir=tmp_path, data_cut_date=OLD_CUT)
    summary = write_comparison(tmp_path, params, None)
    assert summary["note"] == ("no earlier data cut of this study was found under the output "
                               "folder: nothing to compare")
    assert not has_changes(tmp_path)


# --- the three steps, each on its own and together (hand-built pairs) ---------------------

def _row(comparison, code: str) -> pd.Series:
    """The endpoint's first synopsis row (PFS and OS are there at 1 and 2 years, SAP v3)."""
    headlines = comparison.headlines
    return headlines[headlines["code"] == code].iloc[0]


def _unchanged(column: pd.Series) -> bool:
    return set(column) <= {"0.0", "0"}


def _with_earlier_death(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """A death, dated long before the previous cut, added for a patient the previous export
    had alive and without relapse: a correction the previous cut could already show."""
    newer = {k: v.copy() for k, v in frames.items()}
    subjects = newer["subjects"]
    dead = set(newer["deaths"]["USUBJID"]) | set(newer["relapses"]["USUBJID"])
    alive = subjects[subjects["HSCTDT"].notna() & ~subjects["USUBJID"].isin(dead)
                     & (subjects["HSCTDT"] <= pd.Timestamp("2025-06-30"))].iloc[0]
    date = alive["HSCTDT"] + pd.Timedelta(days=200)
    newer["deaths"] = pd.concat([newer["deaths"], pd.DataFrame(
        {"USUBJID": [alive["USUBJID"]], "DTHDT": [date], "DTHCAUS": ["INFECTION"]})],
        ignore_index=True)
    subjects.loc[subjects["USUBJID"] == alive["USUBJID"], "LSTALVDT"] = date
    return newer


def _count(text: str) -> int:
    return int(text.split()[0])


def test_corrections_step_alone(tmp_path, previous, base):
    comparison = compare_runs(previous,
                              make_run(tmp_path, _with_earlier_death(base),
                                       OLD_CUT + dt.timedelta(days=1)))
    assert comparison.parameters["parameter"].tolist() == ["data_cut_date"]
    assert _unchanged(comparison.headlines["parameters"])
    for code in ("OS", "PFS"):  # the death falls before day 365
        assert float(_row(comparison, code)["corrections"]) < 0
    cells = comparison.table_cells
    assert set(cells["cause"]) == {"corrections"}
    died = cells[(cells["table"] == "14.1.1") & (cells["row"] == "Died")].iloc[0]
    assert _count(died["current"]) == _count(died["previous"]) + 1
    assert "14.2.3" in set(cells["table"])  # overall survival
    assert comparison.summary()["headlines_changed"]["corrections"] >= 2


def test_parameters_step_alone(tmp_path, previous, base):
    comparison = compare_runs(previous,
                              make_run(tmp_path, base, OLD_CUT + dt.timedelta(days=1),
                                       gvhd_relapse_competes=True))
    changed = comparison.parameters.set_index("parameter")
    assert changed.index.tolist() == ["data_cut_date", "gvhd_relapse_competes"]
    assert changed.loc["gvhd_relapse_competes"].tolist() == ["false", "true"]
    assert comparison.retrospective.empty
    assert _unchanged(comparison.headlines["corrections"])
    cgvhd = _row(comparison, "CGVHD")
    assert float(cgvhd["parameters"]) < 0  # relapse now competes with chronic GVHD
    # step 2 is a real re-derivation: the previous cut run with this run's parameters
    rerun = read_results(make_run(tmp_path / "rerun", base, OLD_CUT,
                                  gvhd_relapse_competes=True) / "results.csv")
    found = rerun[(rerun["endpoint"] == "CGVHD") & (rerun["subgroup"] == "All")
                  & (rerun["statistic"] == "cif") & (rerun["time_days"] == 365)]
    assert cgvhd["after_parameters"] == fmt_percent(found["estimate"].iloc[0])
    cells = comparison.table_cells
    assert set(cells["cause"]) == {"parameters"}
    assert {"14.3.3", "14.3.4"} <= set(cells["table"])
    assert not {"14.2.1", "14.3.7"} & set(cells["table"])


def test_new_information_step_alone(tmp_path, previous, base, later):
    comparison = compare_runs(previous,
                              make_run(tmp_path, later, NEW_CUT))
    assert _unchanged(comparison.headlines["corrections"])
    assert _unchanged(comparison.headlines["parameters"])
    assert comparison.table_cells.empty
    followup = comparison.headlines.set_index("statistic").loc["median_followup"]
    assert int(followup["new_information"]) == int(followup["current"]) - int(
        followup["previous"]) > 0
    assert (comparison.headlines["after_parameters"] == comparison.headlines["previous"]).all()


def test_three_steps_together_add_up_to_the_change(tmp_path, previous, base, later):
    comparison = compare_runs(previous,
                              make_run(tmp_path, _with_earlier_death(later), NEW_CUT,
                                       gvhd_relapse_competes=True))
    assert float(_row(comparison, "OS")["corrections"]) < 0
    assert float(_row(comparison, "CGVHD")["parameters"]) < 0
    assert set(comparison.table_cells["cause"]) == {"corrections", "parameters"}
    numeric = comparison.headlines[comparison.headlines["previous"].str.match(r"^[0-9.]+$")
                                   & comparison.headlines["current"].str.match(r"^[0-9.]+$")]
    assert len(numeric) >= 10
    for row in numeric.itertuples():
        total = sum(float(getattr(row, step))
                    for step in ("corrections", "parameters", "new_information"))
        assert round(float(row.previous) + total, 1) == float(row.current), row.endpoint


def test_changes_are_differences_of_displayed_values():
    from haplo_report.analysis.synopsis import HEADLINES

    cir, followup = HEADLINES[3], HEADLINES[-1]
    assert displayed_change("17.1", "17.0", cir) == "-0.1"
    assert displayed_change("17.1", "17.1", cir) == "0.0"
    assert displayed_change("NE", "45.2", cir) == "NE to 45.2"
    assert displayed_change("629", "705", followup) == "+76"


def test_section_14_cells_are_named_by_row_path_and_header():
    previous = cells_of("14.3.7", ["Term", "Any (N=28)"], [0, 1, 0, 1],
                        [["Infections", "19"], ["CMV", "12"], ["Investigations", "9"],
                         ["ALT", "9"]])
    corrected = cells_of("14.3.7", ["Term", "Any (N=29)"], [0, 1, 0, 1],
                         [["Infections", "19"], ["CMV", "13"], ["Investigations", "9"],
                          ["ALT", "9"]])
    found = cell_changes(previous, corrected, corrected)
    assert found.values.tolist() == [
        ["14.3.7", "(column header)", "Any (N=29)", "Any (N=28)", "Any (N=29)", "corrections"],
        ["14.3.7", "Infections > CMV", "Any (N=29)", "12", "13", "corrections"]]


def test_every_notebook_of_the_plan_has_its_chapter_rows():
    """A comparison re-computes every chapter's rows: a new notebook needs its entry."""
    from haplo_report.analysis.chapters import CHAPTER_ROWS

    assert list(CHAPTER_ROWS) == [spec.name for spec in NOTEBOOKS]

"""analysis.comparison: what changed between two cuts, on hand-built pairs of run folders."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from haplo_report.analysis.comparison import (INPUT_DIR, ComparisonError, compare_runs,
                                              table_changes)
from haplo_report.analysis.derive import derive_cut
from haplo_report.paths import previous_run
from haplo_report.analysis.endpoints import (CIF_ENDPOINTS, KM_ENDPOINTS, endpoint_landmarks,
                                             tte_results)
from haplo_report.analysis.results import results_frame, write_results
from haplo_report.data.cut import Cut
from haplo_report.data.simulate import simulate_cut
from haplo_report.params import Params

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
             study_id: str = "STUDY") -> Path:
    """A run folder as a comparison reads it: inputs, ADSL, result rows, manifest."""
    run = root / study_id / str(cut)
    (run / INPUT_DIR).mkdir(parents=True)
    frames = _typed(frames)
    for name, frame in frames.items():
        frame.to_parquet(run / INPUT_DIR / f"{name}.parquet", index=False)
    params = Params(study_id=study_id, study_title="T", data_dir=run, data_cut_date=cut)
    derived = derive_cut(Cut(**frames), params)
    derived.adsl.to_parquet(run / "data" / "adsl.parquet", index=False)
    rows = []
    for endpoint in (*KM_ENDPOINTS, *CIF_ENDPOINTS):
        rows += tte_results(derived.adtte, endpoint, subgroups=(),
                            landmarks=endpoint_landmarks(endpoint, params.landmarks_days))
    write_results(results_frame(rows), run / "results.csv")
    manifest = {"params": {k: v for k, v in params.to_dict().items()}}
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return run


@pytest.fixture(scope="module")
def base() -> dict[str, pd.DataFrame]:
    return simulate_cut(31, 2032)


@pytest.fixture(scope="module")
def later() -> dict[str, pd.DataFrame]:
    return simulate_cut(31, 2032, LATER_EXPORT)


def test_unchanged_export_reports_nothing_retrospective(tmp_path, base, later):
    old = make_run(tmp_path, base, OLD_CUT)
    new = make_run(tmp_path, later, NEW_CUT)  # the same study exported later, no correction
    comparison = compare_runs(old, new)
    assert comparison.retrospective.empty
    assert (comparison.headlines["flag"] == "").all()
    assert comparison.patients.empty  # all 31 were enrolled and transplanted before
    events = comparison.new_events
    assert (pd.to_datetime(events["date"]) > pd.Timestamp(OLD_CUT)).all()
    assert (pd.to_datetime(events["date"]) <= pd.Timestamp(NEW_CUT)).all()


def test_new_relapse_is_a_new_event_of_its_patient(tmp_path, base):
    newer = {k: v.copy() for k, v in base.items()}
    patient = newer["subjects"].loc[newer["subjects"]["HSCTDT"].notna(), "USUBJID"].iloc[0]
    newer["relapses"] = pd.concat([newer["relapses"], pd.DataFrame(
        {"USUBJID": [patient], "RELDT": [pd.Timestamp("2026-09-02")], "RELSITE": ["BM"]})],
        ignore_index=True)
    newer["subjects"].loc[newer["subjects"]["USUBJID"] == patient, "LSTALVDT"] = \
        pd.Timestamp("2026-10-20")
    comparison = compare_runs(make_run(tmp_path, base, OLD_CUT),
                              make_run(tmp_path, newer, NEW_CUT))
    relapses = comparison.new_events[comparison.new_events["event"] == "relapse"]
    assert relapses[["USUBJID", "date"]].values.tolist() == [[patient, "2026-09-02"]]
    assert comparison.retrospective.empty  # LSTALVDT moving later is follow-up


def test_new_patient_is_newly_enrolled_and_transplanted(tmp_path, base):
    newer = {k: v.copy() for k, v in base.items()}
    subjects = newer["subjects"]
    added = subjects.iloc[[0]].assign(USUBJID="HB-09-001", RFICDT=pd.Timestamp("2026-08-10"),
                                      HSCTDT=pd.Timestamp("2026-09-01"),
                                      LSTALVDT=pd.Timestamp("2026-10-25"))
    newer["subjects"] = pd.concat([subjects, added], ignore_index=True)
    comparison = compare_runs(make_run(tmp_path, base, OLD_CUT),
                              make_run(tmp_path, newer, NEW_CUT))
    found = comparison.patients[comparison.patients["USUBJID"] == "HB-09-001"]
    assert sorted(found["analysis_set"]) == ["enrolled", "full analysis set", "safety set"]
    assert set(found["change"]) == {"new"}
    assert comparison.retrospective.empty  # consent after the previous cut


def test_corrected_date_before_previous_cut_is_retrospective(tmp_path, base):
    newer = {k: v.copy() for k, v in base.items()}
    row = newer["deaths"].index[newer["deaths"]["DTHDT"] <= pd.Timestamp("2026-01-01")][0]
    old_date = newer["deaths"].loc[row, "DTHDT"]
    newer["deaths"].loc[row, "DTHDT"] = old_date - pd.Timedelta(days=20)
    comparison = compare_runs(make_run(tmp_path, base, OLD_CUT),
                              make_run(tmp_path, newer, OLD_CUT + dt.timedelta(days=1)))
    change = comparison.retrospective
    assert change[["table", "column", "old", "new", "change"]].values.tolist() == [[
        "deaths", "DTHDT", old_date.strftime("%Y-%m-%d"),
        (old_date - pd.Timedelta(days=20)).strftime("%Y-%m-%d"), "value changed"]]
    assert (comparison.headlines["flag"] == "").all()  # both dates before day 365


def test_added_earlier_death_flags_the_estimates_it_changes(tmp_path, base):
    newer = {k: v.copy() for k, v in base.items()}
    subjects = newer["subjects"]
    dead = set(newer["deaths"]["USUBJID"]) | set(newer["relapses"]["USUBJID"])
    alive = subjects[subjects["HSCTDT"].notna() & ~subjects["USUBJID"].isin(dead)
                     & (subjects["HSCTDT"] <= pd.Timestamp("2025-06-30"))].iloc[0]
    date = alive["HSCTDT"] + pd.Timedelta(days=200)
    newer["deaths"] = pd.concat([newer["deaths"], pd.DataFrame(
        {"USUBJID": [alive["USUBJID"]], "DTHDT": [date], "DTHCAUS": ["INFECTION"]})],
        ignore_index=True)
    subjects.loc[subjects["USUBJID"] == alive["USUBJID"], "LSTALVDT"] = date
    comparison = compare_runs(make_run(tmp_path, base, OLD_CUT),
                              make_run(tmp_path, newer, NEW_CUT))
    assert "record added" in set(comparison.retrospective["change"])
    flagged = comparison.headlines[comparison.headlines["flag"] != ""]
    assert {"OS", "PFS", "NRM"} <= set(flagged["endpoint"])
    assert (flagged["flag"] == "changed by retrospective corrections").all()


def test_deleted_adverse_event_is_retrospective(tmp_path, base):
    newer = {k: v.copy() for k, v in base.items()}
    events = newer["adverse_events"]
    row = events.index[events["AESTDT"] <= pd.Timestamp(OLD_CUT)][0]
    deleted = events.loc[row]
    newer["adverse_events"] = events.drop(index=row)
    comparison = compare_runs(make_run(tmp_path, base, OLD_CUT),
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


def test_headline_table_old_vs_new(tmp_path, base, later):
    comparison = compare_runs(make_run(tmp_path, base, OLD_CUT),
                              make_run(tmp_path, later, NEW_CUT))
    pfs = comparison.headlines.set_index(["endpoint", "statistic", "time_days"]).loc[
        ("PFS", "survival", 365.0)]
    assert pfs["difference"] == pytest.approx(pfs["estimate_new"] - pfs["estimate_old"])
    assert pfs["n_old"] == pfs["n_new"] == 30
    summary = comparison.summary()
    assert summary["previous_cut"] == "2026-07-31" and summary["data_cut"] == "2026-10-31"
    assert summary["retrospective_changes"] == 0
    assert summary["headlines_changed_by_corrections"] == 0


def test_refuses_other_study_and_the_same_cut(tmp_path, base):
    old = make_run(tmp_path, base, OLD_CUT)
    with pytest.raises(ComparisonError, match="not compared with itself"):
        compare_runs(old, old)
    other = make_run(tmp_path, base, NEW_CUT, study_id="OTHER")
    with pytest.raises(ComparisonError, match="different studies: STUDY .* and OTHER"):
        compare_runs(old, other)
    newer = make_run(tmp_path, base, NEW_CUT)
    with pytest.raises(ComparisonError, match="give the earlier run folder first"):
        compare_runs(newer, old)


def test_previous_run_is_the_latest_earlier_cut(tmp_path, base):
    make_run(tmp_path, base, dt.date(2026, 1, 31))
    middle = make_run(tmp_path, base, OLD_CUT)
    assert previous_run(tmp_path / "STUDY", NEW_CUT) == middle
    assert previous_run(tmp_path / "STUDY", dt.date(2026, 1, 31)) is None


def test_report_chapter_lists_changes_and_escapes_data(tmp_path, base):
    from haplo_report.render.changes import changes_markdown

    newer = {k: v.copy() for k, v in base.items()}
    events = newer["adverse_events"]
    before = events[events["AESTDT"] <= pd.Timestamp(OLD_CUT)]
    patients = list(dict.fromkeys(before["USUBJID"]))
    held = before["USUBJID"].isin(patients[:3])  # a term of 3 patients is shown, escaped
    events.loc[before.index[held], "AETERM"] = "-@<script>alert(1)</script>"
    events.loc[before.index[~held][0], "AETERM"] = "=HYPERLINK(\"http://x\",\"Jane Roe\")"
    comparison = compare_runs(make_run(tmp_path, base, OLD_CUT),
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


def test_report_chapter_says_in_one_line_that_nothing_was_compared(tmp_path):
    from haplo_report.analysis.comparison import write_comparison
    from haplo_report.render.changes import changes_markdown

    params = Params(study_id="S", study_title="T", data_dir=tmp_path, data_cut_date=OLD_CUT)
    write_comparison(tmp_path, params, None)
    lines = [line for line in changes_markdown(tmp_path).splitlines() if line]
    assert lines == ["# Changes since the previous data cut",
                     "No earlier data cut of this study was found under the output folder: "
                     "nothing to compare."]

"""SAP version 2 derivation rules against R, which derives them on its own from the raw tables.

haplo_report/qualification/reference/make_expected_cuts.R re-derives enrolment per cut, last known alive, end of
follow-up, relapse-related death, lost to follow-up, the AEs outside the safety set, the
same-day rules and every ADTTE parameter for three cuts (the example cut, an interim cut with
patients registered and transplanted after it, and a hand-built cut of same-day events), then
estimates every landmark per subgroup level and the tests. Here the suite's own pipeline
(validate_cut -> derive_cut -> summaries / tte_results) must give the same patients, times,
counts and numbers (1e-6).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from haplo_report.analysis.derive import derive_cut
from haplo_report.analysis.endpoints import (KM_ENDPOINTS, SUBGROUP_ENDPOINTS,
                                             endpoint_landmarks, followup_results, tte_results)
from haplo_report.analysis.results import results_frame
from haplo_report.analysis.summaries import ae_overview, death_summary, disposition_summary
from haplo_report.data.validation import validate_cut
from haplo_report.params import Params
from stats_reference import (REFERENCE, assert_at_risk_equals_r, assert_close,
                             assert_landmarks_equal_r, expected)

ROOT = Path(__file__).resolve().parents[1]
CUTS = {
    "example": (ROOT / "data" / "example", dt.date(2026, 7, 31), False),
    "interim": (ROOT / "data" / "example", dt.date(2025, 8, 10), False),
    "sameday": (REFERENCE / "inputs" / "sameday", dt.date(2025, 12, 31), True),
}


@pytest.fixture(scope="module", params=list(CUTS))
def cut(request):
    folder, cut_date, relapse_competes = CUTS[request.param]
    params = Params(study_id="T", study_title="t", data_dir=folder, data_cut_date=cut_date,
                    gvhd_relapse_competes=relapse_competes)
    derived = derive_cut(validate_cut(folder, cut_date), params)
    rows = []
    for code in sorted(set(derived.adtte["PARAMCD"])):
        rows += tte_results(derived.adtte, code, landmarks=endpoint_landmarks(code),
                            subgroups=() if code not in SUBGROUP_ENDPOINTS else
                            ("MRDGRP", "DISGRP", "PHGRP"))
    return request.param, derived, results_frame(rows + followup_results(derived.adtte))


def _mine(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    return frame[frame["cut"] == name].drop(columns="cut").reset_index(drop=True)


def test_adtte_equals_the_r_derivation_patient_by_patient(cut) -> None:
    name, derived, _ = cut
    want = _mine(expected("cuts_adtte"), name).sort_values(["PARAMCD", "USUBJID"])
    got = (derived.adtte[["USUBJID", "PARAMCD", "AVAL", "EVNTTYPE"]]
           .sort_values(["PARAMCD", "USUBJID"]).astype({"USUBJID": str, "PARAMCD": str}))
    assert got.values.tolist() == want.values.tolist()


def test_disposition_deaths_and_aes_outside_the_safety_set_equal_r(cut) -> None:
    name, derived, _ = cut
    want = dict(_mine(expected("cuts_counts"), name).values.tolist())
    got = {r.subgroup: r for r in disposition_summary(derived.adsl, ltfu_days=180)}
    for key in ("ENRLFL=Y", "FASFL=Y", "FASFL=N", "SAFFL=Y", "DTHFL=Y", "DTHFL=N", "LTFUFL=Y"):
        assert got[key].estimate == want[key], key
    outside = next(r for r in ae_overview(derived.adae, derived.adsl) if r.subgroup == "SAFFL=N")
    assert (outside.estimate, outside.n) == (want["AE SAFFL=N"], want["AE SAFFL=N denominator"])
    deaths = {r.subgroup: r.estimate for r in death_summary(derived.adsl)}
    assert deaths["DTHFL=Y"] == want["DEATH FAS"]
    assert deaths["DTHCAT=Relapse-related"] == want["DTHCAT=Relapse-related"]
    assert deaths["DTHCAT=Non-relapse"] == want["DTHCAT=Non-relapse"]
    # SAP v3: deaths of enrolled patients never transplanted (the example's HB-03-003)
    assert deaths.get("DTHCAT=Death before transplant", 0) == want[
        "DTHCAT=Death before transplant"]
    never = derived.adsl[derived.adsl["FASFL"] == "N"]
    assert set(never.loc[never["DTHFL"] == "Y", "DTHCAT"]) <= {"Death before transplant"}


def test_the_cuts_exercise_the_v2_rules() -> None:
    counts = expected("cuts_counts").set_index(["cut", "name"])["value"]
    assert counts[("interim", "ENRLFL=Y")] < counts[("example", "ENRLFL=Y")]  # registered later
    assert counts[("interim", "FASFL=N")] > counts[("example", "FASFL=N")]  # transplanted later
    assert counts[("example", "LTFUFL=Y")] >= 1 and counts[("sameday", "LTFUFL=Y")] >= 1
    assert counts[("sameday", "AE SAFFL=N")] >= 1


def test_every_landmark_of_every_subgroup_level_equals_r(cut) -> None:
    name, _, rows = cut
    want = _mine(expected("cuts_landmarks"), name).fillna({"flag": ""})
    got = rows[rows["statistic"].isin(["survival", "cif"])].rename(columns={"time_days": "time"})
    assert_landmarks_equal_r(want, got, name)
    assert_at_risk_equals_r(want, rows, name)  # SAP v3: number at risk = R survival n.risk


def test_subgroup_tests_and_not_tested_rows_equal_r(cut) -> None:
    name, _, rows = cut
    want = _mine(expected("cuts_tests"), name)
    for r in want.itertuples(index=False):
        if r.test in ("not_tested", "not_tested_events"):
            row = rows.query("endpoint == @r.endpoint and subgroup == @r.grouping and "
                             "statistic == 'not_tested'")
            reason = ("not tested (a level has fewer than 5 patients)" if r.test == "not_tested"
                      else "not tested (fewer than 5 events)")  # SAP v3
            assert len(row) == 1 and row["method"].iloc[0] == reason, (r.endpoint, r.grouping)
            assert row["events"].iloc[0] == r.events
            continue
        statistic = "logrank" if r.endpoint in KM_ENDPOINTS else "gray"
        got = rows.query("endpoint == @r.endpoint and subgroup == @r.grouping").set_index(
            "statistic")
        assert_close([got.loc[f"{statistic}_p", "estimate"], got.loc[f"{statistic}_chisq",
                                                                      "estimate"]],
                      [r.p_value, r.statistic], f"{name} {r.endpoint} {r.grouping}")
        assert (got.loc[f"{statistic}_p", "n"], got.loc[f"{statistic}_p", "events"]) == (
            r.n, r.events)
    tested = rows[rows["statistic"].isin(["logrank_p", "gray_p", "not_tested"])]
    assert len(tested) == len(want)
    assert set(want["endpoint"]) == set(SUBGROUP_ENDPOINTS) & set(rows["endpoint"])


def test_follow_up_range_among_patients_alive_equals_r(cut) -> None:
    name, _, rows = cut
    want = _mine(expected("cuts_followup"), name).iloc[0]
    got = rows[rows["endpoint"] == "OS"].set_index("statistic")
    assert_close([got.loc["median_followup", c] for c in ("estimate", "ci_lower", "ci_upper")],
                 [want["median"], want["ci_lower"], want["ci_upper"]], f"{name} follow-up")
    assert_close([got.loc["min", "estimate"], got.loc["max", "estimate"]],
                 [want["min"], want["max"]], f"{name} range")

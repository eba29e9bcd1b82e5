"""MRD proportions, 1-year categories and Clopper-Pearson intervals against R (binom.test).

haplo_report/qualification/reference/make_expected_mrd.R re-derives the SAP v2 MRD rules on two cuts: the bundled
example cut (inputs exported from the real pipeline) and a hand-built cut with one or more
patients per rule. Counts must be equal, proportions and CI limits within 1e-6. Regenerate the
references as haplo_report/qualification/reference/README.md says.
"""

from __future__ import annotations

import pandas as pd
import pytest

from haplo_report.analysis.mrd import (CATEGORIES, EVENT_ROW, NO_ASSESSMENT_ROW, PRIMARY,
                                       REACHED_ROW, SENSITIVITY, category_row, mrd_landmarks,
                                       mrd_negative_1y, mrd_status_1y)
from haplo_report.analysis.results import results_frame
from haplo_report.qualification.example import example_derived, mrd_texts
from stats_reference import REFERENCE, assert_close, expected

MRD_PATIENTS = REFERENCE / "inputs" / "example_mrd_patients.csv"
MRD_ASSESSMENTS = REFERENCE / "inputs" / "example_mrd_assessments.csv"

CUTS = ("example_mrd", "mrd_handbuilt")
THRESHOLD = 1e-4


def reference_inputs(cut: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ADSL and ADMRD columns the MRD analysis reads, from the R script's inputs."""
    patients = pd.read_csv(REFERENCE / "inputs" / f"{cut}_patients.csv", dtype=str,
                           keep_default_na=False, na_values=[""])
    adsl = patients.assign(**{c: pd.to_datetime(patients[c]) for c in
                              ("HSCTDT", "CUTDT", "RELDT", "DTHDT")})
    adsl["FUPDAYS"] = pd.to_numeric(adsl["FUPDAYS"]).astype("Int64")
    admrd = pd.read_csv(REFERENCE / "inputs" / f"{cut}_assessments.csv",
                        dtype={"USUBJID": str, "METHOD": str})
    admrd["ADY"] = admrd["ADY"].astype("Int64")
    return adsl, admrd


@pytest.fixture(scope="module", params=CUTS)
def analysed(request) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    adsl, admrd = reference_inputs(request.param)
    rows = results_frame(
        mrd_landmarks(admrd, adsl, threshold=THRESHOLD, window_days=14, window_days_365=30)
        + mrd_negative_1y(adsl, admrd, threshold=THRESHOLD, window_days_365=30))
    status = mrd_status_1y(adsl, admrd, threshold=THRESHOLD, window_days_365=30)
    return request.param, rows, status


def test_exported_mrd_inputs_are_the_example_cut() -> None:
    derived = example_derived()
    patients, assessments = mrd_texts(derived.adsl, derived.admrd)
    assert MRD_PATIENTS.read_text(encoding="utf-8") == patients, (
        f"{MRD_PATIENTS} differs from the example cut: regenerate it and the R references "
        "(haplo_report/qualification/reference/README.md)")
    assert MRD_ASSESSMENTS.read_text(encoding="utf-8") == assessments


def test_landmark_counts_and_proportions_match_r(analysed) -> None:
    cut, rows, _ = analysed
    want = expected("mrd_landmarks").query("cut == @cut").set_index("landmark")
    for landmark, r in want.iterrows():
        at = rows[(rows["endpoint"] == "MRD") & (rows["time_days"] == float(landmark))]
        at = at.set_index("subgroup")
        assert at.loc[REACHED_ROW, ["estimate", "n"]].tolist() == [r["reached"], r["fas"]]
        assert at.loc[EVENT_ROW, "estimate"] == r["event"]
        assert at.loc[NO_ASSESSMENT_ROW, "estimate"] == r["no_assessment"]
        assert at.loc["All", ["n", "events"]].tolist() == [r["evaluable"], r["negative"]]
        assert_close(at.loc["All", ["estimate", "ci_lower", "ci_upper"]].astype(float),
                     r[["estimate", "lower", "upper"]].astype(float), f"{cut} day {landmark}")


def test_one_year_categories_and_rates_match_r(analysed) -> None:
    cut, rows, status = analysed
    want = expected("mrd_one_year").query("cut == @cut").set_index("rate")
    year = rows[rows["endpoint"] == "MRD1Y"].set_index("subgroup")
    first = want.iloc[0]
    for category, column in zip(CATEGORIES, ("success", "failure", "not_evaluable", "pending")):
        assert year.loc[category_row(category), ["estimate", "n"]].tolist() == \
            [first[column], first["fas"]], category
    for subgroup, rate in ((PRIMARY, "primary"), (SENSITIVITY, "sensitivity")):
        r = want.loc[rate]
        assert year.loc[subgroup, ["events", "n"]].tolist() == [r["k"], r["n"]]
        assert_close(year.loc[subgroup, ["estimate", "ci_lower", "ci_upper"]].astype(float),
                     r[["estimate", "lower", "upper"]].astype(float), f"{cut} {rate}")
    categories = expected("mrd_categories").query("cut == @cut")
    assert dict(zip(status["USUBJID"], status["STATUS"])) == \
        dict(zip(categories["USUBJID"], categories["category"]))


def test_example_cut_primary_rate_is_14_of_25() -> None:
    """The number the rendered report quotes (text, synopsis, Table 14.2.8)."""
    r = expected("mrd_one_year").query("cut == 'example_mrd'").set_index("rate")
    assert (r.loc["primary", "k"], r.loc["primary", "n"]) == (14, 25)
    assert round(100 * r.loc["primary", "estimate"], 1) == 56.0

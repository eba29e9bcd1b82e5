"""mrd: landmark windows (closest, tie, outside), the 1-year endpoint, the swimmer timeline."""

from __future__ import annotations

import pandas as pd
import pytest

from haplo_report.analysis.mrd import (FAILURE_EVENT, FAILURE_POSITIVE, FOLLOW_UP_OPEN, NOT_EVALUABLE,
                              PRIMARY, SENSITIVITY, SUCCESS, MrdInputError,
                              landmark_assessment, mrd_landmarks, mrd_negative_1y,
                              mrd_status_1y)
from haplo_report.analysis.results import results_frame
from haplo_report.analysis.stats.binomial import clopper_pearson

HSCT = pd.Timestamp("2025-01-01")
THRESHOLD = 1e-4


def day(n: int | None) -> pd.Timestamp:
    return pd.NaT if n is None else HSCT + pd.Timedelta(days=n)


def make_adsl(patients: list[tuple]) -> pd.DataFrame:
    """(USUBJID, FASFL, relapse day, death day, follow-up days, death cause) per patient."""
    return pd.DataFrame({
        "USUBJID": pd.array([p[0] for p in patients], dtype="string"),
        "FASFL": pd.array([p[1] for p in patients], dtype="string"),
        "HSCTDT": [HSCT] * len(patients),
        "RELDT": pd.to_datetime([day(p[2]) for p in patients]),
        "DTHDT": pd.to_datetime([day(p[3]) for p in patients]),
        "DTHCAUS": pd.array([p[5] for p in patients], dtype="string"),
        "FUPDAYS": pd.array([p[4] for p in patients], dtype="Int64"),
    })


def make_admrd(assessments: list[tuple[str, int, float]]) -> pd.DataFrame:
    return pd.DataFrame({
        "USUBJID": pd.array([a[0] for a in assessments], dtype="string"),
        "MRDDT": [day(a[1]) for a in assessments],
        "METHOD": pd.array(["FCM"] * len(assessments), dtype="string"),
        "RESULT": [float(a[2]) for a in assessments],
        "ADY": pd.array([a[1] for a in assessments], dtype="Int64"),
    })


def test_closest_assessment_in_window_counts():
    adsl = make_adsl([("A", "Y", None, None, 500, None), ("B", "Y", None, None, 500, None)])
    admrd = make_admrd([("A", 20, 0.0), ("A", 33, 0.01), ("A", 45, 0.0),  # 33 is closest
                        ("B", 15, 0.0)])  # 15 days from day 30: outside a 14-day window
    chosen = landmark_assessment(admrd, adsl, landmark=30, window=14)
    assert chosen[["USUBJID", "ADY", "RESULT"]].values.tolist() == [["A", 33, 0.01]]


def test_equal_distance_takes_the_later_and_same_day_the_positive():
    adsl = make_adsl([("A", "Y", None, None, 500, None), ("B", "Y", None, None, 500, None)])
    admrd = make_admrd([("A", 85, 0.01), ("A", 95, 0.0),
                        ("B", 90, 0.0), ("B", 90, 0.002)])
    chosen = landmark_assessment(admrd, adsl, landmark=90, window=14)
    assert chosen[["USUBJID", "ADY", "RESULT"]].values.tolist() == [["A", 95, 0.0],
                                                                     ["B", 90, 0.002]]


def test_landmark_rows_count_fas_patients_with_exact_ci():
    adsl = make_adsl([("A", "Y", None, None, 500, None), ("B", "Y", None, None, 500, None),
                      ("C", "Y", None, None, 500, None), ("X", "N", None, None, 500, None)])
    admrd = make_admrd([("A", 30, 0.0), ("B", 31, 0.00005), ("C", 29, THRESHOLD),
                        ("X", 30, 0.0), ("A", 380, 0.0), ("B", 340, 0.0)])
    rows = results_frame(mrd_landmarks(admrd, adsl, threshold=THRESHOLD, window_days=14,
                                       window_days_365=30)).set_index("time_days")
    assert rows.loc[30.0, ["n", "events"]].tolist() == [3, 2]  # result == threshold: positive
    assert rows.loc[30.0, "estimate"] == pytest.approx(2 / 3)
    lower, upper = clopper_pearson(2, 3)
    assert (rows.loc[30.0, "ci_lower"], rows.loc[30.0, "ci_upper"]) == (lower, upper)
    assert rows.loc[90.0, "flag"] == "NE" and rows.loc[90.0, "n"] == 0
    assert rows.loc[365.0, ["n", "events"]].tolist() == [2, 2]  # 30-day window at day 365
    assert set(rows["subgroup"]) == {"All"} and set(rows["endpoint"]) == {"MRD"}


def test_one_year_status_rules():
    adsl = make_adsl([
        ("OK", "Y", None, None, 700, None),         # negative at 360: success
        ("POS", "Y", None, None, 700, None),        # positive at 365: failure
        ("REL", "Y", 200, None, 700, None),         # relapse before: failure
        ("DIED", "Y", None, 365, 365, "GVHD"),      # death on day 365: failure
        ("NOASSESS", "Y", None, None, 700, None),   # window closed, none: not evaluable
        ("LATE", "Y", None, 380, 380, "INFECTION"),  # died after 365, no assessment
        ("SHORT", "Y", None, None, 390, None),      # follow-up ends inside window, none
        ("EARLY", "Y", None, None, 100, None),      # transplanted recently
        ("LATEREL", "Y", 370, None, 700, None),     # negative at 350, relapse after day 365
    ])
    admrd = make_admrd([("OK", 360, 0.0), ("OK", 300, 0.01), ("POS", 365, 0.003),
                        ("REL", 360, 0.0), ("NOASSESS", 300, 0.0), ("LATEREL", 350, 0.0)])
    status = mrd_status_1y(adsl, admrd, threshold=THRESHOLD, window_days_365=30)
    got = dict(zip(status["USUBJID"], status["STATUS"]))
    assert got == {"OK": SUCCESS, "POS": FAILURE_POSITIVE, "REL": FAILURE_EVENT,
                   "DIED": FAILURE_EVENT, "NOASSESS": NOT_EVALUABLE, "LATE": NOT_EVALUABLE,
                   "SHORT": FOLLOW_UP_OPEN, "EARLY": FOLLOW_UP_OPEN, "LATEREL": SUCCESS}
    assert status.set_index("USUBJID").loc["OK", "ADY"] == 360
    rows = results_frame(mrd_negative_1y(adsl, admrd, threshold=THRESHOLD,
                                         window_days_365=30))
    counts = rows[rows["statistic"] == "count"].set_index("subgroup")
    assert counts["estimate"].to_dict() == {SUCCESS: 2, FAILURE_EVENT: 2, FAILURE_POSITIVE: 1,
                                            NOT_EVALUABLE: 2, FOLLOW_UP_OPEN: 2}
    assert set(counts["n"]) == {9}
    props = rows[rows["statistic"] == "proportion"].set_index("subgroup")
    assert props.loc[PRIMARY, ["n", "events"]].tolist() == [5, 2]
    assert props.loc[SENSITIVITY, ["n", "events"]].tolist() == [7, 2]
    assert props.loc[SENSITIVITY, "estimate"] == pytest.approx(2 / 7)
    assert props.loc[PRIMARY, "ci_upper"] == pytest.approx(clopper_pearson(2, 5)[1])
    assert set(rows["time_days"]) == {365.0} and set(rows["endpoint"]) == {"MRD1Y"}


def test_one_year_without_evaluable_patients_is_not_estimable():
    adsl = make_adsl([("EARLY", "Y", None, None, 100, None)])
    rows = results_frame(mrd_negative_1y(adsl, make_admrd([]), threshold=THRESHOLD,
                                         window_days_365=30))
    primary = rows[rows["subgroup"] == PRIMARY].iloc[0]
    assert primary["flag"] == "NE" and pd.isna(primary["estimate"]) and primary["n"] == 0


def test_missing_columns_are_named():
    with pytest.raises(MrdInputError, match="ADMRD lacks column"):
        mrd_landmarks(pd.DataFrame({"USUBJID": []}), make_adsl([]), threshold=THRESHOLD,
                      window_days=14, window_days_365=30)

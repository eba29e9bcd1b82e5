"""mrd: one hand-built-patient test per SAP v2 MRD rule (named after it), the rates, the
headline sentence."""

from __future__ import annotations

import pandas as pd
import pytest

from haplo_report.analysis.mrd import (EVENT_BY_LANDMARK, EVENT_ROW, FAILURE, NEGATIVE,
                                       NO_ASSESSMENT, NO_ASSESSMENT_ROW, NOT_EVALUABLE,
                                       NOT_REACHED, PENDING, POSITIVE, PRIMARY, REACHED_ROW,
                                       REASON_DEATH, REASON_LOST, REASON_NEGATIVE, REASON_NONE,
                                       REASON_OPEN, REASON_OPEN_NEGATIVE, REASON_OPEN_POSITIVE,
                                       REASON_POSITIVE, REASON_RELAPSE,
                                       SENSITIVITY, SUCCESS, MrdInputError, category_row,
                                       landmark_assessment, landmark_status, mrd_headline,
                                       mrd_landmarks, mrd_negative_1y, mrd_status_1y)
from haplo_report.analysis.results import results_frame
from haplo_report.analysis.stats.binomial import clopper_pearson

HSCT = pd.Timestamp("2025-01-01")
THRESHOLD = 1e-4
LATE_CUT = 800  # cut day (from HSCT) far beyond every window


def day(n: int | None) -> pd.Timestamp:
    return pd.NaT if n is None else HSCT + pd.Timedelta(days=n)


def patient(usubjid: str, *, relapse: int | None = None, death: int | None = None,
            contact: int = 700, hsct_offset: int = 0, fas: str = "Y") -> dict:
    """One ADSL row; days from HSCT; ``hsct_offset`` moves the transplant later."""
    return {"USUBJID": usubjid, "relapse": relapse, "death": death, "contact": contact,
            "offset": hsct_offset, "fas": fas}


def make_adsl(patients: list[dict], cut: int = LATE_CUT) -> pd.DataFrame:
    """ADSL columns the MRD analysis reads; the cut is ``cut`` days after ``HSCT``."""
    cut_date = day(cut)
    rows = []
    for p in patients:
        hsct = HSCT + pd.Timedelta(days=p["offset"])
        at = lambda n: pd.NaT if n is None else hsct + pd.Timedelta(days=n)  # noqa: E731
        end = at(p["death"]) if p["death"] is not None else min(at(p["contact"]), cut_date)
        rows.append({"USUBJID": p["USUBJID"], "FASFL": p["fas"], "HSCTDT": hsct,
                     "CUTDT": cut_date, "RELDT": at(p["relapse"]), "DTHDT": at(p["death"]),
                     "FUPDAYS": (end - hsct).days})
    frame = pd.DataFrame(rows)
    for column in ("HSCTDT", "CUTDT", "RELDT", "DTHDT"):
        frame[column] = pd.to_datetime(frame[column])
    frame["FUPDAYS"] = frame["FUPDAYS"].astype("Int64")
    for column in ("USUBJID", "FASFL"):
        frame[column] = frame[column].astype("string")
    return frame


def make_admrd(assessments: list[tuple], adsl: pd.DataFrame | None = None) -> pd.DataFrame:
    """(USUBJID, study day, result[, method]) per assessment."""
    return pd.DataFrame({
        "USUBJID": pd.array([a[0] for a in assessments], dtype="string"),
        "MRDDT": [day(a[1]) for a in assessments],
        "METHOD": pd.array([a[3] if len(a) > 3 else "FCM" for a in assessments],
                           dtype="string"),
        "RESULT": [float(a[2]) for a in assessments],
        "ADY": pd.array([a[1] for a in assessments], dtype="Int64"),
    })


def status_at(adsl, admrd, landmark: int, window: int = 14) -> dict[str, str]:
    found = landmark_status(adsl, admrd, threshold=THRESHOLD, landmark=landmark, window=window)
    return dict(zip(found["USUBJID"], found["STATUS"]))


def one_year(adsl, admrd) -> dict[str, tuple[str, str]]:
    found = mrd_status_1y(adsl, admrd, threshold=THRESHOLD, window_days_365=30)
    return {u: (s, r) for u, s, r in zip(found["USUBJID"], found["STATUS"], found["REASON"])}


# --- landmarks ----------------------------------------------------------------------------

def test_landmark_population_alive_relapse_free_with_an_assessment_in_the_window():
    adsl = make_adsl([patient("NEG"), patient("POS"), patient("REL", relapse=80),
                      patient("DIED", death=60), patient("NONE"),
                      patient("NOTFAS", fas="N")])
    admrd = make_admrd([("NEG", 90, 0.0), ("POS", 92, 0.002), ("REL", 90, 0.0),
                        ("NONE", 60, 0.0), ("NOTFAS", 90, 0.0)])
    assert status_at(adsl, admrd, 90) == {"NEG": NEGATIVE, "POS": POSITIVE,
                                          "REL": EVENT_BY_LANDMARK, "DIED": EVENT_BY_LANDMARK,
                                          "NONE": NO_ASSESSMENT}
    rows = results_frame(mrd_landmarks(admrd, adsl, threshold=THRESHOLD, window_days=14,
                                       window_days_365=30, landmarks=(90,)))
    by = rows.set_index("subgroup")
    assert by.loc[REACHED_ROW, ["estimate", "n"]].tolist() == [5, 5]
    assert by.loc[EVENT_ROW, ["estimate", "n"]].tolist() == [2, 5]
    assert by.loc[NO_ASSESSMENT_ROW, ["estimate", "n"]].tolist() == [1, 5]
    assert by.loc["All", ["n", "events"]].tolist() == [2, 1]  # NEG and POS only
    assert (by.loc["All", "ci_lower"], by.loc["All", "ci_upper"]) == clopper_pearson(1, 2)


def test_landmark_entered_only_when_transplant_plus_landmark_is_on_or_before_the_cut():
    # cut on day 200: day 180 reached (also by a patient transplanted 20 days later: day 200
    # is its day 180, on the cut), not by one transplanted 21 days later; day 365 by nobody
    adsl = make_adsl([patient("A"), patient("ON_CUT", hsct_offset=20),
                      patient("AFTER", hsct_offset=21)], cut=200)
    admrd = make_admrd([("A", 180, 0.0)])
    assert status_at(adsl, admrd, 180) == {"A": NEGATIVE, "ON_CUT": NO_ASSESSMENT,
                                           "AFTER": NOT_REACHED}
    rows = results_frame(mrd_landmarks(admrd, adsl, threshold=THRESHOLD, window_days=14,
                                       window_days_365=30, landmarks=(180, 365)))
    reached = rows[rows["subgroup"] == REACHED_ROW].set_index("time_days")["estimate"]
    assert reached.to_dict() == {180.0: 2, 365.0: 0}
    year = rows[(rows["subgroup"] == "All") & (rows["time_days"] == 365)].iloc[0]
    assert year["flag"] == "NE" and year["n"] == 0


def test_relapse_on_day_365_is_before_the_landmark():
    adsl = make_adsl([patient("ON", relapse=365), patient("AFTER", relapse=366)])
    admrd = make_admrd([("ON", 360, 0.0), ("AFTER", 360, 0.0)])
    assert status_at(adsl, admrd, 365, window=30) == {"ON": EVENT_BY_LANDMARK,
                                                      "AFTER": NEGATIVE}
    assert one_year(adsl, admrd) == {"ON": (FAILURE, REASON_RELAPSE),
                                     "AFTER": (SUCCESS, REASON_NEGATIVE)}


def test_closest_assessment_in_window_counts():
    adsl = make_adsl([patient("A"), patient("B")])
    admrd = make_admrd([("A", 20, 0.0), ("A", 33, 0.01), ("A", 45, 0.0),  # 33 is closest
                        ("B", 15, 0.0)])  # 15 days from day 30: outside a 14-day window
    chosen = landmark_assessment(admrd, adsl, landmark=30, window=14)
    assert chosen[["USUBJID", "ADY", "RESULT"]].values.tolist() == [["A", 33, 0.01]]


def test_tie_to_the_later_assessment():
    adsl = make_adsl([patient("A"), patient("B")])
    admrd = make_admrd([("A", 85, 0.01), ("A", 95, 0.0),  # later wins: negative
                        ("B", 85, 0.0), ("B", 95, 0.01)])  # later wins: positive
    assert status_at(adsl, admrd, 90) == {"A": NEGATIVE, "B": POSITIVE}
    found = landmark_status(adsl, admrd, threshold=THRESHOLD, landmark=90, window=14)
    assert found["ADY"].tolist() == [95, 95]


def test_two_results_on_the_chosen_day_positive_if_either_is():
    adsl = make_adsl([patient("A")])
    admrd = make_admrd([("A", 90, 0.0, "FCM"), ("A", 90, 0.0003, "QPCR")])
    found = landmark_status(adsl, admrd, threshold=THRESHOLD, landmark=90, window=14)
    assert found[["STATUS", "RESULT"]].values.tolist() == [[POSITIVE, 0.0003]]


def test_one_threshold_for_both_methods():
    adsl = make_adsl([patient("FCM"), patient("QPCR"), patient("LOW")])
    admrd = make_admrd([("FCM", 90, THRESHOLD, "FCM"), ("QPCR", 90, THRESHOLD, "QPCR"),
                        ("LOW", 90, THRESHOLD / 2, "QPCR")])  # result == threshold: positive
    assert status_at(adsl, admrd, 90) == {"FCM": POSITIVE, "QPCR": POSITIVE, "LOW": NEGATIVE}


# --- the 1-year endpoint ------------------------------------------------------------------

def test_positive_inside_an_open_window_is_pending():
    # cut on day 380: the window (335-395) is still open; a closer assessment may come, for a
    # negative result as much as for a positive one
    adsl = make_adsl([patient("POS"), patient("NEG"), patient("NONE")], cut=380)
    admrd = make_admrd([("POS", 345, 0.01), ("NEG", 350, 0.0)])
    assert one_year(adsl, admrd) == {"POS": (PENDING, REASON_OPEN_POSITIVE),
                                     "NEG": (PENDING, REASON_OPEN_NEGATIVE),
                                     "NONE": (PENDING, REASON_OPEN)}
    # the same patients once the window has closed (cut on its last day, day 395)
    closed = make_adsl([patient("POS"), patient("NEG")], cut=395)
    assert one_year(closed, admrd) == {"POS": (FAILURE, REASON_POSITIVE),
                                       "NEG": (SUCCESS, REASON_NEGATIVE)}


def test_before_day_365_at_the_cut_is_pending_not_success():
    adsl = make_adsl([patient("EARLY")], cut=355)
    found = mrd_status_1y(adsl, make_admrd([("EARLY", 345, 0.0)]), threshold=THRESHOLD,
                          window_days_365=30)
    assert found[["STATUS", "REASON", "ADY"]].values.tolist() == [
        [PENDING, REASON_OPEN_NEGATIVE, 345]]


def test_last_contact_before_the_window_is_not_evaluable():
    adsl = make_adsl([patient("LOST", contact=265), patient("LOST_OPEN", contact=265)]
                     ).assign(CUTDT=[day(LATE_CUT), day(380)])  # second: window still open
    assert one_year(adsl, make_admrd([("LOST", 260, 0.0)])) == {
        "LOST": (NOT_EVALUABLE, REASON_LOST), "LOST_OPEN": (PENDING, REASON_OPEN)}


def test_closed_window_without_assessment_is_not_evaluable():
    adsl = make_adsl([patient("NONE"), patient("JUST_CLOSED")], cut=395)
    admrd = make_admrd([("NONE", 300, 0.0), ("NONE", 396, 0.0)])  # both outside 335-395
    assert one_year(adsl, admrd) == {"NONE": (NOT_EVALUABLE, REASON_NONE),
                                     "JUST_CLOSED": (NOT_EVALUABLE, REASON_NONE)}


def test_relapse_or_death_after_day_365_closes_the_window():
    # cut on day 380 (window open), but no assessment can still decide these patients
    adsl = make_adsl([patient("DIED", death=370), patient("REL_POS", relapse=372),
                      patient("REL_NONE", relapse=372)], cut=380)
    admrd = make_admrd([("REL_POS", 350, 0.01)])
    assert one_year(adsl, admrd) == {"DIED": (NOT_EVALUABLE, REASON_NONE),
                                     "REL_POS": (FAILURE, REASON_POSITIVE),
                                     "REL_NONE": (NOT_EVALUABLE, REASON_NONE)}


def test_death_by_day_365_is_failure_even_before_the_landmark_is_reached():
    adsl = make_adsl([patient("DIED", death=40), patient("ALIVE")], cut=100)
    assert one_year(adsl, make_admrd([])) == {"DIED": (FAILURE, REASON_DEATH),
                                              "ALIVE": (PENDING, REASON_OPEN)}


def test_four_exclusive_categories_rates_and_denominators():
    adsl = make_adsl([patient("S1"), patient("S2"), patient("S3"), patient("F_REL", relapse=200),
                      patient("F_POS"), patient("NE"), patient("P", hsct_offset=500),
                      patient("X", fas="N")])
    admrd = make_admrd([("S1", 360, 0.0), ("S2", 370, 0.0), ("S3", 340, 0.0),
                        ("F_POS", 365, 0.003), ("F_REL", 360, 0.0), ("X", 365, 0.0)])
    rows = results_frame(mrd_negative_1y(adsl, admrd, threshold=THRESHOLD,
                                         window_days_365=30))
    counts = rows[rows["statistic"] == "count"].set_index("subgroup")
    assert counts["estimate"].to_dict() == {
        category_row(SUCCESS): 3, category_row(FAILURE): 2,
        category_row(FAILURE, "relapse or death by day 365"): 1,
        category_row(FAILURE, REASON_POSITIVE): 1, category_row(NOT_EVALUABLE): 1,
        category_row(PENDING): 1}
    assert set(counts["n"]) == {7}  # % of FAS
    rates = rows[rows["statistic"] == "proportion"].set_index("subgroup")
    assert rates.loc[PRIMARY, ["events", "n"]].tolist() == [3, 5]  # pending in no denominator
    assert rates.loc[SENSITIVITY, ["events", "n"]].tolist() == [3, 6]
    assert rates.loc[PRIMARY, "estimate"] == pytest.approx(0.6)
    assert (rates.loc[SENSITIVITY, "ci_lower"], rates.loc[SENSITIVITY, "ci_upper"]) == \
        clopper_pearson(3, 6)
    assert set(rows["time_days"]) == {365.0} and set(rows["endpoint"]) == {"MRD1Y"}


def test_one_year_without_a_decided_patient_is_not_estimable():
    adsl = make_adsl([patient("EARLY")], cut=100)
    rows = results_frame(mrd_negative_1y(adsl, make_admrd([]), threshold=THRESHOLD,
                                         window_days_365=30))
    primary = rows[rows["subgroup"] == PRIMARY].iloc[0]
    assert primary["flag"] == "NE" and pd.isna(primary["estimate"]) and primary["n"] == 0


def test_headline_quotes_the_primary_rate_with_its_denominator():
    adsl = make_adsl([patient("S1"), patient("S2"), patient("F", relapse=100), patient("NE"),
                      patient("P", hsct_offset=500)])
    admrd = make_admrd([("S1", 360, 0.0), ("S2", 365, 0.0)])
    rows = mrd_negative_1y(adsl, admrd, threshold=THRESHOLD, window_days_365=30)
    lower, upper = clopper_pearson(2, 3)
    expected = (f"MRD-negative at 1 year (primary analysis, successes among successes and "
                f"failures): 66.7% (2/3; 95% CI {100 * lower:.1f}, {100 * upper:.1f}). "
                "Counting the 1 not evaluable patient as a failure: 50.0% (2/4; 95% CI "
                "6.8, 93.2). Pending (1-year window not closed by the data cut; in neither "
                "denominator): 1 patient.")
    assert mrd_headline(rows) == expected
    assert mrd_headline(results_frame(rows)) == expected
    with pytest.raises(ValueError, match="no MRD1Y proportion row"):
        mrd_headline(rows[:-2])


def test_missing_columns_are_named():
    with pytest.raises(MrdInputError, match="ADMRD lacks column"):
        mrd_landmarks(pd.DataFrame({"USUBJID": []}), make_adsl([patient("A")]),
                      threshold=THRESHOLD, window_days=14, window_days_365=30)
    with pytest.raises(MrdInputError, match="ADSL lacks column\\(s\\) CUTDT"):
        mrd_landmarks(make_admrd([]), make_adsl([patient("A")]).drop(columns="CUTDT"),
                      threshold=THRESHOLD, window_days=14, window_days_365=30)

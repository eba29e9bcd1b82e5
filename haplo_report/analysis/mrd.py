"""MRD analysis (SAP "MRD"): landmark proportions, the 1-year MRD endpoint, per-patient timeline.

Population: the full analysis set (``FASFL == "Y"`` in ADSL). MRD-positive means
``RESULT >= threshold``; 0 is undetectable. Times are study days (``ADY``, day 0 = transplant).

Choosing the assessment of a landmark (deterministic): among the assessments with
|ADY - landmark| <= window the closest counts; at equal distance the later one (it reflects the
longer follow-up); on one day with several results the highest (a positive result wins).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from haplo_report.analysis.derive import of_subjects
from haplo_report.params import Params
from haplo_report.analysis.results import NOT_ESTIMABLE, ResultRow
from haplo_report.analysis.frames import flagged, require_columns
from haplo_report.analysis.stats.binomial import clopper_pearson

ENDPOINT = "MRD"  # MRD status at each landmark
ENDPOINT_1Y = "MRD1Y"  # the registration's endpoint: MRD-negative at 1 year
PROPORTION_METHOD = "Proportion; exact (Clopper-Pearson) 95% CI"
COUNT_METHOD = "Number of patients (% of N)"
ONE_YEAR = 365

SUCCESS = "success: alive, relapse-free and MRD-negative"
FAILURE_EVENT = "failure: relapse or death by day 365"
FAILURE_POSITIVE = "failure: MRD-positive"
NOT_EVALUABLE = "not evaluable: no assessment in window"
FOLLOW_UP_OPEN = "not evaluable: follow-up ended before the window closed"
STATUSES: tuple[str, ...] = (SUCCESS, FAILURE_EVENT, FAILURE_POSITIVE, NOT_EVALUABLE,
                             FOLLOW_UP_OPEN)
PRIMARY = "All"  # the primary analysis of the 1-year endpoint, on the whole FAS
SENSITIVITY = "sensitivity: not evaluable as failure"


class MrdInputError(ValueError):
    """Derived data the MRD analysis cannot use; the message names the problem."""


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    require_columns(frame, columns, name, MrdInputError)


def _fas(adsl: pd.DataFrame) -> pd.DataFrame:
    _require(adsl, ["USUBJID", "FASFL"], "ADSL")
    return flagged(adsl, "FASFL")


def landmark_assessment(admrd: pd.DataFrame, adsl: pd.DataFrame, *, landmark: int,
                        window: int) -> pd.DataFrame:
    """The assessment that counts at ``landmark`` per FAS patient who has one in the window
    (columns of ADMRD; rows sorted by USUBJID)."""
    _require(admrd, ["USUBJID", "ADY", "RESULT"], "ADMRD")
    fas_ids = _fas(adsl)["USUBJID"]
    distance = (admrd["ADY"].astype("float64") - landmark).abs()
    rows = admrd[of_subjects(admrd["USUBJID"], fas_ids) & (distance <= window)]
    rows = rows.assign(_DISTANCE=distance[rows.index])
    rows = rows.sort_values(["USUBJID", "_DISTANCE", "ADY", "RESULT"],
                            ascending=[True, True, False, False], kind="stable")
    return rows.drop_duplicates("USUBJID").drop(columns="_DISTANCE").reset_index(drop=True)


def _proportion_row(subgroup: str, time_days: int, negative: int, n: int,
                    endpoint: str = ENDPOINT) -> ResultRow:
    if n == 0:
        return ResultRow(endpoint, subgroup, "proportion", float(time_days), None, n=0,
                         events=0, method=PROPORTION_METHOD, flag=NOT_ESTIMABLE)
    lower, upper = clopper_pearson(negative, n)
    return ResultRow(endpoint, subgroup, "proportion", float(time_days), negative / n, lower,
                     upper, n=n, events=negative, method=PROPORTION_METHOD)


def mrd_landmarks(admrd: pd.DataFrame, adsl: pd.DataFrame, *, threshold: float,
                  window_days: int, window_days_365: int,
                  landmarks: Sequence[int] = (30, 90, 180, 365)) -> list[ResultRow]:
    """Result rows (endpoint MRD, statistic ``proportion``, subgroup ``All``) per landmark:
    ``n`` evaluable FAS patients (an assessment in the window), ``events`` MRD-negative,
    the proportion with its exact 95% CI (NE when nobody is evaluable).

    The window is +/- ``window_days`` (``window_days_365`` at day 365). Every FAS patient with
    an assessment in the window is evaluable, whatever happened before it.
    """
    rows = []
    for landmark in landmarks:
        window = window_days_365 if landmark == ONE_YEAR else window_days
        chosen = landmark_assessment(admrd, adsl, landmark=landmark, window=window)
        negative = int((chosen["RESULT"] < threshold).sum())
        rows.append(_proportion_row("All", landmark, negative, len(chosen)))
    return rows


def mrd_status_1y(adsl: pd.DataFrame, admrd: pd.DataFrame, *, threshold: float,
                  window_days_365: int) -> pd.DataFrame:
    """Per FAS patient the 1-year MRD status (``STATUS``, one of ``STATUSES``) with the
    assessment used (``ADY``, ``RESULT``; missing when none). Rules in order:

    1. relapse or death on or before day 365: failure (later events do not change the status);
    2. else the landmark assessment (day 365 +/- ``window_days_365``) decides: below
       ``threshold`` success, else failure (MRD-positive);
    3. else, when the window has closed (follow-up reached day 365 + window, or a relapse or
       death came after day 365): not evaluable (failure in the sensitivity analysis);
    4. else (alive, event-free, follow-up ended before the window closed, e.g. recently
       transplanted): not evaluable, follow-up open; outside both denominators.
    """
    _require(adsl, ["USUBJID", "FASFL", "HSCTDT", "RELDT", "DTHDT", "FUPDAYS"], "ADSL")
    fas = _fas(adsl).set_index("USUBJID")
    event_day = (pd.concat([fas["RELDT"], fas["DTHDT"]], axis=1).min(axis=1)
                 - fas["HSCTDT"]).dt.days
    chosen = landmark_assessment(admrd, adsl, landmark=ONE_YEAR,
                                 window=window_days_365).set_index("USUBJID")
    result = chosen["RESULT"].reindex(fas.index)
    window_closed = (fas["FUPDAYS"].astype("float64") >= ONE_YEAR + window_days_365) | \
        event_day.notna()
    status = np.select(
        [(event_day <= ONE_YEAR).to_numpy(), (result < threshold).to_numpy(),
         result.notna().to_numpy(), window_closed.to_numpy()],
        [FAILURE_EVENT, SUCCESS, FAILURE_POSITIVE, NOT_EVALUABLE], FOLLOW_UP_OPEN)
    out = pd.DataFrame({"USUBJID": fas.index, "STATUS": status,
                        "ADY": chosen["ADY"].reindex(fas.index).astype("Int64").to_numpy(),
                        "RESULT": result.to_numpy()})
    out.loc[out["STATUS"] == FAILURE_EVENT, ["ADY", "RESULT"]] = pd.NA
    out["STATUS"] = out["STATUS"].astype("string")
    return out.sort_values("USUBJID", kind="stable").reset_index(drop=True)


def mrd_negative_1y(adsl: pd.DataFrame, admrd: pd.DataFrame, *,
                    threshold: float = Params.mrd_threshold,
                    window_days_365: int = Params.mrd_window_days_365) -> list[ResultRow]:
    """Result rows of the registration's MRD endpoint (endpoint MRD1Y, day 365, FAS).

    First one ``count`` row per status (``subgroup`` the status, ``n`` the FAS size), then
    two ``proportion`` rows: ``primary`` (successes among successes and failures) and
    ``sensitivity: not evaluable as failure`` (not-evaluable patients whose window closed
    join the denominator). Patients whose follow-up ended before the window closed are in
    neither denominator. See :func:`mrd_status_1y` for the rules.
    """
    status = mrd_status_1y(adsl, admrd, threshold=threshold, window_days_365=window_days_365)
    counts = status["STATUS"].value_counts()
    n_of = {name: int(counts.get(name, 0)) for name in STATUSES}
    total = len(status)
    rows = [ResultRow(ENDPOINT_1Y, name, "count", float(ONE_YEAR), float(n_of[name]), n=total,
                      method=COUNT_METHOD) for name in STATUSES]
    evaluable = n_of[SUCCESS] + n_of[FAILURE_EVENT] + n_of[FAILURE_POSITIVE]
    rows.append(_proportion_row(PRIMARY, ONE_YEAR, n_of[SUCCESS], evaluable, ENDPOINT_1Y))
    rows.append(_proportion_row(SENSITIVITY, ONE_YEAR, n_of[SUCCESS],
                                evaluable + n_of[NOT_EVALUABLE], ENDPOINT_1Y))
    return rows

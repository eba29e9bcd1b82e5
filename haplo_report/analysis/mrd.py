"""MRD analysis (SAP v2 "MRD"): landmark populations and proportions, the 1-year MRD endpoint
with its four categories and two rates, the headline sentence.

Population: the full analysis set (``FASFL == "Y"`` in ADSL). MRD-positive means
``RESULT >= threshold`` for every method (FCM, QPCR); 0 is undetectable. Times are study days
(``ADY``, day 0 = transplant); the data cut is ADSL's ``CUTDT``.

Rules (SAP v2):

- a patient enters a landmark (day 30, 90, 180, 365) only when transplant + landmark days is on
  or before the cut;
- "by the landmark" means on or before the landmark day (a relapse on day 365 is before the
  1-year landmark);
- the landmark population: alive and relapse-free at the landmark with an assessment in the
  window (+/- ``window_days``; ``window_days_365`` at day 365); patients who relapsed or died
  by the landmark, and those without an assessment in the window, are counted on their own rows;
- the assessment closest to the landmark counts; at equal distance the later one; two results
  on the chosen day: MRD-positive if either is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from haplo_report.analysis.derive import of_subjects
from haplo_report.analysis.frames import flagged, require_columns
from haplo_report.analysis.results import NOT_ESTIMABLE, ResultRow, results_frame
from haplo_report.analysis.stats.binomial import clopper_pearson
from haplo_report.formatting import fmt_ci_words, fmt_fraction, fmt_percent
from haplo_report.params import Params

ENDPOINT = "MRD"  # MRD status at each landmark
ENDPOINT_1Y = "MRD1Y"  # the registration's endpoint: MRD-negative at 1 year
PROPORTION_METHOD = "Proportion; exact (Clopper-Pearson) 95% CI"
COUNT_METHOD = "Number of patients (% of N)"
LANDMARKS: tuple[int, ...] = (30, 90, 180, 365)
ONE_YEAR = 365

# Per patient and landmark (landmark_status); the first is never counted.
NOT_REACHED = "landmark after the data cut"
EVENT_BY_LANDMARK = "relapse or death by the landmark"
NO_ASSESSMENT = "no assessment in the window"
NEGATIVE = "MRD-negative"
POSITIVE = "MRD-positive"
# Landmark count rows (subgroups of endpoint MRD; the proportion row is "All").
REACHED_ROW = "STATUS=reached"
EVENT_ROW = f"STATUS={EVENT_BY_LANDMARK}"
NO_ASSESSMENT_ROW = f"STATUS={NO_ASSESSMENT}"

# The four exclusive 1-year categories and the reasons within them (mrd_status_1y).
SUCCESS, FAILURE, NOT_EVALUABLE, PENDING = "success", "failure", "not evaluable", "pending"
CATEGORIES: tuple[str, ...] = (SUCCESS, FAILURE, NOT_EVALUABLE, PENDING)
REASON_NEGATIVE = "MRD-negative at the landmark"
REASON_RELAPSE = "relapse by day 365"
REASON_DEATH = "death by day 365"
REASON_EVENT = "relapse or death by day 365"  # the two above, counted together
REASON_POSITIVE = "MRD-positive at the landmark"
REASON_NONE = "no assessment in the window"
REASON_LOST = "last contact before the window"
REASON_OPEN = "window still open at the cut"
REASON_OPEN_POSITIVE = "MRD-positive so far, window still open at the cut"
REASON_OPEN_NEGATIVE = "MRD-negative so far, window still open at the cut"
PRIMARY = "All"  # success / (success + failure)
SENSITIVITY = "RATE=sensitivity"  # success / (success + failure + not evaluable)


class MrdInputError(ValueError):
    """Derived data the MRD analysis cannot use; the message names the problem."""


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    require_columns(frame, columns, name, MrdInputError)


def _fas(adsl: pd.DataFrame) -> pd.DataFrame:
    _require(adsl, ["USUBJID", "FASFL", "HSCTDT", "CUTDT", "RELDT", "DTHDT"], "ADSL")
    return flagged(adsl, "FASFL").set_index("USUBJID")


def _window(landmark: int, window_days: int, window_days_365: int) -> int:
    return window_days_365 if landmark == ONE_YEAR else window_days


def landmark_assessment(admrd: pd.DataFrame, adsl: pd.DataFrame, *, landmark: int,
                        window: int) -> pd.DataFrame:
    """The assessment that counts at ``landmark`` per FAS patient who has one in the window
    (columns of ADMRD; rows sorted by USUBJID): the closest, at equal distance the later,
    on one day the highest result (MRD-positive if either is)."""
    _require(admrd, ["USUBJID", "ADY", "RESULT"], "ADMRD")
    fas_ids = _fas(adsl).index.to_series()
    distance = (admrd["ADY"].astype("float64") - landmark).abs()
    rows = admrd[of_subjects(admrd["USUBJID"], fas_ids) & (distance <= window)]
    rows = rows.assign(_DISTANCE=distance[rows.index])
    rows = rows.sort_values(["USUBJID", "_DISTANCE", "ADY", "RESULT"],
                            ascending=[True, True, False, False], kind="stable")
    return rows.drop_duplicates("USUBJID").drop(columns="_DISTANCE").reset_index(drop=True)


def _event_days(fas: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Day of the first relapse and of death (missing when none by the cut)."""
    return ((fas["RELDT"] - fas["HSCTDT"]).dt.days.astype("float64"),
            (fas["DTHDT"] - fas["HSCTDT"]).dt.days.astype("float64"))


def landmark_status(adsl: pd.DataFrame, admrd: pd.DataFrame, *, threshold: float,
                    landmark: int, window: int) -> pd.DataFrame:
    """Per FAS patient (sorted by USUBJID) the status at ``landmark``: ``STATUS`` one of
    :data:`NOT_REACHED`, :data:`EVENT_BY_LANDMARK`, :data:`NO_ASSESSMENT`, :data:`NEGATIVE`,
    :data:`POSITIVE`, with the assessment used (``ADY``, ``RESULT``; missing when none)."""
    fas = _fas(adsl)
    relapse, death = _event_days(fas)
    event = pd.concat([relapse, death], axis=1).min(axis=1)
    reached = fas["HSCTDT"] + pd.Timedelta(days=landmark) <= fas["CUTDT"]
    chosen = landmark_assessment(admrd, adsl, landmark=landmark, window=window)
    chosen = chosen.set_index("USUBJID").reindex(fas.index)
    result = chosen["RESULT"].astype("float64")
    status = np.select(
        [~reached.to_numpy(), (event <= landmark).to_numpy(), result.isna().to_numpy(),
         (result < threshold).to_numpy()],
        [NOT_REACHED, EVENT_BY_LANDMARK, NO_ASSESSMENT, NEGATIVE], POSITIVE)
    shown = np.isin(status, (NEGATIVE, POSITIVE))
    return pd.DataFrame({
        "USUBJID": fas.index.astype(str), "STATUS": pd.array(status, dtype="string"),
        "ADY": pd.array(np.where(shown, chosen["ADY"].astype("float64"), np.nan),
                        dtype="Int64"),
        "RESULT": np.where(shown, result, np.nan),
    }).sort_values("USUBJID", kind="stable").reset_index(drop=True)


def mrd_by_landmark(adsl: pd.DataFrame, admrd: pd.DataFrame, *, threshold: float,
                    window_days: int, window_days_365: int,
                    landmarks: Sequence[int] = LANDMARKS) -> pd.DataFrame:
    """:func:`landmark_status` of every landmark, one row per FAS patient and landmark
    (column ``LANDMARK`` added), sorted by landmark then patient."""
    return pd.concat([
        landmark_status(adsl, admrd, threshold=threshold, landmark=landmark,
                        window=_window(landmark, window_days, window_days_365))
        .assign(LANDMARK=landmark) for landmark in landmarks], ignore_index=True)


def _proportion_row(endpoint: str, subgroup: str, time_days: int, k: int, n: int
                    ) -> ResultRow:
    if n == 0:
        return ResultRow(endpoint, subgroup, "proportion", float(time_days), None, n=0,
                         events=0, method=PROPORTION_METHOD, flag=NOT_ESTIMABLE)
    lower, upper = clopper_pearson(k, n)
    return ResultRow(endpoint, subgroup, "proportion", float(time_days), k / n, lower, upper,
                     n=n, events=k, method=PROPORTION_METHOD)


def mrd_landmarks(admrd: pd.DataFrame, adsl: pd.DataFrame, *, threshold: float,
                  window_days: int, window_days_365: int,
                  landmarks: Sequence[int] = LANDMARKS) -> list[ResultRow]:
    """Result rows of endpoint MRD per landmark (``time_days``):

    - ``count`` :data:`REACHED_ROW`: FAS patients whose landmark day is on or before the cut
      (``n`` = FAS);
    - ``count`` :data:`EVENT_ROW` and :data:`NO_ASSESSMENT_ROW` (``n`` = patients reached);
    - ``proportion`` ``All``: ``n`` the landmark population (alive, relapse-free, assessed),
      ``events`` MRD-negative, exact 95% CI (NE when the population is empty).
    """
    rows = []
    total = int(_fas(adsl).shape[0])
    status = mrd_by_landmark(adsl, admrd, threshold=threshold, window_days=window_days,
                             window_days_365=window_days_365, landmarks=landmarks)
    for landmark in landmarks:
        n_of = status.loc[status["LANDMARK"] == landmark, "STATUS"].value_counts()
        count = {s: int(n_of.get(s, 0)) for s in (EVENT_BY_LANDMARK, NO_ASSESSMENT, NEGATIVE,
                                                   POSITIVE)}
        reached = sum(count.values())
        rows += [ResultRow(ENDPOINT, REACHED_ROW, "count", float(landmark), float(reached),
                           n=total, method=COUNT_METHOD),
                 ResultRow(ENDPOINT, EVENT_ROW, "count", float(landmark),
                           float(count[EVENT_BY_LANDMARK]), n=reached, method=COUNT_METHOD),
                 ResultRow(ENDPOINT, NO_ASSESSMENT_ROW, "count", float(landmark),
                           float(count[NO_ASSESSMENT]), n=reached, method=COUNT_METHOD),
                 _proportion_row(ENDPOINT, "All", landmark, count[NEGATIVE],
                                 count[NEGATIVE] + count[POSITIVE])]
    return rows


def mrd_status_1y(adsl: pd.DataFrame, admrd: pd.DataFrame, *, threshold: float,
                  window_days_365: int) -> pd.DataFrame:
    """Per FAS patient (sorted by USUBJID) the 1-year category (``STATUS``, one of
    :data:`CATEGORIES`), its ``REASON`` and the day-365 assessment used (``ADY``, ``RESULT``;
    missing when none). Rules in order (SAP v2):

    1. relapse or death on or before day 365: failure;
    2. alive and relapse-free at the cut with the window still open (its last day,
       365 + ``window_days_365``, after the cut): pending, whatever the assessments so far
       (a closer one may come; this includes patients not yet at day 365);
    3. the day-365 assessment decides: MRD-negative success, MRD-positive failure;
    4. otherwise not evaluable (no assessment in the closed window); the reason says when the
       last contact was before the window.

    A relapse or death after day 365 closes the patient's window: no later assessment can
    decide the category.
    """
    _require(adsl, ["FUPDAYS"], "ADSL")
    fas = _fas(adsl)
    relapse, death = _event_days(fas)
    event = pd.concat([relapse, death], axis=1).min(axis=1)
    window_end = fas["HSCTDT"] + pd.Timedelta(days=ONE_YEAR + window_days_365)
    open_window = (window_end > fas["CUTDT"]) & event.isna()
    chosen = landmark_assessment(admrd, adsl, landmark=ONE_YEAR, window=window_days_365)
    chosen = chosen.set_index("USUBJID").reindex(fas.index)
    result = chosen["RESULT"].astype("float64")
    lost = fas["FUPDAYS"].astype("float64") < ONE_YEAR - window_days_365
    relapse_first = relapse.notna() & ~(death < relapse).fillna(False)
    conditions = [(event <= ONE_YEAR) & relapse_first, event <= ONE_YEAR,
                  open_window & (result < threshold), open_window & result.notna(), open_window,
                  result < threshold, result.notna(), lost]
    outcomes = [(FAILURE, REASON_RELAPSE), (FAILURE, REASON_DEATH),
                (PENDING, REASON_OPEN_NEGATIVE), (PENDING, REASON_OPEN_POSITIVE),
                (PENDING, REASON_OPEN), (SUCCESS, REASON_NEGATIVE), (FAILURE, REASON_POSITIVE),
                (NOT_EVALUABLE, REASON_LOST)]
    masks = [c.fillna(False).to_numpy(dtype=bool) for c in conditions]
    status = np.select(masks, [o[0] for o in outcomes], NOT_EVALUABLE)
    reason = np.select(masks, [o[1] for o in outcomes], REASON_NONE)
    has_result = result.notna().to_numpy() & ~np.isin(reason, (REASON_RELAPSE, REASON_DEATH))
    return pd.DataFrame({
        "USUBJID": fas.index.astype(str), "STATUS": pd.array(status, dtype="string"),
        "REASON": pd.array(reason, dtype="string"),
        "ADY": pd.array(np.where(has_result, chosen["ADY"].astype("float64"), np.nan),
                        dtype="Int64"),
        "RESULT": np.where(has_result, result, np.nan),
    }).sort_values("USUBJID", kind="stable").reset_index(drop=True)


def category_row(category: str, reason: str | None = None) -> str:
    """The subgroup of a 1-year count row: ``"STATUS=failure"``,
    ``"STATUS=failure;REASON=MRD-positive at the landmark"``."""
    return f"STATUS={category}" + ("" if reason is None else f";REASON={reason}")


def mrd_negative_1y(adsl: pd.DataFrame, admrd: pd.DataFrame, *,
                    threshold: float = Params.mrd_threshold,
                    window_days_365: int = Params.mrd_window_days_365) -> list[ResultRow]:
    """Result rows of the registration's MRD endpoint (endpoint MRD1Y, day 365, FAS).

    ``count`` rows (``n`` = FAS): each category of :data:`CATEGORIES` (:func:`category_row`),
    the failures split by reason (relapse or death by day 365; MRD-positive); then two
    ``proportion`` rows, ``events`` successes over ``n``: :data:`PRIMARY` success / (success +
    failure) and :data:`SENSITIVITY` success / (success + failure + not evaluable). Pending
    patients are in no denominator. See :func:`mrd_status_1y` for the rules.
    """
    status = mrd_status_1y(adsl, admrd, threshold=threshold, window_days_365=window_days_365)
    n_of = {c: int((status["STATUS"] == c).sum()) for c in CATEGORIES}
    positive = int((status["REASON"] == REASON_POSITIVE).sum())
    total = len(status)

    def count(subgroup: str, k: int) -> ResultRow:
        return ResultRow(ENDPOINT_1Y, subgroup, "count", float(ONE_YEAR), float(k), n=total,
                         method=COUNT_METHOD)

    rows = [count(category_row(SUCCESS), n_of[SUCCESS]),
            count(category_row(FAILURE), n_of[FAILURE]),
            count(category_row(FAILURE, REASON_EVENT), n_of[FAILURE] - positive),
            count(category_row(FAILURE, REASON_POSITIVE), positive),
            count(category_row(NOT_EVALUABLE), n_of[NOT_EVALUABLE]),
            count(category_row(PENDING), n_of[PENDING])]
    decided = n_of[SUCCESS] + n_of[FAILURE]
    rows.append(_proportion_row(ENDPOINT_1Y, PRIMARY, ONE_YEAR, n_of[SUCCESS], decided))
    rows.append(_proportion_row(ENDPOINT_1Y, SENSITIVITY, ONE_YEAR, n_of[SUCCESS],
                                decided + n_of[NOT_EVALUABLE]))
    return rows


def rate_text(row: pd.Series) -> str:
    """A proportion row as the text, synopsis and tables quote it: "56.0% (14/25; 95% CI
    34.9–75.6)"; "not estimable (0/0)" when the denominator is empty."""
    fraction = fmt_fraction(int(row["events"]), int(row["n"]))
    if pd.isna(row["estimate"]):
        return f"not estimable ({fraction})"
    return (f"{fmt_percent(row['estimate'])}% ({fraction}; "
            f"{fmt_ci_words(row['ci_lower'], row['ci_upper'])})")


def mrd_headline(rows: Sequence[ResultRow] | pd.DataFrame) -> str:
    """The 1-year MRD endpoint in one sentence from :func:`mrd_negative_1y` rows: the primary
    rate with its denominator, then the sensitivity rate and the pending patients."""
    frame = rows if isinstance(rows, pd.DataFrame) else results_frame(list(rows))
    one_year = frame[frame["endpoint"] == ENDPOINT_1Y]

    def find(subgroup: str, statistic: str) -> pd.Series:
        found = one_year[(one_year["subgroup"] == subgroup)
                         & (one_year["statistic"] == statistic)]
        if found.empty:
            raise ValueError(f"no MRD1Y {statistic} row {subgroup}")
        return found.iloc[0]

    primary, sensitivity = find(PRIMARY, "proportion"), find(SENSITIVITY, "proportion")
    pending = int(find(category_row(PENDING), "count")["estimate"])
    not_evaluable = int(find(category_row(NOT_EVALUABLE), "count")["estimate"])
    waiting = (" Pending (1-year window not closed by the data cut; in neither denominator): "
               f"{pending} {'patient' if pending == 1 else 'patients'}." if pending else "")
    failures = "patient as a failure" if not_evaluable == 1 else "patients as failures"
    return (f"MRD-negative at 1 year (primary analysis, successes among successes and "
            f"failures): {rate_text(primary)}. Counting the {not_evaluable} not evaluable "
            f"{failures}: {rate_text(sensitivity)}.{waiting}")

"""Time-to-event endpoints as result rows: ADTTE in, estimates from ``stats/`` out.

One function per question a chapter asks: :func:`tte_results` for one ADTTE parameter
(overall, by subgroup, with the exploratory test), :func:`headline` for the sentence that
summarises it. The method texts that footnote every number are defined here, once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from haplo_report.formatting import fmt_ci_words, fmt_days, fmt_percent
from haplo_report.analysis.frames import require_columns
from haplo_report.params import Params
from haplo_report.analysis.results import FEW_AT_RISK, NOT_ESTIMABLE, ResultRow
from haplo_report.analysis.stats.cif import cif_at, cumulative_incidence
from haplo_report.analysis.stats.compare import gray_test, logrank_test
from haplo_report.analysis.stats.followup import median_followup
from haplo_report.analysis.stats.km import km_at, km_estimate, km_quantiles

KM_ENDPOINTS: tuple[str, ...] = ("PFS", "OS", "GRFS")
CIF_ENDPOINTS: tuple[str, ...] = ("CIR", "NRM", "AGVHD24", "AGVHD34", "CGVHD", "CGVHDMS",
                                  "ANC", "PLT")
ENGRAFTMENT_ENDPOINTS: tuple[str, ...] = ("ANC", "PLT")
SUBGROUPS: tuple[str, ...] = ("MRDGRP", "DISGRP", "PHGRP")
# Endpoints with subgroup estimates and tests (SAP v2: every efficacy and GVHD endpoint).
SUBGROUP_ENDPOINTS: tuple[str, ...] = ("PFS", "OS", "CIR", "NRM", "GRFS", "AGVHD24", "AGVHD34",
                                       "CGVHD", "CGVHDMS")

# Landmarks the SAP fixes per endpoint; every other endpoint uses the run's landmarks_days.
FIXED_LANDMARKS: dict[str, tuple[int, ...]] = {
    "AGVHD24": (100,), "AGVHD34": (100,), "ANC": (28, 100), "PLT": (28, 100),
    "CGVHD": (365, 730), "CGVHDMS": (365, 730),  # SAP: chronic GVHD at 1 year (also 2)
}

ENDPOINT_NAMES: dict[str, str] = {
    "PFS": "progression-free survival",
    "OS": "overall survival",
    "GRFS": "GVHD-free, relapse-free survival",
    "CIR": "cumulative incidence of relapse",
    "NRM": "non-relapse mortality",
    "AGVHD24": "cumulative incidence of grade II-IV acute GVHD",
    "AGVHD34": "cumulative incidence of grade III-IV acute GVHD",
    "CGVHD": "cumulative incidence of chronic GVHD",
    "CGVHDMS": "cumulative incidence of moderate-severe chronic GVHD",
    "ANC": "cumulative incidence of neutrophil recovery",
    "PLT": "cumulative incidence of platelet recovery",
}

CURVE_LABELS: dict[str, str] = {  # figure legends
    "PFS": "PFS", "OS": "OS", "GRFS": "GRFS", "CIR": "Relapse", "NRM": "NRM",
    "AGVHD24": "Grade II-IV", "AGVHD34": "Grade III-IV", "CGVHD": "Any severity",
    "CGVHDMS": "Moderate-severe", "ANC": "Neutrophils", "PLT": "Platelets",
}

TABLE_NAMES: dict[str, str] = {
    "mrd": "MRD", "adverse_events": "adverse event", "engraftment": "engraftment",
    "gvhd": "GVHD", "relapses": "relapse", "deaths": "death", "subjects": "subject",
}

KM_METHOD = "Kaplan-Meier; Greenwood SE; log(-log) 95% CI"
KM_QUANTILE_METHOD = "Kaplan-Meier; Brookmeyer-Crowley 95% CI on the log(-log) scale"
CIF_METHOD = "Aalen-Johansen; Aalen SE; log(-log) 95% CI; competing events as in ADTTE"
LOGRANK_METHOD = "Log-rank test (exploratory)"
GRAY_METHOD = "Gray's test (exploratory)"

FOLLOWUP_METHOD = "Reverse Kaplan-Meier (death censors follow-up); log(-log) 95% CI"
FOLLOWUP_RANGE_METHOD = "Range of follow-up (days) of patients alive at last contact"
MEDIAN_DAYS_METHOD = "Median day of recovery among patients who recovered; range"


def at_risk_method(min_at_risk: int) -> str:
    """The method text of an ``at_risk`` row; it names the run's ``min_at_risk``."""
    return ("Number at risk at the landmark day: time on study on or after it, no event or "
            f"competing event before it; fewer than {min_at_risk}: imprecise")


def min_at_risk_of(method: str) -> int | None:
    """The ``min_at_risk`` an ``at_risk`` row's method text names (:func:`at_risk_method`)."""
    found = re.search(r"fewer than (\d+): imprecise$", method)
    return int(found.group(1)) if found else None


def few_at_risk_note(min_at_risk: int) -> str:
    """The footnote of a marked estimate (SAP v3), after its mark."""
    return f"fewer than {min_at_risk} patients at risk at this time: imprecise."


def endpoint_landmarks(paramcd: str, landmarks_days: Sequence[int] = Params.landmarks_days
                       ) -> tuple[int, ...]:
    """The landmarks (days) at which ``paramcd`` is reported: fixed by the SAP or the run's."""
    return FIXED_LANDMARKS.get(paramcd, tuple(landmarks_days))


def _number(value: object) -> float | None:
    if value is None or pd.isna(value):
        return None
    return float(value)


def _count(value: object) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def main_landmark(landmarks_days: Sequence[int]) -> int:
    """The landmark a chapter leads with: day 365 (the SAP's "report at") when reported,
    else the last one."""
    days = sorted({int(t) for t in landmarks_days})
    if not days:
        raise ValueError("no landmarks given")
    return 365 if 365 in days else days[-1]


def _parameter(adtte: pd.DataFrame, paramcd: str) -> pd.DataFrame:
    """The ADTTE rows of one parameter, in patient order; a clear error when unusable."""
    require_columns(adtte, ("USUBJID", "PARAMCD", "AVAL", "EVNTTYPE"), "ADTTE")
    data = adtte[adtte["PARAMCD"] == paramcd].sort_values("USUBJID", kind="stable")
    if data.empty:
        raise ValueError(f"ADTTE has no rows for {paramcd}: no patient in the full analysis set")
    return data


def _estimate_rows(data: pd.DataFrame, endpoint: str, subgroup: str,
                   landmarks: Sequence[int], min_at_risk: int) -> list[ResultRow]:
    """Landmark estimates, each followed by its number at risk (``at_risk``, flagged
    :data:`FEW_AT_RISK` below ``min_at_risk``, SAP v3), and KM quartiles, for one group."""
    time = data["AVAL"].to_numpy(dtype=float)
    event_type = data["EVNTTYPE"].to_numpy(dtype=int)
    n = len(data)
    rows: list[ResultRow] = []
    if endpoint in KM_ENDPOINTS:
        fit = km_estimate(time, (event_type == 1).astype(int))
        at, statistic, method = km_at(fit, list(landmarks)), "survival", KM_METHOD
    else:
        fit = cumulative_incidence(time, event_type, cause=1)
        at, statistic, method = cif_at(fit, list(landmarks)), "cif", CIF_METHOD
    for rec in at.itertuples(index=False):
        estimate = _number(rec.estimate)
        events = _count(rec.events)
        at_risk = int(rec.n_risk)  # patients with AVAL >= the landmark (R survival's n.risk)
        rows.append(ResultRow(endpoint, subgroup, statistic, float(rec.time), estimate,
                              _number(rec.ci_lower), _number(rec.ci_upper), n, events, method,
                              NOT_ESTIMABLE if estimate is None else ""))
        rows.append(ResultRow(endpoint, subgroup, "at_risk", float(rec.time), float(at_risk),
                              n=n, events=events, method=at_risk_method(min_at_risk),
                              flag=FEW_AT_RISK if at_risk < min_at_risk else ""))
    if endpoint in KM_ENDPOINTS:
        total_events = int((event_type == 1).sum())
        names = {0.25: "q25", 0.5: "median", 0.75: "q75"}
        for rec in km_quantiles(fit).itertuples(index=False):
            estimate = _number(rec.estimate)
            rows.append(ResultRow(endpoint, subgroup, names[float(rec.quantile)], None,
                                  estimate, _number(rec.ci_lower), _number(rec.ci_upper), n,
                                  total_events, KM_QUANTILE_METHOD,
                                  NOT_ESTIMABLE if estimate is None else ""))
    return rows


def not_tested_reason(subgroup_min_n: int) -> str:
    """The text of a subgroup test not done because a level is small (SAP v2)."""
    return f"not tested (a level has fewer than {subgroup_min_n} patients)"


def too_few_events_reason(subgroup_min_events: int) -> str:
    """The text of a subgroup test not done because of too few events (SAP v3)."""
    return f"not tested (fewer than {subgroup_min_events} events)"


def _subgroup_rows(data: pd.DataFrame, endpoint: str, variable: str,
                   landmarks: Sequence[int], subgroup_min_n: int, subgroup_min_events: int,
                   min_at_risk: int) -> list[ResultRow]:
    """Per-level estimates (every level with patients, never dropped) and the test, or a
    ``not_tested`` row when a level (of the two) has fewer than ``subgroup_min_n`` patients
    or the levels together have fewer than ``subgroup_min_events`` events of the endpoint
    (SAP v3; when both hold, the patients' reason)."""
    known = data[data[variable].notna()]
    sizes = known[variable].astype(str).value_counts().sort_index()
    rows: list[ResultRow] = []
    for level in sizes.index:
        group = known[known[variable].astype(str) == level]
        rows += _estimate_rows(group, endpoint, f"{variable}={level}", landmarks, min_at_risk)
    time = known["AVAL"].to_numpy(dtype=float)
    event_type = known["EVNTTYPE"].to_numpy(dtype=int)
    n, events = len(known), int((event_type == 1).sum())
    reason = None
    if len(sizes) < 2 or int(sizes.min()) < subgroup_min_n:  # each variable has two levels
        reason = not_tested_reason(subgroup_min_n)
    elif events < subgroup_min_events:
        reason = too_few_events_reason(subgroup_min_events)
    if reason is not None:
        return rows + [ResultRow(endpoint, variable, "not_tested", None, None, n=n,
                                 events=events, method=reason)]
    group = known[variable].astype(str).to_numpy()
    if endpoint in KM_ENDPOINTS:
        test = logrank_test(time, (event_type == 1).astype(int), group)
        names, method = ("logrank_p", "logrank_chisq"), LOGRANK_METHOD
    else:
        test = gray_test(time, event_type, group, cause=1)
        names, method = ("gray_p", "gray_chisq"), GRAY_METHOD
    method = f"{method}; {int(test.df)} df"
    for statistic, value in zip(names, (test.p_value, test.statistic)):
        estimate = _number(value)
        rows.append(ResultRow(endpoint, variable, statistic, None, estimate, n=n,
                              events=events, method=method,
                              flag=NOT_ESTIMABLE if estimate is None else ""))
    return rows


def followup_results(adtte: pd.DataFrame) -> list[ResultRow]:
    """Median follow-up (``median_followup``, reverse Kaplan-Meier on OS; ``events`` counts
    deaths) and the range (``min``, ``max``) among patients alive, endpoint ``OS``."""
    data = _parameter(adtte, "OS")
    time = data["AVAL"].to_numpy(dtype=float)
    death = (data["EVNTTYPE"].to_numpy(dtype=int) == 1).astype(int)
    fu = median_followup(time, death)
    n, deaths = len(data), int(death.sum())
    median = _number(fu.median)
    rows = [ResultRow("OS", "All", "median_followup", None, median, _number(fu.ci_lower),
                      _number(fu.ci_upper), n, deaths, FOLLOWUP_METHOD,
                      NOT_ESTIMABLE if median is None else "")]
    for statistic, value in (("min", fu.minimum), ("max", fu.maximum)):
        estimate = _number(value)
        rows.append(ResultRow("OS", "All", statistic, None, estimate, n=n - deaths, events=None,
                              method=FOLLOWUP_RANGE_METHOD,
                              flag=NOT_ESTIMABLE if estimate is None else ""))
    return rows


def _recovery_rows(data: pd.DataFrame, endpoint: str) -> list[ResultRow]:
    """Median day (and range) of recovery among the patients who recovered."""
    days = data.loc[data["EVNTTYPE"] == 1, "AVAL"].to_numpy(dtype=float)
    n = len(days)
    if n == 0:
        return [ResultRow(endpoint, "All", "median_days", None, None, n=0, events=0,
                          method=MEDIAN_DAYS_METHOD, flag=NOT_ESTIMABLE)]
    return [ResultRow(endpoint, "All", statistic, None, float(value), n=n, events=n,
                      method=MEDIAN_DAYS_METHOD)
            for statistic, value in (("median_days", np.median(days)), ("min", days.min()),
                                     ("max", days.max()))]


def tte_results(adtte: pd.DataFrame, paramcd: str, *, landmarks: Sequence[int],
                subgroups: Iterable[str] = SUBGROUPS,
                subgroup_min_n: int = Params.subgroup_min_n,
                subgroup_min_events: int = Params.subgroup_min_events,
                min_at_risk: int = Params.min_at_risk) -> list[ResultRow]:
    """Result rows of one ADTTE parameter.

    KM endpoints (PFS, OS, GRFS): ``survival`` at each landmark, ``median``/``q25``/``q75``;
    competing-risk endpoints: ``cif`` at each landmark; every landmark estimate is followed by
    its ``at_risk`` row (SAP v3: same endpoint, subgroup and time; flagged
    :data:`FEW_AT_RISK` below ``min_at_risk``). Each subgroup variable gets per-level
    rows at every landmark for each level with patients, and a test (``logrank_p``/
    ``logrank_chisq`` or ``gray_p``/``gray_chisq``) when every level has at least
    ``subgroup_min_n`` patients and the levels together at least ``subgroup_min_events``
    events, else one ``not_tested`` row (SAP v2, v3). ANC and PLT
    add ``median_days`` and its range (median follow-up: :func:`followup_results`).
    ``n`` is the patients at day 0, ``events`` the events of interest up to the landmark.
    """
    if paramcd not in KM_ENDPOINTS + CIF_ENDPOINTS:
        raise ValueError(f"unknown endpoint {paramcd!r}: expected one of "
                         f"{', '.join(KM_ENDPOINTS + CIF_ENDPOINTS)}")
    data = _parameter(adtte, paramcd)
    landmarks = sorted({int(t) for t in landmarks})
    rows = _estimate_rows(data, paramcd, "All", landmarks, min_at_risk)
    if paramcd in ENGRAFTMENT_ENDPOINTS:
        rows += _recovery_rows(data, paramcd)
    for variable in subgroups:
        if variable not in data.columns:
            raise ValueError(f"ADTTE lacks subgroup column {variable}")
        rows += _subgroup_rows(data, paramcd, variable, landmarks, subgroup_min_n,
                               subgroup_min_events, min_at_risk)
    return rows


def curve_tables(adtte: pd.DataFrame, paramcds: Sequence[str]) -> dict[str, pd.DataFrame]:
    """The estimator table (Kaplan-Meier or Aalen-Johansen) of each endpoint, keyed by its
    figure legend label, for :mod:`haplo_report.outputs.figures`."""
    tables: dict[str, pd.DataFrame] = {}
    for paramcd in paramcds:
        data = _parameter(adtte, paramcd)
        time = data["AVAL"].to_numpy(dtype=float)
        event_type = data["EVNTTYPE"].to_numpy(dtype=int)
        fit = (km_estimate(time, (event_type == 1).astype(int)) if paramcd in KM_ENDPOINTS
               else cumulative_incidence(time, event_type, cause=1))
        tables[CURVE_LABELS.get(paramcd, paramcd)] = fit.table
    return tables


def _landmark_words(days: float) -> str:
    if days % 365 == 0:
        return f"{int(days // 365)}-year"
    return f"day-{fmt_days(days)}"


def _find(rows: Iterable[ResultRow], endpoint: str, statistic: str, subgroup: str,
          time_days: float | None) -> ResultRow | None:
    for row in rows:
        if (row.endpoint, row.subgroup, row.statistic) == (endpoint, subgroup, statistic) and \
                (time_days is None or row.time_days == float(time_days)):
            return row
    return None


def headline(rows: Iterable[ResultRow], endpoint: str, time_days: int | None = None,
             subgroup: str = "All") -> str:
    """One sentence a clinician reads, e.g. "The 1-year progression-free survival was 72.4%
    (95% CI 53.1–84.9) among 29 patients with 8 events by day 365."

    ``time_days`` defaults to day 365 when reported, else the last landmark reported.
    """
    rows = list(rows)
    statistic = "survival" if endpoint in KM_ENDPOINTS else "cif"
    if time_days is None:
        times = [r.time_days for r in rows if (r.endpoint, r.subgroup, r.statistic)
                 == (endpoint, subgroup, statistic)]
        time_days = main_landmark(times) if times else 365
    row = _find(rows, endpoint, statistic, subgroup, time_days)
    name = ENDPOINT_NAMES.get(endpoint, endpoint)
    when = _landmark_words(time_days)
    if row is None:
        raise ValueError(f"no {statistic} row for {endpoint} ({subgroup}) at day {time_days}")
    if row.estimate is None or (isinstance(row.estimate, float) and math.isnan(row.estimate)):
        return (f"The {when} {name} is not estimable: the last observed time of the "
                f"{row.n} patients for this endpoint is before day {fmt_days(time_days)}.")
    risk = _find(rows, endpoint, "at_risk", subgroup, time_days)
    if risk is not None and risk.flag == FEW_AT_RISK:  # SAP v3: never quoted as a finding
        threshold = min_at_risk_of(risk.method)
        fewer = "" if threshold is None else f", fewer than {threshold}"
        sentence = (f"The {when} {name} is not quoted: {int(risk.estimate or 0)} of the "
                    f"{row.n} patients remained at risk at day {fmt_days(time_days)}{fewer}, "
                    "so the estimate is imprecise (shown, marked, in the table).")
    else:
        sentence = (f"The {when} {name} was {fmt_percent(row.estimate)}% "
                    f"({fmt_ci_words(row.ci_lower, row.ci_upper)}) among "
                    f"{row.n} patients with {row.events} "
                    f"{'event' if row.events == 1 else 'events'} by day {fmt_days(time_days)}.")
    median = _find(rows, endpoint, "median", subgroup, None)
    if median is not None:
        if median.estimate is None:
            sentence += " The median was not reached."
        else:
            sentence += (f" The median was {fmt_days(median.estimate)} days "
                         f"({fmt_ci_words(median.ci_lower, median.ci_upper, percent=False, decimals=0)}).")
    return sentence


def not_supplied_sentence(table: str) -> str:
    """The sentence a chapter shows when an optional table was not in the data cut."""
    return f"The {TABLE_NAMES.get(table, table)} table was not supplied in this data cut."


def followup_headline(rows: Iterable[ResultRow]) -> str:
    """E.g. "Median follow-up (reverse Kaplan-Meier) was 412 days (95% CI 380–450) among 29
    patients, 8 of whom died."."""
    row = _find(rows, "OS", "median_followup", "All", None)
    if row is None:
        raise ValueError("no median_followup row")
    died = f"{row.events} of whom died" if row.events else "none of whom died"
    if row.estimate is None:
        return (f"Median follow-up could not be estimated among {row.n} patients, {died}.")
    return (f"Median follow-up (reverse Kaplan-Meier) was {fmt_days(row.estimate)} days "
            f"({fmt_ci_words(row.ci_lower, row.ci_upper, percent=False, decimals=0)}) among "
            f"{row.n} patients, {died}.")


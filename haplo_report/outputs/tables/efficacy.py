"""Efficacy tables 14.2.x: time-to-event estimates, subgroups and MRD, built from result rows.

Time-to-event rows come from :func:`haplo_report.analysis.endpoints.tte_results`: ``survival``/``cif``
at landmarks, ``median``/``q25``/``q75`` (KM), per-level rows ``"VARIABLE=level"`` and a test
row (``logrank_p``/``gray_p``, subgroup = the variable) or one ``not_tested`` row.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from haplo_report.analysis.endpoints import (ENDPOINT_NAMES, KM_ENDPOINTS, SUBGROUPS,
                                             few_at_risk_note, min_at_risk_of)
from haplo_report.analysis.results import FEW_AT_RISK
from haplo_report.analysis.mrd import (EVENT_ROW, FAILURE, NO_ASSESSMENT_ROW, NOT_EVALUABLE,
                                       ONE_YEAR, PENDING, PRIMARY, REACHED_ROW, REASON_EVENT,
                                       REASON_POSITIVE, SENSITIVITY, SUCCESS, category_row,
                                       rate_text)
from haplo_report.formatting import (AT_LEAST, fmt_count_percent, fmt_days,
                                     fmt_estimate_ci, fmt_fraction, fmt_p_value,
                                     fmt_quantile_ci)
from haplo_report.outputs.tables.core import (RowLookup, Rows, Table, TableInputError, as_frame, count,
                                      header_n, level_label, sentence_case, unique_methods,
                                      value)

CENSORING = ("Censoring: patients without the event at the end of follow-up (last known alive "
             "or data cut, whichever first).")
ACUTE_GVHD = ("Acute GVHD (MAGIC): onset of the first episode of the grade shown or worse; "
              "competing event: death without it.")
CHRONIC_GVHD = ("Chronic GVHD (NIH 2014): onset of the first episode of the severity shown or "
                "worse; competing event: death without it.")
RECOVERY = (f"Recovery: ANC {AT_LEAST}0.5\u00d710\u2079/L (neutrophils), platelets "
            f"{AT_LEAST}20\u00d710\u2079/L; competing event: death before recovery.")
EVENT_RULES: dict[str, str] = {  # short definitions; endpoints sharing one share its line
    "PFS": "PFS event: relapse or death from any cause.",
    "OS": "OS event: death from any cause.",
    "CIR": "Relapse: competing event is death without prior relapse.",
    "NRM": "NRM: death without prior relapse; relapse is the competing event.",
    "GRFS": ("GRFS event: grade III-IV acute GVHD, chronic GVHD needing systemic therapy, "
             "relapse or death, whichever first (Holtan 2015)."),
    "AGVHD24": ACUTE_GVHD, "AGVHD34": ACUTE_GVHD, "CGVHD": CHRONIC_GVHD,
    "CGVHDMS": CHRONIC_GVHD, "ANC": RECOVERY, "PLT": RECOVERY,
}
SHORT_NAMES: dict[str, str] = {
    "PFS": "PFS", "OS": "OS", "GRFS": "GRFS", "CIR": "Relapse", "NRM": "NRM",
    "AGVHD24": "Acute GVHD II-IV", "AGVHD34": "Acute GVHD III-IV", "CGVHD": "Chronic GVHD",
    "CGVHDMS": "Moderate-severe chronic GVHD", "ANC": "Neutrophils", "PLT": "Platelets",
}
SUBGROUP_LABELS: dict[str, str] = {
    "MRDGRP": "Pre-transplant MRD", "DISGRP": "Disease status at transplant",
    "PHGRP": "Ph status",
}
# Marks an estimate with fewer than min_at_risk patients at risk (SAP v3), and its footnote.
FEW_AT_RISK_MARK = "\u2020"
AT_RISK_NOTE = ("At risk: patients followed up to the landmark day without the event or a "
                "competing event before it.")
QUANTILES: tuple[tuple[str, str], ...] = (("median", "Median"), ("q25", "25th percentile"),
                                          ("q75", "75th percentile"))


def landmark_label(days: float) -> str:
    """"Day 100", "1 year (day 365)", "2 years (day 730)"."""
    days = int(days)
    if days and days % 365 == 0:
        years = days // 365
        return f"{years} year{'s' if years > 1 else ''} (day {days})"
    return f"Day {days}"


def _statistic(endpoint: str) -> str:
    return "survival" if endpoint in KM_ENDPOINTS else "cif"


def _landmarks(lookup: RowLookup, endpoints: Sequence[str], subgroup: str = "All"
               ) -> list[float]:
    times: set[float] = set()
    for endpoint in endpoints:
        rows = lookup.select(endpoint, _statistic(endpoint))
        times |= set(rows.loc[rows["subgroup"] == subgroup, "time_days"].dropna())
    if not times:
        raise TableInputError(f"Table {lookup.number}: no landmark rows for "
                              f"{', '.join(endpoints)}")
    return sorted(times)


def _population_n(lookup: RowLookup, endpoint: str) -> int:
    rows = lookup.select(endpoint, _statistic(endpoint))
    rows = rows[rows["subgroup"] == "All"]
    if rows.empty:
        raise TableInputError(f"Table {lookup.number}: no result rows for {endpoint}")
    return count(rows.iloc[0], "n")


def estimate_cell(row: pd.Series | None, at_risk: pd.Series | None) -> str:
    """A landmark estimate (%, 95% CI), marked when fewer than ``min_at_risk`` patients are at
    risk (SAP v3; an NE estimate is not marked: there is no estimate)."""
    if row is None:
        return ""
    text = fmt_estimate_ci(value(row, "estimate"), value(row, "ci_lower"),
                           value(row, "ci_upper"))
    if is_marked(row, at_risk):
        text += FEW_AT_RISK_MARK
    return text


def is_marked(row: pd.Series | None, at_risk: pd.Series | None) -> bool:
    """Whether a landmark estimate rests on fewer than ``min_at_risk`` patients at risk."""
    return (row is not None and at_risk is not None and at_risk["flag"] == FEW_AT_RISK
            and not pd.isna(row["estimate"]))


def at_risk_cell(at_risk: pd.Series | None) -> str:
    return "" if at_risk is None or pd.isna(at_risk["estimate"]) else str(int(at_risk["estimate"]))


def at_risk_notes(lookup: RowLookup, endpoints: Sequence[str], marked: bool) -> list[str]:
    """The definition of the number at risk and, when an estimate is marked, the mark's note."""
    rows = lookup.frame[lookup.frame["endpoint"].isin(endpoints)
                        & (lookup.frame["statistic"] == "at_risk")]
    if rows.empty:
        return []
    notes = [AT_RISK_NOTE]
    threshold = min_at_risk_of(str(rows["method"].iloc[0]))
    if marked and threshold is not None:
        notes.append(f"{FEW_AT_RISK_MARK} {sentence_case(few_at_risk_note(threshold))}")
    return notes


def event_rules(endpoints: Sequence[str]) -> tuple[str, ...]:
    """The endpoints' event definitions (once each) and the censoring rule."""
    rules = dict.fromkeys(EVENT_RULES[e] for e in endpoints if e in EVENT_RULES)
    return (*rules, CENSORING)


def _methods(lookup: RowLookup, endpoints: Sequence[str], statistics: Sequence[str]
             ) -> tuple[str, ...]:
    """The method texts of the endpoints' rows with these statistics."""
    f = lookup.frame
    return tuple(unique_methods(f[f["endpoint"].isin(endpoints)
                                  & f["statistic"].isin(statistics)]))


def tte_table(rows: Rows, data_cut: str, *, number: str, title: str, source: str,
              endpoints: Sequence[str]) -> Table:
    """Estimates of one or more time-to-event endpoints side by side (one column each).

    Rows: patients; events and quartiles (KM); per landmark the estimate (%, 95% CI) and the
    events by then.
    """
    lookup = RowLookup(as_frame(rows), number)
    n = {e: _population_n(lookup, e) for e in endpoints}
    columns = ["", *(header_n("FAS" if len(endpoints) == 1 else SHORT_NAMES.get(e, e), n[e])
                     for e in endpoints)]
    body: list[tuple[str, ...]] = [("Patients, n", *(str(n[e]) for e in endpoints))]
    indents = [0]
    km = [e for e in endpoints if e in KM_ENDPOINTS]
    if km:
        body.append(("Events, n (%)", *(
            fmt_count_percent(count(lookup.get(e, "All", "median"), "events"), n[e])
            if e in km else "" for e in endpoints)))
        indents.append(0)
        for statistic, label in QUANTILES:
            cells = []
            for e in endpoints:
                row = lookup.find(e, "All", statistic) if e in km else None
                cells.append("" if row is None else fmt_quantile_ci(
                    value(row, "estimate"), value(row, "ci_lower"), value(row, "ci_upper")))
            body.append((f"{label}, days (95% CI)", *cells))
            indents.append(0)
    marked = False
    for time in _landmarks(lookup, endpoints):
        found = [lookup.find(e, "All", _statistic(e), time) for e in endpoints]
        risks = [lookup.find(e, "All", "at_risk", time) for e in endpoints]
        marked |= any(is_marked(r, k) for r, k in zip(found, risks))
        body.append((f"{landmark_label(time)}, % (95% CI)",
                     *(estimate_cell(r, k) for r, k in zip(found, risks))))
        body.append((f"Events by day {fmt_days(time)}, n", *(
            "" if r is None or pd.isna(r["events"]) else str(int(r["events"]))
            for r in found)))
        indents += [0, 1]
        if any(k is not None for k in risks):
            body.append((f"At risk at day {fmt_days(time)}, n", *map(at_risk_cell, risks)))
            indents.append(1)
    methods = _methods(lookup, endpoints, ("survival", "cif", *(s for s, _ in QUANTILES)))
    return Table(number, title, "FAS", data_cut, tuple(columns), tuple(body),
                 tuple(indents), (*event_rules(endpoints),
                                  *at_risk_notes(lookup, endpoints, marked)),
                 source, methods=methods)


def stacked_tte_table(rows: Rows, data_cut: str, *, number: str, title: str, source: str,
                      endpoints: Sequence[str]) -> Table:
    """Several endpoints one below the other in one FAS column, each under its heading."""
    parts = [tte_table(rows, data_cut, number=number, title=title, source=source,
                       endpoints=(e,)) for e in endpoints]
    body: list[tuple[str, ...]] = []
    indents: list[int] = []
    for endpoint, part in zip(endpoints, parts):
        body.append((sentence_case(ENDPOINT_NAMES.get(endpoint, endpoint)), ""))
        body += part.rows
        indents += [0, *(level + 1 for level in part.indents)]
    notes = dict.fromkeys((*event_rules(endpoints),
                           *(note for part in parts for note in part.footnotes)))
    return Table(number, title, "FAS", data_cut, parts[0].columns, tuple(body),
                 tuple(indents), tuple(notes), source,
                 methods=tuple(m for part in parts for m in part.methods))


def subgroup_table(rows: Rows, data_cut: str, *, number: str, title: str, source: str,
                   endpoints: Sequence[str]) -> Table:
    """Every subgroup level with patients (SAP v2: never dropped): its n, then at each landmark
    of the endpoint the events by then and the estimate; the test's p-value on the subgroup's
    line, or "Not tested (...)" when a level has too few patients."""
    lookup = RowLookup(as_frame(rows), number)
    columns = ("Subgroup / landmark", "n", "Events, n", "At risk, n", "% (95% CI)", "p-value")
    marked = False
    body: list[tuple[str, ...]] = []
    indents: list[int] = []

    def add(cells: tuple[str, ...], level: int) -> None:
        body.append(cells)
        indents.append(level)

    for endpoint in endpoints:
        statistic = _statistic(endpoint)
        base = 1 if len(endpoints) > 1 else 0
        if len(endpoints) > 1:
            add((sentence_case(ENDPOINT_NAMES.get(endpoint, endpoint)), "", "", "", "", ""), 0)
        times = _landmarks(lookup, (endpoint,))

        def group(label: str, subgroup: str, level: int) -> None:
            nonlocal marked
            found = {t: lookup.find(endpoint, subgroup, statistic, t) for t in times}
            first = next(r for r in found.values() if r is not None)
            add((label, str(count(first, "n")), "", "", "", ""), level)
            for time, row in found.items():
                if row is not None:
                    risk = lookup.find(endpoint, subgroup, "at_risk", time)
                    marked |= is_marked(row, risk)
                    events = "" if pd.isna(row["events"]) else str(int(row["events"]))
                    add((landmark_label(time), "", events, at_risk_cell(risk),
                         estimate_cell(row, risk), ""), level + 1)

        group("All patients", "All", base)
        for variable in SUBGROUPS:
            label = SUBGROUP_LABELS.get(variable, variable)
            untested = lookup.find(endpoint, variable, "not_tested")
            test = lookup.find(endpoint, variable, "logrank_p" if endpoint in KM_ENDPOINTS
                               else "gray_p")
            if untested is None and test is None:
                continue
            verdict = (sentence_case(untested["method"]) if untested is not None
                       else fmt_p_value(value(test, "estimate")))
            add((label, "", "", "", "", verdict), base)
            levels = lookup.select(endpoint, statistic)
            names = dict.fromkeys(s for s in levels["subgroup"] if s.startswith(f"{variable}="))
            for subgroup in names:
                group(level_label(subgroup.split("=", 1)[1]), subgroup, base + 1)
    notes = [*event_rules(endpoints),
             "n: patients in the group; events: events of interest by the landmark.",
             *at_risk_notes(lookup, endpoints, marked),
             "Subgroup comparisons are exploratory; p-values are not adjusted for "
             "multiplicity. A test is done only when every level has at least the minimum "
             "number of patients and the levels together the minimum number of events; "
             "estimates are shown for every level with patients."]
    return Table(number, title, "FAS", data_cut, columns, tuple(body), tuple(indents),
                 tuple(notes), source,
                 methods=_methods(lookup, endpoints, ("survival", "cif", "logrank_p", "gray_p")))


def table_14_2_1(rows: Rows, data_cut: str) -> Table:
    """Progression-free survival (FAS)."""
    return tte_table(rows, data_cut, number="14.2.1", title="Progression-free survival",
                     source="03_pfs", endpoints=("PFS",))


def table_14_2_2(rows: Rows, data_cut: str) -> Table:
    """Progression-free survival by subgroup (FAS)."""
    return subgroup_table(rows, data_cut, number="14.2.2",
                          title="Progression-free survival by subgroup", source="03_pfs",
                          endpoints=("PFS",))


def table_14_2_3(rows: Rows, data_cut: str) -> Table:
    """Overall survival (FAS)."""
    return tte_table(rows, data_cut, number="14.2.3", title="Overall survival",
                     source="04_os", endpoints=("OS",))


def table_14_2_4(rows: Rows, data_cut: str) -> Table:
    """Overall survival by subgroup (FAS)."""
    return subgroup_table(rows, data_cut, number="14.2.4",
                          title="Overall survival by subgroup", source="04_os",
                          endpoints=("OS",))


def table_14_2_5(rows: Rows, data_cut: str) -> Table:
    """Cumulative incidence of relapse and NRM (FAS), side by side."""
    return tte_table(rows, data_cut, number="14.2.5",
                     title="Cumulative incidence of relapse and non-relapse mortality",
                     source="05_relapse_nrm", endpoints=("CIR", "NRM"))


def table_14_2_6(rows: Rows, data_cut: str) -> Table:
    """Relapse and NRM by subgroup (FAS)."""
    return subgroup_table(rows, data_cut, number="14.2.6",
                          title="Relapse and non-relapse mortality by subgroup",
                          source="05_relapse_nrm", endpoints=("CIR", "NRM"))


MRD_METHOD_NOTE = ("MRD-negative: result below the MRD threshold, one threshold for flow "
                   "cytometry and qPCR (see Statistical methods). The assessment closest to "
                   "the landmark within its window counts; at equal distance the later one; two "
                   "results on that day: MRD-positive if either is.")


def table_14_2_7(rows: Rows, data_cut: str) -> Table:
    """MRD by landmark (FAS), one column per landmark with N = FAS patients whose landmark day
    is on or before the cut: relapse or death by the landmark, no assessment in the window,
    the landmark population (evaluable) and its MRD-negative proportion.

    Reads endpoint ``MRD`` rows of :func:`haplo_report.analysis.mrd.mrd_landmarks`.
    """
    lookup = RowLookup(as_frame(rows), "14.2.7")
    found = lookup.select("MRD", "proportion")
    found = found[found["subgroup"] == "All"].sort_values("time_days", kind="stable")
    if found.empty:
        raise TableInputError("Table 14.2.7: no MRD proportion rows")
    times = found["time_days"].tolist()
    reached = [count(lookup.get("MRD", REACHED_ROW, "count", t)) for t in times]
    props = [lookup.get("MRD", "All", "proportion", t) for t in times]
    events = [count(lookup.get("MRD", EVENT_ROW, "count", t)) for t in times]
    missing = [count(lookup.get("MRD", NO_ASSESSMENT_ROW, "count", t)) for t in times]
    evaluable = [count(p, "n") for p in props]
    body = (
        ("Relapse or death by the landmark, n (%)",
         *(fmt_count_percent(k, n) for k, n in zip(events, reached))),
        ("Alive and relapse-free, no assessment in the window, n (%)",
         *(fmt_count_percent(k, n) for k, n in zip(missing, reached))),
        ("Evaluable: alive, relapse-free, assessed, n (%)",
         *(fmt_count_percent(k, n) for k, n in zip(evaluable, reached))),
        ("MRD-negative, n/evaluable",
         *(fmt_fraction(count(p, "events"), count(p, "n")) for p in props)),
        ("MRD-negative, % (95% CI)",
         *(fmt_estimate_ci(value(p, "estimate"), value(p, "ci_lower"), value(p, "ci_upper"))
           for p in props)),
    )
    columns = ("", *(header_n(f"Day {fmt_days(t)}", n) for t, n in zip(times, reached)))
    notes = ("N: patients of the full analysis set whose landmark day (transplant + landmark "
             "days) is on or before the data cut. Relapse or death by the landmark: on or "
             "before the landmark day.",
             "Evaluable (the landmark population): alive and relapse-free at the landmark with "
             "an MRD assessment in its window; the MRD-negative percentage is of the evaluable "
             "patients (NE when there is none). " + MRD_METHOD_NOTE,
             "The day-365 column describes patients in remission at 1 year; Table 14.2.8 gives "
             "the registration's endpoint, MRD-negative at 1 year, on the full analysis set.")
    return Table("14.2.7", "MRD by landmark", "FAS", data_cut, columns, body,
                 footnotes=notes, source="06_mrd",
                 methods=tuple(unique_methods(lookup.select("MRD"))))


MRD1Y_ROWS: tuple[tuple[str, str, int], ...] = (  # (subgroup, label, indent)
    (category_row(SUCCESS), "Success: alive, relapse-free and MRD-negative at day 365", 0),
    (category_row(FAILURE), "Failure", 0),
    (category_row(FAILURE, REASON_EVENT), "Relapse or death by day 365", 1),
    (category_row(FAILURE, REASON_POSITIVE), "MRD-positive at day 365", 1),
    (category_row(NOT_EVALUABLE), "Not evaluable", 0),
    (category_row(PENDING), "Pending", 0),
)


def table_14_2_8(rows: Rows, data_cut: str) -> Table:
    """MRD-negative at 1 year (FAS): the four categories as n (% of FAS), then the primary and
    sensitivity rates, each with its denominator written out (the text and synopsis quote the
    primary rate the same way, :func:`haplo_report.analysis.mrd.rate_text`)."""
    lookup = RowLookup(as_frame(rows), "14.2.8")
    found = [(lookup.get("MRD1Y", subgroup, "count", ONE_YEAR), label, indent)
             for subgroup, label, indent in MRD1Y_ROWS]
    n = count(found[0][0], "n")
    body = [(label, fmt_count_percent(count(row), n)) for row, label, _ in found]
    indents = [indent for _, _, indent in found]
    body += [("Primary rate: success / (success + failure)",
              rate_text(lookup.get("MRD1Y", PRIMARY, "proportion", ONE_YEAR))),
             ("Sensitivity rate: success / (success + failure + not evaluable)",
              rate_text(lookup.get("MRD1Y", SENSITIVITY, "proportion", ONE_YEAR)))]
    indents += [0, 0]
    notes = ("Each patient of the full analysis set is in exactly one category at the data "
             "cut. Success: alive, relapse-free and MRD-negative at the day-365 landmark. "
             "Failure: relapse or death on or before day 365, or MRD-positive at the landmark. "
             "Not evaluable: alive and relapse-free, the day-365 window closed on or before the "
             "cut (or a relapse or death after day 365 ended it) with no assessment in it, "
             "including patients whose last contact was before the window. Pending: alive and "
             "relapse-free, the window still open at the cut, no failure yet, whatever the "
             "assessments so far (a closer assessment may come; an MRD-positive result in an "
             "open window is pending).",
             MRD_METHOD_NOTE,
             "Rates: percentage (successes/denominator; 95% CI); pending patients are in no "
             "denominator.")
    return Table("14.2.8", "MRD-negative at 1 year", "FAS", data_cut,
                 ("", header_n("FAS", n)), tuple(body), tuple(indents), notes, "06_mrd",
                 methods=tuple(unique_methods(lookup.select("MRD1Y"))))


def table_14_2_9(rows: Rows, data_cut: str) -> Table:
    """GVHD-free, relapse-free survival (FAS)."""
    return tte_table(rows, data_cut, number="14.2.9",
                     title="GVHD-free, relapse-free survival", source="07_grfs",
                     endpoints=("GRFS",))


def table_14_2_10(rows: Rows, data_cut: str) -> Table:
    """GVHD-free, relapse-free survival by subgroup (FAS)."""
    return subgroup_table(rows, data_cut, number="14.2.10",
                          title="GVHD-free, relapse-free survival by subgroup",
                          source="07_grfs", endpoints=("GRFS",))

"""Efficacy tables 14.2.x: time-to-event estimates, subgroups and MRD, built from result rows.

Time-to-event rows come from :func:`haplo_report.analysis.endpoints.tte_results`: ``survival``/``cif``
at landmarks, ``median``/``q25``/``q75`` (KM), per-level rows ``"VARIABLE=level"`` and a test
row (``logrank_p``/``gray_p``, subgroup = the variable) or one ``not_analysed`` row.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from haplo_report.analysis.endpoints import ENDPOINT_NAMES, KM_ENDPOINTS, SUBGROUPS
from haplo_report.formatting import (AT_LEAST, NO_CI_NOTE, fmt_count_percent, fmt_days,
                                     fmt_estimate_ci, fmt_p_value, fmt_quantile_ci)
from haplo_report.outputs.tables.core import (RowLookup, Rows, Table, TableInputError, as_frame, count,
                                      header_n, level_label, sentence_case, unique_methods,
                                      value)

FOLLOW_UP = ("patients without an event are censored at the end of follow-up (last known "
             "alive or data cut, whichever is first)")
EVENT_RULES: dict[str, str] = {
    "PFS": f"PFS event: relapse or death from any cause, whichever first; {FOLLOW_UP}.",
    "OS": f"OS event: death from any cause; {FOLLOW_UP}.",
    "CIR": f"Relapse: event; death without prior relapse: competing event; {FOLLOW_UP}.",
    "NRM": f"NRM: death without prior relapse; relapse: competing event; {FOLLOW_UP}.",
    "GRFS": ("GRFS event: first of grade III-IV acute GVHD, chronic GVHD needing systemic "
             f"therapy, relapse or death (Holtan 2015); {FOLLOW_UP}."),
    "AGVHD24": ("Grade II-IV acute GVHD (MAGIC): onset of the first episode of that grade or "
                f"worse; death without it: competing event; {FOLLOW_UP}."),
    "AGVHD34": ("Grade III-IV acute GVHD (MAGIC): onset of the first episode of that grade or "
                f"worse; death without it: competing event; {FOLLOW_UP}."),
    "CGVHD": ("Chronic GVHD (NIH 2014), any severity: onset of the first episode; death "
              f"without it: competing event; {FOLLOW_UP}."),
    "CGVHDMS": ("Moderate-severe chronic GVHD (NIH 2014): onset of the first episode of that "
                f"severity or worse; death without it: competing event; {FOLLOW_UP}."),
    "ANC": (f"Neutrophil recovery: ANC {AT_LEAST}0.5\u00d710\u2079/L; death before recovery: "
            f"competing event; {FOLLOW_UP}."),
    "PLT": (f"Platelet recovery: platelets {AT_LEAST}20\u00d710\u2079/L; death before "
            f"recovery: competing event; {FOLLOW_UP}."),
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
NE_NOTE = f"NE: not estimable (follow-up ends before the landmark). {NO_CI_NOTE}"
NOT_REACHED_NOTE = ("Not reached: the Kaplan-Meier curve did not fall to that level during "
                    "follow-up.")
ABBREVIATIONS = ("CI: confidence interval; FAS: full analysis set; GVHD: graft-versus-host "
                 "disease; GRFS: GVHD-free, relapse-free survival; MRD: minimal residual "
                 "disease; NRM: non-relapse mortality; OS: overall survival; PFS: "
                 "progression-free survival.")
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


def _footnotes(lookup: RowLookup, endpoints: Sequence[str], statistics: Sequence[str]
               ) -> tuple[str, ...]:
    """Event rules, the methods of the rows shown, NE and abbreviations."""
    f = lookup.frame
    rows = f[f["endpoint"].isin(endpoints) & f["statistic"].isin(statistics)]
    notes = [EVENT_RULES[e] for e in endpoints if e in EVENT_RULES]
    notes += [f"Method: {m}." for m in unique_methods(rows)]
    return (*notes, NE_NOTE, ABBREVIATIONS)


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
    for time in _landmarks(lookup, endpoints):
        found = [lookup.find(e, "All", _statistic(e), time) for e in endpoints]
        body.append((f"{landmark_label(time)}, % (95% CI)", *(
            "" if r is None else fmt_estimate_ci(value(r, "estimate"), value(r, "ci_lower"),
                                                 value(r, "ci_upper"))
            for r in found)))
        body.append((f"Events by day {fmt_days(time)}, n", *(
            "" if r is None or pd.isna(r["events"]) else str(int(r["events"]))
            for r in found)))
        indents += [0, 1]
    statistics = ("survival", "cif", *(s for s, _ in QUANTILES))
    notes = _footnotes(lookup, endpoints, statistics)
    if km:
        notes = (*notes[:-1], NOT_REACHED_NOTE, notes[-1])
    return Table(number, title, "FAS", data_cut, tuple(columns), tuple(body),
                 tuple(indents), notes, source)


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
    rules = [EVENT_RULES[e] for e in endpoints if e in EVENT_RULES]
    others = dict.fromkeys(note for part in parts for note in part.footnotes
                           if note not in (*rules, NE_NOTE, ABBREVIATIONS))
    notes = (*rules, *others, NE_NOTE, ABBREVIATIONS)
    return Table(number, title, "FAS", data_cut, parts[0].columns, tuple(body),
                 tuple(indents), notes, source)


def subgroup_table(rows: Rows, data_cut: str, *, number: str, title: str, source: str,
                   endpoints: Sequence[str], landmark: float = 365) -> Table:
    """Per subgroup level: n, events by the landmark, the landmark estimate, and the test."""
    lookup = RowLookup(as_frame(rows), number)
    when = landmark_label(landmark)
    columns = ("Subgroup", "n", f"Events by day {fmt_days(landmark)}",
               f"{when}, % (95% CI)", "p-value")
    body: list[tuple[str, ...]] = []
    indents: list[int] = []
    notes: list[str] = []

    def estimate_row(label: str, row: pd.Series, level: int) -> None:
        body.append((label, str(count(row, "n")),
                     "" if pd.isna(row["events"]) else str(int(row["events"])),
                     fmt_estimate_ci(value(row, "estimate"), value(row, "ci_lower"),
                                     value(row, "ci_upper")), ""))
        indents.append(level)

    for endpoint in endpoints:
        statistic = _statistic(endpoint)
        if len(endpoints) > 1:
            body.append((sentence_case(ENDPOINT_NAMES.get(endpoint, endpoint)), "", "", "", ""))
            indents.append(0)
        estimate_row("All patients", lookup.get(endpoint, "All", statistic, landmark),
                     1 if len(endpoints) > 1 else 0)
        for variable in SUBGROUPS:
            label = SUBGROUP_LABELS.get(variable, variable)
            base = 1 if len(endpoints) > 1 else 0
            skipped = lookup.find(endpoint, variable, "not_analysed")
            if skipped is not None:
                body.append((label, "", "", "Not analysed", ""))
                indents.append(base)
                notes.append(f"{SHORT_NAMES.get(endpoint, endpoint)}, {label}: "
                             f"{skipped['method']}.")
                continue
            test = lookup.find(endpoint, variable, "logrank_p" if endpoint in KM_ENDPOINTS
                               else "gray_p")
            if test is None:
                continue
            body.append((label, "", "", "", fmt_p_value(value(test, "estimate"))))
            indents.append(base)
            levels = lookup.select(endpoint, statistic)
            levels = levels[levels["subgroup"].str.startswith(f"{variable}=")
                            & (levels["time_days"] == float(landmark))]
            for _, row in levels.iterrows():
                estimate_row(level_label(row["subgroup"].split("=", 1)[1]), row, base + 1)
    statistics = ("survival", "cif", "logrank_p", "gray_p")
    notes = [*_footnotes(lookup, endpoints, statistics)[:-2], *notes,
             "Subgroup comparisons are exploratory; p-values are not adjusted for "
             "multiplicity.", NE_NOTE, ABBREVIATIONS]
    return Table(number, title, "FAS", data_cut, columns, tuple(body), tuple(indents),
                 tuple(notes), source)


def table_14_2_1(rows: Rows, data_cut: str) -> Table:
    """Progression-free survival (FAS)."""
    return tte_table(rows, data_cut, number="14.2.1", title="Progression-free survival",
                     source="03_pfs", endpoints=("PFS",))


def table_14_2_2(rows: Rows, data_cut: str, landmark: float = 365) -> Table:
    """Progression-free survival by subgroup (FAS)."""
    return subgroup_table(rows, data_cut, number="14.2.2",
                          title="Progression-free survival by subgroup", source="03_pfs",
                          endpoints=("PFS",), landmark=landmark)


def table_14_2_3(rows: Rows, data_cut: str) -> Table:
    """Overall survival (FAS)."""
    return tte_table(rows, data_cut, number="14.2.3", title="Overall survival",
                     source="04_os", endpoints=("OS",))


def table_14_2_4(rows: Rows, data_cut: str, landmark: float = 365) -> Table:
    """Overall survival by subgroup (FAS)."""
    return subgroup_table(rows, data_cut, number="14.2.4",
                          title="Overall survival by subgroup", source="04_os",
                          endpoints=("OS",), landmark=landmark)


def table_14_2_5(rows: Rows, data_cut: str) -> Table:
    """Cumulative incidence of relapse and NRM (FAS), side by side."""
    return tte_table(rows, data_cut, number="14.2.5",
                     title="Cumulative incidence of relapse and non-relapse mortality",
                     source="05_relapse_nrm", endpoints=("CIR", "NRM"))


def table_14_2_6(rows: Rows, data_cut: str, landmark: float = 365) -> Table:
    """Relapse and NRM by subgroup (FAS)."""
    return subgroup_table(rows, data_cut, number="14.2.6",
                          title="Relapse and non-relapse mortality by subgroup",
                          source="05_relapse_nrm", endpoints=("CIR", "NRM"), landmark=landmark)


def _proportion_cells(row: pd.Series) -> tuple[str, str, str]:
    """Evaluable n, responders n (%), % (95% CI) of a ``proportion`` row."""
    n = count(row, "n")
    k = count(row, "events")
    return (str(n), fmt_count_percent(k, n),
            fmt_estimate_ci(value(row, "estimate"), value(row, "ci_lower"),
                            value(row, "ci_upper")))


MRD_NOTES = ("MRD-negative: result below the MRD threshold; the assessment closest to the "
             "landmark within its window counts.",
             "95% CI: exact (Clopper-Pearson).")


def table_14_2_7(rows: Rows, data_cut: str) -> Table:
    """MRD by landmark (FAS): per landmark evaluable n, MRD-negative n (%), % (95% CI).

    Reads endpoint ``MRD`` rows with statistic ``proportion`` (``n`` evaluable, ``events``
    MRD-negative, ``estimate`` the proportion), subgroup ``All``.
    """
    lookup = RowLookup(as_frame(rows), "14.2.7")
    found = lookup.select("MRD", "proportion")
    found = found[found["subgroup"] == "All"].sort_values("time_days", kind="stable")
    if found.empty:
        raise TableInputError("Table 14.2.7: no MRD proportion rows")
    body = tuple((landmark_label(r["time_days"]), *_proportion_cells(r))
                 for _, r in found.iterrows())
    columns = ("Landmark", "Evaluable, n", "MRD-negative, n (%)", "MRD-negative, % (95% CI)")
    notes = (*MRD_NOTES, *(f"Method: {m}." for m in unique_methods(found)), ABBREVIATIONS)
    return Table("14.2.7", "MRD by landmark", "FAS", data_cut, columns, body,
                 footnotes=notes, source="06_mrd")


def table_14_2_8(rows: Rows, data_cut: str) -> Table:
    """MRD-negative at 1 year (FAS): every ``MRD1Y`` row in order, a count as n (%) and a
    proportion as % (95% CI), labelled by its subgroup's level."""
    lookup = RowLookup(as_frame(rows), "14.2.8")
    found = lookup.select("MRD1Y")
    if found.empty:
        raise TableInputError("Table 14.2.8: no MRD1Y rows")
    n = count(found.iloc[0], "n")
    body = []
    for _, row in found.iterrows():
        label = sentence_case(row["subgroup"].split("=", 1)[-1])
        if row["statistic"] == "count":
            body.append((label, fmt_count_percent(count(row), count(row, "n"))))
        else:
            label = "MRD-negative" if label == "All" else label
            body.append((f"{label}, % (95% CI)", fmt_estimate_ci(
                value(row, "estimate"), value(row, "ci_lower"), value(row, "ci_upper"))))
    notes = ("Success: alive, relapse-free and MRD-negative at the day-365 landmark; relapse "
             "or death before it is failure; no assessment in the window while alive and "
             "relapse-free is not evaluable (failure in the sensitivity analysis).",
             *MRD_NOTES[1:], *(f"Method: {m}." for m in unique_methods(found)), ABBREVIATIONS)
    return Table("14.2.8", "MRD-negative at 1 year", "FAS", data_cut,
                 ("", header_n("FAS", n)), tuple(body), footnotes=notes, source="06_mrd")


def table_14_2_9(rows: Rows, data_cut: str) -> Table:
    """GVHD-free, relapse-free survival (FAS)."""
    return tte_table(rows, data_cut, number="14.2.9",
                     title="GVHD-free, relapse-free survival", source="07_grfs",
                     endpoints=("GRFS",))

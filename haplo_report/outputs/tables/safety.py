"""Safety tables 14.3.x: GVHD, engraftment, adverse events and deaths, built from result rows
(:mod:`haplo_report.analysis.summaries` counts and :mod:`haplo_report.analysis.endpoints` estimates)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from haplo_report.formatting import AT_LEAST, fmt_count_percent, fmt_median_range
from haplo_report.analysis.results import KEY_SEPARATOR, key_pairs, key_parts
from haplo_report.analysis.derive import BEFORE_TRANSPLANT
from haplo_report.analysis.summaries import AE_GRADES, FATAL, GRADE3, RELATED, SERIOUS
from haplo_report.outputs.tables.core import (RowLookup, Rows, Table, TableInputError, as_frame,
                                              code_label, count, data_label, header_n,
                                              unique_methods, value)
from haplo_report.outputs.tables.efficacy import stacked_tte_table, subgroup_table

AE_OVERVIEW: tuple[tuple[str, str], ...] = (
    ("AE=Any", "Any AE"), (GRADE3, f"AE of CTCAE grade {AT_LEAST}3"), (SERIOUS, "Serious AE"),
    (RELATED, "AE related to blinatumomab"), (FATAL, "Fatal AE (grade 5)"),
)
AESI_LABELS: dict[str, str] = {
    "AESI=CRS": "Cytokine release syndrome", "AESI=ICANS": "Neurotoxicity (ICANS)",
    "AESI=INFECTION": "Infections",
}
GRADE_LABELS: dict[str, str] = {
    "None": "None", "I": "Grade I", "II": "Grade II", "III": "Grade III", "IV": "Grade IV",
    "MILD": "Mild", "MODERATE": "Moderate", "SEVERE": "Severe",
}


def _cell(row: pd.Series) -> str:
    return fmt_count_percent(count(row), count(row, "n"))


def _with_distribution(estimates: Table, rows: Rows, endpoint: str, heading: str,
                       organ_heading: str) -> Table:
    """``estimates`` (one FAS column) followed by a maximum-grade distribution and organs."""
    lookup = RowLookup(as_frame(rows), estimates.number)
    counts = lookup.select(endpoint, "count")
    grades = counts[counts["subgroup"].str.startswith("MAXGRADE=")]
    organs = counts[counts["subgroup"].str.startswith("ORGAN=")]
    if grades.empty:
        raise TableInputError(f"Table {estimates.number}: no {endpoint} maximum grade rows")
    body = list(estimates.rows) + [(heading, "")]
    indents = list(estimates.indents) + [0]
    for _, row in grades.iterrows():
        [(_, level)] = key_pairs(row["subgroup"])
        body.append((GRADE_LABELS.get(level, data_label(level)), _cell(row)))
        indents.append(1)
    if not organs.empty:
        body.append((organ_heading, ""))
        indents.append(0)
        for _, row in organs.iterrows():
            [(_, organ)] = key_pairs(row["subgroup"])
            body.append((code_label(data_label(organ)), _cell(row)))
            indents.append(1)
    notes = (*estimates.footnotes, "Maximum grade per patient over all episodes up to the "
             "data cut; organ involvement: a patient counts once per organ ever involved.")
    return Table(estimates.number, estimates.title, "FAS", estimates.data_cut,
                 estimates.columns, tuple(body), tuple(indents), notes, estimates.source,
                 methods=(*estimates.methods, *unique_methods(counts)))


def table_14_3_1(rows: Rows, data_cut: str) -> Table:
    """Acute GVHD (FAS): cumulative incidence of grade II-IV and III-IV, maximum grade."""
    estimates = stacked_tte_table(rows, data_cut, number="14.3.1",
                          title="Acute GVHD: cumulative incidence and maximum grade",
                          source="08_acute_gvhd", endpoints=("AGVHD24", "AGVHD34"))
    return _with_distribution(estimates, rows, "AGVHDMAX",
                              "Maximum acute GVHD grade (MAGIC), n (%)",
                              "Organs involved, n (%)")


def table_14_3_3(rows: Rows, data_cut: str) -> Table:
    """Chronic GVHD (FAS): cumulative incidence, any and moderate-severe; maximum severity."""
    estimates = stacked_tte_table(rows, data_cut, number="14.3.3",
                          title="Chronic GVHD: cumulative incidence and maximum severity",
                          source="09_chronic_gvhd", endpoints=("CGVHD", "CGVHDMS"))
    return _with_distribution(estimates, rows, "CGVHDMAX",
                              "Maximum chronic GVHD severity (NIH 2014), n (%)",
                              "Organs involved, n (%)")


def table_14_3_2(rows: Rows, data_cut: str) -> Table:
    """Acute GVHD by subgroup (FAS): grade II-IV and III-IV."""
    return subgroup_table(rows, data_cut, number="14.3.2", title="Acute GVHD by subgroup",
                          source="08_acute_gvhd", endpoints=("AGVHD24", "AGVHD34"))


def table_14_3_4(rows: Rows, data_cut: str) -> Table:
    """Chronic GVHD by subgroup (FAS): any severity and moderate-severe."""
    return subgroup_table(rows, data_cut, number="14.3.4", title="Chronic GVHD by subgroup",
                          source="09_chronic_gvhd", endpoints=("CGVHD", "CGVHDMS"))


def table_14_3_5(rows: Rows, data_cut: str) -> Table:
    """Engraftment (FAS): cumulative incidence of neutrophil and platelet recovery at the
    landmarks, and the median day of recovery (range) among patients who recovered."""
    lookup = RowLookup(as_frame(rows), "14.3.5")
    body: list[tuple[str, ...]] = []
    indents: list[int] = []
    notes: list[str] = []
    methods: list[str] = []
    for endpoint in ("ANC", "PLT"):
        part = stacked_tte_table(rows, data_cut, number="14.3.5", title="Engraftment",
                                 source="10_engraftment", endpoints=(endpoint,))
        median = lookup.get(endpoint, "All", "median_days")
        low, high = lookup.find(endpoint, "All", "min"), lookup.find(endpoint, "All", "max")
        body += [*part.rows, ("Recovered, n", str(count(median, "n"))),
                 ("Median day of recovery among patients who recovered (range)",
                  fmt_median_range(value(median, "estimate"),
                                   None if low is None else value(low, "estimate"),
                                   None if high is None else value(high, "estimate")))]
        indents += [*part.indents, 1, 1]
        notes += part.footnotes
        methods += [*part.methods, median["method"]]
    return Table("14.3.5", "Engraftment", "FAS", data_cut, part.columns, tuple(body),
                 tuple(indents), tuple(notes), "10_engraftment", methods=tuple(methods))


def outside_safety_note(lookup: RowLookup) -> tuple[str, ...]:
    """SAP v2: how many enrolled patients outside the safety set had adverse events (left out
    of the table), from the ``AE`` ``SAFFL=N`` row; nothing when every patient is in the set."""
    row = lookup.find("AE", "SAFFL=N", "count")
    if row is None or count(row, "n") == 0:
        return ()
    k, n = count(row), count(row, "n")
    return (f"Not in this table: {k} of the {n} enrolled patient{'s' if n != 1 else ''} "
            "outside the safety set (no blinatumomab) had adverse events.",)


def table_14_3_6(rows: Rows, data_cut: str) -> Table:
    """Adverse events overview (safety set), from ``AE`` count rows."""
    lookup = RowLookup(as_frame(rows), "14.3.6")
    found = [(label, lookup.get("AE", subgroup, "count")) for subgroup, label in AE_OVERVIEW]
    n = count(found[0][1], "n")
    body = tuple((label, _cell(row)) for label, row in found)
    return Table("14.3.6", "Adverse events overview", "Safety", data_cut,
                 ("", header_n("Safety set", n)), body,
                 footnotes=("Adverse events up to the data cut.", *outside_safety_note(lookup)),
                 source="11_safety",
                 methods=tuple(dict.fromkeys(row["method"] for _, row in found)))


AE_COLUMN_LABELS: tuple[tuple[str, str], ...] = (  # (subgroup suffix, header) per column
    ("", "Any grade"), (GRADE3, f"Grade {AT_LEAST}3"), (SERIOUS, "Serious"),
    (RELATED, "Related to blinatumomab"), (FATAL, "Fatal, grade 5"),
)
AE_COUNTING_NOTE = ("Serious, related and fatal: a patient counts when any of their events in "
                    "the row is. Adverse events up to the data cut, safety set only.")
SOC_PT_NOTE = ("System organ classes, and preferred terms within them, by decreasing number of "
               "subjects, then alphabetically. MedDRA coding as supplied.")


def _categories(lookup: RowLookup, endpoint: str, suffixes: tuple[str, ...]
                ) -> list[str]:
    """The category subgroups of ``endpoint``'s count rows in their order: rows that are not
    one of a category's columns (a last key part in ``suffixes``), a ``MAXGRADE=g`` last part
    (Table 14.3.8) taken off. Keys are split into their parts, so a preferred term holding
    ``;AESER=Y`` (escaped in the key) stays a category."""
    counts = lookup.select(endpoint, "count")
    if counts.empty:
        raise TableInputError(f"Table {lookup.number}: no {endpoint} count rows")
    names = []
    for subgroup in counts["subgroup"]:
        parts = key_parts(subgroup)
        if len(parts) > 1 and parts[-1].startswith("MAXGRADE="):
            parts = parts[:-1]
        if not (len(parts) > 1 and parts[-1] in suffixes):
            names.append(KEY_SEPARATOR.join(parts))
    return list(dict.fromkeys(names))


def _soc_pt_label(subgroup: str) -> tuple[str, int]:
    if subgroup == "AE=Any":
        return "Any adverse event", 0
    pairs = dict(key_pairs(subgroup))
    if "PT" in pairs:
        return data_label(pairs["PT"]), 1
    return data_label(pairs.get("SOC")), 0


def _aesi_label(subgroup: str) -> tuple[str, int]:
    pairs = dict(key_pairs(subgroup))
    if "PT" in pairs:
        return data_label(pairs["PT"]), 1
    return AESI_LABELS.get(subgroup, subgroup), 0


def _column_table(rows: Rows, data_cut: str, *, number: str, title: str, endpoint: str,
                  columns: tuple[tuple[str, str], ...], label: Callable[[str], tuple[str, int]],
                  first_header: str, notes: tuple[str, ...]) -> Table:
    """A safety-set table with one row per category of ``endpoint`` and one column per
    (subgroup suffix, header) of ``columns``, each cell n (% of the safety set)."""
    lookup = RowLookup(as_frame(rows), number)
    suffixes = tuple(suffix for suffix, _ in columns if suffix)
    body, indents = [], []
    n = None
    for category in _categories(lookup, endpoint, suffixes):
        found = [lookup.get(endpoint, category if not suffix else f"{category};{suffix}",
                            "count") for suffix, _ in columns]
        n = count(found[0], "n")
        text, level = label(category)
        body.append((text, *(_cell(row) for row in found)))
        indents.append(level)
    headers = (first_header, *(header_n(header, n or 0) for _, header in columns))
    return Table(number, title, "Safety", data_cut, headers, tuple(body), tuple(indents),
                 (*notes, *outside_safety_note(lookup)), "11_safety",
                 methods=tuple(unique_methods(lookup.select(endpoint))))


def table_14_3_7(rows: Rows, data_cut: str) -> Table:
    """Adverse events by system organ class and preferred term (safety set), from
    ``AESOCPT`` rows: any grade, grade >= 3, serious, related to blinatumomab, fatal."""
    return _column_table(rows, data_cut, number="14.3.7",
                         title="Adverse events by system organ class and preferred term",
                         endpoint="AESOCPT", columns=AE_COLUMN_LABELS, label=_soc_pt_label,
                         first_header="System organ class / preferred term",
                         notes=(AE_COUNTING_NOTE, SOC_PT_NOTE))


def table_14_3_8(rows: Rows, data_cut: str) -> Table:
    """Adverse events by system organ class, preferred term and maximum CTCAE grade (safety
    set), from ``AESOCPTGR`` rows: subjects by their worst grade (1-5) in each row."""
    grades = tuple((f"MAXGRADE={g}", f"Grade {g}") for g in AE_GRADES)
    return _column_table(
        rows, data_cut, number="14.3.8",
        title="Adverse events by system organ class, preferred term and maximum grade",
        endpoint="AESOCPTGR", columns=grades, label=_soc_pt_label,
        first_header="System organ class / preferred term",
        notes=("A patient counts once per row, in the column of their worst CTCAE grade among "
               "their events in that row (the grades of a row add up to its any-grade count in "
               "Table 14.3.7). Adverse events up to the data cut, safety set only.",
               SOC_PT_NOTE))


def table_14_3_9(rows: Rows, data_cut: str) -> Table:
    """Adverse events of special interest (safety set), from ``AESI`` rows, with the columns
    of Table 14.3.7."""
    return _column_table(rows, data_cut, number="14.3.9",
                         title="Adverse events of special interest", endpoint="AESI",
                         columns=AE_COLUMN_LABELS, label=_aesi_label, first_header="",
                         notes=(AE_COUNTING_NOTE,
                                "AESI as flagged by the investigator; CMV and EBV reactivation: "
                                "infections whose preferred term names the virus."))


def table_14_3_10(rows: Rows, data_cut: str) -> Table:
    """Deaths by cause (FAS): all deaths, relapse-related and non-relapse, causes within;
    then (SAP v3) deaths before transplant of the enrolled patients outside the FAS, when
    there are such patients. Row labels are the ``DTHCAT`` categories, the words Listing
    16.2.7 uses."""
    lookup = RowLookup(as_frame(rows), "14.3.10")
    counts = lookup.select("DEATH", "count")
    if counts.empty:
        raise TableInputError("Table 14.3.10: no DEATH count rows")
    body, indents = [], []
    before: pd.Series | None = None
    for _, row in counts.iterrows():
        subgroup = row["subgroup"]
        pairs = dict(key_pairs(subgroup))
        outside = pairs.get("DTHCAT") == BEFORE_TRANSPLANT
        if subgroup == "DTHFL=Y":
            label, level = "Deaths", 0
        elif "DTHCAUS" in pairs:
            label, level = code_label(data_label(pairs["DTHCAUS"])), 2 - outside
        else:
            label, level = data_label(pairs.get("DTHCAT")), 1 - outside
            before = row if outside else before
        body.append((label, _cell(row)))
        indents.append(level)
    n = count(counts.iloc[0], "n")
    notes = ["Deaths up to the data cut. Relapse-related: death on or after the first relapse, "
             "whatever the recorded cause; non-relapse: death without prior relapse (both "
             "defined for the full analysis set). The recorded causes are shown within each."]
    if before is not None:
        outside = count(before, "n")
        notes.append(f"{BEFORE_TRANSPLANT}: enrolled patients who died without being "
                     "transplanted, whatever the recorded cause; they are outside the FAS and "
                     f"not among its deaths above; % of the {outside} enrolled "
                     f"patient{'' if outside == 1 else 's'} not transplanted by the cut.")
    return Table("14.3.10", "Deaths by cause", "FAS", data_cut, ("", header_n("FAS", n)),
                 tuple(body), tuple(indents), tuple(notes), "11_safety",
                 methods=tuple(unique_methods(counts)))

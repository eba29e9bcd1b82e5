"""Study population tables 14.1.x, built from the rows of :mod:`haplo_report.analysis.summaries` and
the follow-up rows of :func:`haplo_report.analysis.endpoints.followup_results`."""

from __future__ import annotations

from collections.abc import Sequence

from haplo_report.analysis.derive import FREE_TEXT
from haplo_report.analysis.results import key_pairs
from haplo_report.analysis.summaries import BASELINE_VARIABLES, TRANSPLANT_VARIABLES
from haplo_report.formatting import (EN_DASH, fmt_count_percent, fmt_estimate_ci, fmt_number, fmt_range,
                                     fmt_scientific, fmt_whole, fmt_whole_together)
from haplo_report.params import Params
from haplo_report.outputs.tables.core import (RowLookup, Rows, Table, TableInputError, as_frame, count,
                                      data_label, header_n, level_label, unique_methods, value)

VARIABLE_LABELS: dict[str, str] = {
    "AGE": "Age, years", "SEX": "Sex", "SUBTYPE": "Subtype", "DISSTAT": "Disease status at "
    "transplant", "PHGRP": "Ph status", "MRDGRP": "Pre-transplant MRD group",
    "MRDPRE": "Pre-transplant MRD level", "MRDMETH": "MRD method", "DONREL": "Donor relation",
    "HLAMATCH": "HLA match (loci)", "GRAFTSRC": "Graft source",
    "CD34DOSE": "CD34+ cell dose, \u00d710\u2076/kg", "BLINDAYS": "Blinatumomab, days",
    "CONDREG": "Conditioning regimen",
}
LEVEL_LABELS: dict[str, str] = {
    "SEX=F": "Female", "SEX=M": "Male", "MRDMETH=FCM": "Flow cytometry",
    "MRDMETH=QPCR": "qPCR", "DONREL=FATHER": "Father", "DONREL=MOTHER": "Mother",
    "DONREL=SIBLING": "Sibling", "DONREL=CHILD": "Child", "DONREL=OTHER": "Other",
}
DISPOSITION: tuple[tuple[str, str], ...] = (
    ("ENRLFL=Y", "Enrolled"), ("FASFL=Y", "Transplanted (full analysis set)"),
    ("FASFL=N", "Not transplanted by the data cut"),
    ("SAFFL=Y", "Received blinatumomab (safety set)"), ("DTHFL=Y", "Died"),
    ("DTHFL=N", "Alive at last contact"),
)
WHOLE_NUMBERS = frozenset({"AGE", "BLINDAYS"})  # recorded as whole numbers: no ".0" shown


def _continuous(lookup: RowLookup, endpoint: str, variable: str
                ) -> list[tuple[tuple[str, str], int]]:
    """Three lines: n, median (Q1, Q3), range; MRD levels as "8.1×10⁻⁴", whole-number data
    (age, days) without decimals where a statistic is whole."""
    stats = {s: lookup.get(endpoint, variable, s) for s in ("median", "q25", "q75", "min", "max")}
    fmt = (fmt_scientific if variable == "MRDPRE" else
           fmt_whole if variable in WHOLE_NUMBERS else fmt_number)
    quartiles = [value(stats[s], "estimate") for s in ("median", "q25", "q75")]
    median, q25, q75 = (fmt_whole_together(quartiles) if variable in WHOLE_NUMBERS
                        else [fmt(v) for v in quartiles])
    return [((VARIABLE_LABELS.get(variable, variable), ""), 0),
            (("n", str(count(stats["median"], "n"))), 1),
            (("Median (Q1, Q3)", f"{median} ({q25}, {q75})"), 1),
            (("Range", f"{fmt(value(stats['min'], 'estimate'))}{EN_DASH}"
                       f"{fmt(value(stats['max'], 'estimate'))}"), 1)]


def _categorical(lookup: RowLookup, endpoint: str, variable: str
                 ) -> list[tuple[tuple[str, str], int]]:
    """A header line and one n (%) line per level, in the rows' order."""
    found = lookup.select(endpoint, "count")
    found = found[found["subgroup"].str.startswith(f"{variable}=")]
    if found.empty:
        raise TableInputError(f"Table {lookup.number}: no count rows for {variable}")
    lines = [((VARIABLE_LABELS.get(variable, variable) + ", n (%)", ""), 0)]
    free_text = variable in FREE_TEXT["adsl"]  # shown as typed; codes get their labels
    for _, row in found.iterrows():
        [(_, level)] = key_pairs(row["subgroup"])
        label = LEVEL_LABELS.get(row["subgroup"]) or (
            data_label(level) if free_text or level is None else level_label(level))
        lines.append(((label, fmt_count_percent(count(row), count(row, "n"))), 1))
    return lines


def _characteristics(rows: Rows, data_cut: str, *, number: str, title: str, endpoint: str,
                     order: Sequence[tuple[str, str]]) -> Table:
    lookup = RowLookup(as_frame(rows), number)
    lines: list[tuple[tuple[str, str], int]] = []
    for kind, variable in order:
        lines += (_continuous if kind == "continuous" else _categorical)(lookup, endpoint,
                                                                         variable)
    n = count(lookup.select(endpoint, "count").iloc[0], "n")
    return Table(number, title, "FAS", data_cut, ("Characteristic", header_n("FAS", n)),
                 tuple(line for line, _ in lines), tuple(level for _, level in lines),
                 source="01_population",
                 methods=tuple(unique_methods(lookup.select(endpoint))))


def table_14_1_1(rows: Rows, data_cut: str, ltfu_days: int = Params.ltfu_days) -> Table:
    """Disposition and analysis sets (enrolled), from ``DISP`` count rows; lost to follow-up
    (``LTFUFL=Y``, last contact more than ``ltfu_days`` before the cut) under the patients
    alive at last contact."""
    lookup = RowLookup(as_frame(rows), "14.1.1")
    found = [(label, lookup.get("DISP", subgroup, "count")) for subgroup, label in DISPOSITION]
    found.append((f"Alive, last contact more than {ltfu_days} days before the data cut (lost "
                  "to follow-up)", lookup.get("DISP", "LTFUFL=Y", "count")))
    n = count(found[0][1], "n")
    body = tuple((label, fmt_count_percent(count(row), count(row, "n"))) for label, row in found)
    notes = ("Enrolled: informed consent on or before the data cut. Full analysis set: "
             "transplanted on or before the data cut. Safety set: enrolled and received at "
             "least one dose of blinatumomab. Deaths up to the data cut.",
             "Alive at last contact: not known to have died by the data cut; last contact is "
             "the latest date the patient is known alive (last known alive date or any dated "
             "record, on or before the data cut).")
    return Table("14.1.1", "Disposition and analysis sets", "Enrolled", data_cut,
                 ("", header_n("Enrolled", n)), body, (0, 1, 1, 1, 0, 0, 1), notes,
                 "01_population", methods=tuple(dict.fromkeys(row["method"] for _, row in found)))


def table_14_1_2(rows: Rows, data_cut: str) -> Table:
    """Demographics and baseline disease characteristics (FAS), from ``BASELINE`` rows."""
    return _characteristics(rows, data_cut, number="14.1.2",
                            title="Demographics and baseline disease characteristics",
                            endpoint="BASELINE", order=BASELINE_VARIABLES)


def table_14_1_3(rows: Rows, data_cut: str) -> Table:
    """Transplant and conditioning characteristics (FAS), from ``TRANSPLANT`` rows."""
    return _characteristics(rows, data_cut, number="14.1.3",
                            title="Transplant and conditioning characteristics",
                            endpoint="TRANSPLANT", order=TRANSPLANT_VARIABLES)


def table_14_1_4(rows: Rows, data_cut: str) -> Table:
    """Follow-up (FAS): median follow-up (reverse Kaplan-Meier) with 95% CI and range, from
    the ``OS`` rows ``median_followup``, ``min``, ``max``."""
    lookup = RowLookup(as_frame(rows), "14.1.4")
    median = lookup.get("OS", "All", "median_followup")
    low, high = lookup.get("OS", "All", "min"), lookup.get("OS", "All", "max")
    n = count(median, "n")
    days = [value(median, c) for c in ("estimate", "ci_lower", "ci_upper")]
    months = [None if d is None else d / 30.4375 for d in days]
    body = (
        ("Patients, n", str(n)),
        ("Deaths, n (%)", fmt_count_percent(count(median, "events"), n)),
        ("Median follow-up, days (95% CI)",
         fmt_estimate_ci(days[0], days[1], days[2], percent=False, decimals=0)),
        ("Median follow-up, months (95% CI)",
         fmt_estimate_ci(months[0], months[1], months[2], percent=False)),
        ("Follow-up range among patients alive at last contact, days",
         fmt_range(value(low, "estimate"), value(high, "estimate"), 0)),
    )
    return Table("14.1.4", "Follow-up", "FAS", data_cut, ("", header_n("FAS", n)), body,
                 footnotes=("1 month = 30.4375 days.",), source="01_population",
                 methods=(median["method"], low["method"]))

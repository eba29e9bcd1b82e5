"""Table notes generated from what a table shows, so every table (and every new one) gets them.

Below a table come, in this order: the builder's own notes (definitions, event rules), one
line per distinct method of the result rows shown, the notes for symbols that appear in its
cells ("Not reached", an estimate without CI, a "Missing" row), and one line expanding only the
abbreviations that appear in its title, headers, cells or notes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from haplo_report.analysis.endpoints import (CIF_METHOD, FOLLOWUP_METHOD, FOLLOWUP_RANGE_METHOD,
                                             GRAY_METHOD, KM_METHOD, KM_QUANTILE_METHOD,
                                             LOGRANK_METHOD, MEDIAN_DAYS_METHOD)
from haplo_report.analysis.mrd import PROPORTION_METHOD
from haplo_report.analysis.summaries import (AE_METHOD, CONTINUOUS_METHOD, COUNT_METHOD,
                                             MISSING)
from haplo_report.formatting import NE, NO_CI, NO_CI_NOTE, NOT_REACHED

# Abbreviation -> expansion. Matched case-sensitively as a whole word, a trailing plural "s"
# or a number allowed ("AEs", "CR1"), so "CRS" is not "CR" and "Phase" is not "Ph".
GLOSSARY: dict[str, str] = {
    "AE": "adverse event", "AESI": "adverse event of special interest",
    "ALL": "acute lymphoblastic leukemia", "ANC": "absolute neutrophil count",
    "ATG": "anti-thymocyte globulin", "B-ALL": "B-cell acute lymphoblastic leukemia",
    "BM": "bone marrow", "BU": "busulfan", "CI": "confidence interval",
    "CIR": "cumulative incidence of relapse", "CMV": "cytomegalovirus",
    "CR": "complete remission (CR1 first, CR2 second, CR3+ third or later)",
    "CRS": "cytokine release syndrome",
    "CTCAE": "Common Terminology Criteria for Adverse Events", "CY": "cyclophosphamide",
    "EBV": "Epstein-Barr virus", "FAS": "full analysis set", "FLU": "fludarabine",
    "GRFS": "GVHD-free, relapse-free survival", "GVHD": "graft-versus-host disease",
    "HLA": "human leukocyte antigen", "HSCT": "hematopoietic stem cell transplantation",
    "ICANS": "immune effector cell-associated neurotoxicity syndrome",
    "MAGIC": "Mount Sinai Acute GVHD International Consortium",
    "MedDRA": "Medical Dictionary for Regulatory Activities",
    "MRD": "minimal residual disease", NE: "not estimable",
    "NIH": "National Institutes of Health", "NRM": "non-relapse mortality",
    "OS": "overall survival", "PBSC": "peripheral blood stem cells",
    "PFS": "progression-free survival", "Ph": "Philadelphia chromosome", "PT": "preferred term",
    "Q1": "first quartile", "Q3": "third quartile",
    "qPCR": "quantitative polymerase chain reaction", "SAE": "serious adverse event",
    "SE": "standard error", "SOC": "system organ class", "TBI": "total body irradiation",
    "TMA": "thrombotic microangiopathy",
    "VOD": "veno-occlusive disease (sinusoidal obstruction syndrome)",
}
_PATTERNS = {abbreviation: re.compile(rf"(?<![A-Za-z0-9]){re.escape(abbreviation)}"
                                      r"(?:s|\d+\+?)?(?![A-Za-z])")
             for abbreviation in GLOSSARY}

# Result-row method text -> (what the note line is about, what it says). Methods with the same
# subject share one line: "Kaplan-Meier: Greenwood SE, ...; median and quartiles with ...".
METHOD_NOTES: dict[str, tuple[str, str]] = {
    KM_METHOD: ("Kaplan-Meier", "Greenwood SE, 95% CI on the log(-log) scale"),
    KM_QUANTILE_METHOD: ("Kaplan-Meier", "median and quartiles with Brookmeyer-Crowley 95% CI"),
    CIF_METHOD: ("Cumulative incidence", "Aalen-Johansen with competing events, Aalen SE, 95% "
                                         "CI on the log(-log) scale"),
    LOGRANK_METHOD: ("p-value", "log-rank test"),
    GRAY_METHOD: ("p-value", "Gray's test"),
    FOLLOWUP_METHOD: ("Median follow-up", "reverse Kaplan-Meier (death censors follow-up), 95% "
                                          "CI on the log(-log) scale"),
    FOLLOWUP_RANGE_METHOD: ("Follow-up range", "patients alive at last contact"),
    MEDIAN_DAYS_METHOD: ("Median day of recovery (range)", "patients who recovered"),
    PROPORTION_METHOD: ("95% CI", "exact (Clopper-Pearson)"),
    COUNT_METHOD: ("n (%)", "number of patients, percentage of N in the column header"),
    AE_METHOD: ("n (%)", "patients counted once per row at their worst CTCAE grade, percentage "
                         "of N in the column header"),
    CONTINUOUS_METHOD: ("Quartiles", "linear interpolation (R type 7)"),
}
NOT_REACHED_NOTE = (f"{NOT_REACHED}: the Kaplan-Meier curve did not fall to that level during "
                    "follow-up.")
MISSING_NOTE = f"{MISSING}: patients without a recorded value."


def _method_phrase(method: str) -> tuple[str, str]:
    """A method text's note subject and phrase; a known method with a suffix ("; 1 df") keeps
    it, an unknown one is shown as it is."""
    for known, (subject, phrase) in METHOD_NOTES.items():
        if method == known:
            return subject, phrase
        if method.startswith(f"{known}; "):
            return subject, f"{phrase}, {method.removeprefix(f'{known}; ')}"
    return "Method", method


def method_lines(methods: Iterable[str]) -> list[str]:
    """One line per distinct method subject, phrases in first-seen order."""
    lines: dict[str, list[str]] = {}
    for method in dict.fromkeys(m for m in methods if m):
        subject, phrase = _method_phrase(method)
        phrases = lines.setdefault(subject, [])
        # a known method with a suffix after the plain one adds only the suffix (Table 14.1.1
        # said "number of patients, percentage of N in the column header" twice)
        base = next((p for p in phrases if phrase.startswith(f"{p}, ")), None)
        if base is not None:
            phrase = phrase.removeprefix(f"{base}, ")
        if phrase not in phrases:
            phrases.append(phrase)
    return [f"{subject}: {'; '.join(phrases)}." for subject, phrases in lines.items()]


def method_label(method: str) -> str:
    """A result row's method for a table cell (the synopsis): "Kaplan-Meier: Greenwood SE,
    95% CI on the log(-log) scale"."""
    return method_lines([method])[0].removesuffix(".") if method else ""


def abbreviations_used(texts: Iterable[str]) -> list[str]:
    """The glossary's abbreviations that occur in ``texts``, alphabetically; a longer one
    ("B-ALL") hides the shorter one inside it ("ALL")."""
    text = "\n".join(texts)
    found = []
    for abbreviation in sorted(GLOSSARY, key=len, reverse=True):
        text, hits = _PATTERNS[abbreviation].subn(" ", text)
        if hits:
            found.append(abbreviation)
    return sorted(found, key=str.lower)


def abbreviation_line(texts: Iterable[str]) -> str | None:
    """"CI: confidence interval; FAS: full analysis set." for what occurs, or ``None``."""
    used = abbreviations_used(texts)
    return "; ".join(f"{a}: {GLOSSARY[a]}" for a in used) + "." if used else None


def symbol_notes(labels: Sequence[str], cells: Sequence[str]) -> list[str]:
    """Notes for what the cells show: "Not reached", an estimate without CI ("0.0 (-)": CI not
    defined), a "Missing" row label."""
    notes = []
    if any(cell.startswith(NOT_REACHED) for cell in cells):
        notes.append(NOT_REACHED_NOTE)
    if any(cell.endswith(f"({NO_CI})") for cell in cells):
        notes.append(NO_CI_NOTE)
    if MISSING in labels:
        notes.append(MISSING_NOTE)
    return notes


def table_notes(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]],
                footnotes: Sequence[str], methods: Sequence[str]) -> tuple[str, ...]:
    """All notes of a table, from its own ``footnotes`` and what it shows (see module doc)."""
    cells = [cell for row in rows for cell in row[1:]]
    labels = [row[0] for row in rows if row]
    notes = list(dict.fromkeys([*footnotes, *method_lines(methods),
                                *symbol_notes(labels, cells)]))
    line = abbreviation_line([title, *columns, *(c for row in rows for c in row), *notes])
    return (*notes, line) if line else tuple(notes)

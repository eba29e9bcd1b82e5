"""The report's generated chapters, as Markdown with pipe tables: synopsis, statistical
methods, and the two appendices (data validation, provenance), from the run's ``results.csv``,
``validation.json`` and ``manifest.json``; numbers are formatted by
:mod:`haplo_report.formatting` only. :mod:`haplo_report.render.document` puts them, with the
notebooks, into the one report document.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from importlib import metadata
from typing import Any

import pandas as pd

import haplo_report
from haplo_report.formatting import (AT_LEAST, EN_DASH, PLUS_MINUS, escape_markdown,
                                     fmt_ci_words, fmt_estimate_ci, fmt_number, fmt_scientific)
from haplo_report.analysis.mrd import rate_text
from haplo_report.analysis.synopsis import HEADLINES, Headline
from haplo_report.analysis.results import FEW_AT_RISK, NOT_ESTIMABLE
from haplo_report.environment_lock import normalised
from haplo_report.paths import TIMING_KEYS

NOT_REPORTED = "not reported"
# Hashes in the provenance appendix, shortened as git shortens commit ids (manifest.json
# holds them whole): an input file's SHA-256 and a notebook's cache key.
SHOWN_HASH_DIGITS = {"sha256": 16, "cache_key": 8}
NOT_RECORDED = "not recorded"
SUITE_DISTRIBUTION = "haplo-report"


class BookError(ValueError):
    """A run folder that cannot be made into a report; the message is one line for the user."""


SYNOPSIS_COLUMNS = ("Endpoint", "Estimate (95% CI)", "n", "Events")

# Analysis-set sizes: result rows with statistic "count" and subgroup "<ADSL flag>=Y".
ANALYSIS_SETS: tuple[tuple[str, str], ...] = (
    ("Enrolled: informed consent on or before the cut", "ENRLFL"),
    ("Full analysis set (FAS): transplanted on or before the cut", "FASFL"),
    ("Safety set: enrolled, at least one dose of blinatumomab", "SAFFL"),
)


def _cell(value: Any) -> str:
    """A value as text safe inside a pipe-table cell."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, bool):  # a reader, not Python: "Yes"/"No" rather than True/False
        return "Yes" if value else "No"
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    elif isinstance(value, dict):
        value = json.dumps(value, sort_keys=True)
    return escape_markdown(str(value).replace("\n", " "))


def pipe_table(frame: pd.DataFrame, caption: str | None = None,
               right: tuple[str, ...] = ()) -> str:
    """A Markdown pipe table (with an optional ``Table:`` caption) from a frame; the columns
    named in ``right`` (numbers) right-aligned, as in the numbered tables."""
    align = ["right" if c in right else "left" for c in frame.columns]
    frame = frame.map(_cell)
    frame.columns = [_cell(c) for c in frame.columns]
    text = frame.to_markdown(index=False, tablefmt="pipe", disable_numparse=True,
                             colalign=align)
    return text + (f"\n\n: {caption}" if caption else "") + "\n"


def _records(value: Any, key: str) -> pd.DataFrame:
    """A manifest section (mapping of mappings, list of mappings, or flat mapping) as a frame."""
    if isinstance(value, dict):
        if all(isinstance(v, dict) for v in value.values()):
            rows = [{key: name, **item} for name, item in value.items()]
        else:
            rows = [{key: name, "value": item} for name, item in value.items()]
    elif isinstance(value, list):
        rows = [item if isinstance(item, dict) else {key: item} for item in value]
    else:
        rows = []
    return pd.DataFrame(rows)


def _find(results: pd.DataFrame, endpoint: str | None, statistic: str,
          time_days: float | None, subgroup: str = "All") -> pd.Series | None:
    rows = results[(results["statistic"] == statistic) & (results["subgroup"] == subgroup)]
    if endpoint is not None:
        rows = rows[rows["endpoint"] == endpoint]
    rows = rows[rows["time_days"].isna()] if time_days is None else rows[rows["time_days"] == time_days]
    return None if rows.empty else rows.iloc[0]  # first in file (notebook) order


def _int(value: Any) -> str:
    return "" if value is None or pd.isna(value) else str(int(value))


def _few_at_risk(results: pd.DataFrame, row: pd.Series) -> pd.Series | None:
    """The ``at_risk`` row of a landmark estimate when it is flagged few at risk (SAP v3)."""
    if pd.isna(row["time_days"]) or row["statistic"] not in ("survival", "cif"):
        return None
    risk = _find(results, row["endpoint"], "at_risk", row["time_days"])
    return risk if risk is not None and risk["flag"] == FEW_AT_RISK else None


def _not_quoted(risk: pd.Series) -> str:
    return f"not quoted: {_int(risk['estimate'])} at risk, imprecise"


def _events(h: Headline, events: Any) -> str:
    if events is None or pd.isna(events):
        return ""
    k = int(events)
    return f"{k} {h.counted[0] if k == 1 else h.counted[1]}"


def synopsis_frame(results: pd.DataFrame) -> pd.DataFrame:
    """The synopsis table (SAP v3): each row's estimate (95% CI) in the tables' one format, n,
    and the number of events with what it counts ("9 relapses or deaths"). An estimate with
    fewer than ``min_at_risk`` patients at risk is not quoted (the tables show it, marked)."""
    lines = []
    for h in HEADLINES:
        row = _find(results, h.endpoint, h.statistic, h.time_days)
        if row is None:
            value, n, events = NOT_REPORTED, "", ""
        else:
            risk = _few_at_risk(results, row)
            if row["flag"] == NOT_ESTIMABLE or pd.isna(row["estimate"]):
                value = NOT_ESTIMABLE
            elif risk is not None:
                value = _not_quoted(risk)
            else:
                value = fmt_estimate_ci(row["estimate"], row["ci_lower"], row["ci_upper"],
                                        percent=h.percent, decimals=1 if h.percent else 0)
            n, events = _int(row["n"]), _events(h, row["events"])
        lines.append(dict(zip(SYNOPSIS_COLUMNS, (h.label, value, n, events))))
    return pd.DataFrame(lines, columns=list(SYNOPSIS_COLUMNS))


def _phrase(results: pd.DataFrame, endpoint: str | None, statistic: str,
            time_days: float | None, *, percent: bool = True) -> str | None:
    """A synopsis estimate in running text ("72.4% (95% CI 53.1, 84.9)"); ``None`` when it is
    not reported, not estimable or rests on too few patients at risk."""
    row = _find(results, endpoint, statistic, time_days)
    if row is None or pd.isna(row["estimate"]) or _few_at_risk(results, row) is not None:
        return None
    if statistic == "proportion":
        return rate_text(row)
    decimals = 1 if percent else 0
    value = fmt_number(100 * row["estimate"] if percent else row["estimate"], decimals)
    interval = fmt_ci_words(row["ci_lower"], row["ci_upper"], percent=percent,
                            decimals=decimals)
    return f"{value}{'%' if percent else ' days'} ({interval})"


SYNOPSIS_METHODS = ("Methods: Kaplan-Meier (progression-free and overall survival), "
                    "Aalen-Johansen with competing events (relapse, non-relapse mortality, "
                    "GVHD), Clopper-Pearson (MRD), reverse Kaplan-Meier (follow-up); 95% "
                    "confidence intervals as in the Statistical methods.")


def synopsis_narrative(results: pd.DataFrame) -> str:
    """The synopsis' short narrative (SAP v3), quoting the synopsis table's numbers only."""
    def named(label: str, endpoint: str | None, statistic: str, time_days: float | None,
              percent: bool = True) -> str | None:
        text = _phrase(results, endpoint, statistic, time_days, percent=percent)
        return None if text is None else f"{label} {text}".strip()

    parts = []
    enrolled, fas = (_find(results, None, "count", None, subgroup=f"{flag}=Y")
                     for flag in ("ENRLFL", "FASFL"))
    if enrolled is not None and fas is not None:
        parts.append(f"Of {_int(enrolled['estimate'])} patients enrolled by the data cut, "
                     f"{_int(fas['estimate'])} were transplanted (full analysis set).")
    sentences = (
        ("At 1 year:", (named("progression-free survival (primary endpoint)", "PFS", "survival",
                              365),
                        named("overall survival", "OS", "survival", 365),
                        named("cumulative incidence of relapse", "CIR", "cif", 365),
                        named("non-relapse mortality", "NRM", "cif", 365))),
        ("MRD-negative at 1 year (primary rate):",
         (named("", "MRD1Y", "proportion", 365),)),
        ("Acute GVHD by day 100:", (named("grade II-IV", "AGVHD24", "cif", 100),
                                    named("grade III-IV", "AGVHD34", "cif", 100))),
        ("Chronic GVHD at 1 year:", (named("any", "CGVHD", "cif", 365),
                                     named("moderate-severe", "CGVHDMS", "cif", 365))),
        ("At 2 years:", (named("progression-free survival", "PFS", "survival", 730),
                         named("overall survival", "OS", "survival", 730))),
        ("Median follow-up (reverse Kaplan-Meier):",
         (named("", None, "median_followup", None, percent=False),)),
    )
    for lead, items in sentences:
        shown = [item for item in items if item]
        if shown:
            parts.append(f"{lead} {'; '.join(shown)}.")
    values = synopsis_frame(results)["Estimate (95% CI)"]
    if values.str.startswith("not quoted").any():
        parts.append("Estimates resting on fewer patients at risk than the report's minimum "
                     "are not quoted; the tables show them, marked.")
    return " ".join(parts)


def analysis_sets_frame(results: pd.DataFrame) -> pd.DataFrame:
    """Analysis sets with their N, from the population notebook's count rows."""
    lines = []
    for label, flag in ANALYSIS_SETS:
        row = _find(results, None, "count", None, subgroup=f"{flag}=Y")
        lines.append({"Analysis set": label,
                      "N": NOT_REPORTED if row is None else fmt_number(row["estimate"], 0)})
    return pd.DataFrame(lines)


def run_identity(manifest: dict[str, Any]) -> dict[str, str]:
    params = manifest.get("params") or {}
    study_id = params.get("study_id") or manifest.get("study_id")
    data_cut = params.get("data_cut_date") or manifest.get("data_cut_date")
    if not study_id or not data_cut:
        raise BookError("manifest.json: study_id and data_cut_date are required (under 'params')")
    try:
        dt.date.fromisoformat(str(data_cut))
    except ValueError:
        raise BookError(f"manifest.json: data_cut_date {data_cut!r} is not YYYY-MM-DD") from None
    versions = manifest.get("versions") or {}
    git = manifest.get("git") or {}
    commit = git.get("commit") if isinstance(git, dict) else git
    return {
        "study_id": str(study_id),
        "study_title": str(params.get("study_title") or manifest.get("study_title") or ""),
        "data_cut": str(data_cut),
        "suite": str(versions.get("haplo-report") or versions.get("haplo_report")
                     or manifest.get("suite_version") or haplo_report.__version__),
        "commit": str(commit or manifest.get("git_commit") or "unknown"),
        "run_id": str(manifest.get("run_id") or "not recorded"),
    }


NO_ANALYSIS = ("**No patient is in the full analysis set at this data cut** (nobody was "
               "transplanted on or before it): the report holds no analyses.")


def _fas_is_empty(results: pd.DataFrame) -> bool:
    row = _find(results, None, "count", None, subgroup="FASFL=Y")
    return row is not None and row["estimate"] == 0


def index_markdown(identity: dict[str, str], results: pd.DataFrame) -> str:
    """The synopsis chapter: analysis sets and headline results (the title page, made by
    the document, identifies the report)."""
    return "\n".join([
        "# Synopsis {.unnumbered}", "",
        "## Analysis sets", "",
        pipe_table(analysis_sets_frame(results), f"Analysis sets, data cut {identity['data_cut']}",
                   right=("N",)),
        *([NO_ANALYSIS, ""] if _fas_is_empty(results) else []),
        *([] if _fas_is_empty(results) else [
            "## Results", "",
            escape_markdown(synopsis_narrative(results)), "",
            "Estimates are percentages with their 95% confidence interval, median follow-up "
            "in days; n is the number of patients analysed (for MRD, the primary rate's "
            "denominator: successes and failures), events what the row counts, by the time "
            "point. \"NE\": not estimable (the time point lies beyond the last observed time); "
            "\"-\": CI not defined (an estimate of 0% or 100%).", "",
            pipe_table(synopsis_frame(results),
                       f"Synopsis: endpoints of the registration, full analysis set, data cut "
                       f"{identity['data_cut']}", right=("Estimate (95% CI)", "n")),
            SYNOPSIS_METHODS, "",
        ]),
    ])


def methods_markdown(params: dict[str, Any]) -> str:
    """Statistical methods (``methods.qmd``), from the SAP and the run's parameters."""
    landmarks = ", ".join(str(d) for d in params.get("landmarks_days") or (100, 365, 730))
    relapse_competes = params.get("gvhd_relapse_competes", False)
    rules = pd.DataFrame([
        {"Topic": "Time origin and unit",
         "Rule": "Day of transplant (day 0); times in days; 1 year = day 365"},
        {"Topic": "Data cut",
         "Rule": "Only information dated on or before the cut; a patient whose informed consent "
                 "is after the cut is not enrolled and appears nowhere in the report; follow-up "
                 "ends at death or else at the last known alive date"},
        {"Topic": "Last known alive",
         "Rule": "The latest of the recorded last-known-alive date and every dated record of "
                 "the patient before death and on or before the cut (relapse, MRD assessment, "
                 "GVHD onset, engraftment, adverse event start), capped at the cut; a death "
                 "date is never a date alive"},
        {"Topic": "Analysis sets",
         "Rule": "Enrolled: informed consent on or before the cut. Efficacy on the full "
                 "analysis set (transplanted on or before the cut); safety tables on the safety "
                 "set (enrolled, at least one dose of blinatumomab); adverse events of enrolled "
                 "patients outside the safety set are left out of the safety tables, their "
                 "number of patients is footnoted"},
        {"Topic": "Choices where the plan is silent",
         "Rule": "A record dated after the cut never extends the last known alive date; a "
                 "last-known-alive date after the cut ends follow-up at the cut; a determined "
                 "curve past its last time keeps the confidence interval of that time; a "
                 "patient without a value of a subgroup variable is left out of that subgroup "
                 "analysis only; free text (site, subtype, regimen, verbatim term) held by fewer "
                 "than 3 patients is shown as Other, here and in the changes since the previous "
                 "cut; patients without a value are counted as Missing, a value typed "
                 "\"Missing\" is shown in quotes; the events a subgroup test needs are events "
                 "of the endpoint (not competing events) of the patients with a value of the "
                 "variable; a "
                 "patient whose event or competing event falls on the landmark day, or who is "
                 "censored on it, is at risk at the landmark (as R survival's n.risk); an NE "
                 "estimate is not marked (there is no estimate) though its number at risk is "
                 "shown; the deaths-before-transplant row of the deaths table is shown when "
                 "some enrolled patient is outside the FAS, as a percentage of those patients; "
                 "a figure's description uses the landmarks of the endpoint's table; the "
                 "synopsis gives the MRD rate's denominator (successes and failures) as n, "
                 "and leaves out GVHD-free, relapse-free survival and engraftment (not "
                 "registration endpoints; their chapters report them)"},
        {"Topic": "Disposition",
         "Rule": "Alive at last contact; alive with last contact more than "
                 f"{params.get('ltfu_days', 180)} days before the cut: lost to follow-up"},
        {"Topic": "Survival (PFS, OS, GRFS)",
         "Rule": "Kaplan-Meier; Greenwood variance; 95% CI on the log(-log) scale; median with "
                 "Brookmeyer-Crowley CI"},
        {"Topic": "Cumulative incidence (CIR, NRM, GVHD, engraftment)",
         "Rule": "Aalen-Johansen with competing events; Aalen variance; 95% CI on the "
                 "log(-log) scale, as for Kaplan-Meier"},
        {"Topic": "Normal quantile",
         "Rule": "Every 95% CI uses z = the 97.5% normal quantile, 1.959964 (as SAS and "
                 "cmprsk), not the rounded 1.96"},
        {"Topic": "Ties and day 0",
         "Rule": "All events at time t count at t; patients censored at t are at risk at t; "
                 "an event on day 0 counts; no random tie-breaking"},
        {"Topic": "Same-day events of one patient",
         "Rule": "Relapse and death on one day: relapse (relapse event, NRM competing, one PFS "
                 "event); GVHD onset on the day of death, or of relapse where relapse competes: "
                 "the GVHD event; recovery on the day of death: recovery"},
        {"Topic": "Relapse-related death",
         "Rule": "Death on or after the first relapse, whatever the recorded cause; "
                 "non-relapse death: death without prior relapse (the NRM event); both defined "
                 "for transplanted patients (FAS) only; the table of deaths shows the recorded "
                 "causes within each"},
        {"Topic": "Death before transplant",
         "Rule": "A patient who died without being transplanted on or before the cut, "
                 "whatever the recorded cause (never non-relapse or relapse-related); the "
                 "deaths table shows that row for the enrolled patients outside the FAS, and "
                 "Listing 16.2.7 uses the table's categories and words"},
        {"Topic": "Landmarks",
         "Rule": f"Days {landmarks}; beyond the last observed time of a group the estimate is "
                 "NE (not estimable), never carried forward, except when nobody is censored at "
                 "that last time and nobody remains at risk (every outcome known): the curve is "
                 "determined and its last value is reported; with no events by a landmark the "
                 "estimate is 0% (incidence) or 100% (survival) and its CI is not defined "
                 "(\"-\" in tables)"},
        {"Topic": "GVHD competing events",
         "Rule": "Death without GVHD" + (" and relapse" if relapse_competes else "")},
        {"Topic": "Subgroup comparisons (exploratory)",
         "Rule": "Estimates at every landmark of PFS, OS, CIR, NRM, GRFS, acute and chronic "
                 "GVHD for every level with patients (never dropped); log-rank test "
                 "(Kaplan-Meier endpoints), Gray's test (cumulative incidence) only when every "
                 f"level has at least {params.get('subgroup_min_n', 5)} patients and the "
                 f"levels together at least {params.get('subgroup_min_events', 5)} events of "
                 "the endpoint, otherwise \"not tested\" with the reason (the patients' "
                 "reason when both apply)"},
        {"Topic": "Number at risk",
         "Rule": "Every landmark estimate (overall and per subgroup level) shows the patients "
                 "still at risk at the landmark day (time on study on or after it, no event or "
                 "competing event before it); an estimate with fewer than "
                 f"{params.get('min_at_risk', 5)} at risk is reported, marked \u2020 and "
                 "footnoted as imprecise; text, synopsis and figure descriptions never quote "
                 "it (a figure's description gives the last landmark with at least "
                 f"{params.get('min_at_risk', 5)} at risk)"},
        {"Topic": "MRD",
         "Rule": f"Positive when result {AT_LEAST}"
                 f"{fmt_scientific(params.get('mrd_threshold', 1e-4))}, the same threshold for "
                 "flow cytometry and qPCR; landmarks day 30, 90, 180 (window "
                 f"{PLUS_MINUS}{params.get('mrd_window_days', 14)} days) and 365 "
                 f"({PLUS_MINUS}{params.get('mrd_window_days_365', 30)} days); the assessment "
                 "closest to the landmark counts, at equal distance the later one; two results "
                 "on that day: positive if either is; exact (Clopper-Pearson) 95% CI"},
        {"Topic": "MRD landmark population",
         "Rule": "Patients alive and relapse-free at the landmark with an assessment in its "
                 "window; relapse or death on or before the landmark day, and no assessment, "
                 "are counted on their own rows; a patient enters a landmark only when "
                 "transplant + landmark days is on or before the data cut. Assessments in the "
                 "window count whatever happened after the landmark"},
        {"Topic": "MRD-negative at 1 year",
         "Rule": "Each FAS patient in one category at the cut. Success: alive, relapse-free and "
                 "MRD-negative at the day-365 landmark. Failure: relapse or death on or before "
                 "day 365, or MRD-positive at the landmark. Not evaluable: no assessment in the "
                 "day-365 window once it is closed (including last contact before the window). "
                 "Pending: alive and relapse-free with the window still open at the cut, "
                 "whatever the assessments so far, MRD-positive or negative (a closer "
                 "assessment may come; success needs the window closed). A relapse or "
                 "death after day 365 closes the patient's window (no later assessment can "
                 "decide). Primary rate success / (success + failure); sensitivity rate "
                 "success / (success + failure + not evaluable); pending patients in no "
                 "denominator; text, synopsis and tables quote the primary rate with its "
                 "denominator"},
        {"Topic": "Adverse events",
         "Rule": "Safety set; events up to the data cut. A subject counts once per row: any "
                 f"grade and grade {AT_LEAST}3 at the worst CTCAE grade, serious, related to "
                 "blinatumomab and fatal (grade 5) when any of the row's events is; a second "
                 "table gives the subjects by their maximum grade (1-5). System organ classes "
                 "and preferred terms by decreasing number of subjects, then name. Listing "
                 "16.2.7 shows every death and serious adverse event of the enrolled patients"},
        {"Topic": "Narratives (section 14.3.3)",
         "Rule": "Every enrolled patient who died, had a serious adverse event, or an adverse "
                 f"event of special interest (CRS, ICANS, infection) of grade {AT_LEAST}3; "
                 "drafted by fixed rules from the derived data, in study days from transplant "
                 "(days after informed consent for a patient never transplanted); each serious, "
                 "special-interest (any grade) or fatal adverse event is named, with the "
                 "MedDRA preferred term, grade, seriousness and relation to blinatumomab (no "
                 "outcome is recorded besides grade 5, fatal); MRD at the landmarks as in the "
                 "MRD rules; only the first relapse (the derived data hold no later ones); "
                 "same-day events in the order engraftment, MRD, GVHD, adverse event, relapse, "
                 "death; a death of a patient never transplanted is a death before transplant"},
        {"Topic": "Median follow-up",
         "Rule": "Reverse Kaplan-Meier, with 95% CI; range among patients alive at last "
                 "contact"},
        {"Topic": "Engraftment",
         "Rule": "Cumulative incidence of recovery (death before recovery competing) at day 28 "
                 "and 100; median day of recovery and range among patients who recovered"},
        {"Topic": "Number formats",
         "Rule": f"Estimate with 95% CI as 72.4 (53.1, 84.9), in text 72.4% (95% CI 53.1, "
                 f"84.9); median (Q1, Q3) alike; median with range as 13 (10{EN_DASH}16); "
                 "percentages with one decimal; whole-number data (age, days) without decimals "
                 "unless a median or quartile falls between two values, and then one decimal "
                 "for the whole statistic, 37.0 (32.0, 44.8); the synopsis, tables and text "
                 "use this one format (the MRD rate too, with its denominator in text)"},
        {"Topic": "Order of the report",
         "Rule": "Synopsis, statistical methods, section 14 (14.1, 14.2, 14.3; tables and "
                 "figures in numbering order), appendix 16.2 (the patient listings together), "
                 "then the appendices for the run's reader (data validation, independent "
                 "check, provenance, changes since the previous data cut)"},
        {"Topic": "Changes between data cuts",
         "Rule": "A later cut's appendix (and document of its own) explains each synopsis "
                 "estimate's change in three re-computed steps: corrections (this export cut at "
                 "the previous date with the previous run's parameters), parameters (the same "
                 "data and date with this run's parameters), new information (this cut); each "
                 "change is the difference of the displayed values. Where the plan is silent: a "
                 "last-known-alive date that moved later since the previous export is new "
                 "follow-up, so step 1 keeps the previous export's date; every parameter that "
                 "differs is listed, the data folder and the cut date included; a section 14 "
                 "cell is named by its table, its row with the rows it sits under, and its "
                 "column header, columns matched by position (a header's N may change), and a "
                 "cell changed by both steps is listed once per step"},
    ])
    return "\n".join([
        "# Statistical methods", "",
        "The statistical analysis plan defines every endpoint and estimator; the rules applied "
        "in this report are summarised below, with the parameters of this run.", "",
        pipe_table(rules, "Estimation rules"),
    ])


def _supplied(validation: dict[str, Any]) -> dict[str, int | None]:
    supplied = validation.get("supplied") or validation.get("tables") or {}
    return {name: (rows.get("rows") if isinstance(rows, dict) else rows)
            for name, rows in supplied.items()}


def validation_markdown(validation: dict[str, Any]) -> str:
    """Data-validation appendix (``validation.qmd``): tables supplied, violations."""
    supplied = _supplied(validation)
    tables = pd.DataFrame([
        {"Table": name, "Status": "supplied" if rows is not None else "not supplied",
         "Rows": "" if rows is None else str(rows)}
        for name, rows in supplied.items()
    ], columns=["Table", "Status", "Rows"])
    violations = validation.get("violations") or []
    count = violations if isinstance(violations, int) else len(violations)
    parts = [
        "# Data validation", "",
        "Every table of the data cut was checked against the input contract (data-cut "
        "specification) before any analysis.", "",
        pipe_table(tables, "Tables of the data cut"),
        f"Violations of the input contract: {count}.", "",
    ]
    dropped = validation.get("dropped_columns") or {}
    if dropped:  # names only (checked for identifiers first); their values were never used
        named = "; ".join(f"{table}: {', '.join(columns)}" for table, columns in dropped.items())
        parts += [escape_markdown(f"Columns not in the data-cut specification, left out of the "
                                  f"analysis: {named}."), ""]
    if isinstance(violations, list) and violations:
        parts.append(pipe_table(pd.DataFrame(violations), "Violations"))
    return "\n".join(parts)


def direct_dependencies() -> list[str]:
    """The suite's runtime dependencies, from its package metadata (``Requires-Dist`` without
    extras such as ``test``), in the order declared."""
    requires = metadata.requires(SUITE_DISTRIBUTION) or []
    return [re.split(r"[\s;<>=!~\[(]", r, maxsplit=1)[0] for r in requires
            if "extra ==" not in r]


def software_frame(manifest: dict[str, Any]) -> pd.DataFrame:
    """Python and the suite's direct dependencies with the versions the run recorded."""
    recorded = {normalised(k): str(v) for k, v in (manifest.get("versions") or {}).items()}
    python = (manifest.get("python") or {}).get("version") or NOT_RECORDED
    rows = [("Python", python)] + [(name, recorded.get(normalised(name), NOT_RECORDED))
                                   for name in direct_dependencies()]
    return pd.DataFrame(rows, columns=["Software", "Version"])


def lock_sentence(manifest: dict[str, Any]) -> str:
    """Which lock the environment was installed from, and whether it was exactly that lock."""
    lock = manifest.get("environment_lock") or {}
    if not lock.get("sha256"):
        return "The run recorded no environment lock."
    differences = lock.get("differences") or []
    state = ("exactly as locked" if not differences else
             f"differing from it in {len(differences)} package"
             f"{'' if len(differences) == 1 else 's'} (listed in manifest.json)")
    return (f"The environment was installed from the lock {lock.get('file')} "
            f"(SHA-256 {str(lock['sha256'])[:SHOWN_HASH_DIGITS['sha256']]}), {state}.")


def provenance_markdown(manifest: dict[str, Any], identity: dict[str, str]) -> str:
    """Provenance appendix (``provenance.qmd``): inputs, parameters, software, notebooks."""
    parts = [
        "# Provenance", "",
        f"Run {identity['run_id']}, made by haplo-report {identity['suite']}, git commit "
        f"{identity['commit']}. The run's manifest.json holds the same information for "
        "machines; `haplo-report verify` checks the run folder against it.", "",
    ]
    software = ["## Software versions", "",
                "Python and the suite's direct dependencies, as installed for this run; "
                "manifest.json lists every installed distribution with its version. "
                f"{lock_sentence(manifest)}", "",
                pipe_table(software_frame(manifest))]
    return "\n".join([*parts, *_section(manifest, "inputs", "Input files (SHA-256, first 16 hex digits)", "file"),
                      *_parameters(manifest), *software,
                      *_section(manifest, "notebooks", "Notebooks executed", "notebook")])


def _parameters(manifest: dict[str, Any]) -> list[str]:
    """The parameters with the file each value came from (the study file, the cut's file,
    a command-line flag, or the default)."""
    origins = manifest.get("params_origins") or {}
    frame = _records(manifest.get("params"), "parameter")
    if not frame.empty and origins:
        frame["from"] = [origins.get(name, "") for name in frame["parameter"]]
    return ["## Parameters", "",
            "Each value with the parameter file it came from (a per-cut file holds what is the "
            "cut's and extends the study file; \"default\": set by no file).", "",
            pipe_table(frame) if not frame.empty else "None recorded.\n"]


def _section(manifest: dict[str, Any], key: str, title: str, column: str) -> list[str]:
    """A manifest section under its heading (which names the table: no second caption)."""
    frame = _records(manifest.get(key), column).drop(columns=list(TIMING_KEYS), errors="ignore")
    for name, digits in SHOWN_HASH_DIGITS.items():  # 64 hex digits do not fit a PDF line
        if name in frame.columns:
            frame[name] = frame[name].astype(str).str[:digits]
    return [f"## {title}", "", pipe_table(frame) if not frame.empty else "None recorded.\n"]

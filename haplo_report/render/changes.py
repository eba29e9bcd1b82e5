"""The chapter "Changes since the data cut of <date>": the run's ``comparison/`` (written by
:mod:`haplo_report.analysis.comparison`) as text and tables."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from haplo_report.analysis.comparison import COMPARISON_DIR
from haplo_report.formatting import escape_markdown, fmt_days, fmt_percent
from haplo_report.limits import MAX_PATIENTS_SHOWN
from haplo_report.render.book import pipe_table
from haplo_report.text import spreadsheet_value

STATISTIC_WORDS = {"survival": "survival probability (%)", "cif": "cumulative incidence (%)",
                   "median": "median (days)", "median_followup": "median follow-up (days)",
                   "proportion": "proportion (%)"}


def _estimate(value: object, statistic: str) -> str:
    number = None if value is None or pd.isna(value) else float(value)
    return (fmt_percent(number) if statistic in ("survival", "cif", "proportion")
            else fmt_days(number))


def _headlines(frame: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for row in frame.itertuples(index=False):
        time = "" if pd.isna(row.time_days) else f"day {int(row.time_days)}"
        difference = ("" if pd.isna(row.difference) else
                      _estimate(row.difference, row.statistic).replace("-", "\u2212"))
        rows.append({"Endpoint": row.endpoint,
                     "Statistic": STATISTIC_WORDS.get(row.statistic, row.statistic),
                     "Time": time,
                     "Previous cut": _estimate(row.estimate_old, row.statistic),
                     "This cut": _estimate(row.estimate_new, row.statistic),
                     "Difference": difference,
                     "Note": row.flag})
    return pd.DataFrame(rows, columns=["Endpoint", "Statistic", "Time", "Previous cut",
                                       "This cut", "Difference", "Note"])


def _listing(frame: pd.DataFrame, caption: str, what: str) -> list[str]:
    """A table of at most :data:`MAX_PATIENTS_SHOWN` rows, saying where the rest are."""
    parts = [pipe_table(frame.head(MAX_PATIENTS_SHOWN), caption)]  # cells escaped there
    if len(frame) > MAX_PATIENTS_SHOWN:
        parts.append(f"The first {MAX_PATIENTS_SHOWN} of {len(frame)} {what} are shown; all are "
                     f"in `{COMPARISON_DIR}/` of the run folder.\n")
    return parts


def _read_text(path: Path) -> pd.DataFrame:
    """A comparison CSV of text, each cell as the comparison held it (the quote that keeps a
    spreadsheet from running a cell as a formula taken off: the report shows text as typed)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False).map(spreadsheet_value)


def changes_markdown(run_dir: Path) -> str:
    """The chapter, from ``run_dir/comparison/``."""
    folder = Path(run_dir) / COMPARISON_DIR
    summary_path = folder / "summary.json"
    if not summary_path.is_file():
        return "# Changes since the previous data cut\n\nNo comparison was made for this run.\n"
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    if "note" in summary:
        note = summary["note"]
        return f"# Changes since the previous data cut\n\n{escape_markdown(note[:1].upper() + note[1:])}.\n"
    previous = summary["previous_cut"]
    patients, events, changes = (_read_text(folder / f"{name}.csv") for name in
                                 ("patients", "new_events", "retrospective"))
    headlines = pd.read_csv(folder / "headlines.csv", keep_default_na=False,
                            na_values={c: [""] for c in ("time_days", "estimate_old",
                                                         "estimate_new", "difference")})
    counts = pd.DataFrame(
        [{"What": f"Newly in the {label}", "Patients": str(count)}
         for label, count in summary["new_patients"].items()]
        + [{"What": f"New {event} records", "Patients": str(count)}
           for event, count in summary["new_events"].items()],
        columns=["What", "Patients"])
    flagged = summary["headlines_changed_by_corrections"]
    parts = [
        f"# Changes since the data cut of {previous}", "",
        f"This chapter compares the data cut of {summary['data_cut']} with the previous data "
        f"cut of {previous} of the same study, from the two run folders alone: patients new "
        "to an analysis set, events dated after the previous cut, and **retrospective "
        "changes**: records dated on or before the previous cut that were added, deleted or "
        f"changed between the two exports ({summary['retrospective_changes']} found). They "
        "change results that were already reported, so each is listed. A headline estimate "
        "is marked when the new export, cut at the previous date, no longer gives the "
        "previous estimate: only retrospective changes can explain that "
        f"({flagged} estimate{'s' if flagged != 1 else ''}).", "",
        pipe_table(counts, f"What is new since {previous}", right=("Patients",)),
        pipe_table(_headlines(headlines), "Headline estimates, previous and this data cut",
                   right=("Previous cut", "This cut", "Difference")),
    ]
    if len(changes):
        described = [change if not column else f"{column}: {old or 'empty'} \u2192 {new or 'empty'}"
                     for column, old, new, change in zip(changes["column"], changes["old"],
                                                         changes["new"], changes["change"])]
        frame = pd.DataFrame({"Table": changes["table"], "Record": changes["key"],
                              "Change": described})
        parts += _listing(frame, "Retrospective changes of records dated on or before "
                                 f"{previous}", "changes")
    else:
        parts.append(f"No record dated on or before {previous} was added, deleted or "
                     "changed.\n")
    if len(patients):
        frame = patients.rename(columns={"analysis_set": "Analysis set", "change": "Change"})
        parts += _listing(frame, "Patients new to (or no longer in) an analysis set",
                          "patients")
    if len(events):
        frame = events.rename(columns={"table": "Table", "event": "Event", "date": "Date"})
        parts += _listing(frame, f"Events dated after {previous}, by patient", "events")
    return "\n".join(parts)

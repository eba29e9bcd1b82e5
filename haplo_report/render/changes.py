"""The appendix "Changes since the data cut of <date>" (also a document of its own,
``report/changes_<cut>.*``): the run's ``comparison/`` (written by
:mod:`haplo_report.run.comparison`) as text and tables; a first cut has none."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from haplo_report.analysis.comparison import COMPARISON_DIR
from haplo_report.limits import MAX_PATIENTS_SHOWN
from haplo_report.render.book import pipe_table
from haplo_report.text import spreadsheet_value

MINUS = "\u2212"
NO_CHANGE = "no change"
STEP_COLUMNS = {"corrections": "Corrections", "parameters": "Parameters",
                "new_information": "New information"}


def _estimate(value: str, ci: str, n: str) -> str:
    """"69.5 (49.5, 82.9); n=30" as the synopsis shows an estimate, with its n."""
    if not value:
        return "not reported"
    shown = f"{value} {ci}".strip()
    return f"{shown}; n={n}" if n else shown


def _step(change: str) -> str:
    """A step's change as read: "no change", "+0.2", "−0.1", "NE to 45.2"."""
    if not change or change.lstrip("+-").replace(".", "").strip("0") == "":
        return NO_CHANGE if change else ""
    return change.replace("-", MINUS) if change[0] == "-" else change


def _headlines(frame: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for row in frame.itertuples(index=False):
        rows.append({"Endpoint": row.endpoint,
                     "Previous cut": _estimate(row.previous, row.previous_ci, row.previous_n),
                     **{label: _step(getattr(row, step)) for step, label in STEP_COLUMNS.items()},
                     "This cut": _estimate(row.current, row.current_ci, row.current_n)})
    return pd.DataFrame(rows, columns=["Endpoint", "Previous cut", *STEP_COLUMNS.values(),
                                       "This cut"])


def _no_effect(frame: pd.DataFrame) -> list[str]:
    """One sentence for each step that changed no headline estimate."""
    return [f"{label}: no headline estimate changed." for step, label in STEP_COLUMNS.items()
            if all(_step(change) in (NO_CHANGE, "") for change in frame[step])]


def _listing(frame: pd.DataFrame, caption: str, what: str) -> list[str]:
    """A table of at most :data:`MAX_PATIENTS_SHOWN` rows, saying where the rest are."""
    parts = [pipe_table(frame.head(MAX_PATIENTS_SHOWN), caption)]  # cells escaped there
    if len(frame) > MAX_PATIENTS_SHOWN:
        parts.append(f"The first {MAX_PATIENTS_SHOWN} of {len(frame)} {what} are shown; all are "
                     f"in `{COMPARISON_DIR}/` of the run folder.\n")
    return parts


def _suite(suite: dict | None) -> str:
    """"haplo-report 0.1.0 (code 1a2b3c4d)", or "a suite that did not record itself"."""
    if not suite:
        return "a suite that did not record itself"
    return f"haplo-report {suite.get('version', '?')} (code {str(suite.get('code_sha256'))[:8]})"


def has_changes(run_dir: Path) -> bool:
    """Whether the run compared itself with a previous cut (a first cut has no changes)."""
    path = Path(run_dir) / COMPARISON_DIR / "summary.json"
    if not path.is_file():
        return False
    return "note" not in json.loads(path.read_text(encoding="utf-8"))


def _read(folder: Path, name: str) -> pd.DataFrame:
    """A comparison CSV as text, each cell as the comparison held it (the quote that keeps a
    spreadsheet from running a cell as a formula taken off: the report shows text as typed)."""
    return pd.read_csv(folder / f"{name}.csv", dtype=str,
                       keep_default_na=False).map(spreadsheet_value)


def changes_markdown(run_dir: Path) -> str:
    """The appendix (and the document of its own), from ``run_dir/comparison/``
    (:func:`has_changes` must hold)."""
    folder = Path(run_dir) / COMPARISON_DIR
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    previous = summary["previous_cut"]
    parameters = _read(folder, "parameters")
    headlines = _read(folder, "headlines")
    cells = _read(folder, "table_cells")
    patients = _read(folder, "patients")
    events = _read(folder, "new_events")
    changes = _read(folder, "retrospective")
    counts = pd.DataFrame(
        [{"What": ("Patients newly enrolled" if label == "enrolled"
                   else f"Patients newly in the {label}"), "Number": str(count)}
         for label, count in summary["new_patients"].items()]
        + [{"What": f"New {event} records", "Number": str(count)}
           for event, count in summary["new_events"].items()],
        columns=["What", "Number"])
    parts = [
        f"# Changes since the data cut of {previous}", "",
        f"This appendix compares the data cut of {summary['data_cut']} with the previous data "
        f"cut of {previous} of the same study, from the two run folders alone. Each headline "
        "estimate's change is explained in three steps, each computed again from the data, "
        "never inferred: **corrections** (this export cut at the previous date with the "
        "previous run's parameters, against the previous report: records dated on or before "
        "the previous cut that were added, deleted or changed), **parameters** (the same data "
        "and date with this run's parameters) and **new information** (this cut). Changes are "
        "differences of the values as displayed.", "",
        "## Parameters", "",
    ]
    if len(parameters):
        frame = parameters.rename(columns={"parameter": "Parameter", "previous": "Previous cut",
                                           "current": "This cut"})
        parts.append(pipe_table(frame, f"Parameters that differ from the run of {previous}"))
    else:
        parts.append("Every parameter is the same as in the previous cut's run.\n")
    suite = summary.get("suite") or {}
    if suite.get("previous") != suite.get("current"):
        parts.append(f"The previous report was made by {_suite(suite.get('previous'))}, this "
                     f"one by {_suite(suite.get('current'))}. The three steps are computed by "
                     "this run's suite: a change of the suite's methods or formats shows under "
                     "corrections too.\n")
    parts += ["## Headline estimates", "",
              "Estimate (95% CI) and n as in the synopsis; the change due to each step in the "
              "estimate's unit (percentage points, or days). " + " ".join(_no_effect(headlines)),
              "",
              pipe_table(_headlines(headlines),
                         "Headline estimates, previous and this data cut, and the change due "
                         "to each step", right=("Previous cut", *STEP_COLUMNS.values(),
                                                "This cut")),
              "## Section 14 cells changed by corrections or parameters", ""]
    if len(cells):
        frame = cells.rename(columns={"table": "Table", "row": "Row", "column": "Column",
                                      "previous": "Previous", "current": "New",
                                      "cause": "Cause"})
        parts += _listing(frame, f"Cells of section 14 that differ from the report of "
                                 f"{previous}, restricted to what that cut could show", "cells")
    else:
        parts.append(f"No cell of section 14, restricted to what the cut of {previous} could "
                     "show, differs from its report.\n")
    parts += ["## Records and patients", "",
              pipe_table(counts, f"What is new since {previous}", right=("Number",))]
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

"""What changed between two data cuts of one study, from their two run folders alone.

Each run folder keeps its validated input tables, typed, as Parquet (``data/input/``), its
derived ADSL and its result rows; that is all a comparison reads. It reports:

- patients newly enrolled, newly transplanted and newly in each analysis set (and any that
  left a set);
- new events since the previous cut (records dated after it, on or before the new cut);
- retrospective changes: records dated on or before the previous cut that were added, deleted
  or changed between the two exports (per table, key, column, old value -> new value). Each
  table's record key is ``USUBJID`` plus its natural key (:data:`RECORD_KEYS`); a key that is
  not unique is reported, never guessed; a changed key value (a corrected date that is part of
  the key) shows as one record deleted and one added;
- the headline numbers old vs new with the difference; a time-to-event estimate is flagged
  when the new export, cut at the previous date, no longer gives the previous estimate: only
  retrospective changes can explain that.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from haplo_report.analysis.derive import (FREE_TEXT, HLA_MATCH, OTHER, controlled_organs,
                                          derive_cut)
from haplo_report.analysis.endpoints import (CIF_ENDPOINTS, KM_ENDPOINTS, endpoint_landmarks,
                                             main_landmark, tte_results)
from haplo_report.analysis.results import FLOAT_FORMAT, read_results
from haplo_report.data.cut import REQUIRED_TABLES, TABLES, Cut
from haplo_report.limits import MIN_FREE_TEXT_PATIENTS
from haplo_report.params import Params
from haplo_report.text import spreadsheet_safe_frame

INPUT_DIR = Path("data") / "input"
COMPARISON_DIR = "comparison"
RECORD_KEYS: dict[str, tuple[str, ...]] = {
    "subjects": ("USUBJID",),
    "relapses": ("USUBJID", "RELDT"),
    "deaths": ("USUBJID",),
    "gvhd": ("USUBJID", "GVHDTYPE", "ONSETDT"),
    "mrd": ("USUBJID", "MRDDT", "METHOD"),
    "engraftment": ("USUBJID",),
    "adverse_events": ("USUBJID", "AEDECOD", "AESTDT"),
}
# The date that places a record in time ("dated on or before the previous cut").
RECORD_DATES: dict[str, tuple[str, ...]] = {
    "subjects": ("RFICDT",), "relapses": ("RELDT",), "deaths": ("DTHDT",),
    "gvhd": ("ONSETDT",), "mrd": ("MRDDT",), "engraftment": ("ANCDT", "PLTDT"),
    "adverse_events": ("AESTDT",),
}
EVENT_NAMES: dict[tuple[str, str], str] = {
    ("relapses", "RELDT"): "relapse", ("deaths", "DTHDT"): "death",
    ("gvhd", "ONSETDT"): "GVHD onset", ("mrd", "MRDDT"): "MRD assessment",
    ("engraftment", "ANCDT"): "neutrophil recovery", ("engraftment", "PLTDT"): "platelet recovery",
    ("adverse_events", "AESTDT"): "adverse event",
}
FOLLOW_UP_DATE = "LSTALVDT"  # moving it later is new follow-up, not a correction
ANALYSIS_SETS: dict[str, str] = {"ENRLFL": "enrolled", "FASFL": "full analysis set",
                                 "SAFFL": "safety set"}
HEADLINE_STATISTICS = ("survival", "cif", "median", "proportion")
TOLERANCE = 1e-9


class ComparisonError(ValueError):
    """The two run folders cannot be compared; the message says why."""


@dataclass
class RunFolder:
    """What a comparison reads of one run folder (each input table read once)."""

    path: Path
    study_id: str
    data_cut_date: dt.date
    params: dict
    _tables: dict[str, pd.DataFrame | None] = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, path: Path) -> RunFolder:
        manifest = Path(path) / "manifest.json"
        try:
            record = json.loads(manifest.read_text(encoding="utf-8"))
            params = record["params"]
            return cls(Path(path), params["study_id"],
                       dt.date.fromisoformat(params["data_cut_date"]), params)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ComparisonError(f"{path} is not a run folder with a readable manifest.json "
                                  f"({type(exc).__name__})") from None

    def table(self, name: str) -> pd.DataFrame | None:
        """Input table ``name`` as the run validated it (None: not supplied)."""
        if name not in self._tables:
            path = self.path / INPUT_DIR / f"{name}.parquet"
            self._tables[name] = pd.read_parquet(path) if path.is_file() else None
        return self._tables[name]

    def cut(self) -> Cut:
        """The input tables as a :class:`Cut` (copies: a caller may change them)."""
        tables = {name: self.table(name) for name in TABLES}
        missing = [name for name in REQUIRED_TABLES if tables[name] is None]
        if missing:
            raise ComparisonError(f"{self.path / INPUT_DIR}: input table(s) not found: "
                                  f"{', '.join(missing)} (a run folder made before run folders "
                                  "kept their inputs: run that cut again)")
        return Cut(**{name: None if frame is None else frame.copy()
                      for name, frame in tables.items()})


@dataclass
class Comparison:
    """The findings, one frame each (see the module docstring)."""

    old: RunFolder
    new: RunFolder
    patients: pd.DataFrame  # USUBJID, analysis_set, change ("new" | "left")
    new_events: pd.DataFrame  # USUBJID, table, event, date
    retrospective: pd.DataFrame  # table, key, column, old, new, change
    headlines: pd.DataFrame  # endpoint, statistic, time_days, old/new values, difference, flag

    def summary(self) -> dict:
        """Counts for the first lines of the chapter and of ``haplo-report compare``."""
        return {
            "study_id": self.new.study_id, "previous_cut": str(self.old.data_cut_date),
            "data_cut": str(self.new.data_cut_date),
            "new_patients": {label: int(((self.patients["analysis_set"] == label)
                                         & (self.patients["change"] == "new")).sum())
                             for label in ANALYSIS_SETS.values()},
            "new_events": {str(k): int(v) for k, v in
                           self.new_events.groupby("event").size().items()},
            "retrospective_changes": int(len(self.retrospective)),
            "headlines_changed_by_corrections": int(
                (self.headlines["flag"] != "").sum()) if len(self.headlines) else 0,
        }

    def write(self, folder: Path) -> list[Path]:
        """``folder/*.csv`` (one per finding) and ``folder/summary.json``."""
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name in ("patients", "new_events", "retrospective", "headlines"):
            path = folder / f"{name}.csv"
            spreadsheet_safe_frame(getattr(self, name)).to_csv(
                path, index=False, lineterminator="\n", float_format=FLOAT_FORMAT)
            written.append(path)
        path = folder / "summary.json"
        path.write_text(json.dumps(self.summary(), indent=2) + "\n", encoding="utf-8")
        return [*written, path]


def _check_pair(old: RunFolder, new: RunFolder) -> None:
    if old.study_id != new.study_id:
        raise ComparisonError(f"different studies: {old.study_id} ({old.path}) and "
                              f"{new.study_id} ({new.path}); compare two cuts of one study")
    if old.data_cut_date == new.data_cut_date:
        raise ComparisonError(f"both folders are the data cut of {new.data_cut_date}: a cut "
                              "is not compared with itself")
    if old.data_cut_date > new.data_cut_date:
        raise ComparisonError(f"the previous cut ({old.data_cut_date}) is after the new one "
                              f"({new.data_cut_date}): give the earlier run folder first")


def patient_changes(old: RunFolder, new: RunFolder) -> pd.DataFrame:
    """Patients newly in (or no longer in) each analysis set."""
    frames = []
    old_adsl, new_adsl = (pd.read_parquet(run.path / "data" / "adsl.parquet",
                                          columns=["USUBJID", *ANALYSIS_SETS])
                          for run in (old, new))
    for flag, label in ANALYSIS_SETS.items():
        before = set(old_adsl.loc[old_adsl[flag] == "Y", "USUBJID"].astype(str))
        after = set(new_adsl.loc[new_adsl[flag] == "Y", "USUBJID"].astype(str))
        for change, ids in (("new", after - before), ("left", before - after)):
            frames.append(pd.DataFrame({"USUBJID": sorted(ids), "analysis_set": label,
                                        "change": change}))
    return pd.concat(frames, ignore_index=True)


def new_events(new: RunFolder, since: dt.date) -> pd.DataFrame:
    """Records of ``new`` dated after ``since`` and on or before its own cut."""
    start, end = pd.Timestamp(since), pd.Timestamp(new.data_cut_date)
    frames = []
    for (table, column), event in EVENT_NAMES.items():
        frame = new.table(table)
        if frame is None:
            continue
        dates = frame[column]
        chosen = frame.loc[(dates > start) & (dates <= end), ["USUBJID", column]]
        frames.append(pd.DataFrame({"USUBJID": chosen["USUBJID"].astype(str).to_numpy(),
                                    "table": table, "event": event,
                                    "date": chosen[column].dt.strftime("%Y-%m-%d").to_numpy()}))
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["USUBJID", "date", "event"], kind="stable").reset_index(drop=True)


def _text(value: object) -> str:
    if value is None or value is pd.NaT or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _texts(column: pd.Series) -> pd.Series:
    """:func:`_text` of each value (dates as ``YYYY-MM-DD``, missing as "")."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.dt.strftime("%Y-%m-%d").fillna("")
    return column.astype(object).map(_text)


def _key_texts(frame: pd.DataFrame, key: tuple[str, ...]) -> pd.Series:
    """``"USUBJID=...; RELDT=..."`` of each row."""
    texts = [column + "=" + _texts(frame[column]) for column in key]
    joined = texts[0]
    for text in texts[1:]:
        joined = joined + "; " + text
    return joined


def _dated_before(frame: pd.DataFrame, dates: tuple[str, ...], key: tuple[str, ...],
                  suffix: str, cut: pd.Timestamp) -> pd.Series:
    """Rows whose record date (any of ``dates``) is on or before ``cut``."""
    mask = pd.Series(False, index=frame.index)
    for date in dates:
        column = date if date in key else f"{date}{suffix}"
        if column in frame:
            mask |= (frame[column] <= cut).fillna(False).astype(bool)
    return mask


def table_changes(table: str, old: pd.DataFrame | None, new: pd.DataFrame | None,
                  before: dt.date) -> pd.DataFrame:
    """Retrospective changes of one table: records dated on or before ``before`` added,
    deleted or changed (by column), and keys that are not unique. Vectorised: two exports of
    100,000 patients differ in thousands of records after the previous cut."""
    columns = ["table", "key", "column", "old", "new", "change"]
    if old is None and new is None:
        return pd.DataFrame(columns=columns)
    key = RECORD_KEYS[table]
    cut = pd.Timestamp(before)
    found: list[pd.DataFrame] = []

    def rows(keys: pd.Series, change: str, column: str = "", old_values: pd.Series | None = None,
             new_values: pd.Series | None = None) -> None:
        found.append(pd.DataFrame({
            "table": table, "key": keys.to_numpy(), "column": column,
            "old": "" if old_values is None else old_values.to_numpy(),
            "new": "" if new_values is None else new_values.to_numpy(), "change": change}))

    frames = {}
    for label, frame in (("previous", old), ("new", new)):
        if frame is None:
            frame = (new if old is None else old).iloc[0:0]
        duplicated = frame.duplicated(list(key), keep=False)
        if duplicated.any():
            repeated = frame[duplicated].drop_duplicates(list(key))
            rows(_key_texts(repeated, key),
                 f"key not unique in the {label} export: not compared")
        frames[label] = frame[~duplicated]
    compared = [c for c in frames["new"].columns if c in frames["previous"].columns]
    merged = frames["previous"][compared].merge(frames["new"][compared], on=list(key),
                                                how="outer", suffixes=("_old", "_new"),
                                                indicator=True)
    dates = RECORD_DATES[table]
    for side, suffix, change in (("left_only", "_old", "record deleted"),
                                 ("right_only", "_new", "record added")):
        part = merged[merged["_merge"] == side]
        part = part[_dated_before(part, dates, key, suffix, cut)]
        if len(part):
            rows(_key_texts(part, key), change)
    both = merged[merged["_merge"] == "both"]
    before_old = _dated_before(both, dates, key, "_old", cut)
    before_new = _dated_before(both, dates, key, "_new", cut)
    for column in (c for c in compared if c not in key):
        old_values, new_values = both[f"{column}_old"], both[f"{column}_new"]
        same = (old_values == new_values).fillna(False).astype(bool)
        differs = ~(same | (old_values.isna() & new_values.isna()))
        if not differs.any():
            continue
        if pd.api.types.is_datetime64_any_dtype(old_values):
            earliest = pd.concat([old_values, new_values], axis=1).min(axis=1)
            retrospective = (earliest <= cut).fillna(False).astype(bool)
            if column == FOLLOW_UP_DATE:  # moving later is follow-up, not a correction
                retrospective &= ~(new_values > old_values).fillna(False).astype(bool)
        else:
            retrospective = before_old | before_new
        chosen = both[differs & retrospective]
        if len(chosen):
            rows(_key_texts(chosen, key), "value changed", column,
                 _texts(chosen[f"{column}_old"]), _texts(chosen[f"{column}_new"]))
    return pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=columns)


def retrospective_changes(old: RunFolder, new: RunFolder) -> pd.DataFrame:
    """:func:`table_changes` of every table, in the data-cut spec's order."""
    frames = [table_changes(name, old.table(name), new.table(name), old.data_cut_date)
              for name in TABLES]
    return private_free_text(pd.concat(frames, ignore_index=True), old, new)


# The report's privacy rule for free text (derive.FREE_TEXT, issue 12) by input table.
PRIVATE_TEXT: dict[str, tuple[str, ...]] = {
    "subjects": (*FREE_TEXT["adsl"], "HLAMATCH"), "adverse_events": FREE_TEXT["adae"],
    "gvhd": ("ORGANS",)}


def private_free_text(changes: pd.DataFrame, old: RunFolder, new: RunFolder) -> pd.DataFrame:
    """``changes`` with the old and new values of free-text columns shown as the report shows
    them (issue 28): a value held by fewer than ``MIN_FREE_TEXT_PATIENTS`` patients of its
    export as "Other", an HLA match not ``k/n`` as "Other", organs off the list as "OTHER".
    Changes are found on the values as recorded, so a correction between two rare values is
    still listed (as "Other -> Other")."""
    out = changes.copy()
    for table, columns in PRIVATE_TEXT.items():
        for column in columns:
            rows = ((out["table"] == table) & (out["column"] == column)).to_numpy(dtype=bool)
            if not rows.any():
                continue
            for side, run in (("old", old), ("new", new)):
                values = out.loc[rows, side].astype(str)
                if column == "ORGANS":
                    shown = controlled_organs(values.replace("", pd.NA)).fillna("")
                elif column == "HLAMATCH":
                    shown = values.where(values.str.fullmatch(HLA_MATCH) | values.eq(""), OTHER)
                else:
                    frame = run.table(table)
                    held = (frame.groupby(frame[column].astype("string"))["USUBJID"].nunique()
                            if frame is not None and column in frame else pd.Series(dtype=int))
                    common = set(held.index[held >= MIN_FREE_TEXT_PATIENTS])
                    shown = values.where(values.isin(common) | values.eq(""), OTHER)
                out.loc[rows, side] = shown.to_numpy()
    return out


def _headline_rows(results: pd.DataFrame, params: dict) -> pd.DataFrame:
    """The headline rows of a run: each endpoint's main landmark estimate, medians, MRD
    rates and the AE overview and disposition counts (subgroup "All")."""
    landmark = main_landmark(params.get("landmarks_days", (100, 365, 730)))
    overall = results[results["subgroup"] == "All"]
    keep = pd.Series(False, index=overall.index)
    for endpoint in (*KM_ENDPOINTS, *CIF_ENDPOINTS):
        days = endpoint_landmarks(endpoint, params.get("landmarks_days", (100, 365, 730)))
        at = landmark if landmark in days else days[0]
        keep |= ((overall["endpoint"] == endpoint)
                 & overall["statistic"].isin(("survival", "cif"))
                 & (overall["time_days"] == at))
    keep |= (overall["statistic"] == "median") & overall["endpoint"].isin(KM_ENDPOINTS)
    keep |= overall["statistic"] == "median_followup"
    keep |= overall["endpoint"].isin(("MRD1Y",)) & (overall["statistic"] == "proportion")
    return overall[keep]


def _recut_estimates(new: RunFolder, before: dt.date, old_subjects: pd.DataFrame
                     ) -> dict[tuple[str, str, float], float]:
    """The new export cut at the previous date: time-to-event estimates by key."""
    fields = {f.name for f in dataclasses.fields(Params)}
    values = {k: v for k, v in new.params.items() if k in fields}
    values.update(data_dir=new.path, data_cut_date=before,
                  landmarks_days=tuple(values.get("landmarks_days", (100, 365, 730))))
    params = Params(**values)
    cut = new.cut()
    # Follow-up accrued since (last known alive moving later) is not a correction: the
    # re-cut keeps the previous export's date there, so only corrections can change it.
    previous = old_subjects.set_index("USUBJID")[FOLLOW_UP_DATE]
    known = cut.subjects["USUBJID"].map(previous)
    later = known.notna() & (cut.subjects[FOLLOW_UP_DATE] > known)
    cut.subjects.loc[later, FOLLOW_UP_DATE] = known[later]
    derived = derive_cut(cut, params)
    estimates = {}
    for endpoint in (*KM_ENDPOINTS, *CIF_ENDPOINTS):
        rows = tte_results(derived.adtte, endpoint,
                           landmarks=endpoint_landmarks(endpoint, params.landmarks_days),
                           subgroups=())
        for row in rows:
            if row.statistic in ("survival", "cif") and row.time_days is not None:
                estimates[(row.endpoint, row.statistic, float(row.time_days))] = row.estimate
    return estimates


def headline_changes(old: RunFolder, new: RunFolder) -> pd.DataFrame:
    """Headline numbers old vs new, the difference, and the retrospective flag."""
    key = ["endpoint", "statistic", "time_days"]
    values = ["estimate", "ci_lower", "ci_upper", "n", "events", "flag"]
    before = _headline_rows(read_results(old.path / "results.csv"), old.params)
    after = _headline_rows(read_results(new.path / "results.csv"), new.params)
    merged = before[key + values].merge(after[key + values], on=key, how="outer",
                                        suffixes=("_old", "_new"))
    merged["difference"] = merged["estimate_new"] - merged["estimate_old"]
    recut = _recut_estimates(new, old.data_cut_date, old.table("subjects"))
    flags = []
    for row in merged.itertuples(index=False):
        time = None if pd.isna(row.time_days) else float(row.time_days)
        previous = row.estimate_old
        if (row.endpoint, row.statistic, time) in recut:
            again = recut[(row.endpoint, row.statistic, time)]
            same = ((again is None or np.isnan(again)) and pd.isna(previous)) or (
                again is not None and pd.notna(previous) and abs(again - previous) <= TOLERANCE)
            flags.append("" if same else "changed by retrospective corrections")
        else:
            flags.append("")
    merged["flag"] = flags
    merged = merged.rename(columns={"flag_old": "ne_old", "flag_new": "ne_new"})
    return merged.reset_index(drop=True)


def compare_runs(old_dir: Path, new_dir: Path) -> Comparison:
    """The comparison of run folder ``old_dir`` (previous cut) with ``new_dir``."""
    return compare_folders(RunFolder.open(old_dir), RunFolder.open(new_dir))


def compare_folders(old: RunFolder, new: RunFolder) -> Comparison:
    """The comparison of ``old`` (previous cut) with ``new`` (e.g. a run's build folder)."""
    _check_pair(old, new)
    for run in (old, new):
        run.cut()  # both keep their inputs
    return Comparison(old, new, patient_changes(old, new), new_events(new, old.data_cut_date),
                      retrospective_changes(old, new), headline_changes(old, new))


def summary_lines(summary: dict) -> list[str]:
    """The summary as a few lines of text (``haplo-report compare`` and the run's log)."""
    patients = ", ".join(f"{count} {label}" for label, count in summary["new_patients"].items())
    events = ", ".join(f"{count} {event}" for event, count in summary["new_events"].items())
    return [f"changes since the data cut of {summary['previous_cut']} "
            f"(this cut {summary['data_cut']}):",
            f"  new patients: {patients}",
            f"  new events: {events or 'none'}",
            f"  retrospective changes of earlier records: {summary['retrospective_changes']}",
            f"  headline estimates changed by those corrections: "
            f"{summary['headlines_changed_by_corrections']}"]


def write_comparison(run_dir: Path, params: Params, previous: Path | None) -> dict:
    """``run_dir/comparison/``: the comparison of ``previous`` with the run being built in
    ``run_dir`` (its inputs, ADSL and result rows written); its summary, or a ``note`` saying
    in one line why there is nothing to compare."""
    folder = run_dir / COMPARISON_DIR
    if previous is None:
        summary = {"note": "no earlier data cut of this study was found under the output "
                           "folder: nothing to compare"}
    else:
        current = RunFolder(run_dir, params.study_id, params.data_cut_date, params.to_dict())
        try:
            comparison = compare_folders(RunFolder.open(previous), current)
        except ComparisonError as exc:
            summary = {"note": f"not compared with {previous.name}: {exc}"}
        else:
            comparison.write(folder)
            return comparison.summary()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary

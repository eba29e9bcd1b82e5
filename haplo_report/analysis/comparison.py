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
- every parameter that differs between the two runs;
- the synopsis estimates explained in the SAP's three steps, each computed (:func:`recut_steps`):
  corrections (this export cut at the previous date with the previous parameters, against the
  previous report), parameters (the same data and date with this run's parameters) and new
  information (this cut), each change the difference of two displayed values. The section 14
  cells the first two steps change are made by the caller from :attr:`Comparison.steps`
  (tables are an output: :mod:`haplo_report.outputs.tables.cells`).
"""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from haplo_report.analysis.chapters import chapter_rows
from haplo_report.analysis.derive import (FREE_TEXT, HLA_MATCH, OTHER, Derived,
                                          controlled_organs, derive_cut)
from haplo_report.analysis.results import FLOAT_FORMAT, ResultRow, read_results, results_frame
from haplo_report.analysis.synopsis import HEADLINES, Headline, shown_ci, shown_estimate
from haplo_report.data.cut import REQUIRED_TABLES, TABLES, Cut
from haplo_report.data.run_folder import (CheckedFolder, RunFolderError, check_pair,
                                          open_run_folder)
from haplo_report.limits import MIN_FREE_TEXT_PATIENTS
from haplo_report.params import DERIVATION_PARAMS, PARAM_NAMES, Params
from haplo_report.plan import NOTEBOOKS, NotebookSpec
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
MAX_RESULTS_BYTES = 256 << 20  # results.csv of 100,000 patients: ~1 MB


class ComparisonError(ValueError):
    """The two run folders cannot be compared; the message says why."""


@dataclass
class RunFolder:
    """What a comparison reads of one run folder (each input table read once), every file
    through :class:`CheckedFolder` (no link out, checked manifest and Parquet footers)."""

    path: Path
    study_id: str
    data_cut_date: dt.date
    params: dict
    suite: dict = field(default_factory=dict)  # version and code_sha256 of the suite that ran
    _tables: dict[str, pd.DataFrame | None] = field(default_factory=dict, repr=False)

    @property
    def folder(self) -> CheckedFolder:
        return CheckedFolder(self.path.resolve())

    @classmethod
    def open(cls, path: Path) -> RunFolder:
        try:
            folder, manifest, params = open_run_folder(path)
        except RunFolderError as exc:
            raise ComparisonError(str(exc)) from None
        return cls(folder.root, params.study_id, params.data_cut_date, params.to_dict(),
                   manifest.get("suite") or {})

    def table(self, name: str) -> pd.DataFrame | None:
        """Input table ``name`` as the run validated it (None: not supplied)."""
        if name not in self._tables:
            self._tables[name] = self.folder.input_table(name)
        return self._tables[name]

    def adsl(self) -> pd.DataFrame:
        """ADSL's patient ids and analysis-set flags."""
        columns = ["USUBJID", *ANALYSIS_SETS]
        return self.folder.parquet("data/adsl.parquet", dict.fromkeys(columns, "text"),
                                   required=tuple(columns), columns=columns)

    def results(self) -> pd.DataFrame:
        """The run's result rows (``results.csv``)."""
        data = self.folder.read_bytes("results.csv", MAX_RESULTS_BYTES)
        try:
            return read_results(io.BytesIO(data))
        except (ValueError, TypeError, KeyError, UnicodeDecodeError, pd.errors.ParserError):
            raise RunFolderError(f"{self.folder.where('results.csv')}: not the result rows the "
                                 "suite writes") from None

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
    parameters: pd.DataFrame  # parameter, previous, current
    patients: pd.DataFrame  # USUBJID, analysis_set, change ("new" | "left")
    new_events: pd.DataFrame  # USUBJID, table, event, date
    retrospective: pd.DataFrame  # table, key, column, old, new, change
    headlines: pd.DataFrame  # HEADLINE_COLUMNS
    steps: tuple[Step, Step] | None = field(default=None, repr=False)  # steps 1 and 2
    # table, row, column, previous, current, cause (corrections | parameters): section 14
    # cells, made from the steps by run.comparison.with_table_cells
    table_cells: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["table", "row", "column", "previous", "current", "cause"]))

    def summary(self) -> dict:
        """Counts for the first lines of the chapter and of ``haplo-report compare``."""
        changed = {step: int(self.headlines[step].map(moved).sum()) for step in STEPS}
        return {
            "study_id": self.new.study_id, "previous_cut": str(self.old.data_cut_date),
            "data_cut": str(self.new.data_cut_date),
            "parameters_changed": list(self.parameters["parameter"]),
            "new_patients": {label: int(((self.patients["analysis_set"] == label)
                                         & (self.patients["change"] == "new")).sum())
                             for label in ANALYSIS_SETS.values()},
            "new_events": {str(k): int(v) for k, v in
                           self.new_events.groupby("event").size().items()},
            "retrospective_changes": int(len(self.retrospective)),
            "headlines_changed": changed,
            "table_cells_changed": {cause: int((self.table_cells["cause"] == cause).sum())
                                    for cause in ("corrections", "parameters")},
            # the steps are computed by this suite: when another one made the previous report,
            # a change of the suite shows under corrections too
            "suite": {"previous": self.old.suite, "current": self.new.suite},
        }

    def write(self, folder: Path) -> list[Path]:
        """``folder/*.csv`` (one per finding) and ``folder/summary.json``."""
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name in FINDINGS:
            path = folder / f"{name}.csv"
            spreadsheet_safe_frame(getattr(self, name)).to_csv(
                path, index=False, lineterminator="\n", float_format=FLOAT_FORMAT)
            written.append(path)
        path = folder / "summary.json"
        path.write_text(json.dumps(self.summary(), indent=2) + "\n", encoding="utf-8")
        return [*written, path]


FINDINGS = ("parameters", "headlines", "table_cells", "retrospective", "patients", "new_events")


def _check_pair(old: RunFolder, new: RunFolder) -> None:
    try:
        check_pair((old.study_id, str(old.data_cut_date), old.path),
                   (new.study_id, str(new.data_cut_date), new.path))
    except RunFolderError as exc:
        raise ComparisonError(str(exc)) from None


def patient_changes(old: RunFolder, new: RunFolder) -> pd.DataFrame:
    """Patients newly in (or no longer in) each analysis set."""
    frames = []
    old_adsl, new_adsl = old.adsl(), new.adsl()
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


def parameter_changes(previous: dict[str, Any], current: dict[str, Any]) -> pd.DataFrame:
    """Every parameter whose value differs between the two runs (in the order of
    :class:`Params`; a parameter a run did not record shows as empty)."""
    names = [*PARAM_NAMES, *sorted((set(previous) | set(current)) - set(PARAM_NAMES))]
    rows = [(name, _param_text(previous, name), _param_text(current, name)) for name in names
            if (name in previous or name in current) and name not in NOT_COMPARED_PARAMS
            and previous.get(name) != current.get(name)]
    return pd.DataFrame(rows, columns=["parameter", "previous", "current"])


NOT_COMPARED_PARAMS = ("output_dir",)  # where a run was written says nothing of its content


def _param_text(values: dict[str, Any], name: str) -> str:
    if name not in values:
        return ""
    value = values[name]
    return value if isinstance(value, str) else json.dumps(value)


def run_params(values: dict[str, Any], data_dir: Path, data_cut_date: dt.date) -> Params:
    """:class:`Params` of a run's recorded ``values`` (fields a run did not record keep their
    default), with ``data_dir`` and ``data_cut_date`` given."""
    known = {k: v for k, v in values.items() if k in PARAM_NAMES}
    known.update(data_dir=data_dir, data_cut_date=data_cut_date)
    if "landmarks_days" in known:
        known["landmarks_days"] = tuple(known["landmarks_days"])
    known.pop("output_dir", None)
    return Params(**known)


@dataclass
class Step:
    """One re-derivation of the new export: its parameters and each chapter's result rows."""

    name: str
    params: Params
    supplied: dict[str, int | None]  # rows per input table (None: not supplied)
    rows: dict[str, list[ResultRow]]  # by notebook; empty when nobody is in the FAS

    def frame(self) -> pd.DataFrame:
        return results_frame([row for rows in self.rows.values() for row in rows])


def _chapter_params(spec: NotebookSpec, params: Params) -> dict[str, Any]:
    return {name: getattr(params, name) for name in spec.params}


def _chapter_data(spec: NotebookSpec, derived: Derived) -> list[Any]:
    """What a chapter reads of ``derived`` (as its cache key covers it)."""
    adtte = derived.adtte
    if "*" not in spec.endpoints:
        adtte = adtte[adtte["PARAMCD"].isin(spec.endpoints)]
    return [derived.adsl, adtte, *(getattr(derived, name) for name in spec.datasets)]


def _same(first: list[Any], second: list[Any]) -> bool:
    return all(a.equals(b) if isinstance(a, pd.DataFrame) else a == b
               for a, b in zip(first, second))


def _step(name: str, derived: Derived, params: Params,
          reuse: tuple[Step, Derived] | None = None) -> Step:
    """Each chapter's rows of ``derived`` with ``params``; a chapter whose parameters and
    derived data are those it had in ``reuse`` (a step and its derived data) takes its rows
    from there (the same computation gives the same rows: the suite is deterministic)."""
    rows: dict[str, list[ResultRow]] = {}
    if derived.adsl["FASFL"].eq("Y").any():  # an empty FAS runs no notebook
        for spec in NOTEBOOKS:
            if reuse is not None and _reusable(spec, reuse, derived, params):
                rows[spec.name] = reuse[0].rows[spec.name]
            else:
                rows[spec.name] = chapter_rows(spec.name, derived,
                                               **_chapter_params(spec, params))
    return Step(name, params, dict(derived.supplied), rows)


def _reusable(spec: NotebookSpec, reuse: tuple[Step, Derived], derived: Derived,
              params: Params) -> bool:
    step, data = reuse
    return (spec.name in step.rows
            and _chapter_params(spec, step.params) == _chapter_params(spec, params)
            and (data is derived or _same(_chapter_data(spec, data),
                                          _chapter_data(spec, derived))))


def _previous_cut_of(new: RunFolder, old: RunFolder) -> Cut:
    """The new export as it stood at the previous cut, follow-up excepted: a last-known-alive
    date that moved later since the previous export is new follow-up, not a correction, so the
    previous export's date is kept there and only corrections change the re-cut."""
    cut = new.cut()
    previous = old.table("subjects").set_index("USUBJID")[FOLLOW_UP_DATE]
    known = cut.subjects["USUBJID"].map(previous)
    later = known.notna() & (cut.subjects[FOLLOW_UP_DATE] > known)
    cut.subjects.loc[later, FOLLOW_UP_DATE] = known[later]
    return cut


def recut_steps(old: RunFolder, new: RunFolder) -> tuple[Step, Step]:
    """Steps 1 and 2 of the SAP's explanation of changes, each derived and computed again:
    this export cut at the previous date with the previous parameters (``corrections``), then
    the same data and date with this run's parameters (``parameters``). Step 2 derives again
    only when a parameter of the derivation differs; each of its chapters is computed again
    when the chapter's derived data or parameters differ from step 1's."""
    corrected_params = run_params(old.params, new.path, old.data_cut_date)
    current_params = run_params(new.params, new.path, old.data_cut_date)
    first = derive_cut(_previous_cut_of(new, old), corrected_params)
    corrected = _step("corrections", first, corrected_params)
    values = (corrected_params.to_dict(), current_params.to_dict())
    second = first
    if any(values[0][name] != values[1][name] for name in DERIVATION_PARAMS):
        second = derive_cut(_previous_cut_of(new, old), current_params)
    return corrected, _step("parameters", second, current_params, reuse=(corrected, first))


def _find_headline(results: pd.DataFrame, headline: Headline) -> pd.Series | None:
    rows = results[(results["statistic"] == headline.statistic)
                   & (results["subgroup"] == "All")]
    if headline.endpoint is not None:
        rows = rows[rows["endpoint"] == headline.endpoint]
    rows = (rows[rows["time_days"].isna()] if headline.time_days is None
            else rows[rows["time_days"] == headline.time_days])
    return None if rows.empty else rows.iloc[0]


STEPS = ("corrections", "parameters", "new_information")
NOT_REPORTED = "not reported"


def moved(change: str) -> bool:
    """Whether a step's change (:func:`_change`) is one: not "0", "0.0" or empty."""
    number = _shown_number(change)
    return bool(change) and (number is None or number != 0)


def _shown_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def displayed_change(before: str, after: str, headline: Headline) -> str:
    """``after - before`` as displayed ("17.1" to "17.0" is "-0.1"; "0.0" when equal); when
    either is not a number (not estimable, "NE", or not reported) both values, "NE to 45.2"."""
    first, second = _shown_number(before), _shown_number(after)
    if first is None or second is None:
        if before == after:
            return "0.0" if headline.percent else "0"
        return f"{before or NOT_REPORTED} to {after or NOT_REPORTED}"
    decimals = 1 if headline.percent else 0
    change = round(second - first, decimals)
    return f"{change:+.{decimals}f}" if change != 0 else f"{0:.{decimals}f}"


HEADLINE_COLUMNS = ["endpoint", "statistic", "time_days", "previous", "corrections",
                    "parameters", "new_information", "current", "code", "after_corrections",
                    "after_parameters", "previous_ci", "current_ci", "previous_n", "current_n"]


def headline_steps(previous: pd.DataFrame, corrected: Step, reparametrised: Step,
                   current: pd.DataFrame) -> pd.DataFrame:
    """One row per synopsis estimate (:data:`HEADLINES`, the synopsis' order and names): the
    previous and this cut's value as displayed, and the change due to each step (corrections,
    parameters, new information), each the difference of two displayed values."""
    frames = (previous, corrected.frame(), reparametrised.frame(), current)
    rows = []
    for headline in HEADLINES:
        found = [_find_headline(frame, headline) for frame in frames]
        shown = [shown_estimate(headline, row) for row in found]
        cis = [shown_ci(headline, row) for row in found]
        counts = ["" if row is None or pd.isna(row["n"]) else str(int(row["n"])) for row in found]
        rows.append({
            "endpoint": headline.label, "statistic": headline.statistic,
            "time_days": "" if headline.time_days is None else str(int(headline.time_days)),
            "previous": shown[0], "corrections": displayed_change(shown[0], shown[1], headline),
            "parameters": displayed_change(shown[1], shown[2], headline),
            "new_information": displayed_change(shown[2], shown[3], headline), "current": shown[3],
            "code": headline.endpoint or "", "after_corrections": shown[1],
            "after_parameters": shown[2], "previous_ci": cis[0], "current_ci": cis[3],
            "previous_n": counts[0], "current_n": counts[3]})
    return pd.DataFrame(rows, columns=HEADLINE_COLUMNS)


def compare_folders(old: RunFolder, new: RunFolder) -> Comparison:
    """The comparison of ``old`` (previous cut) with ``new`` (e.g. a run's build folder);
    its section 14 cells are left to the caller (:attr:`Comparison.steps` holds the rows)."""
    _check_pair(old, new)
    try:
        for run in (old, new):
            run.cut()  # both keep their inputs
        corrected, reparametrised = recut_steps(old, new)
        headlines = headline_steps(old.results(), corrected, reparametrised, new.results())
        return Comparison(old, new, parameter_changes(old.params, new.params),
                          patient_changes(old, new), new_events(new, old.data_cut_date),
                          retrospective_changes(old, new), headlines,
                          steps=(corrected, reparametrised))
    except ComparisonError:
        raise
    except RunFolderError as exc:
        raise ComparisonError(str(exc)) from None
    except ValueError as exc:  # data a comparison cannot use (e.g. nobody analysed at a cut)
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise ComparisonError(f"{old.path} and {new.path} cannot be compared: {reason}"
                              ) from None


def summary_lines(summary: dict) -> list[str]:
    """The summary as a few lines of text (``haplo-report compare`` and the run's log)."""
    patients = ", ".join(f"{count} {label}" for label, count in summary["new_patients"].items())
    events = ", ".join(f"{count} {event}" for event, count in summary["new_events"].items())
    return [f"changes since the data cut of {summary['previous_cut']} "
            f"(this cut {summary['data_cut']}):",
            f"  new patients: {patients}",
            f"  new events: {events or 'none'}",
            f"  parameters changed: {', '.join(summary['parameters_changed']) or 'none'}",
            f"  retrospective changes of earlier records: {summary['retrospective_changes']}",
            "  headline estimates changed by " + ", ".join(
                f"{step.replace('_', ' ')}: {count}"
                for step, count in summary["headlines_changed"].items()),
            "  section 14 cells changed by " + ", ".join(
                f"{cause}: {count}" for cause, count in summary["table_cells_changed"].items())]

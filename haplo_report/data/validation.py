"""Validate a data cut: schemas per table, then the rules across tables, in one pass.

Every violation of every table is collected before anything is raised, as rows
``table, row, column, value, rule`` (``row`` is the file row, header = row 1; empty for a
problem of the whole file or column). Dates after the data cut are legal: they are kept here
and cut by ``derive``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from haplo_report.data.cut import REQUIRED_TABLES, TABLES, Cut
from haplo_report.params import ParamsError
from haplo_report.data.readers import read_cut
from haplo_report.data.schemas import (SCHEMAS, extra_columns, identifying_columns,
                                       nanosecond_dates, normalise_text, rule_text, typed_frame)
from haplo_report.text import spreadsheet_safe_frame

VIOLATION_COLUMNS: list[str] = ["table", "row", "column", "value", "rule"]
IDENTIFIES_PEOPLE = ("identifies people (names, initials, birth dates, contact details, record "
                     "or national id numbers): remove the column from the cut")
EXCERPT = 60  # characters of a cell value quoted in a violation
# Event dates that must fall between transplant and death, per table.
EVENT_DATES: dict[str, tuple[str, ...]] = {
    "relapses": ("RELDT",), "gvhd": ("ONSETDT",), "mrd": ("MRDDT",),
    "engraftment": ("ANCDT", "PLTDT"),
}


def _excerpt(value: object) -> object:
    """A cell value cut to :data:`EXCERPT` characters (a value may be megabytes long)."""
    if isinstance(value, str) and len(value) > EXCERPT:
        return value[:EXCERPT] + "..."
    return value


def violations_frame(records: list[dict]) -> pd.DataFrame:
    """Violations as a frame in a stable order: table (spec order), row, column, rule."""
    records = [{**r, "value": _excerpt(r.get("value")), "column": _excerpt(r.get("column"))}
               for r in records]
    frame = pd.DataFrame(records, columns=VIOLATION_COLUMNS)
    frame["row"] = frame["row"].astype("Int64")
    for column in ("table", "column", "value", "rule"):
        frame[column] = frame[column].fillna("").astype(str)
    order = frame["table"].map({name: i for i, name in enumerate(TABLES)})
    frame = frame.assign(_order=order).sort_values(
        ["_order", "row", "column", "rule"], na_position="first", kind="mergesort")
    return frame.drop(columns="_order").drop_duplicates().reset_index(drop=True)


class InvalidCutError(Exception):
    """A data cut that breaks the input contract; ``violations`` lists every problem."""

    def __init__(self, data_dir: Path, violations: pd.DataFrame,
                 files: dict[str, Path] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.violations = violations
        self.files = files or {}
        super().__init__(f"{data_dir}: {len(violations)} violation(s) of the data-cut spec")

    def format(self) -> str:
        """A terminal listing grouped by table, ending with a count line."""
        lines = [f"invalid data cut: {self.data_dir}"]
        for table, group in self.violations.groupby("table", sort=False):
            name = self.files[table].name if table in self.files else (table or "data folder")
            lines.append(f"{name} ({len(group)})")
            for v in group.itertuples(index=False):
                where = "file" if pd.isna(v.row) else f"row {v.row}"
                cell = f" {v.column}" if v.column else ""
                value = f" = {v.value!r}" if v.value else ""
                lines.append(f"  {where}{cell}{value}: {v.rule}")
        tables = self.violations["table"].nunique()
        lines.append(f"{len(self.violations)} violation(s) in {tables} table(s)")
        return "\n".join(lines)


def write_violations(violations: pd.DataFrame | None, path: Path) -> None:
    """Write violations to ``.csv`` or ``.json`` (an empty list / header only when valid)."""
    path = Path(path)
    frame = violations_frame([]) if violations is None else violations
    if path.suffix.lower() not in (".csv", ".json"):
        raise ParamsError(f"--report: use a .csv or .json file name, got {path.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        spreadsheet_safe_frame(frame).to_csv(path, index=False, lineterminator="\n")
        return
    records = [{k: (None if pd.isna(v) else int(v) if k == "row" else v) for k, v in r.items()}
               for r in frame.to_dict(orient="records")]
    path.write_text(json.dumps(records, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _schema_violations(table: str, frame: pd.DataFrame) -> list[dict]:
    """Every failure of the table's pandera model, in plain words."""
    model = SCHEMAS[table]
    records = [dict(table=table, row=None, column=column, value="",
                    rule=IDENTIFIES_PEOPLE)
               for column in identifying_columns(list(frame.columns))]
    try:
        model.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        schema = model.to_schema()
        for case in exc.failure_cases.itertuples(index=False):
            row = None if pd.isna(case.index) else int(case.index)
            value = "" if pd.isna(case.failure_case) else str(case.failure_case)
            if case.check == "column_in_dataframe":
                records.append(dict(table=table, row=None, column=value, value="",
                                    rule="required column is missing"))
                continue
            if case.check == "not_nullable":
                rule, value = "must not be empty", ""
            elif case.check == "field_uniqueness":
                rule = "must be unique: one row per patient"
            elif case.schema_context == "DataFrameSchema":  # a rule over several columns
                check = schema.checks[int(case.check_number)]
                if case.column != check.name:
                    continue
                rule = check.error
            else:
                check = schema.columns[case.column].checks[int(case.check_number)]
                rule = rule_text(check.name, check.statistics)
            records.append(dict(table=table, row=row, column=case.column, value=value,
                                rule=rule))
    return records


def _date_order(table: str, text: pd.DataFrame, typed: pd.DataFrame, column: str,
                bound: pd.Series, bound_name: str, *, after: bool) -> list[dict]:
    """Rows whose ``column`` date is before (``after``) or after the ``bound`` date."""
    if column not in typed.columns:
        return []
    bad = typed[column] < bound if after else typed[column] > bound
    word = "after" if after else "before"
    return [dict(table=table, row=row, column=column, value=text.at[row, column],
                 rule=f"must be on or {word} {bound_name} ({bound[row]:%Y-%m-%d})")
            for row in bad[bad.fillna(False)].index]


def _cross_violations(text: dict[str, pd.DataFrame], typed: dict[str, pd.DataFrame]
                      ) -> list[dict]:
    """The spec's rules across tables (tables that failed to read are skipped)."""
    subjects, s_text = typed["subjects"], text["subjects"]
    records = _date_order("subjects", s_text, subjects, "HSCTDT", subjects["RFICDT"], "RFICDT",
                          after=True)
    records += _date_order("subjects", s_text, subjects, "LSTALVDT", subjects["HSCTDT"],
                           "HSCTDT", after=True)
    first = subjects.drop_duplicates("USUBJID").set_index("USUBJID")
    # Empty HSCTDT, not an unreadable one (that is a violation of its own).
    never_transplanted = (set(s_text.loc[s_text["HSCTDT"].isna(), "USUBJID"].dropna())
                          if "HSCTDT" in s_text.columns else set())
    deaths = typed.get("deaths")
    death_dates = (deaths.dropna(subset=["USUBJID"]).drop_duplicates("USUBJID")
                   .set_index("USUBJID")["DTHDT"] if deaths is not None
                   else pd.Series(dtype="datetime64[ns]"))
    for table, frame in typed.items():
        if table == "subjects" or "USUBJID" not in frame.columns:
            continue
        ids = frame["USUBJID"]
        unknown = ids.notna() & ~ids.isin(first.index)
        records += [dict(table=table, row=row, column="USUBJID", value=ids[row],
                         rule="USUBJID not in subjects") for row in unknown[unknown].index]
        hsct, rfic = ids.map(first["HSCTDT"]), ids.map(first["RFICDT"])
        lstalv, death = ids.map(first["LSTALVDT"]), ids.map(death_dates)
        if table in EVENT_DATES:
            never = ids.isin(never_transplanted)
            records += [dict(table=table, row=row, column="USUBJID", value=ids[row],
                             rule="patient was never transplanted (HSCTDT empty)")
                        for row in never[never].index]
            for column in EVENT_DATES[table]:
                records += _date_order(table, text[table], frame, column, hsct, "HSCTDT",
                                       after=True)
                records += _date_order(table, text[table], frame, column, death, "DTHDT",
                                       after=False)
        elif table == "deaths":
            records += _date_order(table, text[table], frame, "DTHDT", hsct, "HSCTDT",
                                   after=True)
            records += _date_order(table, text[table], frame, "DTHDT", rfic.where(hsct.isna()),
                                   "RFICDT", after=True)
            records += _date_order(table, text[table], frame, "DTHDT", lstalv, "LSTALVDT",
                                   after=True)
        elif table == "adverse_events":
            records += _date_order(table, text[table], frame, "AESTDT", rfic, "RFICDT",
                                   after=True)
            records += _date_order(table, text[table], frame, "AESTDT", death, "DTHDT",
                                   after=False)
    return records


def validate_cut(data_dir: Path, data_cut_date: dt.date) -> Cut:
    """Read and check a cut folder; the typed tables, or :class:`InvalidCutError`.

    ``data_cut_date`` is the run's cut; dates after it are legal and kept (derive cuts them),
    but a cut before the first informed consent is a :class:`ParamsError` (nothing to report).
    Required tables (subjects, relapses, deaths) must be supplied; optional ones may be absent.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InvalidCutError(data_dir, violations_frame([dict(
            table="", row=None, column="", value=str(data_dir), rule="data folder not found")]))
    raw = read_cut(data_dir)
    records = [dict(table=table, row=None, column="", value=raw.files.get(table, Path("")).name,
                    rule=reason) for table, reason in raw.problems.items()]
    records += [dict(table=table, row=None, column="", value="",
                     rule=f"required table is missing: supply {table}.csv (it may have zero "
                          "rows)")
                for table in REQUIRED_TABLES if table not in raw.files and table not in raw.problems]
    text: dict[str, pd.DataFrame] = {}
    typed: dict[str, pd.DataFrame] = {}
    for table, frame in raw.tables.items():
        text[table] = normalise_text(frame)
        records += _schema_violations(table, text[table])
        typed[table] = typed_frame(SCHEMAS[table], text[table], exact_dates=True)
    if "subjects" in typed:  # typed frames have every column of their model (maybe empty)
        records += _cross_violations(text, typed)
    if records:
        raise InvalidCutError(data_dir, violations_frame(records), raw.files)
    # Only the spec's columns go on (privacy by allow-list); extra ones are named in the record.
    dropped = {table: extra_columns(SCHEMAS[table], list(typed[table].columns))
               for table in TABLES if table in typed}
    dropped = {table: columns for table, columns in dropped.items() if columns}
    frames = {table: _contract_types(frame.drop(columns=dropped.get(table, [])))
              for table, frame in typed.items()}
    first_consent = frames["subjects"]["RFICDT"].min()
    if pd.notna(first_consent) and pd.Timestamp(data_cut_date) < first_consent:
        raise ParamsError(f"data_cut_date: {data_cut_date} is before the first informed consent "
                          f"({first_consent.date()}): no patient would be in the analysis")
    return Cut(**frames, files=dict(raw.files), dropped=dropped)


def _contract_types(frame: pd.DataFrame) -> pd.DataFrame:
    """The typed cut's types: nanosecond dates (see :func:`nanosecond_dates`), fresh index."""
    frame = frame.reset_index(drop=True)
    for column in frame.columns:
        if frame[column].dtype == "datetime64[s]":
            frame[column] = nanosecond_dates(frame[column])
    return frame

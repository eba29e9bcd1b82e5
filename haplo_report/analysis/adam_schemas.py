"""pandera schemas of the derived datasets (ADSL, ADTTE, ADMRD, ADGVHD, ADAE), as
``docs/architecture.md`` defines them, and the check each notebook runs on the data it reads.

A notebook's first output is :func:`check_derived`'s table (dataset, rows, schema with its
version, result), headed by a line naming pandera and its version, so an auditor sees in the
executed notebook (and its HTML copy) that the data it analysed met the contract; a
dataset altered after derivation stops the notebook with every violation listed
(:class:`InvalidDerivedData`). Columns other than the contract's are allowed (``strict=False``):
later analyses may add their own.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any, Optional

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from haplo_report import plan
from haplo_report.analysis.derive import DEATH_CATEGORIES, PARAMS, Derived

YES_NO = ("Y", "N")
CNSR_CODES = (0, 1, 2, 3, 4)  # event; censored at last known alive; at data cut; competing; other
EVNTTYPE_CODES = (0, 1, 2)  # censored; event of interest; competing
GRADES = ("I", "II", "III", "IV", "MILD", "MODERATE", "SEVERE")
# The version of the derived-data contract below: raised whenever a schema changes (a column,
# a type, a rule), so that a notebook's check says which contract its data met.
SCHEMA_VERSION = "1.0"
SHOWN_VIOLATIONS = 20  # listed in the error; the count says how many there are in all


class InvalidDerivedData(ValueError):
    """A derived dataset that breaks its schema; the message lists the violations."""


def _text(values: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(values.dtype)


class _Dataset(pa.DataFrameModel):
    USUBJID: Series[Any] = pa.Field(nullable=False)

    class Config:
        strict = False  # extra columns are allowed

    @pa.check("USUBJID", name="text")
    def _usubjid_text(cls, values: pd.Series) -> bool:
        return _text(values)


class ADSL(_Dataset):
    """One row per enrolled patient: subjects columns plus flags, death, relapse, follow-up."""

    USUBJID: Series[Any] = pa.Field(nullable=False, unique=True)
    HSCTDT: Series[pd.Timestamp] = pa.Field(nullable=True)
    ENRLFL: Series[Any] = pa.Field(isin=["Y"])
    FASFL: Series[Any] = pa.Field(isin=list(YES_NO))
    SAFFL: Series[Any] = pa.Field(isin=list(YES_NO))
    CUTDT: Series[pd.Timestamp] = pa.Field(nullable=False)
    EOSDT: Series[pd.Timestamp] = pa.Field(nullable=True)
    FUPDAYS: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    DTHFL: Series[Any] = pa.Field(isin=list(YES_NO))
    DTHDT: Series[pd.Timestamp] = pa.Field(nullable=True)
    DTHCAT: Series[Any] = pa.Field(nullable=True, isin=list(DEATH_CATEGORIES))
    RELFL: Series[Any] = pa.Field(isin=list(YES_NO))
    RELDT: Series[pd.Timestamp] = pa.Field(nullable=True)
    MRDGRP: Series[Any] = pa.Field(nullable=True)
    DISGRP: Series[Any] = pa.Field(nullable=True, isin=["CR1", "CR2+"])
    PHGRP: Series[Any] = pa.Field(nullable=True, isin=["Ph-positive", "Ph-negative"])

    @pa.dataframe_check(name="DTHFL is Y exactly when DTHDT is present")
    def _death_flag(cls, frame: pd.DataFrame) -> pd.Series:
        return frame["DTHFL"].eq("Y").fillna(False) == frame["DTHDT"].notna()

    @pa.dataframe_check(name="RELFL is Y exactly when RELDT is present")
    def _relapse_flag(cls, frame: pd.DataFrame) -> pd.Series:
        return frame["RELFL"].eq("Y").fillna(False) == frame["RELDT"].notna()

    @pa.dataframe_check(name="dates on or before CUTDT")
    def _before_cut(cls, frame: pd.DataFrame) -> pd.Series:
        dates = frame[["EOSDT", "DTHDT", "RELDT"]]
        return dates.le(frame["CUTDT"], axis=0).where(dates.notna(), True).all(axis=1)


class ADTTE(_Dataset):
    """One row per FAS patient per time-to-event parameter; AVAL days from transplant."""

    PARAMCD: Series[Any] = pa.Field(isin=list(PARAMS))
    PARAM: Series[Any] = pa.Field(nullable=False)
    STARTDT: Series[pd.Timestamp] = pa.Field(nullable=False)
    ADT: Series[pd.Timestamp] = pa.Field(nullable=False)
    AVAL: Series[int] = pa.Field(ge=0)
    CNSR: Series[int] = pa.Field(isin=list(CNSR_CODES))
    EVNTTYPE: Series[int] = pa.Field(isin=list(EVNTTYPE_CODES))
    EVNTDESC: Series[Any] = pa.Field(nullable=True)

    class Config:
        strict = False
        unique = ["USUBJID", "PARAMCD"]

    @pa.dataframe_check(name="AVAL is ADT - STARTDT in days")
    def _aval(cls, frame: pd.DataFrame) -> pd.Series:
        return (frame["ADT"] - frame["STARTDT"]).dt.days == frame["AVAL"]

    @pa.dataframe_check(name="EVNTTYPE 1 exactly when CNSR 0, 2 exactly when CNSR 3")
    def _event_type(cls, frame: pd.DataFrame) -> pd.Series:
        return ((frame["EVNTTYPE"] == 1) == (frame["CNSR"] == 0)) & (
            (frame["EVNTTYPE"] == 2) == (frame["CNSR"] == 3))


class ADMRD(_Dataset):
    """MRD assessments on or before the cut."""

    MRDDT: Series[pd.Timestamp] = pa.Field(nullable=False)
    RESULT: Series[float] = pa.Field(nullable=True, ge=0, le=1)
    ADY: Series[pd.Int64Dtype] = pa.Field(nullable=True)


class ADGVHD(_Dataset):
    """GVHD episodes on or before the cut."""

    GVHDTYPE: Series[Any] = pa.Field(isin=["ACUTE", "CHRONIC"])
    ONSETDT: Series[pd.Timestamp] = pa.Field(nullable=False)
    GRADE: Series[Any] = pa.Field(nullable=True, isin=list(GRADES))
    ADY: Series[pd.Int64Dtype] = pa.Field(nullable=True)


class ADAE(_Dataset):
    """Adverse events on or before the cut, with the safety-set flag."""

    AESTDT: Series[pd.Timestamp] = pa.Field(nullable=False)
    AETOXGR: Optional[Series[pd.Int64Dtype]] = pa.Field(nullable=True, ge=1, le=5)
    SAFFL: Series[Any] = pa.Field(nullable=True, isin=list(YES_NO))
    ADY: Series[pd.Int64Dtype] = pa.Field(nullable=True)


SCHEMAS: dict[str, type[_Dataset]] = {"adsl": ADSL, "adtte": ADTTE, "admrd": ADMRD,
                                      "adgvhd": ADGVHD, "adae": ADAE}


def datasets_read(notebook: str, derived: Derived) -> dict[str, pd.DataFrame]:
    """The derived data ``notebook`` reads (its :mod:`plan` entry): ADSL, the ADTTE rows of
    its endpoints, its other datasets; keyed by a label such as ``"ADTTE (PFS)"``."""
    spec = next((s for s in plan.NOTEBOOKS if s.name == notebook), None)
    if spec is None:
        raise ValueError(f"no notebook {notebook!r} in the report plan")
    frames = {"adsl": derived.adsl}
    if spec.endpoints:
        adtte = derived.adtte
        if "*" not in spec.endpoints:
            adtte = adtte[adtte["PARAMCD"].isin(spec.endpoints)]
        frames[f"adtte ({', '.join(spec.endpoints)})"] = adtte
    for name in spec.datasets:
        if name in SCHEMAS:
            frames[name] = getattr(derived, name)
    return frames


def _violations(label: str, errors: pa.errors.SchemaErrors) -> list[str]:
    """One line per failure; a failed row-level rule once per row (pandera lists it once per
    column of that row)."""
    lines: list[str] = []
    for case in errors.failure_cases.itertuples(index=False):
        row = "" if pd.isna(case.index) else f"row {int(case.index) + 1}, "
        if case.schema_context == "DataFrameSchema" and row:
            line = f"{label.upper()}: {row}check {case.check}"
        else:
            plain = case.failure_case.item() if hasattr(case.failure_case, "item") else case.failure_case
            column = "" if pd.isna(case.column) or case.column == label else f"column {case.column}, "
            value = "" if pd.isna(plain) else f"value {plain!r}, "
            line = f"{label.upper()}: {row}{column}{value}check {case.check}"
        lines.append(line)
    return list(dict.fromkeys(lines))


def check_derived(derived: Derived, notebook: str) -> str:
    """Validate the derived data ``notebook`` reads against :data:`SCHEMAS`; when every dataset
    is valid, Markdown: a line naming pandera (with its version) and the schemas' module and
    version, then a table (dataset, rows, schema, result).

    Raises :class:`InvalidDerivedData` listing the violations (dataset, row counted from 1 in
    the dataset's file order, column, value, check) otherwise.
    """
    rows, violations = [], []
    for label, frame in datasets_read(notebook, derived).items():
        schema = SCHEMAS[label.split(" ")[0]]
        try:
            schema.validate(frame, lazy=True)
            valid = "Yes"
        except pa.errors.SchemaErrors as errors:
            violations += _violations(label, errors)
            valid = "No"
        rows.append({"Dataset": label.upper(), "Rows": str(len(frame)),
                     "Schema": f"{schema.__name__} {SCHEMA_VERSION}", "Valid": valid})
    if violations:
        shown = violations[:SHOWN_VIOLATIONS]
        more = len(violations) - len(shown)
        raise InvalidDerivedData(
            f"{len(violations)} violation(s) of the derived-data contract:\n" + "\n".join(shown)
            + (f"\n... and {more} more" if more else ""))
    heading = (f"**Data check.** pandera {metadata.version('pandera')} validated each derived "
               f"dataset this notebook reads against its schema (`{__name__}`, derived-data "
               f"contract version {SCHEMA_VERSION}, strict=False): every dataset valid.")
    return heading + "\n\n" + pd.DataFrame(rows).to_markdown(index=False)

"""One pandera ``DataFrameModel`` per table of the data-cut spec, checked on the text as read.

Schemas validate text frames (pandas ``string`` dtype, missing = ``<NA>``), so a bad cell is
reported with the value the data manager wrote. Decisions, each tested:

- Whitespace around every cell is stripped before checking (``" M "`` is ``M``).
- Codes must be the spec's codes exactly: grades ``I..IV`` and ``MILD..SEVERE``; ``2``,
  ``II-III`` and lower-case ``ii`` are violations (medical data: no guessing).
- Dates are strict ISO ``YYYY-MM-DD`` and must exist (``2026-02-30`` fails).
- Numbers are plain decimals (``5e-4`` is fine); ``0.5%`` or a decimal comma are violations.
- Columns whose name indicates names, initials or a birth date are refused in every table.
- Free text and identifiers are plain printable text (issue 28): no control characters (line
  breaks, tabs), no format characters (bidirectional controls such as U+202E, zero-width
  characters), at most :data:`MAX_TEXT_BYTES` bytes (the SAS transport limit of a value) and
  identifiers at most :data:`MAX_ID_BYTES` bytes; a date after the day of validation
  cannot have been exported and is a violation.

:func:`typed_frame` turns a validated text frame into the typed frame of ``docs/architecture.md``;
the type of each column is read from its check (date, whole number, number, else text).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Optional

import numpy as np
import pandas as pd
import pandera.extensions as extensions
import pandera.pandas as pa
from pandera.typing import Series

from haplo_report.text import PRINTABLE_RULE, hidden_character

# ASCII digits only: "３０" (full-width) or "٣٠" (Arabic-Indic) are violations, not numbers.
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
MAX_DIGITS = 9  # a whole number without an upper bound in the spec: at most 9 digits
# Dates are calendar dates over the ISO range (years 1900..9999 accepted; an earlier year is a
# typing error in this trial). Validation compares them at second resolution; the typed cut
# holds nanosecond dates (pandas' default, so outputs keep their bytes): a date after
# LAST_NS_DATE is necessarily after the data cut, which derive cuts, and is kept as that date.
FIRST_DATE = "1900-01-01"
# A date after today (plus one day for time zones) is not a record of an export: a violation.
FUTURE_SLACK = dt.timedelta(days=1)
# Free text and identifiers (issue 28): XPT v5 holds at most 200 bytes of a character value;
# a patient identifier is short (SDTM USUBJID: study, site and subject; 64 bytes is generous).
MAX_TEXT_BYTES = 200
MAX_ID_BYTES = 64
LAST_NS_DATE = pd.Timestamp("2262-04-11")
# Columns that identify a person (data-cut spec v2): names, initials, birth dates, contact
# details, record and national id numbers, matched on the name's letters (upper case).
IDENTIFYING_COLUMN = re.compile(
    r"NAME|INITIAL|BIRTH|BRTH|DOB|^(SUBJ|PAT|PT)?INITS?$|^[FLM]NAME$|EMAIL|PHONE|^TEL|MOBILE|"
    r"^FAX|ADDR|STREET|ZIPCODE|POSTCODE|POSTALCODE|^MRN|MEDREC|^NATID|NATIONALID|^SSN|"
    r"SOCIALSEC|PASSPORT|^NHSN|INSURANCENO")
# Site and investigator columns are not patient identifiers: accepted (and, as every extra
# column, dropped before anything is derived or shown).
NOT_IDENTIFYING: frozenset[str] = frozenset({"SITENAME", "INVNAM", "INVNAME", "SITENAM"})


def _is_date(text: str) -> bool:
    if not ISO_DATE.fullmatch(text):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_typed_date(text: str) -> bool:
    """A real date from :data:`FIRST_DATE` on (ISO text compares as dates do)."""
    return _is_date(text) and text >= FIRST_DATE


def on_distinct(values: pd.Series, transform: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``transform`` applied once per distinct value of ``values``, spread back to every row.

    Written by hand because no library does this: columns of a cut repeat their values heavily
    (dates, codes, grades), so checking or parsing the distinct values only is many times faster
    than element by element at registry size, with the very same per-value logic. Missing cells
    stay missing.
    """
    codes, distinct = pd.factorize(values)  # missing -> code -1
    result = transform(pd.Series(distinct, dtype=values.dtype)).array
    return pd.Series(result.take(codes, allow_fill=True), index=values.index, name=values.name)


def _is_whole_number(text: str, low: int, high: int | None) -> bool:
    if not WHOLE_NUMBER.fullmatch(text) or len(text.lstrip("+-")) > 18:
        return False  # 19 digits and more: beyond every bound (and int64)
    value = int(text)
    return low <= value and value <= (10 ** MAX_DIGITS - 1 if high is None else high)


def _finite(text: str) -> float | None:
    """The value of a plain decimal number, or None (not one, or beyond float: ``1e999``)."""
    if not NUMBER.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def _is_number(text: str, low: float, high: float | None, low_open: bool) -> bool:
    value = _finite(text)
    if value is None:
        return False
    above = value > low if low_open else value >= low
    return above and (high is None or value <= high)


def _each(values: pd.Series, test: Callable[[str], bool]) -> pd.Series:
    """``test`` of every distinct value (pandera passes non-missing values only)."""
    return on_distinct(values, lambda distinct: pd.Series(
        [test(text) for text in distinct], index=distinct.index, dtype=bool))


@extensions.register_check_method()
def iso_date(values: pd.Series) -> pd.Series:
    """A real calendar date written ``YYYY-MM-DD``."""
    return _each(values, _is_date)


@extensions.register_check_method(statistics=["first"])
def date_from(values: pd.Series, *, first: str) -> pd.Series:
    """A date on or after ``first`` (text that is no date is left to :func:`iso_date`)."""
    return _each(values, lambda text: not _is_date(text) or text >= first)


@extensions.register_check_method()
def not_future(values: pd.Series) -> pd.Series:
    """A date not after today (text that is no date is left to :func:`iso_date`)."""
    last = (dt.date.today() + FUTURE_SLACK).isoformat()
    return _each(values, lambda text: not _is_date(text) or text <= last)


@extensions.register_check_method()
def printable(values: pd.Series) -> pd.Series:
    """Text without control, format (bidi, zero-width), private or unassigned characters."""
    return _each(values, lambda text: hidden_character(text) is None)


@extensions.register_check_method(statistics=["limit"])
def max_bytes(values: pd.Series, *, limit: int) -> pd.Series:
    """Text of at most ``limit`` bytes in UTF-8."""
    return _each(values, lambda text: len(text.encode("utf-8", "surrogatepass")) <= limit)


@extensions.register_check_method(statistics=["low", "high"])
def whole_number(values: pd.Series, *, low: int, high: int | None) -> pd.Series:
    """A whole number written without decimals, within ``[low, high]``."""
    return _each(values, lambda text: _is_whole_number(text, low, high))


@extensions.register_check_method(statistics=["low", "high", "low_open"])
def number(values: pd.Series, *, low: float, high: float | None, low_open: bool) -> pd.Series:
    """A plain decimal number in ``(low, high]`` (``low_open``) or ``[low, high]``."""
    return _each(values, lambda text: _is_number(text, low, high, low_open))


def rule_text(check: str, statistics: dict) -> str:
    """The plain-words rule of one check of the schemas below."""
    if check == "iso_date":
        return "must be a real date written YYYY-MM-DD"
    if check == "date_from":
        return f"must be on or after {statistics['first']}"
    if check == "not_future":
        return "must not be after the day of validation (a date in the future)"
    if check == "printable":
        return PRINTABLE_RULE
    if check == "max_bytes":
        return f"must be at most {statistics['limit']} bytes of text (UTF-8)"
    if check == "whole_number":
        low, high = statistics["low"], statistics["high"]
        return (f"must be a whole number from {low} to {high}" if high is not None
                else f"must be a whole number >= {low} (at most {MAX_DIGITS} digits)")
    if check == "number":
        low, high, low_open = statistics["low"], statistics["high"], statistics["low_open"]
        if high is None:
            return f"must be a number {'>' if low_open else '>='} {low:g}"
        return f"must be a number in {'(' if low_open else '['}{low:g}, {high:g}]"
    if check == "isin":
        return "must be one of " + ", ".join(statistics["allowed_values"])
    raise KeyError(f"no rule text for check {check!r}")


# Field builders: the spec's column types, so each model below reads like its spec table.
def text(*, required: bool = False, codes: list[str] | None = None, unique: bool = False):
    """Text: one of fixed ``codes``, or free text (printable, at most :data:`MAX_TEXT_BYTES`)."""
    if codes is not None:
        return pa.Field(nullable=not required, isin=codes, unique=unique)
    return pa.Field(nullable=not required, unique=unique, printable=(),
                    max_bytes={"limit": MAX_TEXT_BYTES})


def identifier(*, unique: bool = False):
    """A patient identifier: required, printable, at most :data:`MAX_ID_BYTES` bytes."""
    return pa.Field(nullable=False, unique=unique, printable=(),
                    max_bytes={"limit": MAX_ID_BYTES})


def date(*, required: bool = False):
    """A date ``YYYY-MM-DD`` from :data:`FIRST_DATE`, not after the day of validation."""
    return pa.Field(nullable=not required, iso_date=(), date_from={"first": FIRST_DATE},
                    not_future=())


def integer(low: int, high: int | None = None, *, required: bool = False):
    """A whole number in ``[low, high]``."""
    return pa.Field(nullable=not required, whole_number={"low": low, "high": high})


def decimal(low: float, high: float | None = None, *, low_open: bool = False,
            required: bool = False):
    """A number in ``[low, high]`` or ``(low, high]``."""
    return pa.Field(nullable=not required,
                    number={"low": low, "high": high, "low_open": low_open})


YES_NO = ["Y", "N"]
ACUTE_GRADES = ["I", "II", "III", "IV"]  # MAGIC
CHRONIC_GRADES = ["MILD", "MODERATE", "SEVERE"]  # NIH 2014


class CutTable(pa.DataFrameModel):
    """Common to every table: extra columns are kept and ignored; every failure collected."""

    USUBJID: Series[pd.StringDtype] = identifier()

    class Config:
        strict = False


class Subjects(CutTable):
    """subjects: one row per registered patient."""

    USUBJID: Series[pd.StringDtype] = identifier(unique=True)
    SITEID: Series[pd.StringDtype] = text(required=True)
    AGE: Series[pd.StringDtype] = integer(0, 100, required=True)
    SEX: Series[pd.StringDtype] = text(required=True, codes=["M", "F"])
    SUBTYPE: Series[pd.StringDtype] = text()
    DISSTAT: Series[pd.StringDtype] = text(codes=["CR1", "CR2", "CR3+"])
    MRDPRE: Series[pd.StringDtype] = decimal(0, 1, low_open=True, required=True)
    MRDMETH: Series[pd.StringDtype] = text(codes=["FCM", "QPCR"])
    DONREL: Series[pd.StringDtype] = text(codes=["father", "mother", "sibling", "child", "other"])
    HLAMATCH: Series[pd.StringDtype] = text()
    GRAFTSRC: Series[pd.StringDtype] = text(codes=["BM+PBSC", "PBSC"])
    CD34DOSE: Series[pd.StringDtype] = decimal(0, low_open=True)
    BLINDAYS: Series[pd.StringDtype] = integer(0)
    CONDREG: Series[pd.StringDtype] = text()
    RFICDT: Series[pd.StringDtype] = date(required=True)
    HSCTDT: Series[pd.StringDtype] = date()  # empty if never transplanted
    LSTALVDT: Series[pd.StringDtype] = date(required=True)


class Relapses(CutTable):
    """relapses: zero or more rows per patient."""

    RELDT: Series[pd.StringDtype] = date(required=True)
    RELSITE: Series[pd.StringDtype] = text(required=True, codes=["BM", "PB", "EM"])


class Deaths(CutTable):
    """deaths: at most one row per patient."""

    USUBJID: Series[pd.StringDtype] = identifier(unique=True)
    DTHDT: Series[pd.StringDtype] = date(required=True)
    DTHCAUS: Series[pd.StringDtype] = text(required=True, codes=["RELAPSE", "INFECTION", "GVHD", "TMA",
                                                      "VOD", "HEMORRHAGE", "OTHER", "UNKNOWN"])


class Gvhd(CutTable):
    """gvhd: zero or more episodes per patient; the grade scale follows the type."""

    GVHDTYPE: Series[pd.StringDtype] = text(required=True, codes=["ACUTE", "CHRONIC"])
    ONSETDT: Series[pd.StringDtype] = date(required=True)
    GRADE: Series[pd.StringDtype] = text(required=True, codes=ACUTE_GRADES + CHRONIC_GRADES)
    ORGANS: Optional[Series[pd.StringDtype]] = text()
    SYSTX: Series[pd.StringDtype] = text(required=True, codes=YES_NO)

    @pa.dataframe_check(name="GRADE", error="must be I, II, III or IV for ACUTE and MILD, "
                        "MODERATE or SEVERE for CHRONIC GVHD")
    def grade_fits_type(cls, frame: pd.DataFrame) -> Series[bool]:
        """ACUTE episodes use the MAGIC grades, CHRONIC ones the NIH 2014 severities."""
        if not {"GVHDTYPE", "GRADE"} <= set(frame.columns):
            return pd.Series(True, index=frame.index)
        acute = (frame["GVHDTYPE"] == "ACUTE") & frame["GRADE"].isin(CHRONIC_GRADES)
        chronic = (frame["GVHDTYPE"] == "CHRONIC") & frame["GRADE"].isin(ACUTE_GRADES)
        return ~(acute | chronic).fillna(False)


class Mrd(CutTable):
    """mrd: zero or more assessments per patient after transplant."""

    MRDDT: Series[pd.StringDtype] = date(required=True)
    METHOD: Series[pd.StringDtype] = text(required=True, codes=["FCM", "QPCR"])
    RESULT: Series[pd.StringDtype] = decimal(0, 1, required=True)  # 0 = undetectable


class Engraftment(CutTable):
    """engraftment: at most one row per transplanted patient."""

    USUBJID: Series[pd.StringDtype] = identifier(unique=True)
    ANCDT: Series[pd.StringDtype] = date()  # empty if no neutrophil recovery
    PLTDT: Series[pd.StringDtype] = date()  # empty if no platelet recovery


class AdverseEvents(CutTable):
    """adverse_events: zero or more rows per patient."""

    AETERM: Series[pd.StringDtype] = text(required=True)
    AEDECOD: Series[pd.StringDtype] = text(required=True)
    AEBODSYS: Series[pd.StringDtype] = text(required=True)
    AETOXGR: Series[pd.StringDtype] = integer(1, 5, required=True)
    AESER: Series[pd.StringDtype] = text(required=True, codes=YES_NO)
    AEREL: Series[pd.StringDtype] = text(required=True, codes=YES_NO)
    AESI: Optional[Series[pd.StringDtype]] = text(codes=["CRS", "ICANS", "INFECTION"])
    AESTDT: Series[pd.StringDtype] = date(required=True)


SCHEMAS: dict[str, type[CutTable]] = {
    "subjects": Subjects, "relapses": Relapses, "deaths": Deaths, "gvhd": Gvhd, "mrd": Mrd,
    "engraftment": Engraftment, "adverse_events": AdverseEvents,
}


def identifying_columns(columns: list[str]) -> list[str]:
    """Columns whose name indicates a person's name, initials, birth date, contact details or
    record number (site and investigator names excepted)."""
    letters = {c: re.sub(r"[^A-Z]", "", str(c).upper()) for c in columns}
    return [c for c in columns
            if letters[c] not in NOT_IDENTIFYING and IDENTIFYING_COLUMN.search(letters[c])]


def extra_columns(model: type[CutTable], columns: list[str]) -> list[str]:
    """Columns of a table that its model (the spec) does not name."""
    known = set(model.to_schema().columns)
    return [c for c in columns if c not in known]


def _strip_or_missing(distinct: pd.Series) -> pd.Series:
    stripped = distinct.astype("string").str.strip()
    return stripped.mask(stripped == "")


def normalise_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Text frame to check: surrounding whitespace stripped, empty cells ``<NA>``."""
    return frame.astype("string").apply(lambda column: on_distinct(column, _strip_or_missing))


def column_kind(model: type[CutTable], column: str) -> str:
    checks = model.to_schema().columns[column].checks
    names = {check.name for check in checks}
    return next((kind for kind in ("iso_date", "whole_number", "number") if kind in names), "text")


def typed_frame(model: type[CutTable], frame: pd.DataFrame, *, exact_dates: bool = False
                ) -> pd.DataFrame:
    """A normalised text frame with the model's columns typed; unparsable cells missing.

    Dates ``datetime64[ns]`` (after :data:`LAST_NS_DATE` kept as that date; ``exact_dates``:
    ``datetime64[s]``, every date as written), whole numbers ``Int64``, numbers ``float64``,
    text ``string``; extra columns stay text; optional columns not supplied are added, empty.
    """
    out = frame.copy()
    for column in model.to_schema().columns:
        if column not in out.columns:
            out[column] = pd.Series(pd.NA, index=out.index, dtype="string")
        kind = column_kind(model, column)
        values = out[column]
        if kind == "iso_date":
            out[column] = on_distinct(values, _parse_dates)
            if not exact_dates:
                out[column] = nanosecond_dates(out[column])
        elif kind == "whole_number":
            out[column] = on_distinct(values, _parse_whole_numbers)
        elif kind == "number":
            out[column] = on_distinct(values, _parse_numbers)
    return out


def nanosecond_dates(dates: pd.Series) -> pd.Series:
    """Dates as ``datetime64[ns]``, those after :data:`LAST_NS_DATE` kept as that date."""
    return dates.mask(dates > LAST_NS_DATE, LAST_NS_DATE).astype("datetime64[ns]")


def _parse_dates(distinct: pd.Series) -> pd.Series:
    """Calendar dates of years 1900..9999 at second resolution (numpy parses ISO text)."""
    text = [t if isinstance(t, str) and _is_typed_date(t) else "NaT" for t in distinct]
    days = np.array(text, dtype="datetime64[D]").astype("datetime64[s]")
    return pd.Series(days, index=distinct.index)


def _parse_whole_numbers(distinct: pd.Series) -> pd.Series:
    values = [int(t) if isinstance(t, str) and _is_whole_number(t, -(10 ** 18), 10 ** 18)
              else None for t in distinct]
    return pd.Series(values, index=distinct.index, dtype="Int64")


def _parse_numbers(distinct: pd.Series) -> pd.Series:
    values = [_finite(t) if isinstance(t, str) else None for t in distinct]
    return pd.Series([np.nan if v is None else v for v in values], index=distinct.index,
                     dtype="float64")

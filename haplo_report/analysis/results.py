"""Result rows: the one machine-readable format of every reported number.

Each estimate a notebook reports is one row. Tables, the synopsis and QC are built from
these rows, never from numbers recomputed elsewhere. A value that is not estimable is a
missing ``estimate`` with ``flag == "NE"``, never a carried-forward or fake number.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import pandas as pd

NOT_ESTIMABLE = "NE"
# flag of an ``at_risk`` row with fewer than ``min_at_risk`` patients at risk (SAP v3): the
# landmark estimate it belongs to is marked "imprecise" and never quoted as a finding
FEW_AT_RISK = "few at risk"
FLOAT_FORMAT = "%.10g"  # how every result number is written as text (CSV, ARS raw values)


@dataclass(frozen=True)
class ResultRow:
    """One reported number with its context."""

    endpoint: str  # endpoint code: PFS, OS, CIR, NRM, MRD, AGVHD24, ..., or a summary code
    subgroup: str  # "All", or "VARIABLE=level" pairs (e.g. "DISGRP=CR1"): subgroup_key
    statistic: str  # survival, cif, median, q25, q75, proportion, logrank_p, gray_p, ...
    time_days: float | None  # landmark in days; None when the statistic has no time
    estimate: float | None
    ci_lower: float | None = None
    ci_upper: float | None = None
    n: int | None = None
    events: int | None = None
    method: str = ""  # e.g. "Kaplan-Meier, Greenwood SE, log(-log) 95% CI"
    flag: str = ""  # "NE" when not estimable, FEW_AT_RISK on a thin ``at_risk`` row, else ""


RESULT_COLUMNS: list[str] = [f.name for f in fields(ResultRow)]
KEY_SEPARATOR = ";"
ESCAPE = "\\"


# Subgroup keys (issue 28): "NAME=value" pairs joined by ";". A value is data (a preferred term,
# a subtype), so it is escaped, reversibly: "\" -> "\\", ";" -> "\;" ("=" needs no escape: a
# pair splits at its first "=" and names are the suite's own). A missing value is empty
# ("SUBTYPE="): data values are never empty, so a subtype named "Missing" and a missing
# subtype keep two keys. Written by hand: the key must stay one readable CSV/ARS column.
def escape_level(value: str | None) -> str:
    """A level as it stands in a key: escaped, or "" when missing."""
    if value is None:
        return ""
    return str(value).replace(ESCAPE, ESCAPE * 2).replace(KEY_SEPARATOR, ESCAPE + KEY_SEPARATOR)


def subgroup_key(*pairs: tuple[str, str | None]) -> str:
    """``("SOC", soc), ("PT", term)`` -> ``"SOC=...;PT=..."`` with each level escaped."""
    return KEY_SEPARATOR.join(f"{name}={escape_level(level)}" for name, level in pairs)


def key_parts(key: str) -> list[str]:
    """A key's ``NAME=value`` parts, split at each unescaped ``;`` (values stay escaped, so a
    part compares with a suffix such as ``"AESER=Y"`` as written)."""
    parts, current, escaped = [], [], False
    for char in key:
        if escaped or char not in (ESCAPE, KEY_SEPARATOR):
            current.append(char)
            escaped = False
        elif char == ESCAPE:
            current.append(char)
            escaped = True
        else:
            parts.append("".join(current))
            current = []
    parts.append("".join(current))
    return parts


def part_level(part: str) -> tuple[str, str | None]:
    """``"PT=a\\;b"`` -> ``("PT", "a;b")``; an empty level is missing (None)."""
    name, _, level = part.partition("=")
    if level == "":
        return name, None
    return name, re.sub(r"\\(.)", r"\1", level)


def key_pairs(key: str) -> list[tuple[str, str | None]]:
    """The (name, level) pairs of a key, levels unescaped (missing: None); the inverse of
    :func:`subgroup_key`. ``"All"`` has none."""
    return [] if key == "All" else [part_level(part) for part in key_parts(key)]


def _clean(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def results_frame(rows: list[ResultRow]) -> pd.DataFrame:
    """Rows as a frame with the canonical columns, in a stable order."""
    frame = pd.DataFrame([asdict(r) for r in rows], columns=RESULT_COLUMNS)
    for column in ("time_days", "estimate", "ci_lower", "ci_upper"):
        frame[column] = frame[column].map(_clean).astype("float64")
    for column in ("n", "events"):
        frame[column] = frame[column].astype("Int64")
    return frame


def write_results(rows: list[ResultRow] | pd.DataFrame, path: Path) -> pd.DataFrame:
    """Write rows as CSV with fixed float formatting, so equal inputs give equal bytes."""
    frame = rows if isinstance(rows, pd.DataFrame) else results_frame(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, float_format=FLOAT_FORMAT, lineterminator="\n")
    return frame


def read_results(path: Path) -> pd.DataFrame:
    """Read a results CSV written by :func:`write_results`."""
    frame = pd.read_csv(path, dtype={"endpoint": str, "subgroup": str, "statistic": str,
                                     "method": str, "flag": str}, keep_default_na=False,
                        na_values={c: [""] for c in ("time_days", "estimate", "ci_lower",
                                                     "ci_upper", "n", "events")})
    for column in ("n", "events"):
        frame[column] = frame[column].astype("Int64")
    return frame

"""One qualification check: what it compares, against which reference, at which tolerance,
the largest difference found and the result; and the comparisons that make one."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

import pandas as pd

TOLERANCE = 1e-6  # suite against R: absolute, as the reference tests and the README state
EXACT = "exact"


@dataclass(frozen=True)
class Check:
    """One line of the qualification report and one object of ``qualification.json``."""

    id: str  # unique, e.g. "example.km.PFS.All"
    section: str  # the report's section, e.g. "Reference cases: example cut"
    what: str  # what it compares, in words
    source: str  # the reference's source (file and the R code or rule that made it)
    tolerance: str  # "1e-06 absolute; counts and flags exact", "exact", ...
    largest_difference: float | None  # None when nothing numeric was compared
    result: str  # "pass" or "fail"
    detail: str = ""  # why it failed (empty when it passed)

    @property
    def passed(self) -> bool:
        return self.result == "pass"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Comparison:
    """The values one check compares: their count, the largest difference, every problem."""

    compared: int = 0
    largest: float | None = None
    problems: list[str] = field(default_factory=list)

    def _difference(self, difference: float) -> None:
        self.largest = difference if self.largest is None else max(self.largest, difference)

    def close(self, label: str, got: Iterable[Any], want: Iterable[Any],
              tolerance: float = TOLERANCE) -> None:
        """Numbers equal within ``tolerance`` (absolute), missing (NE) exactly where the
        reference has NA."""
        got, want = [_number(v) for v in got], [_number(v) for v in want]
        if len(got) != len(want):
            self.problems.append(f"{label}: {len(got)} values, the reference has {len(want)}")
            return
        for index, (a, b) in enumerate(zip(got, want)):
            self.compared += 1
            if math.isnan(a) or math.isnan(b):
                if math.isnan(a) != math.isnan(b):
                    self.problems.append(f"{label} [{index + 1}]: {_shown(a)}, reference "
                                         f"{_shown(b)} (NE/NA in only one)")
                continue
            difference = abs(a - b)
            self._difference(difference)
            if not difference <= tolerance:
                self.problems.append(f"{label} [{index + 1}]: {a!r}, reference {b!r} "
                                     f"(differs by {difference:.3g} > {tolerance:g})")

    def equal(self, label: str, got: Iterable[Any], want: Iterable[Any]) -> None:
        """Values equal exactly: counts (as numbers), flags and categories (as text)."""
        got, want = [_value(v) for v in got], [_value(v) for v in want]
        if len(got) != len(want):
            self.problems.append(f"{label}: {len(got)} values, the reference has {len(want)}")
            return
        for index, (a, b) in enumerate(zip(got, want)):
            self.compared += 1
            if isinstance(a, float) and isinstance(b, float):
                self._difference(abs(a - b))
            if a != b:
                self.problems.append(f"{label} [{index + 1}]: {a!r}, reference {b!r}")

    def columns(self, got: pd.DataFrame, want: pd.DataFrame, *, close: Iterable[str] = (),
                equal: Iterable[str] = ()) -> None:
        """The same columns of two frames, row for row: ``close`` as numbers within the
        tolerance, ``equal`` exactly (a missing flag equals "")."""
        for column in close:
            self.close(column, got[column], want[column])
        for column in equal:
            self.equal(column, got[column], want[column])

    def check(self, id: str, section: str, what: str, source: str,
              tolerance: str = f"{TOLERANCE:g} absolute; counts and flags exact") -> Check:
        """The check these comparisons make: passed when something was compared and every
        value agreed (a check that compared nothing fails: it proves nothing)."""
        problems = self.problems or ([] if self.compared else ["nothing was compared"])
        return Check(id, section, what, source, tolerance, self.largest,
                     "fail" if problems else "pass", "; ".join(problems[:5])
                     + (f"; and {len(problems) - 5} more" if len(problems) > 5 else ""))


def outcome(holds: bool, id: str, section: str, what: str, source: str, detail: str,
            tolerance: str = EXACT) -> Check:
    """A check that holds or not as a whole (``detail``: what is wrong when it does not)."""
    return Check(id, section, what, source, tolerance, None, "pass" if holds else "fail",
                 "" if holds else detail)


def failed(id: str, section: str, what: str, source: str, detail: str,
           tolerance: str = EXACT) -> Check:
    return Check(id, section, what, source, tolerance, None, "fail", detail)


def passed(id: str, section: str, what: str, source: str, tolerance: str = EXACT,
           largest_difference: float | None = None) -> Check:
    return Check(id, section, what, source, tolerance, largest_difference, "pass")


def _number(value: Any) -> float:
    return math.nan if _missing(value) else float(value)


def _value(value: Any) -> Any:
    """Numbers as floats (30 == 30.0), missing as "", text as text."""
    if _missing(value):
        return ""
    if isinstance(value, (bool, str)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _missing(value: Any) -> bool:
    return isinstance(value, str) and value == "" or (not isinstance(value, str)
                                                      and bool(pd.isna(value)))


def _shown(value: float) -> str:
    return "NA" if math.isnan(value) else repr(value)

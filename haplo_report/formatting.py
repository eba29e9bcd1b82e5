"""Formatting of reported numbers, in one place, for tables, running text and the synopsis.

One style throughout: a confidence interval is "(lower, upper)" after its estimate, "72.4
(53.1, 84.9)" in tables and "72.4% (95% CI 53.1, 84.9)" in text; quartiles likewise,
"37.0 (32.0, 44.8)" (one number of decimals within a statistic); a range is "low–high" with an en dash, "13 (10–16)" after a median;
statistics of whole-number data (age in years, days) without decimals when they are whole;
"NE" for what cannot be estimated.
"""

from __future__ import annotations

import math
import re

NE = "NE"  # one meaning (SAP v2): not estimable, the time point is beyond follow-up
NO_CI = "-"  # an undefined confidence interval, never "NE" (SAP v2)
NO_CI_NOTE = ("-: CI not defined (an estimate of 0% or 100%, e.g. no events by then, has no "
              "confidence interval on the log(-log) scale).")
NOT_REACHED = "Not reached"
EN_DASH = "\u2013"
AT_LEAST = "\u2265"  # "≥3" reads better than ">= 3"; Libertinus (PDF) and web fonts have it
PLUS_MINUS = "\u00b1"


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_number(value: float | None, decimals: int = 1) -> str:
    """A number with fixed decimals; "NE" when missing."""
    if _missing(value):
        return NE
    return f"{value:.{decimals}f}"


def fmt_percent(value: float | None, decimals: int = 1) -> str:
    """A proportion (0-1) as a percentage without the % sign; "NE" when missing."""
    return NE if _missing(value) else fmt_number(100 * value, decimals)


def fmt_ci(lower: float | None, upper: float | None, *, percent: bool = True,
           decimals: int = 1) -> str:
    """A confidence interval as "(l, u)"; each missing limit shows as "NE"."""
    fmt = fmt_percent if percent else fmt_number
    return f"({fmt(lower, decimals)}, {fmt(upper, decimals)})"


def fmt_estimate_ci(estimate: float | None, lower: float | None, upper: float | None, *,
                    percent: bool = True, decimals: int = 1) -> str:
    """Estimate with its 95% CI, e.g. "72.4 (53.1, 84.9)"; "NE" when not estimable.

    An estimate without either limit (0% incidence or 100% survival, where the CI formula is
    undefined) reads "0.0 (-)": CI not defined (see :data:`NO_CI_NOTE`), never "NE".
    """
    if _missing(estimate):
        return NE
    fmt = fmt_percent if percent else fmt_number
    if _missing(lower) and _missing(upper):
        return f"{fmt(estimate, decimals)} ({NO_CI})"
    return f"{fmt(estimate, decimals)} {fmt_ci(lower, upper, percent=percent, decimals=decimals)}"


def fmt_ci_words(lower: float | None, upper: float | None, *, percent: bool = True,
                 decimals: int = 1) -> str:
    """A 95% CI for running text, limits as in tables: "95% CI 53.1, 84.9"; "95% CI not
    defined" when both limits are missing (one missing limit shows as "NE")."""
    if _missing(lower) and _missing(upper):
        return "95% CI not defined"
    fmt = fmt_percent if percent else fmt_number
    return f"95% CI {fmt(lower, decimals)}, {fmt(upper, decimals)}"


def fmt_count_percent(count: int, total: int, decimals: int = 1) -> str:
    """A count with its percentage of the total, e.g. "12 (38.7)"; "0" when the count is 0."""
    if count == 0 or total == 0:
        return str(count)
    return f"{count} ({100 * count / total:.{decimals}f})"


def fmt_fraction(count: int, total: int) -> str:
    """A proportion's numerator over its denominator, e.g. "14/25"."""
    return f"{count}/{total}"


def fmt_p_value(p: float | None) -> str:
    """A p-value with three decimals, "<0.001" below that; "NE" when missing."""
    if _missing(p):
        return NE
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_days(value: float | None) -> str:
    """A time in days as a whole number; "NE" when missing."""
    return fmt_number(value, 0)


def fmt_whole(value: float | None, decimals: int = 1) -> str:
    """A statistic of whole-number data (age in years, days): "37" when whole, otherwise with
    ``decimals`` ("44.8", an interpolated quartile); "NE" when missing."""
    if _missing(value):
        return NE
    return fmt_number(value, 0 if float(value).is_integer() else decimals)


def fmt_whole_together(values: list[float | None], decimals: int = 1) -> list[str]:
    """The numbers of one statistic of whole-number data with one number of decimals: none
    when every one is whole, else ``decimals`` for all ("37.0 (32.0, 44.8)", never "37 (32,
    44.8)"); "NE" for a missing one."""
    whole = all(_missing(v) or float(v).is_integer() for v in values)
    return [fmt_number(v, 0 if whole else decimals) for v in values]


def fmt_range(low: float | None, high: float | None, decimals: int = 1) -> str:
    """A range as "low–high" (en dash); each missing end shows as "NE"."""
    return f"{fmt_number(low, decimals)}{EN_DASH}{fmt_number(high, decimals)}"


def fmt_median_range(median: float | None, low: float | None, high: float | None,
                     decimals: int = 0) -> str:
    """A median with its range, "13 (10–16)"; the median alone when the range is unknown."""
    if _missing(low) and _missing(high):
        return fmt_number(median, decimals)
    return f"{fmt_number(median, decimals)} ({fmt_range(low, high, decimals)})"


SUPERSCRIPT = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3"
                                                 "\u2074\u2075\u2076\u2077\u2078\u2079")


def fmt_scientific(value: float | None, digits: int = 1) -> str:
    """A small fraction (e.g. an MRD level) as "2.3×10⁻³" (readers stumble over "2.3E-03");
    "0" for zero; "NE" when missing."""
    if _missing(value):
        return NE
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.{digits}e}".split("e")
    return f"{mantissa}\u00d710{str(int(exponent)).translate(SUPERSCRIPT)}"


def fmt_quantile_ci(estimate: float | None, lower: float | None, upper: float | None) -> str:
    """A Kaplan-Meier median or quartile in days with its 95% CI; a missing estimate means the
    curve never fell that low: "Not reached (337, NE)", or "Not reached" without any limit."""
    if _missing(estimate):
        if _missing(lower) and _missing(upper):
            return NOT_REACHED
        return f"{NOT_REACHED} {fmt_ci(lower, upper, percent=False, decimals=0)}"
    return fmt_estimate_ci(estimate, lower, upper, percent=False, decimals=0)


def escape_markdown(text: str) -> str:
    """``text`` (data or a parameter) as literal Markdown text, the one escape of free text for
    Pandoc and Quarto (HTML, Word and Typst/PDF), with backslashes (Pandoc's Markdown allows
    one before any ASCII punctuation): every character that can open markup anywhere (HTML
    tags, comments and entities, so ``&amp;`` stays ``&amp;``; emphasis; code; links; math;
    sub/superscript; citations; quotes), ``_`` unless inside a word (Pandoc keeps
    ``01_population`` as typed), and ``- . : = +`` where they are markup: doubled (``--`` a
    dash, ``...`` an ellipsis, ``:::`` a div) or at the start (a list item, ``1.``). A table's
    ``|`` stays inside its cell; a line break becomes a space (issue 28)."""
    escaped = _MARKUP.sub(r"\\\g<0>", " ".join(str(text).splitlines()))
    return _LIST_NUMBER.sub(r"\1\\.", escaped)


_MARKUP = re.compile(
    r"""[\\`*\[\]<>&|$~^@{}#"']"""  # always markup
    r"|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])"  # "_" except inside a word
    r"|([-.:=+])(?=\1)|(?<=([-.:=+]))(?=\2)[-.:=+]"  # doubled: "--", "...", ":::", "=="
    r"|^[-.:=+]")  # first: a list item, a div, a header underline
_LIST_NUMBER = re.compile(r"^([0-9]+)\.(?=\s|$)")  # "1. " at the start: an ordered list

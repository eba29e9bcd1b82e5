"""Free text from the data and the parameters: what is refused, and one escape per format.

Text from a data cut or a parameter file is shown literally in every output: never markup,
code or a formula. Each output format has one function here, applied at its boundary:

- :func:`hidden_character`: the spec refuses text holding control, format (bidirectional
  controls such as U+202E, zero-width characters), private-use or unassigned characters
  (validation names the row; parameters are refused with one line). Such characters reorder or
  hide text, and break XML, RTF and text layout, so they never reach an output.
- ``formatting.escape_markdown``: text for Pandoc Markdown (HTML, PDF through Typst, DOCX):
  each punctuation character that can be markup backslash-escaped, so ``<b>``, ``&amp;``,
  ``_i_``, ``--``, ``@x`` and ``$x$`` stay as typed (``render.markdown.write_markdown`` writes
  every text node of the report document through it).
- :func:`spreadsheet_safe` / :func:`spreadsheet_safe_frame`: CSV cells a spreadsheet would run as
  a formula (text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) get a
  leading single quote, as OWASP recommends (a spreadsheet shows the quote: ``'=1+1``); numbers
  stay numbers; text starting with a quote gets one more, so :func:`spreadsheet_value` reverses
  it exactly.

RTF (rtflite escapes), DOCX (python-docx writes text nodes), XML (lxml) and JSON escape text
themselves.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

# Unicode categories refused in text: control (Cc), format (Cf: bidirectional controls,
# zero-width characters), surrogate (Cs), private use (Co), unassigned (Cn), line and
# paragraph separators (Zl, Zp).
NOT_PRINTABLE: frozenset[str] = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
PRINTABLE_RULE = ("must be printable text: no line breaks, tabs or other control characters, "
                  "no bidirectional or zero-width characters")
# OWASP "CSV injection": cells starting with these are formulas to Excel, LibreOffice, Sheets.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
_QUOTED = (*FORMULA_START, QUOTE)
# Not formulas: numbers ("-0.2", "+1e-3") and a lone "-" (a table's "not defined").
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|-")


def hidden_character(text: str) -> str | None:
    """The first character of ``text`` that is not printable (:data:`NOT_PRINTABLE`), as
    ``U+XXXX``, or None."""
    for char in text:
        if unicodedata.category(char) in NOT_PRINTABLE:
            return f"U+{ord(char):04X}"
    return None


def spreadsheet_safe(value: object) -> object:
    """A CSV cell a spreadsheet shows as typed: text starting like a formula (or with the
    quote itself, so :func:`spreadsheet_value` can undo it) gets a leading ``'`` (OWASP);
    numbers (``-0.2``), other text and missing values are returned unchanged."""
    if (not isinstance(value, str) or not value.startswith(_QUOTED)
            or _NUMBER.fullmatch(value)):
        return value
    return QUOTE + value


def spreadsheet_value(cell: str) -> str:
    """The text :func:`spreadsheet_safe` was given (for the suite's own reading of its CSVs)."""
    if cell.startswith(QUOTE) and cell[1:].startswith(_QUOTED):
        return cell[1:]
    return cell


def spreadsheet_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with :func:`spreadsheet_safe` applied to every text cell and column name
    (vectorised: derived datasets have a million rows at registry size)."""
    import pandas as pd  # noqa: PLC0415  (params.py imports this module; the fast path no pandas)

    out = frame.copy()
    for position in range(out.shape[1]):
        column = out.iloc[:, position]
        if not (column.dtype == object or isinstance(column.dtype, pd.StringDtype)):
            continue
        text = column.astype("string")
        risky = (text.str.startswith(_QUOTED).fillna(False)
                 & ~text.str.fullmatch(_NUMBER.pattern).fillna(False)).to_numpy(dtype=bool)
        if risky.any():
            fixed = column.astype(object).copy()
            fixed[risky] = QUOTE + text[risky].astype(object)
            out.isetitem(position, fixed.astype(column.dtype))
    out.columns = [spreadsheet_safe(c) for c in out.columns]
    return out

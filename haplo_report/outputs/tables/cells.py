"""Section 14 as cells (table, row, column, text), and the cells that differ between two
versions of it: what a comparison of two data cuts lists for the medical writer.

A row is named by its label with the labels of the rows it sits under ("Infections and
infestations > Cytomegalovirus infection reactivation"); a label repeated under one parent is
numbered ("Day 100 [2]"). A column is named by its header; the headers themselves are the
row "(column header)", so a changed N is a changed cell too. Columns are matched by position
(their headers carry N, which may change).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from haplo_report.analysis.results import ResultRow, results_frame
from haplo_report.outputs.tables import (table_14_1_1, table_14_1_2, table_14_1_3,
                                         table_14_1_4, table_14_2_1, table_14_2_2,
                                         table_14_2_3, table_14_2_4, table_14_2_5,
                                         table_14_2_6, table_14_2_7, table_14_2_8,
                                         table_14_2_9, table_14_2_10, table_14_3_1,
                                         table_14_3_2, table_14_3_3, table_14_3_4,
                                         table_14_3_5, table_14_3_6, table_14_3_7,
                                         table_14_3_8, table_14_3_9, table_14_3_10)
from haplo_report.outputs.tables.core import LEVEL_COLUMN, Table

HEADER_ROW = "(column header)"
PATH_SEPARATOR = " > "
CELL_COLUMNS = ["table", "row", "position", "column", "text"]
CHANGE_COLUMNS = ["table", "row", "column", "previous", "current", "cause"]
SECTION = "14."  # the numbered tables compared (listings are per patient: not cells)

# Each notebook's tables in report order, with the input table each needs (None: always made).
CHAPTER_TABLES = {
    "01_population": ((table_14_1_1, None), (table_14_1_2, None), (table_14_1_3, None),
                      (table_14_1_4, None)),
    "03_pfs": ((table_14_2_1, None), (table_14_2_2, None)),
    "04_os": ((table_14_2_3, None), (table_14_2_4, None)),
    "05_relapse_nrm": ((table_14_2_5, None), (table_14_2_6, None)),
    "06_mrd": ((table_14_2_7, "mrd"), (table_14_2_8, "mrd")),
    "07_grfs": ((table_14_2_9, None), (table_14_2_10, None)),
    "08_acute_gvhd": ((table_14_3_1, "gvhd"), (table_14_3_2, "gvhd")),
    "09_chronic_gvhd": ((table_14_3_3, "gvhd"), (table_14_3_4, "gvhd")),
    "10_engraftment": ((table_14_3_5, "engraftment"),),
    "11_safety": ((table_14_3_6, "adverse_events"), (table_14_3_7, "adverse_events"),
                  (table_14_3_8, "adverse_events"), (table_14_3_9, "adverse_events"),
                  (table_14_3_10, None)),
}


def section_14_tables(rows: dict[str, list[ResultRow]], data_cut: str,
                      supplied: dict[str, int | None], ltfu_days: int) -> list[Table]:
    """The numbered tables the notebooks make from their result rows ``rows`` (by notebook),
    as the report shows them."""
    tables = []
    for notebook, builders in CHAPTER_TABLES.items():
        if notebook not in rows:
            continue
        frame = results_frame(rows[notebook])  # once, not once per table
        for build, needs in builders:
            if needs is not None and supplied.get(needs) is None:
                continue
            extra = {"ltfu_days": ltfu_days} if build is table_14_1_1 else {}
            tables.append(build(frame, data_cut, **extra))
    return tables


def table_cells(number: str, columns: Sequence[str], levels: Sequence[int],
           rows: Iterable[Sequence[str]]) -> pd.DataFrame:
    """One table's cells (the first column is the row label, not a cell)."""
    found = [(number, HEADER_ROW, position, header, header)
             for position, header in enumerate(columns) if position > 0]
    parents: list[str] = []
    seen: dict[str, int] = {}
    for level, row in zip(levels, rows):
        parents = [*parents[:level], str(row[0])]
        name = PATH_SEPARATOR.join(parents)
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name} [{seen[name]}]"
        found += [(number, name, position, columns[position], str(text))
                  for position, text in enumerate(row) if position > 0]
    return pd.DataFrame(found, columns=CELL_COLUMNS)


def tables_cells(tables: Iterable[Table]) -> pd.DataFrame:
    """The cells of ``tables``."""
    frames = [table_cells(t.number, t.columns, t.levels, t.rows) for t in tables]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=CELL_COLUMNS)


def folder_cells(folder: Path) -> pd.DataFrame:
    """The cells of the section 14 tables written in ``folder`` (``<number>.csv``, as
    :meth:`Table.to_csv` writes them)."""
    frames = []
    for path in sorted(Path(folder).glob(f"{SECTION}*.csv")):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        frames.append(table_cells(path.stem, list(frame.columns[1:]),
                             [int(level) for level in frame[LEVEL_COLUMN]],
                             frame.iloc[:, 1:].itertuples(index=False)))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=CELL_COLUMNS)


def _table_order(number: str) -> tuple[int, ...]:
    return tuple(int(part) for part in number.split("."))


def _differences(before: pd.DataFrame, after: pd.DataFrame, cause: str) -> pd.DataFrame:
    """Cells whose text differs from ``before`` to ``after`` (a cell missing on one side is
    empty there), in table order, then in the order of ``before`` (cells only in ``after``
    last, in their order)."""
    key = ["table", "row", "position"]
    before = before.assign(_first=range(len(before)))
    after = after.assign(_second=range(len(after)))
    merged = before.merge(after, on=key, how="outer", suffixes=("_before", "_after"))
    merged[["text_before", "text_after"]] = merged[["text_before", "text_after"]].fillna("")
    changed = merged[merged["text_before"] != merged["text_after"]].copy()
    changed["column"] = changed["column_after"].fillna(changed["column_before"])
    changed["order"] = [(_table_order(table), first if pd.notna(first) else len(before) + second)
                        for table, first, second in zip(changed["table"], changed["_first"],
                                                        changed["_second"])]
    changed = changed.sort_values("order", kind="stable")
    return pd.DataFrame({"table": changed["table"], "row": changed["row"],
                         "column": changed["column"], "previous": changed["text_before"],
                         "current": changed["text_after"], "cause": cause}
                        ).reset_index(drop=True)


def cell_changes(previous: pd.DataFrame, corrected: pd.DataFrame,
                 reparametrised: pd.DataFrame) -> pd.DataFrame:
    """Section 14 cells that differ between the previous report (``previous``) and this
    export re-cut at the previous date: with the previous parameters (``corrected``; cause
    "corrections") and then with this run's (``reparametrised``; cause "parameters"). A cell
    changed by both is listed twice, each row with the text before and after its step."""
    return pd.concat([_differences(previous, corrected, "corrections"),
                      _differences(corrected, reparametrised, "parameters")],
                     ignore_index=True).reindex(columns=CHANGE_COLUMNS)

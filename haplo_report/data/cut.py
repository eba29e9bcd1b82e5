"""A validated data cut: one typed frame per table of the data-cut spec."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

REQUIRED_TABLES: tuple[str, ...] = ("subjects", "relapses", "deaths")
OPTIONAL_TABLES: tuple[str, ...] = ("gvhd", "mrd", "engraftment", "adverse_events")
TABLES: tuple[str, ...] = REQUIRED_TABLES + OPTIONAL_TABLES


@dataclass
class Cut:
    """Typed tables of one data cut, as read and validated (events after the cut still in).

    An optional table that was not supplied is ``None``; ``files`` maps each supplied table
    to the file it was read from.
    """

    subjects: pd.DataFrame
    relapses: pd.DataFrame
    deaths: pd.DataFrame
    gvhd: pd.DataFrame | None = None
    mrd: pd.DataFrame | None = None
    engraftment: pd.DataFrame | None = None
    adverse_events: pd.DataFrame | None = None
    files: dict[str, Path] = field(default_factory=dict)
    dropped: dict[str, list[str]] = field(default_factory=dict)  # extra columns left out

    def table(self, name: str) -> pd.DataFrame | None:
        """The table called ``name`` (None when an optional table was not supplied)."""
        return getattr(self, name)

    def supplied(self) -> dict[str, int | None]:
        """Rows per table; None for a table that was not supplied."""
        return {name: None if self.table(name) is None else len(self.table(name))
                for name in TABLES}

    def summary(self) -> str:
        """One line: rows per supplied table and which optional tables are missing."""
        parts = [f"{name} {rows}" for name, rows in self.supplied().items() if rows is not None]
        missing = [name for name, rows in self.supplied().items() if rows is None]
        text = ", ".join(parts)
        text += f"; not supplied: {', '.join(missing)}" if missing else ""
        return text + (f"; {dropped_note(self.dropped)}" if self.dropped else "")


def dropped_note(dropped: dict[str, list[str]]) -> str:
    """One line naming the extra columns left out of the analysis, by table."""
    named = "; ".join(f"{table} {', '.join(columns)}" for table, columns in dropped.items())
    return f"columns not in the data-cut spec, checked for identifiers and left out: {named}"


def write_tables(cut: Cut, folder: Path) -> None:
    """Each supplied table of ``cut`` as ``<table>.parquet`` in ``folder``: the validated,
    typed input of a run, kept in its run folder so the run can be re-derived from it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        frame = cut.table(name)
        if frame is not None:
            frame.to_parquet(folder / f"{name}.parquet", index=False)


def read_tables(folder: Path) -> Cut:
    """The :class:`Cut` written by :func:`write_tables` (a table without a file: not supplied)."""
    folder = Path(folder)
    files = {name: folder / f"{name}.parquet" for name in TABLES
             if (folder / f"{name}.parquet").is_file()}
    missing = [name for name in REQUIRED_TABLES if name not in files]
    if missing:
        raise FileNotFoundError(f"{folder}: input table(s) not found: {', '.join(missing)}")
    return Cut(**{name: pd.read_parquet(path) for name, path in files.items()}, files=files)

"""Small checks and filters on analysis frames, shared by the modules that read them."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd


def require_columns(frame: pd.DataFrame, columns: Iterable[str], name: str,
                    error: type[Exception] = ValueError) -> None:
    """Raise ``error`` naming every column of ``columns`` that ``frame`` lacks (sorted)."""
    missing = sorted(set(columns) - set(frame.columns))
    if missing:
        raise error(f"{name} lacks column(s) {', '.join(missing)}")


def flagged(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Rows whose ADaM flag ``column`` is "Y" (missing counts as not flagged)."""
    return frame[frame[column].astype("string").eq("Y").fillna(False)]

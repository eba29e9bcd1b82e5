"""Checks of estimator inputs: bad input is a clear ``StatsInputError``, never a traceback."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


class StatsInputError(ValueError):
    """Estimator input that cannot be analysed; the message names the problem."""


def as_times(time: npt.ArrayLike, name: str = "time") -> np.ndarray:
    """Times as a 1-d float array: finite, >= 0, not empty."""
    try:
        values = np.asarray(time, dtype=float)
    except (TypeError, ValueError) as error:
        raise StatsInputError(f"{name} must be numeric: {error}") from None
    if values.ndim != 1:
        raise StatsInputError(f"{name} must be one-dimensional, got shape {values.shape}")
    if values.size == 0:
        raise StatsInputError(f"{name} is empty: no patients to analyse")
    if not np.all(np.isfinite(values)):
        raise StatsInputError(f"{name} has {int(np.sum(~np.isfinite(values)))} missing or "
                              "infinite value(s)")
    if np.any(values < 0):
        raise StatsInputError(f"{name} has negative value(s), e.g. {values[values < 0][0]:g}")
    return values


def as_codes(codes: npt.ArrayLike, size: int, name: str, allowed: str) -> np.ndarray:
    """Integer event codes of the given length; ``allowed`` is "binary" (0/1) or "types" (>= 0)."""
    try:
        values = np.asarray(codes, dtype=float)
    except (TypeError, ValueError) as error:
        raise StatsInputError(f"{name} must be numeric: {error}") from None
    if values.shape != (size,):
        raise StatsInputError(f"{name} has shape {values.shape}, expected ({size},) like time")
    if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
        raise StatsInputError(f"{name} must hold whole numbers without missing values")
    ints = values.astype(np.int64)
    if allowed == "binary" and np.any((ints != 0) & (ints != 1)):
        raise StatsInputError(f"{name} must be 0 (censored) or 1 (event), got "
                              f"{sorted(set(ints[(ints != 0) & (ints != 1)].tolist()))}")
    if allowed == "types" and np.any(ints < 0):
        raise StatsInputError(f"{name} must be 0 (censored) or a positive event type")
    return ints


def as_groups(group: npt.ArrayLike, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Group labels as (sorted levels, integer code per patient); at least two levels."""
    values = np.asarray(group)
    if values.shape != (size,):
        raise StatsInputError(f"group has shape {values.shape}, expected ({size},) like time")
    if values.dtype.kind in "fc" and np.any(np.isnan(values)):
        raise StatsInputError("group has missing values")
    if values.dtype == object and any(v is None or v != v for v in values):
        raise StatsInputError("group has missing values")
    levels, codes = np.unique(values.astype(str) if values.dtype == object else values,
                              return_inverse=True)
    if levels.size < 2:
        raise StatsInputError(f"a comparison needs at least two groups, got {levels.tolist()}")
    return levels, codes

"""Cumulative incidence (Aalen-Johansen) with cmprsk's variance and the SAP's CI.

Written by hand: lifelines' AalenJohansenFitter breaks tied times with random jitter and
uses another variance. This follows cmprsk's ``cinc`` (Fortran) exactly: all events at t
count at t, patients censored at t are at risk at t, day-0 events count; the variance is
the Aalen-type estimate cmprsk reports, updated at event times of the cause of interest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from haplo_report.analysis.stats.inputs import StatsInputError, as_codes, as_times
from haplo_report.analysis.stats.km import TABLE_COLUMNS, Z95, curve_at

CIF_COLUMNS = TABLE_COLUMNS[:3] + ["n_competing"] + TABLE_COLUMNS[3:]


@dataclass(frozen=True)
class CIFFit:
    """A fitted cumulative incidence curve of one cause: one row per distinct time."""

    table: pd.DataFrame
    cause: int
    n: int
    events: int


def cif_ci(estimate: np.ndarray, se: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """95% CI est^exp(-/+ z se / (est log est)) (SAP); NaN where est is 0 or 1."""
    est = np.where((estimate > 0) & (estimate < 1), estimate, np.nan)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        k = Z95 * se / (est * np.log(est))
        return est ** np.exp(-k), est ** np.exp(k)


def _tie_factor(deaths: np.ndarray, n_risk: np.ndarray) -> np.ndarray:
    """cmprsk's correction for tied events: 1 - (d - 1) / (n - 1) when d > 1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(deaths > 1, 1 - (deaths - 1) / (n_risk - 1.0), 1.0)


def cumulative_incidence(time: npt.ArrayLike, event_type: npt.ArrayLike,
                         cause: int = 1) -> CIFFit:
    """Aalen-Johansen cumulative incidence of ``cause``; ``event_type`` 0 is censored and
    every other positive code a competing event."""
    time = as_times(time)
    event_type = as_codes(event_type, time.size, "event_type", "types")
    if cause < 1:
        raise StatsInputError(f"cause must be a positive event type, got {cause}")
    times, index = np.unique(time, return_inverse=True)
    total = np.bincount(index)
    d1 = np.bincount(index, weights=event_type == cause).astype(np.int64)
    d2 = np.bincount(index, weights=(event_type > 0) & (event_type != cause)).astype(np.int64)
    rs = (time.size - np.concatenate(([0], np.cumsum(total)[:-1]))).astype(float)
    surv = np.cumprod(1 - (d1 + d2) / rs)  # all-cause KM, right-continuous
    surv_before = np.concatenate(([1.0], surv[:-1]))
    # rounding can push a sum that is exactly 1 (everyone failed of the cause) just above 1
    estimate = np.minimum(np.cumsum(surv_before * d1 / rs), 1.0)

    # cmprsk cinc: accumulators v1, v2, v3 over event times, with the estimate at that time
    t3 = np.divide(1.0, surv, out=np.zeros_like(surv), where=surv > 0)
    w1 = surv_before**2 * _tie_factor(d1, rs) * d1 / rs**2
    w2 = np.where(surv > 0, surv_before**2 * _tie_factor(d2, rs) * d2 / rs**2, 0.0)
    t4_cause = 1 + t3 * estimate
    t4_other = estimate * t3
    v1 = np.cumsum(t4_cause**2 * w1 + t4_other**2 * w2)
    v2 = np.cumsum(t3 * t4_cause * w1 + t3 * t4_other * w2)
    v3 = np.cumsum(t3**2 * (w1 + w2))
    at_cause = v1 + estimate**2 * v3 - 2 * estimate * v2
    # cmprsk reports the variance only at event times of the cause, constant in between
    last = np.maximum.accumulate(np.where(d1 > 0, np.arange(times.size), -1))
    variance = np.where(last >= 0, at_cause[np.maximum(last, 0)], 0.0)
    se = np.sqrt(np.maximum(variance, 0.0))
    lower, upper = cif_ci(estimate, se)
    table = pd.DataFrame({"time": times, "n_risk": rs.astype(np.int64), "n_event": d1,
                          "n_competing": d2, "n_censor": total - d1 - d2,
                          "estimate": estimate, "se": se, "ci_lower": lower,
                          "ci_upper": upper}, columns=CIF_COLUMNS)
    return CIFFit(table=table, cause=int(cause), n=int(time.size), events=int(d1.sum()))


def cif_at(fit: CIFFit, times: npt.ArrayLike) -> pd.DataFrame:
    """Cumulative incidence at landmarks: 0 (CI NE) before the first event, NaN with flag
    "NE" beyond the last observed time; ``events`` counts events of the cause up to t."""
    return curve_at(fit.table, times, before_first=0.0)

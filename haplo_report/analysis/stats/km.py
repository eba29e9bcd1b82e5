"""Kaplan-Meier estimate with Greenwood SE and log(-log) CI, landmarks and quantiles.

Written with numpy rather than lifelines' KaplanMeierFitter: its point estimate agrees with
R, but it reports no SE of S, gives CI limits where R's log(-log) formula is undefined
(S = 0 or 1) and has no Brookmeyer-Crowley quantile CI. The rules below are R survival's
(``survfit(..., conf.type = "log-log")``, ``quantile.survfit``), checked against it in
``haplo_report/qualification/reference/``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import ndtri  # scipy.stats costs ~0.6 s to import

from haplo_report.analysis.stats.inputs import StatsInputError, as_codes, as_times

Z95 = float(ndtri(0.975))
NOT_ESTIMABLE = "NE"
TABLE_COLUMNS = ["time", "n_risk", "n_event", "n_censor", "estimate", "se", "ci_lower",
                 "ci_upper"]
AT_COLUMNS = ["time", "estimate", "se", "ci_lower", "ci_upper", "n_risk", "events", "flag"]
# quantile.survfit's tolerance for "S equals p" (flat stretches, midpoint rule)
QUANTILE_TOLERANCE = float(np.sqrt(np.finfo(float).eps))


@dataclass(frozen=True)
class KMFit:
    """A fitted Kaplan-Meier curve: one table row per distinct observed time."""

    table: pd.DataFrame
    n: int
    events: int


def event_table(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, ...]:
    """Distinct times with at-risk, event and censored counts (ties: events first, all at t)."""
    times, index = np.unique(time, return_inverse=True)
    total = np.bincount(index)
    n_event = np.bincount(index, weights=event).astype(np.int64)
    n_risk = time.size - np.concatenate(([0], np.cumsum(total)[:-1]))
    return times, n_risk, n_event, total - n_event


def loglog_ci(estimate: np.ndarray, se_log: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """95% CI of a survival probability on the log(-log) scale; NaN where S is 0 or 1.

    ``se_log`` is the SE of log S (sqrt of Greenwood's sum), as in R survfit_confint.
    """
    s = np.where((estimate > 0) & (estimate < 1), estimate, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = Z95 * se_log / np.log(s)
        loglog = np.log(-np.log(s))
        return np.exp(-np.exp(loglog - shift)), np.exp(-np.exp(loglog + shift))


def km_estimate(time: npt.ArrayLike, event: npt.ArrayLike) -> KMFit:
    """Kaplan-Meier estimate of S(t); ``event`` is 1 for an event, 0 for censored."""
    time = as_times(time)
    event = as_codes(event, time.size, "event", "binary")
    times, n_risk, n_event, n_censor = event_table(time, event)
    estimate = np.cumprod(1.0 - n_event / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Greenwood; infinite once everyone at risk has failed (S = 0: SE NaN, as in R)
        term = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
        se_log = np.sqrt(np.cumsum(term))
        se = np.where(estimate > 0, estimate * se_log, np.nan)
    lower, upper = loglog_ci(estimate, se_log)
    table = pd.DataFrame({"time": times, "n_risk": n_risk, "n_event": n_event,
                          "n_censor": n_censor, "estimate": estimate, "se": se,
                          "ci_lower": lower, "ci_upper": upper}, columns=TABLE_COLUMNS)
    return KMFit(table=table, n=int(time.size), events=int(event.sum()))


def curve_at(table: pd.DataFrame, times: npt.ArrayLike, before_first: float) -> pd.DataFrame:
    """A step curve (KM or CIF table) read at landmarks with the SAP rule.

    Before the first time the estimate is ``before_first`` with SE 0 and CI NaN; beyond the
    last observed time it is NaN with flag "NE" (never carried forward), except (SAP v2) when
    nobody is censored at the last observed time: then every outcome is known, the curve is
    determined and its last value (with its CI) is reported.
    """
    landmarks = np.asarray(times, dtype=float).reshape(-1)
    if np.any(~np.isfinite(landmarks)):
        raise StatsInputError("landmark times must be finite numbers")
    row = np.searchsorted(table["time"].to_numpy(), landmarks, side="right") - 1
    before = row < 0
    safe = np.where(before, 0, row)
    determined = int(table["n_censor"].iloc[-1]) == 0
    past = (landmarks > table["time"].iloc[-1]) & (not determined)
    columns = {}
    for name, fill in (("estimate", before_first), ("se", 0.0), ("ci_lower", np.nan),
                       ("ci_upper", np.nan)):
        values = np.where(before, fill, table[name].to_numpy()[safe])
        columns[name] = np.where(past, np.nan, values)
    n_risk = np.append(table["n_risk"].to_numpy(), 0)
    at_risk = n_risk[np.searchsorted(table["time"].to_numpy(), landmarks, side="left")]
    events = np.concatenate(([0], np.cumsum(table["n_event"].to_numpy())))[row + 1]
    return pd.DataFrame({"time": landmarks, **columns, "n_risk": at_risk, "events": events,
                         "flag": np.where(past, NOT_ESTIMABLE, "")}, columns=AT_COLUMNS)


def km_at(fit: KMFit, times: npt.ArrayLike) -> pd.DataFrame:
    """S(t) at landmarks: estimate, SE, CI, at risk at t, cumulative events, flag "NE"."""
    return curve_at(fit.table, times, before_first=1.0)


def _first_reaching(y: np.ndarray, level: float) -> int | None:
    """Index of the first non-NaN ``y`` >= ``level`` (R approx(method="constant", f=1))."""
    hits = np.flatnonzero(~np.isnan(y) & (y >= level))
    valid = y[~np.isnan(y)]
    if hits.size == 0 or level < valid.min():
        return None
    return int(hits[0])


def _find_quantiles(x: np.ndarray, y: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Port of survival's internal ``findq``: times where 1 - S first reaches each p.

    Where 1 - S equals p (within tolerance) over a flat stretch, the quantile is the
    midpoint of that stretch; NaN where the curve never reaches p.
    """
    tol = QUANTILE_TOLERANCE
    if np.all(np.isnan(y)) or np.nanmax(y) < probs.min():
        return np.full(probs.size, np.nan)
    xmax = x[-1]
    keep = ~pd.Series(y).duplicated().to_numpy()  # NaN counts as one value, as in R
    x, y = x[keep], y[keep]
    out = np.full(probs.size, np.nan)
    for k, p in enumerate(probs):
        if p == 0:
            out[k] = x[0]
            continue
        first = _first_reaching(y + tol, p)
        second = _first_reaching(y - tol, p)
        if first is not None and not np.isnan(y[-1]) and abs(p - y[-1]) < tol:
            out[k] = (x[first] + xmax) / 2
        elif first is not None and second is not None:
            out[k] = (x[first] + x[second]) / 2
    return out


def km_quantiles(fit: KMFit, quantiles: tuple[float, ...] = (0.25, 0.5, 0.75)) -> pd.DataFrame:
    """Survival-time quantiles with Brookmeyer-Crowley 95% CI on the log(-log) scale.

    ``quantile`` q is the time where S falls to 1 - q (0.5: the median), as R's
    ``quantile(survfit(...))``; the CI limits are the same quantile of the CI curves.
    """
    probs = np.asarray(quantiles, dtype=float)
    if np.any((probs < 0) | (probs > 1)):
        raise StatsInputError(f"quantiles must lie in [0, 1], got {list(quantiles)}")
    table = fit.table
    x = np.concatenate(([0.0], table["time"].to_numpy()))

    def at(curve: str) -> np.ndarray:
        return _find_quantiles(x, np.concatenate(([0.0], 1 - table[curve].to_numpy())), probs)

    return pd.DataFrame({"quantile": probs, "estimate": at("estimate"),
                         "ci_lower": at("ci_lower"), "ci_upper": at("ci_upper")})

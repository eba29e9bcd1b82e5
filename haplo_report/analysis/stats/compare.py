"""Exploratory group comparisons: log-rank test (R ``survdiff``) and Gray's test (cmprsk).

Both written with numpy over the distinct times (one sort, cumulative sums): no maintained
Python library has Gray's test, and lifelines' log-rank test does not drop empty groups
as ``survdiff`` does. Degrees of freedom and p-values follow the R functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import chdtrc  # chi-square upper tail; scipy.stats costs ~0.6 s to import

from haplo_report.analysis.stats.inputs import as_codes, as_groups, as_times


@dataclass(frozen=True)
class TestResult:
    """A chi-square test: statistic, degrees of freedom, p-value (NaN when not computable)."""

    __test__ = False  # not a pytest test class

    statistic: float
    df: int
    p_value: float


def _counts_by_time(time: np.ndarray, codes: np.ndarray, n_groups: int,
                    weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct times and a (times x groups) matrix of counts at each time."""
    times, index = np.unique(time, return_inverse=True)
    flat = np.bincount(index * n_groups + codes, weights=weights,
                       minlength=times.size * n_groups)
    return times, flat.reshape(times.size, n_groups)


def _at_risk(total: np.ndarray) -> np.ndarray:
    """At risk at each distinct time per group, from counts of all exits at each time."""
    return total.sum(axis=0) - np.cumsum(total, axis=0) + total


def _quadratic_form(score: np.ndarray, variance: np.ndarray) -> float:
    """score' inv(variance) score; NaN when the variance matrix is singular or not finite
    (every patient's outcome known at a time where a group's incidence reaches 1: 0/0)."""
    if not (np.all(np.isfinite(variance)) and np.all(np.isfinite(score))):
        return float("nan")
    if np.linalg.matrix_rank(variance) < variance.shape[0]:
        return float("nan")
    return float(score @ np.linalg.solve(variance, score))


def logrank_test(time: npt.ArrayLike, event: npt.ArrayLike,
                 group: npt.ArrayLike) -> TestResult:
    """Log-rank test of equal survival across groups, as R ``survdiff(rho = 0)``."""
    time = as_times(time)
    event = as_codes(event, time.size, "event", "binary")
    _, codes = as_groups(group, time.size)
    k = int(codes.max()) + 1
    _, total = _counts_by_time(time, codes, k)
    _, deaths = _counts_by_time(time, codes, k, weights=event.astype(float))
    n_g = _at_risk(total).astype(float)
    n = n_g.sum(axis=1)
    d = deaths.sum(axis=1)
    observed = deaths.sum(axis=0)
    expected = (d / n) @ n_g
    # hypergeometric variance; survdiff uses 0 when only one patient is at risk
    factor = np.divide(d * (n - d), n * n * (n - 1), out=np.zeros_like(n), where=n > 1)
    variance = np.diag((factor * n) @ n_g) - (n_g * factor[:, None]).T @ n_g
    keep = expected > 0
    df = int(keep.sum()) - 1
    if df < 1:
        return TestResult(statistic=0.0, df=df, p_value=float("nan"))
    score = (observed - expected)[keep][1:]
    statistic = _quadratic_form(score, variance[np.ix_(keep, keep)][1:, 1:])
    return TestResult(statistic=statistic, df=df, p_value=float(chdtrc(df, statistic)))


def gray_test(time: npt.ArrayLike, event_type: npt.ArrayLike, group: npt.ArrayLike,
              cause: int = 1) -> TestResult:
    """Gray's (1988) test of equal cumulative incidence of ``cause`` across groups.

    A port of cmprsk's Fortran ``crst`` (one stratum, rho = 0), vectorised over the event
    times; matches ``cuminc(time, event_type, group)$Tests``.
    """
    time = as_times(time)
    event_type = as_codes(event_type, time.size, "event_type", "types")
    _, codes = as_groups(group, time.size)
    ng = int(codes.max()) + 1
    status = np.where(event_type == cause, 1, np.where(event_type > 0, 2, 0))
    _, total = _counts_by_time(time, codes, ng)
    _, d1 = _counts_by_time(time, codes, ng, weights=(status == 1).astype(float))
    _, d2 = _counts_by_time(time, codes, ng, weights=(status == 2).astype(float))
    rs = _at_risk(total).astype(float)
    has_event = (d1 + d2).sum(axis=1) > 0
    rs, d1, d2 = rs[has_event], d1[has_event], d2[has_event]
    at_risk = rs > 0
    safe_rs = np.where(at_risk, rs, 1.0)

    # per-group all-cause KM (skm right-, skmm left-continuous) and cause-specific CIF
    skm = np.cumprod(np.where(at_risk, (rs - d1 - d2) / safe_rs, 1.0), axis=0)
    skmm = np.vstack([np.ones(ng), skm[:-1]])
    f1 = np.cumsum(np.where(at_risk, skmm * d1 / safe_rs, 0.0), axis=0)
    f1m = np.vstack([np.zeros(ng), f1[:-1]])
    t1 = np.where(at_risk, rs / np.where(at_risk, skmm, 1.0), 0.0)  # R_r / S_r(t-)
    tr = t1.sum(axis=1)
    tq = (t1 * (1 - f1m)).sum(axis=1)
    nd1 = d1.sum(axis=1)
    f = np.cumsum(nd1 / tr)  # pooled estimate, right-continuous
    fm = np.concatenate(([0.0], f[:-1]))

    score = np.where(at_risk, d1 - nd1[:, None] * t1 * (1 - f1m) / tq[:, None], 0.0)
    score = score.sum(axis=0)[: ng - 1]
    a = (t1[:, :, None] * np.eye(ng)) - t1[:, :, None] * t1[:, None, :] / tr[:, None, None]
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 once the pooled CIF is 1
        c = np.cumsum(a * (nd1 / (tr * (1 - fm)))[:, None, None], axis=0)

    # terms of events of the cause (times with nd1 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t4 = np.where(skm > 0, 1 - (1 - f[:, None]) / skm, 1.0)
        t5 = np.where(nd1[:, None] > 1, 1 - (nd1[:, None] - 1) / (tr[:, None] * skmm - 1), 1.0)
        t3 = np.where(at_risk & (nd1[:, None] > 0),
                      t5 * skmm * nd1[:, None] / (tr[:, None] * safe_rs), 0.0)
    u = (a - t4[:, None, :] * c)[:, : ng - 1, :]  # (time, i, k)
    v = np.einsum("tik,tjk,tk->ij", u, u, t3)
    v2 = np.einsum("tik,tk->ik", u, t4 * t3)
    v3 = (t4 * t4 * t3).sum(axis=0)

    # terms of competing events (groups with d2 > 0 and S > 0)
    other = (skm > 0) & (d2 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t4 = np.where(other, (1 - f[:, None]) / np.where(other, skm, 1.0), 0.0)
        t5 = np.where(d2 > 1, 1 - (d2 - 1) / (rs - 1), 1.0)
        t3 = np.where(other, t5 * skmm**2 * d2 / safe_rs**2, 0.0)
    w = (t4[:, None, :] * c)[:, : ng - 1, :]
    v += np.einsum("tik,tjk,tk->ij", w, w, t3)
    v2 -= np.einsum("tik,tk->ik", w, t4 * t3)
    v3 += (t4 * t4 * t3).sum(axis=0)

    c_last = c[-1, : ng - 1, :] if c.shape[0] else np.zeros((ng - 1, ng))
    v += (c_last * v3) @ c_last.T + c_last @ v2.T + v2 @ c_last.T
    statistic = _quadratic_form(score, v)
    df = ng - 1
    return TestResult(statistic=statistic, df=df, p_value=float(chdtrc(df, statistic)))

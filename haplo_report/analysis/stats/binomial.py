"""Exact (Clopper-Pearson) confidence interval of a proportion, as R ``binom.test``."""

from __future__ import annotations

from scipy.special import betaincinv  # scipy.stats costs ~0.6 s to import

from haplo_report.analysis.stats.inputs import StatsInputError


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact CI of k successes out of n (lower 0 when k = 0, upper 1 when k = n)."""
    if isinstance(k, bool) or isinstance(n, bool) or int(k) != k or int(n) != n:
        raise StatsInputError(f"k and n must be whole numbers, got k={k!r}, n={n!r}")
    if not 0 <= k <= n or n < 1:
        raise StatsInputError(f"need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    if not 0 < level < 1:
        raise StatsInputError(f"level must lie in (0, 1), got {level}")
    alpha = 1 - level  # beta quantiles, as binom.test and scipy's binomtest compute them
    lower = 0.0 if k == 0 else float(betaincinv(k, n - k + 1, alpha / 2))
    upper = 1.0 if k == n else float(betaincinv(k + 1, n - k, 1 - alpha / 2))
    return lower, upper

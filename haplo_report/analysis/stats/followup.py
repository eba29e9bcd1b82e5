"""Median follow-up by reverse Kaplan-Meier (censoring is the event, death censors)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from haplo_report.analysis.stats.inputs import as_codes, as_times
from haplo_report.analysis.stats.km import km_estimate, km_quantiles


@dataclass(frozen=True)
class FollowUp:
    """Median follow-up with its 95% CI and the range of follow-up of patients alive."""

    median: float
    ci_lower: float
    ci_upper: float
    minimum: float
    maximum: float

    @property
    def min(self) -> float:
        """Alias of ``minimum`` (the name in docs/architecture.md)."""
        return self.minimum

    @property
    def max(self) -> float:
        """Alias of ``maximum`` (the name in docs/architecture.md)."""
        return self.maximum


def median_followup(time: npt.ArrayLike, death: npt.ArrayLike) -> FollowUp:
    """Reverse-KM median follow-up, CI as the KM median CI (Brookmeyer-Crowley, log(-log)).

    ``death`` is 1 for a death, 0 for alive at last contact. The range is that of the
    follow-up times of patients alive at last contact (NaN when every patient died).
    """
    time = as_times(time)
    death = as_codes(death, time.size, "death", "binary")
    median = km_quantiles(km_estimate(time, 1 - death), quantiles=(0.5,)).iloc[0]
    alive = time[death == 0]
    minimum, maximum = (float(alive.min()), float(alive.max())) if alive.size else (np.nan,
                                                                                    np.nan)
    return FollowUp(median=float(median["estimate"]), ci_lower=float(median["ci_lower"]),
                    ci_upper=float(median["ci_upper"]), minimum=minimum, maximum=maximum)

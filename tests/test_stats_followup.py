"""Median follow-up (reverse Kaplan-Meier) against R survfit/quantile."""

from __future__ import annotations

import math

import pytest

from haplo_report.analysis.stats import median_followup
from stats_reference import assert_close, cohort, expected


@pytest.mark.parametrize("row", list(expected("followup").itertuples()), ids=lambda r: r.dataset)
def test_matches_reverse_km(row) -> None:
    data = cohort(row.dataset)
    got = median_followup(data["time"], (data["status"] > 0).astype(int))
    assert_close([got.median, got.ci_lower, got.ci_upper, got.minimum, got.maximum],
                 [row.median, row.ci_lower, row.ci_upper, row.minimum, row.maximum],
                 row.dataset)


def test_follow_up_range_is_among_patients_alive_at_last_contact() -> None:
    got = median_followup([10, 50, 200, 400], [1, 0, 0, 1])
    assert (got.min, got.max) == (50, 200)
    assert got.median == 200


def test_everyone_died_has_no_range() -> None:
    got = median_followup([10, 20], [1, 1])
    assert math.isnan(got.median) and math.isnan(got.minimum)

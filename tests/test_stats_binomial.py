"""Clopper-Pearson intervals against R binom.test."""

from __future__ import annotations

import pytest

from haplo_report.analysis.stats import StatsInputError, clopper_pearson
from stats_reference import assert_close, expected


@pytest.mark.parametrize("row", list(expected("binomial").itertuples()),
                         ids=lambda r: f"{r.k:.0f}of{r.n:.0f}@{r.level}")
def test_matches_binom_test(row) -> None:
    lower, upper = clopper_pearson(int(row.k), int(row.n), row.level)
    assert_close([lower, upper], [row.lower, row.upper], "Clopper-Pearson")


@pytest.mark.parametrize(("k", "n", "level"), [(3, 2, 0.95), (-1, 5, 0.95), (1, 0, 0.95),
                                               (1.5, 4, 0.95), (1, 4, 1.0)])
def test_bad_input_is_a_clear_error(k, n, level) -> None:
    with pytest.raises(StatsInputError):
        clopper_pearson(k, n, level)

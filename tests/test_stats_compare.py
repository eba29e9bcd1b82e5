"""Log-rank (R survdiff) and Gray's test (cmprsk cuminc $Tests) against R."""

from __future__ import annotations

import numpy as np
import pytest

from haplo_report.analysis.stats import StatsInputError, gray_test, logrank_test
from stats_reference import assert_close, cohort, expected

LOGRANK = expected("logrank")
GRAY = expected("gray")


@pytest.mark.parametrize("row", list(LOGRANK.itertuples()), ids=lambda r: f"{r.dataset}-{r.grouping}")
def test_logrank_matches_survdiff(row) -> None:
    data = cohort(row.dataset)
    got = logrank_test(data["time"], (data["status"] > 0).astype(int), data[row.grouping])
    assert got.df == row.df
    assert_close([got.statistic, got.p_value], [row.statistic, row.p_value], "log-rank")


@pytest.mark.parametrize("row", list(GRAY.itertuples()),
                         ids=lambda r: f"{r.dataset}-{r.grouping}-{r.cause}")
def test_gray_matches_cuminc(row) -> None:
    data = cohort(row.dataset)
    got = gray_test(data["time"], data["status"], data[row.grouping], cause=row.cause)
    assert got.df == row.df
    assert_close([got.statistic, got.p_value], [row.statistic, row.p_value], "Gray")


def test_group_labels_do_not_matter() -> None:
    data = cohort("cohort31")
    letters = gray_test(data["time"], data["status"], data["group3"])
    numbers = gray_test(data["time"], data["status"],
                        data["group3"].map({"CR1": 30, "CR2": 20, "CR3+": 10}))
    assert letters.statistic == pytest.approx(numbers.statistic, abs=1e-9)


def test_one_group_is_a_clear_error() -> None:
    with pytest.raises(StatsInputError, match="two groups"):
        logrank_test([1, 2, 3], [1, 0, 1], ["A", "A", "A"])
    with pytest.raises(StatsInputError, match="missing"):
        gray_test([1, 2, 3], [1, 0, 1], ["A", None, "B"])


def test_large_cohort_is_vectorised() -> None:
    rng = np.random.default_rng(3)
    n = 100_000
    time, group = rng.integers(0, 2000, n), rng.integers(0, 3, n)
    assert 0 <= gray_test(time, rng.integers(0, 3, n), group).p_value <= 1
    assert 0 <= logrank_test(time, rng.integers(0, 2, n), group).p_value <= 1


def test_group_without_expected_events_is_dropped_as_in_survdiff() -> None:
    # group C is censored before the first event: survdiff gives chisq 1 on 1 df,
    # p 0.3173105 (lifelines' multivariate test keeps C: 2 df, p 0.607)
    got = logrank_test([1, 2, 3, 4, 5, 6, 0.5, 0.7], [1, 0, 1, 1, 0, 1, 0, 0], list("AABBAACC"))
    assert got.df == 1
    assert_close([got.statistic, got.p_value], [1.0, 0.31731050786291404], "log-rank")


def test_gray_test_is_not_computable_when_its_variance_is_not_finite():
    """Found by the row-order property test: group 0's incidence reaches 1 at day 0, the
    variance is 0/0; the statistic is NaN (not an SVD error), whatever the row order."""
    time, kind = np.array([0.0, 0.0, 1.0, 3.0]), np.array([1, 1, 1, 1])
    first = gray_test(time, kind, time % 2)
    order = [2, 0, 3, 1]
    second = gray_test(time[order], kind[order], (time % 2)[order])
    assert np.isnan(first.statistic) and np.isnan(first.p_value)
    np.testing.assert_array_equal([first.statistic, first.p_value],
                                  [second.statistic, second.p_value])

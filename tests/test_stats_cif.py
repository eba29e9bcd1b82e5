"""Cumulative incidence against cmprsk cuminc/timepoints, and its landmark rules."""

from __future__ import annotations

import numpy as np
import pytest

from haplo_report.analysis.stats import StatsInputError, cif_at, cumulative_incidence
from stats_reference import DATASETS, LANDMARKS, assert_close, cohort, expected


def fit(name: str, cause: int):
    data = cohort(name)
    return cumulative_incidence(data["time"].to_numpy(), data["status"].to_numpy(), cause)


@pytest.mark.parametrize("cause", [1, 2])
@pytest.mark.parametrize("name", DATASETS)
def test_table_matches_cmprsk(name: str, cause: int) -> None:
    want = expected("cif_table").query("dataset == @name and cause == @cause")
    got = fit(name, cause).table
    np.testing.assert_array_equal(got["time"], want["time"])
    for column in ("estimate", "se", "ci_lower", "ci_upper"):
        assert_close(got[column], want[column], f"{name} cause {cause} {column}")


@pytest.mark.parametrize("cause", [1, 2])
@pytest.mark.parametrize("name", DATASETS)
def test_landmarks_match_cmprsk(name: str, cause: int) -> None:
    want = expected("cif_landmarks").query("dataset == @name and cause == @cause")
    got = cif_at(fit(name, cause), LANDMARKS)
    for column in ("estimate", "se", "ci_lower", "ci_upper"):
        assert_close(got[column], want[column], f"{name} cause {cause} {column}")
    np.testing.assert_array_equal(got["n_risk"], want["n_risk"])
    np.testing.assert_array_equal(got["events"], want["events"])
    assert got["flag"].tolist() == want["flag"].fillna("").tolist()


def test_ties_and_day_zero() -> None:
    # day 0: one death (competing), one censored; day 10: relapse and death tied
    table = cumulative_incidence([0, 0, 10, 10, 20], [2, 0, 1, 2, 0]).table
    assert table["n_risk"].tolist() == [5, 3, 1]
    assert table["n_event"].tolist() == [0, 1, 0]
    assert table["n_competing"].tolist() == [1, 1, 0]
    np.testing.assert_allclose(table["estimate"], [0.0, 0.8 / 3, 0.8 / 3])


def test_no_event_of_the_cause_is_zero_with_ne_ci() -> None:
    got = cif_at(cumulative_incidence([5, 8, 30], [2, 0, 0]), [10, 31])
    assert got["estimate"].iloc[0] == 0.0
    assert np.isnan(got["ci_lower"].iloc[0]) and np.isnan(got["ci_upper"].iloc[0])
    assert got["flag"].tolist() == ["", "NE"]


def test_ne_exception_cif_determined_when_nobody_is_censored_at_the_last_time() -> None:
    # SAP v2: every outcome known by day 30 (last patient dies of the competing cause):
    # the incidence stays at its last value with its CI; censored last instead: NE.
    fit = cumulative_incidence([5, 8, 12, 30], [1, 0, 1, 2])
    got = cif_at(fit, [30, 365])
    assert got["flag"].tolist() == ["", ""]
    assert got["estimate"].iloc[1] == got["estimate"].iloc[0] > 0
    assert got["ci_lower"].iloc[1] == got["ci_lower"].iloc[0]
    assert got["ci_upper"].iloc[1] == got["ci_upper"].iloc[0]
    censored = cif_at(cumulative_incidence([5, 8, 12, 30], [1, 0, 1, 0]), [365])
    assert np.isnan(censored["estimate"].iloc[0]) and censored["flag"].iloc[0] == "NE"


def test_other_codes_compete() -> None:
    two = cumulative_incidence([1, 2, 3, 4], [1, 2, 0, 1]).table
    three = cumulative_incidence([1, 2, 3, 4], [1, 3, 0, 1]).table
    np.testing.assert_array_equal(two["estimate"], three["estimate"])


@pytest.mark.parametrize(("event_type", "cause", "message"), [
    ([1, -1], 1, "positive event type"),
    ([1, 0.5], 1, "whole numbers"),
    ([1, 0], 0, "cause"),
])
def test_bad_input_is_a_clear_error(event_type, cause, message) -> None:
    with pytest.raises(StatsInputError, match=message):
        cumulative_incidence([1, 2], event_type, cause)


def test_large_cohort_is_vectorised() -> None:
    rng = np.random.default_rng(2)
    fitted = cumulative_incidence(rng.integers(0, 2000, 100_000), rng.integers(0, 3, 100_000))
    assert fitted.table["estimate"].is_monotonic_increasing
    assert fitted.table["se"].notna().all()

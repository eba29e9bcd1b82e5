"""Kaplan-Meier against R survfit(conf.type = "log-log"), and its landmark rules."""

from __future__ import annotations

import numpy as np
import pytest

from haplo_report.analysis.stats import StatsInputError, km_at, km_estimate, km_quantiles
from haplo_report.analysis.stats.km import Z95
from stats_reference import DATASETS, LANDMARKS, assert_close, cohort, expected


def fit(name: str):
    data = cohort(name)
    return km_estimate(data["time"].to_numpy(), (data["status"] > 0).to_numpy().astype(int))


@pytest.mark.parametrize("name", DATASETS)
def test_table_matches_r(name: str) -> None:
    want = expected("km_table").query("dataset == @name").reset_index(drop=True)
    got = fit(name).table
    np.testing.assert_array_equal(got["time"], want["time"])
    for column in ("n_risk", "n_event", "n_censor"):
        np.testing.assert_array_equal(got[column], want[column], err_msg=column)
    for column in ("estimate", "se", "ci_lower", "ci_upper"):
        assert_close(got[column], want[column], f"{name} {column}")


@pytest.mark.parametrize("name", DATASETS)
def test_landmarks_match_r(name: str) -> None:
    want = expected("km_landmarks").query("dataset == @name").reset_index(drop=True)
    got = km_at(fit(name), LANDMARKS)
    for column in ("estimate", "se", "ci_lower", "ci_upper"):
        assert_close(got[column], want[column], f"{name} {column}")
    np.testing.assert_array_equal(got["n_risk"], want["n_risk"])
    np.testing.assert_array_equal(got["events"], want["events"])
    assert got["flag"].tolist() == want["flag"].fillna("").tolist()


@pytest.mark.parametrize("name", DATASETS)
def test_quantiles_match_r(name: str) -> None:
    want = expected("km_quantiles").query("dataset == @name").reset_index(drop=True)
    got = km_quantiles(fit(name))
    for column in ("quantile", "estimate", "ci_lower", "ci_upper"):
        assert_close(got[column], want[column], f"{name} {column}")


def test_flat_stretch_gives_midpoint() -> None:
    # S = 0.5 exactly from day 20 to the next event on day 40: median (20 + 40) / 2
    result = km_quantiles(km_estimate([10, 20, 40, 50], [1, 1, 1, 1]), quantiles=(0.5,))
    assert result["estimate"].iloc[0] == 30


def test_before_first_event_and_past_end() -> None:
    got = km_at(km_estimate([5, 10, 20], [0, 1, 0]), [0, 4, 20, 21])
    assert got["estimate"].tolist()[:3] == [1.0, 1.0, 0.5]
    assert np.isnan(got["ci_lower"].iloc[0]) and np.isnan(got["ci_upper"].iloc[1])
    assert np.isnan(got["estimate"].iloc[3])
    assert got["flag"].tolist() == ["", "", "", "NE"]
    assert got["n_risk"].tolist() == [3, 3, 1, 0]
    assert got["events"].tolist() == [0, 0, 1, 1]


def test_ne_exception_curve_determined_when_nobody_is_censored_at_the_last_time() -> None:
    # SAP v2: the last patient fails on day 20 (nobody censored then): S = 0 is known for
    # good, reported at day 365, CI not defined; censored on day 20 instead: NE.
    got = km_at(km_estimate([5, 10, 20], [0, 1, 1]), [21, 365])
    assert got["estimate"].tolist() == [0.0, 0.0] and got["flag"].tolist() == ["", ""]
    assert got["ci_lower"].isna().all() and got["n_risk"].tolist() == [0, 0]
    assert got["events"].tolist() == [2, 2]
    tied = km_at(km_estimate([5, 10, 20, 20], [0, 1, 1, 0]), [365])
    assert np.isnan(tied["estimate"].iloc[0]) and tied["flag"].iloc[0] == "NE"


def test_z_is_the_97_5_percent_normal_quantile_not_1_96() -> None:
    # SAP v2: z = 1.959964..., as SAS and cmprsk; the CI limits use it.
    assert Z95 == pytest.approx(1.959963984540054, abs=1e-15) and Z95 != 1.96
    table = km_estimate([5, 10, 20, 30], [1, 0, 1, 0]).table
    s, se_log = table["estimate"].iloc[0], table["se"].iloc[0] / table["estimate"].iloc[0]
    lower = np.exp(-np.exp(np.log(-np.log(s)) - Z95 * se_log / np.log(s)))
    assert table["ci_lower"].iloc[0] == pytest.approx(lower, abs=1e-15)
    assert abs(table["ci_lower"].iloc[0] - np.exp(-np.exp(np.log(-np.log(s))
                                                          - 1.96 * se_log / np.log(s)))) > 1e-8


def test_day_zero_event_counts() -> None:
    table = km_estimate([0, 0, 5, 9], [1, 0, 1, 0]).table
    assert table["time"].tolist() == [0, 5, 9]
    assert table["n_risk"].tolist() == [4, 2, 1]
    assert table["estimate"].tolist() == [0.75, 0.375, 0.375]


@pytest.mark.parametrize(("time", "event", "message"), [
    ([], [], "empty"),
    ([1, -2], [1, 0], "negative"),
    ([1, np.nan], [1, 0], "missing"),
    ([1, 2], [1, 2], "0 \\(censored\\) or 1"),
    ([1, 2], [1], "shape"),
    (["a", "b"], [1, 0], "numeric"),
])
def test_bad_input_is_a_clear_error(time, event, message) -> None:
    with pytest.raises(StatsInputError, match=message):
        km_estimate(time, event)


def test_large_cohort_is_vectorised() -> None:
    rng = np.random.default_rng(1)
    time = rng.integers(0, 2000, 100_000)
    event = rng.integers(0, 2, 100_000)
    fitted = km_estimate(time, event)
    assert fitted.table["n_risk"].iloc[0] == 100_000
    assert fitted.table["n_event"].sum() == event.sum()
    assert km_quantiles(fitted)["estimate"].notna().all()

"""Properties of the estimators on small random cohorts with heavy ties (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from haplo_report.analysis.stats import (cif_at, cumulative_incidence, gray_test, km_at, km_estimate,
                                km_quantiles, logrank_test)

# (time in days 0-60, so ties and day-0 records are common; event type 0 censored, 1, 2)
patients = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 2)), min_size=1, max_size=30)
FAST = settings(max_examples=80, deadline=None)


def arrays(cohort: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    data = np.array(cohort)
    return data[:, 0], data[:, 1]


@FAST
@given(patients)
def test_cifs_and_km_of_the_combined_endpoint_sum_to_one(cohort) -> None:
    time, kind = arrays(cohort)
    grid = np.arange(0, 61)
    km = km_at(km_estimate(time, (kind > 0).astype(int)), grid)
    cif1 = cif_at(cumulative_incidence(time, kind, cause=1), grid)
    cif2 = cif_at(cumulative_incidence(time, kind, cause=2), grid)
    total = km["estimate"] + cif1["estimate"] + cif2["estimate"]
    determined = not np.any((time == time.max()) & (kind == 0))
    observed = (grid <= time.max()) | determined
    np.testing.assert_allclose(total[observed], 1.0, atol=1e-12)
    # beyond the last time: NE, never carried, unless nobody is censored then (SAP v2)
    assert total[~observed].isna().all()


def _check_curve(table: pd.DataFrame, increasing: bool) -> None:
    estimate = table["estimate"].to_numpy()
    assert np.all((estimate >= 0) & (estimate <= 1))
    steps = np.diff(estimate)
    assert np.all(steps >= -1e-15) if increasing else np.all(steps <= 1e-15)
    defined = table["ci_lower"].notna()
    assert np.all(table["ci_lower"][defined] <= estimate[defined] + 1e-15)
    assert np.all(estimate[defined] <= table["ci_upper"][defined] + 1e-15)
    # the CI is NE where the estimate is 0 or 1 (log(-log) / SAP formula undefined)
    assert not defined[(estimate == 0) | (estimate == 1)].any()


@FAST
@given(patients)
def test_curves_are_bounded_monotone_and_inside_their_ci(cohort) -> None:
    time, kind = arrays(cohort)
    km = km_estimate(time, (kind > 0).astype(int))
    _check_curve(km.table, increasing=False)
    _check_curve(cumulative_incidence(time, kind, cause=1).table, increasing=True)
    q = km_quantiles(km).dropna()
    assert np.all((q["ci_lower"] <= q["estimate"]) & (q["estimate"] <= q["ci_upper"]))


@FAST
@given(patients, st.randoms(use_true_random=False))
def test_results_do_not_depend_on_row_order(cohort, random) -> None:
    shuffled = list(cohort)
    random.shuffle(shuffled)
    (time, kind), (time2, kind2) = arrays(cohort), arrays(shuffled)
    pd.testing.assert_frame_equal(km_estimate(time, kind > 0).table,
                                  km_estimate(time2, kind2 > 0).table, check_exact=True)
    pd.testing.assert_frame_equal(cumulative_incidence(time, kind).table,
                                  cumulative_incidence(time2, kind2).table, check_exact=True)
    group, group2 = time % 2, time2 % 2
    if len(set(group)) == 2:
        for test, events, events2 in ((logrank_test, kind > 0, kind2 > 0),
                                      (gray_test, kind, kind2)):
            first, second = test(time, events, group), test(time2, events2, group2)
            np.testing.assert_array_equal([first.statistic, first.df, first.p_value],
                                          [second.statistic, second.df, second.p_value])


@FAST
@given(patients)
def test_a_patient_censored_on_day_0(cohort) -> None:
    """The property, exactly: a patient censored on day 0 is at risk only at t = 0.

    Without day-0 events it changes nothing but n (and the at-risk count at day 0); with
    day-0 events it is at risk for them (R/SAP: censored at t still at risk at t), so the
    day-0 drop becomes d0 / (n + 1) instead of d0 / n.
    """
    time, kind = arrays(cohort)
    more_time, more_kind = np.append(time, 0), np.append(kind, 0)
    before = km_estimate(time, kind > 0).table
    after = km_estimate(more_time, more_kind > 0).table
    d0 = int(np.sum((time == 0) & (kind > 0)))
    assert after["n_risk"].iloc[0] == (time.size + 1)
    if d0 == 0:
        later = after[after["time"] > 0].reset_index(drop=True)
        pd.testing.assert_frame_equal(later, before[before["time"] > 0].reset_index(drop=True))
        assert after["estimate"].iloc[0] == 1.0
        cif_before = cumulative_incidence(time, kind).table
        cif_after = cumulative_incidence(more_time, more_kind).table
        np.testing.assert_array_equal(cif_before.loc[cif_before["time"] > 0, "estimate"],
                                      cif_after.loc[cif_after["time"] > 0, "estimate"])
    else:
        assert after["estimate"].iloc[0] == 1 - d0 / (time.size + 1)

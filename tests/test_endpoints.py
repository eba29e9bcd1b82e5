"""endpoints: result rows equal the estimators' output; subgroup threshold; NE beyond follow-up."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from haplo_report.analysis.endpoints import (CIF_METHOD, KM_METHOD, curve_tables, endpoint_landmarks,
                                    followup_headline, followup_results, headline,
                                    main_landmark, not_supplied_sentence,
                                    tte_results)
from haplo_report.analysis.results import ResultRow, results_frame
from haplo_report.analysis.stats.cif import cif_at, cumulative_incidence
from haplo_report.analysis.stats.compare import gray_test, logrank_test
from haplo_report.analysis.stats.followup import median_followup
from haplo_report.analysis.stats.km import km_at, km_estimate, km_quantiles

# 24 patients; two disease-status groups of 12 and a Ph group of 20/4.
AVAL = [0, 12, 30, 45, 60, 60, 90, 100, 120, 150, 200, 240,
        300, 330, 365, 365, 400, 420, 500, 550, 600, 610, 640, 700]
EVNT = [1, 1, 0, 2, 1, 0, 1, 2, 0, 1, 1, 0,
        2, 1, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0]


def _adtte(paramcd: str, event_type=EVNT) -> pd.DataFrame:
    n = len(AVAL)
    return pd.DataFrame({
        "USUBJID": [f"S{i:03d}" for i in range(n)],
        "PARAMCD": paramcd,
        "AVAL": np.array(AVAL, dtype=float),
        "EVNTTYPE": np.array(event_type, dtype=int),
        "MRDGRP": [">=1e-3", "<1e-3"] * (n // 2),
        "DISGRP": ["CR1"] * 12 + ["CR2+"] * 12,
        "PHGRP": ["Ph-negative"] * 20 + ["Ph-positive"] * 4,
    })


def _pick(rows: list[ResultRow], statistic: str, subgroup: str = "All",
          time: float | None = None) -> ResultRow:
    found = [r for r in rows if r.statistic == statistic and r.subgroup == subgroup
             and (time is None or r.time_days == time)]
    assert len(found) == 1, (statistic, subgroup, time, found)
    return found[0]


def _same(a: float | None, b: float) -> bool:
    return (a is None and (b is None or math.isnan(b))) or (a is not None and
                                                            math.isclose(a, b, rel_tol=1e-12))


def test_km_rows_equal_estimator_output():
    km_events = [1 if e == 1 else 0 for e in EVNT]  # KM: competing codes never reach PFS
    rows = tte_results(_adtte("PFS", km_events), "PFS", landmarks=[100, 365], subgroups=())
    fit = km_estimate(np.array(AVAL, float), np.array(km_events))
    at = km_at(fit, [100, 365])
    for rec in at.itertuples():
        row = _pick(rows, "survival", time=float(rec.time))
        assert _same(row.estimate, rec.estimate)
        assert _same(row.ci_lower, rec.ci_lower) and _same(row.ci_upper, rec.ci_upper)
        assert row.events == rec.events and row.n == 24 and row.method == KM_METHOD
    quantiles = km_quantiles(fit).set_index("quantile")
    assert _same(_pick(rows, "median").estimate, quantiles.loc[0.5, "estimate"])
    assert _same(_pick(rows, "q25").ci_upper, quantiles.loc[0.25, "ci_upper"])
    assert _pick(rows, "median").events == sum(km_events)
    assert _pick(rows, "survival", time=100.0).events == 4  # days 0, 12, 60 and 90


def test_cif_rows_equal_estimator_output():
    rows = tte_results(_adtte("CIR"), "CIR", landmarks=[365, 100], subgroups=())
    fit = cumulative_incidence(np.array(AVAL, float), np.array(EVNT), cause=1)
    at = cif_at(fit, [100, 365])
    assert [(r.statistic, r.time_days) for r in rows] == [
        ("cif", 100.0), ("at_risk", 100.0), ("cif", 365.0), ("at_risk", 365.0)]
    for rec in at.itertuples():
        row = _pick(rows, "cif", time=float(rec.time))
        assert _same(row.estimate, rec.estimate) and _same(row.ci_upper, rec.ci_upper)
        assert row.method == CIF_METHOD and row.flag == ""
    assert not any(r.statistic == "median" for r in rows)


def test_subgroups_never_dropped_tested_only_when_every_level_has_subgroup_min_n():
    # SAP v2: DISGRP 12/12 and MRDGRP 12/12 are tested; PHGRP 20/4 keeps its estimates
    # and gets a "not tested" row instead of the test.
    rows = tte_results(_adtte("CIR"), "CIR", landmarks=[100, 365], subgroup_min_n=5)
    test = gray_test(np.array(AVAL, float), np.array(EVNT),
                     np.array(["CR1"] * 12 + ["CR2+"] * 12), cause=1)
    assert _same(_pick(rows, "gray_p", "DISGRP").estimate, test.p_value)
    assert _same(_pick(rows, "gray_chisq", "DISGRP").estimate, test.statistic)
    level = cumulative_incidence(np.array(AVAL[:12], float), np.array(EVNT[:12]))
    assert _same(_pick(rows, "cif", "DISGRP=CR1", 365.0).estimate,
                 cif_at(level, [365])["estimate"].iloc[0])
    note = _pick(rows, "not_tested", "PHGRP")
    assert note.estimate is None and note.flag == "" and note.n == 24
    assert note.method == "not tested (a level has fewer than 5 patients)"
    assert not any(r.statistic == "gray_p" and r.subgroup == "PHGRP" for r in rows)
    small = [r for r in rows if r.subgroup == "PHGRP=Ph-positive" and r.statistic == "cif"]
    assert [(r.time_days, r.n) for r in small] == [(100.0, 4), (365.0, 4)]
    assert all(r.events is not None for r in small)
    # Raising the threshold past 12: every test becomes a note, no estimate is dropped.
    strict = tte_results(_adtte("CIR"), "CIR", landmarks=[365], subgroup_min_n=13)
    assert sorted(r.subgroup for r in strict if r.statistic == "not_tested") == [
        "DISGRP", "MRDGRP", "PHGRP"]
    assert len([r for r in strict if r.statistic == "cif"]) == 7  # All + 2 levels x 3


def test_a_subgroup_level_without_patients_has_no_estimate_rows():
    data = _adtte("CIR").assign(PHGRP="Ph-negative")
    rows = tte_results(data, "CIR", landmarks=[365], subgroups=("PHGRP",))
    assert [r.subgroup for r in rows] == ["All", "All", "PHGRP=Ph-negative",
                                          "PHGRP=Ph-negative", "PHGRP"]
    assert rows[-1].statistic == "not_tested"


def test_logrank_rows_for_km_endpoints():
    events = [1 if e == 1 else 0 for e in EVNT]
    rows = tte_results(_adtte("OS", events), "OS", landmarks=[365], subgroups=("MRDGRP",))
    test = logrank_test(np.array(AVAL, float), np.array(events),
                        np.array([">=1e-3", "<1e-3"] * 12))
    assert _same(_pick(rows, "logrank_p", "MRDGRP").estimate, test.p_value)
    assert _same(_pick(rows, "logrank_chisq", "MRDGRP").estimate, test.statistic)
    assert {r.subgroup for r in rows} == {"All", "MRDGRP", "MRDGRP=<1e-3", "MRDGRP=>=1e-3"}


def test_followup_rows_equal_reverse_km():
    events = [1 if e == 1 else 0 for e in EVNT]
    rows = followup_results(pd.concat([_adtte("OS", events), _adtte("PFS")]))
    fu = median_followup(np.array(AVAL, float), np.array(events))
    row = _pick(rows, "median_followup")
    assert _same(row.estimate, fu.median) and _same(row.ci_lower, fu.ci_lower)
    assert _pick(rows, "max").estimate == fu.maximum == 700.0 and row.n == 24
    assert _pick(rows, "min").n == 24 - sum(events)
    assert followup_headline(rows) == (
        f"Median follow-up (reverse Kaplan-Meier) was {fu.median:.0f} days (95% CI "
        f"{fu.ci_lower:.0f}, {fu.ci_upper:.0f}) among 24 patients, 10 of whom died.")


def test_landmark_beyond_follow_up_is_not_estimable():
    rows = tte_results(_adtte("CIR"), "CIR", landmarks=[365, 730, 1000], subgroups=())
    assert _pick(rows, "cif", time=365.0).flag == ""
    for time in (730.0, 1000.0):
        row = _pick(rows, "cif", time=time)
        assert row.estimate is None and row.flag == "NE"
    assert headline(rows, "CIR", 730) == (
        "The 2-year cumulative incidence of relapse is not estimable: the last observed time "
        "of the 24 patients for this endpoint is before day 730.")


def test_engraftment_landmarks_and_median_day():
    assert endpoint_landmarks("ANC", (100, 365)) == (28, 100)
    assert endpoint_landmarks("AGVHD34") == (100,)
    assert endpoint_landmarks("PFS", (365,)) == (365,)
    rows = tte_results(_adtte("ANC"), "ANC", landmarks=endpoint_landmarks("ANC"), subgroups=())
    recovered = [a for a, e in zip(AVAL, EVNT) if e == 1]
    assert _pick(rows, "median_days").estimate == float(np.median(recovered))
    assert _pick(rows, "median_days").n == len(recovered) == 10
    assert _pick(rows, "min").estimate == 0.0 and _pick(rows, "max").estimate == 600.0


def test_headline_reads_the_rows():
    rows = [ResultRow("PFS", "All", "survival", 365.0, 0.7243, 0.5312, 0.8491, 29, 8, KM_METHOD),
            ResultRow("PFS", "All", "median", None, None, 400.0, None, 29, 8, KM_METHOD, "NE")]
    assert headline(rows, "PFS") == (
        "The 1-year progression-free survival was 72.4% (95% CI 53.1, 84.9) among 29 "
        "patients with 8 events by day 365. The median was not reached.")
    assert headline(rows[:1], "PFS").endswith("by day 365.")
    with pytest.raises(ValueError, match="no survival row for PFS"):
        headline(rows, "PFS", 100)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown endpoint 'DFS'"):
        tte_results(_adtte("PFS"), "DFS", landmarks=[365])
    with pytest.raises(ValueError, match="no rows for NRM"):
        tte_results(_adtte("PFS"), "NRM", landmarks=[365])
    with pytest.raises(ValueError, match="subgroup column SITEGRP"):
        tte_results(_adtte("PFS"), "PFS", landmarks=[365], subgroups=("SITEGRP",))


def test_not_supplied_sentence():
    assert not_supplied_sentence("mrd") == "The MRD table was not supplied in this data cut."


def test_headline_defaults_to_one_year_else_last_landmark():
    rows = [ResultRow("ANC", "All", "cif", 28.0, 0.9, 0.7, 0.97, 29, 26, CIF_METHOD),
            ResultRow("ANC", "All", "cif", 100.0, 0.931, 0.75, 0.98, 29, 27, CIF_METHOD)]
    assert headline(rows, "ANC").startswith(
        "The day-100 cumulative incidence of neutrophil recovery was 93.1% (95% CI 75.0")
    rows.append(ResultRow("ANC", "All", "cif", 365.0, 0.95, 0.8, 0.99, 29, 28, CIF_METHOD))
    assert headline(rows, "ANC").startswith("The 1-year cumulative")


def test_main_landmark():
    assert main_landmark([730, 100, 365]) == 365
    assert main_landmark([100, 180]) == 180
    with pytest.raises(ValueError, match="no landmarks"):
        main_landmark([])


def test_curve_tables_are_the_estimator_tables():
    events = [1 if e == 1 else 0 for e in EVNT]
    adtte = pd.concat([_adtte("OS", events), _adtte("CIR")])
    tables = curve_tables(adtte, ["OS", "CIR"])
    assert list(tables) == ["OS", "Relapse"]
    pd.testing.assert_frame_equal(tables["OS"], km_estimate(np.array(AVAL, float),
                                                            np.array(events)).table)
    pd.testing.assert_frame_equal(tables["Relapse"], cumulative_incidence(
        np.array(AVAL, float), np.array(EVNT), cause=1).table)


def test_headline_without_events_says_the_ci_is_not_estimable():
    from haplo_report.analysis.endpoints import headline
    from haplo_report.analysis.results import ResultRow

    rows = [ResultRow("CIR", "All", "cif", 100.0, 0.0, None, None, n=30, events=0)]
    assert headline(rows, "CIR", 100).endswith(
        "was 0.0% (95% CI not defined) among 30 patients with 0 events by day 100.")


def test_median_day_of_recovery_is_among_patients_who_recovered():
    # SAP v2: recovered on days 0, 12, 60, 60, 90, 150, ... (EVNTTYPE 1); patients who died
    # first or are censored do not enter the median or the range.
    rows = tte_results(_adtte("ANC"), "ANC", landmarks=[28, 100], subgroups=())
    days = [a for a, e in zip(AVAL, EVNT) if e == 1]
    median = _pick(rows, "median_days")
    assert (median.estimate, median.n, median.events) == (float(np.median(days)), 10, 10)
    assert (_pick(rows, "min").estimate, _pick(rows, "max").estimate) == (0.0, 600.0)
    assert median.method == "Median day of recovery among patients who recovered; range"


def _patients(aval: list[float], evnt: list[int], group: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"USUBJID": [f"P{i:02d}" for i in range(len(aval))], "PARAMCD": "CIR",
                         "AVAL": np.array(aval, dtype=float), "EVNTTYPE": evnt,
                         "DISGRP": group})


def test_sap_v3_subgroup_test_needs_subgroup_min_events():
    # SAP v3: 12 patients, 6 per level (enough patients), 4 relapses in all: not tested.
    aval = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]
    group = ["CR1"] * 6 + ["CR2+"] * 6
    four = [1, 0, 1, 0, 2, 0, 1, 0, 1, 0, 2, 0]
    rows = tte_results(_patients(aval, four, group), "CIR", landmarks=[100],
                       subgroups=("DISGRP",))
    note = _pick(rows, "not_tested", "DISGRP")
    assert (note.method, note.events, note.n) == ("not tested (fewer than 5 events)", 4, 12)
    assert not any(r.statistic == "gray_p" for r in rows)
    # Competing deaths (code 2) are not events of the endpoint; a fifth relapse is.
    five = four[:1] + [1] + four[2:]
    rows = tte_results(_patients(aval, five, group), "CIR", landmarks=[100],
                       subgroups=("DISGRP",))
    assert _pick(rows, "gray_p", "DISGRP").events == 5
    # The threshold is a parameter; when both rules apply the row gives the patients' reason.
    rows = tte_results(_patients(aval, five, group), "CIR", landmarks=[100],
                       subgroups=("DISGRP",), subgroup_min_events=6)
    assert _pick(rows, "not_tested", "DISGRP").method == "not tested (fewer than 6 events)"
    rows = tte_results(_patients(aval, four, group), "CIR", landmarks=[100],
                       subgroups=("DISGRP",), subgroup_min_n=7)
    assert _pick(rows, "not_tested", "DISGRP").method == (
        "not tested (a level has fewer than 7 patients)")


def test_sap_v3_number_at_risk_at_every_landmark():
    # SAP v3: at risk at day X = time on study >= X with no event (or competing event) before.
    # Day 100: patients at 100 (relapse on day 100, censored on day 100), 150, 200, 400, 400.
    aval = [0, 50, 60, 100, 100, 150, 200, 400, 400]
    evnt = [1, 2, 1, 1, 0, 0, 1, 0, 0]
    group = ["CR1"] * 5 + ["CR2+"] * 4
    rows = tte_results(_patients(aval, evnt, group), "CIR", landmarks=[100, 365],
                       subgroups=("DISGRP",), min_at_risk=5)
    at = {(r.subgroup, r.time_days): r for r in rows if r.statistic == "at_risk"}
    assert {key: int(r.estimate) for key, r in at.items()} == {
        ("All", 100.0): 6, ("All", 365.0): 2, ("DISGRP=CR1", 100.0): 2,
        ("DISGRP=CR1", 365.0): 0, ("DISGRP=CR2+", 100.0): 4, ("DISGRP=CR2+", 365.0): 2}
    # one at_risk row per landmark estimate, with the estimate's n and events
    estimates = {(r.subgroup, r.time_days): r for r in rows if r.statistic == "cif"}
    assert set(estimates) == set(at)
    assert all((at[k].n, at[k].events) == (estimates[k].n, estimates[k].events) for k in at)
    # fewer than min_at_risk: flagged (the estimate is still reported)
    assert {k for k, r in at.items() if r.flag == "few at risk"} == {
        ("All", 365.0), ("DISGRP=CR1", 100.0), ("DISGRP=CR1", 365.0), ("DISGRP=CR2+", 100.0),
        ("DISGRP=CR2+", 365.0)}
    assert estimates[("DISGRP=CR2+", 100.0)].estimate is not None
    km = tte_results(_patients(aval, [int(e == 1) for e in evnt], group).assign(PARAMCD="OS"),
                     "OS", landmarks=[100], subgroups=(), min_at_risk=6)
    assert _pick(km, "at_risk", time=100.0).estimate == 6.0
    assert _pick(km, "at_risk", time=100.0).flag == ""


def test_sap_v3_text_never_quotes_an_estimate_with_few_at_risk():
    # 6 patients, 2 at risk at day 365 (< 5): the headline says so instead of the number.
    data = _patients([120, 200, 300, 330, 400, 500], [1, 0, 1, 0, 0, 0],
                     ["CR1"] * 6).assign(PARAMCD="PFS")
    rows = tte_results(data, "PFS", landmarks=[100, 365], subgroups=())
    estimate = _pick(rows, "survival", time=365.0).estimate
    text = headline(rows, "PFS")
    assert text.startswith("The 1-year progression-free survival is not quoted: 2 of the 6 "
                           "patients remained at risk at day 365, fewer than 5")
    assert f"{100 * estimate:.1f}" not in text
    assert headline(rows, "PFS", 100).startswith("The day-100 progression-free survival was "
                                                 "100.0%")

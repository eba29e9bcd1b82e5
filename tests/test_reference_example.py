"""The bundled example cut's reported numbers against R (survival, cmprsk).

The pipeline runs for real (validate_cut -> derive_cut -> endpoints.tte_results with
params/example.yml); every landmark estimate, CI limit, quartile, subgroup test and the
follow-up rows are compared with haplo_report/qualification/reference/expected/example_*.csv within 1e-6. SE and
numbers at risk are not in result rows: those are checked on ``km_at``/``cif_at`` directly.
Regenerate the references as haplo_report/qualification/reference/README.md says.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from haplo_report.analysis.endpoints import (CIF_ENDPOINTS, KM_ENDPOINTS, endpoint_landmarks,
                                    followup_results, tte_results)
from haplo_report.analysis.results import results_frame
from haplo_report.analysis.stats.cif import cif_at, cumulative_incidence
from haplo_report.analysis.stats.km import Z95, km_at, km_estimate
from haplo_report.qualification.example import adtte_text, example_derived, example_params
from haplo_report.qualification.reference_cases import subgroup_parts
from stats_reference import (LANDMARK_KEY, REFERENCE, assert_at_risk_equals_r, assert_close,
                             assert_landmarks_equal_r, expected)

OUTPUT = REFERENCE / "inputs" / "example_adtte.csv"

PAST_FOLLOW_UP = 5000  # the day make_expected_example.R adds past every group's follow-up


@pytest.fixture(scope="module")
def params():
    return example_params()


@pytest.fixture(scope="module")
def adtte(params) -> pd.DataFrame:
    return example_derived(params).adtte


@pytest.fixture(scope="module")
def rows(adtte, params) -> pd.DataFrame:
    """Result rows of every endpoint, each with all three subgroups, and the follow-up."""
    found = []
    for code in KM_ENDPOINTS + CIF_ENDPOINTS:
        found += tte_results(adtte, code, landmarks=endpoint_landmarks(code, params.landmarks_days),
                             subgroup_min_n=params.subgroup_min_n)
    return results_frame(found + followup_results(adtte))


def reference(name: str) -> pd.DataFrame:
    return expected(f"example_{name}").fillna({"flag": ""})


def test_exported_adtte_is_the_example_cut(adtte) -> None:
    assert OUTPUT.read_text(encoding="utf-8") == adtte_text(adtte), (
        f"{OUTPUT} differs from the example cut: regenerate it and the R references "
        "(haplo_report/qualification/reference/README.md)")


def test_every_endpoint_and_subgroup_is_analysed(rows) -> None:
    # every level has >= 5 patients; SAP v3: endpoints with fewer than 5 events not tested
    tests = rows[rows["statistic"].isin(["logrank_p", "gray_p", "not_tested"])]
    want = reference("tests")
    assert sorted(zip(tests["endpoint"], tests["subgroup"])) == \
        sorted(zip(want["endpoint"], want["grouping"]))
    untested = rows[rows["statistic"] == "not_tested"]
    r_untested = want[want["test"] == "not_tested_events"]
    assert sorted(zip(untested["endpoint"], untested["subgroup"])) == \
        sorted(zip(r_untested["endpoint"], r_untested["grouping"]))
    assert set(untested["method"]) == {"not tested (fewer than 5 events)"}
    # the clinician's example: acute GVHD III-IV, 1 event in 30 patients, is never tested
    assert set(untested.loc[untested["endpoint"] == "AGVHD34", "events"]) == {1}


@pytest.mark.parametrize("kind", ["km", "cif"])
def test_number_at_risk_equals_r_n_risk(rows, kind: str) -> None:
    want = reference(f"{kind}_landmarks").query("time != @PAST_FOLLOW_UP")
    assert_at_risk_equals_r(want, rows[rows["endpoint"].isin(set(want["endpoint"]))], kind)


@pytest.mark.parametrize(("kind", "statistic"), [("km", "survival"), ("cif", "cif")])
def test_landmark_rows_match_r(rows, kind: str, statistic: str) -> None:
    want = reference(f"{kind}_landmarks").query("time != @PAST_FOLLOW_UP")
    got = rows[rows["statistic"] == statistic].rename(columns={"time_days": "time"})
    assert_landmarks_equal_r(want, got, statistic)


def test_cif_ci_is_the_sap_formula_on_r_variance(rows) -> None:
    want = reference("cif_landmarks").query("time != @PAST_FOLLOW_UP")
    got = rows[rows["statistic"] == "cif"].rename(columns={"time_days": "time"})
    both = want.merge(got, on=LANDMARK_KEY, suffixes=("_r", ""))
    est = both["estimate_r"].where((both["estimate_r"] > 0) & (both["estimate_r"] < 1))
    k = Z95 * np.sqrt(both["var"]) / (est * np.log(est))
    assert_close(both["ci_lower"], est ** np.exp(-k), "cif ci_lower from R var")
    assert_close(both["ci_upper"], est ** np.exp(k), "cif ci_upper from R var")


def test_quartile_rows_match_r(rows) -> None:
    want = reference("km_quantiles")
    want["statistic"] = want["quantile"].map({0.25: "q25", 0.5: "median", 0.75: "q75"})
    got = rows[rows["statistic"].isin(["q25", "median", "q75"])]
    key = ["endpoint", "subgroup", "statistic"]
    both = want.merge(got, on=key, how="outer", suffixes=("_r", ""), indicator=True)
    assert (both["_merge"] == "both").all(), both.loc[both["_merge"] != "both", key]
    for column in ("estimate", "ci_lower", "ci_upper"):
        assert_close(both[column], both[f"{column}_r"], f"quartile {column}")
    assert both["events"].tolist() == both["events_r"].tolist()


def test_subgroup_tests_match_r(rows) -> None:
    want = reference("tests")
    for test in ("logrank", "gray"):
        r = want[want["test"] == test].rename(columns={"grouping": "subgroup",
                                                        "statistic": "chisq"})
        for suffix, column in (("chisq", "chisq"), ("p", "p_value")):
            got = rows[rows["statistic"] == f"{test}_{suffix}"]  # not_tested_events: none
            both = r.merge(got, on=["endpoint", "subgroup"], suffixes=("_r", ""))
            assert len(both) == len(r) == len(got)
            assert_close(both["estimate"], both[column], f"{test} {column}")
            assert both["n"].tolist() == both["n_r"].tolist()
            assert both["events"].tolist() == both["events_r"].tolist()
            assert all(m.endswith(f"; {int(df)} df") for m, df in zip(both["method"], both["df"]))


@pytest.mark.parametrize("kind", ["km", "cif"])
def test_se_and_numbers_at_risk_match_r(adtte, kind: str) -> None:
    # SE and n at risk are not in result rows: stats functions on the same ADTTE rows
    want = reference(f"{kind}_landmarks")
    for code in KM_ENDPOINTS if kind == "km" else CIF_ENDPOINTS:
        for label, data in subgroup_parts(adtte, code).items():
            r = want[(want["endpoint"] == code) & (want["subgroup"] == label)]
            time = data["AVAL"].to_numpy(dtype=float)
            event_type = data["EVNTTYPE"].to_numpy(dtype=int)
            got = (km_at(km_estimate(time, (event_type == 1).astype(int)), r["time"])
                   if kind == "km" else
                   cif_at(cumulative_incidence(time, event_type, 1), r["time"]))
            for column in ("estimate", "se", "ci_lower", "ci_upper"):
                assert_close(got[column], r[column], f"{code} {label} {column}")
            assert got["n_risk"].tolist() == r["n_risk"].tolist(), f"{code} {label} n_risk"
            assert got["flag"].tolist() == r["flag"].tolist(), f"{code} {label} flag"


@pytest.mark.parametrize("code", KM_ENDPOINTS + CIF_ENDPOINTS)
def test_landmark_past_follow_up_is_ne_in_rows_unless_the_curve_is_determined(adtte, code: str
                                                                               ) -> None:
    got = results_frame(tte_results(adtte, code, landmarks=[PAST_FOLLOW_UP]))
    got = got[(got["time_days"] == PAST_FOLLOW_UP)
              & got["statistic"].isin(["survival", "cif"])].sort_values("subgroup")
    want = reference("km_landmarks" if code in KM_ENDPOINTS else "cif_landmarks")
    want = want[(want["endpoint"] == code) & (want["time"] == PAST_FOLLOW_UP)]
    want = want.sort_values("subgroup")
    assert got["subgroup"].tolist() == want["subgroup"].tolist()
    assert got["flag"].tolist() == want["flag"].tolist()
    assert_close(got["estimate"], want["estimate"], f"{code} past follow-up")


def test_median_followup_matches_r(rows) -> None:
    want = reference("followup").iloc[0]
    got = rows[rows["endpoint"] == "OS"].set_index("statistic")
    median = got.loc["median_followup"]
    assert_close([median["estimate"], median["ci_lower"], median["ci_upper"]],
                 [want["median"], want["ci_lower"], want["ci_upper"]], "median follow-up")
    assert (median["n"], median["events"]) == (want["n"], want["deaths"])
    assert_close([got.loc["min", "estimate"], got.loc["max", "estimate"]],
                 [want["min"], want["max"]], "follow-up range")


def test_median_day_of_recovery_matches_r(rows) -> None:
    for want in reference("recovery").itertuples(index=False):
        got = rows[rows["endpoint"] == want.endpoint].set_index("statistic")
        assert_close(got.loc[["median_days", "min", "max"], "estimate"],
                     [want.median_days, want.min, want.max], f"{want.endpoint} recovery")
        assert got.loc["median_days", "n"] == want.n

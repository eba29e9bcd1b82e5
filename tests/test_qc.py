"""haplo_report.analysis.qc: the independent check (lifelines and identities) of a run."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from haplo_report.analysis import endpoints, qc
from haplo_report.analysis.derive import derive_cut
from haplo_report.analysis.endpoints import (CIF_ENDPOINTS, KM_ENDPOINTS, endpoint_landmarks,
                                             followup_results, tte_results)
from haplo_report.analysis.results import ResultRow, results_frame, write_results
from haplo_report.analysis.summaries import disposition_summary
from haplo_report.data.validation import validate_cut
from haplo_report.formatting import fmt_scientific
from haplo_report.params import load_params
from haplo_report.paths import PROJECT_ROOT, QC_CSV
from haplo_report.render.independent_check import independent_check_markdown
from haplo_report.run import RunFailed
from pipeline_fixtures import good_run, make_params, previous, run_fake, tree_hashes  # noqa: F401

EXAMPLE = PROJECT_ROOT / "params" / "example.yml"
KM_LANDMARKS = "Kaplan-Meier estimate and 95% CI at each landmark"
KM_QUARTILES = "Kaplan-Meier quartiles with 95% CI"


@pytest.fixture(scope="module")
def example() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The example cut's derived ADTTE and ADSL (validate -> derive, as a run does)."""
    params = load_params(EXAMPLE, today=dt.date(2100, 1, 1))
    derived = derive_cut(validate_cut(params.data_dir, params.data_cut_date), params)
    return derived.adtte, derived.adsl


def example_rows(adtte: pd.DataFrame, adsl: pd.DataFrame,
                 paramcds: tuple[str, ...] = KM_ENDPOINTS + CIF_ENDPOINTS) -> list[ResultRow]:
    """The result rows the notebooks make of these endpoints (example parameters)."""
    params = load_params(EXAMPLE, today=dt.date(2100, 1, 1))
    rows = disposition_summary(adsl) + followup_results(adtte)
    for code in paramcds:
        rows += tte_results(adtte, code, landmarks=endpoint_landmarks(code, params.landmarks_days),
                            subgroup_min_n=params.subgroup_min_n)
    return rows


def write_run(folder: Path, adtte: pd.DataFrame, adsl: pd.DataFrame,
              rows: list[ResultRow] | pd.DataFrame) -> Path:
    """A run folder with what the check reads: data/*.parquet and results.csv."""
    (folder / "data").mkdir(parents=True)
    adtte.to_parquet(folder / "data" / "adtte.parquet", index=False)
    adsl.to_parquet(folder / "data" / "adsl.parquet", index=False)
    for name in ("admrd", "adgvhd", "adae"):
        pd.DataFrame({"USUBJID": pd.Series([], dtype="string")}).to_parquet(
            folder / "data" / f"{name}.parquet", index=False)
    (folder / "data" / "supplied.json").write_text("{}", encoding="utf-8")
    write_results(rows, folder / "results.csv")
    return folder


def test_example_appendix_lists_every_km_number_with_its_largest_difference(example, tmp_path):
    adtte, adsl = example
    rows = results_frame(example_rows(adtte, adsl))
    run_dir = write_run(tmp_path / "run", adtte, adsl, rows)
    frame = qc.check_run(run_dir)
    assert (frame["result"] == "pass").all()
    km = rows[rows["endpoint"].isin(KM_ENDPOINTS)]
    tables = km.apply(lambda r: qc.output_of(r["endpoint"], r["subgroup"]), axis=1)
    appendix = independent_check_markdown(run_dir)
    assert appendix.startswith("# Independent check")
    for check, statistics in ((KM_LANDMARKS, ["survival"]), (KM_QUARTILES, list(qc.QUANTILES))):
        checked = frame[frame["check"] == check]
        # every KM number (estimate, CI lower, CI upper) of every row, in its own table
        expected = (km[km["statistic"].isin(statistics)].groupby([tables, "endpoint"]).size() * 3)
        got = checked.set_index(["output", "endpoint"])["numbers"]
        assert got.sort_index().to_dict() == expected.sort_index().to_dict()
        for line in checked.itertuples():
            assert line.largest_difference <= 1e-9
            pattern = (rf"\| {re.escape(line.output)} +\| {line.endpoint} +\| {re.escape(check)} "
                       rf"+\|[^|]+\| {line.numbers} +\| (\S+) +\|")
            found = re.search(pattern, appendix)
            assert found, f"{line.output} {line.endpoint} {check} not in the appendix"
            assert found.group(1) == fmt_scientific(line.largest_difference)
    # landmark values are compared as results.csv holds them (10 significant digits)
    landmarks = frame[frame["check"] == KM_LANDMARKS]
    assert 0 < landmarks["largest_difference"].max() < 1e-9
    assert "Table 14.2.1" in set(landmarks["output"]) and "Table 14.2.2" in set(landmarks["output"])
    assert (tmp_path / "run" / QC_CSV).is_file()


def test_corrupted_estimate_fails_naming_table_endpoint_subgroup_and_time(example, tmp_path,
                                                                           monkeypatch):
    adtte, adsl = example
    cr2 = int((adtte[adtte["PARAMCD"] == "PFS"]["DISGRP"] == "CR2+").sum())
    real_km_at = endpoints.km_at

    def corrupted(fit, times):  # PFS in DISGRP=CR2+ only (its size), day 365 only
        at = real_km_at(fit, times)
        if fit.n == cr2:
            at.loc[at["time"] == 365, "estimate"] += 0.01
        return at

    monkeypatch.setattr(endpoints, "km_at", corrupted)
    run_dir = write_run(tmp_path / "run", adtte, adsl, example_rows(adtte, adsl, ("PFS",)))
    with pytest.raises(qc.QCFailed) as failure:
        qc.check_run(run_dir)
    message = str(failure.value)
    assert "Table 14.2.2, PFS, subgroup DISGRP=CR2+, survival, day 365: reported" in message
    assert "1 number(s) differ" in message
    written = pd.read_csv(run_dir / QC_CSV)
    failed = written[written["result"] == "fail"]
    assert failed[["output", "endpoint", "check"]].values.tolist() == [
        ["Table 14.2.2", "PFS", KM_LANDMARKS]]
    assert failed["largest_difference"].iloc[0] == pytest.approx(0.01, rel=1e-6)


def test_quantile_rule_is_r_midpoint_where_lifelines_takes_the_first_time():
    time = np.array([1.0, 2, 3, 4])
    event = np.ones(4, dtype=int)
    curve = qc.lifelines_curve(time, event)  # S = .75, .5, .25, 0 after 1, 2, 3, 4
    assert KaplanMeierFitter().fit(time, event).median_survival_time_ == 2.0
    assert qc.quantile_time(curve.time, curve.estimate, 0.5) == 2.5  # flat at 0.5 from 2 to 3
    assert qc.quantile_time(curve.time, curve.estimate, 0.6) == 2.0  # crosses: lifelines' rule
    assert np.isnan(qc.quantile_time(curve.time, curve.estimate, -0.1))
    # the CI is not defined where S is 0 or 1 (lifelines fills 1 there)
    assert np.isnan(curve.lower[[0, -1]]).all() and np.isnan(curve.upper[[0, -1]]).all()


def _tte(time: list[float], event: list[int], group: list[str] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame({"USUBJID": [f"S{i:02d}" for i in range(len(time))], "PARAMCD": "OS",
                          "AVAL": time, "EVNTTYPE": event})
    if group is not None:
        frame["DISGRP"] = group
    return frame


def _survival(time_days: float, estimate: float | None, n: int, events: int,
              lower: float | None = None, upper: float | None = None) -> ResultRow:
    return ResultRow("OS", "All", "survival", time_days, estimate, lower, upper, n, events,
                     flag="NE" if estimate is None else "")


def test_beyond_follow_up_ne_unless_the_curve_is_determined():
    censored_last = _tte([10, 20, 30, 40], [1, 0, 1, 0])  # S(30) = 1/3, censored at 40
    fit = KaplanMeierFitter().fit([10, 20, 30, 40], [1, 0, 1, 0])
    s40 = float(fit.survival_function_.iloc[-1, 0])
    low, high = fit.confidence_interval_.iloc[-1]
    ne = qc.check_results(results_frame([_survival(100, None, 4, 2)]), censored_last,
                          pd.DataFrame())
    assert ne.failures() == []
    carried = qc.check_results(results_frame([_survival(100, s40, 4, 2, low, high)]),
                               censored_last, pd.DataFrame())
    assert carried.failures() and "OS, subgroup All, survival, day 100: reported" in \
        carried.failures()[0]
    determined = _tte([10, 20, 30, 40], [1, 0, 1, 1])  # everyone's outcome known: S = 0
    for reported in (None, 0.0):  # NE (SAP v1) and the determined value (SAP v2) both pass
        ledger = qc.check_results(results_frame([_survival(100, reported, 4, 3)]), determined,
                                  pd.DataFrame())
        assert ledger.failures() == []


def test_logrank_with_a_group_without_expected_events_is_not_compared():
    data = _tte([1, 2, 3, 10, 11, 12], [0, 0, 0, 1, 1, 0], ["A", "A", "A", "B", "B", "B"])
    rows = results_frame([ResultRow("OS", "DISGRP", "logrank_p", None, 0.5, n=6, events=2)])
    frame = qc.check_results(rows, data, pd.DataFrame()).frame()
    line = frame[frame["check"] == "Log-rank chi-square and p-value"].iloc[0]
    assert line["numbers"] == 0 and "survdiff drops it" in line["not_compared"]


def test_logrank_agrees_with_lifelines_and_a_wrong_p_fails():
    data = _tte([5, 8, 12, 3, 9, 15, 20, 4], [1, 1, 0, 1, 0, 1, 1, 1],
                ["A", "A", "A", "A", "B", "B", "B", "B"])
    test = qc.multivariate_logrank_test(data["AVAL"], data["DISGRP"], data["EVNTTYPE"])
    good = results_frame([ResultRow("OS", "DISGRP", "logrank_p", None, test.p_value, n=8,
                                    events=6),
                          ResultRow("OS", "DISGRP", "logrank_chisq", None, test.test_statistic,
                                    n=8, events=6)])
    assert qc.check_results(good, data, pd.DataFrame()).failures() == []
    bad = good.assign(estimate=good["estimate"] * (1 + 1e-6))
    failures = qc.check_results(bad, data, pd.DataFrame()).failures()
    assert len(failures) == 2
    assert failures[0].startswith("Table 14.2.4, OS, subgroup DISGRP, logrank_p: reported")


def test_wrong_count_of_events_fails(example, tmp_path):
    adtte, adsl = example
    rows = results_frame(example_rows(adtte, adsl, ("CIR",)))
    at = rows.index[(rows["endpoint"] == "CIR") & (rows["subgroup"] == "All")
                    & (rows["time_days"] == 365)][0]
    rows.loc[at, "events"] += 1
    with pytest.raises(qc.QCFailed, match=r"Table 14.2.5, CIR, subgroup All, events, day 365"):
        qc.check_run(write_run(tmp_path / "run", adtte, adsl, rows))


def test_partition_identity_catches_an_incidence_that_does_not_add_up(example, monkeypatch):
    adtte, adsl = example
    rows = results_frame(example_rows(adtte, adsl, ("PFS", "CIR", "NRM")))
    assert qc.check_results(rows, adtte, adsl).failures() == []
    real = qc.cumulative_incidence

    def shifted(time, event_type, cause=1):
        fit = real(time, event_type, cause)
        fit.table["estimate"] += 1e-10
        return fit

    monkeypatch.setattr(qc, "cumulative_incidence", shifted)
    failures = qc.check_results(rows, adtte, adsl).failures()
    assert any(f.startswith("Figure 14.2.3, CIR+NRM+PFS, subgroup All, sum, day 52: broken by 2e-10")
               for f in failures)


def test_a_failed_check_fails_the_run_and_keeps_the_previous_report(previous, monkeypatch):
    run_dir = previous / "TEST" / "2026-06-30"
    before = tree_hashes(run_dir)
    assert (run_dir / QC_CSV).is_file()
    real = qc.check_results

    def failing(results, adtte, adsl):
        ledger = real(results, adtte, adsl)
        ledger.compare(qc.Line("Table 14.2.1", "PFS", KM_LANDMARKS, "lifelines", 1e-9),
                       np.array([0.5]), np.array([0.6]),
                       lambda i: "PFS, subgroup All, survival, day 365")
        return ledger

    monkeypatch.setattr(qc, "check_results", failing)
    with pytest.raises(RunFailed, match="Table 14.2.1, PFS, subgroup All, survival, day 365: "
                                        "reported 0.5, lifelines 0.6"):
        run_fake(make_params(previous), force=True)
    assert tree_hashes(run_dir) == before
    kept = previous / "TEST" / ".failed" / "2026-06-30"
    assert (pd.read_csv(kept / QC_CSV)["result"] == "fail").any()


def test_sap_v3_numbers_at_risk_checked_against_lifelines(example, tmp_path):
    adtte, adsl = example
    rows = results_frame(example_rows(adtte, adsl))
    frame = qc.check_results(rows, adtte, adsl).frame()
    at_risk = frame[frame["check"] == "Number at risk at each landmark"]
    # every at_risk row (count and flag) of every endpoint and subgroup level
    assert at_risk["numbers"].sum() == 2 * (rows["statistic"] == "at_risk").sum()
    assert (at_risk["result"] == "pass").all()
    assert {"Table 14.2.1", "Table 14.2.2", "Table 14.3.1"} <= set(at_risk["output"])
    # a wrong count, or a flag that does not follow it, fails naming the number
    wrong = rows.copy()
    first = wrong.index[(wrong["statistic"] == "at_risk") & (wrong["endpoint"] == "OS")
                        & (wrong["subgroup"] == "All")][0]
    wrong.loc[first, "estimate"] += 1
    failures = qc.check_results(wrong, adtte, adsl).failures()
    assert any("OS, subgroup All, at_risk, day 100: reported" in f for f in failures)
    flipped = rows.copy()
    flipped.loc[first, "flag"] = "few at risk"
    failures = qc.check_results(flipped, adtte, adsl).failures()
    assert any("OS, subgroup All, at_risk flag, day 100: broken by 1" in f for f in failures)


def test_appendix_writes_tolerances_in_one_notation(example, tmp_path):
    # the text said "1e-9" where its table said "1×10⁻⁹"
    adtte, adsl = example
    run_dir = write_run(tmp_path / "run", adtte, adsl, example_rows(adtte, adsl, ("OS",)))
    qc.check_run(run_dir)
    appendix = independent_check_markdown(run_dir)
    assert "1e-9" not in appendix and "1e-12" not in appendix
    assert "(tolerance 1\u00d710\u207b\u2079;" in appendix and "number at risk" in appendix

"""The R reference cases against the installed suite: one check per estimate group.

Four sets, each made by an R script shipped beside its values in ``reference/``:

- methods (``make_expected.R``, R survival and cmprsk, binom.test): Kaplan-Meier tables,
  landmarks and quartiles, cumulative incidence tables and landmarks, log-rank and Gray tests,
  Clopper-Pearson intervals and median follow-up on eight fixed cohorts;
- the example cut (``make_expected_example.R``): every landmark, quartile, test and follow-up
  number the report shows, from the suite's own derivation of the bundled cut;
- SAP rules on hand-built cuts (``make_expected_cuts.R``): R derives the analysis data from the
  raw tables on its own (enrolment, follow-up, same-day rules, every ADTTE parameter) for the
  example cut, an interim cut and a cut of hand-built same-day events;
- MRD (``make_expected_mrd.R``): landmark populations, 1-year categories and rates.

A file the manifest check found altered (or missing, or unlisted) is never read: the checks
against it are replaced by one failed check naming it; the others run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from haplo_report.analysis.derive import Derived, derive_cut
from haplo_report.analysis.endpoints import (CIF_ENDPOINTS, KM_ENDPOINTS, SUBGROUP_ENDPOINTS,
                                             SUBGROUPS, endpoint_landmarks, followup_results,
                                             tte_results)
from haplo_report.analysis.mrd import (CATEGORIES, EVENT_ROW, NO_ASSESSMENT_ROW, PRIMARY,
                                       REACHED_ROW, SENSITIVITY, category_row, mrd_landmarks,
                                       mrd_negative_1y, mrd_status_1y)
from haplo_report.analysis.results import results_frame
from haplo_report.analysis.stats import (cif_at, clopper_pearson, cumulative_incidence,
                                         gray_test, km_at, km_estimate, km_quantiles,
                                         logrank_test, median_followup)
from haplo_report.analysis.summaries import ae_overview, death_summary, disposition_summary
from haplo_report.data.validation import validate_cut
from haplo_report.params import Params
from haplo_report.qualification.checks import Check, Comparison, failed
from haplo_report.qualification.example import (adtte_text, example_derived, example_params,
                                                mrd_texts)
from haplo_report.qualification.integrity import EXAMPLE_CUT, REFERENCE_DIR, shown

METHODS = "Reference cases: methods on fixed cohorts"
EXAMPLE = "Reference cases: the example cut"
CUTS = "Reference cases: SAP rules on hand-built cuts"
MRD = "Reference cases: MRD"
COHORTS = ("cohort31", "ties", "large", "short", "norelapse", "allcensored", "one", "allfail")
LANDMARKS = (100, 365, 730, 5000)
PAST_FOLLOW_UP = 5000  # the day make_expected_example.R adds past every group's follow-up
MRD_THRESHOLD = 1e-4
ESTIMATE_COLUMNS = ("estimate", "ci_lower", "ci_upper")
SE_COLUMNS = ("estimate", "se", "ci_lower", "ci_upper")


class AlteredReference(Exception):
    """A reference file the manifest check found altered, missing or unlisted."""


class References:
    """The shipped reference files, refusing the ones the manifest check found unusable."""

    def __init__(self, folder: Path = REFERENCE_DIR, unusable: set[str] = frozenset()):
        self.folder = Path(folder)
        self.unusable = set(unusable)

    def path(self, name: str) -> Path:
        if name in self.unusable:
            raise AlteredReference(f"{shown(name)} failed the manifest check: not used")
        return self.folder / name

    def expected(self, name: str) -> pd.DataFrame:
        """``expected/<name>.csv`` (empty cells NaN)."""
        return pd.read_csv(self.path(f"expected/{name}.csv"), keep_default_na=False,
                           na_values=[""])

    def cohort(self, name: str) -> pd.DataFrame:
        return pd.read_csv(self.path(f"inputs/{name}.csv"))

    def text(self, name: str) -> str:
        return self.path(name).read_text(encoding="utf-8")

    def example_cut(self) -> None:
        """Raise :class:`AlteredReference` unless every table of the example cut is usable."""
        for name in self.unusable:
            if name.startswith(f"{EXAMPLE_CUT}/"):
                self.path(name)


def _source(file: str, script: str, made_by: str) -> str:
    return f"reference/expected/{file}.csv ({script}: {made_by})"


def _guarded(section: str, id: str, what: str, source: str,
             make: Callable[[], Iterator[Check]]) -> list[Check]:
    """The checks ``make`` yields; when a reference it needs is unusable or the computation
    fails, a failed check naming the reason after those made so far (never a traceback)."""
    checks: list[Check] = []
    try:
        for check in make():
            checks.append(check)
    except AlteredReference as exc:
        checks.append(failed(id, section, what, source, str(exc)))
    except Exception as exc:  # a fault of the installed suite is a failed check, named
        checks.append(failed(id, section, what, source, f"{type(exc).__name__}: {exc}"))
    return checks


# --- methods on fixed cohorts (make_expected.R) -------------------------------------------

SURVIVAL = "R survival::survfit, conf.type log-log"
CMPRSK = "R cmprsk::cuminc and timepoints"


def _cohorts(refs: References) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Each fixed cohort's name, time and status (0 censored, 1 relapse, 2 NRM)."""
    for name in COHORTS:
        data = refs.cohort(name)
        yield name, data["time"].to_numpy(), data["status"].to_numpy()


def _km_table(refs: References) -> Iterator[Check]:
    km_table = refs.expected("km_table")
    for name, time, status in _cohorts(refs):
        fit = km_estimate(time, (status > 0).astype(int))
        want = km_table[km_table["dataset"] == name]
        c = Comparison()
        c.columns(fit.table, want, close=("time", *SE_COLUMNS),
                  equal=("n_risk", "n_event", "n_censor"))
        yield c.check(f"methods.km_table.{name}", METHODS,
                      f"Kaplan-Meier table of cohort {name}: every event time's number at risk, "
                      "events, censored, S, SE and 95% CI",
                      _source("km_table", "make_expected.R", SURVIVAL))


def _km_landmarks(refs: References) -> Iterator[Check]:
    km_marks = refs.expected("km_landmarks")
    for name, time, status in _cohorts(refs):
        want = km_marks[km_marks["dataset"] == name]
        got = km_at(km_estimate(time, (status > 0).astype(int)), list(LANDMARKS))
        c = Comparison()
        c.columns(got, want, close=SE_COLUMNS, equal=("n_risk", "events", "flag"))
        yield c.check(f"methods.km_landmarks.{name}", METHODS,
                      f"Kaplan-Meier at days {', '.join(map(str, LANDMARKS))} in cohort {name}: "
                      "S, SE, 95% CI, at risk, events, NE flag",
                      _source("km_landmarks", "make_expected.R", SURVIVAL))


def _km_quantiles(refs: References) -> Iterator[Check]:
    km_quarts = refs.expected("km_quantiles")
    for name, time, status in _cohorts(refs):
        want = km_quarts[km_quarts["dataset"] == name]
        got = km_quantiles(km_estimate(time, (status > 0).astype(int)))
        c = Comparison()
        c.columns(got, want, close=("quantile", *ESTIMATE_COLUMNS))
        yield c.check(f"methods.km_quantiles.{name}", METHODS,
                      f"Kaplan-Meier quartiles and their Brookmeyer-Crowley 95% CI in cohort {name}",
                      _source("km_quantiles", "make_expected.R", "R survival quantile.survfit"))


def _cif_table(refs: References) -> Iterator[Check]:
    cif_table = refs.expected("cif_table")
    for name, time, status in _cohorts(refs):
        for cause in (1, 2):
            cif = cumulative_incidence(time, status, cause)
            want = cif_table[(cif_table["dataset"] == name) & (cif_table["cause"] == cause)]
            c = Comparison()
            c.columns(cif.table, want, close=("time", *SE_COLUMNS))
            yield c.check(f"methods.cif_table.{name}.cause{cause}", METHODS,
                          f"Cumulative incidence table of cause {cause} in cohort {name}: every "
                          "time's estimate, SE and 95% CI",
                          _source("cif_table", "make_expected.R", CMPRSK))


def _cif_landmarks(refs: References) -> Iterator[Check]:
    cif_marks = refs.expected("cif_landmarks")
    for name, time, status in _cohorts(refs):
        for cause in (1, 2):
            want = cif_marks[(cif_marks["dataset"] == name) & (cif_marks["cause"] == cause)]
            got = cif_at(cumulative_incidence(time, status, cause), list(LANDMARKS))
            c = Comparison()
            c.columns(got, want, close=SE_COLUMNS, equal=("n_risk", "events", "flag"))
            yield c.check(f"methods.cif_landmarks.{name}.cause{cause}", METHODS,
                          f"Cumulative incidence of cause {cause} at days "
                          f"{', '.join(map(str, LANDMARKS))} in cohort {name}",
                          _source("cif_landmarks", "make_expected.R", CMPRSK))


def _followup(refs: References) -> Iterator[Check]:
    followup = refs.expected("followup").set_index("dataset")
    for name, time, status in _cohorts(refs):
        got = median_followup(time, (status > 0).astype(int))
        want = followup.loc[name]
        c = Comparison()
        c.close("median, CI, range", [got.median, got.ci_lower, got.ci_upper, got.minimum,
                                      got.maximum],
                [want["median"], want["ci_lower"], want["ci_upper"], want["minimum"],
                 want["maximum"]])
        yield c.check(f"methods.followup.{name}", METHODS,
                      f"Median follow-up (reverse Kaplan-Meier) with 95% CI and range, cohort "
                      f"{name}", _source("followup", "make_expected.R",
                                         "R survfit on reversed status"))


def _logrank(refs: References) -> Iterator[Check]:
    for row in refs.expected("logrank").itertuples(index=False):
        data = refs.cohort(row.dataset)
        got = logrank_test(data["time"], (data["status"] > 0).astype(int), data[row.grouping])
        c = Comparison()
        c.close("chi-square, p", [got.statistic, got.p_value], [row.statistic, row.p_value])
        c.equal("df", [got.df], [row.df])
        yield c.check(f"methods.logrank.{row.dataset}.{row.grouping}", METHODS,
                      f"Log-rank test by {row.grouping} in cohort {row.dataset}: chi-square, "
                      "df, p", _source("logrank", "make_expected.R", "R survival::survdiff"))


def _gray(refs: References) -> Iterator[Check]:
    for row in refs.expected("gray").itertuples(index=False):
        data = refs.cohort(row.dataset)
        got = gray_test(data["time"], data["status"], data[row.grouping], cause=row.cause)
        c = Comparison()
        c.close("chi-square, p", [got.statistic, got.p_value], [row.statistic, row.p_value])
        c.equal("df", [got.df], [row.df])
        yield c.check(f"methods.gray.{row.dataset}.{row.grouping}.cause{row.cause}", METHODS,
                      f"Gray's test of cause {row.cause} by {row.grouping} in cohort "
                      f"{row.dataset}", _source("gray", "make_expected.R",
                                                "R cmprsk::cuminc $Tests"))


def _binomial(refs: References) -> Iterator[Check]:
    for row in refs.expected("binomial").itertuples(index=False):
        c = Comparison()
        c.close("lower, upper", clopper_pearson(int(row.k), int(row.n), row.level),
                [row.lower, row.upper])
        yield c.check(f"methods.binomial.{int(row.k)}of{int(row.n)}.{row.level:g}", METHODS,
                      f"Clopper-Pearson {row.level:.0%} interval of {int(row.k)}/{int(row.n)}",
                      _source("binomial", "make_expected.R", "R binom.test"))


# --- the example cut (make_expected_example.R) --------------------------------------------

def subgroup_parts(adtte: pd.DataFrame, code: str) -> dict[str, pd.DataFrame]:
    """ADTTE rows of ``code``: all, and each level of each subgroup variable (R's groups)."""
    data = adtte[adtte["PARAMCD"] == code]
    parts = {"All": data}
    for variable in SUBGROUPS:
        for level, group in data.groupby(data[variable].astype(str)):
            parts[f"{variable}={level}"] = group
    return parts


def _landmark_rows(c: Comparison, got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Result rows at the reference's landmarks: estimate and CI, n, events and NE flag."""
    both = want.merge(got, on="time", how="left", suffixes=("_r", ""), indicator=True)
    missing = both.loc[both["_merge"] != "both", "time"].tolist()
    if missing:
        c.problems.append(f"no result row at day(s) {missing}")
    for column in ESTIMATE_COLUMNS:
        c.close(f"{column} (result row)", both[column], both[f"{column}_r"])
    for column in ("n", "events"):
        c.equal(f"{column} (result row)", both[column], both[f"{column}_r"])
    c.equal("flag (result row)", both["flag"].fillna(""), both["flag_r"].fillna(""))


def _at_risk_rows(c: Comparison, rows: pd.DataFrame, want: pd.DataFrame) -> None:
    """SAP v3: the ``at_risk`` result rows at the reference's landmarks equal R survival's
    ``n.risk``."""
    got = rows[rows["statistic"] == "at_risk"]
    both = want.merge(got, on="time", how="left", suffixes=("_r", ""))
    c.equal("at risk (result row)", both["estimate"], both["n_risk"])


EXAMPLE_SCRIPT = "make_expected_example.R"


def _example(refs: References) -> tuple[Derived, pd.DataFrame]:
    """The bundled example cut derived by the suite, and its result rows at the report's
    landmarks and one past every group's follow-up (once its tables passed the manifest)."""
    refs.example_cut()
    return _example_rows()


@lru_cache(maxsize=1)
def _example_rows() -> tuple[Derived, pd.DataFrame]:
    """:func:`_example`, computed once per process."""
    params = example_params()
    derived = example_derived(params)
    rows = []
    for code in KM_ENDPOINTS + CIF_ENDPOINTS:
        rows += tte_results(derived.adtte, code,
                            landmarks=[*endpoint_landmarks(code, params.landmarks_days),
                                       PAST_FOLLOW_UP],
                            subgroup_min_n=params.subgroup_min_n)
    frame = results_frame(rows + followup_results(derived.adtte))
    return derived, frame.rename(columns={"time_days": "time"})


EXAMPLE_INPUTS = {  # R's inputs exported from the example cut (export_example.py)
    "example_adtte.csv": "ADTTE rows R estimated from",
    "example_mrd_patients.csv": "MRD patients (ADSL columns) R analysed",
    "example_mrd_assessments.csv": "MRD assessments (ADMRD) R analysed",
}


def _example_input(name: str) -> Callable[[References], Iterator[Check]]:
    """The check that R's input ``inputs/<name>`` is the suite's derivation now, line by line."""
    def make(refs: References) -> Iterator[Check]:
        derived, _ = _example(refs)
        texts = dict(zip(EXAMPLE_INPUTS, (adtte_text(derived.adtte),
                                          *mrd_texts(derived.adsl, derived.admrd))))
        shipped, now = refs.text(f"inputs/{name}").splitlines(), texts[name].splitlines()
        c = Comparison()
        c.equal("rows", [len(now)], [len(shipped)])
        differing = [i + 1 for i, (a, b) in enumerate(zip(now, shipped)) if a != b]
        c.compared += len(shipped)
        if differing:
            c.problems.append(f"{len(differing)} lines differ, the first is line {differing[0]}")
        yield c.check(f"example.input.{Path(name).stem}", EXAMPLE,
                      f"The example cut's {EXAMPLE_INPUTS[name]} equal the suite's derivation "
                      "of the bundled cut", f"reference/inputs/{name} (export_example.py)",
                      "exact")
    return make


def _example_landmarks(kind: str) -> Callable[[References], Iterator[Check]]:
    """Kaplan-Meier (``km``) or cumulative incidence (``cif``) landmark checks."""
    def make(refs: References) -> Iterator[Check]:
        derived, rows = _example(refs)
        adtte = derived.adtte
        want_all = refs.expected(f"example_{kind}_landmarks")
        codes = KM_ENDPOINTS if kind == "km" else CIF_ENDPOINTS
        statistic = "survival" if kind == "km" else "cif"
        for code in codes:
            for label, data in subgroup_parts(adtte, code).items():
                want = want_all[(want_all["endpoint"] == code) & (want_all["subgroup"] == label)]
                c = Comparison()
                got = rows[(rows["endpoint"] == code) & (rows["subgroup"] == label)
                           & (rows["statistic"] == statistic)]
                _landmark_rows(c, got, want)
                aval = data["AVAL"].to_numpy(dtype=float)
                event_type = data["EVNTTYPE"].to_numpy(dtype=int)
                at = (km_at(km_estimate(aval, (event_type == 1).astype(int)), want["time"])
                      if kind == "km" else
                      cif_at(cumulative_incidence(aval, event_type, 1), want["time"]))
                c.close("se", at["se"], want["se"])
                c.equal("n at risk", at["n_risk"], want["n_risk"])
                _at_risk_rows(c, rows[(rows["endpoint"] == code) & (rows["subgroup"] == label)],
                              want)
                days = ", ".join(f"{t:g}" for t in want["time"])
                yield c.check(
                    f"example.{kind}.{code}.{label}", EXAMPLE,
                    f"{code}, {label}: {'Kaplan-Meier' if kind == 'km' else 'cumulative incidence'}"
                    f" at days {days}: estimate, 95% CI, SE, n, at risk, events, NE flag",
                    _source(f"example_{kind}_landmarks", EXAMPLE_SCRIPT,
                            "R survival::survfit" if kind == "km" else "R cmprsk::cuminc"))
    return make


def _example_quartiles(refs: References) -> Iterator[Check]:
    _, rows = _example(refs)
    quartiles = refs.expected("example_km_quantiles")
    quartiles["statistic"] = quartiles["quantile"].map({0.25: "q25", 0.5: "median", 0.75: "q75"})
    for (code, label), want in quartiles.groupby(["endpoint", "subgroup"], sort=False):
        got = rows[(rows["endpoint"] == code) & (rows["subgroup"] == label)]
        both = want.merge(got, on="statistic", how="left", suffixes=("_r", ""))
        c = Comparison()
        for column in ESTIMATE_COLUMNS:
            c.close(column, both[column], both[f"{column}_r"])
        c.equal("events", both["events"], both["events_r"])
        yield c.check(f"example.quartiles.{code}.{label}", EXAMPLE,
                      f"{code}, {label}: 25th, 50th, 75th percentile with 95% CI",
                      _source("example_km_quantiles", EXAMPLE_SCRIPT, "R quantile.survfit"))


def _untested(c: Comparison, got: pd.DataFrame, test: str, events: int) -> str:
    """A subgroup test R did not do either (SAP v2: a level with fewer than 5 patients; v3:
    fewer than 5 events): the suite's ``not_tested`` row with its reason and events."""
    reason = ("not tested (a level has fewer than 5 patients)" if test == "not_tested"
              else "not tested (fewer than 5 events)")
    found = "not_tested" in got.index
    c.equal(reason, [got.loc["not_tested", "method"] if found else ""], [reason])
    c.equal("events", [got.loc["not_tested", "events"] if found else None], [events])
    return f"subgroup test not done ({reason.removeprefix('not tested (')}"


def _example_tests(refs: References) -> Iterator[Check]:
    _, rows = _example(refs)
    for r in refs.expected("example_tests").itertuples(index=False):
        got = rows[(rows["endpoint"] == r.endpoint) & (rows["subgroup"] == r.grouping)]
        got = got.set_index("statistic")
        c = Comparison()
        if r.test.startswith("not_tested"):
            what = _untested(c, got, r.test, r.events)
            yield c.check(f"example.{r.test}.{r.endpoint}.{r.grouping}", EXAMPLE,
                          f"{r.endpoint} by {r.grouping}: {what}",
                          _source("example_tests", EXAMPLE_SCRIPT, "R (SAP v3 rule)"))
            continue
        c.close("chi-square, p", [got.loc[f"{r.test}_chisq", "estimate"],
                                  got.loc[f"{r.test}_p", "estimate"]], [r.statistic, r.p_value])
        c.equal("n, events", [got.loc[f"{r.test}_p", "n"], got.loc[f"{r.test}_p", "events"]],
                [r.n, r.events])
        c.equal("df", [got.loc[f"{r.test}_p", "method"].endswith(f"; {int(r.df)} df")], [True])
        test = "log-rank" if r.test == "logrank" else "Gray's"
        yield c.check(f"example.{r.test}.{r.endpoint}.{r.grouping}", EXAMPLE,
                      f"{r.endpoint} by {r.grouping}: {test} test chi-square, df, p, n, events",
                      _source("example_tests", EXAMPLE_SCRIPT, "R survdiff / cuminc $Tests"))


def _example_followup(refs: References) -> Iterator[Check]:
    _, rows = _example(refs)
    os_rows = rows[rows["endpoint"] == "OS"].set_index("statistic")
    want = refs.expected("example_followup").iloc[0]
    c = Comparison()
    c.close("median follow-up, CI, range",
            [os_rows.loc[s, "estimate"] for s in ("median_followup", "min", "max")]
            + [os_rows.loc["median_followup", "ci_lower"], os_rows.loc["median_followup",
                                                                       "ci_upper"]],
            [want["median"], want["min"], want["max"], want["ci_lower"], want["ci_upper"]])
    c.equal("n, deaths", [os_rows.loc["median_followup", "n"],
                          os_rows.loc["median_followup", "events"]], [want["n"], want["deaths"]])
    yield c.check("example.followup", EXAMPLE,
                  "Median follow-up (reverse Kaplan-Meier), 95% CI and range of patients alive",
                  _source("example_followup", EXAMPLE_SCRIPT, "R survfit on reversed status"))


def _example_recovery(refs: References) -> Iterator[Check]:
    _, rows = _example(refs)
    for r in refs.expected("example_recovery").itertuples(index=False):
        got = rows[rows["endpoint"] == r.endpoint].set_index("statistic")
        c = Comparison()
        c.close("median day, range", got.loc[["median_days", "min", "max"], "estimate"],
                [r.median_days, r.min, r.max])
        c.equal("n", [got.loc["median_days", "n"]], [r.n])
        yield c.check(f"example.recovery.{r.endpoint}", EXAMPLE,
                      f"{r.endpoint} recovery: median day and range among patients who recovered",
                      _source("example_recovery", EXAMPLE_SCRIPT, "R median, range"))


# --- SAP rules on hand-built cuts (make_expected_cuts.R) ----------------------------------

CUTS_SCRIPT = "make_expected_cuts.R"
BY_R = "R, deriving from the raw tables on its own"


def _cut_runs(refs: References) -> Iterator[tuple[str, Derived, pd.DataFrame]]:
    """Each cut of make_expected_cuts.R as the suite derives and estimates it: the example
    cut, an interim cut of the same data, the hand-built same-day cut (shipped here)."""
    refs.example_cut()
    example = example_params().data_dir
    yield "example", *_cut(example, dt.date(2026, 7, 31), False)
    yield "interim", *_cut(example, dt.date(2025, 8, 10), False)
    sameday = refs.path("inputs/sameday/subjects.csv").parent
    for table in sorted(p.name for p in sameday.iterdir()):
        refs.path(f"inputs/sameday/{table}")  # every table of the cut passed the manifest
    yield "sameday", *_cut(sameday, dt.date(2025, 12, 31), True)


@lru_cache(maxsize=3)
def _cut(folder: Path, cut_date: dt.date, relapse_competes: bool) -> tuple[Derived, pd.DataFrame]:
    params = Params(study_id="QUALIFY", study_title="qualification", data_dir=folder,
                    data_cut_date=cut_date, gvhd_relapse_competes=relapse_competes)
    derived = derive_cut(validate_cut(folder, cut_date), params)
    rows = []
    for code in sorted(set(derived.adtte["PARAMCD"])):
        rows += tte_results(derived.adtte, code, landmarks=endpoint_landmarks(code),
                            subgroups=SUBGROUPS if code in SUBGROUP_ENDPOINTS else ())
    frame = results_frame(rows + followup_results(derived.adtte))
    return derived, frame.rename(columns={"time_days": "time"})


def _cuts_adtte(refs: References) -> Iterator[Check]:
    adtte_all = refs.expected("cuts_adtte")
    for name, derived, _ in _cut_runs(refs):
        want = adtte_all[adtte_all["cut"] == name]
        got = derived.adtte.astype({"USUBJID": str, "PARAMCD": str})
        for code in sorted(set(want["PARAMCD"]) | set(got["PARAMCD"])):
            w = want[want["PARAMCD"] == code].sort_values("USUBJID")
            g = got[got["PARAMCD"] == code].sort_values("USUBJID")
            c = Comparison()
            c.equal("patients", g["USUBJID"], w["USUBJID"])
            if g["USUBJID"].tolist() == w["USUBJID"].tolist():
                c.equal("AVAL (days)", g["AVAL"], w["AVAL"])
                c.equal("EVNTTYPE", g["EVNTTYPE"], w["EVNTTYPE"])
            yield c.check(f"cuts.{name}.adtte.{code}", CUTS,
                          f"Cut {name}: ADTTE {code} patient by patient (time, event type)",
                          _source("cuts_adtte", CUTS_SCRIPT, BY_R), "exact")


def _cuts_counts(refs: References) -> Iterator[Check]:
    counts_all = refs.expected("cuts_counts")
    for name, derived, _ in _cut_runs(refs):
        want = dict(counts_all.loc[counts_all["cut"] == name, ["name", "value"]].values.tolist())
        disposition = {r.subgroup: r.estimate for r in disposition_summary(derived.adsl,
                                                                           ltfu_days=180)}
        outside = next(r for r in ae_overview(derived.adae, derived.adsl)
                       if r.subgroup == "SAFFL=N")
        deaths = {r.subgroup: r.estimate for r in death_summary(derived.adsl)}
        got = {**{k: disposition.get(k) for k in ("ENRLFL=Y", "FASFL=Y", "FASFL=N", "SAFFL=Y",
                                                  "DTHFL=Y", "DTHFL=N", "LTFUFL=Y")},
               "AE SAFFL=N": outside.estimate, "AE SAFFL=N denominator": outside.n,
               "DEATH FAS": deaths.get("DTHFL=Y"),
               "DTHCAT=Relapse-related": deaths.get("DTHCAT=Relapse-related"),
               "DTHCAT=Non-relapse": deaths.get("DTHCAT=Non-relapse"),
               "DTHCAT=Death before transplant": deaths.get("DTHCAT=Death before transplant",
                                                            0)}
        c = Comparison()
        for key in sorted(want):
            c.equal(key, [got.get(key)], [want[key]])
        yield c.check(f"cuts.{name}.counts", CUTS,
                      f"Cut {name}: enrolled, FAS, safety set, deaths, lost to follow-up, AEs "
                      "outside the safety set, deaths by cause",
                      _source("cuts_counts", CUTS_SCRIPT, BY_R), "exact")


def _cuts_landmarks(refs: References) -> Iterator[Check]:
    landmarks_all = refs.expected("cuts_landmarks")
    for name, _, rows in _cut_runs(refs):
        want_cut = landmarks_all[landmarks_all["cut"] == name]
        for (code, label), want in want_cut.groupby(["endpoint", "subgroup"], sort=False):
            got = rows[(rows["endpoint"] == code) & (rows["subgroup"] == label)
                       & rows["statistic"].isin(["survival", "cif"])]
            c = Comparison()
            _landmark_rows(c, got, want)
            _at_risk_rows(c, rows[(rows["endpoint"] == code) & (rows["subgroup"] == label)],
                          want)
            yield c.check(f"cuts.{name}.landmarks.{code}.{label}", CUTS,
                          f"Cut {name}: {code}, {label} at days "
                          f"{', '.join(f'{t:g}' for t in want['time'])}: estimate, 95% CI, n, "
                          "at risk, events, NE flag", _source("cuts_landmarks", CUTS_SCRIPT, BY_R))


def _cuts_tests(refs: References) -> Iterator[Check]:
    tests_all = refs.expected("cuts_tests")
    for name, _, rows in _cut_runs(refs):
        for r in tests_all[tests_all["cut"] == name].itertuples(index=False):
            got = rows[(rows["endpoint"] == r.endpoint) & (rows["subgroup"] == r.grouping)]
            got = got.set_index("statistic")
            c = Comparison()
            if r.test.startswith("not_tested"):
                what = _untested(c, got, r.test, r.events)
            else:
                test = "logrank" if r.endpoint in KM_ENDPOINTS else "gray"
                c.close("p, chi-square", [got.loc[f"{test}_p", "estimate"],
                                          got.loc[f"{test}_chisq", "estimate"]],
                        [r.p_value, r.statistic])
                c.equal("n, events", [got.loc[f"{test}_p", "n"], got.loc[f"{test}_p", "events"]],
                        [r.n, r.events])
                what = f"{'log-rank' if test == 'logrank' else 'Gray'} test: chi-square, p, n, events"
            yield c.check(f"cuts.{name}.test.{r.endpoint}.{r.grouping}", CUTS,
                          f"Cut {name}: {r.endpoint} by {r.grouping}: {what}",
                          _source("cuts_tests", CUTS_SCRIPT, BY_R))


def _cuts_followup(refs: References) -> Iterator[Check]:
    followup_all = refs.expected("cuts_followup")
    for name, _, rows in _cut_runs(refs):
        want = followup_all[followup_all["cut"] == name].iloc[0]
        os_rows = rows[rows["endpoint"] == "OS"].set_index("statistic")
        c = Comparison()
        c.close("median follow-up, CI, range",
                [os_rows.loc["median_followup", col] for col in ESTIMATE_COLUMNS]
                + [os_rows.loc["min", "estimate"], os_rows.loc["max", "estimate"]],
                [want["median"], want["ci_lower"], want["ci_upper"], want["min"], want["max"]])
        yield c.check(f"cuts.{name}.followup", CUTS,
                      f"Cut {name}: median follow-up, 95% CI and range of patients alive",
                      _source("cuts_followup", CUTS_SCRIPT, BY_R))


# --- MRD (make_expected_mrd.R) ------------------------------------------------------------

def _mrd_inputs(refs: References, cut: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    patients = pd.read_csv(refs.path(f"inputs/{cut}_patients.csv"), dtype=str,
                           keep_default_na=False, na_values=[""])
    adsl = patients.assign(**{c: pd.to_datetime(patients[c]) for c in
                              ("HSCTDT", "CUTDT", "RELDT", "DTHDT")})
    adsl["FUPDAYS"] = pd.to_numeric(adsl["FUPDAYS"]).astype("Int64")
    admrd = pd.read_csv(refs.path(f"inputs/{cut}_assessments.csv"),
                        dtype={"USUBJID": str, "METHOD": str})
    admrd["ADY"] = admrd["ADY"].astype("Int64")
    return adsl, admrd


MRD_SOURCE = "R, the SAP's MRD rules and binom.test"
MRD_CUTS = ("example_mrd", "mrd_handbuilt")


def _mrd_rows(refs: References, cut: str) -> pd.DataFrame:
    adsl, admrd = _mrd_inputs(refs, cut)
    return results_frame(
        mrd_landmarks(admrd, adsl, threshold=MRD_THRESHOLD, window_days=14, window_days_365=30)
        + mrd_negative_1y(adsl, admrd, threshold=MRD_THRESHOLD, window_days_365=30))


def _mrd_landmarks(refs: References) -> Iterator[Check]:
    landmarks = refs.expected("mrd_landmarks")
    for cut in MRD_CUTS:
        rows = _mrd_rows(refs, cut)
        for r in landmarks[landmarks["cut"] == cut].itertuples(index=False):
            at = rows[(rows["endpoint"] == "MRD") & (rows["time_days"] == float(r.landmark))]
            at = at.set_index("subgroup")
            c = Comparison()
            c.equal("reached, FAS", at.loc[REACHED_ROW, ["estimate", "n"]], [r.reached, r.fas])
            c.equal("relapse or death by the landmark", [at.loc[EVENT_ROW, "estimate"]],
                    [r.event])
            c.equal("no assessment", [at.loc[NO_ASSESSMENT_ROW, "estimate"]], [r.no_assessment])
            c.equal("evaluable, negative", at.loc["All", ["n", "events"]],
                    [r.evaluable, r.negative])
            c.close("proportion, CI", at.loc["All", list(ESTIMATE_COLUMNS)],
                    [r.estimate, r.lower, r.upper])
            yield c.check(f"mrd.{cut}.day{int(r.landmark)}", MRD,
                          f"MRD at day {int(r.landmark)} ({cut}): landmark population, "
                          "MRD-negative proportion and Clopper-Pearson 95% CI",
                          _source("mrd_landmarks", "make_expected_mrd.R", MRD_SOURCE))


def _mrd_one_year(refs: References) -> Iterator[Check]:
    one_year = refs.expected("mrd_one_year")
    for cut in MRD_CUTS:
        year = _mrd_rows(refs, cut)
        year = year[year["endpoint"] == "MRD1Y"].set_index("subgroup")
        want = one_year[one_year["cut"] == cut].set_index("rate")
        for subgroup, rate in ((PRIMARY, "primary"), (SENSITIVITY, "sensitivity")):
            r = want.loc[rate]
            c = Comparison()
            for category, column in zip(CATEGORIES, ("success", "failure", "not_evaluable",
                                                     "pending")):
                c.equal(category, year.loc[category_row(category), ["estimate", "n"]],
                        [r[column], r["fas"]])
            c.equal("k, n", year.loc[subgroup, ["events", "n"]], [r["k"], r["n"]])
            c.close("rate, CI", year.loc[subgroup, list(ESTIMATE_COLUMNS)],
                    [r["estimate"], r["lower"], r["upper"]])
            yield c.check(f"mrd.{cut}.one_year.{rate}", MRD,
                          f"MRD-negative at 1 year ({cut}), {rate} rate: categories, k/n, "
                          "rate and Clopper-Pearson 95% CI",
                          _source("mrd_one_year", "make_expected_mrd.R", MRD_SOURCE))


def _mrd_categories(refs: References) -> Iterator[Check]:
    categories = refs.expected("mrd_categories")
    for cut in MRD_CUTS:
        adsl, admrd = _mrd_inputs(refs, cut)
        status = mrd_status_1y(adsl, admrd, threshold=MRD_THRESHOLD, window_days_365=30)
        want = categories[categories["cut"] == cut].sort_values("USUBJID")
        got = dict(zip(status["USUBJID"], status["STATUS"]))
        c = Comparison()
        c.equal("patients", sorted(got), want["USUBJID"])
        c.equal("category", [got.get(p, "") for p in want["USUBJID"]], want["category"])
        yield c.check(f"mrd.{cut}.categories", MRD,
                      f"1-year MRD category patient by patient ({cut})",
                      _source("mrd_categories", "make_expected_mrd.R", MRD_SOURCE), "exact")


SETS: dict[str, tuple[str, str]] = {  # id: section, the R script that made its references
    "methods": (METHODS, "make_expected.R"),
    "example": (EXAMPLE, EXAMPLE_SCRIPT),
    "cuts": (CUTS, CUTS_SCRIPT),
    "mrd": (MRD, "make_expected_mrd.R"),
}
# Each reference file with the checks that compare with it, by set: a file found unusable (or
# a computation that fails) fails its own checks only.
FILES: tuple[tuple[str, str, Callable[[References], Iterator[Check]]], ...] = (
    ("methods", "km_table", _km_table), ("methods", "km_landmarks", _km_landmarks),
    ("methods", "km_quantiles", _km_quantiles), ("methods", "cif_table", _cif_table),
    ("methods", "cif_landmarks", _cif_landmarks), ("methods", "followup", _followup),
    ("methods", "logrank", _logrank), ("methods", "gray", _gray),
    ("methods", "binomial", _binomial),
    *(("example", name, _example_input(name)) for name in EXAMPLE_INPUTS),
    ("example", "example_km_landmarks", _example_landmarks("km")),
    ("example", "example_cif_landmarks", _example_landmarks("cif")),
    ("example", "example_km_quantiles", _example_quartiles),
    ("example", "example_tests", _example_tests),
    ("example", "example_followup", _example_followup),
    ("example", "example_recovery", _example_recovery),
    ("cuts", "cuts_adtte", _cuts_adtte), ("cuts", "cuts_counts", _cuts_counts),
    ("cuts", "cuts_landmarks", _cuts_landmarks), ("cuts", "cuts_tests", _cuts_tests),
    ("cuts", "cuts_followup", _cuts_followup),
    ("mrd", "mrd_landmarks", _mrd_landmarks), ("mrd", "mrd_one_year", _mrd_one_year),
    ("mrd", "mrd_categories", _mrd_categories),
)


def reference_checks(refs: References, progress: Callable[[str], None] = lambda _: None,
                     only: tuple[str, ...] | None = None) -> list[Check]:
    """Every reference case, set by set (``progress`` is told each set's section; ``only``:
    the sets to check, by id, default all)."""
    checks: list[Check] = []
    for set_id, (section, script) in SETS.items():
        if only is not None and set_id not in only:
            continue
        progress(section)
        for file_set, name, make in FILES:
            if file_set == set_id:
                checks += _guarded(section, f"{set_id}.{name}",
                                   f"the checks against {name} ({script})",
                                   f"reference/{script}", lambda make=make: make(refs))
    return checks


__all__ = ["AlteredReference", "References", "reference_checks", "subgroup_parts"]

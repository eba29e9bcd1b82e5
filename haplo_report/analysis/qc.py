"""Independent check of a run's numbers: lifelines re-computes what it computes the same way,
identities check the rest (``qc.csv`` and the report's appendix "Independent check").

The suite's estimators are written by hand (``stats/`` says why); lifelines is the second,
independent implementation, as a second programmer is in pharma QC. From the derived datasets
it re-computes every Kaplan-Meier estimate and log(-log) CI reported at a landmark and along
each curve, the KM quartiles with their CI, the reverse-KM median follow-up, every log-rank
test and every number at risk (its event table's at-risk counts). lifelines' conventions differ from the SAP's in a few places, handled here explicitly:

- beyond the last observed time lifelines carries the curve forward; the SAP reports "NE"
  unless nobody is censored at that time (the curve is then determined);
- lifelines fills its CI with 1 where S is 0 or 1; the SAP's interval is not defined there;
- ``qth_survival_time`` takes the first time S <= level; the SAP (R ``quantile.survfit``) takes
  the midpoint of a flat stretch where S equals the level within sqrt(machine epsilon);
- ``multivariate_logrank_test`` keeps a group without expected events (R ``survdiff`` drops
  it) and uses a pseudo-inverse: such tests are counted as not compared.

Curves are fitted on the distinct (time, event, group) triples with their counts as integer
weights: the same estimates as one row per patient (lifelines sums weights into its event
table), about fifty times faster at 100,000 patients.

Where no second implementation is trustworthy (Aalen-Johansen, Gray's test), identities are
checked: CIF(relapse) + CIF(NRM) + KM(PFS) = 1 at every time, every curve in [0, 1] and
monotone, every CI containing its estimate, every n and count of events equal to the rows of
the derived data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import lifelines
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test
from lifelines.utils import survival_table_from_events

from haplo_report.analysis.derive import DerivedDataError
from haplo_report.analysis.endpoints import min_at_risk_of
from haplo_report.analysis.results import FEW_AT_RISK, read_results
from haplo_report.analysis.stats.cif import cumulative_incidence
from haplo_report.analysis.stats.km import QUANTILE_TOLERANCE, km_estimate
from haplo_report.limits import QC_IDENTITY_TOLERANCE, QC_TOLERANCE
from haplo_report.paths import QC_CSV

LIFELINES_TOLERANCE = QC_TOLERANCE
IDENTITY_TOLERANCE = QC_IDENTITY_TOLERANCE
QC_COLUMNS = ["output", "endpoint", "check", "reference", "numbers", "largest_difference",
              "tolerance", "result", "not_compared"]
REFERENCE = f"lifelines {lifelines.__version__}"
IDENTITY = "identity"
DERIVED = "derived data"
MAX_NAMED = 10  # failing numbers named in the error message

KM_ENDPOINTS = ("PFS", "OS", "GRFS")
QUANTILES = {"q25": 0.25, "median": 0.5, "q75": 0.75}
PROBABILITIES = ("survival", "cif", "proportion", "logrank_p", "gray_p")
TESTS = ("logrank_p", "logrank_chisq", "gray_p", "gray_chisq")

# Agreed numbering (docs/architecture.md): the table of each endpoint's overall rows, of its
# subgroup rows, and the figure of its curves.
TABLES: dict[str, tuple[str, str | None, str | None]] = {
    "PFS": ("Table 14.2.1", "Table 14.2.2", "Figure 14.2.1"),
    "OS": ("Table 14.2.3", "Table 14.2.4", "Figure 14.2.2"),
    "CIR": ("Table 14.2.5", "Table 14.2.6", "Figure 14.2.3"),
    "NRM": ("Table 14.2.5", "Table 14.2.6", "Figure 14.2.3"),
    "MRD": ("Table 14.2.7", None, None),
    "MRD1Y": ("Table 14.2.8", None, "Figure 14.2.4"),
    "GRFS": ("Table 14.2.9", "Table 14.2.10", "Figure 14.2.5"),
    "AGVHD24": ("Table 14.3.1", "Table 14.3.2", "Figure 14.3.1"),
    "AGVHD34": ("Table 14.3.1", "Table 14.3.2", "Figure 14.3.1"),
    "CGVHD": ("Table 14.3.3", "Table 14.3.4", "Figure 14.3.2"),
    "CGVHDMS": ("Table 14.3.3", "Table 14.3.4", "Figure 14.3.2"),
    "ANC": ("Table 14.3.5", None, "Figure 14.3.3"),
    "PLT": ("Table 14.3.5", None, "Figure 14.3.3"),
    "DISP": ("Table 14.1.1", None, None),
}
FOLLOW_UP_TABLE = "Table 14.1.4"


class QCFailed(RuntimeError):
    """A reported number differs from its independent check; the message names it."""


def output_of(endpoint: str, subgroup: str, statistic: str = "") -> str:
    """The numbered output that shows a result row (``results.csv`` when none is known)."""
    if statistic == "median_followup":
        return FOLLOW_UP_TABLE
    overall, by_subgroup, _ = TABLES.get(endpoint, ("results.csv", None, None))
    return overall if subgroup == "All" or by_subgroup is None else by_subgroup


@dataclass(frozen=True)
class Line:
    """One line of ``qc.csv``: a check of one output and endpoint."""

    output: str
    endpoint: str
    check: str
    reference: str
    tolerance: float


@dataclass
class _Tally:
    numbers: int = 0
    largest: float = 0.0
    failed: int = 0
    failures: list[str] = field(default_factory=list)  # the first MAX_NAMED, named
    not_compared: dict[str, int] = field(default_factory=dict)


def difference(reported: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """|reported - expected|, relative above 1 (days, chi-square: ``results.csv`` keeps 10
    significant digits); 0 where both are missing (both not defined), inf where one is."""
    reported = np.asarray(reported, dtype=float)
    expected = np.asarray(expected, dtype=float)
    both, either = np.isnan(reported) & np.isnan(expected), np.isnan(reported) | np.isnan(expected)
    with np.errstate(invalid="ignore"):
        diff = np.abs(reported - expected) / np.maximum(1.0, np.abs(expected))
    return np.where(both, 0.0, np.where(either, np.inf, diff))


def _shown(value: float) -> str:
    return "NE" if math.isnan(value) else f"{value:.10g}"


class Ledger:
    """Every comparison of one run, tallied per :class:`Line`; failures named."""

    def __init__(self) -> None:
        self.tallies: dict[Line, _Tally] = {}

    def compare(self, line: Line, reported: np.ndarray, expected: np.ndarray,
                where: Callable[[int], str], identity: bool = False) -> None:
        """Compare numbers; ``where(i)`` names number ``i`` (endpoint, subgroup, statistic,
        time); ``identity``: ``reported`` is how far an identity is broken, ``expected`` 0."""
        reported = np.asarray(reported, dtype=float).reshape(-1)
        expected = np.asarray(expected, dtype=float).reshape(-1)
        tally = self.tallies.setdefault(line, _Tally())
        if reported.size == 0:
            return
        diff = difference(reported, expected)
        tally.numbers += int(reported.size)
        tally.largest = max(tally.largest, float(diff.max()))
        wrong = np.flatnonzero(diff > line.tolerance)
        tally.failed += int(wrong.size)
        for i in wrong[:MAX_NAMED]:
            found = (f"broken by {reported[i]:.3g}" if identity else
                     f"reported {_shown(reported[i])}, {line.reference} {_shown(expected[i])}")
            tally.failures.append(f"{line.output}, {where(int(i))}: {found} ({line.check})")

    def violation(self, line: Line, amount: np.ndarray, where: Callable[[int], str]) -> None:
        """An identity that holds when ``amount`` (how far it is broken) is 0."""
        amount = np.asarray(amount, dtype=float).reshape(-1)
        self.compare(line, amount, np.zeros_like(amount), where, identity=True)

    def skip(self, line: Line, reason: str, count: int = 1) -> None:
        """Numbers of ``line`` not compared, and why."""
        tally = self.tallies.setdefault(line, _Tally())
        tally.not_compared[reason] = tally.not_compared.get(reason, 0) + count

    def failures(self) -> list[str]:
        """The failing numbers, named (at most MAX_NAMED per line)."""
        return [text for tally in self.tallies.values() for text in tally.failures]

    def failed(self) -> int:
        """How many numbers failed."""
        return sum(tally.failed for tally in self.tallies.values())

    def frame(self) -> pd.DataFrame:
        """The ``qc.csv`` lines in output order."""
        rows = []
        for line, tally in self.tallies.items():
            if tally.numbers == 0 and not tally.not_compared:
                continue
            rows.append({"output": line.output, "endpoint": line.endpoint, "check": line.check,
                         "reference": line.reference, "numbers": tally.numbers,
                         "largest_difference": tally.largest, "tolerance": line.tolerance,
                         "result": "fail" if tally.failures else "pass",
                         "not_compared": "; ".join(f"{count} {reason}" for reason, count
                                                   in sorted(tally.not_compared.items()))})
        frame = pd.DataFrame(rows, columns=QC_COLUMNS)
        order = frame["output"].map(_output_order)
        return frame.iloc[np.lexsort((frame["check"], frame["endpoint"], order))] \
            .reset_index(drop=True) if len(frame) else frame


def _output_order(output: str) -> tuple[int, ...]:
    """Tables, then figures, then anything else; numbers compared as numbers."""
    kind, _, number = output.partition(" ")
    digits = tuple(int(part) for part in re.findall(r"\d+", number))
    return ({"Table": 0, "Figure": 1}.get(kind, 2), *digits)


# --- lifelines, with the SAP's conventions stated ------------------------------------------

@dataclass(frozen=True)
class _Curve:
    """A lifelines Kaplan-Meier fit as arrays: the SAP's NE and CI rules applied."""

    time: np.ndarray
    estimate: np.ndarray
    lower: np.ndarray  # NaN where S is 0 or 1 (lifelines fills 1 there)
    upper: np.ndarray
    determined: bool  # nobody censored at the last time: the curve is known beyond it

    def at(self, times: np.ndarray, reported: np.ndarray) -> tuple[np.ndarray, ...]:
        """Estimate and CI at ``times`` (lifelines' step: the last time <= t).

        Beyond the last time: NE, or (SAP v2 exception) the determined curve's last value when
        the run reported one.
        """
        row = np.searchsorted(self.time, times, side="right") - 1
        beyond = times > self.time[-1]
        keep = ~beyond | (self.determined & ~np.isnan(reported))
        values = [np.where(keep, series[np.maximum(row, 0)], np.nan)
                  for series in (self.estimate, self.lower, self.upper)]
        return tuple(values)


def _weighted(time: np.ndarray, event: np.ndarray, group: np.ndarray | None = None
              ) -> tuple[np.ndarray, ...]:
    """Distinct (time, event[, group]) with their counts (lifelines' integer weights)."""
    times, at = np.unique(time, return_inverse=True)
    codes = np.zeros(time.size, dtype=np.int64) if group is None else group.astype(np.int64)
    size = int(codes.max()) + 1
    keys, counts = np.unique((at * 2 + event) * size + codes, return_counts=True)
    distinct = (times[keys // size // 2], keys // size % 2)
    return distinct + (() if group is None else (keys % size,)) + (counts.astype(float),)


def lifelines_curve(time: np.ndarray, event: np.ndarray) -> _Curve:
    """lifelines' KaplanMeierFitter with its exponential Greenwood (log(-log)) 95% CI."""
    durations, observed, weights = _weighted(time, event)
    fitter = KaplanMeierFitter(alpha=0.05).fit(durations, observed, weights=weights)
    estimate = fitter.survival_function_.iloc[:, 0].to_numpy()
    bounds = fitter.confidence_interval_.to_numpy()
    defined = (estimate > 0) & (estimate < 1)
    last = time.max()
    determined = not bool(np.any((time == last) & (event == 0)))
    return _Curve(fitter.survival_function_.index.to_numpy(dtype=float), estimate,
                  np.where(defined, bounds[:, 0], np.nan),
                  np.where(defined, bounds[:, 1], np.nan), determined)


def quantile_time(time: np.ndarray, curve: np.ndarray, level: float) -> float:
    """When ``curve`` (a survival curve or CI limit) falls to ``level``: the first time at or
    below it, or the midpoint of a flat stretch at the level (R ``quantile.survfit``); NaN when
    never reached. lifelines' ``qth_survival_time`` is the first rule alone."""
    tol = QUANTILE_TOLERANCE
    values = np.where(np.isnan(curve), np.inf, curve)
    first = np.flatnonzero(values <= level + tol)
    if first.size == 0:
        return math.nan
    if not math.isnan(curve[-1]) and abs(curve[-1] - level) < tol:
        return float(time[first[0]] + time[-1]) / 2
    second = np.flatnonzero(values <= level - tol)
    return float(time[first[0]] + time[second[0]]) / 2 if second.size else math.nan


# --- the checks ----------------------------------------------------------------------------

def _where(endpoint: str, subgroup: str, statistic: str, times: np.ndarray | None = None
           ) -> Callable[[int], str]:
    def name(i: int) -> str:
        at = "" if times is None or math.isnan(times[i]) else f", day {times[i]:g}"
        return f"{endpoint}, subgroup {subgroup}, {statistic}{at}"
    return name


def _group(data: pd.DataFrame, subgroup: str) -> pd.DataFrame | None:
    """The ADTTE rows of ``subgroup``: "All", "VARIABLE=level", or "VARIABLE" (every row with
    a level); None when ADTTE has no such column."""
    if subgroup == "All":
        return data
    variable, _, level = subgroup.partition("=")
    if variable not in data.columns:
        return None
    values = data[variable]
    return data[(values == level).to_numpy(dtype=bool) if level else values.notna().to_numpy()]


def _as_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as categories: filters compare codes, not 1 M strings."""
    text = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])
            and not isinstance(frame[c].dtype, pd.CategoricalDtype)]
    return frame.astype({c: "category" for c in text}) if text else frame


def _events(data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return (data["AVAL"].to_numpy(dtype=float),
            (data["EVNTTYPE"].to_numpy(dtype=int) == 1).astype(int))


def _check_km(ledger: Ledger, rows: pd.DataFrame, curve: _Curve, endpoint: str,
              subgroup: str) -> None:
    """Landmark estimates and quartiles of one group against lifelines."""
    output = output_of(endpoint, subgroup)
    landmarks = rows[rows["statistic"] == "survival"]
    if len(landmarks):
        line = Line(output, endpoint, "Kaplan-Meier estimate and 95% CI at each landmark",
                    REFERENCE + " KaplanMeierFitter", LIFELINES_TOLERANCE)
        times = landmarks["time_days"].to_numpy(dtype=float)
        reported = landmarks[["estimate", "ci_lower", "ci_upper"]].to_numpy(dtype=float)
        expected = np.column_stack(curve.at(times, reported[:, 0]))
        for k, name in enumerate(("survival", "survival CI lower", "survival CI upper")):
            ledger.compare(line, reported[:, k], expected[:, k],
                           _where(endpoint, subgroup, name, times))
    quantiles = rows[rows["statistic"].isin(list(QUANTILES))]
    if len(quantiles):
        line = Line(output, endpoint, "Kaplan-Meier quartiles with 95% CI",
                    REFERENCE + " KaplanMeierFitter curves", LIFELINES_TOLERANCE)
        _check_quantiles(ledger, line, quantiles, curve, endpoint, subgroup)


def _check_quantiles(ledger: Ledger, line: Line, rows: pd.DataFrame, curve: _Curve,
                     endpoint: str, subgroup: str) -> None:
    for row in rows.itertuples(index=False):
        level = 1 - QUANTILES.get(row.statistic, 0.5)
        expected = [quantile_time(curve.time, series, level)
                    for series in (curve.estimate, curve.lower, curve.upper)]
        for name, reported, value in zip(("", " CI lower", " CI upper"),
                                         (row.estimate, row.ci_lower, row.ci_upper), expected):
            ledger.compare(line, np.array([reported]), np.array([value]),
                           _where(endpoint, subgroup, row.statistic + name))


def _check_logrank(ledger: Ledger, rows: pd.DataFrame, data: pd.DataFrame, endpoint: str,
                   variable: str) -> None:
    """A log-rank test against lifelines' multivariate_logrank_test, where defined alike."""
    line = Line(output_of(endpoint, variable), endpoint, "Log-rank chi-square and p-value",
                REFERENCE + " multivariate_logrank_test", LIFELINES_TOLERANCE)
    known = data[data[variable].notna().to_numpy()]
    time, event = _events(known)
    labels, group = np.unique(known[variable].cat.codes.to_numpy(), return_inverse=True)
    first_event = time[event == 1].min() if event.any() else math.inf
    at_risk = np.array([np.any(time[group == g] >= first_event) for g in range(labels.size)])
    if labels.size < 2 or not at_risk.all():
        ledger.skip(line, "not compared: a group without expected events (R survdiff drops "
                    "it, lifelines keeps it)", len(rows))
        return
    durations, observed, groups, weights = _weighted(time, event, group)
    test = multivariate_logrank_test(durations, groups, observed, weights=weights)
    for row in rows.itertuples(index=False):
        value = test.p_value if row.statistic == "logrank_p" else test.test_statistic
        ledger.compare(line, np.array([row.estimate]), np.array([value]),
                       _where(endpoint, variable, row.statistic))


def _check_followup(ledger: Ledger, row: pd.Series, data: pd.DataFrame) -> None:
    """Reverse Kaplan-Meier median follow-up (death censors) with its CI."""
    time, death = _events(data)
    curve = lifelines_curve(time, 1 - death)
    line = Line(FOLLOW_UP_TABLE, "OS", "Reverse Kaplan-Meier median follow-up with 95% CI",
                REFERENCE + " KaplanMeierFitter", LIFELINES_TOLERANCE)
    for name, series in (("estimate", curve.estimate), ("ci_lower", curve.lower),
                         ("ci_upper", curve.upper)):
        ledger.compare(line, np.array([row[name]]),
                       np.array([quantile_time(curve.time, series, 0.5)]),
                       _where("OS", "All", f"median follow-up {name}"))


def _check_at_risk(ledger: Ledger, rows: pd.DataFrame, data: pd.DataFrame, endpoint: str,
                   subgroup: str) -> None:
    """Numbers at risk (SAP v3) against lifelines' at-risk counts (its event table of the
    first outcome: an event or a competing event ends the time at risk), and each row's
    "few at risk" flag against the threshold its method names."""
    line = Line(output_of(endpoint, subgroup), endpoint, "Number at risk at each landmark",
                REFERENCE + " survival_table_from_events", IDENTITY_TOLERANCE)
    time = data["AVAL"].to_numpy(dtype=float)
    outcome = (data["EVNTTYPE"].to_numpy(dtype=int) != 0).astype(int)
    durations, observed, weights = _weighted(time, outcome)
    table = survival_table_from_events(durations, observed, weights=weights)
    times = table.index.to_numpy(dtype=float)
    counts = np.append(table["at_risk"].to_numpy(dtype=float), 0.0)
    landmark = rows["time_days"].to_numpy(dtype=float)
    expected = counts[np.searchsorted(times, landmark, side="left")]
    ledger.compare(line, rows["estimate"].to_numpy(dtype=float), expected,
                   _where(endpoint, subgroup, "at_risk", landmark))
    threshold = np.array([min_at_risk_of(m) or 0 for m in rows["method"]], dtype=float)
    flagged = (rows["flag"] == FEW_AT_RISK).to_numpy()
    ledger.violation(line, (flagged != (expected < threshold)).astype(float),
                     _where(endpoint, subgroup, "at_risk flag", landmark))


def _check_counts(ledger: Ledger, rows: pd.DataFrame, data: pd.DataFrame, endpoint: str,
                  subgroup: str) -> None:
    """n (patients analysed) and events (events of interest by the landmark, or in all)."""
    line = Line(output_of(endpoint, subgroup), endpoint, "n and events equal ADTTE rows",
                DERIVED + " (ADTTE)", IDENTITY_TOLERANCE)
    time, event = _events(data)
    event_times = np.sort(time[event == 1])
    landmark = rows["time_days"].to_numpy(dtype=float)
    expected_events = np.where(np.isnan(landmark), event_times.size,
                               np.searchsorted(event_times, landmark, side="right"))
    for column, expected in (("n", np.full(len(rows), len(data))), ("events", expected_events)):
        reported = rows[column].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        ledger.compare(line, reported, expected,
                       _where(endpoint, subgroup, column, landmark))


def _check_curve(ledger: Ledger, output: str, endpoint: str, subgroup: str, table: pd.DataFrame,
                 decreasing: bool) -> None:
    """A whole curve: in [0, 1], monotone, its CI (where defined) containing it."""
    kind = "non-increasing" if decreasing else "non-decreasing"
    line = Line(output, endpoint, f"Curve at every time in [0, 1], {kind}, inside its CI",
                IDENTITY, IDENTITY_TOLERANCE)
    times = table["time"].to_numpy(dtype=float)
    estimate = table["estimate"].to_numpy(dtype=float)
    step = np.diff(estimate, prepend=1.0 if decreasing else 0.0)
    outside = np.maximum(0, np.maximum(estimate - 1, -estimate))
    wrong_way = np.maximum(0, step if decreasing else -step)
    lower = np.nan_to_num(table["ci_lower"].to_numpy(dtype=float) - estimate, nan=0.0)
    upper = np.nan_to_num(estimate - table["ci_upper"].to_numpy(dtype=float), nan=0.0)
    for name, amount in (("in [0, 1]", outside), (kind, wrong_way),
                         ("CI lower <= estimate", np.maximum(0, lower)),
                         ("estimate <= CI upper", np.maximum(0, upper))):
        ledger.violation(line, amount, _where(endpoint, subgroup, name, times))


def _check_km_curve(ledger: Ledger, output: str, endpoint: str, subgroup: str,
                    data: pd.DataFrame, curve: _Curve) -> pd.DataFrame:
    """The suite's Kaplan-Meier curve (as drawn) at every time against lifelines'."""
    table = km_estimate(*_events(data)).table
    times = table["time"].to_numpy(dtype=float)
    line = Line(output, endpoint, "Kaplan-Meier curve and 95% CI at every time",
                REFERENCE + " KaplanMeierFitter", LIFELINES_TOLERANCE)
    row = np.searchsorted(curve.time, times, side="right") - 1
    for name, mine, theirs in (("survival", "estimate", curve.estimate),
                               ("survival CI lower", "ci_lower", curve.lower),
                               ("survival CI upper", "ci_upper", curve.upper)):
        ledger.compare(line, table[mine].to_numpy(dtype=float), theirs[row],
                       _where(endpoint, subgroup, name, times))
    return table


def _step(table: pd.DataFrame, times: np.ndarray, before: float) -> np.ndarray:
    row = np.searchsorted(table["time"].to_numpy(), times, side="right") - 1
    return np.where(row < 0, before, table["estimate"].to_numpy()[np.maximum(row, 0)])


def _check_partition(ledger: Ledger, adtte: pd.DataFrame, subgroups: list[str]) -> None:
    """CIF(relapse) + CIF(NRM) + KM(PFS) = 1 at every time, overall and in each subgroup."""
    parts = {code: adtte[adtte["PARAMCD"] == code] for code in ("CIR", "NRM", "PFS")}
    if any(part.empty for part in parts.values()):
        return
    for subgroup in subgroups:
        groups = {code: _group(part, subgroup) for code, part in parts.items()}
        if any(group is None or group.empty for group in groups.values()):
            continue
        tables = {}
        for code, group in groups.items():
            time = group["AVAL"].to_numpy(dtype=float)
            kind = group["EVNTTYPE"].to_numpy(dtype=int)
            tables[code] = (km_estimate(time, (kind == 1).astype(int)).table if code == "PFS"
                            else cumulative_incidence(time, kind, cause=1).table)
        times = np.unique(np.concatenate([t["time"].to_numpy() for t in tables.values()]))
        total = (_step(tables["CIR"], times, 0.0) + _step(tables["NRM"], times, 0.0)
                 + _step(tables["PFS"], times, 1.0))
        output = TABLES["CIR"][2] if subgroup == "All" else output_of("CIR", subgroup)
        line = Line(output, "CIR+NRM+PFS", "CIF(relapse) + CIF(NRM) + KM(PFS) = 1 at every "
                    "time", IDENTITY, IDENTITY_TOLERANCE)
        ledger.violation(line, np.abs(total - 1), _where("CIR+NRM+PFS", subgroup,
                                                         "sum", times))


def _check_rows(ledger: Ledger, results: pd.DataFrame) -> None:
    """Every reported probability in [0, 1]; every reported CI containing its estimate."""
    estimate = results["estimate"].to_numpy(dtype=float)
    lower = results["ci_lower"].to_numpy(dtype=float)
    upper = results["ci_upper"].to_numpy(dtype=float)
    probability = results["statistic"].isin(PROBABILITIES).to_numpy()
    with np.errstate(invalid="ignore"):
        outside = np.where(probability, np.maximum(0, np.maximum(estimate - 1, -estimate)), 0)
        below = np.maximum(0, lower - estimate)
        above = np.maximum(0, estimate - upper)
    amount = np.nan_to_num(np.maximum.reduce([outside, below, above]), nan=0.0)
    has_ci = ~np.isnan(estimate) & (~np.isnan(lower) | ~np.isnan(upper))
    checked = (probability & ~np.isnan(estimate)) | has_ci
    keys = pd.DataFrame({"output": [output_of(e, s, t) for e, s, t in zip(
        results["endpoint"], results["subgroup"], results["statistic"])],
        "endpoint": results["endpoint"].to_numpy()})[checked]
    for (output, endpoint), index in keys.groupby(["output", "endpoint"], sort=True).groups.items():
        position = results.index.get_indexer(index)
        line = Line(output, endpoint, "Reported probabilities in [0, 1], estimates inside "
                    "their CI", IDENTITY, IDENTITY_TOLERANCE)
        picked = results.iloc[position]
        ledger.violation(line, amount[position], lambda i, p=picked: (
            f"{p['endpoint'].iloc[i]}, subgroup {p['subgroup'].iloc[i]}, "
            f"{p['statistic'].iloc[i]}" + ("" if pd.isna(p["time_days"].iloc[i])
                                          else f", day {p['time_days'].iloc[i]:g}")))


def _check_disposition(ledger: Ledger, results: pd.DataFrame, adsl: pd.DataFrame) -> None:
    """Disposition and analysis-set counts (``DISP``, "FLAG=value") against ADSL rows."""
    rows = results[(results["endpoint"] == "DISP") & (results["statistic"] == "count")]
    if rows.empty or "ENRLFL" not in adsl.columns:
        return
    enrolled = adsl[(adsl["ENRLFL"] == "Y").to_numpy(dtype=bool)]
    line = Line(TABLES["DISP"][0], "DISP", "Counts equal ADSL rows", DERIVED + " (ADSL)",
                IDENTITY_TOLERANCE)
    for row in rows.itertuples(index=False):
        variable, _, level = row.subgroup.partition("=")
        if variable not in enrolled.columns:
            ledger.skip(line, "not compared: no ADSL column")
            continue
        count = int((enrolled[variable] == level).to_numpy(dtype=bool).sum())
        ledger.compare(line, np.array([row.estimate, row.n], dtype=float),
                       np.array([count, len(enrolled)], dtype=float),
                       lambda i, s=row.subgroup: f"DISP, {s}, {('count', 'n')[i]}")


def check_results(results: pd.DataFrame, adtte: pd.DataFrame, adsl: pd.DataFrame) -> Ledger:
    """Every check of one run's result rows against its derived datasets."""
    ledger = Ledger()
    adtte, adsl = _as_categories(adtte), _as_categories(adsl)
    by_endpoint = {code: frame for code, frame in adtte.groupby("PARAMCD", sort=True,
                                                                observed=True)}
    tte = results[results["endpoint"].isin(list(by_endpoint))]
    for (endpoint, subgroup), rows in tte.groupby(["endpoint", "subgroup"], sort=True):
        data = by_endpoint[endpoint]
        estimable = rows[rows["statistic"].isin(["survival", "cif", *QUANTILES])]
        tests = rows[rows["statistic"].isin(["logrank_p", "logrank_chisq"])]
        counted = rows[rows["statistic"].isin(["survival", "cif", "at_risk", *QUANTILES,
                                                *TESTS, "median_followup"])]
        at_risk = rows[rows["statistic"] == "at_risk"]
        group = _group(data, subgroup)
        if group is None or group.empty:
            continue
        if len(counted):
            _check_counts(ledger, counted, group, endpoint, subgroup)
        if len(at_risk):
            _check_at_risk(ledger, at_risk, group, endpoint, subgroup)
        curve = None
        if endpoint in KM_ENDPOINTS and len(estimable):
            curve = lifelines_curve(*_events(group))
            _check_km(ledger, estimable, curve, endpoint, subgroup)
        if len(tests):
            _check_logrank(ledger, tests, group, endpoint, subgroup)
        if len(estimable) and rows["statistic"].isin(["survival", "cif"]).any():
            table_output = (TABLES[endpoint][2] if subgroup == "All" and endpoint in TABLES
                            else output_of(endpoint, subgroup))
            if curve is not None:
                table = _check_km_curve(ledger, table_output, endpoint, subgroup, group, curve)
            else:
                time = group["AVAL"].to_numpy(dtype=float)
                table = cumulative_incidence(time, group["EVNTTYPE"].to_numpy(dtype=int)).table
            _check_curve(ledger, table_output, endpoint, subgroup, table,
                         decreasing=endpoint in KM_ENDPOINTS)
        followup = rows[rows["statistic"] == "median_followup"]
        if endpoint == "OS" and subgroup == "All" and len(followup):
            _check_followup(ledger, followup.iloc[0], group)
    subgroups = sorted(set(results.loc[results["endpoint"] == "CIR", "subgroup"])
                       & set(results.loc[results["endpoint"] == "NRM", "subgroup"]))
    _check_partition(ledger, adtte, [s for s in subgroups if s == "All" or "=" in s])
    _check_rows(ledger, results)
    _check_disposition(ledger, results, adsl)
    return ledger


def check_run(run_dir: Path) -> pd.DataFrame:
    """Check ``run_dir``'s ``results.csv`` against its ``data/``; write ``qc.csv``.

    Raises :class:`QCFailed` naming the numbers that differ (``qc.csv`` is written first).
    """
    run_dir = Path(run_dir)
    results = read_results(run_dir / "results.csv")
    variables = sorted({s.partition("=")[0] for s in results["subgroup"]})
    adtte = _read(run_dir / "data" / "adtte.parquet", ["PARAMCD", "AVAL", "EVNTTYPE", *variables])
    adsl = _read(run_dir / "data" / "adsl.parquet", ["ENRLFL", *variables])
    ledger = check_results(results, adtte, adsl)
    frame = ledger.frame()
    write_qc(frame, run_dir / QC_CSV)
    failures = ledger.failures()
    if failures:
        shown = "\n  ".join(failures[:MAX_NAMED])
        more = "\n  ..." if ledger.failed() > MAX_NAMED else ""
        raise QCFailed(f"independent check failed ({ledger.failed()} number(s) differ; "
                       f"see {QC_CSV}):\n  {shown}{more}")
    return frame


def _read(path: Path, wanted: list[str]) -> pd.DataFrame:
    """The ``wanted`` columns a derived dataset has (text as categories); at 100,000 patients
    a tenth of reading the whole 1 M-row ADTTE."""
    if not path.is_file():
        raise DerivedDataError(f"{path.parent}: derived dataset {path.name} not found")
    schema = pq.read_schema(path)
    columns = [c for c in dict.fromkeys(wanted) if c in schema.names]
    text = [c for c in columns if pa.types.is_string(schema.field(c).type)
            or pa.types.is_large_string(schema.field(c).type)]
    return pq.read_table(path, columns=columns, read_dictionary=text).to_pandas()


def write_qc(frame: pd.DataFrame, path: Path) -> None:
    """``qc.csv``: differences in scientific notation, the same bytes for the same run."""
    out = frame.copy()
    for column in ("largest_difference", "tolerance"):
        out[column] = out[column].map(lambda v: f"{v:.2e}")
    out.to_csv(path, index=False, lineterminator="\n")

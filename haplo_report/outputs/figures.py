"""Figures in one style: KM and cumulative-incidence curves with 95% band, censor ticks and
numbers at risk; the per-patient swimmer plot; deterministic PNG/SVG files.

Curves are drawn from estimator tables (``KMFit.table`` / ``CIFFit.table``: ``time, n_risk,
n_event, n_censor, estimate, se, ci_lower, ci_upper``); nothing is re-estimated here.
Greyscale-safe: groups differ in line style and band (shaded, hatched), not only in colour;
the only marks on a curve are censor ticks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from cycler import cycler  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.legend_handler import HandlerTuple  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from haplo_report.analysis.frames import require_columns  # noqa: E402
from haplo_report.limits import MAX_PATIENTS_SHOWN  # noqa: E402
from haplo_report.typeface import FAMILY  # noqa: E402

DAYS_PER_MONTH = 30.4375
LINE_STYLES = ("-", "--", ":", "-.")
# Confidence bands: the first shaded, the others hatched (each its own direction), so two
# overlapping bands stay apart in grey print.
BAND_HATCHES = ("", "////", "\\\\\\\\", "....")
CENSOR_MARK = "|"
SVG_SALT = "haplo-report"
UNITS: dict[str, tuple[float, str]] = {  # unit -> (days per unit, axis label)
    "days": (1.0, "Days since transplant"), "months": (DAYS_PER_MONTH, "Months since transplant"),
}
# Tick steps in days, smallest first: the first that divides the horizon into at most
# MAX_DAY_TICKS steps is used (day 100: every 10 days).
DAY_STEPS: tuple[int, ...] = (1, 2, 5, 7, 10, 14, 20, 25, 28, 30, 50, 60, 90, 100, 182, 365)
MAX_DAY_TICKS = 10
TABLE_COLUMNS = ("time", "n_risk", "n_event", "n_censor", "estimate", "ci_lower", "ci_upper")
TIMELINE_EVENTS: dict[str, tuple[str, str]] = {  # event -> (marker, colour)
    "MRD-negative": ("o", "white"), "MRD-positive": ("o", "black"),
    "Relapse": ("X", "#d62728"), "Acute GVHD": ("^", "#1f77b4"),
    "Chronic GVHD": ("v", "#2ca02c"), "Death": ("s", "black"),
    "Last follow-up": ("|", "dimgray"),
}


# seaborn's "colorblind" palette and what its set_theme(style="ticks", context="paper",
# palette="colorblind") changes in matplotlib's settings, written out: importing seaborn
# imports scipy.stats (0.7 s per kernel) for a style, a palette and despine.
COLORBLIND = tuple(to_rgb(c) for c in ("#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc",
                                       "#ca9161", "#fbafe4", "#949494", "#ece133", "#56b4e9"))
_PAPER = 0.8  # seaborn's "paper" context: its "notebook" sizes times 0.8
_PAPER_TICKS = {
    "axes.axisbelow": True, "axes.edgecolor": ".15", "axes.labelcolor": ".15",
    "axes.linewidth": 1.25 * _PAPER, "axes.prop_cycle": cycler(color=COLORBLIND),
    "axes.labelsize": 12 * _PAPER, "axes.titlesize": 12 * _PAPER, "font.size": 12 * _PAPER,
    "legend.fontsize": 11 * _PAPER, "legend.title_fontsize": 12 * _PAPER, "grid.color": ".8",
    "lines.linewidth": 1.5 * _PAPER, "lines.markersize": 6 * _PAPER,
    "lines.solid_capstyle": "round", "patch.edgecolor": "w", "patch.force_edgecolor": True,
    "patch.linewidth": 1 * _PAPER, "text.color": ".15",
    **{f"{axis}.{key}": value for axis in ("xtick", "ytick") for key, value in (
        ("color", ".15"), ("labelsize", 11 * _PAPER), ("major.size", 6 * _PAPER),
        ("major.width", 1.25 * _PAPER), ("minor.size", 4 * _PAPER),
        ("minor.width", 1 * _PAPER))},
}


def set_style() -> None:
    """The one style of every figure: seaborn's ticks style, paper context and colour-blind
    palette (:data:`_PAPER_TICKS`), the report's typeface
    (:data:`haplo_report.typeface.FAMILY`). Text is never mathtext: labels from the data
    (patient identifiers such as ``$\\frac{1}{0}$``) are drawn as typed (issue 28)."""
    plt.rcParams.update(_PAPER_TICKS)
    plt.rcParams.update({"svg.hashsalt": SVG_SALT, "figure.dpi": 100, "text.parse_math": False,
                         "font.family": "sans-serif", "font.sans-serif": [FAMILY],
                         "axes.titleweight": "bold", "legend.frameon": False,
                         "hatch.linewidth": 0.6})


def _despine(axis: plt.Axes, *, left: bool = False, bottom: bool = False) -> None:
    """No top or right spine (nor left/bottom when asked), as seaborn's despine draws it."""
    for side, hidden in (("top", True), ("right", True), ("left", left), ("bottom", bottom)):
        axis.spines[side].set_visible(not hidden)


def _check_table(name: str, table: pd.DataFrame) -> pd.DataFrame:
    table = getattr(table, "table", table)  # a KMFit/CIFFit or its table
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"estimator table {name!r} lacks column(s) {', '.join(missing)}")
    return table.sort_values("time", kind="stable")


def _tick_months(max_days: float) -> np.ndarray:
    """Ticks every 3 months up to 3 years, every 6 beyond."""
    months = max(max_days / DAYS_PER_MONTH, 1.0)
    step = 3 if months <= 36 else 6
    return np.arange(0, np.ceil(months / step) * step + step / 2, step)


def _day_step(end: float) -> float:
    """The first of :data:`DAY_STEPS` dividing ``end`` into at most :data:`MAX_DAY_TICKS`
    steps, else the first giving at most that many steps (the axis then ends past ``end``)."""
    fitting = [s for s in DAY_STEPS if end / s <= MAX_DAY_TICKS]
    dividing = [s for s in fitting if float(end) % s == 0]
    return float((dividing or fitting or [DAY_STEPS[-1]])[0])


def time_ticks(max_days: float, unit: str = "months", step_days: float | None = None,
               horizon_days: float | None = None) -> np.ndarray:
    """Tick times in days (the numbers at risk are counted there), in even steps.

    Months: every 3 months (6 beyond 3 years) up to ``max_days`` or past it. Days: every
    ``step_days`` (default :func:`_day_step` of the end: day 100 every 10 days) from 0 to
    ``horizon_days`` (default ``max_days``), or the first step past it when the step does
    not divide it.
    """
    _days_per_unit(unit)
    end = max_days if horizon_days is None else horizon_days
    if unit == "months":
        return _tick_months(end) * DAYS_PER_MONTH
    end = max(end, 1.0)
    step = float(step_days) if step_days else _day_step(end)
    return np.arange(0.0, np.ceil(end / step - 1e-9) * step + step / 2, step)


def _days_per_unit(unit: str) -> float:
    if unit not in UNITS:
        raise ValueError(f"unknown time unit {unit!r}; expected {' or '.join(UNITS)}")
    return UNITS[unit][0]


def at_risk(table: pd.DataFrame, days: Sequence[float]) -> list[int]:
    """Patients at risk at each time: the at-risk count of the first observed time >= t
    (nobody leaves between two observed times), 0 after the last."""
    times = table["time"].to_numpy(dtype=float)
    n_risk = table["n_risk"].to_numpy(dtype=int)
    index = np.searchsorted(times, np.asarray(days, dtype=float), side="left")
    return [int(n_risk[i]) if i < len(times) else 0 for i in index]


def risk_rows(tables: Mapping[str, pd.DataFrame],
              days: Sequence[float]) -> dict[str, list[int]]:
    """One numbers-at-risk row per distinct risk set: curves whose counts agree at every tick
    (relapse and NRM: the same patients, free of both) share one row, labelled with their
    names joined ("Relapse and NRM")."""
    shared: dict[tuple[int, ...], list[str]] = {}
    for name, table in tables.items():
        shared.setdefault(tuple(at_risk(table, days)), []).append(name)
    return {" and ".join(names): list(counts) for counts, names in shared.items()}


def censored_within(table: pd.DataFrame, end_days: float) -> pd.DataFrame:
    """The estimator rows with censoring at or before ``end_days`` (the censor ticks drawn)."""
    table = getattr(table, "table", table)
    return table[(table["n_censor"] > 0) & (table["time"] <= end_days)]


def incidence_axis(max_percent: float) -> tuple[float, float]:
    """Top and tick step of a cumulative-incidence axis: the next 10% above ``max_percent``
    (ticks every 10%), or the next 20% above 50% (every 20%), at most 100%."""
    step = 10.0 if max_percent <= 50 else 20.0
    top = min(100.0, max(step, np.ceil(max_percent / step - 1e-9) * step))
    return top, step


def _curve(table: pd.DataFrame, start: float, scale: float) -> tuple[np.ndarray, ...]:
    """Step coordinates (time / ``scale``, %), starting at day 0 with ``start``."""
    time = np.concatenate(([0.0], table["time"].to_numpy(dtype=float))) / scale
    columns = [np.concatenate(([start], table[c].to_numpy(dtype=float))) * 100
               for c in ("estimate", "ci_lower", "ci_upper")]
    return (time, *columns)


def _band_style(i: int, colour: tuple[float, ...]) -> dict[str, object]:
    """The first band shaded, the others hatched in their curve's colour without fill."""
    if not BAND_HATCHES[i % len(BAND_HATCHES)]:
        return {"facecolor": colour, "alpha": 0.18, "linewidth": 0}
    return {"facecolor": "none", "edgecolor": colour, "hatch": BAND_HATCHES[i % 4],
            "alpha": 0.7, "linewidth": 0}


def _curve_figure(fits: Mapping[str, pd.DataFrame], *, start: float, title: str,
                  ylabel: str, times_at_risk: Sequence[float] | None, unit: str,
                  horizon_days: float | None, step_days: float | None) -> Figure:
    if not fits:
        raise ValueError("no curves to draw: fits is empty")
    set_style()
    tables = {name: _check_table(name, table) for name, table in fits.items()}
    max_days = max(float(t["time"].max()) if len(t) else 0.0 for t in tables.values())
    tick_days = (np.asarray(times_at_risk, dtype=float) if times_at_risk is not None
                 else time_ticks(max_days, unit, step_days, horizon_days))
    scale = _days_per_unit(unit)
    ticks = tick_days / scale
    # the axis ends at the last tick (ticks end at or past the horizon / the longest curve)
    end_days = max(tick_days[-1], max_days if horizon_days is None else horizon_days)
    end = end_days / scale
    rows = risk_rows(tables, tick_days)
    figure = plt.figure(figsize=(6.5, 3.9 + 0.22 * len(rows)), layout="constrained")
    grid = figure.add_gridspec(2, 1, height_ratios=[5, 0.7 + 0.3 * len(rows)])
    axis, risk = figure.add_subplot(grid[0]), figure.add_subplot(grid[1])
    colours = [COLORBLIND[i % len(COLORBLIND)] for i in range(len(tables))]
    handles: list[object] = []
    highest, censor_drawn = 0.0, False
    for i, (name, table) in enumerate(tables.items()):
        style, colour = LINE_STYLES[i % 4], colours[i]
        time, estimate, lower, upper = _curve(table, start, scale)
        axis.step(time, estimate, where="post", color=colour, linestyle=style, linewidth=1.4,
                  label=name)
        band = np.isfinite(lower) & np.isfinite(upper)
        look = _band_style(i, colour)
        axis.fill_between(time, np.where(band, lower, estimate), np.where(band, upper, estimate),
                          step="post", **look)
        shown = time <= end
        highest = max(highest, float(np.nanmax(np.where(band, upper, estimate)[shown])))
        censored = censored_within(table, end_days)
        if len(censored):
            censor_drawn = True
            axis.plot(censored["time"] / scale, censored["estimate"] * 100, CENSOR_MARK,
                      linestyle="none", color=colour, markersize=7, markeredgewidth=1.0)
        handles.append((Patch(**look), Line2D([], [], color=colour, linestyle=style,
                                              linewidth=1.4)))
    labels = list(tables)
    if censor_drawn:
        handles.append(Line2D([], [], color="black", marker=CENSOR_MARK, linestyle="none",
                              markersize=7))
        labels.append("Censored")
    # Outside the axes, right of it: a legend there never covers a curve or its band.
    axis.legend(handles=handles, labels=labels, loc="upper left", bbox_to_anchor=(1.02, 1),
                handler_map={tuple: HandlerTuple(ndivide=1)}, handlelength=2.6)
    top, step = (100.0, 20.0) if start == 1.0 else incidence_axis(highest)
    limits = (ticks[0] - 0.02 * end, end * 1.02)
    axis.set(xlim=limits, ylim=(0, top), ylabel=ylabel, xticks=ticks,
             yticks=np.arange(0, top + step / 2, step))
    if title:
        axis.set_title(title)
    axis.set_xlabel(UNITS[unit][1])
    size = plt.rcParams["xtick.labelsize"]  # numbers at risk as large as the tick labels
    for row, counts in enumerate(rows.values()):
        for x, n in zip(ticks, counts):
            risk.text(x, len(rows) - 1 - row, str(n), ha="center", va="center", fontsize=size)
    risk.set(xlim=limits, ylim=(-0.6, len(rows) - 0.4), xticks=[],
             yticks=range(len(rows)), yticklabels=list(reversed(list(rows))))
    risk.tick_params(axis="y", length=0, labelsize=size, pad=12)  # clear of the first number
    risk.set_title("Number at risk", fontsize=size, loc="left", fontweight="bold")
    _despine(risk, left=True, bottom=True)
    _despine(axis)
    return figure


def km_figure(fits: Mapping[str, pd.DataFrame], times_at_risk: Sequence[float] | None = None,
              *, ylabel: str, title: str = "", unit: str = "months",
              horizon_days: float | None = None, step_days: float | None = None) -> Figure:
    """Kaplan-Meier curves (one per group) from estimator tables, with 95% band, censor
    ticks and numbers at risk under the axis at the tick times; y axis 0-100%.

    ``ylabel`` names the endpoint ("Progression-free survival (%)"). The time axis is in
    ``unit`` ("months" or "days"); ``horizon_days`` ends it (default: the last observed
    time), ``step_days`` spaces its ticks (see :func:`time_ticks`); ``times_at_risk`` (days)
    overrides the ticks. The caption (number, title) is text beside the image
    (:mod:`haplo_report.outputs.captions`); ``title`` is for figures shown on their own.
    """
    return _curve_figure(fits, start=1.0, title=title, ylabel=ylabel,
                         times_at_risk=times_at_risk, unit=unit, horizon_days=horizon_days,
                         step_days=step_days)


def cif_figure(fits: Mapping[str, pd.DataFrame], times_at_risk: Sequence[float] | None = None,
               *, ylabel: str = "Cumulative incidence (%)", title: str = "",
               unit: str = "months", horizon_days: float | None = None,
               step_days: float | None = None) -> Figure:
    """Cumulative incidence curves (e.g. ``{"Relapse": ..., "NRM": ...}`` side by side in one
    panel) with 95% band, censor ticks and numbers at risk; the y axis ends at the next 10%
    above the highest upper confidence limit shown (:func:`incidence_axis`); time axis as in
    :func:`km_figure` (engraftment and acute GVHD read best in days up to day 100)."""
    return _curve_figure(fits, start=0.0, title=title, ylabel=ylabel,
                         times_at_risk=times_at_risk, unit=unit, horizon_days=horizon_days,
                         step_days=step_days)


def _check_timeline(timeline: pd.DataFrame) -> pd.DataFrame:
    require_columns(timeline, ("USUBJID", "ADY", "EVENT"), "timeline")
    unknown = sorted(set(timeline["EVENT"].astype(str)) - set(TIMELINE_EVENTS))
    if unknown:
        raise ValueError(f"timeline has unknown EVENT value(s) {', '.join(unknown)}; "
                         f"expected {', '.join(TIMELINE_EVENTS)}")
    return timeline.assign(USUBJID=timeline["USUBJID"].astype(str),
                           EVENT=timeline["EVENT"].astype(str),
                           ADY=pd.to_numeric(timeline["ADY"]).astype(float))


def swimmer_figure(timeline: pd.DataFrame, *, title: str = "",
                   max_patients: int = MAX_PATIENTS_SHOWN) -> Figure:
    """One bar per patient from transplant (day 0) to the end of follow-up, with MRD results,
    relapse, GVHD onset, death and last follow-up marked; months on the x axis.

    ``timeline``: rows ``USUBJID, ADY`` (days from transplant), ``EVENT`` (a key of
    ``TIMELINE_EVENTS``). Above ``max_patients`` patients it draws :func:`mrd_status_bars`
    instead and says so in the title.
    """
    data = _check_timeline(timeline)
    patients = data["USUBJID"].nunique()
    if patients > max_patients:
        return mrd_status_bars(data, title=f"{title + ': ' if title else ''}summary of "
                               f"{patients} patients (more than {max_patients}: MRD status "
                               "over time)")
    set_style()
    end = data.groupby("USUBJID")["ADY"].max()
    order = sorted(end.index, key=lambda p: (-end[p], p))  # longest follow-up on top
    row = {p: len(order) - 1 - i for i, p in enumerate(order)}
    figure, axis = plt.subplots(figsize=(6.5, max(2.5, 0.6 + 0.16 * len(order))))
    axis.barh([row[p] for p in order], [end[p] / DAYS_PER_MONTH for p in order], height=0.5,
              color="#d9d9d9", edgecolor="#8c8c8c", linewidth=0.4)
    for event, (marker, colour) in TIMELINE_EVENTS.items():
        chosen = data[data["EVENT"] == event]
        if chosen.empty:
            continue
        line = marker == "|"  # an unfilled marker: drawn in its colour, no edge
        axis.scatter(chosen["ADY"] / DAYS_PER_MONTH, chosen["USUBJID"].map(row),
                     marker=marker, s=40 if line else 22, c=colour,
                     edgecolors=None if line else "black", linewidths=1.2 if line else 0.6,
                     zorder=3, label=event)
    axis.axvline(0, color="black", linewidth=0.8)
    axis.set_yticks(range(len(order)), list(reversed(order)), fontsize=5 if len(order) > 40
                    else 6)
    axis.set_xticks(_tick_months(float(end.max())))
    axis.set(xlabel="Months since transplant (day 0)", ylabel="Patient",
             ylim=(-0.8, len(order) - 0.2), xlim=(-0.5, None))
    if title:
        axis.set_title(title)
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=7, title="Event",
                title_fontsize=7)
    _despine(axis)
    figure.tight_layout()
    return figure


MRD_STATUSES: tuple[str, ...] = ("MRD-negative", "MRD-positive", "No MRD result", "Relapse",
                                 "Death", "Follow-up ended")


def mrd_status_counts(timeline: pd.DataFrame,
                      months: Sequence[int] = (1, 3, 6, 12, 24)) -> pd.DataFrame:
    """Patients by status (columns :data:`MRD_STATUSES`) at each month (index): died, else
    relapsed, else no longer followed (last timeline day before the month), else the last MRD
    result on or before the month (two on that day: positive if either is, as the SAP reads
    same-day results), else no MRD result yet."""
    data = _check_timeline(timeline)
    data = (data.assign(_positive=data["EVENT"].eq("MRD-positive"))
            .sort_values(["USUBJID", "ADY", "_positive"], kind="stable"))
    patients = pd.Index(sorted(data["USUBJID"].unique()))
    end = data.groupby("USUBJID")["ADY"].max().reindex(patients)
    first_day = {event: data[data["EVENT"] == event].groupby("USUBJID")["ADY"].min()
                 .reindex(patients) for event in ("Death", "Relapse")}
    mrd = data[data["EVENT"].isin(("MRD-negative", "MRD-positive"))]
    rows = {}
    for month in months:
        day = month * DAYS_PER_MONTH
        seen = mrd[mrd["ADY"] <= day]
        status = seen.groupby("USUBJID")["EVENT"].last().reindex(patients).fillna("No MRD result")
        # lowest priority first, so each later rule overrides the earlier ones
        status[(end < day).to_numpy()] = "Follow-up ended"
        status[(first_day["Relapse"] <= day).to_numpy()] = "Relapse"
        status[(first_day["Death"] <= day).to_numpy()] = "Death"
        rows[month] = status.value_counts().reindex(list(MRD_STATUSES), fill_value=0)
    return pd.DataFrame.from_dict(rows, orient="index").astype("int64")


def mrd_status_bars(timeline: pd.DataFrame, *, title: str,
                    months: Sequence[int] = (1, 3, 6, 12, 24)) -> Figure:
    """Patients by status at each month (:func:`mrd_status_counts`) as stacked bars."""
    counts = mrd_status_counts(timeline, months)
    statuses = MRD_STATUSES
    set_style()
    figure, axis = plt.subplots(figsize=(6.5, 3.6))
    hatches = ("", "////", "..", "xx", "", "\\\\")
    greys = ("white", "#404040", "#d9d9d9", "#a6a6a6", "black", "#f0f0f0")
    bottom = np.zeros(len(months))
    for status, hatch, grey in zip(statuses, hatches, greys):
        axis.bar([f"Month {m}" for m in months], counts[status], bottom=bottom, color=grey,
                 edgecolor="black", linewidth=0.5, hatch=hatch, label=status)
        bottom += counts[status].to_numpy()
    axis.set(ylabel="Patients", title=title)
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=7)
    _despine(axis)
    figure.tight_layout()
    return figure


def save_figure(figure: Figure, folder: Path, name: str) -> list[Path]:
    """Write ``<name>.png`` (300 dpi) and ``<name>.svg`` with fixed metadata, so equal
    figures give equal bytes; close the figure; return the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    png, svg = folder / f"{name}.png", folder / f"{name}.svg"
    with plt.rc_context({"svg.hashsalt": SVG_SALT}):
        figure.savefig(png, dpi=300, bbox_inches="tight", metadata={"Software": None})
        figure.savefig(svg, bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(figure)
    return [png, svg]

"""Figures in one style: KM and cumulative-incidence curves with 95% band, censor marks and
numbers at risk; the per-patient swimmer plot; deterministic PNG/SVG files.

Curves are drawn from estimator tables (``KMFit.table`` / ``CIFFit.table``: ``time, n_risk,
n_event, n_censor, estimate, se, ci_lower, ci_upper``); nothing is re-estimated here.
Greyscale-safe: groups differ in line style and marker, not only in colour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from haplo_report.analysis.frames import require_columns  # noqa: E402
from haplo_report.limits import MAX_PATIENTS_SHOWN  # noqa: E402

DAYS_PER_MONTH = 30.4375
LINE_STYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D")
SVG_SALT = "haplo-report"
UNITS: dict[str, tuple[float, str]] = {  # unit -> (days per unit, axis label)
    "days": (1.0, "Days since transplant"), "months": (DAYS_PER_MONTH, "Months since transplant"),
}
TABLE_COLUMNS = ("time", "n_risk", "n_event", "n_censor", "estimate", "ci_lower", "ci_upper")
TIMELINE_EVENTS: dict[str, tuple[str, str]] = {  # event -> (marker, colour)
    "MRD-negative": ("o", "white"), "MRD-positive": ("o", "black"),
    "Relapse": ("X", "#d62728"), "Acute GVHD": ("^", "#1f77b4"),
    "Chronic GVHD": ("v", "#2ca02c"), "Death": ("s", "black"),
    "Last follow-up": ("|", "dimgray"),
}


def set_style() -> None:
    """The one style of every figure: seaborn ticks, paper context, colour-blind palette."""
    sns.set_theme(style="ticks", context="paper", palette="colorblind")
    plt.rcParams.update({"svg.hashsalt": SVG_SALT, "figure.dpi": 100,
                         "axes.titleweight": "bold", "legend.frameon": False})


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


def time_ticks(max_days: float, unit: str = "months", step_days: float | None = None,
               horizon_days: float | None = None) -> np.ndarray:
    """Tick times in days (the numbers at risk are counted there).

    Months: every 3 months (6 beyond 3 years) past ``max_days``. Days: every ``step_days``
    (default 14 up to day 140, else 28) up to ``horizon_days`` (default ``max_days``), which
    is always the last tick (a step closer to it than half a step is left out: 84 then 100),
    so a landmark at the horizon has its number at risk.
    """
    _days_per_unit(unit)
    if unit == "months":
        end = max_days if horizon_days is None else horizon_days
        return _tick_months(end) * DAYS_PER_MONTH
    end = max(max_days if horizon_days is None else horizon_days, 1.0)
    step = step_days or (14.0 if end <= 140 else 28.0)
    return np.concatenate(([0.0], np.arange(step, end - step / 2, step), [end]))


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


def _curve(table: pd.DataFrame, start: float, scale: float) -> tuple[np.ndarray, ...]:
    """Step coordinates (time / ``scale``, %), starting at day 0 with ``start``."""
    time = np.concatenate(([0.0], table["time"].to_numpy(dtype=float))) / scale
    columns = [np.concatenate(([start], table[c].to_numpy(dtype=float))) * 100
               for c in ("estimate", "ci_lower", "ci_upper")]
    return (time, *columns)


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
    # the axis ends at the horizon, else where the last tick or the longest curve ends
    end = (horizon_days if horizon_days is not None else max(tick_days[-1], max_days)) / scale
    figure = plt.figure(figsize=(6.5, 3.9 + 0.22 * len(tables)), layout="constrained")
    grid = figure.add_gridspec(2, 1, height_ratios=[5, 0.7 + 0.3 * len(tables)])
    axis, risk = figure.add_subplot(grid[0]), figure.add_subplot(grid[1])
    colours = sns.color_palette("colorblind", len(tables))
    for i, (name, table) in enumerate(tables.items()):
        style, marker, colour = LINE_STYLES[i % 4], MARKERS[i % 4], colours[i]
        time, estimate, lower, upper = _curve(table, start, scale)
        axis.step(time, estimate, where="post", color=colour, linestyle=style, linewidth=1.4,
                  label=name)
        band = np.isfinite(lower) & np.isfinite(upper)
        axis.fill_between(time, np.where(band, lower, estimate), np.where(band, upper, estimate),
                          step="post", color=colour, alpha=0.15, linewidth=0)
        censored = table[table["n_censor"] > 0]
        axis.plot(censored["time"] / scale, censored["estimate"] * 100, "+",
                  color=colour, markersize=6, markeredgewidth=1.0)
        # Markers at the tick times tell groups apart in greyscale as well.
        inside = ticks[ticks * scale <= max(table["time"].max(), 0)]
        on_curve = estimate[np.searchsorted(time, inside, side="right") - 1]
        axis.plot(inside, on_curve, linestyle="none", marker=marker, markersize=4,
                  markerfacecolor="white", markeredgecolor=colour)
        for x, n in zip(ticks, at_risk(table, tick_days)):
            risk.text(x, len(tables) - 1 - i, str(n), ha="center", va="center", fontsize=7)
    handles = [Line2D([], [], color=colours[i], linestyle=LINE_STYLES[i % 4],
                      marker=MARKERS[i % 4], markerfacecolor="white", label=name)
               for i, name in enumerate(tables)]
    handles.append(Line2D([], [], color="black", marker="+", linestyle="none",
                          label="Censored"))
    # Outside the axes, right of it: a legend there never covers a curve or its band.
    axis.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=7)
    limits = (ticks[0] - 0.02 * end, end * 1.02)
    axis.set(xlim=limits, ylim=(0, 100), ylabel=ylabel, title=title, xticks=ticks,
             yticks=range(0, 101, 20))
    axis.set_xlabel(UNITS[unit][1])
    risk.set(xlim=limits, ylim=(-0.6, len(tables) - 0.4), xticks=[],
             yticks=range(len(tables)), yticklabels=list(reversed(list(tables))))
    risk.tick_params(axis="y", length=0, labelsize=7)
    risk.set_title("Number at risk", fontsize=7, loc="left", fontweight="bold")
    sns.despine(ax=risk, left=True, bottom=True)
    sns.despine(ax=axis)
    figure.align_ylabels([axis, risk])
    return figure


def km_figure(fits: Mapping[str, pd.DataFrame], times_at_risk: Sequence[float] | None = None,
              *, title: str = "", ylabel: str = "Probability (%)", unit: str = "months",
              horizon_days: float | None = None, step_days: float | None = None) -> Figure:
    """Kaplan-Meier curves (one per group) from estimator tables, with 95% band, censor
    marks and numbers at risk under the axis at the tick times.

    The time axis is in ``unit`` ("months" or "days"); ``horizon_days`` ends it (default:
    the last observed time), ``step_days`` spaces its ticks (see :func:`time_ticks`);
    ``times_at_risk`` (days) overrides the ticks.
    """
    return _curve_figure(fits, start=1.0, title=title, ylabel=ylabel,
                         times_at_risk=times_at_risk, unit=unit, horizon_days=horizon_days,
                         step_days=step_days)


def cif_figure(fits: Mapping[str, pd.DataFrame], times_at_risk: Sequence[float] | None = None,
               *, title: str = "", ylabel: str = "Cumulative incidence (%)",
               unit: str = "months", horizon_days: float | None = None,
               step_days: float | None = None) -> Figure:
    """Cumulative incidence curves (e.g. ``{"Relapse": ..., "NRM": ...}`` side by side in one
    panel) with 95% band, censor marks and numbers at risk; time axis as in
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


def swimmer_figure(timeline: pd.DataFrame, *, title: str = "Per-patient timeline",
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
        return mrd_status_bars(data, title=f"{title}: summary of {patients} patients "
                               f"(more than {max_patients}: MRD status over time)")
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
    axis.set(xlabel="Months since transplant (day 0)", ylabel="Patient", title=title,
             ylim=(-0.8, len(order) - 0.2), xlim=(-0.5, None))
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=7, title="Event",
                title_fontsize=7)
    sns.despine(ax=axis)
    figure.tight_layout()
    return figure


MRD_STATUSES: tuple[str, ...] = ("MRD-negative", "MRD-positive", "No MRD result", "Relapse",
                                 "Death", "Follow-up ended")


def mrd_status_counts(timeline: pd.DataFrame,
                      months: Sequence[int] = (1, 3, 6, 12, 24)) -> pd.DataFrame:
    """Patients by status (columns :data:`MRD_STATUSES`) at each month (index): died, else
    relapsed, else no longer followed (last timeline day before the month), else the last MRD
    result on or before the month, else no MRD result yet."""
    data = _check_timeline(timeline).sort_values(["USUBJID", "ADY"], kind="stable")
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
    sns.despine(ax=axis)
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

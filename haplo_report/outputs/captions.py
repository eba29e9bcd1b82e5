"""Numbered figures (ICH E3): what each one shows, and its caption as text.

``FIGURES`` defines every numbered figure (number, title, notebook, endpoints, axis label, time
axis). :func:`curve_caption` / :func:`timeline_caption` build a :class:`FigureCaption` from what
the figure draws: the caption line (number, title, population, N), footnotes (method, events
and censoring, what the bands, ticks and numbers at risk mean), the source line and alt text.
``FigureCaption.to_markdown`` is what a notebook displays: an image with its caption and alt
text, then the notes, so every renderer keeps "Figure 14.x.y" as text (see the figure contract
in docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from haplo_report.analysis.endpoints import CURVE_LABELS, endpoint_landmarks
from haplo_report.analysis.stats.km import curve_at
from haplo_report.formatting import AT_LEAST, fmt_number, fmt_percent, fmt_scientific
from haplo_report.limits import MAX_PATIENTS_SHOWN
from haplo_report.outputs.figures import (DAYS_PER_MONTH, at_risk, censored_within, cif_figure,
                                          km_figure, risk_rows, time_ticks)
from haplo_report.outputs.tables.core import POPULATIONS
from haplo_report.params import Params

# The PNG as a notebook's output links it: relative to the executed notebook (the run folder's
# notebooks/), as Jupyter, nbconvert and Quarto resolve links in outputs.
IMAGE_FROM_NOTEBOOK = "../figures/{number}.png"
NOTES_CLASS = "figure-notes"  # the notes block under a figure (styled like table notes)
KM_METHOD = ("Kaplan-Meier estimate; band: pointwise 95% confidence interval "
             "(log(-log) scale).")
CIF_METHOD = ("Aalen-Johansen estimate of cumulative incidence with competing events; band: "
              "pointwise 95% confidence interval (log(-log) scale).")
CENSORING = "Patients without an event are censored at the end of follow-up (last known alive " \
            "or the data cut)"


@dataclass(frozen=True)
class FigureSpec:
    """One numbered figure: what it shows and how its axes run."""

    number: str  # "14.2.1"
    title: str  # "Progression-free survival"
    source: str  # notebook, "03_pfs"
    endpoints: tuple[str, ...] = ()  # PARAMCDs drawn, in legend order
    kind: str = "km"  # "km", "cif" or "timeline"
    ylabel: str = "Cumulative incidence (%)"
    events: str = ""  # the event definition (and competing events) for the footnote
    unit: str = "months"
    horizon_days: float | None = None
    population: str = "FAS"


GVHD_COMPETING = "death without it"
FIGURES: dict[str, FigureSpec] = {spec.number: spec for spec in (
    FigureSpec("14.2.1", "Progression-free survival", "03_pfs", ("PFS",),
               ylabel="Progression-free survival (%)",
               events="Event: relapse or death from any cause, whichever came first."),
    FigureSpec("14.2.2", "Overall survival", "04_os", ("OS",), ylabel="Overall survival (%)",
               events="Event: death from any cause."),
    FigureSpec("14.2.3", "Cumulative incidence of relapse and non-relapse mortality (NRM)",
               "05_relapse_nrm", ("CIR", "NRM"), kind="cif",
               events="Relapse: first relapse, death without prior relapse competing. NRM: "
                      "death without prior relapse, relapse competing."),
    FigureSpec("14.2.4", "MRD results and clinical events by patient", "06_mrd",
               kind="timeline", ylabel="Patient"),
    FigureSpec("14.2.5", "GVHD-free, relapse-free survival (GRFS)", "07_grfs", ("GRFS",),
               ylabel="GVHD-free, relapse-free survival (%)",
               events="Event: the first of acute GVHD grade III-IV, chronic GVHD needing "
                      "systemic therapy, relapse or death."),
    FigureSpec("14.3.1", "Cumulative incidence of acute GVHD", "08_acute_gvhd",
               ("AGVHD24", "AGVHD34"), kind="cif", unit="days", horizon_days=100,
               events="Event: onset of the first acute GVHD of that grade or worse (MAGIC); "
                      f"{GVHD_COMPETING} competing."),
    FigureSpec("14.3.2", "Cumulative incidence of chronic GVHD", "09_chronic_gvhd",
               ("CGVHD", "CGVHDMS"), kind="cif",
               events="Event: onset of the first chronic GVHD of that severity or worse "
                      f"(NIH 2014); {GVHD_COMPETING} competing."),
    FigureSpec("14.3.3", "Cumulative incidence of neutrophil and platelet recovery",
               "10_engraftment", ("ANC", "PLT"), kind="cif", unit="days", horizon_days=100,
               events=f"Event: neutrophil (ANC {AT_LEAST}0.5\u00d710\u2079/L) or platelet "
                      f"({AT_LEAST}20\u00d710\u2079/L) recovery; death before recovery "
                      "competing."),
)}


@dataclass(frozen=True)
class FigureCaption:
    """A numbered figure's text: caption line, footnotes, source line and alt text."""

    number: str
    title: str
    population: str  # key of POPULATIONS or free text
    n: int
    data_cut: str
    footnotes: tuple[str, ...]
    source: str  # notebook name
    alt: str

    @property
    def caption(self) -> str:
        """"Figure 14.2.1. Progression-free survival, full analysis set (N=30)"."""
        population = POPULATIONS.get(self.population, self.population)
        return f"Figure {self.number}. {self.title}, {population} (N={self.n})"

    @property
    def source_line(self) -> str:
        return f"Source: notebook {self.source}, data cut {self.data_cut}"

    @property
    def image(self) -> str:
        """The PNG (``save_figure(fig, out / "figures", number)``), relative to the notebook."""
        return IMAGE_FROM_NOTEBOOK.format(number=self.number)

    @property
    def identifier(self) -> str:
        """Anchor of the figure, "figure-14-2-1" (not Quarto's "fig-" prefix: that would
        number the figure a second time, "Figure 1: Figure 14.2.1 ...")."""
        return "figure-" + self.number.replace(".", "-")

    def to_markdown(self) -> str:
        """The image as a captioned figure with alt text (``alt`` for Pandoc, ``fig-alt``
        for Quarto), then the footnotes and source line in a ``figure-notes`` div."""
        caption = _escape_inline(self.caption)
        alt = self.alt.replace("\\", "\\\\").replace('"', '\\"')
        notes = "\\\n".join(_escape_inline(n) for n in [*self.footnotes, self.source_line])
        return (f'![{caption}]({self.image}){{#{self.identifier} alt="{alt}" '
                f'fig-alt="{alt}" width="100%"}}\n\n'
                f"::: {NOTES_CLASS}\n{notes}\n:::\n")

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


def _escape_inline(text: str) -> str:
    """Text safe inside Markdown inline content (brackets, emphasis, pipes)."""
    for char in "\\[]*_|<>`":
        text = text.replace(char, "\\" + char)
    return text


def _lower_first(title: str) -> str:
    """"Overall survival" -> "overall survival"; an acronym ("GVHD-free") stays."""
    return title if title[1:2].isupper() else title[0].lower() + title[1:]


def _spec(number: str, kinds: tuple[str, ...]) -> FigureSpec:
    if number not in FIGURES:
        raise ValueError(f"unknown figure {number!r}; known: {', '.join(FIGURES)}")
    spec = FIGURES[number]
    if spec.kind not in kinds:
        raise ValueError(f"figure {number} is a {spec.kind} figure, not {' or '.join(kinds)}")
    return spec


def _tick_days(spec: FigureSpec, tables: Mapping[str, pd.DataFrame]) -> np.ndarray:
    """The tick times (days) :func:`draw_curves` gives these tables; the last ends the axis."""
    longest = max((float(t["time"].max()) for t in tables.values() if len(t)), default=0.0)
    return time_ticks(longest, spec.unit, horizon_days=spec.horizon_days)


def draw_curves(number: str, fits: Mapping[str, pd.DataFrame]) -> Figure:
    """The curves of figure ``number`` (Kaplan-Meier or cumulative incidence) with its axis
    label and time axis; the caption is text (:func:`curve_caption`), not in the image."""
    spec = _spec(number, ("km", "cif"))
    draw = km_figure if spec.kind == "km" else cif_figure
    return draw(fits, ylabel=spec.ylabel, unit=spec.unit, horizon_days=spec.horizon_days)


def _landmark_words(days: int) -> str:
    return f"{days // 365} year{'s' if days > 365 else ''} (day {days})" if days % 365 == 0 \
        else f"day {days}"


def _reliable_value(name: str, table: pd.DataFrame, kind: str, landmarks: Sequence[int],
                    min_at_risk: int) -> str:
    """What a figure's description says of one curve (SAP v3): its value at the last landmark
    with at least ``min_at_risk`` patients at risk, never the last point of the curve."""
    times = np.asarray(landmarks, dtype=float)
    counts = at_risk(table, times)
    kept = [t for t, k in zip(times, counts) if k >= min_at_risk]
    if not kept:
        return f"{name}: no landmark with at least {min_at_risk} patients at risk"
    last = max(kept)
    value = curve_at(table, [last], before_first=1.0 if kind == "km" else 0.0)
    k = int(counts[list(times).index(last)])
    return (f"{name} {fmt_percent(float(value['estimate'].iloc[0]))}% at "
            f"{_landmark_words(int(last))}, {k} at risk")


def curve_caption(number: str, fits: Mapping[str, pd.DataFrame], *, data_cut: str,
                  relapse_competes: bool = False,
                  landmarks_days: Sequence[int] = Params.landmarks_days,
                  min_at_risk: int = Params.min_at_risk) -> FigureCaption:
    """The caption of a curve figure from the estimator tables it draws (``fits``, keyed by
    legend label, as :func:`draw_curves` gets them). N is the number at risk at day 0;
    the notes name the censor ticks only when some are drawn, the band styles only when
    there are several curves, a shared numbers-at-risk row only when there is one. The alt
    text gives each curve's value at the last landmark of its endpoint (``landmarks_days``
    or the SAP's fixed ones) with at least ``min_at_risk`` patients at risk (SAP v3)."""
    spec = _spec(number, ("km", "cif"))
    tables = {name: getattr(t, "table", t) for name, t in fits.items()}
    if not tables:
        raise ValueError(f"figure {number}: no curves (fits is empty)")
    ticks = _tick_days(spec, tables)
    end = float(ticks[-1])
    n = max(at_risk(t, [0.0])[0] for t in tables.values())
    events = spec.events
    if relapse_competes and GVHD_COMPETING in events:
        events = events.replace(GVHD_COMPETING, f"relapse or {GVHD_COMPETING}")
    censor_ticks = any(len(censored_within(t, end)) for t in tables.values())
    notes = [KM_METHOD if spec.kind == "km" else CIF_METHOD, events,
             CENSORING + ("; vertical ticks on the curves mark censoring times." if censor_ticks
                          else "; no patient was censored within the time shown.")]
    names = list(tables)
    if len(names) > 1:
        hatched = " and ".join(names[1:])
        notes.append(f"Bands: {names[0]} shaded, {hatched} hatched.")
    rows = risk_rows(tables, ticks)
    at_risk_note = "Numbers at risk below the axis, at each tick of the time axis"
    shared = [label for label in rows if label not in tables]
    notes.append(at_risk_note + ("." if not shared else
                                 f"; {shared[0]} share one risk set (one row)."))
    if spec.horizon_days is not None:
        notes.append(f"Shown up to day {fmt_number(spec.horizon_days, 0)}; later follow-up "
                     "is not drawn.")
    population = POPULATIONS.get(spec.population, spec.population)
    method = "Kaplan-Meier curve" if spec.kind == "km" else "Cumulative incidence curves"
    codes = {label: code for code, label in CURVE_LABELS.items()}
    values = [_reliable_value(name, table, spec.kind,
                              endpoint_landmarks(codes.get(name, ""), landmarks_days),
                              min_at_risk)
              for name, table in tables.items() if len(table)]
    alt = (f"{method} of {_lower_first(spec.title)}, {population} "
           f"(N={n}): {spec.ylabel.replace(' (%)', ' in percent')} against "
           f"{'days' if spec.unit == 'days' else 'months'} since transplant, with 95% "
           f"confidence bands and numbers at risk. At the last landmark with at least "
           f"{min_at_risk} patients at risk: {'; '.join(values)}.")
    return FigureCaption(spec.number, spec.title, spec.population, n, data_cut, tuple(notes),
                         spec.source, alt)


def timeline_caption(number: str, timeline: pd.DataFrame, *, data_cut: str,
                     mrd_threshold: float,
                     max_patients: int = MAX_PATIENTS_SHOWN) -> FigureCaption:
    """The caption of the per-patient timeline (swimmer plot) drawn from ``timeline``
    (``USUBJID, ADY, EVENT``), or of its summary bars above ``max_patients`` patients."""
    spec = _spec(number, ("timeline",))
    n = int(timeline["USUBJID"].nunique())
    threshold = fmt_scientific(mrd_threshold)
    population = POPULATIONS.get(spec.population, spec.population)
    mrd = (f"MRD-positive: result {AT_LEAST}{threshold}; MRD-negative: below it "
           "(including undetectable).")
    if n > max_patients:
        notes = (f"More than {max_patients} patients: patients by status at months 1, 3, 6, "
                 "12 and 24 instead of one bar per patient; death overrides relapse, relapse "
                 "overrides MRD status; 'follow-up ended' when the last contact was earlier. "
                 "MRD status: the latest result on or before the month (two on one day: "
                 "positive if either is).",
                 mrd)
        alt = (f"Stacked bars of the {n} patients of the {population} by MRD status, relapse, "
               "death or end of follow-up at months 1, 3, 6, 12 and 24 after transplant.")
    else:
        notes = ("One bar per patient from transplant (day 0) to death or last follow-up, "
                 "longest follow-up on top; the legend names the marks.", mrd)
        alt = (f"Swimmer plot of the {n} patients of the {population}: one horizontal bar per "
               "patient over months since transplant, with MRD results, relapse, GVHD onset, "
               "death and last follow-up marked.")
    return FigureCaption(spec.number, spec.title, spec.population, n, data_cut, notes,
                         spec.source, alt)

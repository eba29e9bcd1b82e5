"""The synopsis (SAP v3): the registration's endpoints at their registration time, PFS and OS
at 2 years and the median follow-up, in the SAP's order (PFS first). The report's synopsis
chapter shows them, and a comparison between data cuts explains how each one moved
(:mod:`haplo_report.analysis.comparison`)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from haplo_report.formatting import NE, NO_CI, fmt_ci, fmt_number, fmt_percent


@dataclass(frozen=True)
class Headline:
    """One synopsis row (SAP v3): which result row it shows and what its events count."""

    label: str
    endpoint: str | None  # None: any endpoint (statistic alone identifies the row)
    statistic: str
    time_days: float | None
    counted: tuple[str, str]  # what ``events`` counts: singular, plural
    percent: bool = True  # estimate is a proportion shown as %


def _counted(one: str, many: str | None = None) -> tuple[str, str]:
    return one, many or f"{one}s"


# The synopsis (SAP v3): the registration's endpoints at their registration time, PFS and OS at
# 2 years, and the median follow-up; each with what its number of events counts.
HEADLINES: tuple[Headline, ...] = (
    Headline("Progression-free survival (primary) at 1 year, %", "PFS", "survival", 365,
             _counted("relapse or death", "relapses or deaths")),
    Headline("Overall survival at 1 year, %", "OS", "survival", 365, _counted("death")),
    Headline("Cumulative incidence of relapse at 1 year, %", "CIR", "cif", 365,
             _counted("relapse")),
    Headline("Non-relapse mortality at 1 year, %", "NRM", "cif", 365,
             _counted("death without prior relapse", "deaths without prior relapse")),
    Headline("MRD-negative at 1 year (primary rate), %", "MRD1Y", "proportion", 365,
             _counted("MRD-negative patient")),
    Headline("Acute GVHD grade II-IV by day 100, %", "AGVHD24", "cif", 100,
             _counted("patient with grade II-IV acute GVHD",
                      "patients with grade II-IV acute GVHD")),
    Headline("Acute GVHD grade III-IV by day 100, %", "AGVHD34", "cif", 100,
             _counted("patient with grade III-IV acute GVHD",
                      "patients with grade III-IV acute GVHD")),
    Headline("Chronic GVHD, any, at 1 year, %", "CGVHD", "cif", 365,
             _counted("patient with chronic GVHD", "patients with chronic GVHD")),
    Headline("Chronic GVHD, moderate-severe, at 1 year, %", "CGVHDMS", "cif", 365,
             _counted("patient with moderate-severe chronic GVHD",
                      "patients with moderate-severe chronic GVHD")),
    Headline("Progression-free survival at 2 years, %", "PFS", "survival", 730,
             _counted("relapse or death", "relapses or deaths")),
    Headline("Overall survival at 2 years, %", "OS", "survival", 730, _counted("death")),
    Headline("Median follow-up, days", None, "median_followup", None,
             _counted("death (follow-up censored)", "deaths (follow-up censored)"),
             percent=False),
)


def _missing(row: pd.Series | None, column: str) -> bool:
    return row is None or pd.isna(row[column])


def shown_estimate(headline: Headline, row: pd.Series | None) -> str:
    """The headline's estimate as the synopsis displays it ("72.4" percent, "21" days);
    "NE" when not estimable, "" when the row is not there."""
    if row is None:
        return ""
    if row["flag"] == NE or pd.isna(row["estimate"]):
        return NE
    return (fmt_percent(row["estimate"]) if headline.percent
            else fmt_number(row["estimate"], 0))


def shown_ci(headline: Headline, row: pd.Series | None) -> str:
    """Its 95% CI as displayed, "(53.1, 84.9)"; "-" where not defined (0% or 100%); "" when
    not estimable or without a CI (a median day shown with its range)."""
    if row is None or shown_estimate(headline, row) == NE:
        return ""
    if _missing(row, "ci_lower") and _missing(row, "ci_upper"):
        return NO_CI if headline.percent else ""
    return fmt_ci(row["ci_lower"], row["ci_upper"], percent=headline.percent,
                  decimals=1 if headline.percent else 0)

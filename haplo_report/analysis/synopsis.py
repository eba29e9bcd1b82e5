"""The synopsis: every endpoint's headline estimate, in the SAP's order (PFS first). The
report's synopsis chapter shows them, and a comparison between data cuts explains how each
one moved (:mod:`haplo_report.analysis.comparison`)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from haplo_report.formatting import NE, NO_CI, fmt_ci, fmt_number, fmt_percent


@dataclass(frozen=True)
class Headline:
    """One synopsis line: which result row it shows and how."""

    label: str
    endpoint: str | None  # None: any endpoint (statistic alone identifies the row)
    statistic: str
    time_days: float | None
    percent: bool = True  # estimate is a proportion shown as %


# The synopsis: every endpoint's headline result (SAP report-at time points).
HEADLINES: tuple[Headline, ...] = (
    Headline("Progression-free survival (primary), 1 year", "PFS", "survival", 365),
    Headline("Overall survival, 1 year", "OS", "survival", 365),
    Headline("GVHD-free, relapse-free survival, 1 year", "GRFS", "survival", 365),
    Headline("Cumulative incidence of relapse, 1 year", "CIR", "cif", 365),
    Headline("Non-relapse mortality, 1 year", "NRM", "cif", 365),
    Headline("MRD-negative at 1 year, primary rate (success / (success + failure))", "MRD1Y",
             "proportion", 365),
    Headline("Acute GVHD grade II-IV, day 100", "AGVHD24", "cif", 100),
    Headline("Acute GVHD grade III-IV, day 100", "AGVHD34", "cif", 100),
    Headline("Chronic GVHD, any, 1 year", "CGVHD", "cif", 365),
    Headline("Chronic GVHD, moderate-severe, 1 year", "CGVHDMS", "cif", 365),
    Headline("Neutrophil recovery, median day among patients who recovered", "ANC",
             "median_days", None, percent=False),
    Headline("Platelet recovery, median day among patients who recovered", "PLT",
             "median_days", None, percent=False),
    Headline("Median follow-up, days", None, "median_followup", None, percent=False),
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

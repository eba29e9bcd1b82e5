"""The result rows of each chapter (notebook) of the report, from the derived data and the
notebook's parameters: what the notebook computes, written once so that a comparison between
data cuts re-computes exactly the same rows (:mod:`haplo_report.analysis.comparison`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from haplo_report.analysis.derive import Derived
from haplo_report.analysis.endpoints import endpoint_landmarks, followup_results, tte_results
from haplo_report.analysis.mrd import mrd_landmarks, mrd_negative_1y
from haplo_report.analysis.results import ResultRow
from haplo_report.analysis.summaries import (ae_by_max_grade, ae_by_soc_pt, ae_overview,
                                             aesi_summary, baseline_summary, death_summary,
                                             disposition_summary, gvhd_summary,
                                             transplant_summary)
from haplo_report.params import Params


def _population(derived: Derived, *, ltfu_days: int, **_: Any) -> list[ResultRow]:
    return (disposition_summary(derived.adsl, ltfu_days) + followup_results(derived.adtte)
            + baseline_summary(derived.adsl) + transplant_summary(derived.adsl))


def _survival(*paramcds: str) -> Callable[..., list[ResultRow]]:
    """Rows of time-to-event endpoints at the run's landmarks, with subgroups."""
    def rows(derived: Derived, *, landmarks_days: Sequence[int], subgroup_min_n: int,
             subgroup_min_events: int = Params.subgroup_min_events,
             min_at_risk: int = Params.min_at_risk, **_: Any) -> list[ResultRow]:
        return [row for paramcd in paramcds
                for row in tte_results(derived.adtte, paramcd, landmarks=list(landmarks_days),
                                       subgroup_min_n=subgroup_min_n,
                                       subgroup_min_events=subgroup_min_events,
                                       min_at_risk=min_at_risk)]
    return rows


def _mrd(derived: Derived, *, mrd_threshold: float, mrd_window_days: int,
         mrd_window_days_365: int, **_: Any) -> list[ResultRow]:
    if derived.supplied["mrd"] is None:
        return []
    return (mrd_landmarks(derived.admrd, derived.adsl, threshold=mrd_threshold,
                          window_days=mrd_window_days, window_days_365=mrd_window_days_365)
            + mrd_negative_1y(derived.adsl, derived.admrd, threshold=mrd_threshold,
                              window_days_365=mrd_window_days_365))


def _gvhd(paramcds: tuple[str, str], grades: str, own_landmarks: bool
          ) -> Callable[..., list[ResultRow]]:
    """Acute (SAP landmarks of the endpoint) or chronic GVHD (the run's landmarks)."""
    def rows(derived: Derived, *, subgroup_min_n: int,
             subgroup_min_events: int = Params.subgroup_min_events,
             min_at_risk: int = Params.min_at_risk,
             landmarks_days: Sequence[int] = (), **_: Any) -> list[ResultRow]:
        if derived.supplied["gvhd"] is None:
            return []
        found = []
        for paramcd in paramcds:
            days = (endpoint_landmarks(paramcd, landmarks_days) if own_landmarks
                    else endpoint_landmarks(paramcd))
            found += tte_results(derived.adtte, paramcd, landmarks=days,
                                 subgroup_min_n=subgroup_min_n,
                                 subgroup_min_events=subgroup_min_events,
                                 min_at_risk=min_at_risk)
        return found + [r for r in gvhd_summary(derived.adgvhd, derived.adsl)
                        if r.endpoint == grades]
    return rows


def _engraftment(derived: Derived, *, min_at_risk: int = Params.min_at_risk,
                 **_: Any) -> list[ResultRow]:
    if derived.supplied["engraftment"] is None:
        return []
    return [row for paramcd in ("ANC", "PLT")
            for row in tte_results(derived.adtte, paramcd, landmarks=endpoint_landmarks(paramcd),
                                   subgroups=(), min_at_risk=min_at_risk)]


def _safety(derived: Derived, **_: Any) -> list[ResultRow]:
    rows = death_summary(derived.adsl)
    if derived.supplied["adverse_events"] is not None:
        rows += (ae_overview(derived.adae, derived.adsl)
                 + ae_by_soc_pt(derived.adae, derived.adsl)
                 + ae_by_max_grade(derived.adae, derived.adsl)
                 + aesi_summary(derived.adae, derived.adsl))
    return rows


CHAPTER_ROWS: dict[str, Callable[..., list[ResultRow]]] = {
    "01_population": _population,
    "03_pfs": _survival("PFS"),
    "04_os": _survival("OS"),
    "05_relapse_nrm": _survival("CIR", "NRM"),
    "06_mrd": _mrd,
    "07_grfs": _survival("GRFS"),
    "08_acute_gvhd": _gvhd(("AGVHD24", "AGVHD34"), "AGVHDMAX", own_landmarks=False),
    "09_chronic_gvhd": _gvhd(("CGVHD", "CGVHDMS"), "CGVHDMAX", own_landmarks=True),
    "10_engraftment": _engraftment,
    "11_safety": _safety,
    "12_narratives": lambda derived, **_: [],  # narratives, no numbered table: no result rows
    "16_listings": lambda derived, **_: [],  # listings (appendix 16.2): no new number
}


def chapter_rows(notebook: str, derived: Derived, **params: Any) -> list[ResultRow]:
    """The result rows notebook ``notebook`` computes from ``derived`` with its parameters
    (``plan.NOTEBOOKS``' ``params`` of that notebook, by name); no rows for a chapter whose
    input table was not supplied."""
    return CHAPTER_ROWS[notebook](derived, **params)

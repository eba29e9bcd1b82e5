"""The report plan: which notebooks make the report, in order, and what each one reads.

The runner injects into each notebook only the parameters listed here and keys its cache on
the derived data it reads, so changing one parameter re-runs only the notebooks that use it.
"""

from __future__ import annotations

from dataclasses import dataclass

from haplo_report.params import ParamsError

# The report's formats, and how long one notebook cell may run before the run fails it as
# stalled (``--stall-timeout``).
REPORT_FORMATS: tuple[str, ...] = ("html", "docx", "pdf")
STALL_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class NotebookSpec:
    """One chapter of the report: a parameterised notebook."""

    name: str  # file stem in notebooks/, e.g. "03_pfs"
    title: str  # chapter title
    section: str  # ICH E3 section: "14.1", "14.2", "14.3" or appendix "16.2"
    endpoints: tuple[str, ...] = ()  # ADTTE PARAMCDs read ("*" = all)
    params: tuple[str, ...] = ()  # Params fields injected besides the common ones
    datasets: tuple[str, ...] = ()  # other derived datasets read (admrd, adgvhd, adae)


# Injected into every notebook.
COMMON_PARAMS: tuple[str, ...] = ("study_id", "study_title", "data_cut_date")

# Subgroup tests (minimum patients and events) and the number at risk (SAP v2, v3).
SUBGROUP_PARAMS: tuple[str, ...] = ("subgroup_min_n", "subgroup_min_events", "min_at_risk")

MRD_PARAMS: tuple[str, ...] = ("mrd_threshold", "mrd_window_days", "mrd_window_days_365")

NOTEBOOKS: tuple[NotebookSpec, ...] = (
    NotebookSpec("01_population", "Study population", "14.1", endpoints=("OS",),
                 params=("ltfu_days",), datasets=("supplied",)),
    NotebookSpec("03_pfs", "Progression-free survival", "14.2", endpoints=("PFS",),
                 params=("landmarks_days", *SUBGROUP_PARAMS)),
    NotebookSpec("04_os", "Overall survival", "14.2", endpoints=("OS",),
                 params=("landmarks_days", *SUBGROUP_PARAMS)),
    NotebookSpec("05_relapse_nrm", "Relapse and non-relapse mortality", "14.2",
                 endpoints=("CIR", "NRM"),
                 params=("landmarks_days", *SUBGROUP_PARAMS)),
    NotebookSpec("06_mrd", "Minimal residual disease", "14.2", endpoints=("PFS",),
                 params=MRD_PARAMS, datasets=("admrd", "adgvhd", "supplied")),
    NotebookSpec("07_grfs", "GVHD-free, relapse-free survival", "14.2", endpoints=("GRFS",),
                 params=("landmarks_days", *SUBGROUP_PARAMS)),
    NotebookSpec("08_acute_gvhd", "Acute GVHD", "14.3", endpoints=("AGVHD24", "AGVHD34"),
                 params=("gvhd_relapse_competes", *SUBGROUP_PARAMS),
                 datasets=("adgvhd", "supplied")),
    NotebookSpec("09_chronic_gvhd", "Chronic GVHD", "14.3", endpoints=("CGVHD", "CGVHDMS"),
                 params=("landmarks_days", "gvhd_relapse_competes", *SUBGROUP_PARAMS),
                 datasets=("adgvhd", "supplied")),
    NotebookSpec("10_engraftment", "Engraftment", "14.3", endpoints=("ANC", "PLT"),
                 params=("min_at_risk",), datasets=("supplied",)),
    NotebookSpec("11_safety", "Adverse events and deaths", "14.3",
                 datasets=("adae", "supplied")),
    NotebookSpec("12_narratives",
                 "14.3.3 Narratives of deaths, other serious and significant adverse events",
                 "14.3", endpoints=("ANC", "PLT"),
                 params=MRD_PARAMS,
                 datasets=("adae", "admrd", "adgvhd", "supplied")),
    # Appendix 16.2 (SAP v3): the listings together, after section 14.
    NotebookSpec("16_listings", "Patient data listings", "16.2",
                 params=(*MRD_PARAMS, "listing_dates"),
                 datasets=("admrd", "adae", "supplied")),
)


def check_run_options(jobs: int, formats: tuple[str, ...], stall_timeout: float) -> None:
    """Refuse bad run options before any work (:class:`ParamsError`, exit 2)."""
    if jobs < 1:
        raise ParamsError(f"--jobs: must be at least 1, got {jobs}")
    if not formats or "" in formats:
        raise ParamsError(f"--formats: an empty format name; name one or more of "
                          f"{', '.join(REPORT_FORMATS)}, separated by commas")
    unknown = [f for f in formats if f not in REPORT_FORMATS]
    if unknown:
        raise ParamsError(f"--formats: unknown report format {unknown[0][:40]!r} "
                          f"(known: {', '.join(REPORT_FORMATS)})")
    if not stall_timeout > 0:
        raise ParamsError(f"--stall-timeout: must be a positive number of seconds, "
                          f"got {stall_timeout}")

"""The report's appendix "Independent check", from the run's ``qc.csv``
(:mod:`haplo_report.analysis.qc` writes it; a run whose check fails has no report)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from haplo_report.formatting import fmt_scientific
from haplo_report.limits import QC_IDENTITY_TOLERANCE, QC_TOLERANCE
from haplo_report.paths import QC_CSV

CHAPTER = "independent-check"  # its name under report-contents in _quarto.yml


def independent_check_markdown(run_dir: Path) -> str | None:
    """The appendix as Markdown; None when the run folder has no ``qc.csv``."""
    path = Path(run_dir) / QC_CSV
    if not path.is_file():
        return None
    qc = pd.read_csv(path, dtype=str, keep_default_na=False)
    numbers = int(pd.to_numeric(qc["numbers"]).sum())
    failed = int((qc["result"] != "pass").sum())
    table = pd.DataFrame({
        "Output": qc["output"], "Endpoint": qc["endpoint"], "Check": qc["check"],
        "Against": qc["reference"], "Numbers": qc["numbers"],
        "Largest difference": [fmt_scientific(float(v)) for v in qc["largest_difference"]],
        "Tolerance": [fmt_scientific(float(v), digits=0) for v in qc["tolerance"]],
        "Result": qc["result"],
    })
    if qc["not_compared"].ne("").any():
        table["Not compared"] = qc["not_compared"]
    outcome = ("every number agreed within its tolerance" if failed == 0 else
               f"{failed} check(s) failed")
    return "\n".join([
        "# Independent check", "",
        "Every Kaplan-Meier estimate and 95% CI (at each landmark and along each curve), the "
        "Kaplan-Meier quartiles with their CI, the reverse Kaplan-Meier median follow-up, "
        "every log-rank test and every number at risk in this report were computed a second "
        "time, from the derived datasets, with lifelines, an independent implementation "
        f"(tolerance {fmt_scientific(QC_TOLERANCE, digits=0)}; numbers at risk "
        "exactly). Where no second implementation is trustworthy (cumulative incidence, "
        "Gray's test), identities were checked (tolerance "
        f"{fmt_scientific(QC_IDENTITY_TOLERANCE, digits=0)}): relapse, non-relapse mortality and progression-free "
        "survival add up to 1 at every time; every curve lies in [0, 1] and is monotone; every "
        "confidence interval contains its estimate; every n and number of events equals the "
        "rows of the derived data. The difference is absolute, relative for numbers above 1 "
        "(days, chi-square statistics). A run in which any number differs by more than its "
        "tolerance fails and produces no report.", "",
        f"Numbers checked: {numbers}; {outcome}.", "",
        table.to_markdown(index=False, tablefmt="pipe", disable_numparse=True), "",
        ": Independent check of the reported numbers", "",
    ])

"""The end-to-end run: the bundled example cut through ``haplo-report run`` into a temporary
folder (every notebook, the report in every format), its independent check (``qc.csv``: one
qualification check per line) and ``verify --reproduce`` of the delivered folder."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TextIO

import pandas as pd

from haplo_report.paths import QC_CSV
from haplo_report.qualification.checks import Check, outcome
from haplo_report.qualification.example import example_params

SECTION = "End-to-end run of the example cut"
FORMATS = ("html", "docx", "pdf")


def end_to_end_checks(output_dir: Path, stream: TextIO, jobs: int | None = None) -> list[Check]:
    """Run the example cut into ``output_dir``, then check it: the run, its report files,
    every line of its independent check, and ``verify --reproduce``."""
    from haplo_report.run import RunFailed, run
    from haplo_report.run.verify import VerifyError, verify

    jobs = jobs or os.cpu_count() or 1
    params = example_params(output_dir=Path(output_dir))
    what = (f"haplo-report run of the bundled example cut ({params.data_cut_date}): validation, "
            f"derivation, every notebook, the independent check, the report ({', '.join(FORMATS)})")
    source = "the bundled example cut (haplo_report/example/) and its parameter file"
    try:
        result = run(params, jobs=jobs, force=True, formats=FORMATS, stream=stream)
    except RunFailed as exc:
        return [outcome(False, "end_to_end.run", SECTION, what, source, f"run failed: {exc}")]
    run_dir = result.run_dir
    checks = [outcome(True, "end_to_end.run", SECTION, what, source, "")]
    reports = [run_dir / "report" / f"{params.study_id}_{params.data_cut_date}.{fmt}"
               for fmt in FORMATS]
    empty = [path.name for path in reports if not path.is_file() or path.stat().st_size == 0]
    checks.append(outcome(not empty, "end_to_end.report_files", SECTION,
                          f"the report written in every format ({', '.join(FORMATS)})",
                          f"{run_dir.name}/report/", f"missing or empty: {', '.join(empty)}"))
    checks += independent_check_checks(run_dir)
    try:
        verified, _ = verify(run_dir, reproduce_notebooks=True, jobs=jobs, stream=stream)
    except VerifyError as exc:
        return checks + [outcome(False, "end_to_end.verify", SECTION,
                                 "haplo-report verify --reproduce of the run folder",
                                 "the run folder's manifest.json", str(exc))]
    for check in verified:
        checks.append(outcome(check.holds, f"end_to_end.verify.{check.name}", SECTION,
                              f"haplo-report verify --reproduce, {check.name}: {check.summary}",
                              "the run folder's manifest.json and its own inputs",
                              "; ".join(check.problems[:5])))
    return checks


def independent_check_checks(run_dir: Path) -> list[Check]:
    """One check per line of the run's ``qc.csv``; a missing or empty file is a failed check."""
    path = Path(run_dir) / QC_CSV
    if not path.is_file():
        return [outcome(False, "end_to_end.independent_check", SECTION,
                        "the run's independent check (qc.csv)", QC_CSV, f"{QC_CSV} not written")]
    frame = pd.read_csv(path, keep_default_na=False, dtype=str)
    if frame.empty:
        return [outcome(False, "end_to_end.independent_check", SECTION,
                        "the run's independent check (qc.csv)", QC_CSV, f"{QC_CSV} is empty")]
    checks = []
    for index, row in enumerate(frame.itertuples(index=False), start=1):
        largest = _float(row.largest_difference)
        not_compared = f"; not compared: {row.not_compared}" if row.not_compared else ""
        checks.append(Check(
            f"end_to_end.independent_check.{index:03d}", SECTION,
            f"Independent check, {row.output} ({row.endpoint}): {row.check}, {row.numbers} "
            f"numbers{not_compared}",
            f"{row.reference} (qc.csv of the run)", row.tolerance or "exact", largest,
            "pass" if row.result == "pass" else "fail",
            "" if row.result == "pass" else f"qc.csv line {index + 1}: {row.result}"))
    return checks


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value

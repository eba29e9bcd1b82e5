"""What a run writes besides the notebooks' own outputs: derived data and validation record
before execution, the collected result rows after it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from haplo_report.analysis.derive import Derived
from haplo_report.analysis.results import ResultRow, read_results, results_frame, write_results
from haplo_report.data.cut import Cut
from haplo_report.data.validation import write_violations
from haplo_report.params import Params
from haplo_report.plan import NotebookSpec
from haplo_report.run.cache import NotebookJob, data_read_by, notebook_job
from haplo_report.run.errors import NotebookFailed


def validation_record(cut: Cut) -> dict[str, Any]:
    """What ``validation.json`` records of a valid cut: rows supplied per table, file names."""
    return {"valid": True, "violations": [], "supplied": cut.supplied(),
            "files": {name: path.name for name, path in sorted(cut.files.items())},
            "dropped_columns": dict(sorted(cut.dropped.items()))}


def write_validation(record: dict[str, Any], build: Path) -> None:
    (build / "validation.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n",
                                           encoding="utf-8")
    write_violations(None, build / "validation.csv")


def collect_results(names: list[str], build: Path, rows: list[ResultRow] = ()) -> pd.DataFrame:
    """Every notebook's ``results/<name>.csv`` into ``results.csv``: plan order, then row order;
    ``rows`` made by the run itself first (the analysis sets of a cut with nobody to analyse)."""
    frames = [results_frame(list(rows))] if rows else []
    for name in names:
        path = build / "results" / f"{name}.csv"
        if not path.is_file():
            raise NotebookFailed(f"notebook {name} wrote no results/{name}.csv")
        frames.append(read_results(path))
    # empty frames (optional tables not supplied) dropped: pandas warns about their dtypes
    filled = [frame for frame in frames if not frame.empty] or frames[:1]
    return write_results(pd.concat(filled, ignore_index=True), build / "results.csv")


def write_data(params: Params, validation: dict[str, Any], derived: Derived, build: Path,
               notebooks: tuple[NotebookSpec, ...], notebooks_dir: Path,
               known: dict[str, str]) -> list[NotebookJob]:
    """Write the derived data and the validation record (:func:`validation_record`) into
    ``build``; the notebook jobs with their cache keys (``known`` gets the digests of the
    derived data they read, :func:`cache.data_read_by`)."""
    derived.write(build / "data")
    write_validation(validation, build)
    return [notebook_job(spec, params, data_read_by(spec, derived, known), notebooks_dir)
            for spec in notebooks]

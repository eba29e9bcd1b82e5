"""A run's comparison with the previous cut of its study (``comparison/``): the findings of
:mod:`haplo_report.analysis.comparison` plus the section 14 cells its first two steps change
(:mod:`haplo_report.outputs.tables.cells`), for the run and for ``haplo-report compare``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from haplo_report.analysis.comparison import (COMPARISON_DIR, Comparison, ComparisonError,
                                              RunFolder, Step, compare_folders)
from haplo_report.outputs.tables.cells import (cell_changes, folder_cells, section_14_tables,
                                               tables_cells)
from haplo_report.params import Params
from haplo_report.run.cache import suite_fingerprint
from haplo_report.run.manifest import manifest_params


def _step_cells(step: Step) -> pd.DataFrame:
    """The section 14 cells of one step, as the report would show them."""
    return tables_cells(section_14_tables(step.rows, str(step.params.data_cut_date),
                                         step.supplied, step.params.ltfu_days))


def with_table_cells(comparison: Comparison) -> Comparison:
    """``comparison`` with :attr:`Comparison.table_cells`: the previous report's section 14
    against the new export re-cut at the previous date (steps 1 and 2)."""
    corrected, reparametrised = comparison.steps
    first = _step_cells(corrected)
    same = corrected.rows.keys() == reparametrised.rows.keys() and all(
        reparametrised.rows[name] is rows for name, rows in corrected.rows.items())
    second = first if same and corrected.params.ltfu_days == reparametrised.params.ltfu_days \
        else _step_cells(reparametrised)
    comparison.table_cells = cell_changes(folder_cells(comparison.old.path / "tables"),
                                          first, second)
    return comparison


def compare_runs(old_dir: Path, new_dir: Path) -> Comparison:
    """The comparison of run folder ``old_dir`` (previous cut) with ``new_dir``."""
    return with_table_cells(compare_folders(RunFolder.open(old_dir), RunFolder.open(new_dir)))


def write_comparison(run_dir: Path, params: Params, previous: Path | None) -> dict:
    """``run_dir/comparison/``: the comparison of ``previous`` with the run being built in
    ``run_dir`` (its inputs, ADSL and result rows written); its summary, or a ``note`` saying
    in one line why there is nothing to compare."""
    folder = run_dir / COMPARISON_DIR
    if previous is None:
        summary = {"note": "no earlier data cut of this study was found under the output "
                           "folder: nothing to compare"}
    else:
        current = RunFolder(run_dir, params.study_id, params.data_cut_date,
                            manifest_params(params), suite_fingerprint())
        try:
            comparison = with_table_cells(compare_folders(RunFolder.open(previous), current))
        except ComparisonError as exc:
            summary = {"note": f"not compared with {previous.name}: {exc}"}
        else:
            comparison.write(folder)
            return comparison.summary()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary

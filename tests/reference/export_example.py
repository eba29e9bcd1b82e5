"""Write the bundled example cut's ADTTE rows for the R reference (make_expected_example.R)
and its MRD inputs (ADSL columns, assessments) for make_expected_mrd.R.

Run from the repository root:  .venv/bin/python tests/reference/export_example.py
The rows come from the real pipeline (validate_cut -> derive_cut with params/example.yml), so
R and Python estimate from the same data; tests/test_reference_example.py checks that the
committed CSV still equals a fresh export.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from haplo_report.analysis.derive import derive_cut
from haplo_report.params import Params, load_params
from haplo_report.data.validation import validate_cut

ROOT = Path(__file__).resolve().parents[2]
PARAMS = ROOT / "params" / "example.yml"
OUTPUT = Path(__file__).resolve().parent / "inputs" / "example_adtte.csv"
COLUMNS = ["USUBJID", "PARAMCD", "AVAL", "CNSR", "EVNTTYPE", "MRDGRP", "DISGRP", "PHGRP"]
MRD_PATIENTS = OUTPUT.parent / "example_mrd_patients.csv"
MRD_ASSESSMENTS = OUTPUT.parent / "example_mrd_assessments.csv"
PATIENT_COLUMNS = ["USUBJID", "FASFL", "HSCTDT", "CUTDT", "RELDT", "DTHDT", "FUPDAYS"]
ASSESSMENT_COLUMNS = ["USUBJID", "ADY", "RESULT", "METHOD"]


def example_params() -> Params:
    """params/example.yml, checked against a fixed "today" so the file never expires."""
    return load_params(PARAMS, today=dt.date(2100, 1, 1))


def example_adtte(params: Params | None = None) -> pd.DataFrame:
    """The example cut's ADTTE (all columns), as the pipeline derives it."""
    params = params or example_params()
    return derive_cut(validate_cut(params.data_dir, params.data_cut_date), params).adtte


def example_mrd(params: Params | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The example cut's ADSL and ADMRD, as the pipeline derives them."""
    params = params or example_params()
    derived = derive_cut(validate_cut(params.data_dir, params.data_cut_date), params)
    return derived.adsl, derived.admrd


def mrd_texts(adsl: pd.DataFrame, admrd: pd.DataFrame) -> tuple[str, str]:
    """The CSV texts of the MRD reference inputs (patients, assessments)."""
    return (adsl[PATIENT_COLUMNS].to_csv(index=False, date_format="%Y-%m-%d",
                                         lineterminator="\n"),
            admrd[ASSESSMENT_COLUMNS].to_csv(index=False, float_format="%.10g",
                                             lineterminator="\n"))


def export_text(adtte: pd.DataFrame) -> str:
    """The CSV text of the reference columns (``%.10g`` floats, ``\\n`` line ends)."""
    return adtte[COLUMNS].to_csv(index=False, float_format="%.10g", lineterminator="\n")


def main() -> None:
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(export_text(example_adtte()), encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    for path, text in zip((MRD_PATIENTS, MRD_ASSESSMENTS), mrd_texts(*example_mrd())):
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

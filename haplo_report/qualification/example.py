"""The bundled example cut as the R reference scripts read it: its ADTTE rows
(make_expected_example.R) and its MRD inputs (make_expected_mrd.R), derived by the suite itself.

``reference/export_example.py`` writes these texts into ``reference/inputs/``; the reference
tests and ``haplo-report qualify`` check that the shipped inputs still equal them, so R and
Python estimate from the same data.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from haplo_report.analysis.derive import Derived, derive_cut
from haplo_report.data.validation import validate_cut
from haplo_report.params import Params, load_params
from haplo_report.paths import EXAMPLE_DATA, EXAMPLE_PARAMS

ADTTE_COLUMNS = ["USUBJID", "PARAMCD", "AVAL", "CNSR", "EVNTTYPE", "MRDGRP", "DISGRP", "PHGRP"]
PATIENT_COLUMNS = ["USUBJID", "FASFL", "HSCTDT", "CUTDT", "RELDT", "DTHDT", "FUPDAYS"]
ASSESSMENT_COLUMNS = ["USUBJID", "ADY", "RESULT", "METHOD"]
NEVER_EXPIRES = dt.date(2100, 1, 1)  # "today" for the example's data cut check


def example_params(**overrides) -> Params:
    """The example's parameter file with its shipped data folder (``overrides``: those of
    :func:`load_params`), checked against a fixed "today" so the file never expires."""
    return load_params(EXAMPLE_PARAMS, **{"data_dir": EXAMPLE_DATA, **overrides},
                       today=NEVER_EXPIRES)


def example_derived(params: Params | None = None) -> Derived:
    """The example cut validated and derived as the pipeline does."""
    params = params or example_params()
    return derive_cut(validate_cut(params.data_dir, params.data_cut_date), params)


def adtte_text(adtte: pd.DataFrame) -> str:
    """The CSV text of the reference columns (``%.10g`` floats, ``\\n`` line ends)."""
    return adtte[ADTTE_COLUMNS].to_csv(index=False, float_format="%.10g", lineterminator="\n")


def mrd_texts(adsl: pd.DataFrame, admrd: pd.DataFrame) -> tuple[str, str]:
    """The CSV texts of the MRD reference inputs (patients, assessments)."""
    return (adsl[PATIENT_COLUMNS].to_csv(index=False, date_format="%Y-%m-%d",
                                         lineterminator="\n"),
            admrd[ASSESSMENT_COLUMNS].to_csv(index=False, float_format="%.10g",
                                             lineterminator="\n"))

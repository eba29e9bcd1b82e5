"""Schemas on text: the spec's types, codes and ranges, and the documented normalisation."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
import pytest

from haplo_report.data.schemas import (Gvhd, Mrd, Subjects, identifying_columns, normalise_text,
                                  typed_frame)


def _failures(model, frame: pd.DataFrame) -> list[tuple]:
    try:
        model.validate(normalise_text(frame), lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        return sorted(zip(cases["column"], cases["failure_case"].astype(str)))
    return []


def _gvhd(**cells: str) -> pd.DataFrame:
    row = {"USUBJID": "P01", "GVHDTYPE": "ACUTE", "ONSETDT": "2025-03-01", "GRADE": "II",
           "ORGANS": "", "SYSTX": "N"} | cells
    return pd.DataFrame([row], index=[2])


def test_whitespace_around_codes_is_stripped_and_empty_is_missing() -> None:
    frame = normalise_text(pd.DataFrame({"A": [" II ", "", "  "], "B": ["x", "y", "z"]}))
    assert frame["A"].tolist()[0] == "II"
    assert frame["A"].isna().tolist() == [False, True, True]
    assert _failures(Gvhd, _gvhd(GRADE=" II ", GVHDTYPE="ACUTE ")) == []


@pytest.mark.parametrize("grade", ["2", "II-III", "ii", "Grade II", "2.0"])
def test_grades_must_be_the_spec_codes_exactly(grade: str) -> None:
    assert _failures(Gvhd, _gvhd(GRADE=grade)) == [("GRADE", grade)]


def test_grade_scale_follows_gvhd_type() -> None:
    assert ("GRADE", "MILD") in _failures(Gvhd, _gvhd(GRADE="MILD"))
    assert _failures(Gvhd, _gvhd(GVHDTYPE="CHRONIC", GRADE="SEVERE")) == []


@pytest.mark.parametrize("value", ["30/06/2026", "2026-6-3", "46203", "2026-02-30",
                                   "2026-06-30T00:00:00", "20260630"])
def test_dates_are_strict_iso(value: str) -> None:
    assert _failures(Gvhd, _gvhd(ONSETDT=value)) == [("ONSETDT", value)]


def _mrd(result: str) -> pd.DataFrame:
    return pd.DataFrame([{"USUBJID": "P01", "MRDDT": "2025-03-01", "METHOD": "FCM",
                          "RESULT": result}], index=[2])


@pytest.mark.parametrize("result", ["0", "1", "0.0005", "5e-4", "1E-3", ".5"])
def test_mrd_fractions_are_accepted(result: str) -> None:
    assert _failures(Mrd, _mrd(result)) == []


@pytest.mark.parametrize("result", ["0.5%", "1.01", "-0.1", "0,5", "nan", "inf", "<0.01"])
def test_mrd_outside_fraction_or_not_a_number_is_refused(result: str) -> None:
    assert _failures(Mrd, _mrd(result)) == [("RESULT", result)]


def test_identifying_columns_are_recognised() -> None:
    columns = ["USUBJID", "NAME", "INITIALS", "BRTHDTC", "BRTHDT", "DOB", "BIRTHDT",
               "First_Name", "Date of Birth", "PATINIT", "SUBJINIT", "AGE", "RFICDT",
               "SITEID", "CONDREG", "AEDECOD", "DONREL"]
    assert identifying_columns(columns) == ["NAME", "INITIALS", "BRTHDTC", "BRTHDT", "DOB",
                                            "BIRTHDT", "First_Name", "Date of Birth",
                                            "PATINIT", "SUBJINIT"]


def test_typed_frame_types_columns_and_keeps_extras() -> None:
    text = normalise_text(pd.DataFrame([{
        "USUBJID": "P01", "SITEID": "S1", "AGE": "34", "SEX": "M", "MRDPRE": "0.002",
        "CD34DOSE": "", "BLINDAYS": "7", "RFICDT": "2025-01-10", "HSCTDT": "",
        "LSTALVDT": "2025-02-30", "NOTE": " kept "}], index=[2]))
    typed = typed_frame(Subjects, text)
    assert typed.loc[2, "AGE"] == 34 and str(typed["AGE"].dtype) == "Int64"
    assert typed["MRDPRE"].dtype == "float64" and typed.loc[2, "MRDPRE"] == 0.002
    assert pd.isna(typed.loc[2, "CD34DOSE"])
    assert typed["RFICDT"].dtype == "datetime64[ns]"
    assert typed.loc[2, "RFICDT"] == pd.Timestamp("2025-01-10")
    assert pd.isna(typed.loc[2, "HSCTDT"]) and pd.isna(typed.loc[2, "LSTALVDT"])  # invalid
    assert isinstance(typed["SEX"].dtype, pd.StringDtype)
    assert typed.loc[2, "NOTE"] == "kept"
    assert typed["CONDREG"].isna().all()  # absent columns come back empty

"""haplo_report.analysis.adam_schemas: the derived-data contract each notebook checks."""

from __future__ import annotations

import dataclasses
import datetime as dt
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest

from haplo_report.analysis import adam_schemas
from haplo_report.analysis.adam_schemas import InvalidDerivedData, check_derived, datasets_read
from haplo_report.analysis.derive import derive_cut
from haplo_report.data.simulate import write_simulated_cut
from haplo_report.data.validation import validate_cut
from haplo_report.params import Params
from haplo_report.plan import NOTEBOOKS

CUT = dt.date(2026, 6, 30)


@pytest.fixture(scope="module")
def derived(tmp_path_factory):
    folder = write_simulated_cut(tmp_path_factory.mktemp("adam") / "cut", n=31, seed=5)
    params = Params("TEST", "Test", folder, CUT)
    return derive_cut(validate_cut(folder, CUT), params)


def _copy(derived):
    return dataclasses.replace(derived, **{name: getattr(derived, name).copy()
                                          for name in adam_schemas.SCHEMAS})


def test_every_notebook_reads_valid_data_and_gets_its_table(derived):
    for spec in NOTEBOOKS:
        heading, table = check_derived(derived, spec.name).split("\n\n")
        assert heading.startswith(f"**Data check.** pandera {metadata.version('pandera')} ")
        assert "(`haplo_report.analysis.adam_schemas`, derived-data contract version " \
            f"{adam_schemas.SCHEMA_VERSION}, strict=False): every dataset valid." in heading
        table = table.splitlines()
        assert table[0].split("|")[1:5] == [" Dataset ", "   Rows ", " Schema ", " Valid "] or \
            [c.strip() for c in table[0].split("|")[1:5]] == ["Dataset", "Rows", "Schema", "Valid"]
        assert len(table) == 2 + len(datasets_read(spec.name, derived)), spec.name
        assert all(line.rstrip(" |").endswith("Yes") for line in table[2:]), spec.name


def test_datasets_read_follow_the_plan(derived):
    frames = datasets_read("05_relapse_nrm", derived)
    assert list(frames) == ["adsl", "adtte (CIR, NRM)"]
    assert set(frames["adtte (CIR, NRM)"]["PARAMCD"]) == {"CIR", "NRM"}
    assert list(datasets_read("11_safety", derived)) == ["adsl", "adae"]
    with pytest.raises(ValueError, match="no notebook '99_x'"):
        datasets_read("99_x", derived)


def test_extra_columns_are_allowed(derived):
    changed = _copy(derived)
    changed.adtte["NEWFLAG"] = "Y"
    changed.adsl["SAPV2FL"] = 1
    assert "No" not in check_derived(changed, "03_pfs")


@pytest.mark.parametrize("dataset, column, value, notebook, check", [
    ("adsl", "FASFL", "X", "01_population", "isin(['Y', 'N'])"),
    ("adtte", "AVAL", -1, "04_os", "greater_than_or_equal_to(0)"),
    ("admrd", "RESULT", 1.5, "06_mrd", "less_than_or_equal_to(1)"),
    ("adgvhd", "GRADE", "2", "08_acute_gvhd", "isin("),
    ("adae", "AETOXGR", 6, "11_safety", "less_than_or_equal_to(5)"),
])
def test_a_changed_value_is_named(derived, dataset, column, value, notebook, check):
    changed = _copy(derived)
    frame = getattr(changed, dataset)
    row = int(frame.index[frame["PARAMCD"] == "OS"][3]) if dataset == "adtte" else 3
    frame.loc[row, column] = value
    with pytest.raises(InvalidDerivedData) as caught:
        check_derived(changed, notebook)
    message = str(caught.value)
    assert message.startswith("1 violation(s) of the derived-data contract") or \
        message.startswith("2 violation(s)")  # AVAL also breaks "AVAL is ADT - STARTDT"
    assert f"row {row + 1}, column {column}, value {value!r}, check {check}" in message


def test_row_level_rules_name_the_row(derived):
    changed = _copy(derived)
    dead = int(changed.adsl.index[changed.adsl["DTHFL"] == "Y"][0])
    changed.adsl.loc[dead, "DTHDT"] = pd.NaT
    with pytest.raises(InvalidDerivedData, match=rf"ADSL: row {dead + 1}, .*DTHFL is Y exactly"):
        check_derived(changed, "01_population")


def test_a_missing_column_is_named(derived):
    changed = _copy(derived)
    changed.adtte = changed.adtte.drop(columns="CNSR")
    with pytest.raises(InvalidDerivedData, match="ADTTE \\(PFS\\): .*CNSR"):
        check_derived(changed, "03_pfs")

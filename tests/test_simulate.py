"""Simulated data cuts: deterministic, valid against the spec, and realistic at scale."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from haplo_report.cli import main
from haplo_report.data.cut import TABLES
from haplo_report.params import load_params
from haplo_report.data.simulate import EXPORT_DATE, FILE_FORMATS, simulate_cut, write_simulated_cut
from haplo_report.data.validation import validate_cut

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_SEED = 2032  # data/example = haplo-report simulate --n 31 --seed 2032
CUT_DATE = dt.date(2026, 7, 31)


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def large() -> dict[str, pd.DataFrame]:
    return simulate_cut(20_000, 7)


def _days(frame: pd.DataFrame, column: str, subjects: pd.DataFrame) -> pd.Series:
    """Days from transplant of a date column, per row."""
    hsct = frame["USUBJID"].map(subjects.set_index("USUBJID")["HSCTDT"])
    return (frame[column] - hsct).dt.days


@pytest.mark.parametrize("file_format", FILE_FORMATS)
def test_same_seed_gives_identical_files(tmp_path: Path, file_format: str) -> None:
    first = write_simulated_cut(tmp_path / "a", n=31, seed=5, file_format=file_format)
    second = write_simulated_cut(tmp_path / "b", n=31, seed=5, file_format=file_format)
    files = _bytes(first)
    assert sorted(files) == sorted(f"{t}.{file_format}" for t in TABLES)
    assert files == _bytes(second)


def test_no_wall_clock_in_xlsx_and_xpt(tmp_path: Path) -> None:
    xlsx = write_simulated_cut(tmp_path / "x", n=5, seed=1, file_format="xlsx") / "deaths.xlsx"
    with zipfile.ZipFile(xlsx) as book:
        assert {i.date_time for i in book.infolist()} == {(2000, 1, 1, 0, 0, 0)}
        core = book.read("docProps/core.xml").decode()
    assert core.count("2000-01-01T00:00:00Z") == 2
    xpt = write_simulated_cut(tmp_path / "s", n=5, seed=1, file_format="xpt") / "mrd.xpt"
    assert xpt.read_bytes()[:400].count(b"01JAN00:00:00:00") >= 2


def test_different_seeds_differ() -> None:
    a, b = simulate_cut(31, 1), simulate_cut(31, 2)
    assert not a["subjects"].equals(b["subjects"])
    assert not a["adverse_events"].equals(b["adverse_events"])


def test_bundled_example_is_reproducible(tmp_path: Path) -> None:
    folder = write_simulated_cut(tmp_path, n=31, seed=EXAMPLE_SEED)
    assert _bytes(folder) == _bytes(ROOT / "data" / "example")


def test_example_params_point_at_the_example_and_the_cut_matters() -> None:
    params = load_params(ROOT / "params" / "example.yml")
    assert params.study_id == "HAPLO-BLIN-ALL"
    assert params.data_dir == ROOT / "data" / "example"
    assert (params.mrd_threshold, params.mrd_window_days, params.mrd_window_days_365) == (
        1e-4, 14, 30)
    assert params.landmarks_days == (100, 365, 730)
    cut = validate_cut(params.data_dir, params.data_cut_date)
    cut_date = pd.Timestamp(params.data_cut_date)
    assert cut_date < pd.Timestamp(EXPORT_DATE)
    later = sum(int((cut.table(t)[c] > cut_date).sum()) for t, c in
                (("relapses", "RELDT"), ("deaths", "DTHDT"), ("gvhd", "ONSETDT"),
                 ("mrd", "MRDDT")))
    assert later >= 1  # some events happen after the cut: cutting matters
    assert (cut.subjects["LSTALVDT"] > cut_date).sum() >= 10  # follow-up continues after it
    assert (cut.subjects["HSCTDT"] <= cut_date).sum() >= 25


@pytest.mark.parametrize(("n", "seed"), [(31, 0), (31, 1), (31, 2), (300, 0), (300, 1)])
def test_simulated_cuts_pass_validation(tmp_path: Path, n: int, seed: int) -> None:
    cut = validate_cut(write_simulated_cut(tmp_path, n=n, seed=seed), CUT_DATE)
    assert len(cut.subjects) == n
    assert all(cut.table(t) is not None for t in TABLES)


@pytest.mark.parametrize("file_format", ["xlsx", "parquet", "xpt"])
def test_every_format_reads_as_the_csv(tmp_path: Path, file_format: str) -> None:
    csv = validate_cut(write_simulated_cut(tmp_path / "c", n=31, seed=3), CUT_DATE)
    other = validate_cut(write_simulated_cut(tmp_path / "o", n=31, seed=3,
                                             file_format=file_format), CUT_DATE)
    for table in TABLES:
        pd.testing.assert_frame_equal(csv.table(table), other.table(table))


def test_spec_rules_hold_at_scale(large: dict[str, pd.DataFrame]) -> None:
    subjects, deaths = large["subjects"], large["deaths"]
    assert subjects["USUBJID"].is_unique and deaths["USUBJID"].is_unique
    assert subjects["USUBJID"].str.fullmatch(r"HB-\d{2}-\d{3,}").all()
    assert list(subjects.columns) == [  # the spec's columns only: no names, initials, births
        "USUBJID", "SITEID", "AGE", "SEX", "SUBTYPE", "DISSTAT", "MRDPRE", "MRDMETH", "DONREL",
        "HLAMATCH", "GRAFTSRC", "CD34DOSE", "BLINDAYS", "CONDREG", "RFICDT", "HSCTDT",
        "LSTALVDT"]
    tx = subjects[subjects["HSCTDT"].notna()]
    assert 0.03 < 1 - len(tx) / len(subjects) < 0.07  # ~5% never transplanted
    gap = (tx["HSCTDT"] - tx["RFICDT"]).dt.days
    assert gap.between(10, 40).all()
    assert (subjects["LSTALVDT"] >= subjects["HSCTDT"].fillna(subjects["RFICDT"])).all()
    assert (subjects["LSTALVDT"] <= pd.Timestamp(EXPORT_DATE)).all()
    engraftment = large["engraftment"]
    assert sorted(engraftment["USUBJID"]) == sorted(tx["USUBJID"])
    death = deaths.set_index("USUBJID")["DTHDT"]
    assert (death >= subjects.set_index("USUBJID")["LSTALVDT"].reindex(death.index)).all()
    for table, column in (("relapses", "RELDT"), ("gvhd", "ONSETDT"), ("mrd", "MRDDT"),
                          ("engraftment", "ANCDT"), ("engraftment", "PLTDT")):
        frame = large[table]
        assert (_days(frame, column, subjects).dropna() >= 0).all(), column
        dead_by = frame["USUBJID"].map(death)
        assert not (frame[column] > dead_by).any(), column
    ae = large["adverse_events"]
    assert (ae["AESTDT"] >= ae["USUBJID"].map(subjects.set_index("USUBJID")["RFICDT"])).all()
    assert not (ae["AESTDT"] > ae["USUBJID"].map(death)).any()
    assert set(ae["AESI"]) == {"", "CRS", "ICANS", "INFECTION"}
    assert subjects["AGE"].between(14, 65).all()
    assert ((subjects["MRDPRE"] > 1e-4) & (subjects["MRDPRE"] <= 5e-2)).all()
    assert 0.35 < (subjects["MRDPRE"] >= 1e-3).mean() < 0.45


def test_one_year_rates_near_targets(large: dict[str, pd.DataFrame]) -> None:
    subjects = large["subjects"]
    tx = subjects[subjects["HSCTDT"].notna()].set_index("USUBJID")
    death = (large["deaths"].set_index("USUBJID")["DTHDT"].reindex(tx.index)
             - tx["HSCTDT"]).dt.days
    relapse = (large["relapses"].groupby("USUBJID")["RELDT"].min().reindex(tx.index)
               - tx["HSCTDT"]).dt.days
    # Follow-up ends at the export, at least ~15 months after the last transplant, so crude
    # 1-year proportions are close to the estimates (a few patients are lost earlier).
    assert 0.76 < 1 - (death <= 365).mean() < 0.84  # OS ~80%
    assert 0.66 < 1 - ((death <= 365) | (relapse <= 365)).mean() < 0.75  # PFS ~70%
    assert 0.15 <= (relapse <= 365).mean() <= 0.20  # CIR 15-20%
    nrm = (death <= 365) & ~(relapse <= death)
    assert 0.08 < nrm.mean() < 0.12  # NRM ~10%
    gvhd = large["gvhd"].assign(day=lambda g: _days(g, "ONSETDT", subjects))
    acute = gvhd[(gvhd["GVHDTYPE"] == "ACUTE") & (gvhd["day"] <= 100)]
    assert 0.26 < acute.loc[acute["GRADE"] != "I", "USUBJID"].nunique() / len(tx) < 0.34
    severe = acute.loc[acute["GRADE"].isin(["III", "IV"]), "USUBJID"].nunique()
    assert 0.06 < severe / len(tx) < 0.10
    assert acute["day"].between(15, 60).mean() > 0.6
    chronic = gvhd[gvhd["GVHDTYPE"] == "CHRONIC"]
    assert (chronic["day"] > 90).all()
    assert 0.26 < chronic.loc[chronic["day"] <= 365, "USUBJID"].nunique() / len(tx) < 0.34
    assert 0.3 < chronic["GRADE"].isin(["MODERATE", "SEVERE"]).mean() < 0.7
    assert 0.3 < (chronic["SYSTX"] == "Y").mean() < 0.7
    mrd = large["mrd"].assign(day=lambda m: _days(m, "MRDDT", subjects))
    negative = [(mrd.loc[(mrd["day"] - lm).abs() <= 14, "RESULT"] < 1e-4).mean()
                for lm in (30, 365)]
    assert 0.5 < negative[0] < 0.7 and 0.78 < negative[1] < 0.92
    engraftment = large["engraftment"].set_index("USUBJID")
    assert 12 <= (engraftment["ANCDT"] - tx["HSCTDT"]).dt.days.median() <= 14
    assert 14 <= (engraftment["PLTDT"] - tx["HSCTDT"]).dt.days.median() <= 25


def test_deaths_and_ties_as_real_data_has_them(large: dict[str, pd.DataFrame]) -> None:
    subjects = large["subjects"]
    deaths = large["deaths"].assign(day=lambda d: _days(d, "DTHDT", subjects))
    first = large["relapses"].drop_duplicates("USUBJID").set_index("USUBJID")["RELDT"]
    relapsed = deaths["USUBJID"].isin(first.index)
    assert (deaths.loc[relapsed, "DTHCAUS"] == "RELAPSE").mean() > 0.85
    nrm = deaths[~relapsed & deaths["day"].notna()]
    assert set(nrm["DTHCAUS"]) == {"INFECTION", "GVHD", "TMA", "VOD", "HEMORRHAGE", "OTHER"}
    assert (nrm["DTHCAUS"] == "INFECTION").mean() > 0.3
    # GVHD deaths only in patients with a recorded GVHD episode
    assert nrm.loc[nrm["DTHCAUS"] == "GVHD", "USUBJID"].isin(large["gvhd"]["USUBJID"]).all()
    relapse_days = set(_days(first.reset_index(), "RELDT", subjects))
    assert nrm["day"].isin(relapse_days).sum() > 50  # NRM deaths tied with relapses
    on_relapse_day = deaths.loc[relapsed, "DTHDT"].to_numpy() == first[
        deaths.loc[relapsed, "USUBJID"]].to_numpy()
    assert 0 < on_relapse_day.sum() < 0.2 * relapsed.sum()
    fatal = large["adverse_events"].query("AETOXGR == 5")
    assert sorted(fatal["USUBJID"]) == sorted(nrm["USUBJID"])
    assert (large["relapses"].groupby("USUBJID").size() > 1).any()  # second relapses


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="need at least 1 patient"):
        simulate_cut(0, 1)
    with pytest.raises(ValueError, match="file_format: use one of csv"):
        write_simulated_cut(tmp_path, n=3, seed=1, file_format="sav")


def test_cli_simulate_writes_a_valid_cut(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["simulate", "--n", "12", "--seed", "9", "--out", str(tmp_path),
                 "--format", "parquet"]) == 0
    assert "12 patients" in capsys.readouterr().out
    assert len(validate_cut(tmp_path, CUT_DATE).subjects) == 12
    assert len(pd.read_parquet(tmp_path / "mrd.parquet")) == len(simulate_cut(12, 9)["mrd"])

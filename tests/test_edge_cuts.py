"""Valid edge cases of a data cut through the full run (real notebooks, HTML report), and an
invalid cut refused by ``haplo-report run``.

One run serves all valid edge cases: 12 patients, one transplanted after the data cut, every
relapse, death and GVHD onset after the cut, and no mrd, engraftment or adverse_events table.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from conftest import run_cli, write_cut, write_params
from haplo_report.analysis.endpoints import not_supplied_sentence
from haplo_report.analysis.results import read_results
from haplo_report.data.simulate import simulate_cut

CUT_DATE = dt.date(2025, 12, 31)
STUDY = "EDGE"
N = 12
LATE = N - 1  # the patient transplanted after the cut
AFTER_CUT = {"relapse": "2026-02-01", "death": "2026-04-01", "gvhd": "2026-01-10",
             "last_alive": "2026-03-01"}


@dataclass(frozen=True)
class EdgeRun:
    cut_dir: Path
    output_dir: Path
    run_dir: Path
    exit_code: int
    stderr: str


def edge_frames() -> dict[str, pd.DataFrame]:
    """Simulated baseline; transplants on 2025-01-01 + 10 i days, the last one after the cut;
    relapses, deaths and GVHD all after the cut; the optional tables left out."""
    subjects = simulate_cut(N, seed=5)["subjects"].copy()
    hsct = pd.Series(pd.Timestamp("2025-01-01") + pd.to_timedelta(10 * pd.RangeIndex(N),
                                                                   unit="D"))
    hsct[LATE] = pd.Timestamp("2026-01-05")
    subjects["HSCTDT"] = hsct
    subjects["RFICDT"] = hsct - pd.Timedelta(days=31)
    subjects["LSTALVDT"] = pd.Timestamp(AFTER_CUT["last_alive"])
    ids = subjects["USUBJID"]
    relapses = pd.DataFrame({"USUBJID": ids[[0, 1, LATE]], "RELDT": AFTER_CUT["relapse"],
                             "RELSITE": "BM"})
    deaths = pd.DataFrame({"USUBJID": ids[[0, 3]], "DTHDT": AFTER_CUT["death"],
                           "DTHCAUS": ["RELAPSE", "INFECTION"]})
    gvhd = pd.DataFrame({"USUBJID": ids[[1, 2, LATE]], "GVHDTYPE": ["ACUTE", "CHRONIC", "ACUTE"],
                         "ONSETDT": AFTER_CUT["gvhd"], "GRADE": ["III", "MODERATE", "II"],
                         "ORGANS": "SKIN", "SYSTX": "Y"})
    return {"subjects": subjects, "relapses": relapses, "deaths": deaths, "gvhd": gvhd}


def tree(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by relative path."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> EdgeRun:
    root = tmp_path_factory.mktemp("edge")
    cut_dir = write_cut(edge_frames(), root / "cut")
    output = root / "output"
    params = write_params(root / "params.yml", cut_dir, CUT_DATE, output, study_id=STUDY)
    code, _, stderr = run_cli(["run", str(params), "--jobs", "2", "--formats", "html"])
    return EdgeRun(cut_dir, output, output / STUDY / str(CUT_DATE), code, stderr)


@pytest.fixture(scope="module")
def results(edge: EdgeRun) -> pd.DataFrame:
    assert edge.exit_code == 0, edge.stderr
    return read_results(edge.run_dir / "results.csv")


@pytest.fixture(scope="module")
def html(edge: EdgeRun) -> str:
    assert edge.exit_code == 0, edge.stderr
    reports = sorted((edge.run_dir / "report").iterdir())
    assert [p.suffix for p in reports] == [".html"]
    return " ".join(reports[0].read_text(encoding="utf-8").split())


def table_cells(edge: EdgeRun, number: str) -> dict[str, str]:
    frame = pd.read_csv(edge.run_dir / "tables" / f"{number}.csv", dtype=str,
                        keep_default_na=False, encoding="utf-8-sig").drop(columns="level")
    return dict(zip(frame.iloc[:, 0], frame.iloc[:, 1]))


def test_patient_transplanted_after_the_cut_is_not_in_fas(edge: EdgeRun,
                                                          results: pd.DataFrame) -> None:
    fas = results.query("endpoint == 'DISP' and subgroup == 'FASFL=Y'").iloc[0]
    assert (fas["estimate"], fas["n"]) == (N - 1, N)
    cells = table_cells(edge, "14.1.1")
    assert cells["Enrolled"] == f"{N} (100.0)"
    assert cells["Transplanted (full analysis set)"] == f"{N - 1} (91.7)"
    assert cells["Not transplanted by the data cut"] == "1 (8.3)"
    assert table_cells(edge, "14.2.1")["Patients, n"] == str(N - 1)
    late = pd.read_csv(edge.cut_dir / "subjects.csv", dtype=str)["USUBJID"].iloc[LATE]
    adtte = pd.read_csv(edge.run_dir / "data" / "adtte.csv", dtype=str)
    assert late not in set(adtte["USUBJID"]) and adtte["USUBJID"].nunique() == N - 1


def test_events_after_the_cut_are_all_censored(edge: EdgeRun, results: pd.DataFrame) -> None:
    adtte = pd.read_csv(edge.run_dir / "data" / "adtte.csv")
    assert (adtte["EVNTTYPE"] == 0).all()
    survival = results.query("subgroup == 'All' and statistic in ['survival', 'cif']")
    assert set(survival["endpoint"]) == {"PFS", "OS", "CIR", "NRM", "GRFS", "AGVHD24",
                                         "AGVHD34", "CGVHD", "CGVHDMS"}
    assert (survival["events"] == 0).all()
    # Follow-up is 264 to 364 days: day 100 is estimable, day 365 and 730 are beyond it.
    day100 = survival[survival["time_days"] == 100].set_index("endpoint")
    for endpoint, row in day100.iterrows():
        assert row["estimate"] == (1.0 if endpoint in ("PFS", "OS", "GRFS") else 0.0), endpoint
        assert row["flag"] == "", endpoint
    later = survival[survival["time_days"] > 364]
    assert len(later) > 0 and later["estimate"].isna().all() and (later["flag"] == "NE").all()
    medians = results.query("subgroup == 'All' and statistic == 'median'")
    assert medians["estimate"].isna().all() and len(medians) == 3


def test_undefined_ci_is_a_dash_with_ci_not_defined_never_ne(edge: EdgeRun, html: str) -> None:
    pfs = table_cells(edge, "14.2.1")
    assert pfs["Day 100, % (95% CI)"] == "100.0 (-)"
    assert pfs["1 year (day 365), % (95% CI)"] == "NE"
    assert pfs["Median, days (95% CI)"] in ("NE", "Not reached")
    assert pfs["Events, n (%)"] == "0"
    relapse_nrm = table_cells(edge, "14.2.5")
    assert relapse_nrm["Day 100, % (95% CI)"] == "0.0 (-)"
    assert table_cells(edge, "14.1.4")["Deaths, n (%)"] == "0"
    assert "CI not defined" in html and "(NE)" not in html
    assert "Table 14.2.1." in html and "Table 14.3.10." in html


@pytest.mark.parametrize("table", ["mrd", "engraftment", "adverse_events"])
def test_report_says_optional_table_was_not_supplied(edge: EdgeRun, html: str,
                                                     table: str) -> None:
    assert not_supplied_sentence(table) in html
    assert not (edge.run_dir / "tables" / {"mrd": "14.2.7.csv", "engraftment": "14.3.5.csv",
                                           "adverse_events": "14.3.6.csv"}[table]).exists()


def test_deaths_table_stands_without_adverse_events(edge: EdgeRun) -> None:
    assert (edge.run_dir / "tables" / "14.3.10.csv").is_file()


def test_invalid_cut_is_refused_listing_every_violation(edge: EdgeRun, tmp_path: Path) -> None:
    assert edge.exit_code == 0, edge.stderr
    cut = Path(shutil.copytree(edge.cut_dir, tmp_path / "cut"))
    subjects = pd.read_csv(cut / "subjects.csv", dtype=str, keep_default_na=False)
    subjects.loc[2, "AGE"] = "150"
    subjects.loc[3, "SEX"] = "X"
    subjects.to_csv(cut / "subjects.csv", index=False, lineterminator="\n")
    relapses = pd.read_csv(cut / "relapses.csv", dtype=str, keep_default_na=False)
    relapses.loc[0, "USUBJID"] = "HB-99-999"
    relapses.loc[1, "RELDT"] = "2024-01-01"  # before the patient's transplant
    relapses.to_csv(cut / "relapses.csv", index=False, lineterminator="\n")
    params = write_params(tmp_path / "params.yml", cut, CUT_DATE, edge.output_dir,
                          study_id=STUDY)
    before = tree(edge.output_dir)

    code, stdout, stderr = run_cli(["run", str(params), "--jobs", "1", "--formats", "html"])

    assert code == 1
    assert "report written" not in stdout and "Traceback" not in stderr
    lines = stderr.splitlines()
    for column, value in (("AGE", "150"), ("SEX", "X"), ("USUBJID", "HB-99-999"),
                          ("RELDT", "2024-01-01")):
        assert any(f" {column} = '{value}'" in line for line in lines), (column, stderr)
    assert "subjects.csv (2)" in stderr and "relapses.csv (2)" in stderr
    assert "4 violation(s) in 2 table(s)" in stderr
    assert tree(edge.output_dir) == before


@pytest.mark.parametrize("cut_kind", ["nobody transplanted", "no subjects"])
def test_cut_with_an_empty_full_analysis_set_gives_a_report_saying_so(
        tmp_path: Path, cut_kind: str) -> None:
    frames = edge_frames()
    if cut_kind == "no subjects":
        frames = {name: frame.iloc[:0] for name, frame in frames.items()}
    else:
        frames["subjects"]["HSCTDT"] = pd.NaT
        frames = {**{name: frame.iloc[:0] for name, frame in frames.items()},
                  "subjects": frames["subjects"]}
    cut_dir = write_cut(frames, tmp_path / "cut")
    params = write_params(tmp_path / "params.yml", cut_dir, CUT_DATE, tmp_path / "output",
                          study_id=STUDY)
    params.write_text(params.read_text(encoding="utf-8").replace(  # issue 12: HTML injection
        "End-to-end test study", "'<script>alert(1)</script> & <b>study</b>'"), encoding="utf-8")

    code, stdout, stderr = run_cli(["run", str(params), "--jobs", "2", "--formats", "html"])

    assert code == 0, stderr
    assert "no patient in the full analysis set" in stderr
    run_dir = tmp_path / "output" / STUDY / str(CUT_DATE)
    html = " ".join((run_dir / "report" / f"{STUDY}_{CUT_DATE}.html").read_text(
        encoding="utf-8").split())
    assert "No patient is in the full analysis set at this data cut" in html
    assert "<script>alert(1)" not in html and "<b>study" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;study&lt;/b&gt;" in html
    results = read_results(run_dir / "results.csv")
    counts = results.set_index("subgroup")["estimate"]
    enrolled = 0 if cut_kind == "no subjects" else N
    assert (counts["ENRLFL=Y"], counts["FASFL=Y"]) == (enrolled, 0)
    assert not (run_dir / "notebooks").exists()
    # its disposition rows come from the derived data: the next run validates and derives again
    assert json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))["derivation"] == {}

"""One real run of the suite (real notebooks, real report in HTML, DOCX and PDF), made once per
test session through the command line and shared by the end-to-end and privacy tests."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from haplo_report import cli
from haplo_report.data.simulate import simulate_cut

REAL_CUT_DATE = dt.date(2026, 6, 30)
REAL_STUDY = "E2E-TEST"
# An extra, non-people-identifying column the data-cut spec allows and ignores: a screening
# number. It identifies patients, so it must never reach the report (only USUBJID may).
SCREENING_COLUMN = "SCRNUM"
# Issue 28: free text that collides with result keys or is markup, a formula or RTF in every
# output, a patient identifier holding mathtext and HTML, subtypes typed "Missing" beside
# missing ones, and report parameters holding a link, HTML and a comment. The run must finish
# and every output show them as typed (tests/test_hostile_text.py).
HOSTILE_PT = "Nausea;AESER=Y"
MARKUP_PT = "&lt;b&gt; <!-- c --> _i_ &amp; -- -@x $x$ \\trowd \\row \\cell }{"
HOSTILE_SOC = "Infections;PT=Sepsis"
FORMULA_TERM = '=HYPERLINK("http://example.org","x")'
HOSTILE_ID = "$\\nu$<i>"  # no wider than the other identifiers: listings keep their layout
HOSTILE_SPONSOR = "[click](file:///etc/passwd) <b>Sponsor</b> & Co -- @x"
HOSTILE_CONFIDENTIALITY = "<!-- c --> _Confidential_ &amp; $x$"


@dataclass(frozen=True)
class RealRun:
    """A finished ``haplo-report run`` of a simulated cut, with what the command printed."""

    cut_dir: Path
    params_file: Path
    output_dir: Path
    run_dir: Path
    exit_code: int
    stdout: str
    stderr: str


def write_cut(frames: dict[str, pd.DataFrame], folder: Path) -> Path:
    """Write a cut's frames as the spec's CSV files (ISO dates, empty cells for missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        frame.to_csv(folder / f"{name}.csv", index=False, date_format="%Y-%m-%d",
                     float_format="%.6g", lineterminator="\n")
    return folder


def write_params(path: Path, data_dir: Path, data_cut_date: dt.date, output_dir: Path,
                 study_id: str = REAL_STUDY, extra: dict[str, str] | None = None) -> Path:
    """A parameter file for one cut (SAP defaults for everything else, ``extra`` added)."""
    lines = "".join(f"{name}: {json.dumps(value)}\n" for name, value in (extra or {}).items())
    path.write_text(f"study_id: {study_id}\nstudy_title: End-to-end test study\n"
                    f"data_dir: {data_dir}\ndata_cut_date: \"{data_cut_date}\"\n"
                    f"output_dir: {output_dir}\n{lines}", encoding="utf-8")
    return path


def hostile(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """A simulated cut with the hostile free text of :data:`HOSTILE_PT` and its neighbours."""
    events = frames["adverse_events"].copy()
    nausea = events.index[events["AEDECOD"] == "Nausea"]
    patients = list(dict.fromkeys(events.loc[nausea, "USUBJID"]))
    renamed = nausea[events.loc[nausea, "USUBJID"].isin(patients[len(patients) // 2:])]
    events.loc[renamed, ["AEDECOD", "AETERM"]] = [HOSTILE_PT, FORMULA_TERM]
    diarrhoea = events["AEDECOD"] == "Diarrhoea"
    events.loc[diarrhoea, ["AEDECOD", "AETERM"]] = MARKUP_PT
    events.loc[events["AEDECOD"] == "Pneumonia", "AEBODSYS"] = HOSTILE_SOC
    subjects = frames["subjects"].copy()
    like = subjects.index[subjects["SUBTYPE"] == "Ph-like B-ALL"]
    subjects.loc[like[:3], "SUBTYPE"] = "Missing"
    subjects.loc[like[3:], "SUBTYPE"] = pd.NA
    out = {**frames, "adverse_events": events, "subjects": subjects}
    first = subjects["USUBJID"].iloc[1]
    return {name: frame.replace({"USUBJID": {first: HOSTILE_ID}}) for name, frame in out.items()}


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``haplo-report`` in this process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="session")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> RealRun:
    """``haplo-report run`` on 40 simulated patients (seed 11) into a fresh output folder."""
    root = tmp_path_factory.mktemp("real_run")
    frames = hostile(simulate_cut(40, seed=11))
    subjects = frames["subjects"]
    frames["subjects"] = subjects.assign(**{
        SCREENING_COLUMN: [f"SCR{9100 + i}X" for i in range(len(subjects))]})
    cut_dir = write_cut(frames, root / "cut")
    output_dir = root / "output"
    params_file = write_params(root / "params.yml", cut_dir, REAL_CUT_DATE, output_dir,
                               extra={"sponsor": HOSTILE_SPONSOR,
                                      "confidentiality": HOSTILE_CONFIDENTIALITY})
    code, stdout, stderr = run_cli(["run", str(params_file), "--jobs", "2"])
    return RealRun(cut_dir, params_file, output_dir,
                   output_dir / REAL_STUDY / str(REAL_CUT_DATE), code, stdout, stderr)

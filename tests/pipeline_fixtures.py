"""Fake notebooks and one good run of them, shared by the pipeline, manifest and fault tests.

The good run executes two tiny notebooks once per test session (two kernel starts); each test
gets its own copy of the output folder, so the run it makes finds that report as "previous".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import pytest

from haplo_report import run as pipeline
from haplo_report.run.manifest import sha256_file
from haplo_report.params import Params
from haplo_report.plan import NotebookSpec

FIXTURES = Path(__file__).parent / "fixtures"
NOTEBOOKS_DIR = FIXTURES / "notebooks"
VALID_CUT = FIXTURES / "valid_cut"
CUT = dt.date(2026, 6, 30)

ALPHA = NotebookSpec("01_alpha", "Alpha", "14.1", endpoints=("OS",))
BETA = NotebookSpec("02_beta", "Beta", "14.2", params=("mrd_threshold",), datasets=("admrd",))
FAIL = NotebookSpec("03_fail", "Fail", "14.3")  # raises in its second code cell
DIE = NotebookSpec("04_die", "Die", "14.3")  # its kernel exits in the middle of a cell
STALL = NotebookSpec("05_stall", "Stall", "14.3")  # sleeps for 10 minutes in a cell
SPECS = (ALPHA, BETA)


def make_params(output_dir: Path, **changes: object) -> Params:
    params = Params("TEST", "Test study", VALID_CUT.resolve(), CUT, output_dir=output_dir)
    return dataclasses.replace(params, **changes)


def run_fake(params: Params, specs: tuple[NotebookSpec, ...] = SPECS, **kwargs: object
             ) -> pipeline.RunResult:
    kwargs = {"jobs": 2, **kwargs}
    return pipeline.run(params, notebooks=specs, notebooks_dir=NOTEBOOKS_DIR, render=False,
                        **kwargs)


def tree_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` by relative path."""
    return {p.relative_to(folder).as_posix(): sha256_file(p)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def good_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pipeline.RunResult]:
    """Output folder of one good run of ALPHA and BETA (render skipped)."""
    output = tmp_path_factory.mktemp("good") / "output"
    return output, run_fake(make_params(output))


@pytest.fixture
def previous(good_run: tuple[Path, pipeline.RunResult], tmp_path: Path) -> Path:
    """A private copy of the good run's output folder."""
    output = tmp_path / "output"
    shutil.copytree(good_run[0], output)
    return output

"""The kernel pool: one client per kernel, complete output under load, nothing left open."""

from __future__ import annotations

import gc
import subprocess
import sys
import warnings
from pathlib import Path

import nbformat
import psutil

from haplo_report.paths import MANIFEST, RunFolders
from haplo_report.plan import NotebookSpec
from haplo_report.run.cache import NotebookJob
from haplo_report.run.execute import execute_one
from haplo_report.run.kernels import KernelPool, cold_run_kernels

LINES = 20_000


def _notebook(folder: Path, name: str, *sources: str) -> NotebookJob:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, path)
    return NotebookJob(NotebookSpec(name, name.title(), "14.1"), path, {}, "key", {})


def _stream_text(path: Path) -> str:
    notebook = nbformat.read(path, as_version=4)
    return "".join(output.get("text", "") for cell in notebook.cells
                   for output in cell.get("outputs", []) if output.output_type == "stream")


def test_every_line_printed_arrives_while_the_machine_is_busy(tmp_path):
    gc.collect()  # what earlier tests left, so that only this pool's leftovers could warn below
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(3)]
    build = tmp_path / "build"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        try:
            pool = KernelPool(1, warm_up="")
            jobs = [_notebook(tmp_path / "src", "busy", f"for i in range({LINES}):\n"
                              "    print(f'line {i}')"),
                    _notebook(tmp_path / "src", "again", "print('second notebook, same kernel')")]
            entries = [pool.submit(execute_one, job, build, {}, 600.0).result() for job in jobs]
            pool.close(keep_logs=build / ".work" / "logs")
        finally:
            for burner in burners:
                burner.kill()
                burner.wait()
        del pool
        gc.collect()
    assert [entry["status"] for entry in entries] == ["executed", "executed"]
    lines = _stream_text(build / "notebooks" / "busy.ipynb").splitlines()
    assert lines == [f"line {i}" for i in range(LINES)]
    assert _stream_text(build / "notebooks" / "again.ipynb") == "second notebook, same kernel\n"
    assert len(list((build / ".work" / "logs").glob("kernel-*.log"))) == 1  # one kernel for both
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_a_failed_notebook_gets_a_new_kernel_and_none_is_left_running(tmp_path):
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    build = tmp_path / "build"
    pool = KernelPool(1, warm_up="")
    try:
        fail = _notebook(tmp_path / "src", "fail", "x = 1", "raise ValueError('no')")
        after = _notebook(tmp_path / "src", "after", "print('x' in dir())")
        failed = pool.submit(execute_one, fail, build, {}, 600.0).result()
        fine = pool.submit(execute_one, after, build, {}, 600.0).result()
    finally:
        pool.close(keep_logs=build / ".work" / "logs")
    assert failed["status"] == "failed" and "ValueError: no" in failed["error"]
    assert fine["status"] == "executed"
    assert _stream_text(build / "notebooks" / "after.ipynb") == "False\n"
    assert len(list((build / ".work" / "logs").glob("kernel-*.log"))) == 2
    assert {p.pid for p in psutil.Process().children(recursive=True)} - before == set()


def test_a_cold_run_starts_its_kernels_before_importing_the_suite_and_an_up_to_date_one_none(
        tmp_path):
    folders = RunFolders.of(tmp_path, "TEST", "2026-06-30")
    pool = cold_run_kernels(folders, force=False, workers=2)  # no report yet: cold
    try:
        assert pool is not None and pool.workers == 2
    finally:
        pool.close()
    folders.final.mkdir(parents=True)
    (folders.final / MANIFEST).write_text("{}")
    assert cold_run_kernels(folders, force=False, workers=2) is None  # may be up to date
    forced = cold_run_kernels(folders, force=True, workers=1)
    try:
        assert forced is not None and forced.workers == 1
    finally:
        forced.close()
    assert cold_run_kernels(folders, force=True, workers=0) is None  # nothing to execute
    # what `haplo-report run` imports before starting them or finding its report up to date:
    # not pandas, pandera or the rest of the suite
    code = ("import sys, haplo_report.cli, haplo_report.run.kernels, haplo_report.plan,"
            " haplo_report.run.fast_path;"
            "print(sorted(m for m in ('pandas', 'pandera', 'matplotlib', 'haplo_report.run.build')"
            " if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "[]"

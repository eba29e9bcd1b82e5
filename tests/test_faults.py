"""Faults of a run: each leaves the previous report folder byte-for-byte as it was."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from filelock import FileLock

from haplo_report import run as pipeline
from haplo_report.run import collect, execute, folder
from haplo_report.paths import RunFolders
from pipeline_fixtures import (ALPHA, BETA, DIE, FAIL, NOTEBOOKS_DIR, SPECS, STALL,  # noqa: F401
                               good_run, make_params, previous, run_fake, tree_hashes)

RUN = Path("TEST") / "2026-06-30"


def _folders(output: Path) -> RunFolders:
    return RunFolders.of(output, "TEST", "2026-06-30")


def test_notebook_raising_keeps_failed_build_and_previous_report(previous):
    before = tree_hashes(previous / RUN)
    with pytest.raises(pipeline.RunFailed) as caught:
        run_fake(make_params(previous), (*SPECS, FAIL))
    message = str(caught.value)
    # parameters In [1], injected In [2], "x = 1" In [3], the raise In [4]
    assert "notebook 03_fail failed in cell In [4]: ValueError: deliberate failure" in message
    folders = _folders(previous)
    assert str(folders.failed) in message
    assert tree_hashes(previous / RUN) == before
    assert not folders.build.exists()
    kept = nbformat.read(folders.failed / "notebooks" / "03_fail.ipynb", as_version=4)
    errors = [o for c in kept.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.output_type == "error"]
    assert errors and errors[0].ename == "ValueError"
    assert (folders.failed / "manifest.json").is_file()


def test_dead_kernel_is_a_failed_notebook(previous):
    before = tree_hashes(previous / RUN)
    with pytest.raises(pipeline.RunFailed, match="notebook 04_die: its kernel died"):
        run_fake(make_params(previous), (ALPHA, DIE))
    assert tree_hashes(previous / RUN) == before
    assert (_folders(previous).failed / "notebooks" / "04_die.ipynb").is_file()


def test_failure_with_notebooks_still_waiting_ends_the_run_and_releases_the_lock(previous):
    # One worker, the failing notebook first: the two others were queued when it failed
    # (cancelled queued futures used to leave the run waiting for ever, holding the lock).
    before = tree_hashes(previous / RUN)
    with pytest.raises(pipeline.RunFailed, match="notebook 03_fail failed"):
        run_fake(make_params(previous), (FAIL, ALPHA, BETA), jobs=1, force=True)
    folders = _folders(previous)
    assert tree_hashes(previous / RUN) == before
    assert sorted(p.name for p in (folders.failed / "notebooks").glob("*.ipynb")) == [
        "03_fail.ipynb"]  # nothing started after the failure
    FileLock(folders.lock, timeout=0).acquire()  # released


def test_hung_notebook_is_stopped_as_stalled(previous):
    before = tree_hashes(previous / RUN)
    with pytest.raises(pipeline.RunFailed,
                       match=r"notebook 05_stall stalled: a cell ran longer than 3 s"):
        run_fake(make_params(previous), (ALPHA, STALL, BETA), stall_timeout=3, force=True)
    folders = _folders(previous)
    assert tree_hashes(previous / RUN) == before
    assert (folders.failed / "notebooks" / "05_stall.ipynb").is_file()
    FileLock(folders.lock, timeout=0).acquire()  # released


def test_read_only_output_with_an_up_to_date_report(previous, monkeypatch):
    # Root ignores file modes, so the read-only file system is what the lock file meets.
    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self.lock_file))

    before = tree_hashes(previous / RUN)
    monkeypatch.setattr(FileLock, "acquire", read_only)
    assert run_fake(make_params(previous)).up_to_date
    with pytest.raises(pipeline.RunFailed, match=r"^output folder not writable: .*Read-only"):
        run_fake(make_params(previous, mrd_threshold=2e-4))  # changed: needs a new report
    assert tree_hashes(previous / RUN) == before


def test_keyboard_interrupt_removes_build_and_keeps_previous(previous, monkeypatch):
    before = tree_hashes(previous / RUN)

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(execute, "execute_one", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_fake(make_params(previous), force=True)
    folders = _folders(previous)
    assert tree_hashes(previous / RUN) == before
    assert not folders.build.exists() and not folders.failed.exists()
    FileLock(folders.lock, timeout=0).acquire()  # released


def test_disk_full_is_one_clear_message(previous, monkeypatch):
    before = tree_hashes(previous / RUN)

    def full(rows, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(collect, "write_results", full)
    with pytest.raises(pipeline.RunFailed, match=r"^disk full while writing .*results\.csv"):
        run_fake(make_params(previous), force=True)  # else up to date
    assert tree_hashes(previous / RUN) == before
    assert not _folders(previous).build.exists()


def test_output_folder_not_writable(tmp_path):
    blocked = tmp_path / "output"
    blocked.write_text("a file where the output folder should be")
    with pytest.raises(pipeline.RunFailed) as caught:
        run_fake(make_params(blocked), (ALPHA,))
    assert str(caught.value).startswith(f"output folder not writable: {blocked}")
    assert "\n" not in str(caught.value)


def test_second_run_of_the_same_cut_is_refused_naming_the_holder(previous):
    before = tree_hashes(previous / RUN)
    with folder.cut_lock(_folders(previous)):
        with pytest.raises(pipeline.RunFailed, match=rf"in progress \(pid {os.getpid()} on "):
            run_fake(make_params(previous))
    assert tree_hashes(previous / RUN) == before


def test_lock_of_a_killed_run_does_not_block(previous):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\nfrom haplo_report.run.folder import cut_lock\n"
         "from haplo_report.paths import RunFolders\n"
         f"with cut_lock(RunFolders.of({str(previous)!r}, 'TEST', '2026-06-30')):\n"
         "    print('locked', flush=True)\n    time.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(pipeline.RunFailed, match=rf"pid {holder.pid} on "):
            run_fake(make_params(previous))
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert run_fake(make_params(previous)).up_to_date


@pytest.mark.parametrize("crash", ["between renames", "after renames"])
def test_crash_during_the_swap_is_recovered(previous, crash):
    folders = _folders(previous)
    before = tree_hashes(folders.final)
    if crash == "between renames":  # report moved aside, the new one not yet in
        folders.final.rename(folders.previous)
    else:  # new report in, the old one not yet deleted
        shutil.copytree(folders.final, folders.previous)
    folders.build.mkdir()  # and a half-written build
    assert run_fake(make_params(previous)).up_to_date
    assert tree_hashes(folders.final) == before
    assert not folders.previous.exists() and not folders.build.exists()


def test_a_refused_render_keeps_the_failed_build_and_the_previous_report(previous, monkeypatch):
    from haplo_report.render import RenderError
    from haplo_report.run import build, fast_path

    def refused(run_dir, formats, *, renderer):
        (run_dir / "report").mkdir()
        (run_dir / "report" / "TEST_2026-06-30.html").write_text("<img src='figures/1.png'>")
        raise RenderError("Quarto's output refused: the HTML report is not self-contained: 1 "
                          "reference(s) to files outside it (first: figures/1.png)")

    monkeypatch.setattr(fast_path, "choose_renderer", lambda renderer="auto": "quarto")
    monkeypatch.setattr(build, "render_report", refused)
    before = tree_hashes(previous / RUN)
    with pytest.raises(pipeline.RunFailed) as caught:
        pipeline.run(make_params(previous), notebooks=SPECS, notebooks_dir=NOTEBOOKS_DIR,
                     formats=("html",), jobs=2)
    folders = _folders(previous)
    assert str(caught.value).splitlines() == [
        "rendering the report failed: Quarto's output refused: the HTML report is not "
        "self-contained: 1 reference(s) to files outside it (first: figures/1.png)",
        f"the failed build is kept in {folders.failed}; the previous report is unchanged"]
    assert tree_hashes(previous / RUN) == before
    assert not folders.build.exists()
    assert (folders.failed / "report" / "TEST_2026-06-30.html").is_file()

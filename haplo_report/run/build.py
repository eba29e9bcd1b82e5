"""``haplo-report run``: validate, derive, execute the notebooks (parallel, cached), collect,
render, write the manifest and swap the new report folder into place.

The story of one run; each step lives in its own module of :mod:`haplo_report.run`.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import threading
import time
from pathlib import Path
from typing import Any, TextIO

import haplo_report
from haplo_report import plan
from haplo_report.analysis.comparison import summary_lines
from haplo_report.analysis.derive import Derived, derive_cut
from haplo_report.analysis.results import ResultRow
from haplo_report.analysis.summaries import disposition_summary
from haplo_report.data.cut import Cut, write_tables
from haplo_report.data.readers import find_tables
from haplo_report.data.validation import InvalidCutError, validate_cut
from haplo_report.outputs.standards import StandardOutputError, write_standard_outputs
from haplo_report.params import Params, ParamsError
from haplo_report.paths import NOTEBOOKS_DIR, RunFolders
from haplo_report.plan import NotebookSpec
from haplo_report.render import FORMATS, RenderError, render_report
from haplo_report.run import cache, fast_path
from haplo_report.run.cache import NotebookJob
from haplo_report.run.comparison import write_comparison
from haplo_report.run.collect import collect_results, validation_record, write_data
from haplo_report.run.errors import NotebookFailed, RunFailed
from haplo_report.run.execute import execute_all
from haplo_report.run.fast_path import RunResult, RunStart
from haplo_report.run.html_copies import HtmlCopies
from haplo_report.run.folder import (cut_lock, fail_keeping_build, os_error_message, recover,
                                     remove_tree, swap_into_place)
from haplo_report.run.kernels import KernelPool, release_memory
from haplo_report.run.manifest import (MANIFEST, build_manifest, git_state, input_records,
                                       read_manifest, without_timing, write_manifest)
from haplo_report.run.progress import Progress

# The independent check (lifelines): imported only by a run that gets this far, so that
# validate, simulate and an up-to-date run do not pay for its import.
QC_MODULE = "haplo_report.analysis.qc"


def run(params: Params, *, jobs: int | None = None, force: bool = False,
        formats: tuple[str, ...] = FORMATS, notebooks: tuple[NotebookSpec, ...] = plan.NOTEBOOKS,
        notebooks_dir: Path = NOTEBOOKS_DIR, render: bool = True,
        stream: TextIO | None = None, stall_timeout: float = plan.STALL_TIMEOUT_S,
        compare_to: str | None = None, begun: RunStart | None = None,
        renderer: str = "auto") -> RunResult:
    """Build the report of ``params``' cut into ``OUTPUT/<study_id>/<data_cut_date>/``.

    Raises :class:`ParamsError` for bad ``jobs``, ``formats`` or ``stall_timeout`` before any
    work; :class:`RunFailed` (invalid data, a failed or stalled notebook, disk full, locked,
    not writable); on ``KeyboardInterrupt`` the build is removed and the interrupt re-raised.
    A cut whose full analysis set is empty (nobody transplanted by the cut, or no subjects)
    executes no notebook: its report shows the analysis sets and says so. ``begun``: the
    run's start (:func:`fast_path.begin`) when the caller has found the report not up to
    date; its kernels are used and closed by this run. ``renderer``: auto (Quarto when on
    PATH, else Pandoc + Typst), quarto or pandoc; ParamsError when unknown or not installed.
    """
    try:
        return _run(params, jobs=jobs, force=force, formats=formats, notebooks=notebooks,
                    notebooks_dir=notebooks_dir, render=render, stream=stream,
                    stall_timeout=stall_timeout, compare_to=compare_to, begun=begun,
                    renderer=renderer)
    finally:
        if begun is not None and begun.kernels is not None:
            begun.kernels.close()  # at once on any failure; after the notebooks, already closed


def _run(params: Params, *, jobs: int | None, force: bool, formats: tuple[str, ...],
         notebooks: tuple[NotebookSpec, ...], notebooks_dir: Path, render: bool,
         stream: TextIO | None, stall_timeout: float, compare_to: str | None,
         begun: RunStart | None, renderer: str) -> RunResult:
    """:func:`run`, the caller's ``begun`` closed by the caller."""
    jobs = (os.cpu_count() or 1) if jobs is None else jobs
    plan.check_run_options(jobs, tuple(formats), stall_timeout)
    missing = [spec.name for spec in notebooks
               if not (Path(notebooks_dir) / f"{spec.name}.ipynb").is_file()]
    if missing:
        raise RunFailed(f"notebook(s) not found in {notebooks_dir}: {', '.join(missing)}")
    if begun is None:
        result, begun = fast_path.begin(params, jobs=jobs, force=force, formats=tuple(formats),
                                        notebooks=tuple(notebooks),
                                        notebooks_dir=Path(notebooks_dir), render=render,
                                        compare_to=compare_to, stream=stream,
                                        renderer=renderer)
        if result is not None:
            return result
    kernels = begun.kernels  # importing the suite while this process validates and derives
    try:
        return _validate_and_build(params, begun.folders, begun.compare_with, kernels,
                                   begun.key, cache.derivation_key(params, begun.data),
                                   jobs=jobs, force=force, formats=tuple(formats),
                                   notebooks=notebooks, notebooks_dir=Path(notebooks_dir),
                                   renderer=begun.renderer,
                                   progress=Progress(len(notebooks), stream), stream=stream,
                                   stall_timeout=stall_timeout)
    finally:
        kernels.close()  # at once on any failure; after the notebooks, already closed


def _validate_and_build(params: Params, folders: RunFolders, compare_with: Path | None,
                        kernels: KernelPool, key: str | None, derivation_key: str | None, *,
                        jobs: int, force: bool, formats: tuple[str, ...],
                        notebooks: tuple[NotebookSpec, ...], notebooks_dir: Path,
                        renderer: str | None, progress: Progress, stream: TextIO | None,
                        stall_timeout: float) -> RunResult:
    """Validate, derive, write the derived data and build (:func:`run` after its fast path);
    when the previous good run had the same ``derivation_key`` (:func:`cache.derivation_key`)
    its validation record, input tables and derived data are taken over instead."""
    timings: dict[str, float] = {}
    # the run's date, printed on the report's title page and footer (only the report shows it)
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    previous = None if force else read_manifest(folders.final / MANIFEST)
    ready = None
    if cache.derivation_record(previous, derivation_key, notebooks) is None:
        ready = _validate_and_derive(params, timings)
    with cut_lock(folders):
        recover(folders)
        try:
            folders.build.mkdir(parents=True)
            began = time.monotonic()
            if ready is None:  # checked again under the lock, with the files' hashes
                record = cache.take_over_derivation(read_manifest(folders.final / MANIFEST),
                                                    derivation_key, notebooks, folders.final,
                                                    folders.build)
                if record is not None:
                    progress.say("validation and derivation unchanged since the last run: "
                                 "taken over")
                    timings["derivation_taken_over"] = time.monotonic() - began
                    planned = [cache.notebook_job(spec, params,
                                                  cache.recorded_data(spec, record["digests"]),
                                                  notebooks_dir) for spec in notebooks]
                    inputs = [*find_tables(params.data_dir)[0].values(),
                              *params.files]
                    derivation = {"key": derivation_key, "digests": record["digests"],
                                  "files": record["files"]}
                    adam = cache.take_over_adam(read_manifest(folders.final / MANIFEST),
                                                params, folders.final, folders.build)
                    return _build(params, planned, inputs, folders, compare_with, kernels,
                                  jobs=jobs, force=force, formats=formats, renderer=renderer,
                                  progress=progress, timings=timings, run_key=key or "",
                                  derivation=derivation, rows=[],
                                  stall_timeout=stall_timeout, started=started,
                                  adam_taken_over=adam)
                # the previous run's files changed since they were looked at: the full path
                ready = _validate_and_derive(params, timings)
            cut, derived = ready
            rows: list[ResultRow] = []
            empty = not derived.adsl["FASFL"].eq("Y").any()
            if empty:  # nothing to analyse: no notebook runs
                notebooks, rows = (), disposition_summary(derived.adsl, params.ltfu_days)
                progress = Progress(0, stream)
                progress.say("no patient in the full analysis set (nobody transplanted on or "
                             "before the data cut): the report shows the analysis sets only")
            validation = validation_record(cut)
            inputs = [*cut.files.values(), *params.files]
            began = time.monotonic()
            write_tables(cut, folders.build / "data" / "input")
            # At 100,000 patients dropping the input tables frees ~300 MB before the derived
            # data are written (by this process and a fork of it).
            del cut, ready
            release_memory()
            known: dict[str, str] = {}
            planned = write_data(params, validation, derived, folders.build,
                                 tuple(notebooks), Path(notebooks_dir), known)
            # The kernels read the written data: at 100,000 patients this frees ~700 MB
            # before they start.
            del derived
            release_memory()
            # what the next run may take over (not a cut with nobody to analyse: its
            # disposition rows are made from the derived data)
            derivation = {} if empty or derivation_key is None else {
                "key": derivation_key, "digests": known,
                "files": [path.relative_to(folders.build).as_posix()
                          for path in sorted(folders.build.rglob("*")) if path.is_file()]}
            timings["derived_data_and_keys"] = time.monotonic() - began
            return _build(params, planned, inputs, folders, compare_with, kernels, jobs=jobs,
                          force=force, formats=formats, renderer=renderer, progress=progress,
                          timings=timings, run_key=key or "", derivation=derivation,
                          rows=rows, stall_timeout=stall_timeout, started=started)
        except KeyboardInterrupt:
            progress.close()
            remove_tree(folders.build)
            raise
        except OSError as exc:
            progress.close()
            remove_tree(folders.build)
            raise RunFailed(os_error_message(exc, folders)) from None
        except (RunFailed, ParamsError):  # a failed build was moved aside already
            progress.close()
            remove_tree(folders.build)
            raise


def _validate_and_derive(params: Params, timings: dict[str, float]) -> tuple[Cut, Derived]:
    """The validated cut and its derived data; ``timings`` gets the two stages."""
    began = time.monotonic()
    try:
        cut = validate_cut(params.data_dir, params.data_cut_date)
    except InvalidCutError as exc:
        raise RunFailed(exc.format()) from None
    timings["validation"] = time.monotonic() - began
    began = time.monotonic()
    try:
        derived = derive_cut(cut, params)
    except ValueError as exc:
        raise RunFailed(str(exc)) from None
    timings["derivation"] = time.monotonic() - began
    return cut, derived


def _build(params: Params, planned: list[NotebookJob], inputs: list[Path], folders: RunFolders,
           compare_with: Path | None, kernels: KernelPool,
           *, jobs: int, force: bool, formats: tuple[str, ...], renderer: str | None,
           progress: Progress, timings: dict[str, float], run_key: str,
           derivation: dict[str, Any], rows: list[ResultRow], stall_timeout: float,
           started: str = "", adam_taken_over: bool = False) -> RunResult:
    """Execute or take over ``planned``, collect, render and swap the build (holding data
    written by :func:`write_data`) into place; ``timings`` (seconds by stage) gets the
    stages of this step; ``run_key`` (:func:`cache.run_key`) goes into the manifest for the next
    run's fast path, ``derivation`` (key, digests, files; empty: not to be taken over) for the
    next run's take-over of validation and derivation; ``rows`` are result rows made by the
    run itself (empty analysis set); ``adam_taken_over``: ``data/adam/`` is in the build
    already (:func:`cache.take_over_adam`)."""
    build = folders.build
    previous = None if force else read_manifest(folders.final / MANIFEST)
    began = time.monotonic()
    git = git_state()
    records = input_records(params, inputs)
    run_id = (run_key or cache.sha256_json(params.to_dict()))[:16]
    run_metadata = {"run_id": run_id, "suite_version": haplo_report.__version__,
                    "git_commit": git.get("commit"), "git_clean": git.get("clean"),
                    "input_sha256": cache.sha256_json(records),
                    "data_cut_date": str(params.data_cut_date)}

    entries: dict[str, dict[str, Any]] = {}
    todo = []
    for job in planned:
        outputs = cache.take_over(job, previous, folders.final, build)
        if outputs is None:
            todo.append(job)
        else:
            entries[job.name] = {"status": "cached", "start": None, "duration_s": 0.0,
                                 "cache_key": job.key, "outputs": outputs}
            progress.finish(job.name, "cached")
    if todo:  # lifelines (and scipy.stats) take ~1.2 s to import: done while the kernels work
        # (not a daemon: a run that stops early waits for the import to finish before exiting)
        threading.Thread(target=importlib.import_module, args=(QC_MODULE,)).start()
    executed, failures = execute_all(todo, build, jobs, progress, run_metadata,
                                     stall_timeout, kernels)
    timings["notebooks"] = time.monotonic() - began
    # written while the run collects and renders; waited for before the final manifest
    copies = HtmlCopies([build / "notebooks" / f"{name}.ipynb" for name, entry in executed.items()
                         if f"notebooks/{name}.ipynb" in entry["outputs"]])
    try:
        return _finish(params, planned, inputs, folders, compare_with, entries, executed,
                       failures, copies, todo=todo, previous=previous, git=git, records=records,
                       run_id=run_id, formats=formats, renderer=renderer, progress=progress,
                       timings=timings, run_key=run_key, derivation=derivation, rows=rows,
                       started=started, adam_taken_over=adam_taken_over)
    finally:
        copies.join()  # an interrupted or failed run removes or keeps the build: not while written


def _finish(params: Params, planned: list[NotebookJob], inputs: list[Path], folders: RunFolders,
            compare_with: Path | None, entries: dict[str, dict[str, Any]],
            executed: dict[str, dict[str, Any]], failures: list[str], copies: HtmlCopies,
            *, todo: list[NotebookJob], previous: dict[str, Any] | None, git: dict[str, Any],
            records: Any, run_id: str, formats: tuple[str, ...], renderer: str | None,
            progress: Progress, timings: dict[str, float], run_key: str,
            derivation: dict[str, Any], rows: list[ResultRow], started: str,
            adam_taken_over: bool) -> RunResult:
    """Collect, render and swap the build into place once its notebooks have run
    (``copies``: the HTML copies being written, in the build before any manifest lists it)."""
    build = folders.build
    entries.update(executed)
    entries = {job.name: entries[job.name] for job in planned if job.name in entries}

    def manifest(report_key: str) -> dict[str, Any]:
        return build_manifest(params, inputs=inputs, run_dir=build, final=folders.final,
                              notebooks=entries, renderer=renderer, report_key=report_key,
                              run_key=run_key, derivation=derivation,
                              suite=cache.suite_fingerprint(), run_id=run_id,
                              git=git, run_started=started,
                              timings={k: round(v, 3) for k, v in timings.items()})

    if not failures:
        began = time.monotonic()
        try:
            collect_results([job.name for job in planned], build, rows)
            write_standard_outputs(build, study_id=params.study_id,
                                   study_title=params.study_title,
                                   data_cut_date=str(params.data_cut_date),
                                   adam=not adam_taken_over)
        except (NotebookFailed, StandardOutputError) as exc:
            failures.append(str(exc))
        timings["results_and_standard_outputs"] = time.monotonic() - began
    progress.close()
    if not failures:
        began = time.monotonic()
        summary = write_comparison(build, params, compare_with)
        timings["comparison"] = time.monotonic() - began
        progress.say(summary["note"] if "note" in summary
                     else "\n".join(summary_lines(summary)))
    if failures:
        copies.wait()
        write_manifest(manifest(""), build / MANIFEST)
        raise fail_keeping_build(folders, "\n".join(failures))
    remove_tree(build / ".staging")
    remove_tree(build / ".work")

    report_key = cache.report_key(entries, params, formats, renderer, build)
    executed_names = tuple(name for name, e in entries.items() if e["status"] == "executed")
    cached_names = tuple(name for name, e in entries.items() if e["status"] == "cached")
    if previous and not todo and previous.get("report_key") == report_key:
        remove_tree(build)
        update = {"run_key": run_key, "inputs": records, "derivation": derivation}
        if any(previous.get(name) != value for name, value in update.items()):
            # the report stands; the manifest gets this run's keys and inputs so that the
            # next run with nothing changed stops before validating
            write_manifest({**previous, **update}, folders.final / MANIFEST)
        return fast_path.left_as_it_is(folders.final, cached_names, previous.get("renderer"),
                                       progress)
    began = time.monotonic()
    qc = importlib.import_module(QC_MODULE)  # waits for the warm-up import if it is running
    try:
        qc.check_run(build)
    except qc.QCFailed as exc:
        copies.wait()
        write_manifest(manifest(""), build / MANIFEST)
        raise fail_keeping_build(folders, str(exc)) from None
    timings["independent_check"] = time.monotonic() - began
    if renderer is not None:
        # What the report shows of the manifest; the outputs (hashes of every file, the HTML
        # copies still being written among them) are recorded once the report is rendered.
        write_manifest({**without_timing(manifest(report_key)), "outputs": {}},
                       build / MANIFEST)
        progress.say(f"rendering the report ({', '.join(formats)}) with {renderer}")
        began = time.monotonic()
        try:
            render_report(build, formats, renderer=renderer)
        except RenderError as exc:
            copies.join()  # the kept build holds whatever copies were written
            raise fail_keeping_build(folders, f"rendering the report failed: {exc}") from None
        timings["rendering"] = time.monotonic() - began
    copies.wait()
    write_manifest(manifest(report_key), build / MANIFEST)
    swap_into_place(folders)
    return RunResult(folders.final, executed_names, cached_names, renderer, False)

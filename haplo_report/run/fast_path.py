"""A run with nothing to do: its run key equals the last good run's and every output is intact,
so the report folder is left as it is.

Light on purpose (no pandas, no derivation, no renderer imported): ``haplo-report run`` asks
here (:func:`begin`) before it imports the rest of the suite, so a run with nothing changed
costs its hashing, and a run with work to do has its kernels importing meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from filelock import Timeout

from haplo_report.data.run_folder import (MAX_MANIFEST_BYTES, CheckedFolder, RunFolderError,
                                          check_earlier_cut, parse_json)
from haplo_report.params import Params, ParamsError, shown
from haplo_report.paths import MANIFEST, RunFolders, resolve_previous
from haplo_report.plan import NotebookSpec
from haplo_report.render import RenderError, choose_renderer
from haplo_report.run import cache
from haplo_report.run.errors import RunFailed
from haplo_report.run.folder import fast_path_lock, os_error_message, recover
from haplo_report.run.kernels import KernelPool, cold_run_kernels
from haplo_report.run.manifest import read_manifest
from haplo_report.run.progress import Progress


@dataclass(frozen=True)
class RunResult:
    """Where the report is and what this run did."""

    run_dir: Path
    executed: tuple[str, ...]  # notebooks executed by this run
    cached: tuple[str, ...]  # notebooks taken over from the previous run
    renderer: str | None  # None when not rendered
    up_to_date: bool  # nothing changed: the folder was left as it was


@dataclass(frozen=True)
class RunStart:
    """What a run works out before anything else: its folders, the earlier cut it compares
    with, its renderer, the hashes of its data folder, its run key and (:func:`begin`) its
    kernels, already importing the suite."""

    folders: RunFolders
    compare_with: Path | None
    renderer: str | None
    data: dict[str, str] | None  # cache.data_files
    key: str | None  # cache.run_key
    kernels: KernelPool | None = None


def begin(params: Params, *, jobs: int, force: bool, formats: tuple[str, ...],
          notebooks: tuple[NotebookSpec, ...], notebooks_dir: Path, render: bool,
          compare_to: str | None, stream: TextIO | None = None, renderer: str = "auto"
          ) -> tuple[RunResult | None, RunStart | None]:
    """The result of a run with nothing to do, or the run's start with its kernels.

    A cold run (``force``, or no report yet) starts its kernels at once, so that they import
    while the run imports the suite, validates and derives; a run with a report first asks
    whether it is up to date and starts one kernel only when it is not. The kernels are
    closed again when working out the start fails. ``renderer``: auto, quarto or pandoc
    (:func:`start`).
    """
    chosen_renderer(renderer, render)  # a usage error before any kernel starts
    folders = RunFolders.of(params.output_dir, params.study_id, str(params.data_cut_date))
    kernels = cold_run_kernels(folders, force, min(jobs, len(notebooks)))
    try:
        begun = start(params, formats=formats, notebooks=notebooks,
                      notebooks_dir=notebooks_dir, render=render, compare_to=compare_to,
                      renderer=renderer)
        result = (None if force or kernels is not None
                  else if_up_to_date(begun, Progress(len(notebooks), stream)))
    except BaseException:
        if kernels is not None:
            kernels.close()
        raise
    if result is not None:
        return result, None
    return None, replace(begun, kernels=kernels or KernelPool(min(1, len(notebooks))))


def start(params: Params, *, formats: tuple[str, ...], notebooks: tuple[NotebookSpec, ...],
          notebooks_dir: Path, render: bool, compare_to: str | None,
          renderer: str = "auto") -> RunStart:
    """The run's :class:`RunStart`; ParamsError when ``compare_to`` names no run folder, or
    one that ``haplo-report compare`` would refuse (another study, this cut or a later one), or
    ``renderer`` (auto, quarto, pandoc: :func:`choose_renderer`) is unknown or not installed."""
    folders = RunFolders.of(params.output_dir, params.study_id, str(params.data_cut_date))
    compare_with = resolve_previous(compare_to, folders.study_dir, params.data_cut_date)
    if compare_to is not None and compare_with is not None:
        try:
            compare_with = check_earlier_cut(compare_with, params.study_id,
                                             str(params.data_cut_date))
        except RunFolderError as exc:
            raise ParamsError(f"--compare-to {shown(compare_to)}: {exc}") from None
    chosen = chosen_renderer(renderer, render)
    data = cache.data_files(params.data_dir)
    key = cache.run_key(params, data, formats=formats, notebooks=notebooks,
                        notebooks_dir=notebooks_dir, renderer=chosen,
                        compared_with=_identity(compare_with))
    return RunStart(folders, compare_with, chosen, data, key)


def chosen_renderer(renderer: str, render: bool) -> str | None:
    """The renderer a run uses (:func:`choose_renderer`; None when it renders nothing);
    ParamsError when ``renderer`` is unknown, or quarto and Quarto is not on PATH."""
    if not render:
        return None
    try:
        return choose_renderer(renderer)
    except RenderError as exc:
        raise ParamsError(str(exc)) from None


def _identity(run_dir: Path | None) -> dict[str, Any] | None:
    """The earlier run a report compares with, as the run key covers it: its folder and keys
    (a re-run of that cut changes the comparison chapter)."""
    if run_dir is None:
        return None
    try:
        folder = CheckedFolder.at(run_dir)
        manifest = parse_json(folder.read_bytes(MANIFEST, MAX_MANIFEST_BYTES), MANIFEST)
    except RunFolderError:
        manifest = {}
    manifest = manifest if isinstance(manifest, dict) else {}
    return {"folder": str(run_dir.resolve()), "run_key": manifest.get("run_key"),
            "report_key": manifest.get("report_key")}


def if_up_to_date(begun: RunStart, progress: Progress) -> RunResult | None:
    """The result of a run with nothing to do, or None when the report is not up to date (or
    another run holds the cut's lock: the full path then refuses, naming it)."""
    folders = begun.folders
    if begun.key is None or not (folders.final / MANIFEST).is_file():
        return None
    try:  # the lock without writing its holder: an up-to-date run changes no file
        with fast_path_lock(folders):
            recover(folders)  # what a crashed run left beside the report
            return _result(folders, begun.key, progress)
    except Timeout:
        return None
    except OSError as exc:  # read-only output: no run can change it, so no lock is needed
        result = _result(folders, begun.key, progress)
        if result is None:
            raise RunFailed(os_error_message(exc, folders)) from None
        return result


def _result(folders: RunFolders, key: str, progress: Progress) -> RunResult | None:
    previous = read_manifest(folders.final / MANIFEST)
    if not cache.up_to_date(previous, key, folders.final):
        return None
    return left_as_it_is(folders.final, tuple(previous["notebooks"]), previous.get("renderer"),
                         progress)


def left_as_it_is(final: Path, cached: tuple[str, ...], renderer: str | None,
                  progress: Progress) -> RunResult:
    """The result of a run that leaves the report folder ``final`` as it is, said on
    ``progress``."""
    progress.say(f"up to date: nothing changed since the last run; {final} left as it is")
    return RunResult(final, (), cached, renderer, True)

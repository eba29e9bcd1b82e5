"""``haplo-report run``: validate, derive, execute the notebooks (parallel, cached), collect,
render, write the manifest and swap the new report folder into place.

The run of one cut holds a lock for its whole duration. It builds in ``.<cut>.build`` beside
the report folder and swaps it in only when everything succeeded, so the previous report is
never touched by a failed, interrupted or concurrent run (folder names: :mod:`paths`).

Cache: each notebook's key hashes its source, its injected parameters, the derived data it
reads (ADSL, the ADTTE rows of its endpoints, its other datasets) and the suite's code. A
notebook whose key matches the previous good run of the same cut is not executed; its executed
copy and outputs are taken over (checked against the previous manifest's hashes).
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
import re
import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TextIO

import nbformat
import pandas as pd
from filelock import FileLock, Timeout
from jupyter_client import AsyncKernelManager
from jupyter_core.utils import run_sync

import haplo_report
from haplo_report import plan
from haplo_report.cut import Cut
from haplo_report.derive import Derived, derive_cut
from haplo_report.manifest import (MANIFEST, build_manifest, file_record, read_manifest,
                                   sha256_file, without_timing, write_manifest)
from haplo_report.params import Params
from haplo_report.paths import NOTEBOOKS_DIR, RunFolders
from haplo_report.plan import NotebookSpec
from haplo_report.render import FORMATS, RenderError, choose_renderer, render_report
from haplo_report.results import read_results, write_results
from haplo_report.validation import InvalidCutError, validate_cut, write_violations

OK_STATUSES: tuple[str, ...] = ("executed", "cached")
PATH_PARAMS: tuple[str, ...] = ("data_dir", "out_dir")  # injected, but not part of the cache key
# Remote scripts and stylesheets (require.js, MathJax CDNs): auditors' machines are offline.
_REMOTE_SCRIPT = re.compile(r"<script[^>]*\bsrc=[\"'](?:https?:)?//[^\"']*[\"'][^>]*>\s*</script>",
                            re.IGNORECASE)
_REMOTE_LINK = re.compile(r"<link[^>]*\bhref=[\"'](?:https?:)?//[^\"']*[\"'][^>]*>", re.IGNORECASE)
_REMOTE_IMPORT = re.compile(  # inline scripts that import from another host (mermaid)
    r"<script\b[^>]*>(?:(?!</script>).)*?import\(\s*[\"'](?:https?:)?//(?:(?!</script>).)*?</script>",
    re.IGNORECASE | re.DOTALL)


class RunFailed(Exception):
    """The run could not complete; the message is for the user and the previous report stands."""


@dataclass(frozen=True)
class RunResult:
    """Where the report is and what this run did."""

    run_dir: Path
    executed: tuple[str, ...]  # notebooks executed by this run
    cached: tuple[str, ...]  # notebooks taken over from the previous run
    renderer: str | None  # None when not rendered
    up_to_date: bool  # nothing changed: the folder was left as it was


@dataclass(frozen=True)
class NotebookJob:
    """One notebook to execute or take over, with its cache key."""

    spec: NotebookSpec
    source: Path
    parameters: dict[str, Any]  # injected, without the path parameters
    key: str

    @property
    def name(self) -> str:
        return self.spec.name


class NotebookFailed(Exception):
    """A notebook broke the output contract; the message names the notebook and the problem."""


class _ThisInterpreterKernelManager(AsyncKernelManager):
    """Kernel "python3" started with this interpreter in ``cwd``, its output going to ``log``.

    papermill's own ``cwd`` argument changes the working directory of the whole process, which
    races between notebooks executed in parallel threads; here only the kernel gets it.

    A ``python3`` kernelspec found first on the Jupyter path (e.g. in the user's home) may
    point to another Python without this package; jupyter_client only maps a bare "python".
    The kernel's own messages would break the progress line; they are kept for failed builds.
    """

    def __init__(self, *, log: TextIO, cwd: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._log = log
        self._cwd = cwd

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        return [sys.executable, *cmd[1:]]

    async def start_kernel(self, **kw: Any) -> None:
        await super().start_kernel(**{**kw, "stdout": self._log, "stderr": self._log,
                                      "cwd": str(self._cwd)})


# Run silently (no execution count, no output in the notebook) before each notebook, so a
# reused kernel starts the notebook as a fresh one would: in its working folder, no figures,
# no variables, warnings shown again ("once" registries dropped), execution counts from 1.
_FRESH_START = """\
import os, sys, warnings
os.chdir({cwd!r})
if "matplotlib.pyplot" in sys.modules:
    sys.modules["matplotlib.pyplot"].close("all")
_filters = list(warnings.filters)
warnings.resetwarnings()
warnings.filters.extend(_filters)
get_ipython().reset(new_session=True)
{release}
"""


# Freed memory back to the OS (run after dropping large frames, in the run and in each kernel
# before its next notebook). glibc keeps freed blocks of many small Python objects mapped, and
# Arrow's allocator keeps its pool: at 100,000 patients the run would hold ~550 MB it no longer
# uses while the kernels work. Hand-written: neither Python nor pandas returns this memory.
_RELEASE_MEMORY = """\
def _release():
    import ctypes, gc, sys
    gc.collect()
    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass
_release()
del _release
"""


def release_memory() -> None:
    """Return memory freed by dropped frames to the operating system (see above)."""
    exec(_RELEASE_MEMORY, {})  # noqa: S102 - the fixed snippet above, shared with the kernels


class KernelPool:
    """One kernel per worker thread, reused from one notebook to the next.

    Starting a kernel and importing pandas, scipy, matplotlib and the suite takes 2-3 s of CPU,
    more than most notebooks' own work; reusing the kernel (reset by :data:`_FRESH_START`)
    pays it once per worker instead of once per notebook. A kernel whose notebook failed is
    shut down rather than reused. Kernel output goes to ``logs/kernel-<n>.log``.
    """

    def __init__(self, logs: Path) -> None:
        self._logs = logs
        self._local = threading.local()
        self._lock = threading.Lock()
        self._started: list[tuple[_ThisInterpreterKernelManager, TextIO]] = []

    def kernel(self, cwd: Path) -> _ThisInterpreterKernelManager:
        """This thread's kernel, started if needed, freshly reset and working in ``cwd``."""
        km = getattr(self._local, "km", None)
        if km is None or not run_sync(km.is_alive)():
            with self._lock:
                self._logs.mkdir(parents=True, exist_ok=True)
                log = (self._logs / f"kernel-{len(self._started) + 1}.log").open(
                    "w", encoding="utf-8")
                km = _ThisInterpreterKernelManager(kernel_name="python3", log=log, cwd=cwd)
                self._started.append((km, log))
            run_sync(km.start_kernel)()
            self._local.km = km
        client = km.blocking_client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            reply = client.execute_interactive(_FRESH_START.format(cwd=str(cwd), release=_RELEASE_MEMORY), silent=True,
                                               store_history=False, timeout=60)
        finally:
            client.stop_channels()
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"the kernel could not be reset: {reply['content'].get('evalue')}")
        return km

    def discard(self) -> None:
        """Shut down this thread's kernel (after a failure: its state is unknown)."""
        km = getattr(self._local, "km", None)
        self._local.km = None
        if km is not None:
            _shutdown(km)

    def close(self) -> None:
        """Shut down every kernel started and close their logs."""
        for km, log in self._started:
            _shutdown(km)
            log.close()


def _shutdown(km: _ThisInterpreterKernelManager) -> None:
    try:
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=True)
    except RuntimeError:  # already gone
        pass


class Progress:
    """Live progress on stderr: one updating line on a terminal, plain lines otherwise."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.done = 0
        self.running: list[str] = []
        self.started_at = time.monotonic()

    def _elapsed(self) -> str:
        return f"{time.monotonic() - self.started_at:.0f} s"

    def _line(self) -> None:
        running = ", ".join(self.running) or "-"
        self.stream.write(f"\r\033[K[{self.done}/{self.total}] {self._elapsed()}  running: {running}")
        self.stream.flush()

    def say(self, text: str) -> None:
        """A message of its own line."""
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        if self.tty and self.running:
            self._line()
        self.stream.flush()

    def start(self, name: str) -> None:
        self.running.append(name)
        if self.tty:
            self._line()
        else:
            self.say(f"notebook {name}: executing")

    def finish(self, name: str, status: str) -> None:
        if name in self.running:
            self.running.remove(name)
        self.done += 1
        if self.tty:
            self._line()
        else:
            self.say(f"notebook {name}: {status} ({self.done}/{self.total}, {self._elapsed()})")

    def tick(self) -> None:
        """Refresh the elapsed time on a terminal."""
        if self.tty and self.running:
            self._line()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()


def run(params: Params, *, jobs: int | None = None, force: bool = False,
        formats: tuple[str, ...] = FORMATS, notebooks: tuple[NotebookSpec, ...] = plan.NOTEBOOKS,
        notebooks_dir: Path = NOTEBOOKS_DIR, render: bool = True,
        stream: TextIO | None = None) -> RunResult:
    """Build the report of ``params``' cut into ``OUTPUT/<study_id>/<data_cut_date>/``.

    Raises :class:`RunFailed` (invalid data, a failed notebook, disk full, locked, not
    writable); on ``KeyboardInterrupt`` the build is removed and the interrupt re-raised.
    """
    jobs = (os.cpu_count() or 1) if jobs is None else jobs
    if jobs < 1:
        raise RunFailed(f"--jobs must be at least 1, got {jobs}")
    missing = [spec.name for spec in notebooks
               if not (Path(notebooks_dir) / f"{spec.name}.ipynb").is_file()]
    if missing:
        raise RunFailed(f"notebook(s) not found in {notebooks_dir}: {', '.join(missing)}")
    folders = RunFolders.of(params.output_dir, params.study_id, str(params.data_cut_date))
    progress = Progress(len(notebooks), stream)
    renderer = choose_renderer() if render else None
    key = run_key(params, formats=tuple(formats), notebooks=tuple(notebooks),
                  notebooks_dir=Path(notebooks_dir), renderer=renderer)
    if not force and key is not None and (folders.final / MANIFEST).is_file():
        try:  # the lock without writing its holder: an up-to-date run changes no file
            with FileLock(folders.lock, timeout=0):
                _recover(folders)  # what a crashed run left beside the report
                previous = read_manifest(folders.final / MANIFEST)
                if up_to_date(previous, key, folders.final):
                    progress.say(f"up to date: nothing changed since the last run; "
                                 f"{folders.final} left as it is")
                    cached = tuple(name for name in previous["notebooks"])
                    return RunResult(folders.final, (), cached, previous.get("renderer"), True)
        except Timeout:
            pass  # another run holds the lock: the full path below refuses, naming it
    timings: dict[str, float] = {}
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
    validation = validation_record(cut)
    inputs = [*cut.files.values(), *([params.source] if params.source else [])]
    # Only the derived data are written: at 100,000 patients dropping the input tables frees
    # ~300 MB before the derived data are written (by this process and a fork of it).
    del cut
    release_memory()
    timings["derivation"] = time.monotonic() - began

    with cut_lock(folders):
        _recover(folders)
        try:
            folders.build.mkdir(parents=True)
            began = time.monotonic()
            planned = _write_data(params, validation, derived, folders.build,
                                  tuple(notebooks), Path(notebooks_dir))
            # The kernels read the written data: at 100,000 patients this frees ~700 MB
            # before they start.
            del derived
            release_memory()
            timings["derived_data_and_keys"] = time.monotonic() - began
            return _build(params, planned, inputs, folders, jobs=jobs, force=force,
                          formats=tuple(formats), renderer=renderer, progress=progress,
                          timings=timings, run_key=key or "")
        except KeyboardInterrupt:
            progress.close()
            _remove(folders.build)
            raise
        except OSError as exc:
            progress.close()
            _remove(folders.build)
            raise RunFailed(_os_error_message(exc, folders)) from None


@contextmanager
def cut_lock(folders: RunFolders) -> Iterator[None]:
    """Hold the cut's lock; refuse at once, naming the holder, when another run holds it.

    The OS releases the lock when its process dies, so a killed run leaves no stale lock.
    """
    lock = FileLock(folders.lock, timeout=0)
    try:
        folders.study_dir.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except Timeout:
        try:
            holder = folders.lock_holder.read_text(encoding="utf-8").strip()
        except OSError:
            holder = "holder unknown"
        raise RunFailed(f"another run of {folders.study_dir.name} cut {folders.cut} is in "
                        f"progress ({holder}); wait for it to finish") from None
    except OSError as exc:
        raise RunFailed(_os_error_message(exc, folders)) from None
    try:
        started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        try:
            folders.lock_holder.write_text(
                f"pid {os.getpid()} on {socket.gethostname()}, started {started}",
                encoding="utf-8")
        except OSError as exc:
            raise RunFailed(_os_error_message(exc, folders)) from None
        yield
    finally:
        lock.release()


def _os_error_message(exc: OSError, folders: RunFolders) -> str:
    where = exc.filename or folders.study_dir
    if exc.errno == errno.ENOSPC:
        return (f"disk full while writing {where}: free some space and run again "
                "(the previous report is unchanged)")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST):
        return f"output folder not writable: {where} ({exc.strerror})"
    return f"cannot write {where}: {exc.strerror or exc}"


def _remove(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)


def _recover(folders: RunFolders) -> None:
    """Undo what a crashed run left: a half-done swap, a build folder."""
    if folders.previous.exists():
        if folders.final.exists():
            _remove(folders.previous)
        else:
            folders.previous.rename(folders.final)
    _remove(folders.build)


def _swap(folders: RunFolders) -> None:
    """Build in, previous out; :func:`_recover` completes this after a crash in between."""
    if folders.final.exists():
        folders.final.rename(folders.previous)
    folders.build.rename(folders.final)
    _remove(folders.previous)


def _fail_keeping_build(folders: RunFolders, message: str) -> RunFailed:
    """Move the build to ``.failed/<cut>`` and return the error to raise."""
    _remove(folders.failed)
    folders.failed.parent.mkdir(parents=True, exist_ok=True)
    folders.build.rename(folders.failed)
    return RunFailed(f"{message}\nthe failed build is kept in {folders.failed}; "
                     "the previous report is unchanged")


@lru_cache(maxsize=1)
def suite_fingerprint() -> dict[str, str]:
    """The suite's version and a hash of its code (an editable install changes without a
    version bump, and a cached notebook must not outlive the code that made it)."""
    root = Path(haplo_report.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return {"version": haplo_report.__version__, "code_sha256": digest.hexdigest()}


def _sha256_json(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def run_key(params: Params, *, formats: tuple[str, ...], notebooks: tuple[NotebookSpec, ...],
            notebooks_dir: Path, renderer: str | None) -> str | None:
    """SHA-256 of everything a run's outputs depend on, computed before validating: every file
    in the data folder (the readers pick some of them; any byte of any file counts), the
    parameters file and values, the notebooks (plan entries and sources), the formats, the
    renderer and the suite. None when the data folder or a file cannot be read (the full
    path then reports the problem)."""
    try:
        data = {path.name: sha256_file(path)
                for path in sorted(Path(params.data_dir).iterdir()) if path.is_file()}
        source = sha256_file(params.source) if params.source else None
        sources = {spec.name: sha256_file(notebooks_dir / f"{spec.name}.ipynb")
                   for spec in notebooks}
    except OSError:
        return None
    return _sha256_json({
        "data": data, "params_file": source,
        "params": {k: v for k, v in params.to_dict().items() if k != "output_dir"},
        "notebooks": [[repr(spec), sources[spec.name]] for spec in notebooks],
        "formats": list(formats), "renderer": renderer, "suite": suite_fingerprint(),
    })


def up_to_date(previous: dict[str, Any] | None, key: str, final: Path) -> bool:
    """Whether the previous good run ``previous`` (its manifest) had run key ``key`` and every
    output it lists is still in ``final`` with its recorded size and SHA-256."""
    if not previous or previous.get("run_key") != key or not previous.get("report_key"):
        return False
    if any(entry.get("status") not in OK_STATUSES
           for entry in previous.get("notebooks", {}).values()):
        return False
    outputs = previous.get("outputs", {})
    try:
        if any((final / relative).stat().st_size != record["bytes"]
               for relative, record in outputs.items()):
            return False
        return all(sha256_file(final / relative) == record["sha256"]
                   for relative, record in outputs.items())
    except (OSError, KeyError, TypeError):
        return False


def _digest(value: Any) -> str:
    """SHA-256 of a frame (column names, types, pandas' row hashes) or of a JSON value.

    Row hashes rather than CSV text: at 100,000 patients writing every notebook's data as CSV
    to hash it took most of a minute.
    """
    if isinstance(value, pd.DataFrame):
        digest = hashlib.sha256(json.dumps([[str(c), str(t)] for c, t in value.dtypes.items()])
                                .encode())
        digest.update(pd.util.hash_pandas_object(value, index=False).to_numpy().tobytes())
        return digest.hexdigest()
    return _sha256_json(value)


def data_read_by(spec: NotebookSpec, derived: Derived,
                 known: dict[str, str] | None = None) -> dict[str, str]:
    """SHA-256 of each piece of derived data ``spec`` reads.

    ``known`` keeps digests already computed for other notebooks of the same ``derived``
    (every notebook reads ADSL: at 100,000 patients hashing it eleven times took 1 s).
    """
    known = {} if known is None else known
    adtte = "adtte" if "*" in spec.endpoints else "adtte:" + ",".join(sorted(spec.endpoints))
    if adtte not in known:
        frame = derived.adtte
        if "*" not in spec.endpoints:
            frame = frame[frame["PARAMCD"].isin(spec.endpoints)]
        known[adtte] = _digest(frame)
    digests = {"adtte": known[adtte]}
    for name in ("adsl", *spec.datasets):
        if name not in known:
            known[name] = _digest(getattr(derived, name))
        digests[name] = known[name]
    return {name: digests[name] for name in ("adsl", "adtte", *spec.datasets)}


def notebook_job(spec: NotebookSpec, params: Params, derived: Derived, notebooks_dir: Path,
                 known: dict[str, str] | None = None) -> NotebookJob:
    """The job of one notebook: its injected parameters and its cache key (``known``: as for
    :func:`data_read_by`)."""
    values = params.to_dict()
    parameters = {name: values[name] for name in (*plan.COMMON_PARAMS, *spec.params)}
    source = notebooks_dir / f"{spec.name}.ipynb"
    key = _sha256_json({"notebook": sha256_file(source), "parameters": parameters,
                        "data": data_read_by(spec, derived, known),
                        "suite": suite_fingerprint()})
    return NotebookJob(spec, source, parameters, key)


def _take_over(job: NotebookJob, previous: dict[str, Any] | None, final: Path,
               build: Path) -> list[str] | None:
    """Copy the previous run's outputs of ``job`` into the build when its key matches."""
    entry = (previous or {}).get("notebooks", {}).get(job.name)
    if not entry or entry.get("status") not in OK_STATUSES or entry.get("cache_key") != job.key:
        return None
    recorded = previous.get("outputs", {})
    outputs = list(entry.get("outputs") or [])
    for relative in outputs:
        path = final / relative
        if (relative not in recorded or not path.is_file()
                or sha256_file(path) != recorded[relative]["sha256"]):
            return None
    for relative in outputs:
        (build / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(final / relative, build / relative)
    return outputs


def _make_reproducible(path: Path) -> None:
    """Drop wall-clock metadata (it belongs in the manifest only) and papermill's random id of
    the injected cell, so the same inputs give the same executed notebook."""
    notebook = nbformat.read(path, as_version=4)
    for node in (notebook, *notebook.cells):
        node.metadata.pop("execution", None)
        for key in ("start_time", "end_time", "duration"):
            node.metadata.get("papermill", {}).pop(key, None)
    for cell in notebook.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.id = "injected-parameters"
    nbformat.write(notebook, path)


def write_html(notebook_path: Path) -> Path:
    """An offline HTML copy of an executed notebook (images embedded, no other hosts)."""
    from nbconvert import HTMLExporter  # imported here: a run with nothing to do starts faster

    exporter = HTMLExporter(template_name="lab", embed_images=True)
    body, _ = exporter.from_notebook_node(nbformat.read(notebook_path, as_version=4))
    for pattern in (_REMOTE_SCRIPT, _REMOTE_LINK, _REMOTE_IMPORT):
        body = pattern.sub("", body)
    html = notebook_path.with_suffix(".html")
    html.write_text(body, encoding="utf-8")
    return html


def _first_line(text: str, limit: int = 200) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[:limit] + "..."


def _execute_one(job: NotebookJob, build: Path, kernels: KernelPool) -> dict[str, Any]:
    """Execute one notebook into ``build/notebooks``; its outputs go to ``.staging/<name>``.

    Returns the manifest entry: status "executed", or "failed" with the ``error`` message.
    """
    # Imported when a notebook runs: a run with nothing to do starts ~0.3 s faster without them.
    import papermill
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    staging = build / ".staging" / job.name
    work = build / ".work" / job.name  # neutral working directory; kept in a failed build
    staging.mkdir(parents=True)
    work.mkdir(parents=True)
    output = build / "notebooks" / f"{job.name}.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    injected = {**job.parameters, "data_dir": str(build / "data"), "out_dir": str(staging)}
    entry: dict[str, Any] = {"start": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                             "cache_key": job.key, "status": "executed"}
    began = time.monotonic()
    try:
        papermill.execute_notebook(
            str(job.source), str(output), parameters=injected, kernel_name="python3",
            progress_bar=False, log_output=False, km=kernels.kernel(work))
    except PapermillExecutionError as exc:
        entry["error"] = (f"notebook {job.name} failed in cell In [{exc.exec_count}]: "
                          f"{exc.ename}: {_first_line(exc.evalue)}")
    except DeadKernelError:
        entry["error"] = (f"notebook {job.name}: its kernel died (crashed, out of memory or "
                          "killed) before the notebook finished")
    except (KeyboardInterrupt, OSError):
        raise
    except Exception as exc:  # noqa: BLE001 - any other papermill/nbclient failure
        entry["error"] = (f"notebook {job.name} could not be executed: "
                          f"{type(exc).__name__}: {_first_line(str(exc))}")
    entry["duration_s"] = round(time.monotonic() - began, 3)
    if "error" in entry:
        entry["status"] = "failed"
        kernels.discard()
    if output.is_file():
        _make_reproducible(output)
        write_html(output)
    return entry


def _merge_staging(name: str, build: Path) -> list[str]:
    """Move a notebook's outputs from its staging folder into the build; their paths."""
    staging = build / ".staging" / name
    moved = []
    for path in sorted(p for p in staging.rglob("*") if p.is_file()):
        relative = path.relative_to(staging)
        target = build / relative
        if target.exists():
            raise NotebookFailed(f"notebook {name} wrote {relative.as_posix()}, "
                                 "which another notebook wrote too")
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)
        moved.append(relative.as_posix())
    shutil.rmtree(staging)
    return moved


def _execute_all(todo: list[NotebookJob], build: Path, jobs: int,
                 progress: Progress) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Execute ``todo`` in parallel; per-notebook entries and the failure messages.

    After a failure, notebooks not yet started are cancelled and running ones finish.
    """
    entries: dict[str, dict[str, Any]] = {}
    failures: list[str] = []
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="notebook")
    kernels = KernelPool(build / ".work" / "logs")
    running: dict[Future, NotebookJob] = {}
    try:
        for job in todo:
            running[pool.submit(_execute_one, job, build, kernels)] = job
        started: set[str] = set()
        while running:
            for future, job in running.items():
                if job.name not in started and (future.running() or future.done()):
                    started.add(job.name)
                    progress.start(job.name)
            done, _ = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
            progress.tick()
            for future in done:
                job = running.pop(future)
                if future.cancelled():
                    continue
                if job.name not in started:
                    started.add(job.name)
                    progress.start(job.name)
                entry = future.result()
                outputs = [f"notebooks/{job.name}.{suffix}" for suffix in ("ipynb", "html")
                           if (build / "notebooks" / f"{job.name}.{suffix}").is_file()]
                if entry["status"] == "executed":
                    try:
                        outputs += _merge_staging(job.name, build)
                    except NotebookFailed as exc:
                        entry.update(status="failed", error=str(exc))
                if entry["status"] == "failed":
                    failures.append(entry["error"])
                    pool.shutdown(wait=False, cancel_futures=True)
                entries[job.name] = {**entry, "outputs": sorted(outputs)}
                progress.finish(job.name, entry["status"])
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        kernels.close()
    return entries, failures


def validation_record(cut: Cut) -> dict[str, Any]:
    """What ``validation.json`` records of a valid cut: rows supplied per table, file names."""
    return {"valid": True, "violations": [], "supplied": cut.supplied(),
            "files": {name: path.name for name, path in sorted(cut.files.items())}}


def _write_validation(record: dict[str, Any], build: Path) -> None:
    (build / "validation.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n",
                                           encoding="utf-8")
    write_violations(None, build / "validation.csv")


def collect_results(names: list[str], build: Path) -> pd.DataFrame:
    """Every notebook's ``results/<name>.csv`` into ``results.csv``: plan order, then row order."""
    frames = []
    for name in names:
        path = build / "results" / f"{name}.csv"
        if not path.is_file():
            raise NotebookFailed(f"notebook {name} wrote no results/{name}.csv")
        frames.append(read_results(path))
    # empty frames (optional tables not supplied) dropped: pandas warns about their dtypes
    filled = [frame for frame in frames if not frame.empty] or frames[:1]
    return write_results(pd.concat(filled, ignore_index=True), build / "results.csv")


def _report_key(entries: dict[str, dict[str, Any]], params: Params, formats: tuple[str, ...],
                renderer: str | None, build: Path) -> str:
    values = {k: v for k, v in params.to_dict().items() if k != "output_dir"}
    return _sha256_json({
        "chapters": [[name, entry["cache_key"]] for name, entry in entries.items()],
        "formats": list(formats), "renderer": renderer, "params": values,
        "results": sha256_file(build / "results.csv"),
        "validation": sha256_file(build / "validation.json"), "suite": suite_fingerprint(),
    })


def _write_data(params: Params, validation: dict[str, Any], derived: Derived, build: Path,
                notebooks: tuple[NotebookSpec, ...], notebooks_dir: Path) -> list[NotebookJob]:
    """Write the derived data and the validation record (:func:`validation_record`) into
    ``build``; the notebook jobs with their cache keys."""
    derived.write(build / "data")
    _write_validation(validation, build)
    known: dict[str, str] = {}
    return [notebook_job(spec, params, derived, notebooks_dir, known) for spec in notebooks]


def _build(params: Params, planned: list[NotebookJob], inputs: list[Path], folders: RunFolders,
           *, jobs: int, force: bool, formats: tuple[str, ...], renderer: str | None,
           progress: Progress, timings: dict[str, float], run_key: str) -> RunResult:
    """Execute or take over ``planned``, collect, render and swap the build (holding data
    written by :func:`_write_data`) into place; ``timings`` (seconds by stage) gets the
    stages of this step; ``run_key`` (:func:`run_key`) goes into the manifest for the next
    run's fast path."""
    build = folders.build
    previous = None if force else read_manifest(folders.final / MANIFEST)
    began = time.monotonic()

    entries: dict[str, dict[str, Any]] = {}
    todo = []
    for job in planned:
        outputs = _take_over(job, previous, folders.final, build)
        if outputs is None:
            todo.append(job)
        else:
            entries[job.name] = {"status": "cached", "start": None, "duration_s": 0.0,
                                 "cache_key": job.key, "outputs": outputs}
            progress.finish(job.name, "cached")
    executed, failures = _execute_all(todo, build, jobs, progress)
    timings["notebooks"] = time.monotonic() - began
    entries.update(executed)
    entries = {job.name: entries[job.name] for job in planned if job.name in entries}

    def manifest(report_key: str) -> dict[str, Any]:
        return build_manifest(params, inputs=inputs, run_dir=build, notebooks=entries,
                              renderer=renderer, report_key=report_key, run_key=run_key,
                              suite=suite_fingerprint(),
                              timings={k: round(v, 3) for k, v in timings.items()})

    if not failures:
        try:
            collect_results([job.name for job in planned], build)
        except NotebookFailed as exc:
            failures.append(str(exc))
    progress.close()
    if failures:
        write_manifest(manifest(""), build / MANIFEST)
        raise _fail_keeping_build(folders, "\n".join(failures))
    _remove(build / ".staging")
    _remove(build / ".work")

    report_key = _report_key(entries, params, formats, renderer, build)
    executed_names = tuple(name for name, e in entries.items() if e["status"] == "executed")
    cached_names = tuple(name for name, e in entries.items() if e["status"] == "cached")
    if previous and not todo and previous.get("report_key") == report_key:
        _remove(build)
        records = {str(path): file_record(path) for path in sorted(inputs)}
        if previous.get("run_key") != run_key or previous.get("inputs") != records:
            # the report stands; the manifest gets this run's key and inputs so that the
            # next run with nothing changed stops before validating
            write_manifest({**previous, "run_key": run_key, "inputs": records},
                           folders.final / MANIFEST)
        progress.say(f"up to date: nothing changed since the last run; {folders.final} "
                     "left as it is")
        return RunResult(folders.final, (), cached_names, previous.get("renderer"), True)
    if renderer is not None:
        write_manifest(without_timing(manifest(report_key)), build / MANIFEST)
        progress.say(f"rendering the report ({', '.join(formats)}) with {renderer}")
        began = time.monotonic()
        try:
            render_report(build, formats, renderer=renderer)
        except RenderError as exc:
            raise _fail_keeping_build(folders, f"rendering the report failed: {exc}") from None
        timings["rendering"] = time.monotonic() - began
    write_manifest(manifest(report_key), build / MANIFEST)
    _swap(folders)
    return RunResult(folders.final, executed_names, cached_names, renderer, False)

"""Executing notebooks with papermill on the kernel pool, in parallel, each into its own
staging folder; offline HTML copies of the executed notebooks.

Notebooks are executed as they will be re-executed in the delivered run folder: with
``data_dir = "data"`` and ``out_dir = "."``, in a kernel whose working folder is the notebook's
staging folder (``.staging/<name>/``, holding a relative link ``data -> ../../data``), so that
parallel notebooks cannot overwrite each other's outputs and ``papermill notebooks/03_pfs.ipynb
out.ipynb`` run inside the delivered folder reproduces the notebook. No path of the machine is
injected or recorded.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any, Callable

import nbformat

from haplo_report.plan import STALL_TIMEOUT_S
from haplo_report.run.cache import NotebookJob
from haplo_report.run.errors import NotebookFailed
from haplo_report.run.kernels import Kernel, KernelPool
from haplo_report.run.progress import Progress


# Injected into every notebook: the delivered run folder's own layout.
DATA_DIR = "data"
OUT_DIR = "."
METADATA_KEY = "haplo_report"  # the notebook metadata naming the run


# A cell running longer than this is a stalled notebook (at 100,000 patients the slowest
# notebook takes ~10 s in all): the run stops it and fails instead of waiting for ever.


def _make_reproducible(path: Path, name: str, run_metadata: dict[str, Any]) -> None:
    """Drop wall-clock metadata (it belongs in the manifest only) and papermill's random id of
    the injected cell, so the same inputs give the same executed notebook; name papermill's
    input and output relative (the source in the suite, the copy in the run folder) and add
    ``run_metadata`` (run id, suite version, git commit, input hash, parameters)."""
    notebook = nbformat.read(path, as_version=4)
    for node in (notebook, *notebook.cells):
        node.metadata.pop("execution", None)
        for key in ("start_time", "end_time", "duration"):
            node.metadata.get("papermill", {}).pop(key, None)
    for cell in notebook.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.id = "injected-parameters"
    papermill = notebook.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):
        if key in papermill:
            papermill[key] = f"notebooks/{name}.ipynb"
    notebook.metadata[METADATA_KEY] = run_metadata
    first = next((cell for cell in notebook.cells
                  if cell.cell_type == "code" and cell.get("outputs")), None)
    if first is not None:
        first.outputs.insert(0, nbformat.v4.new_output(
            "display_data", data={"text/markdown": identity_markdown(run_metadata)},
            metadata={METADATA_KEY: "run identity, written by the run after execution"}))
    nbformat.write(notebook, path)


def identity_markdown(run_metadata: dict[str, Any]) -> str:
    """The run that executed a notebook, as its first output shows it (a Markdown table)."""
    clean = run_metadata.get("git_clean")
    state = {True: "clean tree", False: "uncommitted changes (dirty tree)"}.get(clean, "")
    commit = run_metadata.get("git_commit") or "not recorded (not a git checkout)"
    rows = [("Run id", run_metadata.get("run_id")),
            ("Suite", f"haplo-report {run_metadata.get('suite_version')}"),
            ("Git commit", f"{commit} ({state})" if state else commit),
            ("Input tables (SHA-256)", run_metadata.get("input_sha256")),
            ("Data cut", run_metadata.get("data_cut_date"))]
    lines = ["**Executed in run** (the run's manifest.json names it; this notebook's metadata "
             f"`{METADATA_KEY}` holds the same)", "", "| | |", "|---|---|"]
    lines += [f"| {label} | `{value or 'not recorded'}` |" for label, value in rows]
    return "\n".join(lines)


def _first_line(text: str, limit: int = 200) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[:limit] + "..."


def _engine() -> str:
    """papermill's nbclient engine executing on a kernel's existing client (registered once).

    papermill's own engine starts a new client per notebook, and nbclient readies it with
    jupyter_client's ``wait_for_ready``, which waits until IOPub has been quiet for 0.2 s; a
    client given to nbclient is used as it is (nbclient reads only replies to its requests).
    """
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines

    class ExistingClientEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, *, kernel: Kernel,
                                     execution_timeout: float, **kwargs: Any) -> Any:
            client = PapermillNotebookClient(nb_man, km=kernel.manager, kernel_name=kernel_name,
                                             timeout=execution_timeout, log_output=False)
            client.kc = kernel.client
            return client.execute()

    papermill_engines.register(_ENGINE, ExistingClientEngine)
    return _ENGINE


_ENGINE = "haplo-report-kernel"


def execute_one(kernels: Callable[[], Kernel], job: NotebookJob, build: Path,
                run_metadata: dict[str, Any], stall_timeout: float = STALL_TIMEOUT_S
                ) -> dict[str, Any]:
    """Execute one notebook on the kernel ``kernels()`` gives (:meth:`KernelPool.submit`) into
    ``build/notebooks``; its outputs go to ``.staging/<name>``.

    ``run_metadata`` (run id, suite version, git commit, input hash) goes into the executed
    notebook's metadata with the notebook's parameters and the hashes of the data it reads.
    A cell running longer than ``stall_timeout`` seconds fails the notebook (stalled).

    Returns the manifest entry: status "executed", or "failed" with the ``error`` message.
    """
    # Imported when a notebook runs: a run with nothing to do starts ~0.3 s faster without them.
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    staging = build / ".staging" / job.name
    staging.mkdir(parents=True)
    (staging / DATA_DIR).symlink_to(Path("..", "..", DATA_DIR), target_is_directory=True)
    output = build / "notebooks" / f"{job.name}.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    injected = {**job.parameters, "data_dir": DATA_DIR, "out_dir": OUT_DIR}
    entry: dict[str, Any] = {"start": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                             "cache_key": job.key, "status": "executed"}
    began = time.monotonic()
    kernel: Kernel | None = None
    try:
        kernel = kernels()
        kernel.reset(staging)
        papermill.execute_notebook(
            str(job.source), str(output), parameters=injected, kernel_name="python3",
            engine_name=_engine(), progress_bar=False, log_output=False, kernel=kernel,
            execution_timeout=stall_timeout)
    except PapermillExecutionError as exc:
        entry["error"] = (f"notebook {job.name} failed in cell In [{exc.exec_count}]: "
                          f"{exc.ename}: {_first_line(exc.evalue)}")
    except CellTimeoutError:
        entry["error"] = (f"notebook {job.name} stalled: a cell ran longer than "
                          f"{stall_timeout:g} s and was stopped")
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
        if kernel is not None:  # its state is unknown: the worker starts a new one if needed
            kernel.shutdown()
    if output.is_file():
        _make_reproducible(output, job.name, {
            **run_metadata, "parameters": injected, "data_sha256": job.data,
            "cache_key": job.key})
    return entry


def merge_staging(name: str, build: Path) -> list[str]:
    """Move a notebook's outputs from its staging folder into the build; their paths."""
    staging = build / ".staging" / name
    (staging / DATA_DIR).unlink(missing_ok=True)  # the link to the run's data
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


def execute_all(todo: list[NotebookJob], build: Path, jobs: int, progress: Progress,
                run_metadata: dict[str, Any], stall_timeout: float = STALL_TIMEOUT_S,
                kernels: KernelPool | None = None
                ) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Execute ``todo``, at most ``jobs`` at once (``run_metadata``: as for
    :func:`execute_one`); per-notebook entries and failure messages. Each executed notebook's
    outputs name its HTML copy, written afterwards by :class:`HtmlCopies`. ``kernels``: a pool
    already started (grown to ``jobs`` workers as needed), else one is made; either way it is
    closed at the end, its kernels' logs kept in ``build/.work/logs``.

    A notebook is handed to a worker only when one is free, so nothing waits in a queue: after
    a failure no further notebook starts, the running ones finish (a cell running longer than
    ``stall_timeout`` seconds fails its notebook) and the loop ends. (Cancelling queued futures
    instead left them "cancelled" but never "done" for ``wait``: the run waited forever.)
    """
    entries: dict[str, dict[str, Any]] = {}
    failures: list[str] = []
    waiting = list(todo)
    kernels = kernels or KernelPool(0)
    kernels.grow(min(jobs, len(todo)))
    running: dict[Future, NotebookJob] = {}
    try:
        while waiting or running:
            while waiting and not failures and len(running) < jobs:
                job = waiting.pop(0)
                progress.start(job.name)
                running[kernels.submit(execute_one, job, build, run_metadata,
                                       stall_timeout)] = job
            if not running:
                break
            done, _ = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
            progress.tick()
            for future in done:
                job = running.pop(future)
                entry = future.result()
                outputs = ([f"notebooks/{job.name}.{suffix}" for suffix in ("ipynb", "html")]
                           if (build / "notebooks" / f"{job.name}.ipynb").is_file() else [])
                if entry["status"] == "executed":
                    try:
                        outputs += merge_staging(job.name, build)
                    except NotebookFailed as exc:
                        entry.update(status="failed", error=str(exc))
                if entry["status"] == "failed":
                    failures.append(entry["error"])
                entries[job.name] = {**entry, "outputs": sorted(outputs)}
                progress.finish(job.name, entry["status"])
    finally:
        kernels.close(keep_logs=build / ".work" / "logs")
    return entries, failures

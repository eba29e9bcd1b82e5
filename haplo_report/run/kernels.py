"""The kernel pool: worker threads each owning one Jupyter kernel and one client for all its
notebooks, reset between notebooks; the memory release shared by the run and its kernels."""

from __future__ import annotations

import queue
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable, TextIO, TypeVar

from jupyter_client import AsyncKernelManager
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_core.utils import ensure_event_loop, run_sync

from haplo_report.paths import MANIFEST, RunFolders

T = TypeVar("T")


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


# Run silently once a kernel has started, while the run validates and derives: the libraries
# every notebook imports (2 s of CPU), then gc.freeze() so that the collections of each reset
# (IPython's reset and RELEASE_MEMORY both collect) skip the imported modules' objects and only
# look at what notebooks made (a full collection over all of them: ~0.15 s per reset).
WARM_UP = """\
import gc
import matplotlib.pyplot
import haplo_report.analysis.adam_schemas, haplo_report.analysis.derive
import haplo_report.analysis.endpoints, haplo_report.analysis.mrd
import haplo_report.analysis.results, haplo_report.analysis.summaries
import haplo_report.outputs.captions, haplo_report.outputs.figures, haplo_report.outputs.tables
gc.freeze()
del gc
"""


# Freed memory back to the OS (run after dropping large frames, in the run and in each kernel
# before its next notebook). glibc keeps freed blocks of many small Python objects mapped, and
# Arrow's allocator keeps its pool: at 100,000 patients the run would hold ~550 MB it no longer
# uses while the kernels work. Hand-written: neither Python nor pandas returns this memory.
RELEASE_MEMORY = """\
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


STARTUP_TIMEOUT_S = 60.0


def release_memory() -> None:
    """Return memory freed by dropped frames to the operating system (see above)."""
    exec(RELEASE_MEMORY, {})  # noqa: S102 - the fixed snippet above, shared with the kernels


class Kernel:
    """A started kernel with its one client, used by one thread (the asyncio loop of that thread
    drives the client's sockets)."""

    def __init__(self, log: TextIO, cwd: Path, warm_up: str) -> None:
        self.log = log
        self.manager = _ThisInterpreterKernelManager(kernel_name="python3", log=log, cwd=cwd)
        self.client: AsyncKernelClient | None = None
        self._closed = False
        try:
            run_sync(self.manager.start_kernel)()
            self.client = self.manager.client()
            self.client.allow_stdin = False
            self.client.start_channels()
            run_sync(_until_ready)(self.client, self.manager, STARTUP_TIMEOUT_S)
            if warm_up:
                self.run_silently(warm_up, "the kernel could not import the suite")
        except BaseException:
            self.shutdown()
            raise

    def alive(self) -> bool:
        return not self._closed and run_sync(self.manager.is_alive)()

    def reset(self, cwd: Path) -> None:
        """Make the kernel start the next notebook as a fresh one in ``cwd`` would."""
        self.run_silently(_FRESH_START.format(cwd=str(cwd), release=RELEASE_MEMORY),
                          "the kernel could not be reset")

    def run_silently(self, code: str, failure: str) -> None:
        """Execute ``code`` without output or history; RuntimeError(``failure``) if it fails."""
        reply = run_sync(_execute_silently)(self.client, code, STARTUP_TIMEOUT_S)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"{failure}: {reply['content'].get('evalue')}")

    def shutdown(self) -> None:
        """Close the client's sockets, stop the kernel (its ZMQ context with it), close the log."""
        if self._closed:
            return
        self._closed = True
        if self.client is not None:
            self.client.stop_channels()
        try:
            if self.manager.has_kernel:
                run_sync(self.manager.shutdown_kernel)(now=True)
        except RuntimeError:  # already gone
            pass
        finally:
            if not self.manager.context.closed:
                self.manager.context.destroy(linger=0)
            self.log.close()


async def _until_ready(client: AsyncKernelClient, manager: AsyncKernelManager,
                       timeout: float) -> None:
    """Wait until the kernel answers on the shell channel and its IOPub messages arrive.

    jupyter_client's ``wait_for_ready`` then also drains IOPub until it has been quiet for
    0.2 s, a fixed wait per client; nothing needs draining here (nbclient and
    :func:`_execute_silently` only read replies to their own requests).
    """
    deadline = time.monotonic() + timeout
    while True:
        client.kernel_info()
        try:
            reply = await client.shell_channel.get_msg(timeout=1)
        except queue.Empty:
            pass
        else:
            if reply["msg_type"] == "kernel_info_reply":
                try:  # the kernel's "busy" status: IOPub is connected
                    await client.iopub_channel.get_msg(timeout=0.2)
                    return
                except queue.Empty:
                    pass  # subscribed too late for that message: ask again
        if not await manager.is_alive():
            raise RuntimeError("the kernel died while starting")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the kernel did not answer within {timeout:g} s")


async def _execute_silently(client: AsyncKernelClient, code: str, timeout: float
                            ) -> dict[str, Any]:
    """The execute reply to ``code`` run silently (its IOPub status messages are left for the
    next reader, which skips messages that are not about its own requests)."""
    msg_id = client.execute(code, silent=True, store_history=False, allow_stdin=False)
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = await client.shell_channel.get_msg(timeout=max(deadline - time.monotonic(), 0))
        except queue.Empty:
            raise RuntimeError(f"the kernel did not answer within {timeout:g} s") from None
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply


class KernelPool:
    """Worker threads, each keeping one kernel and its client for all its notebooks.

    Starting a kernel and importing pandas, scipy, matplotlib and the suite takes 2-3 s of CPU,
    more than most notebooks' own work; reusing the kernel (reset by :data:`_FRESH_START`) pays
    it once per worker instead of once per notebook, and one client per kernel pays the
    connection handshake once too. Kernels start when the pool is made or grown (``warm_up``
    run in each), so they import while the run validates and derives. A kernel whose notebook
    failed is shut down (:meth:`Kernel.shutdown`) and a new one started for the worker's next
    notebook. Kernel output goes to ``kernel-<n>.log`` in a temporary folder, copied out by
    :meth:`close`, which shuts everything down.
    """

    def __init__(self, workers: int, warm_up: str = WARM_UP) -> None:
        # the kernels' first working folder and their logs, until :meth:`close` (the build
        # folder does not exist yet when they start)
        self._home = Path(tempfile.mkdtemp(prefix="haplo-report-kernels-"))
        self._warm_up = warm_up
        self._queue: queue.SimpleQueue[tuple[Future, Callable[..., Any], tuple] | None] = (
            queue.SimpleQueue())
        self._lock = threading.Lock()
        self._kernels_started = 0
        self._threads: list[threading.Thread] = []
        self.grow(workers)

    @property
    def workers(self) -> int:
        return len(self._threads)

    def grow(self, workers: int) -> None:
        """Have at least ``workers`` worker threads (each starts its kernel at once)."""
        while len(self._threads) < workers:
            thread = threading.Thread(target=self._work, daemon=True,
                                      name=f"kernel-{len(self._threads) + 1}")
            thread.start()
            self._threads.append(thread)

    def submit(self, fn: Callable[..., T], *args: Any) -> Future:
        """``fn(kernel, *args)`` in the next free worker; ``kernel()`` returns the worker's
        kernel, started again if it was shut down or died (raises if it cannot start)."""
        future: Future = Future()
        self._queue.put((future, fn, args))
        return future

    def close(self, keep_logs: Path | None = None) -> None:
        """Shut down every kernel (each in its own thread), end the workers and copy the
        kernels' logs into ``keep_logs`` (``kernel-<n>.log``) if given. Closing again does
        nothing."""
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()
        self._threads = []
        if self._home.is_dir():
            if keep_logs is not None:
                keep_logs.mkdir(parents=True, exist_ok=True)
                for log in sorted(self._home.glob("kernel-*.log")):
                    shutil.copyfile(log, keep_logs / log.name)
            shutil.rmtree(self._home, ignore_errors=True)

    def _start(self) -> Kernel:
        with self._lock:
            self._kernels_started += 1
            log = (self._home / f"kernel-{self._kernels_started}.log").open("w", encoding="utf-8")
        try:
            return Kernel(log, self._home, self._warm_up)
        except BaseException:
            log.close()
            raise

    def _work(self) -> None:
        kernel: Kernel | None = None
        starting: BaseException | None = None
        try:
            kernel = self._start()
        except Exception as exc:  # noqa: BLE001 - raised to the first notebook that asks
            starting = exc

        def ready() -> Kernel:
            nonlocal kernel, starting
            if starting is not None:
                error, starting = starting, None
                raise error
            if kernel is None or not kernel.alive():
                if kernel is not None:
                    kernel.shutdown()
                kernel = None  # if the next one fails to start
                kernel = self._start()
            return kernel

        try:
            while (item := self._queue.get()) is not None:
                future, fn, args = item
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    future.set_result(fn(ready, *args))
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    future.set_exception(exc)
        finally:
            if kernel is not None:
                kernel.shutdown()
            ensure_event_loop().close()


def cold_run_kernels(folders: RunFolders, force: bool, workers: int) -> KernelPool | None:
    """A pool of ``workers`` kernels for a cold run (``force``, or no report yet), started at
    once so that they import while the run imports the suite, validates and derives; None
    when the report may be up to date (a run with nothing to do starts no kernel)."""
    if workers < 1 or not (force or not (folders.final / MANIFEST).is_file()):
        return None
    return KernelPool(workers)

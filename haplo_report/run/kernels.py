"""The kernel pool: one Jupyter kernel per worker thread, reset between notebooks, and the
memory release shared by the run and its kernels."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from jupyter_client import AsyncKernelManager
from jupyter_core.utils import run_sync


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


def release_memory() -> None:
    """Return memory freed by dropped frames to the operating system (see above)."""
    exec(RELEASE_MEMORY, {})  # noqa: S102 - the fixed snippet above, shared with the kernels


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
            reply = client.execute_interactive(_FRESH_START.format(cwd=str(cwd), release=RELEASE_MEMORY), silent=True,
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

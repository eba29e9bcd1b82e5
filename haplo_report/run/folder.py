"""The run folder of one cut: its lock, the swap of a finished build into place, recovery
after a crash, and a failed build kept for the auditor (folder names: :mod:`haplo_report.paths`).

The run of one cut holds a lock for its whole duration. It builds in ``.<cut>.build`` beside
the report folder and swaps it in only when everything succeeded, so the previous report is
never touched by a failed, interrupted or concurrent run. The lock files live beside the
report folder, never in it, and are removed when the run ends.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from haplo_report.paths import RunFolders
from haplo_report.run.errors import RunFailed


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
        raise RunFailed(os_error_message(exc, folders)) from None
    try:
        started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        try:
            folders.lock_holder.write_text(
                f"pid {os.getpid()} on {socket.gethostname()}, started {started}",
                encoding="utf-8")
        except OSError as exc:
            raise RunFailed(os_error_message(exc, folders)) from None
        yield
    finally:
        folders.lock_holder.unlink(missing_ok=True)
        _release_removing(lock, folders.lock)


@contextmanager
def fast_path_lock(folders: RunFolders) -> Iterator[None]:
    """Hold the cut's lock without writing its holder (raises ``filelock.Timeout`` when another
    run holds it); the lock file is removed again, so the study folder is left as it was."""
    lock = FileLock(folders.lock, timeout=0)
    lock.acquire()
    try:
        yield
    finally:
        _release_removing(lock, folders.lock)


def _release_removing(lock: FileLock, path: Path) -> None:
    """Remove the lock file while holding it, then release it. A run waiting on the removed
    file finds it unlinked once it gets it and takes the path again (filelock checks)."""
    try:
        path.unlink(missing_ok=True)
    except OSError:  # a read-only folder: the lock file stays, harmlessly
        pass
    lock.release()


def os_error_message(exc: OSError, folders: RunFolders) -> str:
    where = exc.filename or folders.study_dir
    if exc.errno == errno.ENOSPC:
        return (f"disk full while writing {where}: free some space and run again "
                "(the previous report is unchanged)")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST):
        return f"output folder not writable: {where} ({exc.strerror})"
    return f"cannot write {where}: {exc.strerror or exc}"


def remove_tree(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)


def recover(folders: RunFolders) -> None:
    """Undo what a crashed run left: a half-done swap, a build folder."""
    if folders.previous.exists():
        if folders.final.exists():
            remove_tree(folders.previous)
        else:
            folders.previous.rename(folders.final)
    remove_tree(folders.build)


def swap_into_place(folders: RunFolders) -> None:
    """Build in, previous out; :func:`recover` completes this after a crash in between."""
    if folders.final.exists():
        folders.final.rename(folders.previous)
    folders.build.rename(folders.final)
    remove_tree(folders.previous)


def fail_keeping_build(folders: RunFolders, message: str) -> RunFailed:
    """Move the build to ``.failed/<cut>`` and return the error to raise."""
    remove_tree(folders.failed)
    folders.failed.parent.mkdir(parents=True, exist_ok=True)
    folders.build.rename(folders.failed)
    return RunFailed(f"{message}\nthe failed build is kept in {folders.failed}; "
                     "the previous report is unchanged")

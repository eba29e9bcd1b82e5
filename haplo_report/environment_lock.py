"""The committed lock of the suite's environment (``requirements.lock``, shipped in the package).

``make`` installs exactly this file (``uv pip sync``, hashes checked); ``make lock`` writes it
(``uv pip compile --universal``: one entry per package and Python version, with markers). The
manifest records its SHA-256 and how the installed environment differs from it, so a run, its
report and ``haplo-report verify`` name the environment they were made in.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

LOCK_FILE = Path(__file__).with_name("requirements.lock")
# Installed beside the lock's packages on purpose: the suite itself (editable, from the checkout).
NOT_LOCKED = frozenset({"haplo-report"})


def normalised(name: str) -> str:
    """A distribution name as PEP 503 compares them ("jupyter_client" == "jupyter-client")."""
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_sha256(path: Path = LOCK_FILE) -> str:
    """SHA-256 of the lock file's bytes, or "" when it is not there."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


def locked_versions(path: Path = LOCK_FILE) -> dict[str, str]:
    """The lock's version of every package for this interpreter (markers evaluated), by
    normalised name. A requirement line is ``name==version [; marker] \\``; hashes, comments and
    ``# via`` lines are indented or start with ``#``."""
    versions = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line or line[0] in " #-":
            continue
        try:
            requirement = Requirement(line.rstrip("\\ "))
        except InvalidRequirement:
            continue
        if requirement.marker is None or requirement.marker.evaluate():
            pinned = next(iter(requirement.specifier)).version
            versions[normalised(requirement.name)] = pinned
    return versions


def installed_versions() -> dict[str, str]:
    """Every installed distribution's version, by normalised name."""
    return {normalised(dist.metadata["Name"]): dist.version
            for dist in metadata.distributions() if dist.metadata["Name"]}


def lock_differences(installed: dict[str, str], locked: dict[str, str]) -> list[str]:
    """One line per package where ``installed`` is not the lock: version differs, installed
    but not locked, locked but not installed (the suite itself is not locked)."""
    installed = {normalised(k): v for k, v in installed.items()}
    lines = []
    for name in sorted(set(installed) | set(locked)):
        have, want = installed.get(name), locked.get(name)
        if name in NOT_LOCKED or have == want:
            continue
        lines.append(f"{name}: installed {have or 'not installed'}, "
                     f"lock {want or 'not in the lock'}")
    return lines


@lru_cache(maxsize=1)
def lock_state() -> dict[str, object]:
    """What the manifest records: the lock's SHA-256 and how this environment differs from it."""
    if not LOCK_FILE.is_file():
        return {"file": LOCK_FILE.name, "sha256": "", "differences": ["no lock file installed"]}
    return {"file": LOCK_FILE.name, "sha256": lock_sha256(),
            "differences": lock_differences(installed_versions(), locked_versions())}


__all__ = ["LOCK_FILE", "installed_versions", "lock_differences", "lock_sha256", "lock_state",
           "locked_versions", "normalised"]

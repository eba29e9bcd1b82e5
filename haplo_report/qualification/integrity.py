"""The shipped reference cases and their manifest (``reference/SHA256SUMS``): every file of
``reference/`` and every table of the bundled example cut with its SHA-256, in ``sha256sum``
format (``sha256sum -c SHA256SUMS`` in the reference folder checks it too). ``haplo-report qualify`` checks the manifest before it reads any reference: an altered,
missing or unlisted file is reported by name and never used.

After regenerating references (``reference/README.md``), refresh the manifest with
``python -m haplo_report.qualification.refresh``; ``tests/test_qualification.py`` fails while
it is stale.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from haplo_report.qualification.checks import Check, failed, passed

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
MANIFEST = "SHA256SUMS"
# The bundled example cut (haplo_report/example/data), relative to the reference folder: R read
# it for the example's and the cuts' references, so its tables are in the manifest too.
EXAMPLE_CUT = "../../example/data"
SECTION = "Reference files against the shipped manifest"
SOURCE = f"reference/{MANIFEST} (shipped with the suite)"


def shown(name: str) -> str:
    """A manifest name as the report shows it: ``reference/...`` or ``example/data/...``."""
    return name.removeprefix("../../") if name.startswith(f"{EXAMPLE_CUT}/") else f"reference/{name}"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def reference_files(folder: Path = REFERENCE_DIR) -> list[str]:
    """Every file of the reference folder but the manifest, relative (POSIX), sorted, then the
    tables of the bundled example cut (named from the reference folder, :data:`EXAMPLE_CUT`)."""
    own = sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*")
                 if path.is_file() and path.name != MANIFEST and "__pycache__" not in path.parts)
    cut = folder / EXAMPLE_CUT
    tables = sorted(path.name for path in cut.iterdir() if path.is_file()) if cut.is_dir() else []
    return own + [f"{EXAMPLE_CUT}/{name}" for name in tables]


def manifest_text(folder: Path = REFERENCE_DIR) -> str:
    """The manifest the folder's files make now."""
    return "".join(f"{_sha256(folder / name)}  {name}\n" for name in reference_files(folder))


def read_manifest(folder: Path = REFERENCE_DIR) -> dict[str, str]:
    """The shipped manifest: SHA-256 by file name (empty when it is missing)."""
    path = folder / MANIFEST
    if not path.is_file():
        return {}
    listed = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        if name:
            listed[name] = digest
    return listed


def check_manifest(folder: Path = REFERENCE_DIR) -> tuple[list[Check], set[str]]:
    """One check per reference file (listed with its SHA-256, present, unchanged; or present
    but not listed), and the names of the files that must not be used."""
    listed = read_manifest(folder)
    if not listed:
        return [failed("reference.manifest", SECTION, "the manifest of the reference files",
                       SOURCE, f"{folder / MANIFEST} missing or empty: no reference can be "
                       "trusted")], set(reference_files(folder))
    checks, unusable = [], set()
    for name in sorted(set(listed) | set(reference_files(folder))):
        what = f"{shown(name)}: SHA-256 against the manifest"
        path = folder / name
        if name not in listed:
            detail = f"{shown(name)} is not listed in {MANIFEST}: not used"
        elif not path.is_file():
            detail = f"{shown(name)} is missing"
        elif _sha256(path) != listed[name]:
            detail = f"{shown(name)} altered: its SHA-256 differs from {MANIFEST}; not used"
        else:
            checks.append(passed(f"file.{shown(name)}", SECTION, what, SOURCE))
            continue
        unusable.add(name)
        checks.append(failed(f"file.{shown(name)}", SECTION, what, SOURCE, detail))
    return checks, unusable


def refresh(folder: Path = REFERENCE_DIR) -> Path:
    """Write the manifest of the folder's files as they are now."""
    path = folder / MANIFEST
    path.write_text(manifest_text(folder), encoding="utf-8")
    return path

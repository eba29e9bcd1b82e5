"""The run manifest: what went in, what came out, with what software, and how each notebook ran.

``manifest.json`` is the only file of a run that holds wall-clock values (notebook start
times and durations, seconds per stage under ``timings``); results, tables and the report
never do.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from haplo_report.params import Params
from haplo_report.paths import PROJECT_ROOT

MANIFEST = "manifest.json"
TIMING_KEYS: tuple[str, ...] = ("start", "duration_s")  # per notebook, wall-clock


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_record(path: Path) -> dict[str, Any]:
    """``{"sha256", "bytes"}`` of one file."""
    return {"sha256": sha256_file(path), "bytes": Path(path).stat().st_size}


def output_records(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Every file under ``run_dir`` but the manifest itself, by relative POSIX path."""
    run_dir = Path(run_dir)
    return {path.relative_to(run_dir).as_posix(): file_record(path)
            for path in sorted(run_dir.rglob("*"))
            if path.is_file() and path.relative_to(run_dir).as_posix() != MANIFEST}


def installed_versions() -> dict[str, str]:
    """Version of every installed distribution, by name."""
    versions = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            versions[name] = dist.version
    return dict(sorted(versions.items(), key=lambda item: item[0].lower()))


def git_state(root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """The suite's commit and whether its tree was clean; says so when git is unavailable."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"],
                              capture_output=True, text=True, check=False)
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain"],
                                capture_output=True, text=True, check=False)
    except OSError:
        return {"commit": None, "clean": None, "note": "git not installed"}
    if head.returncode != 0 or status.returncode != 0:
        return {"commit": None, "clean": None, "note": "not a git checkout"}
    return {"commit": head.stdout.strip(), "clean": status.stdout.strip() == ""}


def build_manifest(params: Params, *, inputs: list[Path], run_dir: Path,
                   notebooks: dict[str, dict[str, Any]], renderer: str | None,
                   report_key: str, suite: dict[str, str], run_key: str = "",
                   timings: dict[str, float] | None = None) -> dict[str, Any]:
    """The manifest of the run folder ``run_dir`` as it is now (hashes every file in it).

    ``run_key``: hash of the run's inputs, parameters, notebooks, formats and suite (a re-run
    with the same key and intact outputs stops before validating); ``timings``: wall-clock
    seconds per stage (validation, derivation, ..., rendering).
    """
    return {
        "study_id": params.study_id,
        "data_cut_date": str(params.data_cut_date),
        "params": params.to_dict(),
        "inputs": {str(path): file_record(path) for path in sorted(inputs)},
        "outputs": output_records(run_dir),
        "python": {"version": platform.python_version(),
                   "implementation": platform.python_implementation()},
        "versions": installed_versions(),
        "suite": suite,
        "git": git_state(),
        "renderer": renderer,
        "report_key": report_key,
        "run_key": run_key,
        "notebooks": notebooks,
        "timings": timings or {},
    }


def without_timing(manifest: dict[str, Any]) -> dict[str, Any]:
    """A copy without wall-clock values: what the report may show, so reports stay identical."""
    notebooks = {name: {k: v for k, v in entry.items() if k not in TIMING_KEYS}
                 for name, entry in manifest.get("notebooks", {}).items()}
    return {**{k: v for k, v in manifest.items() if k != "timings"}, "notebooks": notebooks}


def write_manifest(manifest: dict[str, Any], path: Path) -> None:
    """Write the manifest as JSON with sorted keys."""
    Path(path).write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False)
                          + "\n", encoding="utf-8")


def read_manifest(path: Path) -> dict[str, Any] | None:
    """A manifest written by :func:`write_manifest`, or None when missing or unreadable."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None

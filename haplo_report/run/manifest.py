"""The run manifest: what went in, what came out, with what software, and how each notebook ran.

``manifest.json`` is the only file of a run that holds wall-clock values (notebook start
times and durations, seconds per stage under ``timings``) and the machine's absolute paths
(one field, ``location``); results, tables, notebooks and the report never do. Inputs are
named relative to the parameter file's folder (or the data folder without one), so a run
folder means the same after it was moved or archived.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from haplo_report.environment_lock import lock_state
from haplo_report.params import Params
from haplo_report.paths import MANIFEST, PROJECT_ROOT, TIMING_KEYS
from haplo_report.render import quarto_path


# Installed distributions whose version can change a number, a table, a figure or a notebook's
# HTML copy (nbconvert, and pandoc through pypandoc-binary), and those that render the report.
COMPUTING: tuple[str, ...] = ("pandas", "numpy", "scipy", "lifelines", "matplotlib", "pandera",
                              "pyarrow", "nbconvert", "pypandoc-binary")
RENDERING: tuple[str, ...] = ("pypandoc-binary", "typst", "python-docx")


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


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


@lru_cache(maxsize=1)
def computing_versions() -> dict[str, str]:
    """Python and the versions of the :data:`COMPUTING` distributions (notebook cache keys)."""
    return {"python": platform.python_version(), **{name: _version(name) for name in COMPUTING}}


@lru_cache(maxsize=4)
def toolchain_versions(renderer: str | None) -> dict[str, str]:
    """:func:`computing_versions` plus what renders the report: the pandoc binary, Typst,
    python-docx and, when it renders, Quarto (run key, report key and the manifest)."""
    import pypandoc  # imported here: its import looks for the binary

    versions = {**computing_versions(), **{name: _version(name) for name in RENDERING}}
    try:
        versions["pandoc"] = pypandoc.get_pandoc_version()
    except OSError:
        versions["pandoc"] = "not installed"
    if renderer == "quarto":
        quarto = quarto_path()
        done = subprocess.run([quarto, "--version"], capture_output=True, text=True,
                              check=False) if quarto else None
        versions["quarto"] = done.stdout.strip() if done and done.returncode == 0 else "not installed"
    return dict(sorted(versions.items()))


def relative_name(path: Path, base: Path) -> str:
    """``path`` relative to the folder ``base`` (with ``..`` where needed), POSIX style."""
    return Path(os.path.relpath(Path(path).resolve(), Path(base).resolve())).as_posix()


def input_base(params: Params) -> Path:
    """The folder inputs are named relative to: the parameter file's, else the data folder."""
    return Path(params.source).resolve().parent if params.source else Path(params.data_dir)


def input_records(params: Params, inputs: list[Path]) -> dict[str, dict[str, Any]]:
    """:func:`file_record` of each input file, by its name relative to :func:`input_base`."""
    base = input_base(params)
    return {relative_name(path, base): file_record(path) for path in sorted(inputs)}


def manifest_params(params: Params) -> dict[str, Any]:
    """``params.to_dict()`` with ``data_dir`` relative to :func:`input_base` and without
    ``output_dir`` (where the folder was written says nothing about its content; it is under
    ``location``)."""
    values = params.to_dict()
    values["data_dir"] = relative_name(params.data_dir, input_base(params))
    del values["output_dir"]
    return values


def location(params: Params, run_dir: Path) -> dict[str, str | None]:
    """Where the run happened on this machine (the manifest's one field of absolute paths)."""
    return {"run_dir": str(Path(run_dir).resolve()),
            "output_dir": str(Path(params.output_dir).resolve()),
            "data_dir": str(Path(params.data_dir).resolve()),
            "params_file": str(Path(params.source).resolve()) if params.source else None}


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


def build_manifest(params: Params, *, inputs: list[Path], run_dir: Path, final: Path,
                   notebooks: dict[str, dict[str, Any]], renderer: str | None,
                   report_key: str, suite: dict[str, str], run_id: str, git: dict[str, Any],
                   run_key: str = "", derivation: dict[str, Any] | None = None,
                   timings: dict[str, float] | None = None,
                   run_started: str = "") -> dict[str, Any]:
    """The manifest of the run folder ``run_dir`` as it is now (hashes every file in it);
    ``final``: where the folder is delivered (recorded under ``location``).

    ``run_key``: hash of the run's inputs, parameters, notebooks, formats, suite and
    toolchain (a re-run with the same key and intact outputs stops before validating);
    ``derivation``: the derivation key, the digests of the derived data the notebooks read and
    the files validation and derivation wrote (a re-run with the same derivation key takes
    those files over instead of validating and deriving);
    ``timings``: wall-clock seconds per stage (validation, derivation, ..., rendering);
    ``run_started``: when the run began (UTC, ISO 8601), the run date the report prints.
    """
    return {
        "run_id": run_id,
        "study_id": params.study_id,
        "data_cut_date": str(params.data_cut_date),
        "params": manifest_params(params),
        "params_origins": params.origins,
        "inputs": input_records(params, inputs),
        "location": location(params, final),
        "outputs": output_records(run_dir),
        "python": {"version": platform.python_version(),
                   "implementation": platform.python_implementation()},
        "versions": installed_versions(),
        "environment_lock": lock_state(),
        "toolchain": toolchain_versions(renderer),
        "suite": suite,
        "git": git,
        "renderer": renderer,
        "report_key": report_key,
        "run_key": run_key,
        "derivation": derivation or {},
        "run_started": run_started,
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

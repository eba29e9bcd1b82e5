"""Run keys and notebook cache keys: what lets a run stop early or take a notebook over.

Each notebook's key hashes its source, its injected parameters, the derived data it reads
(ADSL, the ADTTE rows of its endpoints, its other datasets), the suite's code and the versions
of Python and the libraries that compute or write its outputs
(:func:`manifest.computing_versions`): upgrading pandas or lifelines re-executes it. A notebook
whose key matches the previous good run of the same cut is not executed; its executed copy and
outputs are taken over (checked against the previous manifest's hashes). The run key covers
everything a whole run depends on (with the renderers' versions too), so a run with nothing
changed stops before validating. The derivation key covers what validation and derivation
read (the data folder, :data:`DERIVATION_PARAMS`, the suite, the computing versions): a run
whose derivation key matches the previous good run's takes its input tables, derived data and
validation record over, so a parameter read by one notebook costs about that notebook.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import haplo_report
from haplo_report import plan
from haplo_report.params import DERIVATION_PARAMS, Params
from haplo_report.plan import NotebookSpec
from haplo_report.run.manifest import computing_versions, sha256_file, toolchain_versions

if TYPE_CHECKING:  # the derived data's type only: the fast path does not import derivation
    from haplo_report.analysis.derive import Derived


OK_STATUSES: tuple[str, ...] = ("executed", "cached")
ADAM_FILES = "data/adam/"  # the standard outputs made from the derived data alone


@dataclass(frozen=True)
class NotebookJob:
    """One notebook to execute or take over, with its cache key."""

    spec: NotebookSpec
    source: Path
    parameters: dict[str, Any]  # injected, without the path parameters
    key: str
    data: dict[str, str]  # SHA-256 of each piece of derived data it reads

    @property
    def name(self) -> str:
        return self.spec.name


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


def sha256_json(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def data_files(data_dir: Path) -> dict[str, str] | None:
    """SHA-256 of every file in the data folder by name (the readers pick some of them; any
    byte of any file counts); None when the folder or a file cannot be read (the full path
    then reports the problem)."""
    try:
        return {path.name: sha256_file(path)
                for path in sorted(Path(data_dir).iterdir()) if path.is_file()}
    except OSError:
        return None


def run_key(params: Params, data: dict[str, str] | None, *, formats: tuple[str, ...],
            notebooks: tuple[NotebookSpec, ...], notebooks_dir: Path,
            renderer: str | None, compared_with: dict[str, Any] | None = None) -> str | None:
    """SHA-256 of everything a run's outputs depend on, computed before validating: the data
    folder's files (``data``: :func:`data_files`), the parameter files and values, the
    notebooks (plan entries and sources), the formats, the renderer, the earlier run the report
    compares with (``compared_with``), the suite and the toolchain's versions. None when a file
    cannot be read (the full path then reports the problem)."""
    if data is None:
        return None
    try:
        source = [sha256_file(path) for path in params.files] or None
        sources = {spec.name: sha256_file(notebooks_dir / f"{spec.name}.ipynb")
                   for spec in notebooks}
    except OSError:
        return None
    return sha256_json({
        "data": data, "params_file": source,
        "params": {k: v for k, v in params.to_dict().items() if k != "output_dir"},
        "notebooks": [[repr(spec), sources[spec.name]] for spec in notebooks],
        "formats": list(formats), "renderer": renderer, "compared_with": compared_with,
        "suite": suite_fingerprint(), "toolchain": toolchain_versions(renderer),
    })


def derivation_key(params: Params, data: dict[str, str] | None) -> str | None:
    """SHA-256 of what validation and derivation depend on: the data folder's files (``data``:
    :func:`data_files`), :data:`DERIVATION_PARAMS`, the suite and the computing versions;
    None when ``data`` is None."""
    if data is None:
        return None
    values = params.to_dict()
    return sha256_json({"data": data, "params": {name: values[name] for name in DERIVATION_PARAMS},
                        "suite": suite_fingerprint(), "versions": computing_versions()})


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


def digest(value: Any) -> str:
    """SHA-256 of a frame (column names, types, pandas' row hashes) or of a JSON value.

    Row hashes rather than CSV text: at 100,000 patients writing every notebook's data as CSV
    to hash it took most of a minute.
    """
    import pandas as pd  # imported here: a run that finds its report up to date needs no pandas

    if isinstance(value, pd.DataFrame):
        digest = hashlib.sha256(json.dumps([[str(c), str(t)] for c, t in value.dtypes.items()])
                                .encode())
        digest.update(pd.util.hash_pandas_object(value, index=False).to_numpy().tobytes())
        return digest.hexdigest()
    return sha256_json(value)


def data_read_by(spec: NotebookSpec, derived: Derived,
                 known: dict[str, str] | None = None) -> dict[str, str]:
    """SHA-256 of each piece of derived data ``spec`` reads.

    ``known`` keeps digests already computed for other notebooks of the same ``derived``
    (every notebook reads ADSL: at 100,000 patients hashing it eleven times took 1 s).
    """
    known = {} if known is None else known
    names = _data_names(spec)
    if names["adtte"] not in known:
        frame = derived.adtte
        if "*" not in spec.endpoints:
            frame = frame[frame["PARAMCD"].isin(spec.endpoints)]
        known[names["adtte"]] = digest(frame)
    for name in ("adsl", *spec.datasets):
        if name not in known:
            known[name] = digest(getattr(derived, name))
    return {name: known[names[name]] for name in names}


def _data_names(spec: NotebookSpec) -> dict[str, str]:
    """The names under which :func:`data_read_by` keeps the digests of what ``spec`` reads."""
    adtte = "adtte" if "*" in spec.endpoints else "adtte:" + ",".join(sorted(spec.endpoints))
    return {"adsl": "adsl", "adtte": adtte, **{name: name for name in spec.datasets}}


def recorded_data(spec: NotebookSpec, known: dict[str, str]) -> dict[str, str] | None:
    """:func:`data_read_by` from digests recorded by an earlier run (``known``), without the
    data; None when one of them was not recorded."""
    names = _data_names(spec)
    if any(name not in known for name in names.values()):
        return None
    return {name: known[names[name]] for name in names}


def notebook_job(spec: NotebookSpec, params: Params, data: dict[str, str],
                 notebooks_dir: Path) -> NotebookJob:
    """The job of one notebook: its injected parameters and its cache key (``data``: the
    digests of the derived data it reads, :func:`data_read_by`)."""
    values = params.to_dict()
    parameters = {name: values[name] for name in (*plan.COMMON_PARAMS, *spec.params)}
    source = notebooks_dir / f"{spec.name}.ipynb"
    key = sha256_json({"notebook": sha256_file(source), "parameters": parameters, "data": data,
                        "suite": suite_fingerprint(), "versions": computing_versions()})
    return NotebookJob(spec, source, parameters, key, data)


def take_over(job: NotebookJob, previous: dict[str, Any] | None, final: Path,
               build: Path) -> list[str] | None:
    """Copy the previous run's outputs of ``job`` into the build when its key matches."""
    entry = (previous or {}).get("notebooks", {}).get(job.name)
    if not entry or entry.get("status") not in OK_STATUSES or entry.get("cache_key") != job.key:
        return None
    outputs = list(entry.get("outputs") or [])
    return outputs if _copy_intact(outputs, previous, final, build) else None


def derivation_record(previous: dict[str, Any] | None, key: str | None,
                      notebooks: tuple[NotebookSpec, ...]) -> dict[str, Any] | None:
    """The previous good run's ``derivation`` record (key, digests of the derived data, files
    written) when its key is ``key`` and its digests cover the data of every notebook."""
    record = (previous or {}).get("derivation") or {}
    if (key is None or record.get("key") != key or not previous.get("report_key")
            or not record.get("files")):
        return None
    digests = record.get("digests") or {}
    if any(recorded_data(spec, digests) is None for spec in notebooks):
        return None
    return record


def take_over_derivation(previous: dict[str, Any] | None, key: str | None,
                         notebooks: tuple[NotebookSpec, ...], final: Path,
                         build: Path) -> dict[str, Any] | None:
    """Copy the previous run's validation record, input tables and derived data into the
    build when :func:`derivation_record` matches and the files are as recorded; the record."""
    record = derivation_record(previous, key, notebooks)
    if record is None or not _copy_intact(list(record["files"]), previous, final, build):
        return None
    return record


def take_over_adam(previous: dict[str, Any] | None, params: Params, final: Path,
                   build: Path) -> bool:
    """Copy the previous run's ADaM transport files and define.xml (``data/adam/``) into the
    build when they are as recorded and describe the same study title; call only once the
    derivation was taken over (:func:`take_over_derivation`: same derived data, cut, suite
    and computing versions), else they may describe other data. Whether they were copied."""
    if not previous or (previous.get("params") or {}).get("study_title") != params.study_title:
        return False
    files = sorted(name for name in previous.get("outputs", {}) if name.startswith(ADAM_FILES))
    return bool(files) and _copy_intact(files, previous, final, build)


def _copy_intact(relatives: list[str], previous: dict[str, Any], final: Path,
                 build: Path) -> bool:
    """Copy ``relatives`` from ``final`` into ``build`` when each has the SHA-256 the previous
    manifest's outputs record; False (nothing copied) when one is missing or changed."""
    recorded = previous.get("outputs", {})
    for relative in relatives:
        path = final / relative
        if (relative not in recorded or not path.is_file()
                or sha256_file(path) != recorded[relative]["sha256"]):
            return False
    for relative in relatives:
        (build / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(final / relative, build / relative)
    return True


def report_key(entries: dict[str, dict[str, Any]], params: Params, formats: tuple[str, ...],
                renderer: str | None, build: Path) -> str:
    values = {k: v for k, v in params.to_dict().items() if k != "output_dir"}
    return sha256_json({
        "chapters": [[name, entry["cache_key"]] for name, entry in entries.items()],
        "formats": list(formats), "renderer": renderer, "params": values,
        "results": sha256_file(build / "results.csv"),
        "validation": sha256_file(build / "validation.json"), "suite": suite_fingerprint(),
        "comparison": {path.relative_to(build).as_posix(): sha256_file(path)
                       for path in sorted((build / "comparison").rglob("*")) if path.is_file()},
        "toolchain": toolchain_versions(renderer),
    })

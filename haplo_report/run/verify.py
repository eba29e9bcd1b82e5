"""``haplo-report verify RUN_DIR [--reproduce]``: check a delivered run folder against its
manifest, wherever the folder now is.

Three checks, each listing what does not hold:

- files: every file the manifest lists is there with its SHA-256 (missing, changed), and no
  other file is (unlisted; ``manifest.json`` and the verification summary itself excepted:
  neither can list itself);
- environment: Python, every installed distribution, the pandoc/Quarto binaries, the suite and
  the environment lock now, against what the manifest recorded (name and both versions: a
  different version may give different numbers); with ``--reproduce`` the summary says whether
  such a difference can explain what the re-execution found different;
- reproduction (``--reproduce``): the run's derived datasets derived again from the typed input
  tables it kept (``data/input``), and every notebook executed again from the folder's own
  derived data in a temporary folder; derived data, result rows and tables are compared byte for
  byte, a difference named down to the row.

A summary (what was checked, how many files, the result) is written beside the manifest as
``verification.txt``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import nbformat

import haplo_report
from haplo_report.analysis.derive import derive_cut
from haplo_report.data.cut import read_tables
from haplo_report.params import Params
from haplo_report.plan import NotebookSpec
from haplo_report.run import cache
from haplo_report.run.cache import OK_STATUSES, NotebookJob
from haplo_report.run.collect import collect_results
from haplo_report.run.errors import NotebookFailed
from haplo_report.run.execute import METADATA_KEY, execute_all
from haplo_report.environment_lock import installed_versions, lock_state, normalised
from haplo_report.run.manifest import (MANIFEST, computing_versions, read_manifest, sha256_file,
                                       toolchain_versions)
from haplo_report.run.progress import Progress

SUMMARY = "verification.txt"
NOT_LISTED: tuple[str, ...] = (MANIFEST, SUMMARY)  # files no manifest can list
SHOWN_DIFFERENCES = 5  # differing rows named per file
COMPARED_FOLDERS: tuple[str, ...] = ("results", "tables")  # notebook outputs reproduced


class VerifyError(Exception):
    """RUN_DIR is not a run folder (usage); the message is one line for the user."""


@dataclass
class Check:
    """One check: what was checked, whether it holds, and each problem found."""

    name: str
    summary: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return not self.problems


def load_run_manifest(run_dir: Path) -> dict[str, Any]:
    """The manifest of ``run_dir``; :class:`VerifyError` when it is not a run folder."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise VerifyError(f"not a folder: {run_dir}")
    manifest = read_manifest(run_dir / MANIFEST)
    if manifest is None or not isinstance(manifest.get("outputs"), dict):
        raise VerifyError(f"not a run folder: {run_dir / MANIFEST} missing or unreadable")
    return manifest


def check_files(run_dir: Path, manifest: dict[str, Any]) -> Check:
    """Every listed file present with its SHA-256; no unlisted file."""
    run_dir = Path(run_dir)
    listed: dict[str, dict[str, Any]] = manifest["outputs"]
    missing, changed = [], []
    for relative, record in sorted(listed.items()):
        path = run_dir / relative
        if not path.is_file():
            missing.append(relative)
        elif (path.stat().st_size != record.get("bytes")
              or sha256_file(path) != record.get("sha256")):
            changed.append(relative)
    present = {path.relative_to(run_dir).as_posix() for path in run_dir.rglob("*")
               if path.is_file() or path.is_symlink()}
    unlisted = sorted(present - set(listed) - set(NOT_LISTED))
    check = Check("files", f"{len(listed)} files listed in {MANIFEST}: {len(missing)} missing, "
                           f"{len(changed)} changed, {len(unlisted)} unlisted")
    check.problems += [f"missing: {name}" for name in missing]
    check.problems += [f"changed (SHA-256 differs): {name}" for name in changed]
    check.problems += [f"unlisted: {name}" for name in unlisted]
    return check


def check_environment(manifest: dict[str, Any]) -> Check:
    """Python, the computing and rendering libraries and the suite, now against the manifest."""
    renderer = manifest.get("renderer")
    now = {**toolchain_versions(renderer), "haplo-report": haplo_report.__version__,
           "haplo-report code (SHA-256)": cache.suite_fingerprint()["code_sha256"]}
    recorded = dict(manifest.get("toolchain") or {})
    if not recorded:  # a manifest from before toolchain was recorded: its installed versions
        installed = manifest.get("versions") or {}
        recorded = {name: installed.get(name, "not recorded") for name in computing_versions()}
        recorded["python"] = (manifest.get("python") or {}).get("version", "not recorded")
    suite = manifest.get("suite") or {}
    recorded["haplo-report"] = suite.get("version", "not recorded")
    recorded["haplo-report code (SHA-256)"] = suite.get("code_sha256", "not recorded")
    lock = manifest.get("environment_lock") or {}
    recorded["environment lock (SHA-256)"] = lock.get("sha256") or "not recorded"
    now["environment lock (SHA-256)"] = lock_state()["sha256"] or "no lock installed"
    installed_now = installed_versions()
    for name, version in (manifest.get("versions") or {}).items():
        key = normalised(str(name))
        if key not in recorded and key != "haplo-report":
            recorded[key], now[key] = str(version), installed_now.get(key, "not installed")
    for key in sorted(set(installed_now) - set(recorded) - {"haplo-report"}):
        recorded[key], now[key] = "not installed", installed_now[key]
    differ = [f"{name}: run {recorded[name]}, now {now.get(name, 'not installed')}"
              for name in sorted(recorded) if recorded[name] != now.get(name, "not installed")]
    check = Check("environment", f"{len(recorded)} versions compared with {MANIFEST}: "
                                 f"{len(differ)} differ")
    check.problems += [f"version differs: {line}" for line in differ]
    return check


def explain_mismatch(environment: Check, reproduction: Check) -> str | None:
    """Whether the environment can explain what the re-execution found different."""
    if reproduction.holds:
        return None
    if environment.holds:
        return ("the environment is the one the run recorded (same lock, same versions): "
                "software versions do not explain these differences")
    return (f"the environment differs from the run's ({len(environment.problems)} versions): "
            "a different version can explain these differences; re-run in the recorded "
            "environment (the lock named in the manifest) to tell")


def params_from_manifest(values: dict[str, Any]) -> Params:
    """The run's :class:`Params` from the manifest's ``params`` (folders as recorded)."""
    fields = {f.name for f in dataclasses.fields(Params)} - {"source"}
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        if name not in fields:
            continue
        if name in ("data_dir", "output_dir"):
            value = Path(value)
        elif name == "data_cut_date":
            value = dt.date.fromisoformat(value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    return Params(**kwargs)


def _rows(path: Path) -> list[str]:
    """A file's comparable rows: CSV lines, or the cells of every DOCX table row."""
    if path.suffix == ".docx":
        import docx  # imported here: only DOCX tables that differ are read

        return [" | ".join(cell.text for cell in row.cells)
                for table in docx.Document(str(path)).tables for row in table.rows]
    return path.read_text(encoding="utf-8-sig", errors="replace").splitlines()


def compare_file(delivered: Path, reproduced: Path, relative: str) -> list[str]:
    """Nothing when both files hold the same bytes; else each differing row (the first few)."""
    if not reproduced.is_file():
        return [f"{relative}: not written by the re-execution"]
    if not delivered.is_file():
        return [f"{relative}: written by the re-execution, not in the run folder"]
    if delivered.read_bytes() == reproduced.read_bytes():
        return []
    if delivered.suffix not in (".csv", ".docx", ".json", ".md", ".txt"):
        return [f"{relative}: differs"]
    old, new = _rows(delivered), _rows(reproduced)
    header = 1 if delivered.suffix == ".csv" else 0  # CSV rows counted after the header
    lines = []
    for number in range(max(len(old), len(new))):
        was = old[number] if number < len(old) else "(no row)"
        now = new[number] if number < len(new) else "(no row)"
        if was != now:
            where = "header" if number < header else f"row {number + 1 - header}"
            lines.append(f"{relative} {where}: delivered {was!r}, reproduced {now!r}")
    if not lines:
        return [f"{relative}: same rows, different bytes (formatting or file metadata)"]
    more = len(lines) - SHOWN_DIFFERENCES
    return lines[:SHOWN_DIFFERENCES] + ([f"{relative}: ... and {more} more rows"] if more > 0 else [])


def _rederive(run_dir: Path, manifest: dict[str, Any], target: Path) -> tuple[int, list[str]]:
    """Derive the datasets again from ``data/input``; files compared and differences."""
    inputs = run_dir / "data" / "input"
    if not inputs.is_dir():
        return 0, ["data/input: no input tables kept in this run folder; derived data not re-derived"]
    params = params_from_manifest(manifest.get("params") or {})
    derive_cut(read_tables(inputs), params).write(target)
    problems: list[str] = []
    names = sorted(p.name for p in target.iterdir() if p.is_file())
    for name in names:
        problems += compare_file(run_dir / "data" / name, target / name, f"data/{name}")
    return len(names), problems


def _jobs(run_dir: Path, manifest: dict[str, Any]) -> tuple[list[NotebookJob], dict[str, Any]]:
    """The notebooks to execute again (as delivered, with the parameters they ran with)."""
    jobs, run_metadata = [], {}
    for name, entry in manifest.get("notebooks", {}).items():
        if entry.get("status") not in OK_STATUSES:
            continue
        source = run_dir / "notebooks" / f"{name}.ipynb"
        if not source.is_file():
            continue  # reported missing by the files check
        metadata = nbformat.read(source, as_version=4).metadata
        ran = metadata.get(METADATA_KEY, {})
        parameters = {k: v for k, v in metadata.get("papermill", {}).get("parameters", {}).items()
                      if k not in ("data_dir", "out_dir")}
        run_metadata = {k: ran.get(k) for k in ("run_id", "suite_version", "git_commit",
                                                  "input_sha256")}
        jobs.append(NotebookJob(NotebookSpec(name, name, ""), source, parameters,
                                entry.get("cache_key", ""), ran.get("data_sha256", {})))
    return jobs, run_metadata


def reproduce(run_dir: Path, manifest: dict[str, Any], *, jobs: int = 1,
              stream: TextIO | None = None) -> Check:
    """Derive again and execute every notebook again in a temporary folder; compare."""
    run_dir = Path(run_dir)
    check = Check("reproduction")
    with tempfile.TemporaryDirectory(prefix="haplo-report-verify-") as temporary:
        work = Path(temporary)
        derived_files, check.problems = _rederive(run_dir, manifest, work / "rederived")
        shutil.copytree(run_dir / "data", work / "data")
        todo, run_metadata = _jobs(run_dir, manifest)
        progress = Progress(len(todo), stream if stream is not None else io.StringIO())
        entries, failures = execute_all(todo, work, jobs, progress, run_metadata)
        progress.close()
        check.problems += failures
        compared = 0
        if not failures:
            for job in todo:
                written = [*manifest["notebooks"][job.name].get("outputs", []),
                           *entries[job.name]["outputs"]]
                for relative in sorted({rel for rel in written
                                        if rel.split("/")[0] in COMPARED_FOLDERS}):
                    compared += 1
                    check.problems += compare_file(run_dir / relative, work / relative, relative)
            try:
                collect_results([job.name for job in todo], work)
                compared += 1
                check.problems += compare_file(run_dir / "results.csv", work / "results.csv",
                                               "results.csv")
            except NotebookFailed as exc:
                check.problems.append(str(exc))
    check.summary = (f"{derived_files} derived data files derived again from data/input, "
                     f"{len(todo)} notebooks executed again, {compared} result and table files "
                     f"compared byte for byte: {len(check.problems)} differences")
    return check


def verify(run_dir: Path, *, reproduce_notebooks: bool = False, jobs: int = 1,
           stream: TextIO | None = None) -> tuple[list[Check], str]:
    """Every check of ``run_dir`` (reproduction only when asked) and the summary, written to
    ``verification.txt`` beside the manifest when the folder is writable (else said in it)."""
    run_dir = Path(run_dir)
    manifest = load_run_manifest(run_dir)
    checks = [check_files(run_dir, manifest), check_environment(manifest)]
    if reproduce_notebooks:
        reproduction = reproduce(run_dir, manifest, jobs=jobs, stream=stream)
        explanation = explain_mismatch(checks[1], reproduction)
        if explanation:
            reproduction.problems.append(explanation)
        checks.append(reproduction)
    text = summary_text(manifest, checks)
    try:
        (run_dir / SUMMARY).write_text(text, encoding="utf-8")
    except OSError as exc:
        text += f"(not written to {run_dir / SUMMARY}: {exc.strerror or exc})\n"
    return checks, text


def summary_text(manifest: dict[str, Any], checks: list[Check]) -> str:
    """The verification summary: the run, each check's line and result, the overall result."""
    held = all(check.holds for check in checks)
    lines = [f"Verification of run {manifest.get('run_id', 'unknown')} "
             f"({manifest.get('study_id')}, data cut {manifest.get('data_cut_date')})",
             f"by haplo-report {haplo_report.__version__} on "
             f"{dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}", ""]
    for check in checks:
        lines.append(f"{check.name}: {check.summary}: {'holds' if check.holds else 'FAILS'}")
        lines += [f"  {problem}" for problem in check.problems]
    if not any(check.name == "reproduction" for check in checks):
        lines.append("reproduction: not requested (haplo-report verify --reproduce)")
    lines += ["", f"result: {'VERIFIED' if held else 'NOT VERIFIED'}"]
    return "\n".join(lines) + "\n"


__all__ = ["Check", "SUMMARY", "VerifyError", "check_environment", "check_files",
           "compare_file", "explain_mismatch", "load_run_manifest", "params_from_manifest", "reproduce",
           "summary_text", "verify"]

"""``haplo-report verify RUN_DIR [--reproduce] [--public-key KEY]``: check a delivered run
folder against its manifest, wherever the folder now is.

The folder is opened through :class:`CheckedFolder` (data/run_folder.py): the manifest checked
against its schema before use, no path outside the folder and no link followed, no device or
FIFO read, Parquet footers checked before a row is read; nothing from the folder is executed.
Checks, each listing what does not hold:

- files: every file the manifest lists is there with its SHA-256 (missing, changed), and no
  other file is (unlisted; ``manifest.json``, its signature and the verification summary
  itself excepted: none can list itself); a listed name outside the folder and every link are
  findings, never hashed or followed;
- environment: Python, every installed distribution, the pandoc/Quarto binaries, the suite and
  the environment lock now, against what the manifest recorded (name and both versions: a
  different version may give different numbers); with ``--reproduce`` the summary says whether
  such a difference can explain what the re-execution found different;
- signature (``--public-key``): ``manifest.json.sig`` is an Ed25519 signature of
  ``manifest.json`` by that key (run/signing.py), so an edit of a file and of its hash is caught;
- reproduction (``--reproduce``): the run's derived datasets derived again from the typed input
  tables it kept (``data/input``), and every notebook executed again in a temporary folder from
  the folder's own derived data; the notebooks executed are this installed suite's own
  (``notebooks/`` of haplo-report), never the folder's copies: a folder's notebook whose code
  differs from the suite's is named and not executed. Derived data, result rows and tables are
  compared byte for byte, a difference named down to the row; figures by their content (PNG:
  the decoded pixels; SVG: the drawing's elements and attributes, ids aside), see
  :func:`compare_file`.

A summary (what was checked, how many files, what was not covered, the result) is written
beside the manifest as ``verification.txt`` (a new file moved over the name: never written
through a link).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import haplo_report
from haplo_report.data.cut import REQUIRED_TABLES, TABLES, Cut
from haplo_report.data.run_folder import CheckedFolder, RunFolderError, parse_json
from haplo_report.environment_lock import installed_versions, lock_state, normalised
from haplo_report.params import Params, shown
from haplo_report.paths import NOTEBOOKS_DIR
from haplo_report.plan import NOTEBOOKS
from haplo_report.run import cache
from haplo_report.run.cache import OK_STATUSES, NotebookJob
from haplo_report.run.errors import NotebookFailed
from haplo_report.run.manifest import MANIFEST, computing_versions, toolchain_versions
from haplo_report.run.progress import Progress
from haplo_report.run.signing import SIGNATURE, signature_problem

SUMMARY = "verification.txt"
NOT_LISTED: tuple[str, ...] = (MANIFEST, SUMMARY, SIGNATURE)  # files no manifest can list
SHOWN_DIFFERENCES = 5  # differing rows named per file
COMPARED_FOLDERS: tuple[str, ...] = ("results", "tables", "figures", "narratives")  # reproduced
MAX_NOTEBOOK_BYTES = 512 << 20  # an executed notebook embeds its figures
# What --reproduce does not cover, said in every summary that reproduced.
NOT_COVERED: tuple[str, ...] = (
    "the raw export files named under inputs in manifest.json lie outside the folder: their "
    "hashes are not checked again; the run is re-derived from the validated input tables it "
    "kept (data/input)",
    "the report (HTML, DOCX, PDF), the notebook HTML copies, the executed notebooks, XPT, "
    "define.xml and ARS JSON are checked by SHA-256 only, not made again",
    "the manifest itself is protected only by a signature (--public-key)",
)


class VerifyError(Exception):
    """RUN_DIR is not a run folder (usage); the message is one line for the user."""


@dataclass
class Check:
    """One check: what was checked, whether it holds, and each problem found."""

    name: str
    summary: str = ""
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what it covered and did not cover

    @property
    def holds(self) -> bool:
        return not self.problems


def open_folder(run_dir: Path) -> tuple[CheckedFolder, dict[str, Any]]:
    """The folder and its checked manifest; :class:`VerifyError` when it is not a run folder."""
    try:
        folder = CheckedFolder.at(run_dir)
        manifest = folder.manifest()
    except RunFolderError as exc:
        raise VerifyError(str(exc)) from None
    if "outputs" not in manifest:
        raise VerifyError(f"not a run folder: {folder.where(MANIFEST)} lists no outputs")
    return folder, manifest


def load_run_manifest(run_dir: Path) -> dict[str, Any]:
    """The checked manifest of ``run_dir``; :class:`VerifyError` when it is not a run folder."""
    return open_folder(run_dir)[1]


def check_files(run_dir: Path, manifest: dict[str, Any]) -> Check:
    """Every listed file present with its SHA-256; no unlisted file; no link, nothing outside."""
    folder = CheckedFolder.at(run_dir)
    listed: dict[str, dict[str, Any]] = manifest["outputs"]
    present, findings = folder.walk()
    missing, changed, outside, folders = [], [], [], []
    for relative, record in sorted(listed.items()):
        try:
            folder.path(relative)
        except RunFolderError as exc:
            if "a link" not in str(exc):  # links: found by the walk
                outside.append(shown(relative))
            continue
        if relative not in present:
            if not folder.exists(relative):
                missing.append(relative)
            elif folder.path(relative).is_dir():  # devices and FIFOs: found by the walk
                folders.append(relative)
            continue
        try:
            now = folder.file_record(relative)
        except RunFolderError:
            missing.append(relative)
            continue
        if now != {"sha256": record["sha256"], "bytes": record["bytes"]}:
            changed.append(relative)
    unlisted = sorted(set(present) - set(listed) - set(NOT_LISTED))
    check = Check("files", f"{len(listed)} files listed in {MANIFEST}: {len(missing)} missing, "
                           f"{len(changed)} changed, {len(unlisted)} unlisted, "
                           f"{len(findings) + len(outside)} links or names outside the folder")
    check.problems += [f"listed outside the run folder (not hashed): {name}" for name in outside]
    check.problems += findings
    check.problems += [f"a folder, not a file: {name}" for name in folders]
    check.problems += [f"missing: {name}" for name in missing]
    check.problems += [f"changed (SHA-256 differs): {name}" for name in changed]
    check.problems += [f"unlisted: {name}" for name in unlisted]
    return check


def _plain(text: Any) -> str:
    """Text from a manifest on one line: as it is when printable, else quoted and cut short."""
    return text if isinstance(text, str) and text.isprintable() and len(text) <= 200 \
        else shown(text)


def check_environment(manifest: dict[str, Any]) -> Check:
    """Python, the computing and rendering libraries and the suite, now against the manifest."""
    renderer = manifest.get("renderer")
    now = {**toolchain_versions(renderer if renderer == "quarto" else None),
           "haplo-report": haplo_report.__version__,
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
    differ = [f"{_plain(name)}: run {_plain(recorded[name])}, now "
              f"{_plain(now.get(name, 'not installed'))}"
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


def check_signature(folder: CheckedFolder, public_key: Any) -> Check:
    """``manifest.json.sig`` against ``public_key`` (:func:`signing.signature_problem`)."""
    from haplo_report.run.signing import key_id

    check = Check("signature", f"{SIGNATURE} checked with public key {key_id(public_key)}")
    problem = signature_problem(folder, public_key)
    if problem:
        check.problems.append(problem)
    return check


def _rows(path: Path) -> list[str]:
    """A file's comparable rows: CSV lines, or the cells of every DOCX table row."""
    if path.suffix == ".docx":
        import docx  # imported here: only DOCX tables that differ are read

        return [" | ".join(cell.text for cell in row.cells)
                for table in docx.Document(str(path)).tables for row in table.rows]
    return path.read_text(encoding="utf-8-sig", errors="replace").splitlines()


def same_figure(delivered: Path, reproduced: Path) -> bool | None:
    """Whether two figure files draw the same figure: PNG by their decoded RGBA pixels (file
    metadata and compression aside), SVG by every drawing element with its attributes and text
    (ids, which matplotlib derives from a hash salt, and metadata aside); None: not a figure."""
    if delivered.suffix == ".png":
        import numpy as np
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(delivered) as old, Image.open(reproduced) as new:
                return bool(old.size == new.size and np.array_equal(
                    np.asarray(old.convert("RGBA")), np.asarray(new.convert("RGBA"))))
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
            return False
    if delivered.suffix == ".svg":
        return _svg_drawing(delivered) == _svg_drawing(reproduced) is not None
    return None


def _svg_drawing(path: Path) -> list[tuple[str, tuple[tuple[str, str], ...], str]] | None:
    """The elements of an SVG in document order (tag, attributes, text), every id and every
    reference to one renamed by its order of appearance (matplotlib derives ids from a salt)."""
    import re

    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.parse(str(path), parser).getroot()
    except (etree.XMLSyntaxError, OSError):
        return None
    elements = [e for e in root.iter() if isinstance(e.tag, str)
                and not e.tag.endswith("metadata")]
    ids = {e.get("id"): f"id{n}" for n, e in enumerate(elements) if e.get("id")}
    reference = re.compile(r"#([^)\s\"']+)")

    def canonical(value: str) -> str:
        return reference.sub(lambda m: "#" + ids.get(m.group(1), m.group(1)), value)

    return [(e.tag, tuple(sorted((k, ids.get(v, v) if k == "id" else canonical(v))
                                 for k, v in e.attrib.items())), (e.text or "").strip())
            for e in elements]


def compare_file(delivered: Path, reproduced: Path, relative: str) -> list[str]:
    """Nothing when both files hold the same bytes (or, for a figure, draw the same figure:
    :func:`same_figure`); else each differing row (the first few)."""
    if not reproduced.is_file():
        return [f"{relative}: not written by the re-execution"]
    if not delivered.is_file():
        return [f"{relative}: written by the re-execution, not in the run folder"]
    if delivered.read_bytes() == reproduced.read_bytes():
        return []
    figure = same_figure(delivered, reproduced)
    if figure is not None:
        return [] if figure else [f"{relative}: the figure differs (content compared)"]
    if delivered.suffix not in (".csv", ".docx", ".json", ".md", ".txt"):
        return [f"{relative}: differs"]
    try:
        old, new = _rows(delivered), _rows(reproduced)
    except Exception:  # noqa: BLE001 - a delivered DOCX may be anything: it differs
        return [f"{relative}: differs (not readable as {delivered.suffix})"]
    header = 1 if delivered.suffix == ".csv" else 0  # CSV rows counted after the header
    lines = []
    for number in range(max(len(old), len(new))):
        was = old[number] if number < len(old) else "(no row)"
        now = new[number] if number < len(new) else "(no row)"
        if was != now:
            where = "header" if number < header else f"row {number + 1 - header}"
            lines.append(f"{relative} {where}: delivered {was[:300]!r}, reproduced {now[:300]!r}")
    if not lines:
        return [f"{relative}: same rows, different bytes (formatting or file metadata)"]
    more = len(lines) - SHOWN_DIFFERENCES
    return lines[:SHOWN_DIFFERENCES] + ([f"{relative}: ... and {more} more rows"] if more > 0 else [])


def kept_inputs(folder: CheckedFolder) -> Cut:
    """The validated input tables the run kept (``data/input``), each checked first."""
    tables = {name: folder.input_table(name) for name in TABLES}
    missing = [name for name in REQUIRED_TABLES if tables[name] is None]
    if missing:
        raise RunFolderError(f"{folder.where('data/input')}: input table(s) not kept: "
                             f"{', '.join(missing)}")
    return Cut(**tables, files={name: folder.root / "data" / "input" / f"{name}.parquet"
                                for name, frame in tables.items() if frame is not None})


def _copy_data(folder: CheckedFolder, files: list[str], target: Path) -> None:
    """The folder's ``data/`` (regular files only, each opened without following a link) into
    ``target``; every Parquet footer checked first."""
    for relative in files:
        if not relative.startswith("data/"):
            continue
        if relative.endswith(".parquet"):
            folder.parquet(relative, columns=[])
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, _ = folder.open(relative)
        with open(fd, "rb") as source, path.open("wb") as copy:
            shutil.copyfileobj(source, copy)


def _rederive(folder: CheckedFolder, params: Params, target: Path) -> tuple[int, list[str]]:
    """Derive the datasets again from ``data/input``; files compared and differences."""
    from haplo_report.analysis.derive import derive_cut

    derive_cut(kept_inputs(folder), params).write(target)
    problems: list[str] = []
    names = sorted(p.name for p in target.iterdir() if p.is_file())
    for name in names:
        problems += _compare_in(folder, target / name, f"data/{name}")
    return len(names), problems


def _compare_in(folder: CheckedFolder, reproduced: Path, relative: str) -> list[str]:
    """:func:`compare_file` of the folder's ``relative`` (checked: inside, no link, regular)."""
    try:
        delivered = folder.path(relative)
        if folder.exists(relative):
            os.close(folder.open(relative)[0])  # a regular file, not through a link
    except RunFolderError as exc:
        return [str(exc)]
    return compare_file(delivered, reproduced, relative)


def notebook_code(cells: Any) -> list[tuple[str, str]] | None:
    """A notebook's code: each cell's type and source, papermill's injected cell aside (None:
    not a notebook's cells)."""
    if not isinstance(cells, list):
        return None
    code = []
    for cell in cells:
        if not isinstance(cell, dict):
            return None
        tags = (cell.get("metadata") or {}).get("tags") if isinstance(cell.get("metadata"),
                                                                       dict) else None
        if isinstance(tags, list) and "injected-parameters" in tags:
            continue
        source = cell.get("source")
        source = "".join(source) if isinstance(source, list) and all(
            isinstance(line, str) for line in source) else source
        if not isinstance(source, str) or not isinstance(cell.get("cell_type"), str):
            return None
        code.append((cell["cell_type"], source))
    return code


def _jobs(folder: CheckedFolder, manifest: dict[str, Any], params: Params
          ) -> tuple[list[NotebookJob], list[str]]:
    """The suite's own notebooks to execute again, with the parameters the run injected, and
    why any notebook of the run is not executed."""
    specs = {spec.name: spec for spec in NOTEBOOKS}
    jobs, refused = [], []
    for name, entry in manifest.get("notebooks", {}).items():
        if entry.get("status") not in OK_STATUSES:
            continue
        if name not in specs:
            refused.append(f"notebooks/{name}: not a notebook of haplo-report "
                           f"{haplo_report.__version__}: not executed")
            continue
        installed = NOTEBOOKS_DIR / f"{name}.ipynb"
        relative = f"notebooks/{name}.ipynb"
        try:
            delivered = parse_json(folder.read_bytes(relative, MAX_NOTEBOOK_BYTES),
                                   folder.where(relative))
        except RunFolderError as exc:
            refused.append(f"{exc}: not executed")
            continue
        own = json.loads(installed.read_text(encoding="utf-8"))
        if notebook_code(delivered.get("cells") if isinstance(delivered, dict) else None) \
                != notebook_code(own["cells"]):
            refused.append(f"{relative}: its code differs from haplo-report "
                           f"{haplo_report.__version__}'s notebook: not executed (verify never "
                           "runs code from the folder)")
            continue
        jobs.append(cache.notebook_job(specs[name], params, {}, NOTEBOOKS_DIR))
    return jobs, refused


def _run_metadata(manifest: dict[str, Any]) -> dict[str, Any]:
    return {"run_id": manifest.get("run_id"),
            "suite_version": (manifest.get("suite") or {}).get("version"),
            "git_commit": (manifest.get("git") or {}).get("commit"),
            "git_clean": (manifest.get("git") or {}).get("clean"),
            "data_cut_date": manifest.get("data_cut_date")}


def reproduce(run_dir: Path, manifest: dict[str, Any], *, jobs: int = 1,
              stream: TextIO | None = None) -> Check:
    """Derive again and execute the suite's notebooks again in a temporary folder; compare."""
    from haplo_report.run.collect import collect_results
    from haplo_report.run.execute import execute_all

    folder = CheckedFolder.at(run_dir)
    check = Check("reproduction", notes=[f"not covered: {note}" for note in NOT_COVERED])
    try:
        params = folder.params(manifest)
    except RunFolderError as exc:
        check.problems.append(f"not reproduced: {exc}")
        check.summary = "nothing derived or executed again"
        return check
    files, _ = folder.walk()
    with tempfile.TemporaryDirectory(prefix="haplo-report-verify-") as temporary:
        work = Path(temporary)
        try:
            _copy_data(folder, files, work)
            derived_files, check.problems = _rederive(folder, params, work / "rederived")
        except RunFolderError as exc:
            check.problems.append(f"not reproduced: {exc}")
            check.summary = "nothing derived or executed again"
            return check
        todo, refused = _jobs(folder, manifest, params)
        check.problems += refused
        progress = Progress(len(todo), stream if stream is not None else io.StringIO())
        entries, failures = execute_all(todo, work, jobs, progress, _run_metadata(manifest))
        progress.close()
        check.problems += failures
        compared, figures, drawn = 0, 0, []
        if not failures:
            for job in todo:
                written = [*manifest["notebooks"][job.name].get("outputs", []),
                           *entries[job.name]["outputs"]]
                for relative in sorted({rel for rel in written
                                        if rel.split("/")[0] in COMPARED_FOLDERS}):
                    compared += 1
                    if relative.startswith("figures/"):
                        figures += 1
                        drawn.append(relative.removeprefix("figures/"))
                    check.problems += _compare_in(folder, work / relative, relative)
            if not refused:
                try:
                    collect_results([job.name for job in todo], work)
                    compared += 1
                    check.problems += _compare_in(folder, work / "results.csv", "results.csv")
                except NotebookFailed as exc:
                    check.problems.append(str(exc))
    if drawn:
        check.notes.insert(0, f"figures re-drawn and compared: {', '.join(sorted(drawn))}")
    check.summary = (f"{derived_files} derived data files derived again from data/input, "
                     f"{len(todo)} of haplo-report's own notebooks executed again, "
                     f"{compared - figures} result, table and narrative files compared byte "
                     f"for byte and {figures} figures re-drawn and compared by content (PNG "
                     f"pixels, SVG drawing): {len(check.problems)} differences")
    return check


def verify(run_dir: Path, *, reproduce_notebooks: bool = False, jobs: int = 1,
           stream: TextIO | None = None, public_key: Any = None) -> tuple[list[Check], str]:
    """Every check of ``run_dir`` (the signature with ``public_key``, reproduction when asked)
    and the summary, written to ``verification.txt`` beside the manifest when the folder is
    writable (else said in it)."""
    folder, manifest = open_folder(run_dir)
    checks = [check_files(folder.root, manifest), check_environment(manifest)]
    if public_key is not None:
        checks.append(check_signature(folder, public_key))
    if reproduce_notebooks:
        reproduction = reproduce(folder.root, manifest, jobs=jobs, stream=stream)
        explanation = explain_mismatch(checks[1], reproduction)
        if explanation:
            reproduction.problems.append(explanation)
        checks.append(reproduction)
    text = summary_text(manifest, checks)
    try:
        folder.write_text(SUMMARY, text)
    except (OSError, RunFolderError) as exc:
        text += f"(not written to {folder.root / SUMMARY}: {getattr(exc, 'strerror', None) or exc})\n"
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
        lines += [f"  {note}" for note in check.notes]
    if not any(check.name == "signature" for check in checks):
        lines.append("signature: not checked (haplo-report verify --public-key KEY)")
    if not any(check.name == "reproduction" for check in checks):
        lines.append("reproduction: not requested (haplo-report verify --reproduce)")
    lines += ["", f"result: {'VERIFIED' if held else 'NOT VERIFIED'}"]
    return "\n".join(lines) + "\n"


__all__ = ["Check", "SUMMARY", "VerifyError", "check_environment", "check_files",
           "check_signature", "compare_file", "explain_mismatch", "kept_inputs",
           "load_run_manifest", "notebook_code", "open_folder", "reproduce", "same_figure",
           "summary_text", "verify"]

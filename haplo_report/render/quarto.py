"""Render the report document with Quarto (>= 1.9), when installed.

Quarto reads a folder's ``_quarto.yml`` only when no folder of the document's absolute path
starts with a dot (quarto-cli #3186, ``kSkipHidden``); otherwise it renders the document as a
lone file, without any of the project's options (embedded resources, Word reference document,
Typst template partials), and still exits 0. A run builds in ``.<cut>.build/`` and a user's
output folder may lie under a hidden folder too, so Quarto renders a copy of the document in a
temporary folder whose path has no hidden part (checked before rendering). Each file is
accepted only when it is what the suite promises (:mod:`.acceptance`), then moved into the
run's report folder; the Word file gets the suite's table layout (:func:`finish_docx`).

Cost: ``quarto render report.qmd --to all`` renders every format the folder's ``_quarto.yml``
lists in ONE process (Quarto starts once, ~1 s of CPU; a comma list is not accepted by
``--to``). The formats are split into as many groups as there are cores, each group one
process in its own copy of the document, all at once: on 2 cores the PDF (the costliest
format) in one and HTML + Word in the other.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from haplo_report.render import quarto_path
from haplo_report.render.acceptance import docx_problem, html_problem, pdf_problem
from haplo_report.render.document import REFERENCE_DOCX, ReportDocument
from haplo_report.render.word import finish_docx

# Report format -> Quarto format name (the key under ``format:`` in _quarto.yml).
QUARTO_FORMATS: dict[str, str] = {"html": "html", "docx": "docx", "pdf": "typst"}
# CPU seconds each format's share of a Quarto render took on the example cut (measured: html
# 4.0, docx 3.5, typst 4.6, plus ~1.1 s per Quarto process): the groups are balanced by them.
FORMAT_COST: dict[str, float] = {"pdf": 4.6, "html": 4.0, "docx": 3.5}
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
ERROR_LINES = 8  # lines of Quarto's own error message kept in ours
LOG = "quarto.log"  # a group's Quarto messages, beside its copy of the document
TYPST_SOURCE = "report.typ"  # kept (keep-typ) to check the PDF's template


class QuartoRenderError(RuntimeError):
    """``quarto render`` failed or wrote something the suite does not accept; the message
    names the problem (with Quarto's own last error lines when it failed)."""


def hidden_part(path: Path) -> str | None:
    """The first folder of ``path``'s absolute form whose name starts with a dot, or None."""
    return next((part for part in Path(path).resolve().parts[1:] if part.startswith(".")),
                None)


def render_folder() -> Path:
    """A new temporary folder whose path has no hidden part (Quarto reads its settings
    there); :class:`QuartoRenderError` when the system's temporary folder lies in one."""
    folder = Path(tempfile.mkdtemp(prefix="haplo-report-quarto-"))
    hidden = hidden_part(folder)
    if hidden is not None:
        shutil.rmtree(folder, ignore_errors=True)
        raise QuartoRenderError(
            f"Quarto cannot render in {folder.parent}: its folder {hidden!r} is hidden, and "
            "Quarto ignores the report's settings there; set TMPDIR to a folder without a "
            "hidden part, or use --renderer pandoc")
    return folder


def cores() -> int:
    """Processors this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def format_groups(formats: tuple[str, ...], processes: int) -> list[tuple[str, ...]]:
    """``formats`` in at most ``processes`` groups of about equal cost (the costliest format
    first, each into the cheapest group so far); every group keeps the order of ``formats``."""
    groups: list[list[str]] = [[] for _ in range(max(1, min(processes, len(formats))))]
    for report_format in sorted(formats, key=lambda f: -FORMAT_COST.get(f, 0.0)):
        cheapest = min(groups, key=lambda g: sum(FORMAT_COST.get(f, 0.0) for f in g))
        cheapest.append(report_format)
    return [tuple(f for f in formats if f in group) for group in groups if group]


def quarto_command() -> list[str]:
    """The command line rendering every format of the folder's _quarto.yml (never executing
    code)."""
    return [quarto_path() or "quarto", "render", "report.qmd", "--to", "all", "--no-execute"]


def quarto_environment(document: ReportDocument) -> dict[str, str]:
    """Environment for Quarto: this Python, the data cut as the only creation time, and no
    colour codes in its messages."""
    return {**os.environ, "QUARTO_PYTHON": sys.executable,
            "SOURCE_DATE_EPOCH": str(document.epoch), "NO_COLOR": "1"}


def group_config(config: dict[str, Any], group: tuple[str, ...]) -> dict[str, Any]:
    """The document's _quarto.yml with only the formats of ``group`` (what ``--to all``
    renders), the Typst source kept for :func:`pdf_problem`."""
    formats = config.get("format") or {}
    chosen = {QUARTO_FORMATS[f]: dict(formats.get(QUARTO_FORMATS[f]) or {}) for f in group}
    if "typst" in chosen:
        chosen["typst"]["keep-typ"] = True
    return {**config, "format": chosen}


def error_lines(stderr: str, limit: int = ERROR_LINES) -> str:
    """Quarto's error as its own last lines: escape codes removed, progress lines before the
    first line that names an error dropped, at most ``limit`` lines."""
    lines = [line.rstrip() for line in ANSI_ESCAPE.sub("", stderr).splitlines() if line.strip()]
    marks = [i for i, line in enumerate(lines) if re.search(r"\berror\b", line, re.I)]
    if marks:
        lines = lines[marks[0]:]
    return "\n".join(lines[-limit:]) or "no message"


def _render_groups(document: ReportDocument, groups: list[tuple[str, ...]],
                   work: Path) -> list[Path]:
    """One Quarto process per group, each in its own copy of the document under ``work``,
    all at once; the copies' folders, once every process has ended."""
    folders = []
    processes: list[subprocess.Popen] = []
    try:
        for index, group in enumerate(groups):
            folder = work / f"{index}"
            shutil.copytree(document.folder, folder)
            (folder / "_quarto.yml").write_text(
                yaml.safe_dump(group_config(document.config, group), sort_keys=False,
                               allow_unicode=True), encoding="utf-8")
            with (work / f"{index}.{LOG}").open("wb") as log:
                processes.append(subprocess.Popen(quarto_command(), cwd=folder,
                                                  env=quarto_environment(document),
                                                  stdout=log, stderr=subprocess.STDOUT))
            folders.append(folder)
        for process in processes:
            process.wait()
    finally:  # an interrupt or a failed start leaves no Quarto running
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    for index, (group, process) in enumerate(zip(groups, processes)):
        built = [folders[index] / f"report.{f}" for f in group]
        if process.returncode != 0 or not all(path.is_file() for path in built):
            log = (work / f"{index}.{LOG}").read_text(encoding="utf-8", errors="replace")
            raise QuartoRenderError(f"quarto render of the {', '.join(group)} report "
                                    f"failed:\n{error_lines(log)}")
    return folders


def _problem(report_format: str, built: Path, document: ReportDocument) -> str | None:
    if report_format == "html":
        return html_problem(built)
    if report_format == "docx":
        return docx_problem(built, document.folder / REFERENCE_DOCX)
    return pdf_problem(built, built.with_name(TYPST_SOURCE))


def render_quarto(document: ReportDocument, formats: tuple[str, ...],
                  out_dir: Path) -> dict[str, Path]:
    """Render ``formats`` of ``document`` with Quarto outside any hidden folder, check each
    file and move it into ``out_dir`` (:class:`QuartoRenderError` naming what is wrong)."""
    unknown = [f for f in formats if f not in QUARTO_FORMATS]
    if unknown:
        raise QuartoRenderError(f"unknown report format {unknown[0]!r} "
                                f"(known: {', '.join(QUARTO_FORMATS)})")
    out_dir.mkdir(parents=True, exist_ok=True)
    groups = format_groups(tuple(formats), cores())
    work = render_folder()
    try:
        folders = _render_groups(document, groups, work)
        outputs: dict[str, Path] = {}
        for group, folder in zip(groups, folders):
            for report_format in group:
                built = folder / f"report.{report_format}"
                problem = _problem(report_format, built, document)
                if problem is not None:
                    raise QuartoRenderError(f"Quarto's output refused: {problem}")
                target = out_dir / f"{document.output_stem}.{report_format}"
                shutil.move(built, target)
                outputs[report_format] = target
        if "docx" in outputs:
            finish_docx(outputs["docx"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {f: outputs[f] for f in formats}

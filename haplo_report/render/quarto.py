"""Render the report document with Quarto (>= 1.9), when installed: ``quarto render
report.qmd --to <format>`` in the document folder, one format at a time.

The document is a single ``.qmd`` in a folder whose ``_quarto.yml`` has ``project: type:
default``, so each format is one file next to it (``report.html`` self-contained,
``report.docx``, ``report.pdf``); nothing is executed (``--no-execute``: the document holds
no code cells anyway).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from haplo_report.render import quarto_path
from haplo_report.render.document import ReportDocument
from haplo_report.render.word import finish_docx

# Report format -> Quarto format name (the key under ``format:`` in _quarto.yml).
QUARTO_FORMATS: dict[str, str] = {"html": "html", "docx": "docx", "pdf": "typst"}
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
ERROR_LINES = 8  # lines of Quarto's own error message kept in ours


class QuartoRenderError(RuntimeError):
    """``quarto render`` failed; the message carries Quarto's own last error lines."""


def quarto_command(document: ReportDocument, report_format: str) -> list[str]:
    """The command line rendering one format of the document (never executing code)."""
    return [quarto_path() or "quarto", "render", document.source.name,
            "--to", QUARTO_FORMATS[report_format], "--no-execute"]


def quarto_environment(document: ReportDocument) -> dict[str, str]:
    """Environment for Quarto: this Python, the data cut as the only creation time, and no
    colour codes in its messages."""
    return {**os.environ, "QUARTO_PYTHON": sys.executable,
            "SOURCE_DATE_EPOCH": str(document.epoch), "NO_COLOR": "1"}


def error_lines(stderr: str, limit: int = ERROR_LINES) -> str:
    """Quarto's error as its own last lines: escape codes removed, progress lines before the
    first line that names an error dropped, at most ``limit`` lines."""
    lines = [line.rstrip() for line in ANSI_ESCAPE.sub("", stderr).splitlines() if line.strip()]
    marks = [i for i, line in enumerate(lines) if re.search(r"\berror\b", line, re.I)]
    if marks:
        lines = lines[marks[0]:]
    return "\n".join(lines[-limit:]) or "no message"


def render_quarto(document: ReportDocument, formats: tuple[str, ...],
                  out_dir: Path) -> dict[str, Path]:
    """Render each format with ``quarto render`` and move the file into ``out_dir``."""
    unknown = [f for f in formats if f not in QUARTO_FORMATS]
    if unknown:
        raise QuartoRenderError(f"unknown report format {unknown[0]!r} "
                                f"(known: {', '.join(QUARTO_FORMATS)})")
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs: dict[str, Path] = {}
    for report_format in formats:
        proc = subprocess.run(quarto_command(document, report_format), cwd=document.folder,
                              env=quarto_environment(document), capture_output=True,
                              text=True, check=False)
        built = document.source.with_suffix(f".{report_format}")
        if proc.returncode != 0 or not built.is_file():
            raise QuartoRenderError(f"quarto render --to {QUARTO_FORMATS[report_format]} "
                                    f"failed:\n{error_lines(proc.stderr or proc.stdout)}")
        target = out_dir / f"{document.output_stem}.{report_format}"
        shutil.move(built, target)
        if report_format == "docx":
            finish_docx(target)
        outputs[report_format] = target
    return outputs

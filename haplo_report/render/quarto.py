"""Render the book with Quarto (>= 1.9, books to HTML, DOCX and Typst PDF), when installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from haplo_report.render.book import Book

# Report format -> Quarto format name (the key under ``format:`` in _quarto.yml).
QUARTO_FORMATS: dict[str, str] = {"html": "html", "docx": "docx", "pdf": "typst"}


class QuartoRenderError(RuntimeError):
    """``quarto render`` failed; the message carries Quarto's own error text."""


def quarto_path() -> str | None:
    """The ``quarto`` executable on PATH, or None."""
    return shutil.which("quarto")


def quarto_command(book: Book, report_format: str) -> list[str]:
    """The command line rendering one format of the book (never executing code)."""
    return [quarto_path() or "quarto", "render", str(book.folder),
            "--to", QUARTO_FORMATS[report_format], "--no-execute"]


def quarto_environment(book: Book) -> dict[str, str]:
    """Environment for Quarto: this Python, and the data cut as the only creation time."""
    return {**os.environ, "QUARTO_PYTHON": sys.executable, "SOURCE_DATE_EPOCH": str(book.epoch)}


def render_quarto(book: Book, formats: tuple[str, ...], out_dir: Path) -> dict[str, Path]:
    """Render each format with ``quarto render`` and move the result into ``out_dir``.

    DOCX and PDF are single files (``book: output-file``); the HTML book is a small site, so
    it is copied as a folder ``<stem>_html/`` and its ``index.html`` is returned.
    """
    unknown = [f for f in formats if f not in QUARTO_FORMATS]
    if unknown:
        raise QuartoRenderError(f"unknown report format {unknown[0]!r} "
                                f"(known: {', '.join(QUARTO_FORMATS)})")
    out_dir.mkdir(parents=True, exist_ok=True)
    built = book.folder / book.config["project"]["output-dir"]
    name = book.config["book"]["output-file"]
    outputs: dict[str, Path] = {}
    for report_format in formats:
        proc = subprocess.run(quarto_command(book, report_format), cwd=book.folder,
                              env=quarto_environment(book), capture_output=True,
                              text=True, check=False)
        if proc.returncode != 0:
            raise QuartoRenderError(f"quarto render --to {QUARTO_FORMATS[report_format]} "
                                    f"failed: {proc.stderr.strip()[-2000:]}")
        if report_format == "html":
            site = out_dir / f"{book.output_stem}_html"
            shutil.rmtree(site, ignore_errors=True)
            shutil.copytree(built, site, ignore=shutil.ignore_patterns("*.docx", "*.pdf"))
            outputs["html"] = site / "index.html"
        else:
            target = out_dir / f"{book.output_stem}.{report_format}"
            shutil.copy2(built / f"{name}.{report_format}", target)
            outputs[report_format] = target
    return outputs

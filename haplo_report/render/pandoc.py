"""Render the report document without Quarto: Pandoc (bundled with pypandoc) and Typst (PyPI).

The same ``report.qmd`` and ``_quarto.yml`` that Quarto reads: the document is parsed once,
Quarto's conditional content is applied per format, and the per-format options of
``_quarto.yml`` become Pandoc options or template variables. The PDF uses the same two Typst
partials Quarto uses (through ``report-pandoc.typ``) and the same font files.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import typst
import yaml

from haplo_report.render.document import ReportDocument
from haplo_report.render.markdown import PandocError, for_format, run_pandoc
from haplo_report.render.word import finish_docx

log = logging.getLogger(__name__)

# Report format -> the Quarto format key that configures it in _quarto.yml, and the Pandoc
# output format Quarto's conditional content matches against.
FORMAT_KEYS: dict[str, str] = {"html": "html", "docx": "docx", "pdf": "typst"}
TYPST_TEMPLATE = "report-pandoc.typ"

# Quarto format options that are Pandoc command-line options; the rest become metadata
# (template variables such as papersize, margin, fontsize), except Quarto-only ones.
_FLAG_OPTIONS = {"toc": "--toc", "embed-resources": "--embed-resources",
                 "number-sections": "--number-sections"}
_VALUE_OPTIONS = {"toc-depth": "--toc-depth", "css": "--css", "reference-doc": "--reference-doc"}
_QUARTO_ONLY = {"theme", "font-paths", "template-partials", "output-file"}
_TOP_LEVEL_METADATA = ("lang",)


class PandocRenderError(RuntimeError):
    """Pandoc or Typst failed; the message names the step and the tool's own message."""


def format_options(document: ReportDocument,
                   report_format: str) -> tuple[list[str], dict[str, Any]]:
    """Pandoc options and metadata for one format, from the document's ``_quarto.yml``."""
    config = document.config
    metadata: dict[str, Any] = {key: config[key] for key in _TOP_LEVEL_METADATA if key in config}
    args: list[str] = ["--number-sections"] if config.get("number-sections") else []
    options = (config.get("format") or {}).get(FORMAT_KEYS[report_format]) or {}
    for key, value in options.items():
        if key in _FLAG_OPTIONS:
            args += [_FLAG_OPTIONS[key]] if value else []
        elif key in _VALUE_OPTIONS:
            args.append(f"{_VALUE_OPTIONS[key]}={value}")
        elif key not in _QUARTO_ONLY:
            metadata[key] = value
    if report_format == "pdf":
        args.append(f"--template={TYPST_TEMPLATE}")
    return args, metadata


def render_pandoc(document: ReportDocument, formats: tuple[str, ...],
                  out_dir: Path) -> dict[str, Path]:
    """Render ``document`` to each of ``formats`` (html, docx, pdf) into ``out_dir``.

    The formats are independent (each its own Pandoc writer, then the Word layout or the
    Typst compile), so they are written at once, one thread each: the writers' processes,
    the Typst compile (which releases the GIL) and :func:`finish_docx` overlap instead of
    following one another. Every format is waited for; the first failure (in the order of
    ``formats``) is raised, any other is logged.
    """
    unknown = [f for f in formats if f not in FORMAT_KEYS]
    if unknown:
        raise PandocRenderError(f"unknown report format {unknown[0]!r} "
                                f"(known: {', '.join(FORMAT_KEYS)})")
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {"SOURCE_DATE_EPOCH": str(document.epoch)}
    try:
        parsed = json.loads(run_pandoc(["-f", "markdown", "-t", "json", document.source.name],
                                       document.folder, env=env))
    except PandocError as exc:
        raise PandocRenderError(str(exc)) from None
    with ThreadPoolExecutor(max_workers=max(len(formats), 1)) as pool:
        futures = {report_format: pool.submit(_render_format, document, parsed, report_format,
                                              out_dir, env)
                   for report_format in formats}
    # leaving the with-block waited for every format
    failures = [(f, future.exception()) for f, future in futures.items()
                if future.exception() is not None]
    for report_format, exc in failures[1:]:
        log.error("the %s report failed too: %s", report_format, exc)
    if failures:
        exc = failures[0][1]
        if isinstance(exc, PandocError):
            raise PandocRenderError(str(exc)) from None
        raise exc
    return {report_format: future.result() for report_format, future in futures.items()}


def _render_format(document: ReportDocument, parsed: dict[str, Any], report_format: str,
                   out_dir: Path, env: dict[str, str]) -> Path:
    """Write one format of the parsed document; returns the report file."""
    folder = document.folder
    ast = {**parsed, "blocks": for_format(parsed["blocks"], FORMAT_KEYS[report_format])}
    args, metadata = format_options(document, report_format)
    meta_file = folder / f"_pandoc-{report_format}.yml"
    meta_file.write_text(yaml.safe_dump(metadata, sort_keys=True), encoding="utf-8")
    target = out_dir / f"{document.output_stem}.{report_format}"
    common = ["-f", "json", "--standalone", f"--metadata-file={meta_file.name}",
              "--resource-path=.", "--wrap=none", *args]
    if report_format == "pdf":
        typ = folder / f"{document.output_stem}.typ"
        run_pandoc([*common, "-t", "typst", "-o", str(typ)], folder, json.dumps(ast), env)
        _compile_typst(document, typ, target)
    else:
        writer = "html5" if report_format == "html" else report_format
        run_pandoc([*common, "-t", writer, "-o", str(target)], folder, json.dumps(ast), env)
        if report_format == "docx":
            finish_docx(target)
    return target


def _compile_typst(document: ReportDocument, typ: Path, target: Path) -> None:
    """Typst -> PDF with only the document's own font files (no system fonts: the same
    letters on every machine) and the data cut as the PDF's creation time."""
    options = (document.config.get("format") or {}).get("typst") or {}
    fonts = [str(document.folder / path) for path in options.get("font-paths") or []]
    try:
        typst.compile(str(typ), output=str(target), root=str(document.folder),
                      font_paths=fonts, ignore_system_fonts=True, timestamp=document.epoch)
    except RuntimeError as exc:
        raise PandocRenderError(f"typst compile of {typ.name} failed: {exc}") from None

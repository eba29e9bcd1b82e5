"""Render a run's report: one document, one interface, two renderers chosen at run time.

:mod:`~haplo_report.render.document` assembles ``<run>/document/report.qmd`` (one document,
chapters included) as the project's ``_quarto.yml`` defines it; ``quarto`` renders it when the
Quarto CLI is on PATH, otherwise ``pandoc`` (Pandoc + Typst from PyPI) renders the same file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from haplo_report.plan import REPORT_FORMATS
from haplo_report.render.book import BookError
from haplo_report.render.document import ReportDocument, assemble_document
from haplo_report.render.pandoc import PandocRenderError, render_pandoc
from haplo_report.render.quarto import QuartoRenderError, quarto_path, render_quarto

log = logging.getLogger(__name__)

Renderer = Callable[[ReportDocument, tuple[str, ...], Path], dict[str, Path]]

RENDERERS: dict[str, Renderer] = {"quarto": render_quarto, "pandoc": render_pandoc}
FORMATS = REPORT_FORMATS


class RenderError(RuntimeError):
    """The report could not be rendered; the message is one line for the user."""


@dataclass(frozen=True)
class RenderResult:
    """Which renderer made the report, and the file of each format."""

    renderer: str
    outputs: dict[str, Path]


def choose_renderer(renderer: str = "auto") -> str:
    """``renderer`` itself, or for "auto" quarto when installed, else pandoc."""
    if renderer == "auto":
        return "quarto" if quarto_path() else "pandoc"
    if renderer not in RENDERERS:
        raise RenderError(f"unknown renderer {renderer!r} (known: auto, {', '.join(RENDERERS)})")
    return renderer


def render_report(run_dir: Path, formats: tuple[str, ...] = FORMATS, *,
                  renderer: str = "auto") -> RenderResult:
    """Assemble ``run_dir/document`` and render it to ``run_dir/report/<study>_<cut>.<format>``."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise RenderError(f"unknown report format {unknown[0]!r} (known: {', '.join(FORMATS)})")
    name = choose_renderer(renderer)
    try:
        document = assemble_document(Path(run_dir))
        outputs = RENDERERS[name](document, tuple(formats), Path(run_dir) / "report")
    except (BookError, PandocRenderError, QuartoRenderError) as exc:
        raise RenderError(str(exc)) from None
    log.info("report rendered with %s: %s", name,
             ", ".join(str(path) for path in outputs.values()))
    return RenderResult(name, outputs)


__all__ = ["FORMATS", "RENDERERS", "RenderError", "RenderResult", "choose_renderer",
           "render_report"]

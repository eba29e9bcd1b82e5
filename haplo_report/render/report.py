"""``render_report``: assemble a run's document and render it with the chosen renderer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from haplo_report.render import FORMATS, RenderError, RenderResult, choose_renderer
from haplo_report.render.book import BookError
from haplo_report.render.document import (CHANGES, ReportDocument, assemble_changes,
                                          assemble_document)
from haplo_report.render.pandoc import PandocRenderError, render_pandoc
from haplo_report.render.quarto import QuartoRenderError, render_quarto

log = logging.getLogger(__name__)

Renderer = Callable[[ReportDocument, tuple[str, ...], Path], dict[str, Path]]

RENDERERS: dict[str, Renderer] = {"quarto": render_quarto, "pandoc": render_pandoc}


def render_report(run_dir: Path, formats: tuple[str, ...] = FORMATS, *,
                  renderer: str = "auto") -> RenderResult:
    """Assemble ``run_dir/document`` and render it to ``run_dir/report/<study>_<cut>.<format>``;
    for a later cut, the changes appendix also as ``run_dir/report/changes_<cut>.<format>``."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise RenderError(f"unknown report format {unknown[0]!r} (known: {', '.join(FORMATS)})")
    name = choose_renderer(renderer)
    try:
        document = assemble_document(Path(run_dir))
        outputs = RENDERERS[name](document, tuple(formats), Path(run_dir) / "report")
        changes = assemble_changes(Path(run_dir))
        if changes is not None:
            written = RENDERERS[name](changes, tuple(formats), Path(run_dir) / "report")
            outputs.update({f"{CHANGES}.{key}": path for key, path in written.items()})
    except (BookError, PandocRenderError, QuartoRenderError) as exc:
        raise RenderError(str(exc)) from None
    log.info("report rendered with %s: %s", name,
             ", ".join(str(path) for path in outputs.values()))
    return RenderResult(name, outputs)

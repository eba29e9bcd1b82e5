"""Render a run's report: one document, one interface, two renderers chosen at run time.

:mod:`~haplo_report.render.document` assembles ``<run>/document/report.qmd`` (one document,
chapters included) as the project's ``_quarto.yml`` defines it; ``quarto`` renders it when the
Quarto CLI is on PATH, otherwise ``pandoc`` (Pandoc + Typst from PyPI) renders the same file.

``render_report`` and ``RENDERERS`` (:mod:`.report`) are imported on first use (PEP 562): a run
that finds its report up to date chooses its renderer without importing pandas and the rest.
"""

from __future__ import annotations

import importlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from haplo_report.plan import REPORT_FORMATS

FORMATS = REPORT_FORMATS
RENDERER_NAMES: tuple[str, ...] = ("quarto", "pandoc")
RENDERER_CHOICES: tuple[str, ...] = ("auto", *RENDERER_NAMES)  # auto: quarto when on PATH


class RenderError(RuntimeError):
    """The report could not be rendered; the message is one line for the user."""


@dataclass(frozen=True)
class RenderResult:
    """Which renderer made the report, and the file of each format."""

    renderer: str
    outputs: dict[str, Path]


def quarto_path() -> str | None:
    """The ``quarto`` executable on PATH, or None."""
    return shutil.which("quarto")


def choose_renderer(renderer: str = "auto") -> str:
    """``renderer`` itself, or for "auto" quarto when installed, else pandoc;
    :class:`RenderError` for an unknown name, or quarto when it is not on PATH."""
    if renderer == "auto":
        return "quarto" if quarto_path() else "pandoc"
    if renderer not in RENDERER_NAMES:
        raise RenderError(f"unknown renderer {renderer!r} "
                          f"(known: auto, {', '.join(RENDERER_NAMES)})")
    if renderer == "quarto" and quarto_path() is None:
        raise RenderError("--renderer quarto: the quarto command is not on PATH (install "
                          "Quarto >= 1.9, or use --renderer pandoc or auto)")
    return renderer


_LAZY = {"render_report": "report", "RENDERERS": "report"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)


__all__ = ["FORMATS", "RENDERERS", "RENDERER_CHOICES", "RENDERER_NAMES", "RenderError", "RenderResult",
           "choose_renderer", "quarto_path", "render_report"]

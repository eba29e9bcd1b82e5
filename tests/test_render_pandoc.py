"""render_pandoc writes its formats at once; a failing format raises its own error after every
other format has finished. Pandoc, Typst and the Word layout are replaced by recorders here (the
real ones are exercised by test_render.py)."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import pytest

from haplo_report.render import pandoc as pandoc_module
from haplo_report.render.document import ReportDocument
from haplo_report.render.markdown import PandocError
from haplo_report.render.pandoc import PandocRenderError, render_pandoc

FORMATS = ("html", "docx", "pdf")
WRITERS = {"html5": "html", "docx": "docx", "typst": "pdf"}
AST = {"pandoc-api-version": [1, 23, 1, 1], "meta": {}, "blocks": []}


@pytest.fixture()
def document(tmp_path: Path) -> ReportDocument:
    folder = tmp_path / "document"
    folder.mkdir()
    (folder / "report.qmd").write_text("Text\n", encoding="utf-8")
    config = {"format": {"html": {}, "docx": {}, "typst": {}}}
    return ReportDocument(folder, config, "STUDY", "2026-01-31")


class Tools:
    """Stand-ins for Pandoc, Typst and finish_docx that record what ran and can fail."""

    def __init__(self, failing: set[str], barrier: threading.Barrier | None = None) -> None:
        self.failing, self.barrier = failing, barrier
        self.finished: list[str] = []
        self.lock = threading.Lock()
        self.failed = threading.Event()

    def _done(self, step: str) -> None:
        with self.lock:
            self.finished.append(step)

    def _after_a_failure(self) -> None:
        """A last step still running when another format has failed already."""
        if self.failing and self.failed.wait(10):
            time.sleep(0.2)

    def run_pandoc(self, args, cwd, stdin=None, env=None) -> str:
        if "-t" in args and args[args.index("-t") + 1] == "json":
            return json.dumps(AST)
        report_format = WRITERS[args[args.index("-t") + 1]]
        if self.barrier is not None:
            self.barrier.wait()  # every format's writer must be running at the same time
        if report_format in self.failing:
            self.failed.set()
            raise PandocError(f"pandoc -t {report_format} failed: boom")
        Path(args[args.index("-o") + 1]).write_text(report_format, encoding="utf-8")
        self._done(f"{report_format} writer")
        return ""

    def finish_docx(self, path: Path) -> Path:
        self._after_a_failure()
        self._done("finish_docx")
        return path

    def compile_typst(self, document, typ: Path, target: Path) -> None:
        if "typst" in self.failing:
            self.failed.set()
            raise PandocRenderError(f"typst compile of {typ.name} failed: no font")
        self._after_a_failure()
        target.write_bytes(b"%PDF")
        self._done("typst compile")


def _install(monkeypatch, tools: Tools) -> None:
    monkeypatch.setattr(pandoc_module, "run_pandoc", tools.run_pandoc)
    monkeypatch.setattr(pandoc_module, "finish_docx", tools.finish_docx)
    monkeypatch.setattr(pandoc_module, "_compile_typst", tools.compile_typst)


def test_formats_are_written_at_once(monkeypatch, document, tmp_path):
    tools = Tools(set(), threading.Barrier(len(FORMATS), timeout=10))
    _install(monkeypatch, tools)
    outputs = render_pandoc(document, FORMATS, tmp_path / "report")
    assert list(outputs) == list(FORMATS)
    assert {p.name for p in outputs.values()} == {"STUDY_2026-01-31.html",
                                                  "STUDY_2026-01-31.docx",
                                                  "STUDY_2026-01-31.pdf"}
    assert sorted(tools.finished) == ["docx writer", "finish_docx", "html writer",
                                      "pdf writer", "typst compile"]


def test_failing_format_raises_its_error_after_the_others_finished(monkeypatch, document,
                                                                    tmp_path):
    tools = Tools({"html"})
    _install(monkeypatch, tools)
    with pytest.raises(PandocRenderError, match=r"^pandoc -t html failed: boom$"):
        render_pandoc(document, FORMATS, tmp_path / "report")
    assert sorted(tools.finished) == ["docx writer", "finish_docx", "pdf writer",
                                      "typst compile"]


def test_typst_failure_keeps_its_message(monkeypatch, document, tmp_path):
    tools = Tools({"typst"})
    _install(monkeypatch, tools)
    with pytest.raises(PandocRenderError,
                       match=r"^typst compile of STUDY_2026-01-31.typ failed: no font$"):
        render_pandoc(document, FORMATS, tmp_path / "report")
    assert "finish_docx" in tools.finished and "html writer" in tools.finished


def test_first_failure_in_format_order_is_raised_the_other_logged(monkeypatch, document,
                                                                  tmp_path, caplog):
    _install(monkeypatch, Tools({"docx", "pdf"}))
    with caplog.at_level(logging.ERROR, logger=pandoc_module.__name__):
        with pytest.raises(PandocRenderError, match="pandoc -t docx failed"):
            render_pandoc(document, FORMATS, tmp_path / "report")
    assert "the pdf report failed too: pandoc -t pdf failed: boom" in caplog.text

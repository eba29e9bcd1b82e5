"""The Quarto renderer, with ``quarto render`` stubbed (Quarto is not installed here)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import docx
import pytest

import haplo_report.render as render
from haplo_report.render import RenderError, choose_renderer, render_report
from haplo_report.render import quarto as quarto_module
from render_fake_run import make_fake_run


REAL_RUN = subprocess.run


class FakeQuarto:
    """Records each call and writes what ``quarto render report.qmd --to X`` writes: one file
    next to the document (a real Word file for docx, which the renderer then lays out)."""

    def __init__(self, returncode: int = 0, stderr: str = "") -> None:
        self.calls: list[dict] = []
        self.returncode = returncode
        self.stderr = stderr

    def __call__(self, command, cwd=None, env=None, **kwargs):
        if "quarto" not in Path(command[0]).name:
            return REAL_RUN(command, cwd=cwd, env=env, **kwargs)
        self.calls.append({"command": command, "cwd": Path(cwd), "env": env})
        if self.returncode == 0:
            target = command[command.index("--to") + 1]
            suffix = {"html": "html", "docx": "docx", "typst": "pdf"}[target]
            built = Path(cwd) / f"report.{suffix}"
            if suffix == "docx":
                shutil.copy(Path(cwd) / "report-reference.docx", built)
            else:
                built.write_text(f"rendered {target}", encoding="utf-8")
        return subprocess.CompletedProcess(command, self.returncode, "", self.stderr)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return make_fake_run(tmp_path / "run")


def test_auto_prefers_quarto_when_on_path(monkeypatch):
    monkeypatch.setattr(render, "quarto_path", lambda: "/opt/quarto/bin/quarto")
    assert choose_renderer("auto") == "quarto"
    monkeypatch.setattr(render, "quarto_path", lambda: None)
    assert choose_renderer("auto") == "pandoc"


def test_quarto_renders_the_one_document_per_format(monkeypatch, run_dir):
    fake = FakeQuarto()
    monkeypatch.setattr(quarto_module.subprocess, "run", fake)
    monkeypatch.setattr(quarto_module, "quarto_path", lambda: "/opt/quarto/bin/quarto")
    result = render_report(run_dir, renderer="quarto")

    folder = run_dir / "document"
    assert [c["command"] for c in fake.calls] == [
        ["/opt/quarto/bin/quarto", "render", "report.qmd", "--to", to, "--no-execute"]
        for to in ("html", "docx", "typst")]
    assert all(c["cwd"] == folder for c in fake.calls)
    env = fake.calls[0]["env"]
    assert env["QUARTO_PYTHON"] == sys.executable
    assert env["SOURCE_DATE_EPOCH"] == "1769817600"  # 2026-01-31T00:00:00Z: the data cut
    assert env["NO_COLOR"] == "1"
    assert result.renderer == "quarto"
    report = run_dir / "report"
    assert result.outputs == {"html": report / "HAPLO-BLIN-ALL_2026-01-31.html",
                              "docx": report / "HAPLO-BLIN-ALL_2026-01-31.docx",
                              "pdf": report / "HAPLO-BLIN-ALL_2026-01-31.pdf"}
    assert result.outputs["pdf"].read_text() == "rendered typst"
    assert not list(folder.glob("report.pdf"))  # moved, not copied
    # the Word file Quarto made gets the same page layout pass as Pandoc's
    header = docx.Document(result.outputs["docx"]).sections[0].header.paragraphs[0].text
    assert header.startswith("HAPLO-BLIN-ALL   Protocol HBA-01")


QUARTO_STDERR = (
    "\x1b[1mpandoc\x1b[22m\n  to: typst\n  output-file: report.typ\n"
    + "  standalone: true\n" * 40
    + "\x1b[31mERROR: error: expected content, found array\x1b[39m\n"
    "   ┌─ report.typ:12:3\n\x1b[31mERROR:\x1b[39m Typst compilation failed\n"
    "\x1b[90mStack trace:\x1b[39m\n    at compile (file:///quarto.js:1:1)\n")


def test_quarto_failure_reports_its_own_last_error_lines(monkeypatch, run_dir):
    monkeypatch.setattr(quarto_module.subprocess, "run",
                        FakeQuarto(returncode=1, stderr=QUARTO_STDERR))
    with pytest.raises(RenderError) as error:
        render_report(run_dir, ("pdf",), renderer="quarto")
    message = str(error.value)
    assert message.startswith("quarto render --to typst failed:\n"
                              "ERROR: error: expected content, found array\n")
    assert "Typst compilation failed" in message
    assert "\x1b" not in message and "standalone" not in message
    assert len(message.splitlines()) <= 1 + quarto_module.ERROR_LINES


def test_error_lines_without_an_error_word_keeps_the_last_lines():
    text = "\n".join(f"line {i}" for i in range(30))
    assert quarto_module.error_lines(text) == "\n".join(f"line {i}" for i in range(22, 30))
    assert quarto_module.error_lines("") == "no message"

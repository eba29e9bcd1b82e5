"""The Quarto renderer, with ``quarto render`` stubbed (Quarto is not installed here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import haplo_report.render as render
from haplo_report.render import RenderError, choose_renderer, render_report
from haplo_report.render import quarto as quarto_module
from render_fake_run import make_fake_run


REAL_RUN = subprocess.run


class FakeQuarto:
    """Records each call and writes what Quarto would write into the book's output dir."""

    def __init__(self, returncode: int = 0) -> None:
        self.calls: list[dict] = []
        self.returncode = returncode

    def __call__(self, command, cwd=None, env=None, **kwargs):
        if "quarto" not in Path(command[0]).name:  # e.g. pandoc writing the reference docx
            return REAL_RUN(command, cwd=cwd, env=env, **kwargs)
        self.calls.append({"command": command, "cwd": Path(cwd), "env": env})
        built = Path(cwd) / "_book"
        built.mkdir(exist_ok=True)
        target = command[command.index("--to") + 1]
        name = {"html": "index.html", "docx": "report.docx", "typst": "report.pdf"}[target]
        (built / name).write_text(f"rendered {target}", encoding="utf-8")
        return subprocess.CompletedProcess(command, self.returncode, "", "ERROR: bad chapter")


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return make_fake_run(tmp_path / "run")


def test_auto_prefers_quarto_when_on_path(monkeypatch):
    monkeypatch.setattr(render, "quarto_path", lambda: "/opt/quarto/bin/quarto")
    assert choose_renderer("auto") == "quarto"
    monkeypatch.setattr(render, "quarto_path", lambda: None)
    assert choose_renderer("auto") == "pandoc"


def test_quarto_command_line_and_environment(monkeypatch, run_dir):
    fake = FakeQuarto()
    monkeypatch.setattr(quarto_module.subprocess, "run", fake)
    monkeypatch.setattr(quarto_module, "quarto_path", lambda: "/opt/quarto/bin/quarto")
    result = render_report(run_dir, renderer="quarto")

    book = run_dir / "book"
    assert [c["command"] for c in fake.calls] == [
        ["/opt/quarto/bin/quarto", "render", str(book), "--to", to, "--no-execute"]
        for to in ("html", "docx", "typst")]
    assert all(c["cwd"] == book for c in fake.calls)
    env = fake.calls[0]["env"]
    assert env["QUARTO_PYTHON"] == sys.executable
    assert env["SOURCE_DATE_EPOCH"] == "1769817600"  # 2026-01-31T00:00:00Z: the data cut
    assert result.renderer == "quarto"
    report = run_dir / "report"
    assert result.outputs == {"html": report / "HAPLO-BLIN-ALL_2026-01-31_html" / "index.html",
                              "docx": report / "HAPLO-BLIN-ALL_2026-01-31.docx",
                              "pdf": report / "HAPLO-BLIN-ALL_2026-01-31.pdf"}
    assert result.outputs["pdf"].read_text() == "rendered typst"
    # the book Quarto renders: generated chapters, notebooks, assets, the project's config
    for name in ("_quarto.yml", "index.qmd", "methods.qmd", "validation.qmd", "provenance.qmd",
                 "report.css", "report-header.typ", "notebooks/03_pfs.ipynb"):
        assert (book / name).is_file(), name


def test_quarto_failure_is_a_clear_error(monkeypatch, run_dir):
    monkeypatch.setattr(quarto_module.subprocess, "run", FakeQuarto(returncode=1))
    with pytest.raises(RenderError, match="quarto render --to html failed: ERROR: bad chapter"):
        render_report(run_dir, ("html",), renderer="quarto")

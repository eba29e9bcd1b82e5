"""The Quarto renderer with ``quarto render`` stubbed (the real one: test_quarto_real.py):
where it renders, how many processes, what it accepts, what it refuses and how it says so."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import docx
import pytest
import yaml
from docx.oxml.ns import qn

import haplo_report.render as render
from haplo_report.cli import main
from haplo_report.paths import PROJECT_ROOT
from haplo_report.render import RenderError, choose_renderer, render_report
from haplo_report.render import quarto as quarto_module
from haplo_report.render.acceptance import docx_problem, html_problem
from haplo_report.render.word import (MARGIN, PAGE_SIZES, Furniture, finish_docx,
                                      write_reference_docx)
from render_fake_run import make_fake_run

REAL_POPEN = subprocess.Popen
SUFFIX = {"html": "html", "docx": "docx", "typst": "pdf"}
GOOD_HTML = '<html><body><a href="#t1">T</a><img src="data:image/png;base64,AAAA"></body></html>'
# What Quarto wrote from a hidden folder (issue 24): scripts and figures beside the file.
LONE_HTML = ('<html><head><script src="report_files/libs/clipboard/clipboard.min.js"></script>'
             '</head><body><img src="figures/14.2.1.png"></body></html>')


class FakeProcess:
    def __init__(self, returncode: int) -> None:
        self.returncode = returncode

    def wait(self) -> int:
        return self.returncode

    def poll(self) -> int:
        return self.returncode


class FakeQuarto:
    """Stands for ``subprocess.Popen`` of ``quarto render report.qmd --to all``: records each
    call and writes, next to the document, one file per format of the folder's _quarto.yml
    (the good kind, or as Quarto writes it without the project's settings: ``lone``)."""

    def __init__(self, returncode: int = 0, output: str = "", lone: str | None = None) -> None:
        self.calls: list[dict] = []
        self.returncode = returncode
        self.output = output
        self.lone = lone

    def __call__(self, command, cwd=None, env=None, stdout=None, **kwargs):
        if "quarto" not in Path(command[0]).name:  # pandoc, run by the document's assembly
            return REAL_POPEN(command, cwd=cwd, env=env, stdout=stdout, **kwargs)
        folder = Path(cwd)
        formats = list(yaml.safe_load((folder / "_quarto.yml").read_text())["format"])
        self.calls.append({"command": command, "cwd": folder, "env": env, "formats": formats,
                           "document": (folder / "report.qmd").read_bytes()})
        stdout.write(self.output.encode())
        if self.returncode == 0:
            for name in formats:
                self.write(folder, name, lone=name == self.lone)
        return FakeProcess(self.returncode)

    @staticmethod
    def write(folder: Path, name: str, lone: bool) -> None:
        built = folder / f"report.{SUFFIX[name]}"
        if name == "html":
            built.write_text(LONE_HTML if lone else GOOD_HTML, encoding="utf-8")
        elif name == "docx":  # python-docx's own default: Letter, no header or footer
            if lone:
                docx.Document().save(str(built))
            else:
                shutil.copy(folder / "report-reference.docx", built)
        else:
            built.write_bytes(b"%PDF-1.7 rendered typst")
            template = "" if lone else (folder / "typst-template.typ").read_text()
            show = "" if lone else (folder / "typst-show.typ").read_text()
            (folder / "report.typ").write_text(template + show + "= Synopsis\n")


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A run folder under a hidden folder, as every build is (``.<cut>.build``)."""
    return make_fake_run(tmp_path / ".hidden" / "run")


@pytest.fixture
def quarto(monkeypatch, tmp_path):
    """A stubbed Quarto on 2 cores, rendering in temporary folders under ``tmp_path``."""
    def use(fake: FakeQuarto, processes: int = 2) -> FakeQuarto:
        monkeypatch.setattr(quarto_module.subprocess, "Popen", fake)
        for module in (render, quarto_module):
            monkeypatch.setattr(module, "quarto_path", lambda: "/opt/quarto/bin/quarto")
        monkeypatch.setattr(quarto_module, "cores", lambda: processes)
        monkeypatch.setattr(quarto_module.tempfile, "tempdir", str(tmp_path / "tmp"))
        (tmp_path / "tmp").mkdir(exist_ok=True)
        return fake
    return use


def test_auto_prefers_quarto_when_on_path_and_quarto_needs_it(monkeypatch):
    monkeypatch.setattr(render, "quarto_path", lambda: "/opt/quarto/bin/quarto")
    assert choose_renderer("auto") == "quarto"
    assert choose_renderer("pandoc") == "pandoc"
    monkeypatch.setattr(render, "quarto_path", lambda: None)
    assert choose_renderer("auto") == "pandoc"
    with pytest.raises(RenderError, match="--renderer quarto: the quarto command is not on PATH"):
        choose_renderer("quarto")


def test_cli_renderer_quarto_without_quarto_is_a_usage_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(render, "quarto_path", lambda: None)
    code = main(["run", str(PROJECT_ROOT / "params" / "example.yml"), "--renderer", "quarto",
                 "--output-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err == ("error: --renderer quarto: the quarto command is not on PATH (install "
                   "Quarto >= 1.9, or use --renderer pandoc or auto)\n")
    assert not (tmp_path / "out").exists()


def test_formats_split_into_one_group_per_core_costliest_alone():
    formats = ("html", "docx", "pdf")
    assert quarto_module.format_groups(formats, 1) == [formats]
    assert quarto_module.format_groups(formats, 2) == [("pdf",), ("html", "docx")]
    assert quarto_module.format_groups(formats, 8) == [("pdf",), ("html",), ("docx",)]
    assert quarto_module.format_groups(("docx",), 2) == [("docx",)]


def test_quarto_renders_outside_the_hidden_build_in_one_process_per_core(quarto, run_dir):
    fake = quarto(FakeQuarto())
    result = render_report(run_dir, renderer="quarto")

    assert [c["command"] for c in fake.calls] == [
        ["/opt/quarto/bin/quarto", "render", "report.qmd", "--to", "all", "--no-execute"]] * 2
    assert [c["formats"] for c in fake.calls] == [["typst"], ["html", "docx"]]
    for call in fake.calls:  # a copy of the document, in a folder Quarto reads settings in
        assert quarto_module.hidden_part(call["cwd"]) is None
        assert call["document"] == (run_dir / "document" / "report.qmd").read_bytes()
        assert not call["cwd"].exists()  # removed afterwards
    env = fake.calls[0]["env"]
    assert env["QUARTO_PYTHON"] == sys.executable
    assert env["SOURCE_DATE_EPOCH"] == "1795946400"  # 2026-11-29T10:00:00Z: the run's start
    assert env["NO_COLOR"] == "1"
    assert result.renderer == "quarto"
    report = run_dir / "report"
    assert result.outputs == {"html": report / "HAPLO-BLIN-ALL_2026-01-31.html",
                              "docx": report / "HAPLO-BLIN-ALL_2026-01-31.docx",
                              "pdf": report / "HAPLO-BLIN-ALL_2026-01-31.pdf"}
    assert result.outputs["pdf"].read_bytes() == b"%PDF-1.7 rendered typst"
    leftovers = [p.name for p in (run_dir / "document").iterdir()
                 if p.suffix in (".html", ".docx", ".pdf", ".typ") and p.stem == "report"
                 or p.name == "report_files"]
    assert leftovers == []  # nothing rendered in the run's own document folder
    # the Word file Quarto made gets the same page layout pass as Pandoc's
    header = docx.Document(result.outputs["docx"]).sections[0].header.paragraphs[0].text
    assert header.startswith("HAPLO-BLIN-ALL   Protocol HBA-01")


@pytest.mark.parametrize("lone, message", [
    ("html", "Quarto's output refused: the HTML report is not self-contained: 2 reference(s) "
             "to files outside it (first: report_files/libs/clipboard/clipboard.min.js)"),
    ("docx", "Quarto's output refused: the Word report's page size or margins are not the "
             "reference document's (not made with it)"),
    ("typst", "Quarto's output refused: the PDF report was not made with the suite's Typst "
              "template"),
])
def test_output_without_the_projects_settings_is_refused_in_one_line(quarto, run_dir, lone,
                                                                     message):
    quarto(FakeQuarto(lone=lone), processes=1)
    with pytest.raises(RenderError) as error:
        render_report(run_dir, renderer="quarto")
    assert str(error.value) == message


def test_a_hidden_temporary_folder_is_refused_before_rendering(quarto, run_dir, tmp_path,
                                                               monkeypatch):
    fake = quarto(FakeQuarto())
    (tmp_path / ".cache").mkdir()
    monkeypatch.setattr(quarto_module.tempfile, "tempdir", str(tmp_path / ".cache"))
    with pytest.raises(RenderError, match=r"Quarto cannot render in .*: its folder '\.cache' "
                                          r"is hidden.*set TMPDIR"):
        render_report(run_dir, renderer="quarto")
    assert fake.calls == [] and list((tmp_path / ".cache").iterdir()) == []


QUARTO_STDERR = (
    "\x1b[1mpandoc\x1b[22m\n  to: typst\n  output-file: report.typ\n"
    + "  standalone: true\n" * 40
    + "\x1b[31mERROR: error: expected content, found array\x1b[39m\n"
    "   ┌─ report.typ:12:3\n\x1b[31mERROR:\x1b[39m Typst compilation failed\n"
    "\x1b[90mStack trace:\x1b[39m\n    at compile (file:///quarto.js:1:1)\n")


def test_quarto_failure_reports_its_own_last_error_lines(quarto, run_dir):
    quarto(FakeQuarto(returncode=1, output=QUARTO_STDERR))
    with pytest.raises(RenderError) as error:
        render_report(run_dir, ("pdf",), renderer="quarto")
    message = str(error.value)
    assert message.startswith("quarto render of the pdf report failed:\n"
                              "ERROR: error: expected content, found array\n")
    assert "Typst compilation failed" in message
    assert "\x1b" not in message and "standalone" not in message
    assert len(message.splitlines()) <= 1 + quarto_module.ERROR_LINES


def test_error_lines_without_an_error_word_keeps_the_last_lines():
    text = "\n".join(f"line {i}" for i in range(30))
    assert quarto_module.error_lines(text) == "\n".join(f"line {i}" for i in range(22, 30))
    assert quarto_module.error_lines("") == "no message"


def test_html_references_outside_the_file(tmp_path):
    page = tmp_path / "report.html"
    page.write_text('<a href="https://example.org">x</a><a href="#t">t</a>'
                    '<script>try { href = new URL(href).hash; } catch {}</script>'
                    '<style>@font-face { src: url("data:font/ttf;base64,AA") }</style>')
    assert html_problem(page) is None
    page.write_text('<link rel="stylesheet" href="https://cdn.example.org/x.css">'
                    '<a href="figures/14.2.1.png">x</a>'
                    '<style>body { background: url(report_files/bg.png) }</style>')
    assert html_problem(page) == ("the HTML report is not self-contained: 3 reference(s) to "
                                  "files outside it (first: https://cdn.example.org/x.css)")


def test_a_word_file_without_page_setup_is_refused_not_a_crash(tmp_path):
    made = docx.Document()
    made.add_table(rows=2, cols=2).cell(0, 0).text = "Characteristic"
    body = made.element.body
    body.remove(body.find(qn("w:sectPr")))  # no page set-up at all
    path = tmp_path / "bare.docx"
    made.save(str(path))
    finish_docx(path)  # was a TypeError (issue 24)
    width = docx.Document(str(path)).tables[0]._tbl.tblPr.find(qn("w:tblW"))
    assert int(width.get(qn("w:w"))) * 635 <= PAGE_SIZES["a4"][0] - 2 * MARGIN
    reference = write_reference_docx(tmp_path / "reference.docx", Furniture(
        "S", "P", "Sponsor", "2026-01-31", "2026-02-01", "DRAFT", "1.0", "Confidential."))
    assert docx_problem(path, reference) == (
        "the Word report has no page set-up (not made with the reference document)")
    assert docx_problem(reference, reference) is None
    (tmp_path / "broken.docx").write_bytes(b"not a zip")
    assert docx_problem(tmp_path / "broken.docx", reference).startswith(
        "the Word report cannot be read")


def test_word_acceptance_takes_the_suite_landscape_sections(tmp_path):
    """A landscape listing's section breaks (orientation only before finish_docx, the
    reference's paper turned after) are the reference document's page set-up."""
    import docx

    from haplo_report.render.markdown import SECTION_OPENXML

    reference = write_reference_docx(tmp_path / "reference.docx", Furniture(
        "S", "P", "Sponsor", "2026-01-31", "2026-02-01", "DRAFT", "1.0", "Confidential."))
    document = docx.Document(str(reference))
    body = document.element.body
    for orient in ("portrait", "landscape"):
        marker = docx.oxml.parse_xml(SECTION_OPENXML.format(orient).replace(
            "<w:p>", '<w:p xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/'
            '2006/main">', 1))
        body.insert(len(body) - 1, marker)
    path = tmp_path / "report.docx"
    document.save(str(path))
    assert docx_problem(path, reference) is None  # as Quarto writes it
    finish_docx(path)
    sections = docx.Document(str(path)).sections
    assert [s.page_width > s.page_height for s in sections] == [False, True, False]
    assert docx_problem(path, reference) is None  # completed
    document = docx.Document(str(path))
    document.sections[1].left_margin = MARGIN * 2
    document.save(str(path))
    assert docx_problem(path, reference) is not None

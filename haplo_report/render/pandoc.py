"""Render the book without Quarto: Pandoc (bundled with pypandoc) and Typst (PyPI) for PDF.

The same ``_quarto.yml`` drives this renderer: title, chapter order, parts, appendices and the
per-format options. Each chapter is read into Pandoc's AST; notebooks are first converted to
Markdown here (Quarto does that itself): markdown cells as they are, code hidden, outputs kept.
The chapter ASTs are joined into one document (parts and the appendices become top-level
headings with their chapters one level below) and written as HTML, DOCX and Typst -> PDF.
"""

from __future__ import annotations

import base64
import json
import os
import posixpath
import subprocess
from pathlib import Path
from typing import Any

import nbformat
import pypandoc
import typst
import yaml

from haplo_report.plan import NOTEBOOKS
from haplo_report.render.book import NOTES_DOCX_STYLE, Book, Chapter

# Report format -> the Quarto format key that configures it in _quarto.yml.
FORMAT_KEYS: dict[str, str] = {"html": "html", "docx": "docx", "pdf": "typst"}

# Quarto format options that are Pandoc command-line options; the rest become metadata
# (template variables such as papersize, margin, fontsize), except Quarto-only ones.
_FLAG_OPTIONS = {"toc": "--toc", "embed-resources": "--embed-resources",
                 "number-sections": "--number-sections"}
_VALUE_OPTIONS = {"toc-depth": "--toc-depth", "css": "--css",
                  "include-in-header": "--include-in-header", "reference-doc": "--reference-doc"}
_QUARTO_ONLY = {"fig-align", "output-file"}
_TOP_LEVEL_METADATA = ("lang",)

_TITLES = {spec.name: spec.title for spec in NOTEBOOKS}
# The notes block under each table (tables.core.Table) and figure (outputs.captions).
NOTES_CLASSES: tuple[str, ...] = ("table-notes", "figure-notes")
NOTES_TYPST_FUNCTION = "tablenotes"  # defined in templates/report-header.typ
_OBJECT_REPR_PREFIX = "<"  # text/plain like "<Figure size 640x480 with 1 Axes>": not content


class PandocRenderError(RuntimeError):
    """Pandoc or Typst failed; the message names the step and the tool's own message."""


def _pandoc(args: list[str], cwd: Path, stdin: str | None = None,
            env: dict[str, str] | None = None) -> str:
    # The bundled binary is called directly (not pypandoc.convert_*) to pass an environment
    # (SOURCE_DATE_EPOCH, so DOCX metadata carries no wall-clock time) and a working folder.
    proc = subprocess.run([pypandoc.get_pandoc_path(), *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, encoding="utf-8",
                          env={**os.environ, **(env or {})}, check=False)
    if proc.returncode != 0:
        raise PandocRenderError(f"pandoc {' '.join(args[:4])} failed: {proc.stderr.strip()}")
    return proc.stdout


def _output_markdown(output: Any, media: Path, stem: str, index: int) -> str | None:
    """One notebook output as Markdown, or None when it shows nothing for the report."""
    if output.output_type == "stream":
        return f"```\n{output.text.rstrip()}\n```" if output.name == "stdout" else None
    if output.output_type == "error":
        return f"```\n{output.ename}: {output.evalue}\n```"
    data = output.get("data", {})
    if "text/markdown" in data:
        return data["text/markdown"]
    if "image/png" in data:
        path = media / f"{stem}-{index}.png"
        path.write_bytes(base64.b64decode(data["image/png"]))
        return f"![](../{path.parent.name}/{path.name})"  # relative to the notebook
    text = data.get("text/plain", "")
    if "text/html" in data or not text or text.startswith(_OBJECT_REPR_PREFIX):
        return None  # an HTML-only (DataFrame) view or an object repr
    return f"```\n{text.rstrip()}\n```"


def notebook_markdown(path: Path, media: Path) -> str:
    """An executed notebook as Markdown: markdown cells, and code-cell outputs without code.

    Cells tagged ``remove-cell`` and outputs of cells tagged ``remove-output`` are left out,
    as Quarto does. PNG images are written into ``media`` (a sibling of the notebook's folder)
    and linked relative to the notebook, like every link in a notebook's outputs.
    """
    notebook = nbformat.read(path, as_version=4)
    media.mkdir(parents=True, exist_ok=True)
    blocks: list[str] = []
    for number, cell in enumerate(notebook.cells):
        tags = set(cell.get("metadata", {}).get("tags", []))
        if "remove-cell" in tags:
            continue
        if cell.cell_type == "markdown":
            blocks.append(cell.source)
        elif cell.cell_type == "code" and "remove-output" not in tags:
            for index, output in enumerate(cell.get("outputs", [])):
                text = _output_markdown(output, media, path.stem, number * 100 + index)
                if text:
                    blocks.append(text)
    markdown = "\n\n".join(blocks)
    if not any(line.startswith("# ") for line in markdown.splitlines()):
        markdown = f"# {_TITLES.get(path.stem, path.stem)}\n\n{markdown}"
    return markdown + "\n"


def _normalise(node: Any, prefix: str, folder: str = "") -> None:
    """Make a chapter's AST fit the joined book, in place.

    Relative image links are made relative to the book folder: a chapter in ``folder``
    (``notebooks`` for a notebook) links them relative to itself (a figure output links
    ``../figures/14.2.1.png``).

    Heading identifiers get the chapter's prefix (each chapter is parsed on its own, so two
    chapters may both have "#notes"). Table column widths are reset to automatic: pipe-table
    widths come from the number of dashes a notebook happened to write, while automatic widths
    follow the content and are shrunk to the text width by Typst and Word. Table notes get
    their per-format style (:func:`_style_notes`).
    """
    if isinstance(node, list):
        for item in node:
            _normalise(item, prefix, folder)
        return
    if not isinstance(node, dict):
        return
    if node.get("t") == "Header" and node["c"][1][0]:
        node["c"][1][0] = f"{prefix}-{node['c'][1][0]}"
    elif node.get("t") == "Table":
        for colspec in node["c"][2]:
            colspec[1] = {"t": "ColWidthDefault"}
    elif node.get("t") == "Div" and set(NOTES_CLASSES) & set(node["c"][0][1]):
        _style_notes(node)
    elif node.get("t") == "Image" and folder and ":" not in node["c"][2][0] \
            and not posixpath.isabs(node["c"][2][0]):  # relative: no URL, no data: URI
        node["c"][2][0] = posixpath.normpath(posixpath.join(folder, node["c"][2][0]))
    _normalise(node.get("c"), prefix, folder)


def _style_notes(div: dict[str, Any]) -> None:
    """Give a table's notes block its look in every format, in place: HTML styles the class
    (report.css), Word a paragraph style (``custom-style``), Typst a function call around the
    block (Pandoc's Typst writer drops classes, so it is wrapped in raw Typst)."""
    attributes, blocks = div["c"]
    if any(key == "custom-style" for key, _ in attributes[2]):
        return
    attributes[2].append(["custom-style", NOTES_DOCX_STYLE])
    div["c"][1] = [{"t": "RawBlock", "c": ["typst", f"#{NOTES_TYPST_FUNCTION}["]},
                   *blocks, {"t": "RawBlock", "c": ["typst", "]"]}]


def _parse(markdown: str, cwd: Path, shift: int = 0) -> dict[str, Any]:
    """Markdown as a Pandoc AST, headings shifted down by ``shift`` levels."""
    return json.loads(_pandoc(["-f", "markdown", "-t", "json",
                               f"--shift-heading-level-by={shift}"], cwd, stdin=markdown))


def _chapter_source(book: Book, chapter: Chapter) -> str:
    path = book.folder / chapter.path
    if path.suffix == ".ipynb":
        return notebook_markdown(path, book.folder / "_media")
    return path.read_text(encoding="utf-8")


def book_document(book: Book) -> dict[str, Any]:
    """The whole book as one Pandoc AST (JSON), chapters in ``_quarto.yml`` order."""
    blocks: list[Any] = []
    api_version = None
    current_part: str | None = None
    in_appendices = False
    for chapter in book.chapters():
        if chapter.appendix and not in_appendices:
            in_appendices, current_part = True, None
            blocks += _parse("# Appendices {#appendices .part}", book.folder)["blocks"]
        if chapter.part and chapter.part != current_part:
            current_part = chapter.part
            identifier = "part-" + chapter.part.split()[0].replace(".", "-")
            blocks += _parse(f"# {chapter.part} {{#{identifier} .part}}", book.folder)["blocks"]
        shift = 1 if (chapter.part or chapter.appendix) else 0
        doc = _parse(_chapter_source(book, chapter), book.folder, shift)
        api_version = doc["pandoc-api-version"]
        folder = Path(chapter.path).parent.as_posix()
        _normalise(doc["blocks"], Path(chapter.path).stem, "" if folder == "." else folder)
        blocks += doc["blocks"]
    return {"pandoc-api-version": api_version, "meta": {}, "blocks": blocks}


def _format_args(book: Book, report_format: str) -> tuple[list[str], dict[str, Any]]:
    """Pandoc options and metadata for one format, from ``_quarto.yml``."""
    config = book.config
    info = config.get("book") or {}
    metadata: dict[str, Any] = {key: info[key] for key in ("title", "subtitle", "date")
                                if key in info}
    metadata.update({key: config[key] for key in _TOP_LEVEL_METADATA if key in config})
    args: list[str] = ["--number-sections"] if config.get("number-sections") else []
    options = (config.get("format") or {}).get(FORMAT_KEYS[report_format]) or {}
    for key, value in options.items():
        if key in _FLAG_OPTIONS:
            args += [_FLAG_OPTIONS[key]] if value else []
        elif key in _VALUE_OPTIONS:
            args.append(f"{_VALUE_OPTIONS[key]}={value}")
        elif key not in _QUARTO_ONLY:
            metadata[key] = value
    return args, metadata


def render_pandoc(book: Book, formats: tuple[str, ...], out_dir: Path) -> dict[str, Path]:
    """Render ``book`` to each of ``formats`` (html, docx, pdf) into ``out_dir``."""
    unknown = [f for f in formats if f not in FORMAT_KEYS]
    if unknown:
        raise PandocRenderError(f"unknown report format {unknown[0]!r} "
                                f"(known: {', '.join(FORMAT_KEYS)})")
    out_dir.mkdir(parents=True, exist_ok=True)
    document = json.dumps(book_document(book))
    env = {"SOURCE_DATE_EPOCH": str(book.epoch)}
    outputs: dict[str, Path] = {}
    for report_format in formats:
        args, metadata = _format_args(book, report_format)
        meta_file = book.folder / f"_pandoc-{report_format}.yml"
        meta_file.write_text(yaml.safe_dump(metadata, sort_keys=True), encoding="utf-8")
        target = out_dir / f"{book.output_stem}.{report_format}"
        common = ["-f", "json", "--standalone", f"--metadata-file={meta_file.name}",
                  "--resource-path=.", "--wrap=none", *args]
        if report_format == "pdf":
            typ = book.folder / f"{book.output_stem}.typ"
            _pandoc([*common, "-t", "typst", "-o", str(typ)], book.folder, document, env)
            try:
                typst.compile(str(typ), output=str(target), root=str(book.folder),
                              ignore_system_fonts=True, timestamp=book.epoch)
            except RuntimeError as exc:
                raise PandocRenderError(f"typst compile of {typ.name} failed: {exc}") from None
        else:
            writer = "html5" if report_format == "html" else report_format
            _pandoc([*common, "-t", writer, "-o", str(target)], book.folder, document, env)
        outputs[report_format] = target
    return outputs

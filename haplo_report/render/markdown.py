"""Markdown and Pandoc ASTs of the report document: executed notebooks as Markdown, the
transformations every chapter gets before it joins the one document, and format selection.

Pandoc (bundled with pypandoc) parses each chapter into its AST; the joined AST is written
back as Pandoc Markdown, the body of ``report.qmd`` that both renderers read. Why each
transformation exists is said where it is done.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any, NamedTuple

import nbformat
import pypandoc

from haplo_report.formatting import escape_markdown
from haplo_report.plan import NOTEBOOKS

# The notes block under each table (outputs.tables.core.Table) and figure (outputs.captions).
NOTES_CLASSES: tuple[str, ...] = ("table-notes", "figure-notes")
NOTES_DOCX_STYLE = "Table Notes"  # Word paragraph style of a table's notes block
TITLE_CLASS = "tlf-title"  # the title paragraph above a table, listing or figure
# Word paragraph styles of titles: Word builds a list of tables/figures from a caption style.
TITLE_DOCX_STYLES = {"Table": "Table Caption", "Listing": "Table Caption",
                     "Figure": "Image Caption"}
CAPTION = re.compile(r"^(Table|Listing|Figure) (\d+(?:\.\d+)+)\b")
# A table whose title, rows and notes fit on a PDF page is kept in one piece (notes stay with
# it); a longer one may break, with its header row repeated and a "(continued)" line.
UNBREAKABLE_LINES = 32
# Pandoc's Markdown reader gives a pipe table relative column widths (from its dashes) when a
# row is wider than this; then the widths written must be the fitted ones (see _fit_widths).
READER_COLUMNS = 72
# Characters a column may claim: the first (labels), text columns (prose such as the methods
# chapter's rules or the synopsis' methods), and number columns.
_WIDTH_CAPS = {"label": 40, "text": 80, "number": 24}
_NUMBER_START = re.compile(r"^[\d(<>≥≤−\-+.]")
# Tables written as pipe tables only: every cell of the report is one line of text, and a
# grid table's column widths would follow its longest cell instead of the fitted widths.
PIPE_MARKDOWN = "markdown-simple_tables-multiline_tables-grid_tables-smart"

# The custom Pandoc reader behind parse_many (shipped with the package's templates).
CHAPTER_READER = Path(__file__).resolve().parents[1] / "templates" / "markdown-chapters.lua"

_TITLES = {spec.name: spec.title for spec in NOTEBOOKS}
_OBJECT_REPR_PREFIX = "<"  # text/plain like "<Figure size 640x480 with 1 Axes>": not content


class PandocError(RuntimeError):
    """Pandoc failed; the message names the step and Pandoc's own message."""


def run_pandoc(args: list[str], cwd: Path, stdin: str | None = None,
               env: dict[str, str] | None = None) -> str:
    """Run the bundled Pandoc binary (not pypandoc.convert_*: this passes an environment and a
    working folder) and return its standard output."""
    proc = subprocess.run([pypandoc.get_pandoc_path(), *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, encoding="utf-8",
                          env={**os.environ, **(env or {})}, check=False)
    if proc.returncode != 0:
        raise PandocError(f"pandoc {' '.join(args[:4])} failed: {proc.stderr.strip()}")
    return proc.stdout


def parse(markdown: str, cwd: Path, shift: int = 0) -> dict[str, Any]:
    """Markdown as a Pandoc AST, headings shifted down by ``shift`` levels."""
    return json.loads(run_pandoc(["-f", "markdown", "-t", "json",
                                  f"--shift-heading-level-by={shift}"], cwd, stdin=markdown))


class MarkdownText(NamedTuple):
    """One text for :func:`parse_many`."""

    name: str  # what an error message calls it, e.g. the chapter's name
    markdown: str
    shift: int = 0  # heading levels added, as --shift-heading-level-by (0 or more)


def parse_many(texts: list[MarkdownText], cwd: Path) -> list[dict[str, Any]]:
    """Each text as the Pandoc AST :func:`parse` gives for it, all read by ONE Pandoc process.

    Why: one Pandoc process per chapter (~20 for the report) cost about twice the reading
    itself (example run: 1.2 s against 0.55 s in one process); the per-process cost, not the
    reading, made the difference. Each text is still read on its own (identifiers, footnotes
    and reference links stay per text), by the custom reader :data:`CHAPTER_READER` with the
    command line's reader options.
    """
    if not texts:
        return []
    if any(text.shift < 0 for text in texts):
        raise ValueError("parse_many shifts headings down only (shift >= 0)")
    batch = [{"name": text.name, "markdown": _as_command_line_input(text.markdown),
              "shift": text.shift} for text in texts]
    out = json.loads(run_pandoc(["-f", str(CHAPTER_READER), "-t", "json"], cwd,
                                stdin=json.dumps(batch, ensure_ascii=False)))
    return [{"pandoc-api-version": out["pandoc-api-version"],
             "meta": chapter["c"]["meta"]["c"], "blocks": chapter["c"]["blocks"]["c"]}
            for chapter in out["meta"]["chapters"]["c"]]


def _as_command_line_input(text: str) -> str:
    """``text`` as Pandoc's command line hands its input to a reader, which a reader called
    from Lua does not do: carriage returns dropped, tabs expanded to a tab stop of 4 line by
    line, every line ended by a newline, and one more newline after the input (Pandoc's
    App.Input readInput with tabFilter, and its Sources)."""
    lines = text.replace("\r", "").split("\n")
    if lines[-1] == "":
        lines.pop()
    return "".join(line.expandtabs(4) + "\n" for line in lines) + "\n"


def write_markdown(document: dict[str, Any], cwd: Path) -> str:
    """A Pandoc AST as Pandoc Markdown with pipe tables, characters as they are.

    Every text node (``Str``) is written through :func:`escape_markdown` as raw Markdown:
    Pandoc's own Markdown writer leaves ``&lt;``, ``-@x`` and ``--`` as they are (with ``smart``
    off), and reading them back would make an entity, a citation and a dash of text that was
    typed (issue 28)."""
    return run_pandoc(["-f", "json", "-t", PIPE_MARKDOWN, "--wrap=none"], cwd,
                      stdin=json.dumps(_literal_text(document)))


def _literal_text(node: Any) -> Any:
    """``node`` with each ``Str`` whose text has a Markdown meaning as escaped raw Markdown."""
    if isinstance(node, list):
        return [_literal_text(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("t") == "Str":
        escaped = escape_markdown(node["c"])
        return node if escaped == node["c"] else {"t": "RawInline", "c": ["markdown", escaped]}
    return {key: _literal_text(value) for key, value in node.items()}


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
        return f"![]({path.parent.name}/{path.name})"
    text = data.get("text/plain", "")
    if "text/html" in data or not text or text.startswith(_OBJECT_REPR_PREFIX):
        return None  # an HTML-only (DataFrame) view or an object repr
    return f"```\n{text.rstrip()}\n```"


def notebook_markdown(path: Path, media: Path) -> str:
    """An executed notebook as Markdown: markdown cells, and code-cell outputs without code.

    Cells tagged ``remove-cell`` and outputs of cells tagged ``remove-output`` are left out,
    as Quarto does. PNG images are written into ``media`` and linked relative to its parent.
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


# --- AST helpers ------------------------------------------------------------------------

def stringify(node: Any) -> str:
    """The plain text of inlines or blocks."""
    if isinstance(node, list):
        return "".join(stringify(item) for item in node)
    if not isinstance(node, dict):
        return ""
    kind = node.get("t")
    if kind == "Str":
        return node["c"]
    if kind in ("Space", "SoftBreak", "LineBreak"):
        return " "
    if kind in ("Code", "Math", "RawInline"):
        return node["c"][-1] if kind != "RawInline" else ""
    if kind in ("Para", "Plain"):
        return stringify(node["c"]) + " "
    content = node.get("c")
    if kind in ("Link", "Image", "Span"):
        return stringify(content[1])
    if kind in ("Emph", "Strong", "Strikeout", "Underline", "SmallCaps", "Superscript",
                "Subscript"):
        return stringify(content)
    if kind == "Quoted":
        return '"' + stringify(content[1]) + '"'
    return stringify(content) if isinstance(content, list) else ""


def raw(fmt: str, text: str) -> dict[str, Any]:
    return {"t": "RawBlock", "c": [fmt, text]}


def div(blocks: list[Any], classes: tuple[str, ...] = (), identifier: str = "",
        attributes: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    return {"t": "Div", "c": [[identifier, list(classes), [list(a) for a in attributes]],
                              blocks]}


def typst_string(text: str) -> str:
    """Text as a Typst string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def short_title(title: str) -> str:
    """A title for the lists of tables, figures and listings: without the data cut, which
    every title repeats ("Table 14.2.1. Progression-free survival (full analysis set)")."""
    return re.sub(r"[;,]? data cut \d{4}-\d{2}-\d{2}", "", title).replace(" ()", "").strip()


def tlf_id(kind: str, number: str) -> str:
    """Identifier of a numbered output's title: "table-14-2-1", "figure-14-2-1". Not "tbl-" or
    "fig-": those are Quarto's cross-reference prefixes, which would renumber it "Table 1"."""
    return f"{kind.lower()}-{number.replace('.', '-')}"


# --- chapter transformations ------------------------------------------------------------

def prepare_chapter(blocks: list[Any], prefix: str) -> list[Any]:
    """A chapter's blocks made fit for the one document.

    Heading identifiers get the chapter's prefix (each chapter is parsed on its own, so two
    may both have "#notes"). A captioned table becomes a title paragraph, the table and its
    notes, grouped (:func:`_tlf_group`): Quarto drops the captions of unlabelled pipe tables
    in Typst (quarto-cli #11733) and labelled ones would get Quarto's own "Table 1" number, so
    the ICH title is a paragraph with a caption style, which every format keeps.
    """
    out: list[Any] = []
    index = 0
    while index < len(blocks):
        block = blocks[index]
        kind = block.get("t")
        if kind == "Header" and block["c"][1][0]:
            block["c"][1][0] = f"{prefix}-{block['c'][1][0]}"
        if kind == "Table" and CAPTION.match(stringify(block["c"][1][1]).strip()):
            caption = block["c"][1][1]
            block["c"][1] = [None, []]
            _fit_widths(block)
            group = [block]
            if index + 1 < len(blocks) and _is_notes(blocks[index + 1]):
                index += 1
                group.append(_styled_notes(blocks[index]))
            inlines = [i for b in caption for i in b["c"]] if caption else []
            out += _tlf_group(stringify(caption).strip(), inlines, group, _lines(group))
        elif kind == "Table":
            caption = block["c"][1][1]
            block["c"][1] = [None, []]
            _fit_widths(block)
            if caption:  # an unnumbered title (synopsis, appendices): same treatment
                inlines = [i for b in caption for i in b["c"]]
                out += _title(inlines, "", TITLE_DOCX_STYLES["Table"])
            out.append(block)
        elif kind == "Figure" and CAPTION.match(stringify(block["c"][1][1]).strip()):
            caption = block["c"][1][1]
            group = [_uncaptioned(content) for content in block["c"][2]]
            if index + 1 < len(blocks) and _is_notes(blocks[index + 1]):
                index += 1
                group.append(_styled_notes(blocks[index]))
            inlines = [i for b in caption for i in b["c"]]
            out += _tlf_group(stringify(caption).strip(), inlines, group, 0)
        elif kind == "Para" and CAPTION.match(stringify(block).strip()):
            out += _tlf_group(stringify(block).strip(), block["c"], [], 1)
        elif _is_notes(block):
            out.append(_styled_notes(block))
        elif kind == "Div":
            block["c"][1] = prepare_chapter(block["c"][1], prefix)
            out.append(block)
        else:
            out.append(block)
        index += 1
    return out


def _tlf_group(title: str, inlines: list[Any], body: list[Any], lines: int) -> list[Any]:
    """A numbered output: its title paragraph (Word caption style, HTML class, bold Typst
    block that sticks to what follows) then its body, inside Typst's ``tlf`` (which records
    it for the lists and the "(continued)" line and keeps a short table in one piece)."""
    match = CAPTION.match(title)
    assert match is not None
    kind, number = match.groups()
    heading = _title(inlines, tlf_id(kind, number), TITLE_DOCX_STYLES[kind])
    breakable = "true" if lines > UNBREAKABLE_LINES else "false"
    opening = (f"#tlf(kind: {typst_string(kind)}, number: {typst_string(number)}, "
               f"title: {typst_string(title)}, short: {typst_string(short_title(title))}, "
               f"breakable: {breakable})[")
    return [raw("typst", opening), *heading, *body, raw("typst", "]")]


def _title(inlines: list[Any], identifier: str, style: str) -> list[Any]:
    """A title paragraph: a div with the Word caption style and the HTML class, inside
    Typst's ``tlf-title`` (outside the div, whose own Typst block would otherwise hold the
    title's stickiness to itself instead of to the table that follows)."""
    return [raw("typst", "#tlf-title["),
            div([{"t": "Para", "c": inlines}], (TITLE_CLASS,), identifier,
                (("custom-style", style),)),
            raw("typst", "]")]


def _uncaptioned(block: dict[str, Any]) -> dict[str, Any]:
    """A figure's image block as an inline image in a paragraph of its own: its title is the
    paragraph above. The image keeps its description (the alt text every format writes) and a
    non-breaking space follows it, so the Markdown reader does not make it a captioned figure
    again (Pandoc manual, implicit_figures), which Quarto would number "Figure 1"."""
    inlines = block["c"] if block.get("t") in ("Plain", "Para") else None
    if inlines is None:
        return block
    return {"t": "Para", "c": [*inlines, {"t": "Str", "c": "\u00a0"}]}


def walk(node: Any) -> list[dict[str, Any]]:
    """Every AST element in ``node``, depth first."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        found += walk(node.get("c"))
    elif isinstance(node, list):
        for item in node:
            found += walk(item)
    return found


def _is_notes(block: Any) -> bool:
    return isinstance(block, dict) and block.get("t") == "Div" and \
        bool(set(NOTES_CLASSES) & set(block["c"][0][1]))


def _styled_notes(block: dict[str, Any]) -> dict[str, Any]:
    """A table's notes with their look in every format: HTML styles the class (report.css),
    Word a paragraph style (``custom-style``), Typst a function around the block (Pandoc's
    Typst writer drops classes, so it is wrapped in raw Typst)."""
    attributes, blocks = block["c"]
    if not any(key == "custom-style" for key, _ in attributes[2]):
        attributes[2].append(["custom-style", NOTES_DOCX_STYLE])
        block["c"][1] = [raw("typst", "#tablenotes["), *blocks, raw("typst", "]")]
    return block


def _rows(table: dict[str, Any]) -> list[list[str]]:
    """Every row (header, then body) of a table as cell texts."""
    head = table["c"][3][1]
    bodies = [row for body in table["c"][4] for row in body[2] + body[3]]
    return [[stringify(cell[4]).strip() for cell in row[1]] for row in head + bodies]


def _lines(group: list[Any]) -> int:
    """Rough printed lines of a table and its notes (title included)."""
    table = group[0]
    notes = group[1]["c"][1] if len(group) > 1 else []
    note_lines = sum(stringify(b).count("\n") + 1 + len(stringify(b)) // 120 for b in notes)
    return 2 + len(_rows(table)) + note_lines


def _column_kind(body: list[list[str]], i: int) -> str:
    """"number" when most filled cells of column ``i`` start like a number, else "text"."""
    cells = [row[i].strip() for row in body if i < len(row) and row[i].strip()]
    numeric = sum(1 for cell in cells if _NUMBER_START.match(cell))
    return "number" if numeric * 2 >= len(cells) else "text"


def _fit_widths(table: dict[str, Any]) -> None:
    """Column widths fitted to the content, in place.

    A table narrow enough for the Markdown reader keeps automatic widths (each renderer fits
    them). A wider one gets relative widths from its longest cells (capped, header words
    never broken): otherwise the reader would split it into equal columns.
    """
    rows = _rows(table)
    columns = len(table["c"][2])
    longest = [max((len(row[i]) for row in rows if i < len(row)), default=0)
               for i in range(columns)]
    if sum(longest) + 3 * columns + 1 <= READER_COLUMNS:
        for spec in table["c"][2]:
            spec[1] = {"t": "ColWidthDefault"}
        return
    header = rows[0] if rows else [""] * columns
    need = []
    for i in range(columns):
        words = max((len(w) for w in header[i].split()), default=0) if i < len(header) else 0
        cap = _WIDTH_CAPS["label" if i == 0 else _column_kind(rows[1:], i)]
        need.append(max(words, min(longest[i], cap), 4) + 3)  # + cell padding
    total = sum(need)
    for spec, width in zip(table["c"][2], need):
        spec[1] = {"t": "ColWidth", "c": round(width / total, 4)}


# --- format selection -------------------------------------------------------------------

def for_format(blocks: list[Any], pandoc_format: str) -> list[Any]:
    """Blocks as Quarto shows them in ``pandoc_format`` (html, docx, typst): divs of class
    ``content-visible`` / ``content-hidden`` with ``when-format`` / ``unless-format`` kept or
    dropped (Quarto's conditional content, done here for the Pandoc path)."""
    out = []
    for block in blocks:
        if block.get("t") == "Div":
            _, classes, attributes = block["c"][0]
            attrs = dict(attributes)
            if "content-visible" in classes or "content-hidden" in classes:
                match = True
                if "when-format" in attrs:
                    match = attrs["when-format"] == pandoc_format
                if "unless-format" in attrs:
                    match = match and attrs["unless-format"] != pandoc_format
                if match != ("content-visible" in classes):
                    continue
            block = {"t": "Div", "c": [block["c"][0], for_format(block["c"][1], pandoc_format)]}
        out.append(block)
    return out

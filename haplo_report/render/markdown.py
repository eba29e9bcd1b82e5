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
from haplo_report.outputs.tables.layout import (MARGIN_CM, PAGE_SIZES_CM, column_needs,
                                                fit_columns, orientation)
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
TABLE_PT = 8  # the PDF's table text (typst-template.typ: show table: set text(size: 8pt))
TABLE_PADDING_CM = 0.4  # a cell's left and right inset (Typst 4 pt a side, Word 0.19 cm)
# Uncaptioned tables of at least this many columns (appendix tables) are laid out like
# listings: on a landscape page when their rows would wrap in portrait.
WIDE_COLUMNS = 6
# Section breaks around a landscape table in Word: finish_docx (render/word.py) completes them
# with the document's page size, margins, header and footer.
SECTION_OPENXML = ('<w:p><w:pPr><w:sectPr><w:pgSz w:orient="{}"/></w:sectPr></w:pPr></w:p>')
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

def prepare_chapter(blocks: list[Any], prefix: str, top: bool = True) -> list[Any]:
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
            title = stringify(caption).strip()
            block["c"][1] = [None, []]
            turn = _fit_widths(block, CAPTION.match(title).group(1))
            group = [block]
            if index + 1 < len(blocks) and _is_notes(blocks[index + 1]):
                index += 1
                group.append(_styled_notes(blocks[index]))
            inlines = [i for b in caption for i in b["c"]] if caption else []
            lines = _lines(group)
            group = _typst_table(block, group[1] if len(group) > 1 else None)
            _turn_page(out, _tlf_group(title, inlines, group, lines), turn, top)
        elif kind == "Table":
            caption = block["c"][1][1]
            block["c"][1] = [None, []]
            wide = len(block["c"][2]) >= WIDE_COLUMNS
            turn = _fit_widths(block, "Listing" if wide else "Table")
            group = []
            if caption:  # an unnumbered title (synopsis, appendices): same treatment
                inlines = [i for b in caption for i in b["c"]]
                group += _title(inlines, "", TITLE_DOCX_STYLES["Table"])
            _turn_page(out, [*group, block], turn, top)
        elif kind == "Figure" and CAPTION.match(stringify(block["c"][1][1]).strip()):
            caption = block["c"][1][1]
            group = [part for content in block["c"][2] for part in _uncaptioned(content)]
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
            block["c"][1] = prepare_chapter(block["c"][1], prefix, top=False)
            out.append(block)
        else:
            out.append(block)
        index += 1
    return out


def _turn_page(out: list[Any], group: list[Any], turn: str, top: bool) -> None:
    """Append ``group`` to ``out``, on landscape pages of its own when ``turn`` says so and it
    stands at the top level (Typst allows a page only there), with the heading just before
    it. Typst: a flipped ``page``; Word: section breaks (:data:`SECTION_OPENXML`)."""
    if turn != "landscape" or not top:
        out += group
        return
    before = out[-1] if out else {}
    heading = [out.pop()] if before.get("t") == "Header" and before["c"][0] > 1 else []
    closing = [raw("openxml", SECTION_OPENXML.format("landscape")), raw("typst", "]")]
    if out[-2:] == closing:  # right after another turned group (the 16.2 listings): the same
        del out[-2:]         # landscape pages, not an empty portrait section between them
        out += [*heading, *group, *closing]
        return
    out += [raw("typst", "#page(flipped: true)["),
            raw("openxml", SECTION_OPENXML.format("portrait")),
            *heading, *group, *closing]


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


def _uncaptioned(block: dict[str, Any]) -> list[dict[str, Any]]:
    """A figure's image block as an inline image in a paragraph of its own: its title is the
    paragraph above. The image keeps its description (the alt text HTML and Word write) and a
    non-breaking space follows it, so the Markdown reader does not make it a captioned figure
    again (Pandoc manual, implicit_figures), which Quarto would number "Figure 1". Typst gets
    the image as raw Typst with ``alt``, which Pandoc's Typst writer leaves out (the PDF's
    figures had no alternative text)."""
    inlines = block["c"] if block.get("t") in ("Plain", "Para") else None
    if inlines is None:
        return [block]
    para = {"t": "Para", "c": [*inlines, {"t": "Str", "c": "\u00a0"}]}
    images = [node for node in inlines if node.get("t") == "Image"]
    if len(images) != 1:
        return [para]
    (_, _, attributes), description, (target, _) = images[0]["c"]
    size = dict(attributes).get("width", "")
    size = size if re.fullmatch(r"\d+(\.\d+)?(%|cm|mm|in|pt)", size) else "100%"
    typst = (f"#box(image({typst_string(target)}, width: {size}, "
             f"alt: {typst_string(stringify(description).strip())}))")
    when = (("when-format", "typst"),)
    return [div([raw("typst", typst)], ("content-visible",), attributes=when),
            div([para], ("content-hidden",), attributes=when)]


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
    """Every row (header, then body) of a table as cell texts, a label's indent (non-breaking
    spaces) kept."""
    head = table["c"][3][1]
    bodies = [row for body in table["c"][4] for row in body[2] + body[3]]
    return [[stringify(cell[4]).strip(" \t\n") for cell in row[1]] for row in head + bodies]


def _lines(group: list[Any]) -> int:
    """Rough printed lines of a table and its notes (title included)."""
    table = group[0]
    notes = group[1]["c"][1] if len(group) > 1 else []
    note_lines = sum(stringify(b).count("\n") + 1 + len(stringify(b)) // 120 for b in notes)
    return 2 + len(_rows(table)) + note_lines


_TYPST_ALIGN = {"AlignLeft": "left", "AlignRight": "right", "AlignCenter": "center",
                "AlignDefault": "auto"}


def _level(label: str) -> int:
    """A row label's hierarchy level: its leading non-breaking spaces, four a level."""
    return label[:len(label) - len(label.lstrip())].count("\u00a0") // 4


def _note_lines(notes: dict[str, Any]) -> list[str]:
    """The lines of a notes block as plain text (one per line break)."""
    lines: list[str] = []
    for block in notes["c"][1]:
        if block.get("t") not in ("Para", "Plain"):
            continue
        current: list[Any] = []
        for inline in [*block["c"], {"t": "LineBreak"}]:
            if inline.get("t") == "LineBreak":
                lines.append(stringify(current).strip())
                current = []
            else:
                current.append(inline)
    return [line for line in lines if line]


def _typst_table(table: dict[str, Any], notes: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A numbered table as the blocks that show it: for Typst a table written here (widths
    fitted to the content), other formats the table as it is, with ``notes`` (a styled notes
    block) after it.

    Pandoc's Typst table cannot say what keeps a table readable across pages: each group
    heading row (a label followed by deeper ones) becomes a subheader (``table.header(level:
    2)``), which Typst never leaves alone at a page foot and repeats under the column header
    on the page the group runs onto ("Cumulative incidence of moderate-severe chronic GVHD"
    stood at one page's foot, its rows read as another group's on the next); the last two
    rows and the notes form a footer (``table.footer(repeat: false)``), which Typst keeps in
    one piece, so notes never start a page alone and no note sentence is split.
    """
    hidden = (("when-format", "typst"),)
    kept = [table] + ([notes] if notes else [])
    specs = table["c"][2]
    if len(table["c"][3][1]) != 1:
        return kept
    rows = _rows(table)
    body = rows[1:]
    levels = [_level(row[0]) if row else 0 for row in body]
    groups = {k for k in range(len(body) - 1) if levels[k + 1] > levels[k]}
    if any(width["t"] == "ColWidthDefault" for _, width in specs):  # as wide as it needs:
        # absolute widths (a notes cell across automatic columns would widen them)
        needs = column_needs(rows[0], body, points=TABLE_PT, padding_cm=TABLE_PADDING_CM)
        total = PAGE_SIZES_CM["a4"][0] - 2 * MARGIN_CM
        fitted = ([n.most for n in needs] if sum(n.most for n in needs) <= total
                  else fit_columns(needs, total))
        columns = ", ".join(f"{width:.2f}cm" for width in fitted)
    else:
        columns = ", ".join(f"{width['c'] * 100:.2f}%" for _, width in specs)
    aligns = ", ".join(_TYPST_ALIGN.get(align["t"], "auto") for align, _ in specs)

    def cells(row: list[str]) -> str:
        return ", ".join(typst_string(cell) for cell in row)

    tail = max(len(body) - 2, 0)
    lines = [f"#figure(kind: table, table(columns: ({columns},), align: ({aligns},),",
             f"  table.header({cells(rows[0])}),", "  table.hline(),"]
    for k, row in enumerate(body[:tail]):
        # nested groups nest their subheaders; one whose rows all stand in the footer is a
        # row (Typst 0.15 panics on a subheader with no row after it)
        lines.append(f"  table.header(level: {levels[k] + 2}, {cells(row)})," if k in groups
                     and k + 1 < tail else f"  {cells(row)},")
    footer = [cells(row) for row in body[tail:]]
    note_lines = _note_lines(notes) if notes else []
    if note_lines:
        text = " \\ ".join(f"#{typst_string(line)}" for line in note_lines)
        footer.append(f"table.cell(colspan: {len(specs)}, stroke: none, inset: (x: 0pt), "
                      f"tablenotes[{text}])")
    lines += [f"  table.footer(repeat: false, {', '.join(footer)}),", "))"]
    if notes:
        notes["c"][0][1].append("content-hidden")
        notes["c"][0][2].append(["when-format", "typst"])
    return [div([raw("typst", "\n".join(lines))], ("content-visible",), attributes=hidden),
            div([table], ("content-hidden",), attributes=hidden), *kept[1:]]


def _fit_widths(table: dict[str, Any], kind: str = "Table") -> str:
    """Column widths fitted to the content, in place; the orientation of the page the table
    needs (:func:`haplo_report.outputs.tables.layout.orientation`), returned.

    A table narrow enough for the Markdown reader keeps automatic widths (each renderer fits
    them). A wider one gets relative widths measured in the report typeface at the PDF's table
    size (:func:`.layout.column_needs`): every column at least as wide as its longest word or
    number and header word, only prose wrapping, at spaces (the reader would otherwise split
    it into equal columns, and narrow ones printed a patient number over the next cell).
    """
    rows = _rows(table)
    columns = len(table["c"][2])
    longest = [max((len(row[i]) for row in rows if i < len(row)), default=0)
               for i in range(columns)]
    if sum(longest) + 3 * columns + 1 <= READER_COLUMNS:
        for spec in table["c"][2]:
            spec[1] = {"t": "ColWidthDefault"}
        return "portrait"
    header = rows[0] if rows else [""] * columns
    body = [row + [""] * (columns - len(row)) for row in rows[1:]]
    needs = column_needs(header, body, points=TABLE_PT, padding_cm=TABLE_PADDING_CM)
    turn = orientation(needs, kind)
    width, height = PAGE_SIZES_CM["a4"]
    total = (height if turn == "landscape" else width) - 2 * MARGIN_CM
    widths = fit_columns(needs, total, label=kind == "Table")
    for spec, share in zip(table["c"][2], widths):
        spec[1] = {"t": "ColWidth", "c": round(share / sum(widths), 4)}
    return turn


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

"""parse_many: many Markdown texts read by one Pandoc process, each exactly as ``parse`` (one
``pandoc -f markdown`` process per text, the reference) reads it on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from haplo_report.render import markdown
from haplo_report.render.markdown import MarkdownText, PandocError, parse, parse_many, walk

# Inputs where a reader called from Lua and Pandoc's command line could differ: tabs (the
# command line expands them), carriage returns, abbreviations (the command line's data file
# has "fig." and "No.", a Lua reader's default list has not), a pipe table wider than the
# command line's 72 columns, a metadata block, no final newline.
TRICKY = [
    "Code:\n\n\tindented\twith\ttabs\n\n| a\t| b |\n|---|---|\n| 1\t| 2 |\n",
    "line one\r\nline two\r\n\r\n# Head\r\n",
    "See fig. 2 and No. 5, e.g. this.\n",
    "| " + " | ".join(f"column number {i}" for i in range(8)) + " |\n|" + "---|" * 8 + "\n| "
    + " | ".join("x" * 10 for _ in range(8)) + " |\n",
    "---\ntitle: A chapter\n---\n\n# After the metadata\n\nText\n",
    "# No final newline {#part .part}",
]


def _headers(blocks: list) -> list[tuple[int, str]]:
    return [(node["c"][0], node["c"][1][0]) for node in walk(blocks) if node.get("t") == "Header"]


def test_each_text_as_parse_reads_it_alone(tmp_path: Path):
    texts = [MarkdownText(f"t{i}", text, i % 2) for i, text in enumerate(TRICKY)]
    assert parse_many(texts, tmp_path) == [parse(t.markdown, tmp_path, t.shift) for t in texts]
    # the inputs do differ where the reader options would: the abbreviation's space is kept
    para = parse_many([MarkdownText("a", TRICKY[2])], tmp_path)[0]["blocks"][0]["c"]
    assert {"t": "Str", "c": "No.\u00a05,"} in para


def test_same_heading_in_two_texts_keeps_the_same_identifier(tmp_path: Path):
    text = "# Notes\n\nA\n\n## Method\n"
    first, second = parse_many([MarkdownText("a", text), MarkdownText("b", text)], tmp_path)
    assert _headers(first["blocks"]) == _headers(second["blocks"]) == [(1, "notes"),
                                                                       (2, "method")]


def test_shift_one_adds_a_level_to_every_heading_wherever_it_is(tmp_path: Path):
    text = ("# Top\n\n## Sub\n\n> # Quoted\n\n::: box\n# In a div\n:::\n\nText[^1]\n\n"
            "[^1]: A note.\n\n    # In the note\n")
    shifted, plain = parse_many([MarkdownText("a", text, 1), MarkdownText("b", text, 0)],
                                tmp_path)
    assert [level for level, _ in _headers(shifted["blocks"])] == [2, 3, 2, 2, 2]
    assert [level for level, _ in _headers(plain["blocks"])] == [1, 2, 1, 1, 1]
    assert shifted == parse(text, tmp_path, 1)  # as --shift-heading-level-by=1 does


def test_footnotes_and_reference_links_resolve_only_within_their_text(tmp_path: Path):
    defines = "Said[^1] with [a link][ref].\n\n[^1]: The note.\n\n[ref]: https://example.org\n"
    uses = "Again[^1] and [a link][ref].\n"
    first, second = parse_many([MarkdownText("a", defines), MarkdownText("b", uses)], tmp_path)
    kinds = {node.get("t") for node in walk(first["blocks"])}
    assert {"Note", "Link"} <= kinds
    kinds = {node.get("t") for node in walk(second["blocks"])}
    assert "Note" not in kinds and "Link" not in kinds
    assert second == parse(uses, tmp_path)


def test_pandoc_error_names_the_text_and_carries_pandocs_message(tmp_path: Path):
    texts = [MarkdownText("synopsis", "Fine.\n"),
             MarkdownText("03_pfs", "---\ntitle: [unclosed\nx: y\n---\n\nText\n")]
    with pytest.raises(PandocError, match=r"(?s)03_pfs: Error parsing YAML metadata.*"
                                          r"did not find expected"):
        parse_many(texts, tmp_path)


def test_missing_reader_script_is_pandocs_error(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(markdown, "CHAPTER_READER", tmp_path / "absent.lua")
    with pytest.raises(PandocError, match="absent.lua"):
        parse_many([MarkdownText("a", "Text\n")], tmp_path)


def test_no_texts_no_process_and_no_negative_shift(tmp_path: Path):
    assert parse_many([], tmp_path) == []
    with pytest.raises(ValueError, match="shift >= 0"):
        parse_many([MarkdownText("a", "# A\n", -1)], tmp_path)


def test_written_document_keeps_hostile_text_as_typed(tmp_path):
    """Issue 28: text read from the notebooks, written to the report document and read again
    (as both renderers do) is still the text typed: Pandoc's own Markdown writer leaves
    ``&lt;``, ``-@x`` and ``--`` live."""
    import html  # noqa: PLC0415
    import json  # noqa: PLC0415
    import re  # noqa: PLC0415

    from haplo_report.formatting import escape_markdown  # noqa: PLC0415
    from haplo_report.render.markdown import run_pandoc, write_markdown  # noqa: PLC0415
    from test_formatting import HOSTILE_TEXT  # noqa: PLC0415

    source = "".join(f"| {escape_markdown(text)} |\n|---|\n\n{escape_markdown(text)}\n\n"
                     for text in HOSTILE_TEXT)
    ast = json.loads(run_pandoc(["-f", "markdown", "-t", "json"], tmp_path, stdin=source))
    written = write_markdown(ast, tmp_path)
    out = run_pandoc(["-f", "markdown", "-t", "html", "--wrap=none"], tmp_path, stdin=written)
    shown = [html.unescape(t) for t in re.findall(r"<(?:p|th)>(.*?)</(?:p|th)>", out)]
    assert shown == [text for text in HOSTILE_TEXT for _ in range(2)]


def test_two_landscape_listings_in_a_row_share_their_landscape_pages():
    # Appendix 16.2 holds Listings 16.2.6 and 16.2.7 one after the other (SAP v3): Word got an
    # empty portrait page between their two landscape sections.
    from haplo_report.render.markdown import SECTION_OPENXML, _turn_page, raw

    out: list = []
    first, second = ({"t": "Para", "c": [n]} for n in ("L1", "L2"))
    _turn_page(out, [first], "landscape", top=True)
    out.append({"t": "Header", "c": [2, ["h", [], []], []]})
    _turn_page(out, [second], "landscape", top=True)
    sections = [b["c"][1] for b in out if b.get("t") == "RawBlock" and b["c"][0] == "openxml"]
    assert sections == [SECTION_OPENXML.format("portrait"), SECTION_OPENXML.format("landscape")]
    assert out[-1] == raw("typst", "]") and out.count(raw("typst", "#page(flipped: true)[")) == 1
    assert [b for b in out if b.get("t") in ("Para", "Header")][0]["c"] == ["L1"]

"""What a rendered report must be before a run accepts it: one self-contained HTML file, a Word
file with the reference document's page set-up, header and footer, and a PDF made from the
suite's Typst template. Each check returns the problem as one line for the user, or None.

Quarto renders a document on its own, silently, when it does not read the project's settings
(a folder of the path starting with a dot, quarto-cli #3186): exit 0, but an HTML file that
loads files beside it, a Word file without the reference document. These checks are what
stops such a render from replacing a good report.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import docx
from docx.opc.exceptions import PackageNotFoundError
from docx.oxml.ns import qn

# An attribute naming another resource, with its tag; a reference in a style sheet.
_ATTRIBUTE = re.compile(
    r"""<(?P<tag>\w+)\b[^>]*?\b(?:src|href)\s*=\s*["'](?P<url>[^"']*)["']""", re.IGNORECASE)
_CSS_REFERENCE = re.compile(
    r"""(?<![\w.-])url\(\s*["']?(?P<url>[^"')]*)|@import\s+["'](?P<imported>[^"']*)""")
_SCRIPT = re.compile(r"(<script\b[^>]*>).*?(</script>)", re.IGNORECASE | re.DOTALL)
_STYLE = re.compile(r"<style\b[^>]*>(.*?)</style>", re.IGNORECASE | re.DOTALL)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)
# Markers of the suite's Typst template in the Typst source a PDF was compiled from: the
# definition of report() (typst-template.typ) and the call of it (typst-show.typ).
TEMPLATE_MARKERS: tuple[str, ...] = ("#let report(", "#show: doc => report(")


def _outside(tag: str | None, url: str) -> bool:
    """Whether ``url`` makes the HTML depend on something outside it: every embedded
    resource (``src``, ``<link href>``, CSS) must be a ``data:`` URL; a hyperlink
    (``<a href>``) may point into the document or to a web address, never to a file."""
    url = url.strip()
    if not url or url.startswith("data:"):
        return False
    if tag is not None and tag.lower() == "a":
        return not (url.startswith("#") or _SCHEME.match(url))
    return True


def html_problem(path: Path) -> str | None:
    """Why ``path`` is not one self-contained HTML file, or None."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return f"the HTML report cannot be read ({exc})"
    markup = _SCRIPT.sub(r"\1\2", text)  # a script's code is not markup
    outside = [match.group("url") for match in _ATTRIBUTE.finditer(markup)
               if _outside(match.group("tag"), match.group("url"))]
    for style in _STYLE.findall(markup):
        for match in _CSS_REFERENCE.finditer(style):
            url = match.group("url") or match.group("imported") or ""
            if _outside(None, url):
                outside.append(url)
    if outside:
        return (f"the HTML report is not self-contained: {len(outside)} reference(s) to files "
                f"outside it (first: {outside[0][:80]})")
    return None


def _page(section) -> tuple:
    """Page size (portrait way up: a landscape section of the suite's is the same paper
    turned) and margins."""
    width, height = section.page_width, section.page_height
    if width is not None and height is not None and width > height:
        width, height = height, width
    return (width, height, section.left_margin,
            section.right_margin, section.top_margin, section.bottom_margin)


def _suite_break(section) -> bool:
    """A section break the suite writes around a landscape table with an orientation only
    (render.markdown.SECTION_OPENXML), completed by finish_docx after acceptance."""
    properties = list(section._sectPr)
    return (len(properties) == 1 and properties[0].tag == qn("w:pgSz")
            and properties[0].get(qn("w:w")) is None)


def _text(part) -> str:
    return "\n".join(paragraph.text for paragraph in part.paragraphs).strip()


def docx_problem(path: Path, reference: Path) -> str | None:
    """Why the Word report ``path`` lacks the page set-up, header or footer of the reference
    document ``reference``, or None."""
    try:
        expected = docx.Document(str(reference)).sections[0]
        sections = docx.Document(str(path)).sections
    # what python-docx raises on a file that is not a readable Word document (lxml's syntax
    # errors are SyntaxError)
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, OSError, ValueError,
            SyntaxError) as exc:
        return f"the Word report cannot be read ({exc})"
    if len(sections) == 0:
        return "the Word report has no page set-up (not made with the reference document)"
    for section in sections:
        if _suite_break(section):
            continue
        if _page(section) != _page(expected):
            return ("the Word report's page size or margins are not the reference document's "
                    "(not made with it)")
        if _text(section.header) != _text(expected.header):
            return "the Word report's page header is not the reference document's"
        if _text(section.footer) != _text(expected.footer):
            return "the Word report's page footer is not the reference document's"
    return None


def pdf_problem(path: Path, typst_source: Path) -> str | None:
    """Why ``path`` is not a PDF compiled from the suite's Typst template (its source
    ``typst_source`` defines and calls ``report()``), or None."""
    try:
        with path.open("rb") as pdf:
            magic = pdf.read(5)
        source = typst_source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return f"the PDF report or its Typst source cannot be read ({exc})"
    if magic != b"%PDF-":
        return "the PDF report is not a PDF file"
    if not all(marker in source for marker in TEMPLATE_MARKERS):
        return "the PDF report was not made with the suite's Typst template"
    return None

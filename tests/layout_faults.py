"""Layout faults a reader sees, measured on rendered files (issue 25): characters printed over
other characters in a PDF, long words of a table broken in a Word or RTF file as LibreOffice
lays it out, and pages that hold almost nothing.

Also a script: ``python tests/layout_faults.py RUN_DIR...`` prints the faults of run folders.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium

# Two glyph boxes overprint when they overlap by more than this share of the narrower box
# in width and of the lower one in height (kerned neighbours overlap by a few per cent).
OVERLAP_SHARE = 0.35
# A word of a table at least this long is checked whole in the rendered DOCX/RTF text.
LONG_WORD = 8
# Text within this distance (points) of a page's top or bottom edge is running header/footer.
FURNITURE_PT = 62


@dataclass(frozen=True)
class Glyph:
    char: str
    left: float
    bottom: float
    right: float
    top: float


def page_glyphs(page: pdfium.PdfPage) -> list[Glyph]:
    """Every visible character of a page with its box (points), spaces left out."""
    text = page.get_textpage()
    glyphs = []
    for i in range(text.count_chars()):
        char = text.get_text_range(i, 1)
        if not char.strip():
            continue
        left, bottom, right, top = text.get_charbox(i)
        if right - left > 0 and top - bottom > 0:
            glyphs.append(Glyph(char, left, bottom, right, top))
    return glyphs


def overprinted(glyphs: list[Glyph]) -> list[tuple[Glyph, Glyph]]:
    """Pairs of glyphs whose boxes overlap (sweep along x)."""
    ordered = sorted(glyphs, key=lambda g: g.left)
    pairs = []
    for i, a in enumerate(ordered):
        for b in ordered[i + 1:]:
            if b.left >= a.right:
                break
            if _same_box(a, b):  # one ligature glyph ("fi") holds two characters
                continue
            width = min(a.right, b.right) - b.left
            height = min(a.top, b.top) - max(a.bottom, b.bottom)
            if (width > OVERLAP_SHARE * min(a.right - a.left, b.right - b.left)
                    and height > OVERLAP_SHARE * min(a.top - a.bottom, b.top - b.bottom)):
                pairs.append((a, b))
    return pairs


def _same_box(a: Glyph, b: Glyph) -> bool:
    return max(abs(a.left - b.left), abs(a.right - b.right), abs(a.bottom - b.bottom),
               abs(a.top - b.top)) < 0.05


def pdf_overprints(path: Path) -> dict[int, int]:
    """Overprinted characters per page (1-based) of a PDF; pages without any left out."""
    found = {}
    with_pdf = pdfium.PdfDocument(str(path))
    try:
        for number, page in enumerate(with_pdf, start=1):
            chars = {id(g) for pair in overprinted(page_glyphs(page)) for g in pair}
            if chars:
                found[number] = len(chars)
    finally:
        with_pdf.close()
    return found


def pdf_pages_text(path: Path, furniture: bool = False) -> list[str]:
    """Each page's text; without ``furniture`` the running header and footer left out."""
    pdf = pdfium.PdfDocument(str(path))
    pages = []
    try:
        for page in pdf:
            height = page.get_height()
            text = page.get_textpage()
            if furniture:
                pages.append(text.get_text_range())
            else:
                pages.append(text.get_text_bounded(bottom=FURNITURE_PT, top=height - FURNITURE_PT))
    finally:
        pdf.close()
    # pdfium reads a hyphen that ends a line as U+FFFE (or U+0002): a hyphen and a break
    return [re.sub("[\ufffe\x02]", "-\n", page) for page in pages]


def long_words(cells: list[str]) -> set[str]:
    """The words of at least :data:`LONG_WORD` characters in some cells."""
    return {w for cell in cells for w in re.split(r"\s+", cell) if len(w) >= LONG_WORD}


SUPERSCRIPTS = re.compile("[\u2070-\u209f\u00b9\u00b2\u00b3]")  # extracted out of order


def broken_words(words: set[str], text: str) -> set[str]:
    """The words not found whole in ``text`` (a line break inside a word splits it). A prose
    compound ("relapse-related") may break after its hyphen, as typesetting does; an
    identifier ("HB-01-001") may not."""
    flat = " ".join(SUPERSCRIPTS.sub("", text).split())
    found = set(flat.split(" "))
    broken = set()
    for word in words:
        bare = SUPERSCRIPTS.sub("", word)
        if any(bare in token for token in found):
            continue
        parts = bare.split("-")
        if len(parts) > 1 and all(re.fullmatch(r"\W*[^\W\d_]+\W*", p) for p in parts) \
                and re.sub(r"-\s+", "-", flat).count(bare):
            continue
        broken.add(word)
    return broken


def near_empty(page_text: str) -> bool:
    """A page with nothing but the tail of a table: no text at all, or a few lines ending in
    a table's source line (notes alone, or a row or two with them)."""
    lines = [line for line in page_text.splitlines() if line.strip()]
    return not lines or (len(lines) <= 4 and any(line.startswith("Source: ") for line in lines))


def libreoffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def to_pdf(paths: list[Path], folder: Path) -> list[Path]:
    """DOCX and RTF files as LibreOffice lays them out, as PDF in ``folder`` (one process; an
    RTF's PDF is named ``<stem>.rtf.pdf`` beside the DOCX's ``<stem>.pdf``)."""
    folder.mkdir(parents=True, exist_ok=True)
    office = libreoffice()
    if office is None:
        raise RuntimeError("LibreOffice is not installed")
    sources = []
    for path in paths:
        name = f"{path.stem}.rtf{path.suffix}" if path.suffix == ".rtf" else path.name
        shutil.copy(path, folder / name)
        sources.append(folder / name)
    subprocess.run([office, "--headless", f"-env:UserInstallation=file://{folder}/profile",
                    "--convert-to", "pdf", "--outdir", str(folder), *map(str, sources)],
                   check=True, capture_output=True, timeout=600)
    return [folder / f"{source.stem}.pdf" for source in sources]


def check_run(run_dir: Path, folder: Path) -> dict[str, object]:
    """Every fault of a run folder's report and listings (LibreOffice laying out the Word
    report and the listings' DOCX and RTF into ``folder``, when installed)."""
    found: dict[str, object] = {}
    reports = sorted((run_dir / "report").glob("*.pdf"))
    for pdf in reports:
        pages = pdf_pages_text(pdf)
        found[f"{pdf.name}: overprinted"] = pdf_overprints(pdf)
        found[f"{pdf.name}: near-empty pages"] = [n for n, t in enumerate(pages, 1)
                                                  if near_empty(t)]
    found["RTF files without \\trhdr"] = [p.name for p in sorted((run_dir / "tables").glob(
        "*.rtf")) if "\\trhdr" not in p.read_text(encoding="ascii")]
    if libreoffice() is None:
        return found
    listings = [p for n in ("16.2.6", "16.2.7") for p in (run_dir / "tables" / f"{n}.docx",
                                                           run_dir / "tables" / f"{n}.rtf")]
    sources = [*sorted((run_dir / "report").glob("*.docx")), *[p for p in listings
                                                              if p.is_file()]]
    for pdf in to_pdf(sources, folder):
        pages = pdf_pages_text(pdf)
        found[f"LibreOffice {pdf.name}: overprinted"] = pdf_overprints(pdf)
        found[f"LibreOffice {pdf.name}: near-empty pages"] = [
            n for n, t in enumerate(pages, 1) if near_empty(t)]
        number = pdf.stem.split(".rtf")[0]
        table = run_dir / "tables" / f"{number}.csv"
        if table.is_file():
            with table.open(encoding="utf-8-sig", newline="") as handle:
                words = long_words([c for row in csv.reader(handle) for c in row])
            text = "\n".join(pdf_pages_text(pdf, furniture=True))
            found[f"LibreOffice {pdf.name}: broken of {len(words)} long words"] = \
                broken_words(words, text)
    return found


def main(run_dirs: list[str]) -> int:
    for run_dir in map(Path, run_dirs):
        print(run_dir)
        name = run_dir.resolve().as_posix().strip("/").replace("/", "_")
        folder = Path("/tmp/layout-faults") / name
        for what, value in check_run(run_dir, folder).items():
            print(f"  {what}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

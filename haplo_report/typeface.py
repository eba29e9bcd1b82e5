"""The report's one typeface, shared by the PDF (Typst), the HTML report and the figures.

DejaVu Sans is bundled with matplotlib (its default), so figures, Typst (given the font files)
and the HTML (font embedded) all draw the same letters on any machine, without system fonts;
it has every sign the tables use (≥, ×, superscript minus and digits).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

FAMILY = "DejaVu Sans"
FILES: tuple[str, ...] = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf",
                          "DejaVuSans-BoldOblique.ttf")


def font_files() -> list[Path]:
    """The typeface's TTF files, from matplotlib's data folder (found without importing it)."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("matplotlib is not installed: the report typeface comes with it")
    folder = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf"
    return [folder / name for name in FILES]

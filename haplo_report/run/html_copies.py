"""The HTML copies of executed notebooks (auditors open them without Jupyter), written by a
child process while the run collects, checks and renders: nbconvert's exporter is Python
through and through, and in a thread of the run it halved the speed of everything else the
run did meanwhile (one interpreter lock); a child takes the other core.

    python -m haplo_report.run.html_copies NOTEBOOK.ipynb ...
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pypandoc

# Remote scripts and stylesheets (require.js, MathJax CDNs): auditors' machines are offline.
_REMOTE_SCRIPT = re.compile(r"<script[^>]*\bsrc=[\"'](?:https?:)?//[^\"']*[\"'][^>]*>\s*</script>",
                            re.IGNORECASE)


_REMOTE_LINK = re.compile(r"<link[^>]*\bhref=[\"'](?:https?:)?//[^\"']*[\"'][^>]*>", re.IGNORECASE)


_REMOTE_IMPORT = re.compile(  # inline scripts that import from another host (mermaid)
    r"<script\b[^>]*>(?:(?!</script>).)*?import\(\s*[\"'](?:https?:)?//(?:(?!</script>).)*?</script>",
    re.IGNORECASE | re.DOTALL)


_SPLIT = "HAPLOREPORTOUTPUTSPLIT"
# JupyterLab's stylesheet right-aligns every table cell; pandoc marks the cells it aligns right
# (numbers) and leaves text cells unmarked: those are left-aligned again, so that a row label
# indented by its level (non-breaking spaces, outputs/tables) reads as indented, as in the report.
_TABLE_STYLE = ("<style>.jp-RenderedHTMLCommon td:not([style]), "
                ".jp-RenderedHTMLCommon th:not([style]) { text-align: left; }</style>\n")


def _markdown_as_html(notebooks: list[nbformat.NotebookNode], cwd: Path) -> None:
    """Give every Markdown output of ``notebooks`` an HTML rendering made by pandoc, in place.

    The outputs use Pandoc Markdown (pipe tables with captions, ``::: table-notes`` divs) that
    nbconvert's own Markdown renderer shows raw; nbconvert prefers ``text/html`` when a
    display bundle has it. One pandoc process for all (its start-up costs more than most
    conversions; pypandoc would start two more to check the formats): the outputs are joined
    with separator paragraphs and split again.
    """
    outputs = [output for notebook in notebooks for cell in notebook.cells
               if cell.cell_type == "code" for output in cell.get("outputs", [])
               if "text/markdown" in output.get("data", {}) and "text/html" not in output["data"]]
    if not outputs:
        return
    source = "\n\n".join(f"{output.data['text/markdown']}\n\n{_SPLIT}{index}"
                          for index, output in enumerate(outputs))
    done = subprocess.run([pypandoc.get_pandoc_path(), "--from=markdown", "--to=html",
                           "--wrap=none"], cwd=cwd, input=source, capture_output=True,
                          text=True, encoding="utf-8", check=False)
    if done.returncode != 0:
        raise RuntimeError(f"pandoc (Markdown outputs as HTML) failed: {done.stderr.strip()}")
    html = done.stdout
    parts = re.split(rf"<p>{_SPLIT}\d+</p>\n?", html)
    for output, part in zip(outputs, parts):
        output.data["text/html"] = part


def write_html(notebook_paths: list[Path]) -> list[Path]:
    """Offline HTML copies of executed notebooks, each beside its notebook (images embedded,
    no other hosts; tables and notes rendered by pandoc as in the report), by one exporter
    (making one costs about as much as exporting a notebook)."""
    if not notebook_paths:
        return []
    notebooks = [nbformat.read(path, as_version=4) for path in notebook_paths]
    _markdown_as_html(notebooks, notebook_paths[0].parent)
    exporter = html_exporter()
    copies = []
    for path, notebook in zip(notebook_paths, notebooks):
        # the page's title is the notebook's name (nbconvert's default: "Notebook")
        body, _ = exporter.from_notebook_node(notebook,
                                              resources={"metadata": {"name": path.stem}})
        for pattern in (_REMOTE_SCRIPT, _REMOTE_LINK, _REMOTE_IMPORT):
            body = pattern.sub("", body)
        body = body.replace("</head>", _TABLE_STYLE + "</head>", 1)
        copies.append(path.with_suffix(".html"))
        copies[-1].write_text(body, encoding="utf-8")
    return copies


def html_exporter() -> Any:
    """nbconvert's HTML exporter for the copies (lab template, images embedded)."""
    from nbconvert import HTMLExporter  # imported here: a run with nothing to do starts faster

    return HTMLExporter(template_name="lab", embed_images=True)


class HtmlCopies:
    """The HTML copies of ``notebooks``, written by a child process (started at once)."""

    def __init__(self, notebooks: list[Path]) -> None:
        self._child = (subprocess.Popen([sys.executable, "-m", __name__, *map(str, notebooks)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        text=True) if notebooks else None)
        self._stderr = ""

    def wait(self) -> None:
        """Until every copy is written; RuntimeError with the child's last lines if it failed."""
        self.join()
        if self._child is not None and self._child.returncode != 0:
            lines = self._stderr.strip().splitlines()[-3:]
            raise RuntimeError("writing the notebooks' HTML copies failed: "
                               + " ".join(lines))

    def join(self) -> None:
        """Until the child has ended (written every copy or stopped at an error)."""
        if self._child is not None and self._child.returncode is None:
            _, self._stderr = self._child.communicate()


if __name__ == "__main__":
    write_html([Path(arg) for arg in sys.argv[1:]])

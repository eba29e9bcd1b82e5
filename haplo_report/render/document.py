"""Assemble the report of one run as ONE document: ``<run>/document/report.qmd``.

The project's ``_quarto.yml`` lists what the report contains (``report-contents``: generated
chapters, notebooks by part, appendices) and every format's options. This module writes,
into the run's ``document/`` folder, the single ``report.qmd`` (front matter with the page
furniture; title block, lists of tables, figures and listings, abbreviations, then every
chapter with its tables titled in a form every format keeps), the ``_quarto.yml`` both
renderers read (formats and options, the contents list left out), and the assets it names.

Why one document and not a Quarto book: a book renders HTML as a site (each page embedding
the previous one as a ``data:`` link), PDF through Quarto's book template, and numbers parts
and chapters itself; a single document gives one self-contained HTML file, our own Typst
template, and the same structure in every format from both renderers (issue 14).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import posixpath
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from haplo_report import typeface
from haplo_report.formatting import escape_markdown
from haplo_report.analysis.results import read_results
from haplo_report.paths import QUARTO_YML
from haplo_report.render.book import (BookError, index_markdown, methods_markdown,
                                      provenance_markdown, run_identity, validation_markdown)
from haplo_report.render.changes import changes_markdown, has_changes
from haplo_report.render.independent_check import CHAPTER as INDEPENDENT_CHECK
from haplo_report.render.independent_check import independent_check_markdown
from haplo_report.render.markdown import (CAPTION, TITLE_CLASS, MarkdownText,
                                          notebook_markdown, parse, parse_many, prepare_chapter,
                                          raw, short_title, stringify, tlf_id, walk,
                                          write_markdown)
from haplo_report.render.word import CONTENTS_STYLES, Furniture, write_reference_docx

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
ASSETS: tuple[str, ...] = ("report.css", "typst-template.typ", "typst-show.typ",
                           "report-pandoc.typ")
REFERENCE_DOCX = "report-reference.docx"  # named by _quarto.yml (format: docx)
FONTS_DIR = "fonts"  # named by _quarto.yml (format: typst: font-paths) and report.css
SOURCE = "report.qmd"
FOLDER = "document"
CONTENTS_KEY = "report-contents"  # the list of chapters in _quarto.yml
CHANGES = "changes"  # the appendix that is also a document of its own (a later cut only)
CHANGES_FOLDER = "changes"  # its document folder, inside the report's
CHANGES_TITLE = "Changes between data cuts"
NOT_SPECIFIED = "not specified"
PAGE_BREAK_OPENXML = '<w:p><w:r><w:br w:type="page"/></w:r></w:p>'

# Abbreviations a reader may meet in the report; the list shows those the report uses.
ABBREVIATIONS: dict[str, str] = {
    "AE": "adverse event", "AESI": "adverse event of special interest",
    "ALL": "acute lymphoblastic leukemia", "ANC": "absolute neutrophil count",
    "CI": "confidence interval", "CIR": "cumulative incidence of relapse",
    "CMV": "cytomegalovirus", "CR1": "first complete remission",
    "CTCAE": "Common Terminology Criteria for Adverse Events",
    "CR2+": "second or later complete remission", "CRS": "cytokine release syndrome",
    "EBV": "Epstein-Barr virus", "FAS": "full analysis set",
    "GRFS": "GVHD-free, relapse-free survival", "GVHD": "graft-versus-host disease",
    "HLA": "human leukocyte antigen",
    "HSCT": "hematopoietic stem cell transplantation",
    "ICANS": "immune effector cell-associated neurotoxicity syndrome",
    "MAGIC": "Mount Sinai Acute GVHD International Consortium",
    "MedDRA": "Medical Dictionary for Regulatory Activities",
    "MRD": "minimal residual disease", "NE": "not estimable",
    "NIH": "National Institutes of Health",
    "NRM": "non-relapse mortality", "OS": "overall survival",
    "PFS": "progression-free survival", "Ph": "Philadelphia chromosome",
    "PLT": "platelets", "PT": "preferred term", "qPCR": "quantitative polymerase chain reaction",
    "SAE": "serious adverse event", "SAP": "statistical analysis plan", "SE": "standard error",
    "SOC": "system organ class",
    "TMA": "thrombotic microangiopathy", "VOD": "veno-occlusive disease",
}


@dataclass(frozen=True)
class Chapter:
    """One chapter of the report: a generated one or a notebook, with its part."""

    name: str  # "synopsis", "methods", "validation", "independent-check", "provenance" or a
    # notebook name
    part: str | None = None  # e.g. "14.2 Efficacy"
    appendix: bool = False


@dataclass(frozen=True)
class ReportDocument:
    """An assembled document folder and what the renderers need to know about it."""

    folder: Path
    config: dict[str, Any]  # the folder's _quarto.yml (formats and options)
    study_id: str
    data_cut: str
    stem: str | None = None  # the output's file name without extension, when not the report's
    run_started: str = ""  # manifest.json's run_started (UTC, ISO 8601)

    @property
    def source(self) -> Path:
        return self.folder / SOURCE

    @property
    def output_stem(self) -> str:
        """File name without extension: the report's ``HAPLO-BLIN-ALL_2026-01-31``, or the
        changes document's ``changes_2026-01-31``."""
        return self.stem or f"{self.study_id}_{self.data_cut}"

    @property
    def epoch(self) -> int:
        """When the run began, as a UNIX time: the creation and modification time of the report
        documents (PDF CreationDate/ModDate, DOCX core properties; the HTML's date is the run
        date). The report already differs run to run (its run date on the title page and in
        every footer), so its metadata can say when it was made. A manifest without
        ``run_started`` (made before it was recorded): the data cut."""
        try:
            started = dt.datetime.fromisoformat(self.run_started)
        except ValueError:
            day = dt.date.fromisoformat(self.data_cut)
            started = dt.datetime(day.year, day.month, day.day)
        if started.tzinfo is None:
            started = started.replace(tzinfo=dt.timezone.utc)
        return int(started.timestamp())


GENERATED = ("synopsis", "changes", "methods", "validation", INDEPENDENT_CHECK, "provenance")


def report_chapters(config: dict[str, Any]) -> list[Chapter]:
    """The chapters listed under ``report-contents`` (parts, then appendices), in order."""
    contents = config.get(CONTENTS_KEY) or {}
    chapters: list[Chapter] = []
    for entry in contents.get("chapters") or []:
        if isinstance(entry, dict):
            chapters += [Chapter(name, entry.get("part")) for name in entry.get("chapters") or []]
        else:
            chapters.append(Chapter(entry))
    chapters += [Chapter(name, appendix=True) for name in contents.get("appendices") or []]
    return chapters


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise BookError(f"run folder incomplete: {path.name} not found in {path.parent}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BookError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise BookError(f"{path}: expected a JSON object")
    return data


def furniture(manifest: dict[str, Any], identity: dict[str, str]) -> Furniture:
    """Title-page and running header/footer values from the run's parameters and run time."""
    params = manifest.get("params") or {}
    started = str(manifest.get("run_started") or "")
    return Furniture(
        study_id=identity["study_id"],
        protocol=str(params.get("protocol") or identity["study_id"]),
        sponsor=str(params.get("sponsor") or f"Sponsor {NOT_SPECIFIED}"),
        data_cut=identity["data_cut"],
        run_date=started[:10] or NOT_SPECIFIED,
        status=str(params.get("report_status") or "DRAFT"),
        version=str(params.get("report_version") or "1.0"),
        confidentiality=str(params.get("confidentiality") or "Confidential."),
        page_size=str(params.get("page_size") or "a4"),
    )


def front_matter(config: dict[str, Any], identity: dict[str, str],
                 page: Furniture, title: str | None = None) -> dict[str, Any]:
    """The document's metadata: title block values (``author`` is the sponsor, so every
    template that prints an author has one) and the page furniture typst-show.typ reads.
    No ``date``: Quarto parses a date field ("Data cut 2026-07-31" lost its words in the
    book's Word title, issue 14); the data cut has its own field."""
    title = title or (config.get(CONTENTS_KEY) or {}).get("title") or "Clinical Study Report"
    meta: dict[str, Any] = {
        "title": f"{title}: {identity['study_id']}",
        "subtitle": identity["study_title"] or None,
        "author": page.sponsor,
        "study-id": identity["study_id"],
        "protocol": page.protocol,
        "sponsor": page.sponsor,
        "data-cut": identity["data_cut"],
        "run-date": page.run_date,
        "report-status": page.status,
        "report-version": page.version,
        "confidentiality": page.confidentiality,
        "suite": f"haplo-report {identity['suite']}, commit {identity['commit'][:12]}",
        "run-id": identity["run_id"],
    }
    # parameters are text typed by users: shown as typed, never Markdown or HTML (issue 12)
    return {k: escape_markdown(v) for k, v in meta.items() if v is not None}


def _identification(page: Furniture, identity: dict[str, str]) -> str:
    """The title page's facts as a table, for HTML and Word (Typst draws its title page)."""
    rows = [("Sponsor", page.sponsor), ("Protocol number", page.protocol),
            ("Study", identity["study_id"]), ("Data cut", page.data_cut),
            ("Report version", f"{page.version} ({page.status})"), ("Run date", page.run_date),
            ("Run id", identity["run_id"]),
            ("Produced by", f"haplo-report {identity['suite']}, commit {identity['commit'][:12]}")]
    lines = ["| | |", "|---|---|"] + [f"| {k} | {escape_markdown(v)} |" for k, v in rows]
    return "\n".join(lines) + f"\n\n{escape_markdown(page.confidentiality)}\n"


def _lists(titles: list[tuple[str, str, str]]) -> str:
    """Lists of tables, figures and listings with links, for HTML (Word: :func:`_word_contents`;
    Typst builds its own with page numbers)."""
    parts = []
    for kind, heading in (("Table", "List of tables"), ("Figure", "List of figures"),
                          ("Listing", "List of listings")):
        items = [(number, title) for k, number, title in titles if k == kind]
        if items:
            parts += [f"# {heading} {{.unnumbered .tlf-list}}", ""]
            parts += [f"- [{short_title(title)}](#{tlf_id(kind, number)})"
                      for number, title in items] + [""]
    return "\n".join(parts)


def _headings(blocks: list[Any], depth: int = 2) -> list[tuple[int, str, str]]:
    """(level, identifier, text) of every heading up to ``depth``, in document order."""
    return [(node["c"][0], node["c"][1][0], stringify(node["c"][2]).strip())
            for node in walk(blocks)
            if node.get("t") == "Header" and node["c"][0] <= depth and node["c"][1][0]]


def _word_contents(headings: list[tuple[int, str, str]],
                   titles: list[tuple[str, str, str]]) -> str:
    """Contents and lists of tables, figures and listings for Word: one linked paragraph per
    entry in the "Contents N" styles, to which :func:`haplo_report.render.word.finish_docx`
    adds the page (a PAGEREF field: LibreOffice computes it, Word on opening)."""
    def entry(level: int, text: str, identifier: str) -> list[str]:
        return [f'::: {{custom-style="{CONTENTS_STYLES[level - 1]}"}}',
                f"[{escape_markdown(text)}](#{identifier})", ":::", ""]

    parts = ["# Contents {.unnumbered .tlf-list}", ""]
    for level, identifier, text in headings:
        parts += entry(level, text, identifier)
    for kind, heading in (("Table", "List of tables"), ("Figure", "List of figures"),
                          ("Listing", "List of listings")):
        items = [(number, title) for k, number, title in titles if k == kind]
        if items:
            parts += [f"# {heading} {{.unnumbered .tlf-list}}", ""]
            for number, title in items:
                parts += entry(1, short_title(title), tlf_id(kind, number))
    return "\n".join(parts)


def abbreviations_used(text: str) -> list[tuple[str, str]]:
    """The abbreviations of :data:`ABBREVIATIONS` that occur in ``text`` as words."""
    return [(short, meaning) for short, meaning in sorted(ABBREVIATIONS.items(),
                                                          key=lambda item: item[0].lower())
            if re.search(rf"(?<![\w-]){re.escape(short)}(?![\w-])", text)]


def _abbreviations(text: str) -> str:
    rows = abbreviations_used(text)
    lines = ["# List of abbreviations {.unnumbered}", "", "| Abbreviation | Meaning |",
             "|---|---|"] + [f"| {short} | {meaning} |" for short, meaning in rows]
    return "\n".join(lines) + "\n"


def _titles(blocks: list[Any]) -> list[tuple[str, str, str]]:
    """(kind, number, title) of every numbered output, in document order."""
    found = []
    for block in blocks:
        if block.get("t") != "Div":
            continue
        if TITLE_CLASS in block["c"][0][1]:
            text = stringify(block["c"][1]).strip()
            match = CAPTION.match(text)
            if match:
                found.append((match.group(1), match.group(2), text))
        else:
            found += _titles(block["c"][1])
    return found


def _rebase_images(blocks: list[Any], run_dir: Path, folder: Path) -> None:
    """Images a notebook links relative to itself ("../figures/14.2.1.png") copied into the
    document folder and linked from there ("figures/14.2.1.png"), in place: every file the
    document uses lies inside its folder (Typst reads nothing outside its root)."""
    for node in walk(blocks):
        if node.get("t") != "Image":
            continue
        target = node["c"][2][0]
        if ":" in target or not target.startswith("../"):
            continue
        relative = posixpath.normpath(posixpath.join("notebooks", target))
        source = run_dir / relative
        if relative.startswith("../") or not source.is_file():
            continue
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, folder / relative)
        node["c"][2][0] = relative


def _page_breaks(blocks: list[Any]) -> list[Any]:
    """A page break before every top-level heading but the first, as top-level raw blocks
    (Typst forbids page breaks inside containers and show rules; Word gets a break too)."""
    out: list[Any] = []
    seen = False
    for block in blocks:
        if block.get("t") == "Header" and block["c"][0] == 1:
            if seen:
                out += [raw("typst", "#pagebreak(weak: true)"), raw("openxml", PAGE_BREAK_OPENXML)]
            seen = True
        out.append(block)
    return out


def project_config() -> dict[str, Any]:
    """The project's ``_quarto.yml``."""
    if not QUARTO_YML.is_file():
        raise BookError(f"report definition not found: {QUARTO_YML}")
    return yaml.safe_load(QUARTO_YML.read_text(encoding="utf-8"))


def document_config(project: dict[str, Any], page: Furniture) -> dict[str, Any]:
    """The document folder's _quarto.yml: the project's formats and options (without the
    contents list, which the document itself now is), with the run's paper size."""
    config = {key: value for key, value in project.items() if key != CONTENTS_KEY}
    config["format"] = {**config["format"],
                        "typst": {**config["format"]["typst"], "papersize": page.page_size}}
    if page.run_date != NOT_SPECIFIED:  # the HTML's <meta name="dcterms.date">: the run date
        config["format"]["html"] = {**config["format"]["html"], "date": page.run_date}
    return config


def assemble_changes(run_dir: Path) -> ReportDocument | None:
    """The changes appendix of ``run_dir`` as a document of its own
    (``document/changes/``, rendered as ``report/changes_<cut>.*``, with the report's title
    page and page furniture); None for a run that compared itself with no earlier cut."""
    if not has_changes(run_dir):
        return None
    return assemble_document(run_dir, Path(run_dir) / FOLDER / CHANGES_FOLDER,
                             only=(Chapter(CHANGES),))


def assemble_document(run_dir: Path, folder: Path | None = None, *,
                      only: tuple[Chapter, ...] | None = None) -> ReportDocument:
    """Write the report document of ``run_dir`` into ``folder`` (default
    ``run_dir/document``), replacing it; ``only``: these chapters instead of the report's
    (the changes document)."""
    run_dir = Path(run_dir)
    folder = Path(folder) if folder is not None else run_dir / FOLDER
    manifest = _read_json(run_dir / "manifest.json")
    validation = _read_json(run_dir / "validation.json")
    results_path = run_dir / "results.csv"
    if not results_path.is_file():
        raise BookError(f"run folder incomplete: results.csv not found in {run_dir}")
    results = read_results(results_path)
    identity = run_identity(manifest)
    page = furniture(manifest, identity)
    project = project_config()
    config = document_config(project, page)

    if folder.exists():
        shutil.rmtree(folder)
    (folder / FONTS_DIR).mkdir(parents=True)
    for asset in ASSETS:
        shutil.copy2(TEMPLATES / asset, folder / asset)
    for font in typeface.font_files():
        shutil.copy2(font, folder / FONTS_DIR / font.name)
    write_reference_docx(folder / REFERENCE_DOCX, page)

    generated = {
        "synopsis": index_markdown(identity, results),
        "methods": methods_markdown(manifest.get("params") or {}),
        "validation": validation_markdown(validation),
        "provenance": provenance_markdown(manifest, identity),
    }
    if has_changes(run_dir):  # a first cut has no changes
        generated[CHANGES] = changes_markdown(run_dir)
    independent_check = independent_check_markdown(run_dir)
    if independent_check is not None:  # a run folder without qc.csv: the appendix is left out
        generated[INDEPENDENT_CHECK] = independent_check
    notebooks = {p.stem: p for p in sorted((run_dir / "notebooks").glob("*.ipynb"))}
    chapters = list(only) if only is not None else report_chapters(project)
    missing = [c.name for c in chapters if c.name not in generated and c.name not in notebooks
               and c.name != CHANGES]
    if missing:
        log.warning("report chapters without a notebook in the run, left out: %s",
                    ", ".join(missing))

    texts: list[MarkdownText] = []  # part headings and chapters, in order
    is_chapter: list[bool] = []
    current_part: str | None = None
    in_appendices = False
    for chapter in chapters:
        if chapter.name in generated:
            source = generated[chapter.name]
        elif chapter.name in notebooks:
            source = notebook_markdown(notebooks[chapter.name], folder / "media")
        else:
            continue
        if chapter.appendix and not in_appendices:
            in_appendices, current_part = True, None
            texts.append(MarkdownText("appendices", "# Appendices {#appendices .part}"))
            is_chapter.append(False)
        if chapter.part and chapter.part != current_part:
            current_part = chapter.part
            identifier = "part-" + chapter.part.split()[0].replace(".", "-")
            texts.append(MarkdownText(identifier, f"# {chapter.part} {{#{identifier} .part}}"))
            is_chapter.append(False)
        shift = 1 if (chapter.part or chapter.appendix) else 0
        texts.append(MarkdownText(chapter.name, source, shift))
        is_chapter.append(True)

    blocks: list[Any] = []
    api_version = None
    for text, chapter_text, parsed in zip(texts, is_chapter, parse_many(texts, folder)):
        if chapter_text:
            api_version = parsed["pandoc-api-version"]
            _rebase_images(parsed["blocks"], run_dir, folder)
            blocks += prepare_chapter(parsed["blocks"], text.name)
        else:
            blocks += parsed["blocks"]

    titles = _titles(blocks)
    front = parse("\n".join([
        "::: {.content-hidden when-format=\"typst\"}",
        _identification(page, identity),
        "```{=openxml}", PAGE_BREAK_OPENXML, "```",
        ":::: {.content-visible when-format=\"html\"}",
        _lists(titles),
        "::::",
        ":::: {.content-visible when-format=\"docx\"}",
        _word_contents(_headings(blocks), titles),
        "::::",
        ":::", "",
        _abbreviations(stringify(blocks)),
    ]), folder)["blocks"]
    body = {"pandoc-api-version": api_version or front["pandoc-api-version"], "meta": {},
            "blocks": _page_breaks(front + blocks)}
    meta = front_matter(project, identity, page, CHANGES_TITLE if only is not None else None)
    text = ("---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)
            + "---\n\n" + write_markdown(body, folder))
    (folder / SOURCE).write_text(text, encoding="utf-8")
    (folder / "_quarto.yml").write_text(yaml.safe_dump(config, sort_keys=False,
                                                       allow_unicode=True), encoding="utf-8")
    return ReportDocument(folder, config, identity["study_id"], identity["data_cut"],
                          f"{CHANGES}_{identity['data_cut']}" if only is not None else None,
                          str(manifest.get("run_started") or ""))

"""Patient narratives (ICH E3 14.3.3) as the report shows them and as files for the writer.

The report carries one subsection per patient (patient order) up to
:data:`~haplo_report.limits.MAX_PATIENTS_SHOWN` narratives; above it the list of patients
with their reasons and files, the text being in the per-patient files (as a listing above
that limit is a CSV of the run folder). Each patient also gets a Word file,
``narratives/<USUBJID>.docx``, laid out like the per-table files (:mod:`.tables.word`): the
narrative to edit, then the table of its sentences with their source records for the writer's
fact check. ``narratives.csv`` lists the patients with their reasons and files. Above
:data:`~haplo_report.limits.MAX_NARRATIVES` patients none is drafted (see there).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path

from docx import Document
from docx.shared import Pt

from haplo_report.analysis.narratives import REASONS, Narrative
from haplo_report.formatting import escape_markdown
from haplo_report.limits import MAX_NARRATIVES, MAX_PATIENTS_SHOWN
from haplo_report.outputs.tables.core import Table
from haplo_report.outputs.tables.layout import CAPTION_STYLE, NOTES_STYLE, Page
from haplo_report.outputs.tables.word import (add_table, doc_time, save_docx, set_page,
                                              set_styles)
from haplo_report.text import spreadsheet_safe

FOLDER = "narratives"  # in the run folder
LIST_COLUMNS = ("Patient", "Reasons", "Word file")
SOURCE = "12_narratives"


def file_name(usubjid: str) -> str:
    """The Word file of a patient: the USUBJID with characters unsafe in a file name as "_"."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", usubjid).lstrip(".") + ".docx"


def _file_names(usubjids: Sequence[str]) -> dict[str, str]:
    """File per patient; two USUBJIDs made equal by :func:`file_name` get "-2", "-3"."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for usubjid in usubjids:
        name, suffix = file_name(usubjid), 1
        while name.lower() in taken:
            suffix += 1
            name = file_name(usubjid).removesuffix(".docx") + f"-{suffix}.docx"
        taken.add(name.lower())
        names[usubjid] = name
    return names


def write_narrative_files(narratives: Sequence[Narrative], needed: dict[str, tuple[str, ...]],
                          folder: Path, *, study_id: str, data_cut: str,
                          page_size: str = "a4") -> dict[str, str]:
    """One Word file per drafted narrative and ``narratives.csv``, the list of the patients
    ``needed`` (:func:`~haplo_report.analysis.narratives.narrative_reasons`) with their
    reasons and files, in ``folder``; the Word file of each drafted narrative."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = _file_names([n.usubjid for n in narratives])
    page = Page(study_id, data_cut, page_size)
    for narrative in narratives:
        write_narrative_docx(narrative, folder / names[narrative.usubjid], page)
    with (folder / "narratives.csv").open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(LIST_COLUMNS)
        writer.writerows([spreadsheet_safe(cell) for cell in  # formulas quoted (OWASP)
                          (usubjid, "; ".join(reasons), _where(names.get(usubjid, "")))]
                         for usubjid, reasons in needed.items())
    return names


def write_narrative_docx(narrative: Narrative, path: Path, page: Page) -> Path:
    """One patient's narrative as a Word document: title in the caption style, the reasons,
    the text, then its sentences with their source records; identical bytes for identical
    narratives."""
    document = Document()
    props = document.core_properties
    props.created = props.modified = doc_time(page.data_cut)
    title = f"Narrative {narrative.usubjid} (data cut {page.data_cut})"
    props.title, props.author, props.last_modified_by = title, "haplo-report", ""
    props.revision = 1
    set_styles(document)
    set_page(document, page)
    document.add_paragraph(title, style=CAPTION_STYLE)
    document.add_paragraph(f"Reasons: {'; '.join(narrative.reasons)}.", style=NOTES_STYLE)
    for text in narrative.paragraphs:
        paragraph = document.add_paragraph(text)
        paragraph.paragraph_format.space_before = Pt(6)
    document.add_paragraph("Sources", style=CAPTION_STYLE).paragraph_format.space_before = \
        Pt(12)
    sources = Table("", "Sources", "", page.data_cut, ("Sentence", "Source records"),
                    tuple((s.text, "\n".join(src.describe() for src in s.sources))
                          for s in narrative.sentences), kind="Listing")
    add_table(document, sources, page.text_width_cm)
    notes = ("Drafted from the derived data by fixed rules (haplo-report notebook "
             f"{SOURCE}, data cut {page.data_cut}); every sentence is made from the records "
             "listed beside it (dataset, row of its file, key, variables used).",
             "Study days: days from transplant (Day 0); a patient never transplanted: days "
             "after informed consent. MedDRA preferred terms as recorded.")
    for i, note in enumerate(notes):
        paragraph = document.add_paragraph(note, style=NOTES_STYLE)
        paragraph.paragraph_format.space_before = Pt(4 if i == 0 else 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_docx(document, path)


def _where(name: str) -> str:
    return f"{FOLDER}/{name}" if name else ""


def narratives_intro(needed: dict[str, tuple[str, ...]], enrolled: int) -> str:
    """The section's first paragraph: how many patients need a narrative, and why."""
    reasons = "; ".join(f"{reason}: {sum(reason in r for r in needed.values())}"
                        for reason in REASONS)
    have = "have" if len(needed) <= MAX_NARRATIVES else "qualify for"
    return (f"{len(needed)} of {enrolled} enrolled patients {have} a narrative (patients by "
            f"reason, a patient counted under each of theirs: {reasons}).\n")


def narratives_markdown(narratives: Sequence[Narrative], needed: dict[str, tuple[str, ...]],
                        enrolled: int, files: dict[str, str],
                        max_patients: int = MAX_PATIENTS_SHOWN) -> str:
    """The report's section: the intro, then one subsection per patient; above
    ``max_patients`` the list of patients with their reasons and Word files; above
    :data:`MAX_NARRATIVES` (none drafted) where the list of patients is."""
    parts = [narratives_intro(needed, enrolled), ""]
    if len(needed) > MAX_NARRATIVES:
        parts += [f"Narratives are drafted for at most {MAX_NARRATIVES:,} patients: none is "
                  f"drafted here; {FOLDER}/narratives.csv in the run folder lists the "
                  f"{len(needed)} patients with their reasons.", ""]
    elif len(needed) > max_patients:
        parts += [f"More than {max_patients} patients have a narrative: the text of each is "
                  f"in its Word file in {FOLDER}/ and in {FOLDER}/narratives.json, listed "
                  f"below (and in {FOLDER}/narratives.csv).", "",
                  "| " + " | ".join(LIST_COLUMNS) + " |", "|---|---|---|"]
        parts += [f"| {escape_markdown(n.usubjid)} | {escape_markdown('; '.join(n.reasons))} "
                  f"| {escape_markdown(_where(files.get(n.usubjid, '')))} |"
                  for n in narratives]
        parts.append("")
    else:
        for narrative in narratives:
            parts += [f"## {escape_markdown(narrative.usubjid)}", "",
                      f"*Reasons: {escape_markdown('; '.join(narrative.reasons))}.*", ""]
            parts += [escape_markdown(text) + "\n" for text in narrative.paragraphs]
    return "\n".join(parts)

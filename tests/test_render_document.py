"""The one report document handed to Quarto (and to Pandoc): ``document/report.qmd``, its
``_quarto.yml`` and assets. Quarto is not installed here, so these tests pin the properties of
the input that the failures of issue 14 came from (book project, missing author, page breaks
in show rules, table captions Quarto drops in Typst, cross-page ``data:`` links)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from haplo_report import typeface
from haplo_report.plan import NOTEBOOKS
from haplo_report.paths import QUARTO_YML
from haplo_report.render.document import (TEMPLATES, abbreviations_used, assemble_document,
                                          report_chapters)
from haplo_report.render.markdown import (UNBREAKABLE_LINES, for_format, parse,
                                          prepare_chapter, short_title, stringify)
from render_fake_run import FIGURE_CAPTION, PROTOCOL, SPONSOR, make_fake_run

QUARTO_CROSSREF_PREFIXES = ("fig-", "tbl-", "lst-", "sec-", "eq-", "thm-")


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory):
    return assemble_document(make_fake_run(tmp_path_factory.mktemp("run")))


@pytest.fixture(scope="module")
def source(document) -> str:
    return document.source.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def ast(document, source) -> dict:
    return parse(source, document.folder)


def _walk(node, found: list) -> list:
    if isinstance(node, dict):
        found.append(node)
        _walk(node.get("c"), found)
    elif isinstance(node, list):
        for item in node:
            _walk(item, found)
    return found


def test_project_quarto_yml_is_one_document_not_a_book():
    config = yaml.safe_load(QUARTO_YML.read_text(encoding="utf-8"))
    assert "book" not in config and config["project"] == {"type": "default"}
    chapters = report_chapters(config)
    notebooks = [c for c in chapters if c.name[:2].isdigit()]
    assert [c.name for c in notebooks] == [spec.name for spec in NOTEBOOKS]
    assert [c.part.split()[0] for c in notebooks] == [spec.section for spec in NOTEBOOKS]
    # SAP v3: the changes between data cuts sit outside section 14, at the report's end
    assert [c.name for c in chapters if c.appendix] == ["validation", "independent-check",
                                                        "provenance", "changes"]
    assert "changes" not in [c.name for c in chapters if not c.appendix]
    assert config["execute"] == {"enabled": False, "echo": False, "warning": False}


def test_sap_v3_report_order(source):
    # synopsis, methods, section 14, appendix 16.2 (the listings together), then the
    # appendices for the run's reader; the changes since the previous cut leave the front.
    headings = re.findall(r"^##? (.+?)(?: \{.*\})?$", source, flags=re.M)
    order = ["Synopsis", "Statistical methods", "14.1 Study population", "14.2 Efficacy",
             "14.3 Safety", "16.2 Patient data listings", "Appendices", "Data validation",
             "Provenance"]  # a first cut has no changes appendix (issue 27)
    assert [h for h in headings if h in order] == order
    section_14 = source[source.index("# 14.1 Study population"):
                        source.index("# 16.2 Patient data listings")]
    assert "Listing 16.2" not in section_14 and "Changes since" not in section_14


def test_document_folder_holds_one_qmd_and_every_asset_its_options_name(document):
    folder = document.folder
    assert sorted(p.name for p in folder.glob("*.qmd")) == ["report.qmd"]
    assert not (folder / "notebooks").exists()  # notebooks are in the document as Markdown
    config = yaml.safe_load((folder / "_quarto.yml").read_text(encoding="utf-8"))
    assert config == document.config
    assert "report-contents" not in config and "book" not in config
    formats = config["format"]
    assert formats["html"]["embed-resources"] is True  # one self-contained file
    assert formats["docx"]["toc"] is False  # no TOC field asking to be updated
    assert (folder / formats["docx"]["reference-doc"]).is_file()
    assert (folder / formats["html"]["css"]).is_file()
    typst = formats["typst"]
    for partial in typst["template-partials"]:
        assert (folder / partial).is_file(), partial
    assert sorted(typst["template-partials"]) == ["typst-show.typ", "typst-template.typ"]
    assert "template" not in typst and "include-in-header" not in typst
    assert typst["mainfont"] == typeface.FAMILY and typst["papersize"] == "a4"
    fonts = sorted(p.name for d in typst["font-paths"] for p in (folder / d).iterdir())
    assert fonts == sorted(typeface.FILES)


def test_front_matter_has_title_author_and_page_furniture(source):
    front = yaml.safe_load(source.split("---\n")[1])
    assert front["title"] == "Clinical Study Report: HAPLO-BLIN-ALL"
    assert front["author"] == SPONSOR  # a template that prints an author always has one
    assert "date" not in front  # Quarto would parse it; the data cut has its own field
    assert (front["study-id"], front["protocol"], front["sponsor"]) == (
        "HAPLO-BLIN-ALL", PROTOCOL, SPONSOR)
    assert (front["data-cut"], front["run-date"], front["report-status"],
            front["report-version"]) == ("2026-01-31", "2026-11-29", "DRAFT", "1.0")
    assert front["confidentiality"] == "Confidential: example only."
    show = (TEMPLATES / "typst-show.typ").read_text(encoding="utf-8")
    for key in ("title", "study-id", "protocol", "sponsor", "data-cut", "run-date",
                "report-status", "report-version", "confidentiality"):
        assert f"${key}$" in show, key


def test_every_table_is_titled_by_a_paragraph_not_a_caption(ast):
    nodes = _walk(ast["blocks"], [])
    tables = [n for n in nodes if n.get("t") == "Table"]
    assert len(tables) >= 10
    # quarto-cli #11733: captions of unlabelled pipe tables are dropped in Typst
    assert all(not t["c"][1][1] for t in tables)
    titles = [n for n in nodes if n.get("t") == "Div" and "tlf-title" in n["c"][0][1]]
    numbered = [(n["c"][0][0], dict(n["c"][0][2])["custom-style"]) for n in titles]
    assert [n for n in numbered if n[0]] == [
        ("table-14-1-1", "Table Caption"), ("table-14-2-1", "Table Caption"),
        ("figure-14-2-1", "Image Caption"), ("table-14-3-7", "Table Caption"),
        ("listing-16-2-6", "Table Caption")]  # SAP v3: the listings after section 14
    # unnumbered titles (synopsis, appendices) are paragraphs in the same style
    assert {style for _, style in numbered if not _} == {"Table Caption"}


def test_numbered_outputs_are_grouped_for_typst_and_listed(source):
    opening = re.findall(r'#tlf\(kind: "(\w+)", number: "([\d.]+)", title: "([^"]*)", '
                         r'short: "([^"]*)", breakable: (\w+)\)\[', source)
    assert [(k, n) for k, n, *_ in opening] == [
        ("Table", "14.1.1"), ("Table", "14.2.1"), ("Figure", "14.2.1"), ("Table", "14.3.7"),
        ("Listing", "16.2.6")]
    breakable = {n: b for k, n, _, _, b in opening if k != "Figure"}
    assert breakable == {"14.1.1": "false", "14.2.1": "false", "16.2.6": "true",
                         "14.3.7": "false"}
    listed = [(re.sub(r"\\(.)", r"\1", text), target)  # Markdown escapes taken off
              for text, target in re.findall(r"- \[(.*?)\]\(#([a-z]+-[\d-]+)\)", source)]
    assert listed == [
        ("Table 14.1.1 Disposition and analysis sets (enrolled)", "table-14-1-1"),
        ("Table 14.2.1 Progression-free survival (FAS, N = 31)", "table-14-2-1"),
        ("Table 14.3.7 Adverse events by system organ class and preferred term (safety set, "
         "N = 30)", "table-14-3-7"),
        (FIGURE_CAPTION, "figure-14-2-1"),
        ("Listing 16.2.6. MRD status at 1 year by patient (full analysis set)",
         "listing-16-2-6")]


def test_no_quarto_crossref_ids_and_every_link_resolves(ast):
    nodes = _walk(ast["blocks"], [])
    ids = {n["c"][0][0] for n in nodes if n.get("t") in ("Div", "Span") and n["c"][0][0]}
    ids |= {n["c"][1][0] for n in nodes if n.get("t") == "Header"}
    assert not [i for i in ids if i.startswith(QUARTO_CROSSREF_PREFIXES)]
    targets = [n["c"][2][0] for n in nodes if n.get("t") == "Link"]
    assert targets and all(t.startswith("#") and t[1:] in ids for t in targets)


def test_no_data_urls_or_other_pages_in_the_document(source, document):
    assert "data:" not in source  # Quarto embeds the images itself, once
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", source)
    assert images and all((document.folder / path).is_file() for path in images)
    assert not re.search(r"\](\((?!#|media/|figures/)[^)]*\))", source)  # no other pages


def test_typst_page_breaks_only_at_top_level_never_in_show_rules(ast):
    top = [b for b in ast["blocks"] if b.get("t") == "RawBlock" and "pagebreak" in b["c"][1]]
    nested = [n for b in ast["blocks"] if b.get("t") != "RawBlock" for n in _walk(b, [])
              if n.get("t") == "RawBlock" and "pagebreak" in n["c"][1]]
    assert len(top) >= 5 and nested == []
    template = (TEMPLATES / "typst-template.typ").read_text(encoding="utf-8")
    code = re.sub(r"//[^\n]*", "", template)
    for match in re.finditer(r"\bshow\b[^:\n]*:", code):
        depth, end = 0, match.end()
        for end in range(match.end(), len(code)):  # the rule's body, to its end
            depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(code[end], 0)
            if depth < 0 or (depth == 0 and code[end] == "\n"):
                break
        assert "pagebreak" not in code[match.start():end], code[match.start():end]


def test_every_report_template_parameter_has_a_default():
    template = (TEMPLATES / "typst-template.typ").read_text(encoding="utf-8")
    params = template[template.index("#let report("):template.index(") = {")]
    names = re.findall(r"^\s+([\w-]+)(:?)", params, re.M)
    assert ("doc", "") in names
    assert [n for n, colon in names if not colon and n != "doc"] == []


def test_title_page_and_lists_in_html_and_word_typst_draws_its_own(ast):
    visible = {fmt: stringify(for_format(ast["blocks"], fmt)) for fmt in ("html", "docx", "typst")}
    for fmt in ("html", "docx"):
        assert "Protocol number HBA-01" in visible[fmt]
        assert "List of tables" in visible[fmt] and "List of listings" in visible[fmt]
    assert "Protocol number" not in visible["typst"] and "List of tables" not in visible["typst"]
    assert all("List of abbreviations" in text for text in visible.values())


def test_abbreviations_listed_only_when_used():
    assert abbreviations_used("PFS and NRM (95% CI) in the FAS; not the NEW word") == [
        ("CI", "confidence interval"), ("FAS", "full analysis set"),
        ("NRM", "non-relapse mortality"), ("PFS", "progression-free survival")]


def test_wide_tables_get_fitted_widths_narrow_ones_automatic(tmp_path):
    wide = ("| Characteristic of the patient at baseline | FAS (N=30) | n | Method |\n"
            "|---|--:|--:|---|\n| Age at transplant, years, median (Q1, Q3) | 37.0 (32.0, 44.8) "
            "| 30 | Kaplan-Meier, Greenwood variance |\n")
    narrow = "| a | b |\n|---|--:|\n| x | 1 |\n"
    blocks = prepare_chapter(parse(wide + "\n" + narrow, tmp_path)["blocks"], "x")
    widths = [[spec[1].get("c") for spec in b["c"][2]] for b in blocks if b["t"] == "Table"]
    assert widths[1] == [None, None]
    first, number, count, method = widths[0]
    assert first > method > number > count and sum(widths[0]) == pytest.approx(1, abs=1e-3)


def test_long_tables_may_break_short_ones_stay_whole(tmp_path):
    def table(rows: int) -> str:
        return ("| a | b |\n|---|--:|\n" + "| x | 1 |\n" * rows
                + "\n: Table 14.9.9. Title (FAS; data cut 2026-01-31)\n")
    for rows, expected in ((5, "false"), (UNBREAKABLE_LINES + 5, "true")):
        blocks = prepare_chapter(parse(table(rows), tmp_path)["blocks"], "x")
        assert f"breakable: {expected})[" in blocks[0]["c"][1]


def test_conditional_content_is_applied_per_format(tmp_path):
    blocks = parse('::: {.content-hidden when-format="typst"}\nA\n:::\n\n'
                   '::: {.content-visible when-format="docx"}\nB\n:::\n\nC\n', tmp_path)["blocks"]
    text = {fmt: json.dumps(for_format(blocks, fmt)) for fmt in ("html", "docx", "typst")}
    assert ['"A"' in text[f] for f in ("html", "docx", "typst")] == [True, True, False]
    assert ['"B"' in text[f] for f in ("html", "docx", "typst")] == [False, True, False]
    assert all('"C"' in t for t in text.values())


def test_short_title_drops_the_data_cut():
    assert short_title("Table 14.2.1. PFS (full analysis set; data cut 2026-07-31)") == \
        "Table 14.2.1. PFS (full analysis set)"
    assert short_title("Table 14.1.1 Disposition (enrolled), data cut 2026-01-31") == \
        "Table 14.1.1 Disposition (enrolled)"


def test_same_run_assembles_the_same_document(document, tmp_path):
    again = assemble_document(document.folder.parent, tmp_path / "again")
    assert again.source.read_bytes() == document.source.read_bytes()
    assert Path(again.folder / "_quarto.yml").read_bytes() == \
        (document.folder / "_quarto.yml").read_bytes()


def test_captioned_figure_becomes_title_image_and_notes(document, source, ast):
    assert not [n for n in _walk(ast["blocks"], []) if n.get("t") == "Figure"]
    assert (document.folder / "figures" / "14.2.1.png").is_file()  # copied from the run
    block = source[source.index('#tlf(kind: "Figure"'):]
    block = block[:block.index("::: {.figure-notes")]
    assert '::: {#figure-14-2-1 .tlf-title custom-style="Image Caption"}' in block
    assert FIGURE_CAPTION in block
    # the image keeps its alt text, and a non-breaking space after it: read again, it is an
    # image in a paragraph, not a second captioned figure that Quarto would number
    assert "![Kaplan-Meier curve of PFS](figures/14.2.1.png)" in block
    assert re.search(r"\]\(figures/14\.2\.1\.png\)\{[^}]*\}\u00a0\n", block)
    assert block.index("tlf-title") < block.index("](figures/14.2.1.png)")


def test_reference_docx_carries_page_size_header_footer_and_styles(tmp_path):
    import docx

    from haplo_report.render.markdown import NOTES_DOCX_STYLE
    from haplo_report.render.word import Furniture, write_reference_docx

    page = Furniture("S", "P-1", "Sp", "2026-01-31", "2026-11-29", "FINAL", "2.0",
                     "Confidential.", page_size="us-letter")
    reference = docx.Document(str(write_reference_docx(tmp_path / "ref.docx", page)))
    section = reference.sections[0]
    assert (round(section.page_width.inches, 2), round(section.page_height.inches, 2)) == (8.5, 11)
    assert section.header.paragraphs[0].text == "S   Protocol P-1   Data cut 2026-01-31\tFINAL"
    assert section.footer.paragraphs[0].text.startswith("Report version 2.0, run 2026-11-29")
    assert reference.styles[NOTES_DOCX_STYLE].font.size.pt == 8
    for name in ("Table Caption", "Image Caption"):
        style = reference.styles[name]
        assert style.font.bold and not style.font.italic and style.paragraph_format.keep_with_next


def _typst(blocks: list) -> str:
    return "\n".join(node["c"][1] for node in _walk(blocks, [])
                     if node.get("t") == "RawBlock" and node["c"][0] == "typst")


def _write_comparison(run: Path) -> None:
    """A later cut's ``comparison/`` as the run writes it (one row per finding)."""
    folder = run / "comparison"
    folder.mkdir()
    files = {
        "summary.json": json.dumps({
            "study_id": "HAPLO-BLIN-ALL", "previous_cut": "2025-10-31", "data_cut": "2026-01-31",
            "parameters_changed": ["gvhd_relapse_competes"],
            "new_patients": {"enrolled": 2, "full analysis set": 1, "safety set": 1},
            "new_events": {"relapse": 1}, "retrospective_changes": 0,
            "headlines_changed": {"corrections": 0, "parameters": 1, "new_information": 1},
            "table_cells_changed": {"corrections": 0, "parameters": 1}}),
        "parameters.csv": "parameter,previous,current\ngvhd_relapse_competes,false,true\n",
        "headlines.csv": (
            "endpoint,statistic,time_days,previous,corrections,parameters,new_information,"
            "current,code,after_corrections,after_parameters,previous_ci,current_ci,"
            "previous_n,current_n\n"
            "\"Chronic GVHD, any, 1 year\",cif,365,16.8,0.0,-3.3,-0.1,13.4,CGVHD,16.8,13.5,"
            "\"(6.0, 32.4)\",\"(4.1, 28.5)\",30,31\n"),
        "table_cells.csv": ("table,row,column,previous,current,cause\n"
                            "14.3.3,Events by day 365,FAS (N=30),5,4,parameters\n"),
        "retrospective.csv": "table,key,column,old,new,change\n",
        "patients.csv": "USUBJID,analysis_set,change\n",
        "new_events.csv": "USUBJID,table,event,date\nHB-01-001,relapses,relapse,2025-12-01\n",
    }
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def test_changes_are_the_last_appendix_and_a_document_of_their_own(tmp_path):
    from haplo_report.render.document import assemble_changes

    run = make_fake_run(tmp_path / "run")
    assert assemble_changes(run) is None  # a first cut: no changes anywhere
    assert "Changes since" not in assemble_document(run).source.read_text(encoding="utf-8")
    _write_comparison(run)
    report = assemble_document(run).source.read_text(encoding="utf-8")
    headings = re.findall(r"(?m)^#+ (.+?)(?: \{.*\})?$", report)
    assert headings.index("Changes since the data cut of 2025-10-31") > headings.index(
        "Provenance")
    changes = assemble_changes(run)
    assert changes.output_stem == "changes_2026-01-31"
    assert changes.folder == run / "document" / "changes"
    text = changes.source.read_text(encoding="utf-8")
    assert yaml.safe_load(text.split("---\n")[1])["title"] == (
        "Changes between data cuts: HAPLO-BLIN-ALL")
    assert "# Provenance" not in text and "| gvhd_relapse_competes |" in text
    assert "\u22123.3" in text and "16.8 (6.0, 32.4); n=30" in text
    assert "no change" in text  # corrections had no effect on the estimate


def test_changes_say_when_another_suite_made_the_previous_report(tmp_path):
    from haplo_report.render.changes import changes_markdown

    run = tmp_path / "run"
    run.mkdir()
    _write_comparison(run)
    path = run / "comparison" / "summary.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    assert "made by" not in changes_markdown(run)
    summary["suite"] = {"previous": {"version": "0.1.0", "code_sha256": "a" * 64},
                        "current": {"version": "0.1.0", "code_sha256": "b" * 64}}
    path.write_text(json.dumps(summary), encoding="utf-8")
    assert ("The previous report was made by haplo-report 0.1.0 (code aaaaaaaa), this one by "
            "haplo-report 0.1.0 (code bbbbbbbb)") in changes_markdown(run)


def test_wide_listing_goes_on_landscape_pages_in_pdf_and_word(tmp_path):
    header = ("| Patient | Study day | Event | Preferred term / cause of death | System organ class"
              " | CTCAE grade | Related to blinatumomab | Safety set |\n"
              "|---|---|---|---|---|---|---|---|\n")
    row = ("| HB-01-001 | 35 | Serious AE | Cytomegalovirus infection reactivation | "
           "Gastrointestinal disorders | 3 | No | Yes |\n")
    text = (f"## Deaths\n\n{header}{row * 3}\n"
            ": Listing 16.2.7. Deaths (enrolled patients; data cut 2026-01-31)\n")
    blocks = prepare_chapter(parse(text, tmp_path)["blocks"], "x")
    assert blocks[0]["c"] == ["typst", "#page(flipped: true)["] and blocks[-1]["c"][1] == "]"
    assert blocks[2]["t"] == "Header"  # the section heading turns with its listing
    openxml = [b["c"][1] for b in blocks if b["t"] == "RawBlock" and b["c"][0] == "openxml"]
    assert ['orient="portrait"' in x for x in openxml] == [True, False]
    assert ['orient="landscape"' in x for x in openxml] == [False, True]
    table = next(node for node in _walk(blocks, []) if node.get("t") == "Table")
    widths = [spec[1]["c"] for spec in table["c"][2]]
    assert widths[0] * 25.7 >= 1.5  # "HB-01-001" (1.5 cm at 8 pt) never wraps


def test_group_rows_repeat_as_subheaders_last_rows_and_notes_stay_together(tmp_path):
    nbsp = "\u00a0" * 4
    rows = "".join(f"| {nbsp}Preferred term {i} with a longer name | {i} (3.6) | {i} (3.6) |\n"
                   for i in range(4))
    text = ("| System organ class / preferred term | Any grade (N=28) | Grade ≥3 (N=28) |\n"
            "|---|--:|--:|\n| Infections and infestations | 9 (32.1) | 4 (14.3) |\n" + rows
            + "\n: Table 14.3.7. AEs (safety set; data cut 2026-01-31)\n\n"
            "::: table-notes\nFirst note.\\\nSource: notebook 11_safety\n:::\n")
    blocks = prepare_chapter(parse(text, tmp_path)["blocks"], "x")
    typst = _typst(blocks)
    assert 'table.header(level: 2, "Infections and infestations"' in typst
    assert re.search(r'table\.footer\(repeat: false, "\u00a0{4}Preferred term 2.*'
                     r'"\u00a0{4}Preferred term 3.*tablenotes\[#"First note." \\ '
                     r'#"Source: notebook 11_safety"\]', typst)
    for fmt in ("html", "docx"):  # other formats keep the Pandoc table and its notes
        shown = json.dumps(for_format(blocks, fmt))
        assert '"c": "note."' in shown and '"t": "Table"' in shown
    shown = json.dumps(for_format(blocks, "typst"))
    assert '"c": "note."' not in shown and '"t": "Table"' not in shown


def test_pdf_figures_carry_their_alt_text(source):
    assert re.search(r'#box\(image\("figures/14\.2\.1\.png", width: 100%, '
                     r'alt: "Kaplan-Meier curve of PFS"\)\)', source)


def test_nested_groups_compile_in_typst(tmp_path):
    """Subgroup tables nest groups (subgroup > variable > levels); Typst 0.15 panicked on
    two subheaders of one level with no row between, or one with no row after it."""
    import typst

    nbsp = "\u00a0" * 4
    body = "".join(f"| {nbsp * 2}Level {i} | {i} |\n" for i in range(3))
    rows = ("| Subgroup | 1 |\n" + f"| {nbsp}Pre-transplant MRD | 2 |\n" + body
            + f"| {nbsp}Disease status | 3 |\n" + body + "| Group at the end | 4 |\n"
            + f"| {nbsp}Last | 5 |\n")
    text = ("| Characteristic of the subgroups, long enough to be fitted | Estimate (95% CI) |\n"
            "|---|--:|\n" + rows + "\n: Table 14.2.2. PFS by subgroup (FAS; data cut 2026-01-31)\n")
    typst_code = next(b["c"][1][0]["c"][1] for b in _walk(prepare_chapter(
        parse(text, tmp_path)["blocks"], "x"), []) if b.get("t") == "Div"
        and "content-visible" in b["c"][0][1])
    assert "table.header(level: 3, " in typst_code and "table.header(level: 2, " in typst_code
    source = tmp_path / "t.typ"
    source.write_text("#let tablenotes(body) = body\n" + typst_code, encoding="utf-8")
    typst.compile(str(source), output=str(tmp_path / "t.pdf"))
    assert (tmp_path / "t.pdf").stat().st_size > 0

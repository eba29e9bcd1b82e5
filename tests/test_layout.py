"""Column widths from content, page orientation and the rows kept together (issue 25), on
small tables: fast checks of the rules the rendered checks (test_layout_rendered.py) see."""

from __future__ import annotations

import re

import pytest

from haplo_report.outputs.tables.core import Table
from haplo_report.outputs.tables.layout import (Page, column_needs, column_widths,
                                                fit_columns, orientation, text_width_cm,
                                                tokens)
from haplo_report.outputs.tables.rtf import keep_rows, rtf_document
from haplo_report.outputs.tables.word import kept_rows

EVENTS = ("Patient", "Study day", "Event", "Preferred term / cause of death",
          "System organ class", "CTCAE grade", "Related to blinatumomab", "Safety set")
EVENT_ROW = ("HB-01-001", "135", "Serious AE", "Cytomegalovirus infection reactivation",
             "Gastrointestinal disorders", "3", "No", "Yes")


def test_numbers_with_their_interval_are_one_token_text_is_words():
    assert tokens("72.4 (53.1, 84.9)") == ["72.4 (53.1, 84.9)"]
    assert tokens("1×10⁻⁹") == ["1×10⁻⁹"]
    assert tokens("Infections and infestations") == ["Infections", "and", "infestations"]
    assert tokens("") == []


def test_no_column_narrower_than_its_longest_word_prose_gets_the_rest():
    rows = [EVENT_ROW] * 3
    needs = column_needs(EVENTS, rows)
    assert sum(n.least for n in needs) > 17.0  # 8 columns: no portrait page holds them
    widths = fit_columns(needs, 25.7, label=False)
    assert sum(widths) == pytest.approx(25.7)
    for width, need in zip(widths, needs):
        assert width >= need.least - 1e-9
    assert widths[0] >= text_width_cm("HB-01-001")  # the patient number never wraps
    assert widths[3] > widths[1]  # the prose column wraps, the study day does not
    least_of_term = text_width_cm("reactivation")
    assert needs[3].least >= least_of_term and needs[3].most > 2 * least_of_term


def test_a_table_that_fits_keeps_its_cells_on_one_line_label_takes_the_rest():
    columns, rows = ("", "FAS (N=30)"), [("Age, years, median (range)", "37 (16–56)")]
    widths = column_widths(columns, rows, (0,), 17.0)
    assert widths[1] == pytest.approx(column_needs(columns, rows)[1].most)
    assert sum(widths) == pytest.approx(17.0)


def test_a_wide_listing_goes_landscape_a_narrow_one_and_tables_stay_portrait():
    assert orientation(column_needs(EVENTS, [EVENT_ROW]), "Listing") == "landscape"
    assert orientation(column_needs(EVENTS[:3], [EVENT_ROW[:3]]), "Listing") == "portrait"
    wide = ("x" * 40,) * 8  # words no portrait page holds: landscape whatever the kind
    assert orientation(column_needs(wide, [wide]), "Table") == "landscape"
    page = Page("S", "2026-01-31", "a4", "landscape")
    assert page.dimensions_cm == (29.7, 21.0) and page.text_width_cm == pytest.approx(25.7)


def test_word_keeps_header_first_rows_group_headings_and_the_tail_together():
    #        row: 1  2  3  4  5  6  7  8  (0: header)
    levels = (0, 0, 0, 1, 1, 1, 0, 0)
    # header + rows 1-2; group heading row 3 with rows 4-5; rows 7-8 with the notes
    assert kept_rows(levels) == {0, 1, 3, 4, 7, 8}


def test_rtf_repeats_the_header_row_and_holds_title_and_notes_on_every_page(tmp_path):
    rows = tuple((f"HB-01-{i:03d}", *EVENT_ROW[1:]) for i in range(40))
    table = Table("16.2.7", "Deaths and serious adverse events by patient", "Enrolled",
                  "2026-07-31", EVENTS, rows, footnotes=("A note.",), source="11_safety",
                  kind="Listing")
    page = Page("S", "2026-07-31", "a4", "landscape")
    code = keep_rows(rtf_document(table, page).rtf_encode(), table.levels)
    assert code.count("\\trhdr") == 1 and code.count("\\trowd") == 41
    # the header kept with the first row, the first row with the second
    assert code.count("\\keepn") == 2 * len(EVENTS)
    assert "\\page" not in code  # the reader breaks the pages
    table.write(tmp_path, "S")
    written = (tmp_path / "16.2.7.rtf").read_text(encoding="ascii")
    assert "\\titlepg" in written and "\\paperw16838" in written  # landscape A4
    header = re.search(r"\{\\header\{.*?\}\}", written, re.S)
    assert header and "(continued)" in header.group(0) and "16.2.7" in header.group(0)
    footer = re.search(r"\{\\footer.*", written, re.S)
    assert footer and "A note." in footer.group(0) and "Source: notebook 11_safety" in written


def test_word_files_have_one_typeface_and_no_theme_fonts(tmp_path):
    import zipfile

    table = Table("14.9.9", "T", "FAS", "2026-07-31", ("Characteristic", "FAS (N=3)"),
                  (("Age", "30"),), source="01_population")
    styles = zipfile.ZipFile(table.write(tmp_path, "S")[1]).read("word/styles.xml").decode()
    assert "Theme=" not in styles  # a theme font (Aptos, Calibri) would outrank the name
    fonts = " ".join(re.findall(r"<w:rFonts [^>]*>", styles))
    assert set(re.findall(r'w:(?:ascii|hAnsi|cs|eastAsia)="([^"]+)"', fonts)) == {"Arial"}
    assert 'w:styleId="TableCaption"' in styles  # the report's caption style, not "Caption"

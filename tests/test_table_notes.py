"""Notes generated from what a table shows (haplo_report/outputs/tables/notes.py)."""

from haplo_report.analysis.endpoints import (CIF_METHOD, KM_METHOD, KM_QUANTILE_METHOD,
                                             LOGRANK_METHOD)
from haplo_report.formatting import NO_CI_NOTE
from haplo_report.outputs.tables import Table
from haplo_report.outputs.tables.notes import (MISSING_NOTE, NOT_REACHED_NOTE,
                                               abbreviations_used, method_label, method_lines)

CUT = "2026-03-31"


def table(rows, columns=("", "FAS (N=30)"), methods=(), footnotes=(), title="T") -> Table:
    return Table("9.9", title, "FAS", CUT, columns, rows, footnotes=footnotes, methods=methods)


def test_only_abbreviations_shown_are_explained():
    notes = table((("PFS at 1 year, % (95% CI)", "69.5 (49.5, 82.9)"),)).notes
    assert notes == ("CI: confidence interval; FAS: full analysis set; PFS: progression-free "
                     "survival.",)
    plain = Table("9.9", "T", "Enrolled", CUT, ("", "Patients"), (("Enrolled", "31"),))
    assert plain.notes == ()  # nothing to explain: no note at all


def test_abbreviations_as_whole_words_longest_first():
    assert abbreviations_used(["Ph-like B-ALL", "CR2+", "CRS", "Any AEs", "AESI", "Phase",
                               "SEVERE"]) == ["AE", "AESI", "B-ALL", "CR", "CRS", "Ph"]
    assert abbreviations_used(["ALL in remission"]) == ["ALL"]


def test_ne_explained_only_when_a_cell_shows_it():
    with_ne = table((("Day 730", "NE"), ("Median", "Not reached (337, NE)"))).notes
    assert NOT_REACHED_NOTE in with_ne and "NE: not estimable" in with_ne[-1]
    without = table((("Day 365", "69.5 (49.5, 82.9)"),)).notes
    assert "NE: not estimable" not in without[-1] and NOT_REACHED_NOTE not in without
    assert NO_CI_NOTE not in without
    assert NO_CI_NOTE in table((("Day 100", "0.0 (-)"),)).notes  # SAP v2: CI not defined


def test_missing_note_only_with_a_missing_row():
    assert MISSING_NOTE in table((("Female", "3 (60.0)"), ("Missing", "1 (20.0)"))).notes
    assert MISSING_NOTE not in table((("Female", "3 (60.0)"), ("Male", "2 (40.0)"))).notes


def test_one_line_per_method_without_dataset_jargon():
    lines = method_lines([KM_METHOD, KM_QUANTILE_METHOD, KM_METHOD, f"{LOGRANK_METHOD}; 1 df"])
    assert lines == ["Kaplan-Meier: Greenwood SE, 95% CI on the log(-log) scale; median and "
                     "quartiles with Brookmeyer-Crowley 95% CI.", "p-value: log-rank test, 1 df."]
    assert "ADTTE" not in method_label(CIF_METHOD)
    assert method_lines(["Something new"]) == ["Method: Something new."]


def test_notes_keep_the_builders_own_first_and_drop_repeats():
    notes = table((("Day 100", "1.0 (0.1, 5.0)"),), methods=(CIF_METHOD, CIF_METHOD),
                  footnotes=("Rule A.", "Rule A.")).notes
    assert notes[0] == "Rule A." and notes.count("Rule A.") == 1
    assert sum(note.startswith("Cumulative incidence:") for note in notes) == 1


def test_table_14_1_1_count_note_is_said_once():
    # Table 14.1.1's note repeated "number of patients, percentage of N in the column header"
    from haplo_report.analysis.summaries import COUNT_METHOD
    from haplo_report.outputs.tables.notes import method_lines

    lines = method_lines([COUNT_METHOD, f"{COUNT_METHOD}; lost to follow-up: alive, last "
                                        "contact more than 180 days before the data cut"])
    assert lines == ["n (%): number of patients, percentage of N in the column header; lost to "
                     "follow-up: alive, last contact more than 180 days before the data cut."]

"""Tables: every cell equals the formatted value of the result row it came from."""

import zipfile

import docx
import numpy as np
import pandas as pd
import pytest

from haplo_report.analysis.endpoints import tte_results
from haplo_report.formatting import fmt_count_percent, fmt_estimate_ci, fmt_p_value
from haplo_report.analysis.results import ResultRow, read_results, write_results
from haplo_report.analysis.mrd import (mrd_by_landmark, mrd_headline, mrd_landmarks,
                                       mrd_negative_1y, mrd_status_1y, rate_text)
from haplo_report.analysis.results import results_frame
from haplo_report.analysis.stats.binomial import clopper_pearson
from haplo_report.analysis.summaries import (ae_by_max_grade, ae_by_soc_pt, ae_overview,
                                             aesi_summary, baseline_summary, death_summary,
                                             deaths_and_serious_events, disposition_summary,
                                             gvhd_summary)
from haplo_report.outputs.tables import (BUILDERS, Table, TableInputError, listing_16_2_6,
                                         listing_16_2_7, listing_markdown)
from haplo_report.outputs.tables.core import INDENT
from test_mrd import make_admrd
from test_mrd import make_adsl as make_mrd_adsl
from test_mrd import patient as mrd_patient
from test_summaries import make_adae, make_adsl

CUT = "2026-03-31"
KM = "Kaplan-Meier; Greenwood SE; log(-log) 95% CI"


def pfs_rows() -> list[ResultRow]:
    return [
        ResultRow("PFS", "All", "survival", 100, 0.9, 0.75, 0.96, 29, 3, KM),
        ResultRow("PFS", "All", "survival", 365, 0.72449, 0.5312, 0.849, 29, 8, KM),
        ResultRow("PFS", "All", "survival", 730, None, None, None, 29, 9, KM, "NE"),
        ResultRow("PFS", "All", "median", None, None, None, None, 29, 9, "BC", "NE"),
        ResultRow("PFS", "All", "q25", None, 301.0, 120.0, None, 29, 9, "BC"),
        ResultRow("PFS", "All", "q75", None, None, None, None, 29, 9, "BC", "NE"),
        ResultRow("PFS", "MRDGRP=<1e-3", "survival", 365, 0.8, 0.5, 0.93, 15, 3, KM),
        ResultRow("PFS", "MRDGRP=>=1e-3", "survival", 365, 0.64, 0.35, 0.83, 14, 5, KM),
        ResultRow("PFS", "MRDGRP", "logrank_p", None, 0.0432, n=29, events=9, method="LR"),
        ResultRow("PFS", "DISGRP=CR1", "survival", 365, 0.7, 0.5, 0.84, 25, 7, KM),
        ResultRow("PFS", "DISGRP=CR2+", "survival", 365, 1.0, None, None, 4, 0, KM),
        ResultRow("PFS", "DISGRP", "not_tested", None, None, n=29, events=9,
                  method="not tested (a level has fewer than 5 patients)"),
    ]


def cells(table: Table) -> dict[str, tuple[str, ...]]:
    return {row[0]: row[1:] for row in table.rows}


def test_time_to_event_table_cells_are_formatted_rows():
    table = BUILDERS["14.2.1"](pfs_rows(), CUT)
    got = cells(table)
    assert table.columns == ("", "FAS (N=29)")
    assert got["Events, n (%)"] == (fmt_count_percent(9, 29),) == ("9 (31.0)",)
    assert got["1 year (day 365), % (95% CI)"] == ("72.4 (53.1, 84.9)",)
    assert got["Day 100, % (95% CI)"] == (fmt_estimate_ci(0.9, 0.75, 0.96),)
    assert got["2 years (day 730), % (95% CI)"] == ("NE",)
    assert got["Median, days (95% CI)"] == ("Not reached",)  # KM never fell to 50%
    assert got["25th percentile, days (95% CI)"] == ("301 (120, NE)",)
    assert table.rows[table.rows.index(("Events by day 365, n", "8"))] and \
        table.indents[table.rows.index(("Events by day 365, n", "8"))] == 1
    assert any(note.startswith("PFS event: relapse or death") for note in table.footnotes)
    assert "Kaplan-Meier: Greenwood SE, 95% CI on the log(-log) scale." in table.notes
    assert "Method: BC." in table.notes  # an unknown method text is shown as it is
    assert not any("LR" in note for note in table.notes)  # the test is not in this table


def test_undefined_ci_reads_dash_and_the_footnote_says_ci_not_defined():
    rows = [ResultRow("CIR", "All", "cif", 100, 0.0, None, None, 30, 0, "AJ"),
            ResultRow("NRM", "All", "cif", 100, 0.0667, 0.0115, 0.194, 30, 2, "AJ")]
    table = BUILDERS["14.2.5"](rows, CUT)
    assert cells(table)["Day 100, % (95% CI)"] == ("0.0 (-)", "6.7 (1.1, 19.4)")
    assert any("-: CI not defined" in note for note in table.notes)


def test_subgroup_table_every_level_at_every_landmark_with_test_or_not_tested():
    table = BUILDERS["14.2.2"](pfs_rows(), CUT)
    assert table.columns == ("Subgroup / landmark", "n", "Events, n", "At risk, n", "% (95% CI)",
                             "p-value")  # no at_risk rows here: the column is empty
    assert list(zip(table.rows, table.indents)) == [
        (("All patients", "29", "", "", "", ""), 0),
        (("Day 100", "", "3", "", "90.0 (75.0, 96.0)", ""), 1),
        (("1 year (day 365)", "", "8", "", "72.4 (53.1, 84.9)", ""), 1),
        (("2 years (day 730)", "", "9", "", "NE", ""), 1),
        (("Pre-transplant MRD", "", "", "", "", fmt_p_value(0.0432)), 0),
        (("<1\u00d710\u207b\u00b3", "15", "", "", "", ""), 1),
        (("1 year (day 365)", "", "3", "", "80.0 (50.0, 93.0)", ""), 2),
        (("\u22651\u00d710\u207b\u00b3", "14", "", "", "", ""), 1),
        (("1 year (day 365)", "", "5", "", "64.0 (35.0, 83.0)", ""), 2),
        # SAP v2: a level of 4 patients keeps its estimates; the test is "not tested"
        (("Disease status at transplant", "", "", "", "",
          "Not tested (a level has fewer than 5 patients)"), 0),
        (("CR1", "25", "", "", "", ""), 1),
        (("1 year (day 365)", "", "7", "", "70.0 (50.0, 84.0)", ""), 2),
        (("CR2+", "4", "", "", "", ""), 1),
        (("1 year (day 365)", "", "0", "", "100.0 (-)", ""), 2),
    ]  # Ph status: no rows at all (no such variable in these rows)


def test_markdown_is_a_captioned_pipe_table_with_notes_and_source():
    table = BUILDERS["14.2.1"](pfs_rows(), CUT)
    text = table.to_markdown()
    lines = text.splitlines()
    assert lines[0] == "|  | FAS (N=29) |" and lines[1] == "|---|--:|"
    assert (f"Table: Table 14.2.1. Progression-free survival (full analysis set; data cut "
            f"{CUT})") in lines
    assert f"| {INDENT}Events by day 365, n | 8 |" in lines
    assert lines[-2] == f"Source: notebook 03_pfs, data cut {CUT}" and lines[-1] == ":::"


def test_pipes_in_cells_are_escaped():
    table = Table("9.9", "T", "FAS", CUT, ("a|b", "c"), (("x|y", "1"),))
    assert "| a\\|b | c |" in table.to_markdown() and "| x\\|y | 1 |" in table.to_markdown()


def test_ragged_rows_are_rejected():
    with pytest.raises(TableInputError, match="has 1 cells, expected 2"):
        Table("9.9", "T", "FAS", CUT, ("a", "b"), (("x",),))


def test_missing_rows_name_what_is_missing():
    with pytest.raises(TableInputError, match="Table 14.2.3: no result rows for OS"):
        BUILDERS["14.2.3"](pfs_rows(), CUT)
    with pytest.raises(TableInputError, match="no result row for endpoint DISP, subgroup "
                                              "ENRLFL=Y, statistic count"):
        BUILDERS["14.1.1"](pfs_rows(), CUT)


def test_write_gives_csv_word_and_rtf_with_identical_bytes(tmp_path):
    table = BUILDERS["14.2.1"](pfs_rows(), CUT)
    paths = table.write(tmp_path / "a", "TEST")
    again = table.write(tmp_path / "b", "TEST")
    assert [p.name for p in paths] == ["14.2.1.csv", "14.2.1.docx", "14.2.1.rtf"]
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in again]
    frame = pd.read_csv(paths[0], keep_default_na=False, encoding="utf-8-sig")
    assert frame.iloc[4, 2] == "Not reached" and list(frame["level"][:3]) == [0, 0, 0]
    document = docx.Document(str(paths[1]))
    assert document.paragraphs[0].text == table.caption
    assert document.paragraphs[-1].text == table.source_line
    word = document.tables[0]
    assert [c.text for c in word.rows[0].cells] == list(table.columns)
    assert len(word.rows) == len(table.rows) + 1 and word.rows[2].cells[1].text == "9 (31.0)"
    with zipfile.ZipFile(paths[1]) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_population_tables_from_summary_rows_via_results_csv(tmp_path):
    adsl = make_adsl()
    rows = disposition_summary(adsl) + baseline_summary(adsl) + death_summary(adsl)
    write_results(rows, tmp_path / "r.csv")
    frame = read_results(tmp_path / "r.csv")
    disposition = cells(BUILDERS["14.1.1"](frame, CUT))
    assert disposition["Enrolled"] == ("6 (100.0)",)
    assert disposition["Not transplanted by the data cut"] == ("1 (16.7)",)
    # SAP v2 disposition: alive at last contact, and lost to follow-up with the count
    assert disposition["Alive at last contact"] == ("3 (50.0)",)
    assert disposition["Alive, last contact more than 180 days before the data cut (lost to "
                       "follow-up)"] == ("1 (16.7)",)
    assert "Alive at the data cut" not in disposition
    baseline = BUILDERS["14.1.2"](frame, CUT)
    assert baseline.columns == ("Characteristic", "FAS (N=5)")
    got = baseline.rows
    age = got.index(("Age, years", ""))
    assert got[age + 2] == ("Median (Q1, Q3)", "40 (30, 50)")  # whole years: no ".0"
    assert got[age + 3] == ("Range", "20\u201361")
    assert ("Female", "3 (60.0)") in got and ("Missing", "1 (20.0)") in got
    mrd = got.index(("Pre-transplant MRD level", ""))
    assert got[mrd + 2] == ("Median (Q1, Q3)",
                             "1.0\u00d710\u207b\u00b3 (2.0\u00d710\u207b\u2074, "
                             "3.0\u00d710\u207b\u00b3)")
    deaths = BUILDERS["14.3.10"](frame, CUT)
    assert deaths.rows[:3] == (("Deaths", "3 (60.0)"), ("Relapse-related", "1 (20.0)"),
                               ("Relapse", "1 (20.0)"))
    assert ("GVHD", "1 (20.0)") in deaths.rows and deaths.indents[:3] == (0, 1, 2)
    assert deaths.notes[-1] == "FAS: full analysis set; GVHD: graft-versus-host disease."
    assert deaths.rows[-1] == ("Death before transplant", "0")  # P6: not transplanted


def test_sap_v3_death_before_transplant_in_table_and_listing_with_the_same_words():
    # HB-03-003 of the example: enrolled, never transplanted, died of relapse. Table 14.3.10
    # and Listing 16.2.7 both say "Death before transplant", never "Non-relapse".
    adsl = make_adsl().assign(HSCTDT=pd.Timestamp("2025-01-01"))
    adsl.loc[5, ["HSCTDT", "DTHFL", "DTHDT", "DTHCAUS", "DTHCAT"]] = [
        pd.NaT, "Y", pd.Timestamp("2025-03-01"), "RELAPSE", "Death before transplant"]
    table = BUILDERS["14.3.10"](death_summary(adsl), CUT)
    assert table.rows[-2:] == (("Death before transplant", "1 (100.0)"), ("Relapse", "1 (100.0)"))
    assert table.indents[-2:] == (0, 1)
    assert ("Non-relapse", "2 (40.0)") in table.rows  # the FAS deaths are unchanged
    assert any(note.startswith("Death before transplant: enrolled patients who died without "
                               "being transplanted") for note in table.notes)
    listing = listing_16_2_7(deaths_and_serious_events(adsl, None), CUT)
    death = next(row for row in listing.rows if row[0] == "P6")
    assert death[1:4] == ("not transplanted", "Death before transplant", "Relapse")
    assert not any("Non-relapse" in row[2] for row in listing.rows if row[0] == "P6")
    categories = {row[2].removeprefix("Death: ") for row in listing.rows
                  if row[2].startswith("Death")}
    labels = {row[0] for row, level in zip(table.rows, table.indents) if level <= 1}
    assert categories <= labels  # the table's words, exactly


def test_deaths_footnote_explains_the_cause_abbreviations_shown():
    rows = [ResultRow("DEATH", "DTHFL=Y", "count", None, 2, n=30),
            ResultRow("DEATH", "DTHCAT=Non-relapse", "count", None, 2, n=30),
            ResultRow("DEATH", "DTHCAT=Non-relapse;DTHCAUS=TMA", "count", None, 1, n=30),
            ResultRow("DEATH", "DTHCAT=Non-relapse;DTHCAUS=VOD", "count", None, 1, n=30)]
    deaths = BUILDERS["14.3.10"](rows, CUT)
    assert [row[0] for row in deaths.rows] == ["Deaths", "Non-relapse", "TMA", "VOD"]
    assert deaths.notes[-1] == ("FAS: full analysis set; TMA: thrombotic microangiopathy; "
                                "VOD: veno-occlusive disease (sinusoidal obstruction "
                                "syndrome).")


def test_safety_tables_keep_frequency_order_and_worst_grade_counts():
    adsl, adae = make_adsl(), make_adae()
    rows = ae_by_soc_pt(adae, adsl) + ae_by_max_grade(adae, adsl) + aesi_summary(adae, adsl)
    socpt = BUILDERS["14.3.7"](rows, CUT)
    assert socpt.columns == ("System organ class / preferred term", "Any grade (N=5)",
                             "Grade \u22653 (N=5)", "Serious (N=5)",
                             "Related to blinatumomab (N=5)", "Fatal, grade 5 (N=5)")
    assert [r[0] for r in socpt.rows][:4] == ["Any adverse event", "Infections and infestations",
                                              "Sepsis", "Cytomegalovirus infection reactivation"]
    assert socpt.rows[0] == ("Any adverse event", "5 (100.0)", "3 (60.0)", "3 (60.0)",
                             "2 (40.0)", "1 (20.0)")
    assert socpt.rows[2] == ("Sepsis", "2 (40.0)", "2 (40.0)", "2 (40.0)", "0", "1 (20.0)")
    assert socpt.indents[:3] == (0, 0, 1)
    by_grade = BUILDERS["14.3.8"](rows, CUT)
    assert by_grade.columns[1:] == tuple(f"Grade {g} (N=5)" for g in range(1, 6))
    assert [r[0] for r in by_grade.rows] == [r[0] for r in socpt.rows]
    assert by_grade.rows[2] == ("Sepsis", "0", "0", "0", "1 (20.0)", "1 (20.0)")
    assert by_grade.indents == socpt.indents
    aesi = cells(BUILDERS["14.3.9"](rows, CUT))
    assert aesi["CMV reactivation"] == ("1 (20.0)", "1 (20.0)", "1 (20.0)", "0", "0")
    assert aesi["Cytokine release syndrome"] == ("1 (20.0)", "0", "0", "1 (20.0)", "0")
    assert aesi["Neurotoxicity (ICANS)"] == ("0",) * 5


def test_deaths_and_serious_events_listing_by_study_day_or_date():
    adsl = make_adsl().assign(HSCTDT=pd.Timestamp("2025-01-01"),
                              DTHDT=pd.to_datetime(["2025-05-01", None, None, None, None, None]))
    adae = make_adae().assign(ADY=pd.array([10, 20, 30, 40, 50, 60, 45, 80], dtype="Int64"),
                              AESTDT=pd.Timestamp("2025-02-01"))
    events = deaths_and_serious_events(adsl, adae)
    listing = listing_16_2_7(events, CUT)
    assert listing.caption.startswith("Listing 16.2.7. Deaths and serious adverse events by "
                                      "patient (enrolled patients;")
    assert listing.columns[:3] == ("Patient", "Study day", "Event")
    assert listing.rows[:2] == (
        ("P1", "20", "Serious AE", "Sepsis", "Infections and infestations", "4", "No", "Yes"),
        ("P1", "120", "Death: Relapse-related", "Relapse", "", "", "", "Yes"))
    assert listing.rows[-1][0] == "P5" and listing.rows[-1][-1] == "No"
    assert not any("2025-" in cell for row in listing.rows for cell in row)
    dated = listing_16_2_7(events, CUT, listing_dates=True)
    assert dated.columns[1] == "Date"
    assert [row[1] for row in dated.rows[:2]] == ["2025-02-01", "2025-05-01"]
    with pytest.raises(TableInputError, match="lacks column\\(s\\) DATE"):
        listing_16_2_7(events.drop(columns="DATE"), CUT)


def test_ae_tables_footnote_enrolled_patients_outside_the_safety_set_with_events():
    # SAP v2: P5 (no blinatumomab) had an AE: left out of the tables, counted in a footnote.
    adsl, adae = make_adsl(), make_adae()
    rows = ae_overview(adae, adsl) + ae_by_soc_pt(adae, adsl) + aesi_summary(adae, adsl)
    note = ("Not in this table: 1 of the 1 enrolled patient outside the safety set (no "
            "blinatumomab) had adverse events.")
    for number in ("14.3.6", "14.3.7", "14.3.9"):
        assert note in BUILDERS[number](rows, CUT).footnotes, number
    everyone = adsl.assign(SAFFL="Y")
    rows = ae_overview(adae, everyone) + ae_by_soc_pt(adae, everyone)
    assert not any("outside the safety set" in n for n in BUILDERS["14.3.7"](rows, CUT).footnotes)


def adtte(n: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    frames = []
    for code in ("AGVHD24", "AGVHD34", "CGVHD", "CGVHDMS", "ANC", "PLT", "CIR", "NRM"):
        frames.append(pd.DataFrame({
            "USUBJID": [f"P{i:02d}" for i in range(n)], "PARAMCD": code,
            "AVAL": rng.integers(1, 700, n).astype(float),
            "EVNTTYPE": rng.choice([0, 1, 2], n),
            "MRDGRP": ["<1e-3", ">=1e-3"] * (n // 2), "DISGRP": "CR1", "PHGRP": "Ph-negative"}))
    return pd.concat(frames, ignore_index=True)


def test_gvhd_engraftment_and_relapse_tables_from_endpoint_rows():
    data = adtte()
    rows = []
    for code in ("AGVHD24", "AGVHD34"):
        rows += tte_results(data, code, landmarks=[100], subgroups=())
    for code in ("ANC", "PLT"):
        rows += tte_results(data, code, landmarks=[28, 100], subgroups=())
    for code in ("CIR", "NRM"):
        rows += tte_results(data, code, landmarks=[100, 365], subgroups=("MRDGRP",),
                            subgroup_min_n=5)
    adgvhd = pd.DataFrame({"USUBJID": ["P1", "P2"], "GVHDTYPE": ["ACUTE", "ACUTE"],
                           "GRADE": ["II", "IV"], "ORGANS": ["SKIN", "GUT;LIVER"]})
    rows += gvhd_summary(adgvhd, make_adsl())
    frame = pd.DataFrame([r.__dict__ for r in rows])
    by_key = {(r.endpoint, r.subgroup, r.statistic, r.time_days): r for r in rows}

    acute = BUILDERS["14.3.1"](rows, CUT)
    cif = by_key[("AGVHD34", "All", "cif", 100.0)]
    start = acute.rows.index(("Cumulative incidence of grade III-IV acute GVHD", ""))
    assert acute.rows[start + 2] == ("Day 100, % (95% CI)", fmt_estimate_ci(
        cif.estimate, cif.ci_lower, cif.ci_upper))
    risk = by_key[("AGVHD34", "All", "at_risk", 100.0)]
    assert acute.rows[start + 4] == ("At risk at day 100, n", str(int(risk.estimate)))
    assert ("Grade IV", "1 (20.0)") in acute.rows and ("Liver", "1 (20.0)") in acute.rows

    engraftment = BUILDERS["14.3.5"](frame, CUT)
    median = by_key[("PLT", "All", "median_days", None)]
    low, high = by_key[("PLT", "All", "min", None)], by_key[("PLT", "All", "max", None)]
    assert engraftment.rows[-1] == ("Median day of recovery among patients who recovered (range)",
                                    f"{median.estimate:.0f} ({low.estimate:.0f}\u2013"
                                    f"{high.estimate:.0f})")

    relapse = BUILDERS["14.2.5"](rows, CUT)
    assert relapse.columns == ("", "Relapse (N=30)", "NRM (N=30)")
    nrm = by_key[("NRM", "All", "cif", 365.0)]
    assert cells(relapse)["1 year (day 365), % (95% CI)"][1] == fmt_estimate_ci(
        nrm.estimate, nrm.ci_lower, nrm.ci_upper)
    by_group = BUILDERS["14.2.6"](rows, CUT)
    gray = by_key[("CIR", "MRDGRP", "gray_p", None)]
    def at_risk(time: float) -> str:
        return str(int(by_key[("CIR", "All", "at_risk", time)].estimate))

    assert by_group.rows[:5] == (
        ("Cumulative incidence of relapse", "", "", "", "", ""),
        ("All patients", "30", "", "", "", ""),
        ("Day 100", "", str(by_key[("CIR", "All", "cif", 100.0)].events), at_risk(100.0),
         fmt_estimate_ci(*(getattr(by_key[("CIR", "All", "cif", 100.0)], a)
                           for a in ("estimate", "ci_lower", "ci_upper"))), ""),
        ("1 year (day 365)", "", str(by_key[("CIR", "All", "cif", 365.0)].events),
         at_risk(365.0), fmt_estimate_ci(*(getattr(by_key[("CIR", "All", "cif", 365.0)], a)
                                           for a in ("estimate", "ci_lower", "ci_upper"))), ""),
        ("Pre-transplant MRD", "", "", "", "", fmt_p_value(gray.estimate)))
    # the new GVHD subgroup tables (SAP v2) are built from the same kind of rows
    gvhd_rows = [r for code in ("AGVHD24", "AGVHD34")
                 for r in tte_results(data, code, landmarks=[100], subgroup_min_n=5)]
    by_subgroup = BUILDERS["14.3.2"](gvhd_rows, CUT)
    assert by_subgroup.caption.startswith("Table 14.3.2. Acute GVHD by subgroup")
    untested = [row for row in by_subgroup.rows if row[0] == "Disease status at transplant"]
    assert untested == [("Disease status at transplant", "", "", "", "",
                         "Not tested (a level has fewer than 5 patients)")] * 2
    assert [row for row in by_subgroup.rows if row[0] == "CR1"] == [
        ("CR1", "30", "", "", "", "")] * 2


def test_sap_v3_estimate_with_few_at_risk_is_marked_and_footnoted():
    # 6 hand-built patients: at day 365 two remain at risk (< 5): the estimate is still shown,
    # marked, with the SAP's footnote; the day-100 estimate (6 at risk) is not marked.
    data = pd.DataFrame({"USUBJID": [f"P{i}" for i in range(6)], "PARAMCD": "PFS",
                         "AVAL": [120.0, 200, 300, 330, 400, 500], "EVNTTYPE": [1, 0, 1, 0, 0, 0],
                         "MRDGRP": "<1e-3", "DISGRP": "CR1", "PHGRP": "Ph-negative"})
    rows = tte_results(data, "PFS", landmarks=[100, 365], subgroups=("MRDGRP",))
    table = BUILDERS["14.2.1"](rows, CUT)
    got = cells(table)
    assert got["At risk at day 100, n"] == ("6",) and got["At risk at day 365, n"] == ("2",)
    assert got["1 year (day 365), % (95% CI)"][0].endswith("\u2020")
    assert not got["Day 100, % (95% CI)"][0].endswith("\u2020")
    assert "\u2020 Fewer than 5 patients at risk at this time: imprecise." in table.footnotes
    subgroups = BUILDERS["14.2.2"](rows, CUT)
    level = [row for row in subgroups.rows if row[0] == "1 year (day 365)"]
    assert all(row[3] == "2" and row[4].endswith("\u2020") for row in level)
    # nothing below min_at_risk: no mark and no mark footnote
    calm = BUILDERS["14.2.1"](tte_results(data, "PFS", landmarks=[100], subgroups=()), CUT)
    assert not any("imprecise" in note for note in calm.footnotes)


def mrd_rows() -> list[ResultRow]:
    """Hand-built patients through the real MRD analysis (cut on day 380 after HSCT)."""
    adsl = make_mrd_adsl([mrd_patient("S1"), mrd_patient("S2"), mrd_patient("F", relapse=200),
                          mrd_patient("POS"), mrd_patient("NE", contact=200),
                          mrd_patient("P", hsct_offset=100)], cut=400)
    admrd = make_admrd([("S1", 30, 0.0), ("S1", 360, 0.0), ("S2", 365, 0.0),
                        ("POS", 31, 0.002), ("POS", 370, 0.003), ("F", 30, 0.0),
                        ("NE", 30, 0.0)])
    return (mrd_landmarks(admrd, adsl, threshold=1e-4, window_days=14, window_days_365=30)
            + mrd_negative_1y(adsl, admrd, threshold=1e-4, window_days_365=30))


def test_mrd_landmark_table_columns_per_landmark_with_population_rows():
    table = BUILDERS["14.2.7"](mrd_rows(), CUT)
    assert table.columns == ("", "Day 30 (N=6)", "Day 90 (N=6)", "Day 180 (N=6)",
                             "Day 365 (N=5)")
    got = cells(table)
    assert got["Relapse or death by the landmark, n (%)"] == ("0", "0", "0", "1 (20.0)")
    assert got["Alive and relapse-free, no assessment in the window, n (%)"] == (
        "2 (33.3)", "6 (100.0)", "6 (100.0)", "1 (20.0)")
    assert got["Evaluable: alive, relapse-free, assessed, n (%)"] == (
        "4 (66.7)", "0", "0", "3 (60.0)")
    assert got["MRD-negative, n/evaluable"] == ("3/4", "0/0", "0/0", "2/3")
    lower, upper = clopper_pearson(2, 3)
    assert got["MRD-negative, % (95% CI)"][3] == fmt_estimate_ci(2 / 3, lower, upper)
    assert got["MRD-negative, % (95% CI)"][1] == "NE"


def test_mrd_one_year_table_categories_then_rates_with_denominators():
    rows = mrd_rows()
    table = BUILDERS["14.2.8"](rows, CUT)
    assert table.columns == ("", "FAS (N=6)")
    primary = results_frame(rows).query("endpoint == 'MRD1Y' and subgroup == 'All'").iloc[0]
    assert table.rows == (
        ("Success: alive, relapse-free and MRD-negative at day 365", "2 (33.3)"),
        ("Failure", "2 (33.3)"), ("Relapse or death by day 365", "1 (16.7)"),
        ("MRD-positive at day 365", "1 (16.7)"), ("Not evaluable", "1 (16.7)"),
        ("Pending", "1 (16.7)"),
        ("Primary rate: success / (success + failure)", rate_text(primary)),
        ("Sensitivity rate: success / (success + failure + not evaluable)",
         "40.0% (2/5; 95% CI 5.3, 85.3)"))
    assert rate_text(primary).startswith("50.0% (2/4; 95% CI ")
    assert table.indents == (0, 0, 1, 1, 0, 0, 0, 0)
    assert rate_text(primary) in mrd_headline(rows)


# --- Listing 16.2.6 -------------------------------------------------------------------

def mrd_listing(rows: int = 6, **options) -> Table:
    adsl = make_mrd_adsl([mrd_patient(f"P{i:03d}") for i in range(rows - 3)]
                         + [mrd_patient("R", relapse=80), mrd_patient("POS"),
                            mrd_patient("LATE", hsct_offset=300)], cut=450)
    admrd = make_admrd([("POS", 30, 0.0), ("POS", 30, 0.0023, "QPCR"), ("POS", 365, 0.01)]
                       + [(f"P{i:03d}", 29, 0.0) for i in range(rows - 3)])
    landmarks = mrd_by_landmark(adsl, admrd, threshold=1e-4, window_days=14,
                                window_days_365=30)
    status = mrd_status_1y(adsl, admrd, threshold=1e-4, window_days_365=30)
    return listing_16_2_6(landmarks, status, "2026-07-31", threshold=1e-4, **options)


def test_mrd_listing_shows_study_days_not_dates_by_default():
    listing = mrd_listing()
    assert listing.caption.startswith("Listing 16.2.6. MRD status by patient")
    assert listing.columns == ("Patient", "Day 30", "Day 90", "Day 180", "Day 365",
                               "MRD-negative at 1 year")
    got = {row[0]: row[1:] for row in listing.rows}
    assert got["P000"] == ("Negative, undetectable (day 29)", "No assessment", "No assessment",
                           "No assessment", "Not evaluable: no assessment in the window")
    assert got["POS"] == ("Positive, 2.3\u00d710\u207b\u00b3 (day 30)", "No assessment",
                          "No assessment", "Positive, 1.0\u00d710\u207b\u00b2 (day 365)",
                          "Failure: MRD-positive at the landmark")
    assert got["R"][:2] == ("No assessment", "Relapse or death by then")
    assert got["R"][-1] == "Failure: relapse by day 365"
    assert got["LATE"] == ("No assessment", "No assessment", "After the cut", "After the cut",
                           "Pending: window still open at the cut")
    assert not any("2026-" in cell or "2025-" in cell for row in listing.rows for cell in row)


def test_mrd_listing_shows_dates_when_asked():
    hsct = pd.Series(pd.Timestamp("2025-01-01"), index=["P000", "P001", "P002", "R", "POS",
                                                         "LATE"])
    listing = mrd_listing(transplant_dates=hsct, listing_dates=True)
    got = {row[0]: row[1:] for row in listing.rows}
    assert got["POS"][0] == "Positive, 2.3\u00d710\u207b\u00b3 (2025-01-31)"
    with pytest.raises(TableInputError, match="transplant dates"):
        mrd_listing(listing_dates=True)


def test_mrd_listing_in_report_up_to_60_patients_then_csv_only(tmp_path):
    small = mrd_listing(60)
    text = listing_markdown(small, tmp_path / "small", "TEST")
    assert "Table: Listing 16.2.6." in text and "| P056 |" in text
    assert sorted(p.name for p in (tmp_path / "small").iterdir()) == [
        "16.2.6.csv", "16.2.6.docx", "16.2.6.rtf"]
    large = mrd_listing(61)
    text = listing_markdown(large, tmp_path / "large", "TEST")
    assert "|" not in text and "61 patients" in text and "tables/16.2.6.csv" in text
    assert [p.name for p in (tmp_path / "large").iterdir()] == ["16.2.6.csv"]
    assert len(pd.read_csv(tmp_path / "large" / "16.2.6.csv")) == 61


def test_listing_limit_counts_patients_not_rows(tmp_path):
    events = Table("16.2.7", "Events", "Enrolled", CUT, ("Patient", "Day"),
                   tuple((f"P{i % 2}", str(i)) for i in range(70)), kind="Listing")
    text = listing_markdown(events, tmp_path, "TEST")
    assert "Table: Listing 16.2.7." in text and text.count("| P1 |") == 35


def test_mrd_listing_names_missing_columns():
    adsl = make_mrd_adsl([mrd_patient("A")])
    status = mrd_status_1y(adsl, make_admrd([]), threshold=1e-4, window_days_365=30)
    landmarks = mrd_by_landmark(adsl, make_admrd([]), threshold=1e-4, window_days=14,
                                window_days_365=30)
    with pytest.raises(TableInputError, match="lacks column\\(s\\) REASON"):
        listing_16_2_6(landmarks, status.drop(columns="REASON"), "2026-07-31", threshold=1e-4)


def test_free_text_holding_the_key_syntax_keeps_its_own_rows():
    """Issue 28: a preferred term "ZS1 Sepsis;AESER=Y" beside "ZS1 Sepsis", a term
    "Rash;MAXGRADE=2" and a SOC holding ";PT=" each keep their row, label and counts."""
    adsl, adae = make_adsl(), make_adae()
    adae["AEDECOD"] = pd.array(["ZS1 Sepsis", "ZS1 Sepsis;AESER=Y", "Rash;MAXGRADE=2",
                                "a\\;b", "ZS1 Sepsis", "Nausea", "ZS1 Sepsis;AESER=Y",
                                "Nausea"], dtype="string")
    adae["AEBODSYS"] = pd.array(["Infections;PT=Sepsis"] * 3 + ["Other"] * 5, dtype="string")
    rows = ae_by_soc_pt(adae, adsl) + ae_by_max_grade(adae, adsl)
    written = read_results(_roundtrip(rows))
    socpt = BUILDERS["14.3.7"](written, CUT)
    labels = [(r[0], level) for r, level in zip(socpt.rows, socpt.indents)]
    assert labels == [("Any adverse event", 0), ("Other", 0), ("Nausea", 1),
                      ("ZS1 Sepsis", 1), ("a\\;b", 1), ("Infections;PT=Sepsis", 0), ("Rash;MAXGRADE=2", 1),
                      ("ZS1 Sepsis", 1), ("ZS1 Sepsis;AESER=Y", 1)]
    assert socpt.rows[8] == ("ZS1 Sepsis;AESER=Y", "1 (20.0)", "1 (20.0)", "1 (20.0)", "0",
                             "0")
    by_grade = BUILDERS["14.3.8"](written, CUT)
    assert [r[0] for r in by_grade.rows] == [r[0] for r in socpt.rows]
    assert by_grade.rows[6] == ("Rash;MAXGRADE=2", "0", "0", "1 (20.0)", "0", "0")


def _roundtrip(rows):
    import tempfile  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    path = Path(tempfile.mkdtemp()) / "results.csv"
    write_results(rows, path)
    return path


def test_a_level_typed_missing_and_a_missing_level_never_share_a_label():
    adsl = make_adsl()
    fas = adsl["FASFL"].eq("Y").to_numpy()
    subtypes = ["Missing", None, '"Missing"', "Ph-like B-ALL", "Missing", None]
    adsl["SUBTYPE"] = pd.array((subtypes * 10)[:len(adsl)], dtype="string")
    rows = [r for r in baseline_summary(adsl) if r.subgroup.startswith("SUBTYPE=")]
    assert [r.subgroup for r in rows] == ['SUBTYPE="Missing"', "SUBTYPE=Missing",
                                          "SUBTYPE=Ph-like B-ALL", "SUBTYPE="][:len(rows)]
    table = BUILDERS["14.1.2"](disposition_summary(adsl) + baseline_summary(adsl), CUT)
    labels = [r[0] for r in table.rows]
    shown = labels[labels.index("Subtype, n (%)") + 1:][:len(rows)]
    assert len(set(shown)) == len(shown) == len(rows)
    assert "Missing" in shown and '"Missing"' in shown and '""Missing""' in shown
    assert sum(fas) > 0

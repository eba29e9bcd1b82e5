"""Descriptive summaries: counts with denominators, medians, worst-grade AE counting."""

import pandas as pd
import pytest

from haplo_report.analysis.summaries import (ae_by_max_grade, ae_by_soc_pt, ae_overview,
                                             aesi_summary, baseline_summary, categorical_rows,
                                             continuous_rows, death_summary,
                                             deaths_and_serious_events, disposition_summary,
                                             gvhd_summary, transplant_summary)


def make_adsl() -> pd.DataFrame:
    """Six enrolled patients: P1-P5 transplanted (FAS), P1-P4 and P6 in the safety set."""
    s = lambda *v: pd.array(v, dtype="string")  # noqa: E731
    return pd.DataFrame({
        "USUBJID": s("P1", "P2", "P3", "P4", "P5", "P6"),
        "ENRLFL": s("Y", "Y", "Y", "Y", "Y", "Y"),
        "FASFL": s("Y", "Y", "Y", "Y", "Y", "N"),
        "SAFFL": s("Y", "Y", "Y", "Y", "N", "Y"),
        "DTHFL": s("Y", "N", "Y", "N", "Y", "N"),
        "DTHCAUS": s("RELAPSE", pd.NA, "INFECTION", pd.NA, "GVHD", pd.NA),
        "DTHCAT": s("Relapse-related", pd.NA, "Non-relapse", pd.NA, "Non-relapse", pd.NA),
        "AGE": pd.array([20, 30, 40, 50, 61, 70], dtype="Int64"),
        "SEX": s("F", "M", "F", "F", pd.NA, "M"),
        "SUBTYPE": s("Ph-negative B-ALL", "Ph-positive B-ALL", "Ph-negative B-ALL",
                     "Ph-like B-ALL", "Ph-negative B-ALL", "Ph-negative B-ALL"),
        "DISSTAT": s("CR1", "CR2", "CR1", "CR1", "CR3+", "CR1"),
        "PHGRP": s("Ph-negative", "Ph-positive", "Ph-negative", "Ph-negative", "Ph-negative",
                   "Ph-negative"),
        "MRDPRE": [1e-3, 2e-4, 5e-2, 1e-4, 3e-3, 1e-2],
        "MRDGRP": s(">=1e-3", "<1e-3", ">=1e-3", "<1e-3", ">=1e-3", ">=1e-3"),
        "MRDMETH": s("FCM", "FCM", "QPCR", "FCM", "FCM", "FCM"),
        "DONREL": s("FATHER", "MOTHER", "SIBLING", "FATHER", "CHILD", "FATHER"),
        "HLAMATCH": s("5/10", "6/10", "5/10", "5/10", "7/10", "5/10"),
        "GRAFTSRC": s("PBSC", "BM+PBSC", "PBSC", "PBSC", "PBSC", "PBSC"),
        "CD34DOSE": [5.0, 6.5, 8.0, 4.2, 7.1, 9.9],
        "BLINDAYS": pd.array([7, 7, 14, 7, 0, 7], dtype="Int64"),
        "CONDREG": s("BLIN+TBF", "BLIN+TBF", "BLIN+TBF", "BLIN+TBF", "TBF", "BLIN+TBF"),
        "CUTDT": pd.to_datetime(["2026-06-30"] * 6),
        # alive: P2 seen 29 days before the cut, P4 211 days, P6 exactly 180 days
        "LKADT": pd.to_datetime(["2025-05-01", "2026-06-01", "2025-08-01", "2025-12-01",
                                 "2025-09-01", "2026-01-01"]),
    })


def make_adae() -> pd.DataFrame:
    s = lambda *v: pd.array(v, dtype="string")  # noqa: E731
    return pd.DataFrame({
        "USUBJID": s("P1", "P1", "P2", "P3", "P3", "P4", "P5", "P6"),
        "AEDECOD": s("Sepsis", "Sepsis", "Cytomegalovirus infection reactivation",
                     "Cytokine release syndrome", "Sepsis", "Nausea", "Sepsis", "Nausea"),
        "AEBODSYS": s("Infections and infestations", "Infections and infestations",
                      "Infections and infestations", "Immune system disorders",
                      "Infections and infestations", "Gastrointestinal disorders",
                      "Infections and infestations", "Gastrointestinal disorders"),
        "AETOXGR": pd.array([2, 4, 3, 1, 5, 1, 3, 2], dtype="Int64"),
        "AESER": s("N", "Y", "Y", "N", "Y", "N", "Y", "N"),
        "AEREL": s("N", "N", "N", "Y", "N", "Y", "N", "N"),
        "AESI": s("INFECTION", "INFECTION", "INFECTION", "CRS", "INFECTION", pd.NA,
                  "INFECTION", pd.NA),
    })


def is_category(subgroup: str) -> bool:
    """An AE category row ("SOC=...;PT=..."), not one of its columns (";AESER=Y", ...)."""
    return subgroup.rsplit(";", 1)[-1].split("=")[0] in ("AE", "SOC", "PT")


def by_subgroup(rows, statistic="count"):
    return {r.subgroup: r for r in rows if r.statistic == statistic}


def test_disposition_counts_with_enrolled_denominator():
    rows = by_subgroup(disposition_summary(make_adsl()))
    assert {k: (r.estimate, r.n) for k, r in rows.items()} == {
        "ENRLFL=Y": (6, 6), "FASFL=Y": (5, 6), "FASFL=N": (1, 6), "SAFFL=Y": (5, 6),
        "DTHFL=Y": (3, 6), "DTHFL=N": (3, 6), "LTFUFL=Y": (1, 6)}


def test_lost_to_follow_up_alive_with_last_contact_strictly_more_than_ltfu_days_before_cut():
    # SAP v2: P4 (211 days) is lost at 180; P6 (exactly 180 days) is not; the dead never are.
    lost = by_subgroup(disposition_summary(make_adsl(), ltfu_days=180))["LTFUFL=Y"]
    assert (lost.estimate, lost.n) == (1, 6)
    assert by_subgroup(disposition_summary(make_adsl(), ltfu_days=179))["LTFUFL=Y"].estimate == 2
    assert by_subgroup(disposition_summary(make_adsl(), ltfu_days=20))["LTFUFL=Y"].estimate == 3


def test_categorical_levels_sorted_with_missing_last_and_fixed_levels_keep_zeros():
    fas = make_adsl().iloc[:5]
    rows = categorical_rows(fas, "SEX", "BASELINE")
    assert [(r.subgroup, r.estimate, r.n) for r in rows] == [
        ("SEX=F", 3, 5), ("SEX=M", 1, 5), ("SEX=", 1, 5)]
    fixed = categorical_rows(fas, "DISSTAT", "BASELINE", levels=["CR1", "CR2", "CR3+", "CR4"])
    assert [r.estimate for r in fixed] == [3, 1, 1, 0]


def test_continuous_median_quartiles_range_on_fas_only():
    rows = by_subgroup(baseline_summary(make_adsl()), "median")
    assert rows["AGE"].estimate == 40 and rows["AGE"].n == 5
    stats = {r.statistic: r.estimate for r in continuous_rows(make_adsl().iloc[:5], "AGE", "X")}
    assert stats == {"median": 40, "q25": 30, "q75": 50, "min": 20, "max": 61}


def test_transplant_summary_has_every_variable():
    rows = transplant_summary(make_adsl())
    assert by_subgroup(rows)["DONREL=FATHER"].estimate == 2
    assert by_subgroup(rows, "median")["BLINDAYS"].estimate == 7
    assert by_subgroup(rows, "max")["CD34DOSE"].estimate == 8.0


def test_ae_overview_counts_each_subject_once_in_safety_set():
    rows = by_subgroup(ae_overview(make_adae(), make_adsl()))
    # P5 is not in the safety set; P6 is.
    assert {k: (r.estimate, r.n) for k, r in rows.items()} == {
        "AE=Any": (5, 5), "AETOXGR=3-5": (3, 5), "AESER=Y": (3, 5), "AEREL=Y": (2, 5),
        "AETOXGR=5": (1, 5), "SAFFL=N": (1, 1)}


def test_aes_of_enrolled_patients_outside_the_safety_set_are_left_out_and_counted():
    # SAP v2: P5 (BLINDAYS 0) had sepsis grade 3: not in any safety count, one SAFFL=N patient.
    rows = by_subgroup(ae_overview(make_adae(), make_adsl()))
    assert rows["SAFFL=N"].estimate == 1 and rows["SAFFL=N"].n == 1
    assert by_subgroup(ae_by_soc_pt(make_adae(), make_adsl()))[
        "SOC=Infections and infestations;PT=Sepsis"].estimate == 2  # P1, P3; not P5


def test_ae_by_soc_pt_sorted_by_frequency_then_name_at_worst_grade():
    rows = ae_by_soc_pt(make_adae(), make_adsl())
    names = [r.subgroup for r in rows if is_category(r.subgroup)]
    assert names == [
        "AE=Any",
        "SOC=Infections and infestations",
        "SOC=Infections and infestations;PT=Sepsis",
        "SOC=Infections and infestations;PT=Cytomegalovirus infection reactivation",
        "SOC=Gastrointestinal disorders",
        "SOC=Gastrointestinal disorders;PT=Nausea",
        "SOC=Immune system disorders",
        "SOC=Immune system disorders;PT=Cytokine release syndrome",
    ]
    counts = by_subgroup(rows)
    # P1 has sepsis twice (grades 2 and 4): once, at grade 4.
    assert counts["SOC=Infections and infestations;PT=Sepsis"].estimate == 2
    assert counts["SOC=Infections and infestations;PT=Sepsis;AETOXGR=3-5"].estimate == 2
    assert counts["SOC=Gastrointestinal disorders;AETOXGR=3-5"].estimate == 0
    assert {r.n for r in rows} == {5}  # the safety set; P5 (outside it) never counts


def test_ae_by_soc_pt_five_columns_any_severe_serious_related_fatal():
    counts = {k: r.estimate for k, r in by_subgroup(ae_by_soc_pt(make_adae(),
                                                                  make_adsl())).items()}
    sepsis = "SOC=Infections and infestations;PT=Sepsis"
    # P1: grades 2 (not serious) and 4 (serious); P3: grade 5, serious; P5 outside the set
    assert [counts[f"{sepsis}{suffix}"] for suffix in
            ("", ";AETOXGR=3-5", ";AESER=Y", ";AEREL=Y", ";AETOXGR=5")] == [2, 2, 2, 0, 1]
    nausea = "SOC=Gastrointestinal disorders;PT=Nausea"  # P4 grade 1 related, P6 grade 2
    assert [counts[f"{nausea}{suffix}"] for suffix in
            ("", ";AETOXGR=3-5", ";AESER=Y", ";AEREL=Y", ";AETOXGR=5")] == [2, 0, 0, 1, 0]
    assert [counts[f"AE=Any{suffix}"] for suffix in
            ("", ";AETOXGR=3-5", ";AESER=Y", ";AEREL=Y", ";AETOXGR=5")] == [5, 3, 3, 2, 1]


def test_ae_by_max_grade_counts_each_subject_once_at_the_worst_grade():
    rows = ae_by_max_grade(make_adae(), make_adsl())
    counts = {r.subgroup: r.estimate for r in rows}
    sepsis = "SOC=Infections and infestations;PT=Sepsis"
    assert [counts[f"{sepsis};MAXGRADE={g}"] for g in range(1, 6)] == [0, 0, 0, 1, 1]
    assert [counts[f"AE=Any;MAXGRADE={g}"] for g in range(1, 6)] == [1, 1, 1, 1, 1]
    # same category order as the SOC/PT table; each category's grades sum to its any-grade count
    categories = list(dict.fromkeys(r.subgroup.rsplit(";MAXGRADE=", 1)[0] for r in rows))
    socpt = by_subgroup(ae_by_soc_pt(make_adae(), make_adsl()))
    assert categories == [k for k in socpt if is_category(k)]
    for category in categories:
        assert sum(counts[f"{category};MAXGRADE={g}"] for g in range(1, 6)) == \
            socpt[category].estimate
    assert {r.endpoint for r in rows} == {"AESOCPTGR"} and {r.n for r in rows} == {5}


def test_aesi_with_viral_reactivation():
    rows = by_subgroup(aesi_summary(make_adae(), make_adsl()))
    assert rows["AESI=INFECTION"].estimate == 3
    assert rows["AESI=INFECTION;AESER=Y"].estimate == 3
    assert rows["AESI=INFECTION;AETOXGR=5"].estimate == 1
    assert rows["AESI=INFECTION;PT=CMV reactivation"].estimate == 1
    assert rows["AESI=INFECTION;PT=CMV reactivation;AETOXGR=3-5"].estimate == 1
    assert rows["AESI=INFECTION;PT=EBV reactivation"].estimate == 0
    assert rows["AESI=CRS;AETOXGR=3-5"].estimate == 0
    assert rows["AESI=CRS;AEREL=Y"].estimate == 1
    assert rows["AESI=ICANS"].estimate == 0


def test_deaths_and_serious_events_by_patient_and_day():
    adsl = make_adsl().assign(
        HSCTDT=pd.Timestamp("2025-01-01"),
        DTHDT=pd.to_datetime(["2025-05-01", None, "2025-02-20", None, "2025-03-01", None]))
    days = [10, 20, 30, 40, 50, 60, 45, 80]
    adae = make_adae().assign(ADY=pd.array(days, dtype="Int64"),
                              AESTDT=[pd.Timestamp("2025-01-01") + pd.Timedelta(days=d)
                                      for d in days])
    listing = deaths_and_serious_events(adsl, adae)
    assert listing[["USUBJID", "ADY", "EVENT", "TERM"]].values.tolist() == [
        ["P1", 20, "Serious AE", "Sepsis"], ["P1", 120, "Death", "RELAPSE"],
        ["P2", 30, "Serious AE", "Cytomegalovirus infection reactivation"],
        ["P3", 50, "Serious AE", "Sepsis"], ["P3", 50, "Death", "INFECTION"],
        ["P5", 45, "Serious AE", "Sepsis"], ["P5", 59, "Death", "GVHD"]]
    assert listing["SAFFL"].tolist() == ["Y", "Y", "Y", "Y", "Y", "N", "N"]
    assert listing["GRADE"].tolist()[:3] == [4, pd.NA, 3]
    assert listing["DATE"].iloc[1] == pd.Timestamp("2025-05-01")
    only_deaths = deaths_and_serious_events(adsl, None)
    assert only_deaths["EVENT"].tolist() == ["Death"] * 3


def test_deaths_split_relapse_related_and_non_relapse():
    rows = death_summary(make_adsl())
    assert [(r.subgroup, r.estimate, r.n) for r in rows] == [
        ("DTHFL=Y", 3, 5), ("DTHCAT=Relapse-related", 1, 5),
        ("DTHCAT=Relapse-related;DTHCAUS=RELAPSE", 1, 5), ("DTHCAT=Non-relapse", 2, 5),
        ("DTHCAT=Non-relapse;DTHCAUS=GVHD", 1, 5),
        ("DTHCAT=Non-relapse;DTHCAUS=INFECTION", 1, 5),
        ("DTHCAT=Death before transplant", 0, 1)]  # P6: enrolled, not transplanted, alive


def test_sap_v3_death_before_transplant():
    # SAP v3: P6 (never transplanted) died; cause relapse. Not a FAS death, never
    # "non-relapse" or "relapse-related": its own row, over the enrolled outside the FAS.
    adsl = make_adsl()
    adsl.loc[5, ["DTHFL", "DTHCAUS", "DTHCAT"]] = ["Y", "RELAPSE", "Death before transplant"]
    rows = [(r.subgroup, r.estimate, r.n) for r in death_summary(adsl)]
    assert rows[0] == ("DTHFL=Y", 3, 5)
    assert ("DTHCAT=Non-relapse", 2, 5) in rows
    assert rows[-2:] == [("DTHCAT=Death before transplant", 1, 1),
                         ("DTHCAT=Death before transplant;DTHCAUS=RELAPSE", 1, 1)]
    # every enrolled patient transplanted: no such row
    everyone = make_adsl().assign(FASFL="Y")
    assert not any("before transplant" in r.subgroup for r in death_summary(everyone))


def test_gvhd_maximum_grade_and_organs():
    adgvhd = pd.DataFrame({
        "USUBJID": pd.array(["P1", "P1", "P2", "P3", "P6"], dtype="string"),
        "GVHDTYPE": pd.array(["ACUTE", "ACUTE", "ACUTE", "CHRONIC", "ACUTE"], dtype="string"),
        "GRADE": pd.array(["II", "III", "I", "MODERATE", "IV"], dtype="string"),
        "ORGANS": pd.array(["SKIN", "SKIN;GUT", "skin", "LUNG", "GUT"], dtype="string"),
    })
    rows = gvhd_summary(adgvhd, make_adsl())
    acute = {r.subgroup: r.estimate for r in rows if r.endpoint == "AGVHDMAX"}
    # P6 is not in the FAS.
    assert acute == {"MAXGRADE=None": 3, "MAXGRADE=I": 1, "MAXGRADE=II": 0,
                     "MAXGRADE=III": 1, "MAXGRADE=IV": 0, "ORGAN=SKIN": 2, "ORGAN=GUT": 1}
    chronic = {r.subgroup: r.estimate for r in rows if r.endpoint == "CGVHDMAX"}
    assert chronic["MAXGRADE=MODERATE"] == 1 and chronic["MAXGRADE=None"] == 4
    assert all(r.n == 5 for r in rows)


def test_missing_column_is_a_clear_error():
    with pytest.raises(ValueError, match="ADSL lacks column"):
        disposition_summary(make_adsl().drop(columns="SAFFL"))
    bad = pd.DataFrame({"USUBJID": ["P1"], "GVHDTYPE": ["ACUTE"], "GRADE": ["V"]})
    with pytest.raises(ValueError, match="unknown GRADE value"):
        gvhd_summary(bad, make_adsl())


def test_patient_timeline_for_the_swimmer_plot():
    from haplo_report.analysis.summaries import patient_timeline
    adsl = make_adsl().iloc[:2].assign(
        HSCTDT=pd.to_datetime(["2025-01-01", "2025-02-01"]),
        EOSDT=pd.to_datetime(["2025-06-01", "2025-12-01"]),
        RELFL=pd.array(["Y", "N"], dtype="string"),
        RELDT=pd.to_datetime(["2025-05-01", None]))
    admrd = pd.DataFrame({"USUBJID": ["P1", "P1", "P2", "P6"], "ADY": [30, 90, 31, 30],
                          "RESULT": [0.0, 2e-4, 1e-4, 0.0]})
    adgvhd = pd.DataFrame({"USUBJID": ["P2", "P2"], "ADY": [40, 20],
                           "GVHDTYPE": ["ACUTE", "ACUTE"]})
    timeline = patient_timeline(adsl, admrd, adgvhd, mrd_threshold=1e-4)
    assert list(timeline.itertuples(index=False, name=None)) == [
        ("P1", 30.0, "MRD-negative"), ("P1", 90.0, "MRD-positive"), ("P1", 120.0, "Relapse"),
        ("P1", 151.0, "Death"), ("P2", 20.0, "Acute GVHD"), ("P2", 31.0, "MRD-positive"),
        ("P2", 303.0, "Last follow-up")]

"""Patient narratives (ICH E3 14.3.3): hand-built patients for each kind of event and each
ordering rule, checked word for word, and a property test on generated patients: every study
day a narrative quotes is a day of one of the patient's records, and every serious adverse
event of the patient is in it."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd
from docx import Document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from haplo_report.analysis.derive import Derived, derive_cut
from haplo_report.analysis.narratives import (REASON_AESI, REASON_DEATH, REASON_SERIOUS,
                                              build_narratives, narrative_reasons,
                                              quoted_days, write_narratives_json)
from haplo_report.data.cut import Cut
from haplo_report.outputs.narratives import (file_name, narratives_markdown,
                                             write_narrative_files)
from haplo_report.params import Params
from test_derive import TYPES  # the cut's typed event tables, as test_derive builds them

CUT = dt.date(2026, 6, 30)
HSCT = pd.Timestamp("2025-01-01")
SUBJECT_TYPES = {
    "USUBJID": "string", "SITEID": "string", "AGE": "Int64", "SEX": "string",
    "SUBTYPE": "string", "DISSTAT": "string", "MRDPRE": "float64", "MRDMETH": "string",
    "DONREL": "string", "HLAMATCH": "string", "GRAFTSRC": "string", "CD34DOSE": "float64",
    "BLINDAYS": "Int64", "CONDREG": "string", "RFICDT": "datetime64[ns]",
    "HSCTDT": "datetime64[ns]", "LSTALVDT": "datetime64[ns]"}
REGIMEN = "Blinatumomab + BU/CY/FLU/ATG"
# Two patients without events: with them three patients share the subtype and regimen, which
# the privacy rule (fewer than 3 patients: "Other") then shows as recorded.
FILLERS = ("P-90", "P-91")


def day(n: int | None) -> pd.Timestamp | None:
    return None if n is None else HSCT + pd.Timedelta(days=n)


def subject(usubjid: str, *, transplanted: bool = True, last_alive: int = 500,
            blindays: int = 10, age: int = 45, sex: str = "F") -> dict:
    return dict(USUBJID=usubjid, SITEID="S01", AGE=age, SEX=sex, SUBTYPE="Ph-like B-ALL",
                DISSTAT="CR1", MRDPRE=0.0021, MRDMETH="FCM", DONREL="mother",
                HLAMATCH="5/10", GRAFTSRC="PBSC", CD34DOSE=6.5, BLINDAYS=blindays,
                CONDREG=REGIMEN, RFICDT=day(-30),
                HSCTDT=day(0) if transplanted else None, LSTALVDT=day(last_alive))


def ae(usubjid: str, on: int, term: str, grade: int, serious: str = "Y", related: str = "N",
       aesi: str | None = None) -> dict:
    return dict(USUBJID=usubjid, AETERM=term, AEDECOD=term, AEBODSYS="SOC", AETOXGR=grade,
                AESER=serious, AEREL=related, AESI=aesi, AESTDT=day(on))


def frame(rows: list[dict], types: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(types)).astype(types)


def derive(subjects: list[dict], *, relapses=(), deaths=(), gvhd=(), mrd=(),
           engraftment=(), adverse_events=(), supplied_engraftment: bool = True) -> Derived:
    subjects = subjects + [subject(u) for u in FILLERS]
    cut = Cut(
        subjects=frame(subjects, SUBJECT_TYPES),
        relapses=frame([dict(USUBJID=u, RELDT=day(d), RELSITE="BM") for u, d in relapses],
                       TYPES["relapses"]),
        deaths=frame([dict(USUBJID=u, DTHDT=day(d), DTHCAUS=c) for u, d, c in deaths],
                     TYPES["deaths"]),
        gvhd=frame([dict(USUBJID=u, GVHDTYPE=t, ONSETDT=day(d), GRADE=g, ORGANS=o, SYSTX=s)
                    for u, t, d, g, o, s in gvhd], TYPES["gvhd"]),
        mrd=frame([dict(USUBJID=u, MRDDT=day(d), METHOD="FCM", RESULT=r) for u, d, r in mrd],
                  TYPES["mrd"]),
        engraftment=(frame([dict(USUBJID=u, ANCDT=day(a), PLTDT=day(p))
                            for u, a, p in engraftment], TYPES["engraftment"])
                     if supplied_engraftment else None),
        adverse_events=frame(list(adverse_events), TYPES["adverse_events"]),
    )
    params = Params(study_id="T", study_title="t", data_dir=Path("."), data_cut_date=CUT)
    return derive_cut(cut, params)


def narratives(derived: Derived) -> dict:
    built = build_narratives(derived.adsl, derived.adae, derived.admrd, derived.adgvhd,
                             derived.adtte, mrd_threshold=1e-4, mrd_window_days=14,
                             mrd_window_days_365=30)
    return {n.usubjid: n for n in built}


def course(narrative) -> str:
    return " ".join(s.text for s in narrative.sentences if s.part == "course")


def test_a_whole_narrative_word_for_word():
    derived = derive([subject("P-01", last_alive=400, sex="M", age=52)],
                     engraftment=[("P-01", 15, 22)], mrd=[("P-01", 28, 0.0), ("P-01", 95, 3e-4)],
                     adverse_events=[ae("P-01", 40, "Sepsis", 3, aesi="INFECTION"),
                                     ae("P-01", 12, "Nausea", 1, serious="N")])
    narrative = narratives(derived)["P-01"]
    assert narrative.reasons == (REASON_SERIOUS, REASON_AESI)
    assert narrative.text == (
        "P-01 is a 52-year-old male patient with Ph-like B-ALL (Ph-negative), in first "
        "complete remission (CR1) at transplant, and pre-transplant MRD of 2.1×10⁻³ by flow "
        "cytometry. On Day 0 the patient received a haploidentical transplant of peripheral "
        "blood stem cells (PBSC) from the patient's mother (HLA match 5/10; CD34+ dose "
        "6.5×10⁶ cells/kg), after conditioning with Blinatumomab + BU/CY/FLU/ATG including "
        "10 days of blinatumomab.\n\n"
        "On Day 15, neutrophils recovered (ANC ≥0.5×10⁹/L). On Day 22, platelets recovered "
        "(≥20×10⁹/L). On Day 28, MRD was negative (undetectable, flow cytometry) at the "
        "assessment counted for the 30-day landmark. On Day 40, the patient had Sepsis "
        "(grade 3, serious, adverse event of special interest: infection, not related to "
        "blinatumomab). On Day 95, MRD was positive (3.0×10⁻⁴, flow cytometry) at the "
        "assessment counted for the 90-day landmark. No MRD assessment was recorded in the "
        "window of the 180-day landmark (±14 days). No MRD assessment was recorded in the "
        "window of the 365-day landmark (±30 days).\n\n"
        "At the data cut the patient was alive, last contact on Day 400.")


def test_same_day_events_follow_the_sap_order_and_say_the_same_day():
    derived = derive([subject("P-02")], engraftment=[("P-02", 14, 14)],
                     adverse_events=[ae("P-02", 14, "Stomatitis", 3),
                                     ae("P-02", 14, "Febrile neutropenia", 4, related="Y")],
                     gvhd=[("P-02", "ACUTE", 14, "II", "SKIN;GUT", "Y")],
                     mrd=[("P-02", 30, 0.0)])
    assert course(narratives(derived)["P-02"]).startswith(
        "On Day 14, neutrophils recovered (ANC ≥0.5×10⁹/L). On the same day, platelets "
        "recovered (≥20×10⁹/L). On the same day, acute GVHD of grade II (MAGIC) began, "
        "involving skin and gut, needing systemic therapy. On the same day, the patient had "
        "Febrile neutropenia (grade 4, serious, related to blinatumomab). On the same day, the "
        "patient had Stomatitis (grade 3, serious, not related to blinatumomab). On Day 30, "
        "MRD was negative")


def test_relapse_then_death_on_one_day_is_a_relapse_related_death():
    derived = derive([subject("P-03")], engraftment=[("P-03", 15, 20)],
                     relapses=[("P-03", 200)], deaths=[("P-03", 200, "INFECTION")])
    narrative = narratives(derived)["P-03"]
    assert narrative.reasons == (REASON_DEATH,)
    text = course(narrative)
    assert text.endswith(
        "On Day 200, the leukemia relapsed (first relapse). On the same day, the patient "
        "died (recorded cause: infection; SAP category: relapse-related death).")
    assert narrative.sentences[-1].text == "At the data cut the patient had died (Day 200)."


def test_relapse_then_later_death_and_gvhd_after_relapse():
    derived = derive([subject("P-04")], engraftment=[("P-04", 15, 20)],
                     relapses=[("P-04", 150)], deaths=[("P-04", 300, "RELAPSE")],
                     gvhd=[("P-04", "CHRONIC", 180, "MODERATE", None, "N")])
    text = course(narratives(derived)["P-04"])
    assert text.endswith(
        "On Day 150, the leukemia relapsed (first relapse). On Day 180, moderate chronic GVHD "
        "(NIH 2014) began, without systemic therapy. On Day 300, the patient died (recorded "
        "cause: relapse; SAP category: relapse-related death).")


def test_a_death_without_relapse_is_non_relapse_and_missing_recovery_is_said():
    derived = derive([subject("P-05")], engraftment=[("P-05", 16, None)],
                     deaths=[("P-05", 25, "TMA")],
                     adverse_events=[ae("P-05", 25, "Thrombotic microangiopathy", 5)])
    assert course(narratives(derived)["P-05"]) == (
        "On Day 16, neutrophils recovered (ANC ≥0.5×10⁹/L). No platelet recovery was recorded "
        "before death. On Day 25, the patient had Thrombotic microangiopathy (grade 5, "
        "serious, not related to blinatumomab, fatal). On the same day, the patient died "
        "(recorded cause: thrombotic microangiopathy (TMA); SAP category: non-relapse death).")


def test_a_landmark_without_assessment_is_told_at_the_landmark_before_a_death_in_its_window():
    derived = derive([subject("P-16")], engraftment=[("P-16", 15, 20)],
                     mrd=[("P-16", 30, 0.0), ("P-16", 90, 0.0)], deaths=[("P-16", 185, "VOD")])
    assert course(narratives(derived)["P-16"]).endswith(
        "at the assessment counted for the 90-day landmark. No MRD assessment was recorded in "
        "the window of the 180-day landmark (±14 days). On Day 185, the patient died (recorded "
        "cause: veno-occlusive disease (VOD); SAP category: non-relapse death).")


def test_a_patient_never_transplanted_counts_days_from_consent():
    derived = derive([subject("P-06", transplanted=False, blindays=0, last_alive=20)],
                     deaths=[("P-06", 25, "RELAPSE")])  # day 25 after the fixture's HSCT
    narrative = narratives(derived)["P-06"]
    assert narrative.text == (
        "P-06 is a 45-year-old female patient with Ph-like B-ALL (Ph-negative), in first "
        "complete remission (CR1), and pre-transplant MRD of 2.1×10⁻³ by flow cytometry. The "
        "patient was not transplanted by the data cut; the recorded conditioning is "
        "Blinatumomab + BU/CY/FLU/ATG with 0 days of blinatumomab.\n\n"
        "55 days after informed consent, the patient died (recorded cause: relapse; SAP "
        "category: death before transplant).\n\n"
        "At the data cut the patient had died, 55 days after informed consent, without having "
        "been transplanted.")
    assert quoted_days(narrative.text) == []
    death = narrative.sentences[2].sources[0]  # days counted from the consent record
    assert (death.dataset, death.variables[0]) == ("ADSL", "RFICDT")


def test_a_grade_3_icans_without_a_serious_event_needs_a_narrative_grade_2_does_not():
    derived = derive([subject("P-07"), subject("P-08")],
                     engraftment=[("P-07", 15, 20), ("P-08", 15, 20)],
                     adverse_events=[ae("P-07", 3, "Immune effector cell-associated "
                                         "neurotoxicity syndrome", 3, serious="N",
                                         related="Y", aesi="ICANS"),
                                     ae("P-08", 3, "Immune effector cell-associated "
                                         "neurotoxicity syndrome", 2, serious="N",
                                         related="Y", aesi="ICANS")])
    found = narratives(derived)
    assert "P-08" not in found and not set(FILLERS) & set(found)
    assert found["P-07"].reasons == (REASON_AESI,)
    assert course(found["P-07"]).startswith(
        "On Day 3, the patient had Immune effector cell-associated neurotoxicity syndrome "
        "(grade 3, not serious, adverse event of special interest: ICANS, related to "
        "blinatumomab). On Day 15, neutrophils recovered")


def test_rare_free_text_is_not_named():
    rare = dict(subject("P-09"), SUBTYPE="Mixed phenotype (site note)", CONDREG="TBI only")
    derived = derive([rare], deaths=[("P-09", 40, "OTHER")], engraftment=[("P-09", 15, 20)])
    text = narratives(derived)["P-09"].text
    assert "site note" not in text and "TBI only" not in text
    assert ("patient with acute lymphoblastic leukemia (a subtype held by fewer than 3 "
            "patients, not named; Ph-negative)") in text
    assert "after conditioning with a regimen held by fewer than 3 patients (not named)" in text


def test_sources_json_files_and_report_section(tmp_path):
    derived = derive([subject("P-10"), subject("P/11")],
                     engraftment=[("P-10", 15, 20), ("P/11", 15, 20)],
                     adverse_events=[ae("P-10", 40, "Sepsis", 3, aesi="INFECTION")],
                     deaths=[("P/11", 60, "GVHD")])
    built = list(narratives(derived).values())
    assert [n.usubjid for n in built] == ["P-10", "P/11"]
    sepsis = next(s for s in built[0].sentences if "Sepsis" in s.text)
    adae_row = int(derived.adae.index[derived.adae["AEDECOD"] == "Sepsis"][0]) + 1
    assert [s.to_json() for s in sepsis.sources] == [{
        "dataset": "ADAE", "row": adae_row,
        "key": {"USUBJID": "P-10", "ADY": 40, "AEDECOD": "Sepsis", "AETOXGR": 3},
        "variables": ["AEDECOD", "AETOXGR", "AESER", "AEREL", "AESI"]}]
    path = write_narratives_json(built, tmp_path / "narratives.json", study_id="T",
                                 data_cut="2026-06-30")
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert [n["usubjid"] for n in stored["narratives"]] == ["P-10", "P/11"]
    assert stored["narratives"][1]["text"] == built[1].text
    assert all(s["sources"] for n in stored["narratives"] for s in n["sentences"])

    needed = narrative_reasons(derived.adsl, derived.adae)
    files = write_narrative_files(built, needed, tmp_path, study_id="T", data_cut="2026-06-30")
    assert files == {"P-10": "P-10.docx", "P/11": "P_11.docx"} and file_name("../x") == "_x.docx"
    document = Document(str(tmp_path / "P_11.docx"))
    paragraphs = [p.text for p in document.paragraphs]
    assert paragraphs[0] == "Narrative P/11 (data cut 2026-06-30)"
    assert built[1].paragraphs[1] in paragraphs
    cells = [c.text for c in document.tables[0].columns[1].cells]
    assert any(c.startswith("ADSL row ") and "DTHCAUS" in c for c in cells)
    again = write_narrative_files(built, needed, tmp_path / "again", study_id="T",
                                  data_cut="2026-06-30")
    assert again == files
    assert (tmp_path / "again" / "P_11.docx").read_bytes() == (tmp_path / "P_11.docx").read_bytes()

    shown = narratives_markdown(built, needed, len(derived.adsl), files)
    assert shown.startswith("2 of 4 enrolled patients have a narrative (patients by reason, a "
                            "patient counted under each of theirs: death: 1; serious adverse "
                            "event: 1; adverse event of special interest of grade ≥3: 1).")
    assert "## P/11" in shown and built[0].paragraphs[1] in shown.replace("\\", "")
    listed = narratives_markdown(built, needed, len(derived.adsl), files, max_patients=1)
    assert "## P-10" not in listed and "| P/11 | death | narratives/P_11.docx |" in listed
    assert (tmp_path / "narratives.csv").read_text(encoding="utf-8-sig").splitlines() == [
        "Patient,Reasons,Word file",
        "P-10,serious adverse event; adverse event of special interest of grade ≥3,"
        "narratives/P-10.docx", "P/11,death,narratives/P_11.docx"]


def test_above_the_drafting_limit_only_the_list_is_written(tmp_path, monkeypatch):
    derived = derive([subject("P-14"), subject("P-15")],
                     deaths=[("P-14", 50, "OTHER"), ("P-15", 60, "GVHD")])
    monkeypatch.setattr("haplo_report.outputs.narratives.MAX_NARRATIVES", 1)
    needed = narrative_reasons(derived.adsl, derived.adae)
    built = build_narratives(derived.adsl, derived.adae, derived.admrd, derived.adgvhd,
                             derived.adtte, mrd_threshold=1e-4, mrd_window_days=14,
                             mrd_window_days_365=30, limit=1)
    assert built == [] and list(needed) == ["P-14", "P-15"]
    assert write_narrative_files(built, needed, tmp_path, study_id="T",
                                 data_cut="2026-06-30") == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["narratives.csv"]
    assert narratives_markdown(built, needed, 4, {}).startswith(
        "2 of 4 enrolled patients qualify for a narrative")
    assert narratives_markdown(built, needed, 4, {}).endswith(
        "Narratives are drafted for at most 1 patients: none is drafted here; "
        "narratives/narratives.csv in the run folder lists the 2 patients with their "
        "reasons.\n")


def test_reasons_are_in_patient_order():
    derived = derive([subject("P-13"), subject("P-12")], deaths=[("P-13", 50, "OTHER")],
                     adverse_events=[ae("P-12", 5, "Sepsis", 2, serious="Y")])
    assert narrative_reasons(derived.adsl, derived.adae) == {
        "P-12": (REASON_SERIOUS,), "P-13": (REASON_DEATH,)}


# --- property: quoted days are record days, every serious event is named ---------------

def _record_days(derived: Derived, usubjid: str) -> set[int]:
    """Every study day one of the patient's records holds (ADSL dates, ADY, ADTTE AVAL)."""
    adsl = derived.adsl[derived.adsl["USUBJID"] == usubjid].iloc[0]
    if pd.isna(adsl["HSCTDT"]):
        return set()
    days = {(adsl[c] - adsl["HSCTDT"]).days for c in ("HSCTDT", "LKADT", "DTHDT", "RELDT")
            if not pd.isna(adsl[c])}
    for name in ("adae", "admrd", "adgvhd"):
        data = getattr(derived, name)
        days |= {int(d) for d in data.loc[data["USUBJID"] == usubjid, "ADY"].dropna()}
    days |= {int(d) for d in derived.adtte.loc[derived.adtte["USUBJID"] == usubjid, "AVAL"]}
    return days


@st.composite
def patients(draw):
    """A few patients with random events; dates in days from a common transplant day."""
    count = draw(st.integers(1, 4))
    subjects, events = [], {k: [] for k in ("relapses", "deaths", "gvhd", "mrd", "engraftment",
                                            "adverse_events")}
    terms = st.sampled_from(["Sepsis", "Pneumonia", "Stomatitis", "Cytokine release syndrome"])
    for i in range(count):
        usubjid = f"Q-{i:02d}"
        transplanted = draw(st.booleans()) or i == 0
        death = draw(st.none() | st.integers(1, 500))
        last = draw(st.integers(1, 500)) if death is None else death
        subjects.append(subject(usubjid, transplanted=transplanted, last_alive=last))
        if death is not None:
            events["deaths"].append((usubjid, death, draw(st.sampled_from(
                ["RELAPSE", "INFECTION", "GVHD", "UNKNOWN"]))))
        for _ in range(draw(st.integers(0, 4))):
            events["adverse_events"].append(ae(
                usubjid, draw(st.integers(-20 if transplanted else -29, last)), draw(terms),
                draw(st.integers(1, 5)), serious=draw(st.sampled_from("YN")),
                aesi=draw(st.sampled_from([None, "CRS", "ICANS", "INFECTION"]))))
        if not transplanted:
            continue
        if draw(st.booleans()):
            events["relapses"].append((usubjid, draw(st.integers(1, last))))
        for _ in range(draw(st.integers(0, 2))):
            events["gvhd"].append((usubjid, draw(st.sampled_from(["ACUTE", "CHRONIC"])),
                                   draw(st.integers(1, last)), "II" if draw(st.booleans())
                                   else None, draw(st.sampled_from([None, "SKIN", "GUT;LIVER"])),
                                   "Y"))
        for _ in range(draw(st.integers(0, 4))):
            events["mrd"].append((usubjid, draw(st.integers(1, last)),
                                  draw(st.sampled_from([0.0, 5e-5, 2e-3]))))
        if draw(st.booleans()):
            events["engraftment"].append((usubjid, draw(st.none() | st.integers(1, last)),
                                          draw(st.none() | st.integers(1, last))))
    gvhd = [(u, t, d, g if t == "ACUTE" and g else "MILD" if t == "CHRONIC" else "I", o, s)
            for u, t, d, g, o, s in events.pop("gvhd")]
    return subjects, events, gvhd


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patients())
def test_every_quoted_day_is_a_record_day_and_every_serious_event_is_named(drawn):
    subjects, events, gvhd = drawn
    derived = derive(subjects, gvhd=gvhd, **events)
    found = narratives(derived)
    serious = derived.adae[derived.adae["AESER"] == "Y"]
    assert set(serious["USUBJID"]) <= set(found)
    assert set(derived.adsl.loc[derived.adsl["DTHFL"] == "Y", "USUBJID"]) <= set(found)
    for usubjid, narrative in found.items():
        assert not re.search(r"\d{4}-\d{2}-\d{2}", narrative.text)
        assert set(quoted_days(narrative.text)) <= _record_days(derived, usubjid)
        for event in serious[serious["USUBJID"] == usubjid].to_dict("records"):
            named = [s.text for s in narrative.sentences if event["AEDECOD"] in s.text
                     and f"grade {event['AETOXGR']}, serious" in s.text]
            assert named, (usubjid, event["AEDECOD"])

"""derive: data-cut rule, analysis sets, censoring and competing-event rules on hand-built patients."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from haplo_report.data.cut import Cut
from haplo_report.analysis.derive import (DATASETS, DerivedDataError, cutoff_label, derive_cut,
                                 load_derived, of_subjects)
from haplo_report.params import Params

CUT = dt.date(2025, 12, 31)
HSCT = "2025-01-01"

SUBJECT_TYPES = {"USUBJID": "string", "SITEID": "string", "AGE": "Int64", "SEX": "string",
                 "SUBTYPE": "string", "DISSTAT": "string", "MRDPRE": "float64",
                 "BLINDAYS": "Int64", "RFICDT": "datetime64[ns]", "HSCTDT": "datetime64[ns]",
                 "LSTALVDT": "datetime64[ns]"}
TYPES = {
    "relapses": {"USUBJID": "string", "RELDT": "datetime64[ns]", "RELSITE": "string"},
    "deaths": {"USUBJID": "string", "DTHDT": "datetime64[ns]", "DTHCAUS": "string"},
    "gvhd": {"USUBJID": "string", "GVHDTYPE": "string", "ONSETDT": "datetime64[ns]",
             "GRADE": "string", "ORGANS": "string", "SYSTX": "string"},
    "mrd": {"USUBJID": "string", "MRDDT": "datetime64[ns]", "METHOD": "string",
            "RESULT": "float64"},
    "engraftment": {"USUBJID": "string", "ANCDT": "datetime64[ns]",
                    "PLTDT": "datetime64[ns]"},
    "adverse_events": {"USUBJID": "string", "AETERM": "string", "AEDECOD": "string",
                       "AEBODSYS": "string", "AETOXGR": "Int64", "AESER": "string",
                       "AEREL": "string", "AESI": "string", "AESTDT": "datetime64[ns]"},
}


def _frame(rows: list[dict], types: dict[str, str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(types))
    return frame.astype({c: t for c, t in types.items()})


def subject(usubjid: str, *, hsct: str | None = HSCT, lstalv: str = "2026-06-30",
            blindays: int = 7, mrdpre: float = 0.002, disstat: str = "CR1",
            subtype: str = "Ph-negative B-ALL", rfic: str = "2024-12-01") -> dict:
    return dict(USUBJID=usubjid, SITEID="S01", AGE=40, SEX="F", SUBTYPE=subtype,
                DISSTAT=disstat, MRDPRE=mrdpre, BLINDAYS=blindays, RFICDT=rfic,
                HSCTDT=hsct, LSTALVDT=lstalv)


def make_cut(subjects: list[dict], *, relapses=(), deaths=(), gvhd=(), mrd=(),
             engraftment: list[dict] | None = None, adverse_events=()) -> Cut:
    subjects_frame = _frame(subjects, SUBJECT_TYPES)
    return Cut(
        subjects=subjects_frame,
        relapses=_frame([dict(USUBJID=u, RELDT=d, RELSITE="BM") for u, d in relapses],
                        TYPES["relapses"]),
        deaths=_frame([dict(USUBJID=u, DTHDT=d, DTHCAUS=c) for u, d, c in deaths],
                      TYPES["deaths"]),
        gvhd=_frame([dict(USUBJID=u, GVHDTYPE=t, ONSETDT=d, GRADE=g, ORGANS="SKIN", SYSTX=s)
                     for u, t, d, g, s in gvhd], TYPES["gvhd"]),
        mrd=_frame([dict(USUBJID=u, MRDDT=d, METHOD="FCM", RESULT=r) for u, d, r in mrd],
                   TYPES["mrd"]),
        engraftment=(None if engraftment is None
                     else _frame(engraftment, TYPES["engraftment"])),
        adverse_events=_frame([dict(USUBJID=u, AETERM="x", AEDECOD="Nausea",
                                    AEBODSYS="GI", AETOXGR=g, AESER="N", AEREL="N", AESI=None,
                                    AESTDT=d) for u, d, g in adverse_events],
                              TYPES["adverse_events"]),
    )


def params(**changes) -> Params:
    values = dict(study_id="T", study_title="t", data_dir=Path("."), data_cut_date=CUT)
    return Params(**(values | changes))


def tte(derived, usubjid: str, paramcd: str) -> tuple[int, int, int, str]:
    """(AVAL, CNSR, EVNTTYPE, EVNTDESC) of one patient's parameter."""
    rows = derived.adtte[(derived.adtte["USUBJID"] == usubjid)
                         & (derived.adtte["PARAMCD"] == paramcd)]
    assert len(rows) == 1, (usubjid, paramcd, rows)
    row = rows.iloc[0]
    return int(row["AVAL"]), int(row["CNSR"]), int(row["EVNTTYPE"]), str(row["EVNTDESC"])


def adsl_row(derived, usubjid: str) -> pd.Series:
    return derived.adsl.set_index("USUBJID").loc[usubjid]


def test_event_the_day_after_the_cut_is_ignored():
    cut = make_cut([subject("A", lstalv="2026-02-01")], relapses=[("A", "2026-01-01")],
                   deaths=[("A", "2026-02-01", "RELAPSE")])
    derived = derive_cut(cut, params())
    assert tte(derived, "A", "PFS") == (364, 2, 0, "FOLLOW-UP CUT AT DATA CUT DATE")
    assert tte(derived, "A", "OS") == (364, 2, 0, "FOLLOW-UP CUT AT DATA CUT DATE")
    row = adsl_row(derived, "A")
    assert (row["RELFL"], row["DTHFL"]) == ("N", "N")
    assert pd.isna(row["RELDT"]) and pd.isna(row["DTHCAT"])
    assert row["EOSDT"] == pd.Timestamp(CUT) and row["FUPDAYS"] == 364
    # The same raw data with a later cut counts both events.
    later = derive_cut(cut, params(data_cut_date=dt.date(2026, 3, 1)))
    assert tte(later, "A", "PFS") == (365, 0, 1, "RELAPSE")
    assert tte(later, "A", "OS") == (396, 0, 1, "DEATH")


def test_follow_up_ends_at_last_contact_or_the_cut():
    cut = make_cut([subject("EARLY", lstalv="2025-07-20"), subject("LATE", lstalv="2026-05-01"),
                    subject("ATCUT", lstalv="2025-12-31")])
    derived = derive_cut(cut, params())
    assert tte(derived, "EARLY", "OS") == (200, 1, 0, "ALIVE WITHOUT EVENT AT LAST CONTACT")
    assert tte(derived, "LATE", "OS") == (364, 2, 0, "FOLLOW-UP CUT AT DATA CUT DATE")
    # Last contact on the cut date itself: follow-up was not truncated, CNSR 1.
    assert tte(derived, "ATCUT", "OS") == (364, 1, 0, "ALIVE WITHOUT EVENT AT LAST CONTACT")
    adtte = derived.adtte.set_index(["USUBJID", "PARAMCD"])
    assert adtte.loc[("EARLY", "OS"), "CNSDTDSC"] == "LAST KNOWN ALIVE DATE"
    assert adtte.loc[("LATE", "OS"), "CNSDTDSC"] == "DATA CUT DATE"
    assert adtte.loc[("LATE", "OS"), "ADT"] == pd.Timestamp(CUT)


def test_transplant_after_the_cut_is_enrolled_not_fas():
    cut = make_cut([subject("IN"), subject("AFTER", hsct="2026-01-15"),
                    subject("NEVER", hsct=None, blindays=0)])
    derived = derive_cut(cut, params())
    flags = derived.adsl.set_index("USUBJID")[["ENRLFL", "FASFL", "SAFFL"]]
    assert flags.loc["IN"].tolist() == ["Y", "Y", "Y"]
    assert flags.loc["AFTER"].tolist() == ["Y", "N", "Y"]
    assert flags.loc["NEVER"].tolist() == ["Y", "N", "N"]
    assert pd.isna(adsl_row(derived, "AFTER")["FUPDAYS"])
    assert set(derived.adtte["USUBJID"]) == {"IN"}
    assert len(derived.adtte) == 9  # 9 parameters; ANC and PLT absent without engraftment


def test_informed_consent_after_the_cut_is_not_enrolled():
    # SAP v2: consent after the cut: in no dataset of that cut (not even the enrolled count);
    # the safety set is within the enrolled patients.
    cut = make_cut([subject("IN"), subject("LATE", rfic="2026-01-02", hsct="2026-01-10",
                                           lstalv="2026-03-01")],
                   adverse_events=[("IN", "2025-02-01", 2), ("LATE", "2026-01-05", 3)],
                   mrd=[("LATE", "2026-02-01", 0.0)])
    derived = derive_cut(cut, params())
    assert derived.adsl["USUBJID"].tolist() == ["IN"]
    assert derived.adsl["SAFFL"].tolist() == ["Y"]
    assert set(derived.adtte["USUBJID"]) == {"IN"}
    assert derived.adae["USUBJID"].tolist() == ["IN"] and derived.admrd.empty
    later = derive_cut(cut, params(data_cut_date=dt.date(2026, 3, 1)))
    assert later.adsl["USUBJID"].tolist() == ["IN", "LATE"]
    consent_on_cut = make_cut([subject("ON", rfic="2025-12-31", hsct=None)])
    assert derive_cut(consent_on_cut, params()).adsl["ENRLFL"].tolist() == ["Y"]


def test_safety_set_is_within_the_enrolled_patients():
    # SAP v2: blinatumomab given but consent after the cut: not in that cut's safety set.
    cut = make_cut([subject("IN", blindays=7), subject("OUT", blindays=0),
                    subject("LATE", blindays=7, rfic="2026-01-02", hsct=None)])
    derived = derive_cut(cut, params())
    assert derived.adsl.set_index("USUBJID")["SAFFL"].to_dict() == {"IN": "Y", "OUT": "N"}


def test_last_known_alive_is_the_latest_dated_record_before_death_and_on_or_before_the_cut():
    # SAP v2: LSTALVDT 2025-03-01, but an AE on 2025-06-01 and an MRD on 2025-08-01 (both
    # before the cut) show the patient alive later; a record after the cut does not count.
    cut = make_cut([subject("A", lstalv="2025-03-01"), subject("B", lstalv="2025-03-01"),
                    subject("D", lstalv="2025-03-01")],
                   mrd=[("A", "2025-08-01", 0.0), ("A", "2026-02-01", 0.0)],
                   adverse_events=[("A", "2025-06-01", 1), ("D", "2025-05-01", 2)],
                   gvhd=[("B", "CHRONIC", "2025-05-10", "MILD", "N")],
                   relapses=[("B", "2025-04-01")],
                   engraftment=[dict(USUBJID="B", ANCDT="2025-01-20", PLTDT="2025-05-20")],
                   deaths=[("D", "2025-05-01", "OTHER")])
    derived = derive_cut(cut, params())
    lka = derived.adsl.set_index("USUBJID")["LKADT"]
    assert lka["A"] == pd.Timestamp("2025-08-01")
    assert lka["B"] == pd.Timestamp("2025-05-20")  # platelet recovery, the latest record
    assert tte(derived, "A", "OS") == (212, 1, 0, "ALIVE WITHOUT EVENT AT LAST CONTACT")
    assert tte(derived, "B", "OS") == (139, 1, 0, "ALIVE WITHOUT EVENT AT LAST CONTACT")
    assert tte(derived, "B", "CIR") == (90, 0, 1, "RELAPSE")
    # D's AE on the day of death is not "alive"; D ends at death.
    assert lka["D"] == pd.Timestamp("2025-03-01")
    assert tte(derived, "D", "OS") == (120, 0, 1, "DEATH")


def test_relapse_related_death_is_death_on_or_after_first_relapse_whatever_the_cause():
    # SAP v2: cause RELAPSE without a relapse is a non-relapse death (the NRM event); a death
    # after relapse with another cause is relapse-related.
    cut = make_cut([subject("NOREL"), subject("REL")], relapses=[("REL", "2025-03-01")],
                   deaths=[("NOREL", "2025-04-01", "RELAPSE"), ("REL", "2025-05-01", "GVHD")])
    derived = derive_cut(cut, params())
    category = derived.adsl.set_index("USUBJID")["DTHCAT"]
    assert category.to_dict() == {"NOREL": "Non-relapse", "REL": "Relapse-related"}
    assert tte(derived, "NOREL", "NRM") == (90, 0, 1, "DEATH WITHOUT RELAPSE")


def test_sap_v3_death_before_transplant_whatever_the_cause():
    # SAP v3: a patient who died without being transplanted (never, or after the cut) is
    # "Death before transplant", even with cause RELAPSE or a recorded relapse; a patient
    # transplanted before dying keeps the v2 split.
    cut = make_cut([subject("NEVER", hsct=None), subject("RELAPSED", hsct=None),
                    subject("LATER", hsct="2026-08-01"), subject("FAS")],
                   relapses=[("RELAPSED", "2024-12-20")],
                   deaths=[("NEVER", "2024-12-20", "RELAPSE"),
                           ("RELAPSED", "2025-01-01", "RELAPSE"),
                           ("LATER", "2025-06-01", "INFECTION"),
                           ("FAS", "2025-02-01", "RELAPSE")])
    derived = derive_cut(cut, params())
    category = derived.adsl.set_index("USUBJID")["DTHCAT"]
    assert category.to_dict() == {"FAS": "Non-relapse", "LATER": "Death before transplant",
                                  "NEVER": "Death before transplant",
                                  "RELAPSED": "Death before transplant"}


def test_gvhd_onset_on_the_day_of_death_or_of_competing_relapse_is_the_gvhd_event():
    cut = make_cut([subject("DEATHDAY"), subject("RELDAY")],
                   relapses=[("RELDAY", "2025-02-01")],
                   deaths=[("DEATHDAY", "2025-03-01", "GVHD")],
                   gvhd=[("DEATHDAY", "ACUTE", "2025-03-01", "III", "Y"),
                         ("RELDAY", "CHRONIC", "2025-02-01", "SEVERE", "Y")])
    derived = derive_cut(cut, params(gvhd_relapse_competes=True))
    assert tte(derived, "DEATHDAY", "AGVHD24") == (59, 0, 1, "ACUTE GVHD II-IV")
    assert tte(derived, "RELDAY", "CGVHDMS") == (31, 0, 1, "CHRONIC GVHD MODERATE-SEVERE")


def test_recovery_on_the_day_of_death_is_recovery():
    cut = make_cut([subject("A")], deaths=[("A", "2025-01-20", "INFECTION")],
                   engraftment=[dict(USUBJID="A", ANCDT="2025-01-20", PLTDT=None)])
    derived = derive_cut(cut, params())
    assert tte(derived, "A", "ANC") == (19, 0, 1, "NEUTROPHIL RECOVERY")
    assert tte(derived, "A", "PLT") == (19, 3, 2, "DEATH WITHOUT PLATELET RECOVERY (COMPETING)")


def test_relapse_and_death_on_the_same_day_is_relapse():
    cut = make_cut([subject("A")], relapses=[("A", "2025-04-11")],
                   deaths=[("A", "2025-04-11", "INFECTION")])
    derived = derive_cut(cut, params())
    assert tte(derived, "A", "PFS") == (100, 0, 1, "RELAPSE")
    assert tte(derived, "A", "CIR") == (100, 0, 1, "RELAPSE")
    assert tte(derived, "A", "NRM") == (100, 3, 2, "RELAPSE (COMPETING)")
    assert tte(derived, "A", "OS") == (100, 0, 1, "DEATH")
    assert adsl_row(derived, "A")["DTHCAT"] == "Relapse-related"


def test_day_zero_event_is_aval_zero():
    cut = make_cut([subject("A")], deaths=[("A", HSCT, "OTHER")])
    derived = derive_cut(cut, params())
    assert tte(derived, "A", "OS") == (0, 0, 1, "DEATH")
    assert tte(derived, "A", "NRM") == (0, 0, 1, "DEATH WITHOUT RELAPSE")
    assert tte(derived, "A", "CIR") == (0, 3, 2, "DEATH WITHOUT RELAPSE (COMPETING)")
    row = adsl_row(derived, "A")
    assert (row["DTHCAT"], row["FUPDAYS"]) == ("Non-relapse", 0)


def test_competing_events_for_relapse_and_nrm():
    cut = make_cut([subject("DIED"), subject("RELAPSED")],
                   relapses=[("RELAPSED", "2025-03-02"), ("RELAPSED", "2025-05-01")],
                   deaths=[("DIED", "2025-02-10", "GVHD"),
                           ("RELAPSED", "2025-06-30", "INFECTION")])
    derived = derive_cut(cut, params())
    assert tte(derived, "DIED", "CIR") == (40, 3, 2, "DEATH WITHOUT RELAPSE (COMPETING)")
    assert tte(derived, "DIED", "NRM") == (40, 0, 1, "DEATH WITHOUT RELAPSE")
    assert tte(derived, "RELAPSED", "CIR") == (60, 0, 1, "RELAPSE")  # the first relapse
    assert tte(derived, "RELAPSED", "NRM") == (60, 3, 2, "RELAPSE (COMPETING)")
    assert tte(derived, "RELAPSED", "PFS") == (60, 0, 1, "RELAPSE")
    assert adsl_row(derived, "RELAPSED")["DTHCAT"] == "Relapse-related"  # cause INFECTION
    assert adsl_row(derived, "DIED")["DTHCAT"] == "Non-relapse"


def test_gvhd_grades_and_the_relapse_competes_switch():
    cut = make_cut([subject("A"), subject("B"), subject("C")],
                   relapses=[("A", "2025-02-01")],
                   deaths=[("C", "2025-03-01", "OTHER")],
                   gvhd=[("A", "ACUTE", "2025-02-20", "II", "N"),
                         ("B", "ACUTE", "2025-01-21", "I", "N"),
                         ("B", "ACUTE", "2025-02-10", "III", "Y"),
                         ("C", "ACUTE", "2025-03-01", "IV", "Y")])
    default = derive_cut(cut, params())
    assert tte(default, "A", "AGVHD24") == (50, 0, 1, "ACUTE GVHD II-IV")
    assert tte(default, "A", "AGVHD34")[1:3] == (2, 0)
    assert tte(default, "B", "AGVHD24") == (40, 0, 1, "ACUTE GVHD II-IV")  # grade I skipped
    assert tte(default, "C", "AGVHD34") == (59, 0, 1, "ACUTE GVHD III-IV")  # onset = death day
    assert tte(default, "C", "CGVHD") == (59, 3, 2, "DEATH WITHOUT CHRONIC GVHD (COMPETING)")
    switched = derive_cut(cut, params(gvhd_relapse_competes=True))
    assert tte(switched, "A", "AGVHD24") == (
        31, 3, 2, "RELAPSE WITHOUT ACUTE GVHD II-IV (COMPETING)")
    assert tte(switched, "B", "AGVHD24") == (40, 0, 1, "ACUTE GVHD II-IV")


def test_chronic_gvhd_severity_and_grfs_components():
    cut = make_cut([subject("MILD"), subject("SYSTX"), subject("ACUTE2"), subject("ACUTE3"),
                    subject("FREE")],
                   gvhd=[("MILD", "CHRONIC", "2025-07-01", "MILD", "N"),
                         ("SYSTX", "CHRONIC", "2025-06-01", "MILD", "Y"),
                         ("SYSTX", "CHRONIC", "2025-08-01", "SEVERE", "Y"),
                         ("ACUTE2", "ACUTE", "2025-02-01", "II", "Y"),
                         ("ACUTE3", "ACUTE", "2025-02-15", "III", "Y")],
                   relapses=[("ACUTE2", "2025-09-01")])
    derived = derive_cut(cut, params())
    assert tte(derived, "MILD", "CGVHD") == (181, 0, 1, "CHRONIC GVHD")
    assert tte(derived, "MILD", "CGVHDMS")[1:3] == (2, 0)
    assert tte(derived, "SYSTX", "CGVHDMS") == (212, 0, 1, "CHRONIC GVHD MODERATE-SEVERE")
    # GRFS: mild chronic without systemic therapy and acute grade II are not events.
    assert tte(derived, "MILD", "GRFS")[1:3] == (2, 0)
    assert tte(derived, "SYSTX", "GRFS") == (
        151, 0, 1, "CHRONIC GVHD REQUIRING SYSTEMIC THERAPY")
    assert tte(derived, "ACUTE2", "GRFS") == (243, 0, 1, "RELAPSE")
    assert tte(derived, "ACUTE3", "GRFS") == (45, 0, 1, "ACUTE GVHD III-IV")
    assert tte(derived, "FREE", "GRFS") == (364, 2, 0, "FOLLOW-UP CUT AT DATA CUT DATE")


def test_engraftment_rules():
    patients = [subject("OK"), subject("LATE"), subject("DIED"), subject("NOROW"),
                subject("NOROWDEAD")]
    engraftment = [dict(USUBJID="OK", ANCDT="2025-01-15", PLTDT=HSCT),
                   dict(USUBJID="LATE", ANCDT="2026-01-05", PLTDT=None),
                   dict(USUBJID="DIED", ANCDT=None, PLTDT=None)]
    deaths = [("DIED", "2025-01-20", "INFECTION"), ("NOROWDEAD", "2025-01-25", "VOD")]
    derived = derive_cut(make_cut(patients, deaths=deaths, engraftment=engraftment), params())
    assert tte(derived, "OK", "ANC") == (14, 0, 1, "NEUTROPHIL RECOVERY")
    assert tte(derived, "OK", "PLT") == (0, 0, 1, "PLATELET RECOVERY")
    assert tte(derived, "LATE", "ANC") == (364, 2, 0, "FOLLOW-UP CUT AT DATA CUT DATE")
    assert tte(derived, "DIED", "ANC") == (
        19, 3, 2, "DEATH WITHOUT NEUTROPHIL RECOVERY (COMPETING)")
    assert tte(derived, "NOROW", "PLT") == (364, 4, 0, "NO ENGRAFTMENT RECORD")
    assert tte(derived, "NOROWDEAD", "ANC") == (24, 4, 0, "NO ENGRAFTMENT RECORD")
    absent = derive_cut(make_cut(patients, deaths=deaths), params())
    assert not absent.adtte["PARAMCD"].isin(["ANC", "PLT"]).any()
    assert absent.supplied["engraftment"] is None


def test_subgroups_and_safety_flag():
    cut = make_cut([subject("HI", mrdpre=0.001, disstat="CR1", subtype="Ph-positive B-ALL"),
                    subject("LO", mrdpre=0.0009, disstat="CR3+", subtype="Ph-like B-ALL",
                            blindays=0)])
    derived = derive_cut(cut, params())
    groups = derived.adsl.set_index("USUBJID")[["MRDGRP", "DISGRP", "PHGRP", "SAFFL"]]
    assert groups.loc["HI"].tolist() == [">=1e-3", "CR1", "Ph-positive", "Y"]
    assert groups.loc["LO"].tolist() == ["<1e-3", "CR2+", "Ph-negative", "N"]
    pfs = derived.adtte[derived.adtte["PARAMCD"] == "PFS"].set_index("USUBJID")
    assert pfs.loc["LO", ["MRDGRP", "DISGRP", "PHGRP"]].tolist() == ["<1e-3", "CR2+",
                                                                     "Ph-negative"]
    assert cutoff_label(5e-4) == "5e-4" and cutoff_label(0.0015) == "1.5e-3"


def test_event_datasets_are_cut_with_study_days():
    cut = make_cut([subject("A"), subject("N", hsct=None)],
                   mrd=[("A", "2025-01-31", 0.0), ("A", "2026-01-02", 0.01)],
                   gvhd=[("A", "ACUTE", "2025-12-31", "II", "N"),
                         ("A", "CHRONIC", "2026-01-01", "MILD", "N")],
                   adverse_events=[("A", "2024-12-20", 2), ("N", "2025-03-01", 1),
                                   ("A", "2026-01-01", 3)])
    derived = derive_cut(cut, params())
    assert derived.admrd[["MRDDT", "ADY"]].values.tolist() == [[pd.Timestamp("2025-01-31"), 30]]
    assert derived.adgvhd["ADY"].tolist() == [364]
    assert derived.adae["ADY"].tolist()[0] == -12 and pd.isna(derived.adae["ADY"].iloc[1])
    assert derived.adae["SAFFL"].tolist() == ["Y", "Y"]
    missing = Cut(subjects=cut.subjects, relapses=cut.relapses, deaths=cut.deaths)
    empty = derive_cut(missing, params())
    assert empty.admrd.empty and "ADY" in empty.admrd.columns and empty.adae.empty
    assert "GRFS" not in set(empty.adtte["PARAMCD"])  # no gvhd table: no GVHD endpoints


def test_write_is_byte_identical_and_loads_back(tmp_path: Path):
    cut = make_cut([subject("B", lstalv="2025-08-01"), subject("A")],
                   relapses=[("A", "2025-05-01")], deaths=[("B", "2025-08-01", "TMA")],
                   gvhd=[("A", "ACUTE", "2025-02-01", "II", "N")],
                   mrd=[("A", "2025-01-31", 0.0)],
                   engraftment=[dict(USUBJID="A", ANCDT="2025-01-15", PLTDT=None)],
                   adverse_events=[("A", "2025-01-05", 2)])
    derived = derive_cut(cut, params())
    derived.write(tmp_path / "one")
    derive_cut(cut, params()).write(tmp_path / "two")
    for path in sorted((tmp_path / "one").iterdir()):
        assert path.read_bytes() == (tmp_path / "two" / path.name).read_bytes(), path.name
    assert (tmp_path / "one" / "adsl.csv").read_text().splitlines()[1].startswith("A,")
    assert ",2025-01-01," in (tmp_path / "one" / "adtte.csv").read_text()
    loaded = load_derived(tmp_path / "one")
    for name in DATASETS:  # same values and types; text is read back with Arrow storage
        written = getattr(derived, name)
        text = [c for c in written.columns if isinstance(written[c].dtype, pd.StringDtype)]
        expected = written.astype({c: pd.StringDtype("pyarrow") for c in text})
        pd.testing.assert_frame_equal(getattr(loaded, name), expected)
    assert loaded.supplied == derived.supplied


def test_load_derived_reads_each_dataset_on_first_use(tmp_path: Path):
    cut = make_cut([subject("A")], mrd=[("A", "2025-02-01", 0.0005)])
    derive_cut(cut, params()).write(tmp_path)
    loaded = load_derived(tmp_path)
    assert not set(DATASETS) & set(vars(loaded))  # nothing read yet
    assert loaded.admrd["RESULT"].tolist() == [0.0005]
    assert set(DATASETS) & set(vars(loaded)) == {"admrd"}
    assert loaded.adsl["USUBJID"].tolist() == ["A"] and "adtte" not in vars(loaded)
    with pytest.raises(AttributeError):
        loaded.adxx


def test_a_notebook_loads_the_adtte_rows_of_its_endpoints_with_their_file_positions(
        tmp_path: Path):
    cut = make_cut([subject("A"), subject("B")], mrd=[("A", "2025-02-01", 0.0005)])
    derive_cut(cut, params()).write(tmp_path)
    whole = load_derived(tmp_path).adtte
    for notebook, endpoints in (("05_relapse_nrm", ["CIR", "NRM"]), ("03_pfs", ["PFS"])):
        rows = load_derived(tmp_path, notebook).adtte
        expected = whole[whole["PARAMCD"].isin(endpoints)]
        assert sorted(set(rows["PARAMCD"])) == endpoints and len(rows) == 2 * len(endpoints)
        pd.testing.assert_frame_equal(rows, expected)  # values, types and index (file rows)
    assert len(load_derived(tmp_path).adtte) > 6  # without a notebook: every endpoint
    with pytest.raises(ValueError, match="no notebook '99_other'"):
        load_derived(tmp_path, "99_other")


def test_load_derived_names_missing_files(tmp_path: Path):
    with pytest.raises(DerivedDataError, match="adsl.parquet"):
        load_derived(tmp_path)


@pytest.mark.parametrize("storage", ["python", "pyarrow"])
def test_of_subjects_matches_isin_and_keeps_the_index(storage: str):
    ids = pd.Series(["A", "B", None, "C", "A"], dtype=pd.StringDtype(storage),
                    index=[10, 11, 12, 13, 14])
    wanted = pd.Series(["C", "A", "Z"], dtype=pd.StringDtype("pyarrow"))
    found = of_subjects(ids, wanted)
    assert found.tolist() == [True, False, False, True, True]
    assert found.index.tolist() == [10, 11, 12, 13, 14] and found.dtype == bool
    assert found.tolist() == ids.isin(wanted).tolist()
    assert not of_subjects(ids, pd.Series([], dtype=object)).any()


def test_write_reports_a_failed_csv_copy_as_an_os_error_naming_the_file(tmp_path: Path):
    derived = derive_cut(make_cut([subject("A")]), params())
    (tmp_path / "adtte.csv").mkdir(parents=True)  # the ADTTE copy (written in a child process)
    with pytest.raises(OSError) as failure:
        derived.write(tmp_path)
    assert failure.value.filename == str(tmp_path / "adtte.csv")
    assert (tmp_path / "adsl.csv").read_text().startswith("USUBJID,")  # the rest written

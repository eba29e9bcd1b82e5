"""Realistic simulated data cuts of a haploidentical transplant cohort (``haplo-report simulate``).

Latent times (days from transplant) are drawn for every patient at once with numpy and then
observed the way a database export sees them: nothing after death, nothing after the last
contact or the export date. Rates are tuned to a haploidentical HSCT cohort at 1 year: PFS
about 70%, OS about 80%, relapse about 18%, NRM about 10%, acute GVHD II-IV about 30% and
III-IV about 8% by day 100, chronic GVHD about 30%. The export date (``EXPORT_DATE``) lies
after the example data cut, so that cutting matters. The same seed gives identical files.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

FIRST_CONSENT = np.datetime64("2023-09-04", "D")
ENROLMENT_DAYS = 730  # staggered consent over about two years
EXPORT_DATE = np.datetime64("2026-10-15", "D")  # database export; the example cut is earlier
FILE_FORMATS: tuple[str, ...] = ("csv", "xlsx", "parquet", "xpt")
MRD_LANDMARKS: tuple[int, ...] = (30, 90, 180, 365)
MRD_UNDETECTABLE = (0.58, 0.68, 0.76, 0.83)  # P(undetectable) per landmark, no relapse ahead
NRM_CAUSES = ("INFECTION", "GVHD", "TMA", "VOD", "HEMORRHAGE", "OTHER")
# Fatal adverse event recorded on the date of a non-relapse death, per cause.
FATAL_AE = {
    "INFECTION": ("Septic shock", "Septic shock", "Infections and infestations", "INFECTION"),
    "GVHD": ("GVHD", "Graft versus host disease", "Immune system disorders", ""),
    "TMA": ("Transplant-associated TMA", "Thrombotic microangiopathy",
            "Blood and lymphatic system disorders", ""),
    "VOD": ("Sinusoidal obstruction syndrome", "Venoocclusive liver disease",
            "Hepatobiliary disorders", ""),
    "HEMORRHAGE": ("Intracranial bleeding", "Haemorrhage intracranial",
                   "Nervous system disorders", ""),
    "OTHER": ("Multiorgan failure", "Multiple organ dysfunction syndrome",
              "General disorders and administration site conditions", ""),
}
# term, preferred term, SOC, AESI, P(patient), P(grade 1..4), first/last day from transplant,
# P(related to blinatumomab). Blinatumomab-only events (CRS, ICANS) need BLINDAYS > 0.
AE_CATALOG: tuple[tuple, ...] = (
    ("Fever and hypotension", "Cytokine release syndrome", "Immune system disorders", "CRS",
     0.45, (0.62, 0.33, 0.05, 0.0), -14, -1, 1.0),
    ("Confusion", "Immune effector cell-associated neurotoxicity syndrome",
     "Nervous system disorders", "ICANS", 0.08, (0.7, 0.25, 0.05, 0.0), -12, 0, 1.0),
    ("CMV reactivation", "Cytomegalovirus infection reactivation", "Infections and infestations",
     "INFECTION", 0.45, (0.2, 0.55, 0.25, 0.0), 20, 100, 0.0),
    ("EBV reactivation", "Epstein-Barr virus infection reactivation",
     "Infections and infestations", "INFECTION", 0.2, (0.4, 0.45, 0.15, 0.0), 30, 120, 0.0),
    ("Bacteremia", "Sepsis", "Infections and infestations", "INFECTION",
     0.12, (0.0, 0.0, 0.75, 0.25), 0, 60, 0.0),
    ("Pneumonia", "Pneumonia", "Infections and infestations", "INFECTION",
     0.15, (0.0, 0.3, 0.6, 0.1), 15, 300, 0.0),
    ("Invasive aspergillosis", "Bronchopulmonary aspergillosis", "Infections and infestations",
     "INFECTION", 0.06, (0.0, 0.0, 0.7, 0.3), 10, 200, 0.0),
    ("Neutropenic fever", "Febrile neutropenia", "Blood and lymphatic system disorders", "",
     0.7, (0.0, 0.0, 0.9, 0.1), 0, 14, 0.05),
    ("Oral mucositis", "Stomatitis", "Gastrointestinal disorders", "",
     0.55, (0.3, 0.4, 0.3, 0.0), 2, 15, 0.0),
    ("Diarrhea", "Diarrhoea", "Gastrointestinal disorders", "",
     0.35, (0.5, 0.35, 0.15, 0.0), -5, 30, 0.05),
    ("Nausea", "Nausea", "Gastrointestinal disorders", "",
     0.4, (0.6, 0.35, 0.05, 0.0), -10, 10, 0.1),
    ("Hemorrhagic cystitis", "Cystitis haemorrhagic", "Renal and urinary disorders", "",
     0.12, (0.3, 0.5, 0.2, 0.0), 20, 60, 0.0),
    ("ALT increased", "Alanine aminotransferase increased", "Investigations", "",
     0.25, (0.5, 0.3, 0.2, 0.0), -10, 60, 0.2),
    ("Low potassium", "Hypokalaemia", "Metabolism and nutrition disorders", "",
     0.2, (0.5, 0.3, 0.2, 0.0), -5, 40, 0.0),
    ("Headache", "Headache", "Nervous system disorders", "",
     0.15, (0.8, 0.2, 0.0, 0.0), -10, 10, 0.3),
)
ACUTE_ORGANS = {  # organ sets by MAGIC grade, with their probabilities
    "I": (("SKIN",), (1.0,)),
    "II": (("SKIN", "SKIN;GUT", "GUT"), (0.5, 0.3, 0.2)),
    "III": (("SKIN;GUT", "GUT", "GUT;LIVER", "SKIN;GUT;LIVER"), (0.4, 0.3, 0.15, 0.15)),
    "IV": (("SKIN;GUT", "GUT;LIVER", "SKIN;GUT;LIVER"), (0.3, 0.3, 0.4)),
}
CHRONIC_ORGANS = (("SKIN", 0.6), ("MOUTH", 0.45), ("EYES", 0.3), ("LIVER", 0.25),
                  ("LUNG", 0.1), ("JOINTS", 0.1), ("GI", 0.15))
COLUMNS: dict[str, list[str]] = {
    "subjects": ["USUBJID", "SITEID", "AGE", "SEX", "SUBTYPE", "DISSTAT", "MRDPRE", "MRDMETH",
                 "DONREL", "HLAMATCH", "GRAFTSRC", "CD34DOSE", "BLINDAYS", "CONDREG", "RFICDT",
                 "HSCTDT", "LSTALVDT"],
    "relapses": ["USUBJID", "RELDT", "RELSITE"],
    "deaths": ["USUBJID", "DTHDT", "DTHCAUS"],
    "gvhd": ["USUBJID", "GVHDTYPE", "ONSETDT", "GRADE", "ORGANS", "SYSTX"],
    "mrd": ["USUBJID", "MRDDT", "METHOD", "RESULT"],
    "engraftment": ["USUBJID", "ANCDT", "PLTDT"],
    "adverse_events": ["USUBJID", "AETERM", "AEDECOD", "AEBODSYS", "AETOXGR", "AESER", "AEREL",
                       "AESI", "AESTDT"],
}
NEVER = np.inf  # latent time of an event that does not happen


def _pick(rng: np.random.Generator, labels: tuple | list, probs: tuple | list, size: int
          ) -> np.ndarray:
    """``size`` labels drawn with the given probabilities."""
    return np.asarray(labels, dtype=object)[rng.choice(len(labels), size=size, p=probs)]


def _pick_rows(rng: np.random.Generator, labels: tuple, probs: np.ndarray) -> np.ndarray:
    """One label per row of ``probs`` (rows are per-patient probabilities, not normalised)."""
    cum = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    index = (rng.random(len(probs))[:, None] > cum).sum(axis=1)
    return np.asarray(labels, dtype=object)[np.minimum(index, len(labels) - 1)]


def _two_digits(values: np.ndarray) -> np.ndarray:
    """Values rounded to two significant digits (as lab results are reported)."""
    return np.char.mod("%.1e", values).astype(float)


def _baseline(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """One row per registered patient: site, demographics, disease and graft, day numbers."""
    n_sites = int(np.clip(round(n / 8), 1, 40))
    site = rng.choice(n_sites, size=n, p=rng.dirichlet(np.full(n_sites, 3.0))) + 1
    consent = np.floor(rng.beta(1.3, 1.0, n) * ENROLMENT_DAYS).astype(int)
    order = np.lexsort((consent, site))  # number patients within site in order of consent
    seq = np.empty(n, dtype=int)
    seq[order] = pd.Series(site[order]).groupby(site[order]).cumcount().to_numpy() + 1
    width = max(3, len(str(seq.max())))
    site_text = pd.Series(site).astype(str).str.zfill(2)
    usubjid = "HB-" + site_text + "-" + pd.Series(seq).astype(str).str.zfill(width)

    age = 14 + np.rint(rng.beta(1.8, 2.2, n) * 51).astype(int)
    donrel = _pick(rng, ("father", "mother", "sibling", "child", "other"),
                   (0.27, 0.15, 0.35, 0.18, 0.05), n)
    donrel[(donrel == "child") & (age < 38)] = "sibling"
    donrel[np.isin(donrel, ("father", "mother")) & (age > 52)] = "child"
    high_mrd = rng.random(n) < 0.4  # ~40% of patients at MRD >= 1e-3 before conditioning
    log_mrd = np.where(high_mrd, rng.uniform(-3.0, np.log10(5e-2), n), rng.uniform(-4, -3, n))
    mrdpre = np.clip(_two_digits(10.0 ** log_mrd), 1.1e-4, 5e-2)
    transplanted = rng.random(n) >= 0.05
    blindays = np.where(rng.random(n) < 0.04, 0, rng.integers(7, 15, n))
    blindays[~transplanted] = 0
    regimen = _pick(rng, ("BU/CY/FLU/ATG", "TBI/CY/FLU/ATG"), (0.8, 0.2), n)
    condreg = np.where(blindays > 0, "Blinatumomab + " + regimen, regimen)
    return pd.DataFrame({
        "USUBJID": usubjid, "SITEID": "S" + site_text, "AGE": age,
        "SEX": _pick(rng, ("M", "F"), (0.57, 0.43), n),
        "SUBTYPE": _pick(rng, ("Ph-negative B-ALL", "Ph-positive B-ALL", "Ph-like B-ALL"),
                         (0.55, 0.3, 0.15), n),
        "DISSTAT": _pick(rng, ("CR1", "CR2", "CR3+"), (0.6, 0.3, 0.1), n),
        "MRDPRE": mrdpre, "MRDMETH": _pick(rng, ("FCM", "QPCR"), (0.85, 0.15), n),
        "DONREL": donrel,
        "HLAMATCH": _pick(rng, ("5/10", "6/10", "7/10", "8/10", "9/10"),
                          (0.55, 0.2, 0.12, 0.08, 0.05), n),
        "GRAFTSRC": _pick(rng, ("BM+PBSC", "PBSC"), (0.7, 0.3), n),
        "CD34DOSE": np.round(np.clip(rng.lognormal(np.log(5.5), 0.35, n), 2.0, 12.0), 1),
        "BLINDAYS": blindays, "CONDREG": condreg,
        "_consent": consent, "_transplanted": transplanted,
        "_gap": rng.integers(10, 41, n),  # consent to transplant, days
    })


def _acute_gvhd(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Latent onset day and MAGIC grade of acute GVHD (grade "" = none)."""
    grade = np.where(rng.random(n) < 0.45,
                     _pick(rng, ("I", "II", "III", "IV"), (0.33, 0.49, 0.12, 0.06), n), "")
    window = rng.choice(3, size=n, p=(0.1, 0.75, 0.15))  # onset mostly day 15-60
    first, stop = np.array([8, 15, 61])[window], np.array([15, 61, 101])[window]
    day = first + np.floor(rng.random(n) * (stop - first))
    return np.where(grade != "", day, NEVER), grade


def _outcomes(rng: np.random.Generator, base: pd.DataFrame, severe_agvhd: np.ndarray,
              agvhd_day: np.ndarray) -> dict[str, np.ndarray]:
    """Latent relapse, second relapse, death and cause of death, days from transplant."""
    n = len(base)
    risk = (np.where(base["MRDPRE"] >= 1e-3, 1.6, 1.0)
            * np.where(base["DISSTAT"] == "CR1", 1.0, 1.3))
    relapse = np.where(rng.random(n) < 0.16 * risk, 30 + np.floor(rng.gamma(2.0, 95.0, n)),
                       NEVER)
    nrm = np.where(rng.random(n) < 0.095 * np.where(base["AGE"] > 45, 1.3, 1.0)
                   * np.where(severe_agvhd, 3.0, 1.0),
                   3 + np.floor(rng.lognormal(np.log(100), 0.8, n)), NEVER)
    nrm = np.where(severe_agvhd & np.isfinite(nrm),
                   agvhd_day + 10 + np.floor(rng.gamma(2.0, 35.0, n)), nrm)
    # Ties as real data has them: a few non-relapse deaths share the day of another relapse.
    relapse_days = relapse[np.isfinite(relapse)]
    if relapse_days.size:
        tied = rng.choice(relapse_days, size=n)
        tie = (rng.random(n) < 0.2) & np.isfinite(nrm) & (tied < relapse) & ~severe_agvhd
        nrm = np.where(tie, tied, nrm)
    relapse = np.where(nrm < relapse, NEVER, relapse)
    delay = np.where(rng.random(n) < 0.06, 0.0, 1 + np.floor(rng.gamma(1.5, 90.0, n)))
    death = np.where(np.isfinite(relapse),
                     np.where(rng.random(n) < 0.65, relapse + delay, NEVER), nrm)
    second = np.where(np.isfinite(relapse) & (rng.random(n) < 0.15),
                      relapse + 20 + np.floor(rng.gamma(2.0, 40.0, n)), NEVER)
    return {"relapse": relapse, "second": second, "death": death,
            "relapse_death": np.isfinite(relapse) & np.isfinite(death)}


def _causes(rng: np.random.Generator, relapse_death: np.ndarray, gvhd_before: np.ndarray,
            early: np.ndarray) -> np.ndarray:
    """Cause of death: RELAPSE mostly after relapse; else by GVHD history and timing."""
    n = len(relapse_death)
    weights = np.tile(np.array([0.45, 0.0, 0.1, 0.06, 0.08, 0.14]), (n, 1))
    weights[gvhd_before, 1] = 0.8  # GVHD deaths only in patients with GVHD
    weights[early, 3] = 0.25  # VOD is an early death
    nrm_cause = _pick_rows(rng, NRM_CAUSES, weights)
    after_relapse = _pick(rng, ("RELAPSE", "INFECTION", "OTHER"), (0.9, 0.07, 0.03), n)
    return np.where(relapse_death, after_relapse, nrm_cause)


def _rows(ids: pd.Series, mask: np.ndarray, **columns) -> pd.DataFrame:
    """Rows of the patients in ``mask``, columns given per patient (arrays of length n)."""
    return pd.DataFrame({"USUBJID": ids[mask].to_numpy(),
                         **{k: np.broadcast_to(np.asarray(v), mask.shape)[mask]
                            for k, v in columns.items()}})


def _dates(origin: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Calendar dates ``origin + days`` (NaT where days is infinite or missing)."""
    finite = np.isfinite(days)
    out = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[D]")
    out[finite] = origin[finite] + days[finite].astype(int)
    return out


def simulate_cut(n: int, seed: int, export_date: np.datetime64 = EXPORT_DATE
                 ) -> dict[str, pd.DataFrame]:
    """A complete, valid simulated data cut of ``n`` patients: one typed frame per table.

    ``export_date``: the database export's date; the same seed with a later export date is a
    later export of the same study (same patients and latent times, more follow-up).

    Dates are ``datetime64`` (missing ``NaT``), numbers numeric, text ``object``; columns and
    codes are the data-cut spec's. Rows are sorted by patient and date.
    """
    if n < 1:
        raise ValueError(f"n: need at least 1 patient, got {n}")
    rng = np.random.default_rng(seed)
    base = _baseline(rng, n)
    ids, tx = base["USUBJID"], base["_transplanted"].to_numpy()
    consent = FIRST_CONSENT + base["_consent"].to_numpy().astype("timedelta64[D]")
    hsct = consent + base["_gap"].to_numpy().astype("timedelta64[D]")
    # Observation ends at the export; 4% are lost to follow-up earlier.
    horizon = (export_date - hsct).astype(int).astype(float)
    lost = rng.random(n) < 0.04
    # A patient lost to follow-up stays lost in later exports: last seen at a fixed share of
    # the follow-up the bundled export (EXPORT_DATE) allows.
    lost_at = np.floor((EXPORT_DATE - hsct).astype(int) * rng.uniform(0.15, 0.9, n))
    obs_end = np.where(lost, np.minimum(lost_at, horizon), horizon)

    agvhd_day, agvhd_grade = _acute_gvhd(rng, n)
    severe = np.isin(agvhd_grade, ("III", "IV"))
    latent = _outcomes(rng, base, severe, agvhd_day)
    death = np.where(tx & (latent["death"] <= obs_end), latent["death"], NEVER)
    end = np.minimum(death, obs_end)  # last day anything can be recorded
    relapse = np.where(tx & (latent["relapse"] <= end), latent["relapse"], NEVER)
    second = np.where(np.isfinite(relapse) & (latent["second"] <= end), latent["second"], NEVER)

    cgvhd_p = 0.32 * np.where(np.isin(agvhd_grade, ("II", "III", "IV")), 1.3, 1.0)
    cgvhd_day = np.where(rng.random(n) < cgvhd_p, 91 + np.floor(rng.gamma(2.0, 55.0, n)), NEVER)
    cgvhd_grade = _pick(rng, ("MILD", "MODERATE", "SEVERE"), (0.5, 0.35, 0.15), n)
    agvhd_seen = tx & (agvhd_day <= end)
    cgvhd_seen = tx & (cgvhd_day <= end)
    gvhd_before = ((agvhd_seen & np.isin(agvhd_grade, ("II", "III", "IV")))
                   | (cgvhd_seen & (cgvhd_grade != "MILD")))
    cause = _causes(rng, latent["relapse_death"] & np.isfinite(relapse), gvhd_before,
                    latent["death"] < 40)

    acute = _rows(ids, agvhd_seen, GVHDTYPE="ACUTE", ONSETDT=_dates(hsct, agvhd_day),
                  GRADE=agvhd_grade, ORGANS="", SYSTX="N")
    for grade, (organs, probs) in ACUTE_ORGANS.items():
        rows = (acute["GRADE"] == grade).to_numpy()
        acute.loc[rows, "ORGANS"] = _pick(rng, organs, probs, int(rows.sum()))
    p_systx = acute["GRADE"].map({"I": 0.0, "II": 0.75, "III": 1.0, "IV": 1.0}).to_numpy()
    acute["SYSTX"] = np.where(rng.random(len(acute)) < p_systx, "Y", "N")
    organs = pd.Series("", index=range(n), dtype=object)
    for organ, p in CHRONIC_ORGANS:
        organs = organs.where(rng.random(n) >= p, organs + ";" + organ)
    organs = organs.str.lstrip(";").replace("", "SKIN")
    p_systx = np.select([cgvhd_grade == "MILD", cgvhd_grade == "MODERATE"], [0.15, 0.85], 1.0)
    chronic = _rows(ids, cgvhd_seen, GVHDTYPE="CHRONIC", ONSETDT=_dates(hsct, cgvhd_day),
                    GRADE=cgvhd_grade, ORGANS=organs,
                    SYSTX=np.where(rng.random(n) < p_systx, "Y", "N"))

    relapses = pd.concat([
        _rows(ids, np.isfinite(relapse), RELDT=_dates(hsct, relapse),
              RELSITE=_pick(rng, ("BM", "PB", "EM"), (0.72, 0.1, 0.18), n)),
        _rows(ids, np.isfinite(second), RELDT=_dates(hsct, second),
              RELSITE=_pick(rng, ("BM", "PB", "EM"), (0.6, 0.1, 0.3), n)),
    ])

    # Never transplanted: 40% die before transplant, the others withdraw.
    pre_days = rng.integers(15, 151, n).astype(float)
    pre_death = ~tx & (rng.random(n) < 0.4)
    deaths = pd.concat([
        _rows(ids, np.isfinite(death), DTHDT=_dates(hsct, death), DTHCAUS=cause),
        _rows(ids, pre_death, DTHDT=_dates(consent, pre_days),
              DTHCAUS=_pick(rng, ("RELAPSE", "INFECTION"), (0.6, 0.4), n)),
    ])

    mrd_parts, last_day = [], np.where(tx, 0.0, -np.inf)
    for landmark, undetectable in zip(MRD_LANDMARKS, MRD_UNDETECTABLE, strict=True):
        day = landmark + rng.integers(-6, 7, n).astype(float)
        seen = tx & (rng.random(n) >= 0.08) & (day < relapse) & (day <= end)
        before_relapse = relapse - day <= 150
        positive = np.where(before_relapse, rng.random(n) < 0.85, rng.random(n) >= undetectable)
        result = np.where(positive, _two_digits(10.0 ** rng.uniform(-4.3, -1.7, n)), 0.0)
        mrd_parts.append(_rows(ids, seen, MRDDT=_dates(hsct, day), METHOD=base["MRDMETH"],
                               RESULT=result))
        last_day = np.where(seen, np.maximum(last_day, day), last_day)

    anc = np.where(rng.random(n) < 0.03, NEVER, np.rint(10 + rng.gamma(5.0, 0.7, n)))
    plt = np.where(rng.random(n) < 0.08, NEVER, anc + 2 + np.rint(rng.gamma(2.0, 4.0, n)))
    anc = np.where(anc <= end, anc, NEVER)
    plt = np.where((plt <= end) & np.isfinite(anc), plt, NEVER)
    engraftment = _rows(ids, tx, ANCDT=_dates(hsct, anc), PLTDT=_dates(hsct, plt))

    ae_parts = []
    for term, decod, soc, aesi, p, grades, first, last, p_related in AE_CATALOG:
        eligible = tx & ((base["BLINDAYS"].to_numpy() > 0) | (first >= 0))
        day = rng.integers(first, last + 1, n).astype(float)
        seen = eligible & (rng.random(n) < p) & (day <= end)
        grade = rng.choice(4, size=n, p=grades) + 1
        serious = rng.random(n) < np.where(grade >= 3, 0.8, 0.1)
        start = np.maximum(_dates(hsct, day), consent)  # conditioning starts after consent
        ae_parts.append(_rows(ids, seen, AETERM=term, AEDECOD=decod, AEBODSYS=soc,
                              AETOXGR=grade, AESER=np.where(serious, "Y", "N"),
                              AEREL=np.where(rng.random(n) < p_related, "Y", "N"), AESI=aesi,
                              AESTDT=start))
        last_day = np.where(seen, np.maximum(last_day, np.maximum(day, 0)), last_day)
    nrm_death = np.isfinite(death) & ~latent["relapse_death"]
    fatal = [pd.Series(cause).map({c: ae[k] for c, ae in FATAL_AE.items()}) for k in range(4)]
    ae_parts.append(_rows(ids, nrm_death, AETERM=fatal[0], AEDECOD=fatal[1], AEBODSYS=fatal[2],
                          AETOXGR=5, AESER="Y", AEREL="N", AESI=fatal[3],
                          AESTDT=_dates(hsct, death)))

    for day in (relapse, second, np.where(agvhd_seen, agvhd_day, NEVER),
                np.where(cgvhd_seen, cgvhd_day, NEVER), anc, plt):
        last_day = np.where(np.isfinite(day), np.maximum(last_day, day), last_day)
    # Last contact: the dead on or up to two weeks before death; the followed a recent visit;
    # the lost to follow-up their last visit; the never transplanted when they left the study.
    recent = np.maximum(obs_end - np.floor(rng.exponential(25.0, n)), last_day)
    before_death = np.maximum(death - np.where(rng.random(n) < 0.4, 0, rng.integers(1, 15, n)), 0)
    lstalv_days = np.where(np.isfinite(death), before_death, np.where(lost, obs_end, recent))
    lstalv = np.where(tx, _dates(hsct, lstalv_days),
                      _dates(consent, np.where(pre_death, pre_days - rng.integers(0, 8, n),
                                               rng.integers(20, 201, n).astype(float))))
    lstalv = np.minimum(np.maximum(lstalv, consent), export_date)

    subjects = base[COLUMNS["subjects"][:14]].assign(
        RFICDT=consent, HSCTDT=np.where(tx, hsct, np.datetime64("NaT")), LSTALVDT=lstalv)
    tables = {"subjects": subjects, "relapses": relapses, "deaths": deaths,
              "gvhd": pd.concat([acute, chronic]), "mrd": pd.concat(mrd_parts),
              "engraftment": engraftment, "adverse_events": pd.concat(ae_parts)}
    return {name: _sorted(name, frame[COLUMNS[name]]) for name, frame in tables.items()}


def _sorted(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows by patient, then date (stable, so equal keys keep their generation order)."""
    keys = ["USUBJID"] + [c for c in COLUMNS[name] if c.endswith("DT")][:1]
    frame = frame.sort_values(keys, kind="mergesort").reset_index(drop=True)
    dates = [c for c in frame.columns if c.endswith("DT")]
    return frame.astype(dict.fromkeys(dates, "datetime64[ns]"))


def revise_export(frames: dict[str, pd.DataFrame], before: np.datetime64, seed: int
                  ) -> dict[str, pd.DataFrame]:
    """``frames`` with the corrections a later export typically brings to records dated on or
    before ``before`` (the previous cut): one relapse date corrected by a few days, one
    adverse event deleted and one adverse event's grade corrected. The same seed gives the
    same corrections."""
    rng = np.random.default_rng(seed)
    out = {name: frame.copy() for name, frame in frames.items()}
    limit = pd.Timestamp(before)
    relapses = out["relapses"]
    earlier = relapses.index[relapses["RELDT"] <= limit - pd.Timedelta(days=7)]
    if len(earlier):
        row = earlier[rng.integers(len(earlier))]
        relapses.loc[row, "RELDT"] = relapses.loc[row, "RELDT"] + pd.Timedelta(days=3)
    events = out["adverse_events"]
    earlier = events.index[events["AESTDT"] <= limit]
    if len(earlier) >= 2:
        deleted, corrected = rng.choice(earlier, size=2, replace=False)
        grade = int(events.loc[corrected, "AETOXGR"])
        events.loc[corrected, "AETOXGR"] = grade + 1 if grade < 4 else grade - 1
        out["adverse_events"] = events.drop(index=deleted).reset_index(drop=True)
    return out


def write_simulated_cut(out: Path, *, n: int, seed: int, file_format: str = "csv",
                        export_date: np.datetime64 = EXPORT_DATE,
                        corrections_before: np.datetime64 | None = None) -> Path:
    """Write ``simulate_cut(n, seed, export_date)`` into folder ``out`` as
    ``<table>.<file_format>``; with ``corrections_before``, :func:`revise_export` first.

    Returns the folder. The same arguments give byte-identical files in every format.
    """
    if file_format not in FILE_FORMATS:
        raise ValueError(f"file_format: use one of {', '.join(FILE_FORMATS)}, got {file_format!r}")
    frames = simulate_cut(n, seed, export_date)
    if corrections_before is not None:
        frames = revise_export(frames, corrections_before, seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        _WRITERS[file_format](frame, out / f"{name}.{file_format}")
    return out


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, date_format="%Y-%m-%d", float_format="%.6g",
                 lineterminator="\n")


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    frame.to_parquet(path, index=False)


def _write_xlsx(frame: pd.DataFrame, path: Path) -> None:
    # openpyxl stamps the workbook properties and every zip entry with the current time; fixed
    # times keep the file byte-identical across runs.
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl", date_format="YYYY-MM-DD",
                        datetime_format="YYYY-MM-DD") as writer:
        frame.to_excel(writer, sheet_name=path.stem[:31], index=False)
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*<",
                              rb"\g<1>2000-01-01T00:00:00Z<", data)
            target.writestr(zipfile.ZipInfo(item.filename, date_time=(2000, 1, 1, 0, 0, 0)),
                            data, compress_type=zipfile.ZIP_DEFLATED)


def _write_xpt(frame: pd.DataFrame, path: Path) -> None:
    # SAS transport (v5) headers carry the creation time; it is replaced by a fixed one so the
    # file is byte-identical across runs (pyreadstat has no option for it).
    import pyreadstat  # noqa: PLC0415  (only needed for SAS output)

    frame = frame.copy()
    formats = {}
    for column in frame.columns:
        if frame[column].dtype == "datetime64[ns]":
            frame[column] = frame[column].dt.date.astype(object).where(frame[column].notna(), None)
            formats[column] = "YYMMDD10."
        elif frame[column].dtype == object:
            frame[column] = frame[column].fillna("")
    pyreadstat.write_xport(frame, str(path), table_name=path.stem.upper()[:8],
                           file_format_version=5, variable_format=formats)
    stamp = re.compile(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d")
    head = path.read_bytes()
    split = head.index(b"HEADER RECORD*******OBS")  # timestamps live in the headers only
    path.write_bytes(stamp.sub(b"01JAN00:00:00:00", head[:split]) + head[split:])


_WRITERS = {"csv": _write_csv, "xlsx": _write_xlsx, "parquet": _write_parquet, "xpt": _write_xpt}

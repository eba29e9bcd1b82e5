"""Patient narratives (ICH E3 section 14.3.3), drafted from the derived data by fixed rules.

One narrative per enrolled patient who died, had a serious adverse event, or had an adverse
event of special interest (SAP "Safety": cytokine release syndrome, ICANS, infection) of CTCAE
grade 3 or higher. Each narrative has three paragraphs:

1. who: age, sex, disease (subtype, Ph status, status at transplant, pre-transplant MRD) and
   the transplant (day 0: donor relation, HLA match, graft source, CD34+ dose, conditioning
   with its days of blinatumomab);
2. what happened, in time order by study day (days from transplant, "Day 13"): engraftment,
   MRD at the landmarks, acute and chronic GVHD, the first relapse, every serious, special-
   interest or fatal adverse event, death with its recorded cause and SAP category;
3. where the patient stands at the data cut.

Every sentence keeps its sources (dataset, record key with USUBJID, row of the dataset file),
so a writer can check each fact and a changed record changes the sentence made from it. Study
days only, never calendar dates; a patient never transplanted has no day 0, so days are counted
from informed consent and said so ("85 days after informed consent"). Terms as the derived data
hold them: the MedDRA preferred term, and free text under the suite's privacy rule (a value
held by fewer than 3 patients is "Other" in ADSL and ADAE already).

Same-day order (SAP v2 ties): engraftment, MRD, GVHD, adverse events, relapse, death: recovery
and GVHD onset on the day of death or relapse count before it, and a relapse on the day of
death makes the death relapse-related. Text generation by rules only, never by a model.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from haplo_report.analysis.derive import OTHER
from haplo_report.analysis.frames import require_columns
from haplo_report.analysis.mrd import LANDMARKS, NEGATIVE, NO_ASSESSMENT, POSITIVE, \
    mrd_by_landmark
from haplo_report.formatting import AT_LEAST, fmt_scientific
from haplo_report.limits import MIN_FREE_TEXT_PATIENTS

AESI_GRADE = 3  # an adverse event of special interest of this grade or higher needs a narrative
REASON_DEATH = "death"
REASON_SERIOUS = "serious adverse event"
REASON_AESI = f"adverse event of special interest of grade {AT_LEAST}3"
REASONS: tuple[str, ...] = (REASON_DEATH, REASON_SERIOUS, REASON_AESI)
# The SAP's death categories (v2; v3 adds death before transplant), in its words.
DEATH_CATEGORIES: dict[str, str] = {"Relapse-related": "relapse-related death",
                                    "Non-relapse": "non-relapse death"}
DEATH_BEFORE_TRANSPLANT = "death before transplant"
AESI_NAMES: dict[str, str] = {"CRS": "cytokine release syndrome", "ICANS": "ICANS",
                              "INFECTION": "infection"}
CAUSES: dict[str, str] = {"RELAPSE": "relapse", "INFECTION": "infection", "GVHD": "GVHD",
                          "TMA": "thrombotic microangiopathy (TMA)",
                          "VOD": "veno-occlusive disease (VOD)", "HEMORRHAGE": "hemorrhage",
                          "OTHER": "other", "UNKNOWN": "unknown"}
DISEASE_STATUS: dict[str, str] = {"CR1": "first complete remission (CR1)",
                                  "CR2": "second complete remission (CR2)",
                                  "CR3+": "third or later complete remission (CR3+)"}
GRAFT_SOURCES: dict[str, str] = {"PBSC": "peripheral blood stem cells (PBSC)",
                                 "BM+PBSC": "bone marrow and peripheral blood stem cells "
                                            "(BM+PBSC)"}
MRD_METHODS: dict[str, str] = {"FCM": "flow cytometry", "QPCR": "qPCR"}
ORGAN_ACRONYMS = frozenset({"GI", "UGI", "LGI", "UPPER GI", "LOWER GI"})
# Same-day order of the course (see the module docstring).
ORDER: dict[str, int] = {"ANC": 0, "PLT": 1, "MRD": 2, "GVHD": 3, "AE": 4, "RELAPSE": 5,
                         "DEATH": 6}
RECOVERY: dict[str, str] = {
    "ANC": "neutrophils recovered (ANC \u22650.5\u00d710\u2079/L)",
    "PLT": "platelets recovered (\u226520\u00d710\u2079/L)"}
NO_RECOVERY: dict[str, str] = {"ANC": "neutrophil recovery", "PLT": "platelet recovery"}
ADSL_COLUMNS = ("USUBJID", "AGE", "SEX", "SUBTYPE", "DISSTAT", "PHGRP", "MRDPRE", "MRDMETH",
                "DONREL", "HLAMATCH", "GRAFTSRC", "CD34DOSE", "BLINDAYS", "CONDREG", "RFICDT",
                "HSCTDT", "FASFL", "CUTDT", "LKADT", "DTHFL", "DTHDT", "DTHCAUS", "DTHCAT",
                "RELFL", "RELDT")
ADAE_COLUMNS = ("USUBJID", "ADY", "AESTDT", "AEDECOD", "AETOXGR", "AESER", "AEREL")
DAY = re.compile(r"\bDay (-?\d+)\b")  # how a narrative quotes a study day


@dataclass(frozen=True)
class Source:
    """One record a sentence was made from: dataset, key (USUBJID and the record's own key,
    in study days), row of the dataset file (1 = first data row) and the variables used."""

    dataset: str
    key: tuple[tuple[str, Any], ...]
    row: int | None
    variables: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "key": dict(self.key), "row": self.row,
                "variables": list(self.variables)}

    def describe(self) -> str:
        """"ADAE row 57 (USUBJID=P-01, ADY=2, AEDECOD=Stomatitis, AETOXGR=3): AESER, AEREL"."""
        key = ", ".join(f"{name}={value}" for name, value in self.key)
        row = "" if self.row is None else f" row {self.row}"
        return f"{self.dataset}{row} ({key}): {', '.join(self.variables)}"


@dataclass(frozen=True)
class Sentence:
    """One sentence of a narrative, its paragraph ("patient", "course", "status") and sources."""

    text: str
    part: str
    sources: tuple[Source, ...]

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "part": self.part,
                "sources": [s.to_json() for s in self.sources]}


@dataclass(frozen=True)
class Narrative:
    """The narrative of one patient: why it is written and its sentences in order."""

    usubjid: str
    reasons: tuple[str, ...]
    sentences: tuple[Sentence, ...]

    @property
    def paragraphs(self) -> list[str]:
        """The text by paragraph (who, course, status), sentences joined by a space."""
        parts: dict[str, list[str]] = {}
        for sentence in self.sentences:
            parts.setdefault(sentence.part, []).append(sentence.text)
        return [" ".join(texts) for texts in parts.values()]

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    def to_json(self) -> dict[str, Any]:
        return {"usubjid": self.usubjid, "reasons": list(self.reasons), "text": self.text,
                "sentences": [s.to_json() for s in self.sentences]}


@dataclass
class _Event:
    """One dated fact of the course before it becomes a sentence."""

    day: int | None  # None: a fact without a day of its own (placed at ``position``)
    position: float  # where it sits in time order
    kind: str  # key of ORDER
    tie: str  # same day and kind: text order
    clause: str  # "the patient had ..." (after "On Day N, ")
    sources: tuple[Source, ...]
    quoted: bool = True  # False: ``clause`` is a whole sentence without a day


@dataclass
class _Records:
    """One patient's records from each dataset, each with its row number."""

    ae: list[dict[str, Any]] = field(default_factory=list)
    mrd: list[dict[str, Any]] = field(default_factory=list)
    gvhd: list[dict[str, Any]] = field(default_factory=list)
    tte: dict[str, dict[str, Any]] = field(default_factory=dict)
    landmarks: list[dict[str, Any]] = field(default_factory=list)


def _present(value: Any) -> bool:
    """Not missing (None, NaN, NA, NaT)."""
    return not pd.isna(value)


def _text(value: Any) -> str | None:
    return str(value) if _present(value) else None


def _number(value: float) -> str:
    """A dose or similar: "3.7", "10" (no trailing zeros)."""
    return f"{float(value):g}"


def _rows_by_patient(frame: pd.DataFrame | None, patients: set[str]) -> dict[str, list[dict]]:
    """Records of ``patients`` as dicts with ``_ROW`` (1-based position in the dataset file:
    the frame's index when it is the file position, as :func:`derive.load_derived` reads)."""
    found: dict[str, list[dict]] = defaultdict(list)
    if frame is None or frame.empty:
        return found
    chosen = frame[frame["USUBJID"].astype(str).isin(patients)]
    for position, record in zip(chosen.index, chosen.to_dict("records")):
        record["_ROW"] = int(position) + 1
        found[str(record["USUBJID"])].append(record)
    return found


def narrative_reasons(adsl: pd.DataFrame, adae: pd.DataFrame | None
                      ) -> dict[str, tuple[str, ...]]:
    """Per enrolled patient needing a narrative (patient order), the reasons (:data:`REASONS`
    order): death, a serious adverse event, an AESI of grade 3 or higher."""
    require_columns(adsl, ["USUBJID", "DTHFL"], "ADSL")
    reasons: dict[str, list[str]] = defaultdict(list)
    for usubjid in adsl.loc[adsl["DTHFL"].astype("string").eq("Y").fillna(False), "USUBJID"]:
        reasons[str(usubjid)].append(REASON_DEATH)
    if adae is not None and not adae.empty:
        require_columns(adae, ["USUBJID", "AESER", "AETOXGR"], "ADAE")
        serious = adae["AESER"].astype("string").eq("Y").fillna(False)
        aesi = (adae["AESI"].astype("string").str.upper().isin(list(AESI_NAMES)).fillna(False)
                if "AESI" in adae.columns else pd.Series(False, index=adae.index))
        grade = pd.to_numeric(adae["AETOXGR"], errors="coerce")
        significant = aesi & (grade >= AESI_GRADE).fillna(False)
        for reason, mask in ((REASON_SERIOUS, serious), (REASON_AESI, significant)):
            for usubjid in adae.loc[mask.to_numpy(dtype=bool), "USUBJID"].astype(str).unique():
                reasons[usubjid].append(reason)
    order = {str(u): i for i, u in enumerate(adsl["USUBJID"])}
    return {u: tuple(r for r in REASONS if r in reasons[u])
            for u in sorted((u for u in reasons if u in order), key=order.__getitem__)}


def build_narratives(adsl: pd.DataFrame, adae: pd.DataFrame | None,
                     admrd: pd.DataFrame | None, adgvhd: pd.DataFrame | None,
                     adtte: pd.DataFrame | None, *, mrd_threshold: float, mrd_window_days: int,
                     mrd_window_days_365: int, limit: int | None = None) -> list[Narrative]:
    """The narrative of every patient :func:`narrative_reasons` names, in patient order; none
    when they are more than ``limit``.

    ``adae``, ``admrd``, ``adgvhd`` are None when their input table was not supplied (the
    narratives then say nothing of them); ``adtte`` gives engraftment (``ANC``, ``PLT``
    rows; none when engraftment was not supplied). Frames indexed by their file position
    (as :func:`haplo_report.analysis.derive.load_derived` reads them) give each source its
    row.
    """
    require_columns(adsl, ADSL_COLUMNS, "ADSL")
    reasons = narrative_reasons(adsl, adae)
    if limit is not None and len(reasons) > limit:
        return []
    patients = set(reasons)
    if adae is not None:
        require_columns(adae, ADAE_COLUMNS, "ADAE")
    records: dict[str, _Records] = defaultdict(_Records)
    for usubjid, rows in _rows_by_patient(adae, patients).items():
        records[usubjid].ae = rows
    for usubjid, rows in _rows_by_patient(admrd, patients).items():
        records[usubjid].mrd = rows
    for usubjid, rows in _rows_by_patient(adgvhd, patients).items():
        records[usubjid].gvhd = rows
    if adtte is not None and not adtte.empty:
        engraftment = adtte[adtte["PARAMCD"].astype(str).isin(list(RECOVERY))]
        for usubjid, rows in _rows_by_patient(engraftment, patients).items():
            records[usubjid].tte = {str(r["PARAMCD"]): r for r in rows}
    chosen = adsl[adsl["USUBJID"].astype(str).isin(patients)]
    if admrd is not None and (chosen["FASFL"] == "Y").any():
        landmarks = mrd_by_landmark(chosen, admrd[admrd["USUBJID"].astype(str).isin(patients)],
                                    threshold=mrd_threshold, window_days=mrd_window_days,
                                    window_days_365=mrd_window_days_365)
        for record in landmarks.to_dict("records"):
            records[str(record["USUBJID"])].landmarks.append(record)
    windows = {landmark: (mrd_window_days_365 if landmark == 365 else mrd_window_days)
               for landmark in LANDMARKS}
    subjects = {str(r["USUBJID"]): (int(position) + 1, r)
                for position, r in zip(chosen.index, chosen.to_dict("records"))}
    return [_narrative(usubjid, reasons[usubjid], *subjects[usubjid], records[usubjid],
                       windows)
            for usubjid in reasons]


def _adsl(usubjid: str, row: int, *variables: str) -> Source:
    return Source("ADSL", (("USUBJID", usubjid),), row, variables)


def _narrative(usubjid: str, reasons: tuple[str, ...], row: int, subject: dict[str, Any],
               records: _Records, windows: dict[int, int]) -> Narrative:
    transplanted = subject["FASFL"] == "Y"
    sentences = [*_who(usubjid, row, subject, transplanted)]
    origin = subject["HSCTDT"] if transplanted else subject["RFICDT"]

    def day_of(date: Any) -> int | None:
        return None if not _present(date) else int((pd.Timestamp(date) - origin).days)

    events = [*_ae_events(usubjid, records.ae, day_of, None if transplanted else
                          _adsl(usubjid, row, "RFICDT")),
              *_death_relapse_events(usubjid, row, subject, transplanted, day_of)]
    if transplanted:
        events += [*_engraftment_events(usubjid, records.tte),
                   *_mrd_events(usubjid, records, windows),
                   *_gvhd_events(usubjid, records.gvhd)]
    sentences += _course(events, transplanted)
    sentences.append(_status(usubjid, row, subject, transplanted, day_of))
    return Narrative(usubjid, reasons, tuple(sentences))


def _who(usubjid: str, row: int, subject: dict[str, Any], transplanted: bool
         ) -> list[Sentence]:
    age, sex = subject["AGE"], _text(subject["SEX"])
    person = {"M": "male", "F": "female"}.get(sex or "", "")
    years = f"{int(age)}-year-old " if _present(age) else ""
    subtype, ph = _text(subject["SUBTYPE"]), _text(subject["PHGRP"])
    notes = []
    if subtype is None or subtype == OTHER:
        disease = "acute lymphoblastic leukemia"
        notes.append("subtype not recorded" if subtype is None else
                     f"a subtype held by fewer than {MIN_FREE_TEXT_PATIENTS} patients, not named")
    else:
        disease = subtype
    if ph and ph.lower() not in disease.lower():
        notes.append(ph)
    if notes:
        disease += f" ({'; '.join(notes)})"
    parts = [f"{usubjid} is a {years}{person + ' ' if person else ''}patient with {disease}"]
    status = _text(subject["DISSTAT"])
    if status:
        parts.append(f"in {DISEASE_STATUS.get(status, status)} at transplant"
                     if transplanted else f"in {DISEASE_STATUS.get(status, status)}")
    text = ", ".join(parts)
    if _present(subject["MRDPRE"]):
        method = MRD_METHODS.get(_text(subject["MRDMETH"]) or "", _text(subject["MRDMETH"]))
        text += (f", and pre-transplant MRD of {fmt_scientific(float(subject['MRDPRE']))}"
                 + (f" by {method}" if method else ""))
    who = Sentence(text + ".", "patient", (_adsl(
        usubjid, row, "AGE", "SEX", "SUBTYPE", "PHGRP", "DISSTAT", "MRDPRE", "MRDMETH"),))
    return [who, _transplant(usubjid, row, subject, transplanted)]


def _transplant(usubjid: str, row: int, subject: dict[str, Any], transplanted: bool
                ) -> Sentence:
    days = subject["BLINDAYS"]
    blina = (f"{int(days)} day{'s' if int(days) != 1 else ''} of blinatumomab"
             if _present(days) else "blinatumomab days not recorded")
    regimen = _text(subject["CONDREG"])
    if regimen == OTHER:
        regimen = (f"a regimen held by fewer than {MIN_FREE_TEXT_PATIENTS} patients "
                   f"(not named)")
    if not transplanted:
        text = ("The patient was not transplanted by the data cut; the recorded conditioning is "
                + (f"{regimen} with {blina}." if regimen else f"not named, with {blina}."))
        return Sentence(text, "patient", (_adsl(usubjid, row, "HSCTDT", "CONDREG",
                                                "BLINDAYS"),))
    donor = _text(subject["DONREL"])
    graft = _text(subject["GRAFTSRC"])
    details = []
    if _text(subject["HLAMATCH"]):
        details.append(f"HLA match {subject['HLAMATCH']}")
    if _present(subject["CD34DOSE"]):
        details.append(f"CD34+ dose {_number(subject['CD34DOSE'])}\u00d710\u2076 cells/kg")
    text = ("On Day 0 the patient received a haploidentical transplant"
            + (f" of {GRAFT_SOURCES.get(graft, graft)}" if graft else "")
            + (f" from the patient's {donor}" if donor and donor != "other"
               else " from a donor of another relation" if donor == "other" else "")
            + (f" ({'; '.join(details)})" if details else "")
            + (f", after conditioning with {regimen} including {blina}" if regimen
               else f", after conditioning including {blina}") + ".")
    return Sentence(text, "patient", (_adsl(usubjid, row, "HSCTDT", "DONREL", "HLAMATCH",
                                            "GRAFTSRC", "CD34DOSE", "CONDREG", "BLINDAYS"),))


def _ae_source(usubjid: str, record: dict[str, Any], *dates: str) -> Source:
    day = record["ADY"]
    key = (("USUBJID", usubjid), ("ADY", int(day) if _present(day) else None),
           ("AEDECOD", _text(record["AEDECOD"])), ("AETOXGR", _grade(record)))
    return Source("ADAE", key, record["_ROW"],
                  ("AEDECOD", "AETOXGR", "AESER", "AEREL", "AESI", *dates))


def _grade(record: dict[str, Any]) -> int | None:
    grade = record["AETOXGR"]
    return int(grade) if _present(grade) else None


def _ae_events(usubjid: str, rows: list[dict[str, Any]], day_of: Any,
               consent: Source | None) -> list[_Event]:
    """Serious, special-interest and fatal adverse events of the patient, on their study day
    (``ADY``), or for a patient never transplanted days after the ``consent`` record."""
    events = []
    for record in rows:
        aesi = (_text(record.get("AESI")) or "").upper()
        grade = _grade(record)
        serious = _text(record["AESER"])
        if not (serious == "Y" or aesi in AESI_NAMES or grade == 5):
            continue
        term = _text(record["AEDECOD"]) or "an uncoded adverse event"
        details = [f"grade {grade}" if grade is not None else "grade not recorded"]
        details.append({"Y": "serious", "N": "not serious"}.get(serious or "",
                                                               "seriousness not recorded"))
        if aesi in AESI_NAMES:
            details.append(f"adverse event of special interest: {AESI_NAMES[aesi]}")
        details.append({"Y": "related to blinatumomab",
                        "N": "not related to blinatumomab"}.get(
            _text(record["AEREL"]) or "", "relation to blinatumomab not recorded"))
        if grade == 5:
            details.append("fatal")
        day = int(record["ADY"]) if consent is None else day_of(record["AESTDT"])
        sources = (_ae_source(usubjid, record),) if consent is None else (
            _ae_source(usubjid, record, "AESTDT"), consent)
        events.append(_Event(day, float(day), "AE", term,
                             f"the patient had {term} ({', '.join(details)})",
                             sources))
    return events


def _death_relapse_events(usubjid: str, row: int, subject: dict[str, Any], transplanted: bool,
                          day_of: Any) -> list[_Event]:
    events = []
    if transplanted and subject["RELFL"] == "Y" and _present(subject["RELDT"]):
        day = day_of(subject["RELDT"])
        events.append(_Event(day, float(day), "RELAPSE", "", "the leukemia relapsed (first "
                             "relapse)", (_adsl(usubjid, row, "HSCTDT", "RELDT"),)))
    if subject["DTHFL"] == "Y" and _present(subject["DTHDT"]):
        day = day_of(subject["DTHDT"])
        cause = _text(subject["DTHCAUS"]) or "UNKNOWN"
        category = (DEATH_CATEGORIES.get(_text(subject["DTHCAT"]) or "",
                                         _text(subject["DTHCAT"]) or "not derived")
                    if transplanted else DEATH_BEFORE_TRANSPLANT)
        clause = (f"the patient died (recorded cause: {CAUSES.get(cause, cause)}; "
                  f"SAP category: {category})")
        events.append(_Event(day, float(day), "DEATH", "", clause, (_adsl(
            usubjid, row, "HSCTDT" if transplanted else "RFICDT", "DTHDT", "DTHCAUS", "DTHCAT",
            "RELDT", "FASFL"),)))
    return events


def _engraftment_events(usubjid: str, tte: dict[str, dict[str, Any]]) -> list[_Event]:
    """Recovery on its day; no recovery (before death or the end of follow-up) as a sentence
    without a day of its own, just before that day; no engraftment record once."""
    events, no_record = [], []
    for paramcd in RECOVERY:
        if paramcd not in tte:
            continue
        record = tte[paramcd]
        source = Source("ADTTE", (("USUBJID", usubjid), ("PARAMCD", paramcd)), record["_ROW"],
                        ("AVAL", "CNSR", "EVNTDESC"))
        day, censored = int(record["AVAL"]), int(record["CNSR"])
        if censored == 0:
            events.append(_Event(day, float(day), paramcd, "", RECOVERY[paramcd], (source,)))
        elif censored == 4:
            no_record.append(source)
        else:
            before = "death" if censored == 3 else "the end of follow-up"
            events.append(_Event(None, day - 0.5, paramcd, "",
                                 f"No {NO_RECOVERY[paramcd]} was recorded before {before}.",
                                 (source,), quoted=False))
    if no_record:
        events.append(_Event(None, math.inf, "ANC", "", "No engraftment record was supplied.",
                             tuple(no_record), quoted=False))
    return events


def _mrd_events(usubjid: str, records: _Records, windows: dict[int, int]) -> list[_Event]:
    """The assessment counted at each landmark (:func:`mrd_by_landmark`), on its day; no
    assessment in a landmark's window as a sentence at the landmark."""
    events = []
    for landmark in records.landmarks:
        status, at = str(landmark["STATUS"]), int(landmark["LANDMARK"])
        if status == NO_ASSESSMENT:
            events.append(_Event(None, at + 0.5, "MRD", "",
                                 f"No MRD assessment was recorded in the window of the "
                                 f"{at}-day landmark (\u00b1{windows[at]} days).",
                                 (Source("ADMRD", (("USUBJID", usubjid),), None, ("ADY",)),),
                                 quoted=False))
            continue
        if status not in (NEGATIVE, POSITIVE):
            continue
        day, result = int(landmark["ADY"]), float(landmark["RESULT"])
        same_day = [r for r in records.mrd if _present(r["ADY"]) and int(r["ADY"]) == day]
        record = max(same_day, key=lambda r: (float(r["RESULT"]), -r["_ROW"]))
        method = MRD_METHODS.get(_text(record.get("METHOD")) or "", _text(record.get("METHOD")))
        level = "undetectable" if result == 0 else fmt_scientific(result)
        word = "negative" if status == NEGATIVE else "positive"
        clause = (f"MRD was {word} ({level}{', ' + method if method else ''}) at the "
                  f"assessment counted for the {at}-day landmark")
        source = Source("ADMRD", (("USUBJID", usubjid), ("ADY", day),
                                  ("METHOD", _text(record.get("METHOD")))), record["_ROW"],
                        ("RESULT",))
        events.append(_Event(day, float(day), "MRD", f"{at:04d}", clause, (source,)))
    return events


def _organs(text: str | None) -> str:
    if not text:
        return ""
    names = [p if p in ORGAN_ACRONYMS else p.lower() for p in text.split(";") if p]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _gvhd_events(usubjid: str, rows: list[dict[str, Any]]) -> list[_Event]:
    events = []
    for record in rows:
        kind = (_text(record["GVHDTYPE"]) or "").upper()
        grade = _text(record["GRADE"])
        day = int(record["ADY"])
        if kind == "ACUTE":
            what = f"acute GVHD of grade {grade} (MAGIC)" if grade else "acute GVHD"
        else:
            what = (f"{grade.lower()} chronic GVHD (NIH 2014)" if grade else "chronic GVHD")
        organs = _organs(_text(record.get("ORGANS")))
        therapy = {"Y": "needing systemic therapy", "N": "without systemic therapy"}.get(
            _text(record.get("SYSTX")) or "")
        clause = (f"{what} began" + (f", involving {organs}" if organs else "")
                  + (f", {therapy}" if therapy else ""))
        source = Source("ADGVHD", (("USUBJID", usubjid), ("GVHDTYPE", kind), ("ADY", day)),
                        record["_ROW"], ("GRADE", "ORGANS", "SYSTX"))
        events.append(_Event(day, float(day), "GVHD", kind, clause, (source,)))
    return events


def _course(events: list[_Event], transplanted: bool) -> list[Sentence]:
    """The events in time order as sentences: "On Day 13, ..."; a second event of the same
    day "On the same day, ..."; a patient never transplanted counts days from consent."""
    ordered = sorted(events, key=lambda e: (e.position, ORDER[e.kind], e.tie, e.clause))
    sentences, previous = [], None
    for event in ordered:
        if not event.quoted:
            sentences.append(Sentence(event.clause, "course", event.sources))
            previous = None
            continue
        if event.day == previous:
            lead = "On the same day, "
        elif transplanted:
            lead = f"On Day {event.day}, "
        else:
            lead = f"{event.day} day{'s' if abs(event.day) != 1 else ''} after informed " \
                   f"consent, "
        sentences.append(Sentence(lead + event.clause + ".", "course", event.sources))
        previous = event.day
    return sentences


def _status(usubjid: str, row: int, subject: dict[str, Any], transplanted: bool,
            day_of: Any) -> Sentence:
    origin = "HSCTDT" if transplanted else "RFICDT"
    if subject["DTHFL"] == "Y" and _present(subject["DTHDT"]):
        day = day_of(subject["DTHDT"])
        text = (f"At the data cut the patient had died (Day {day})." if transplanted else
                f"At the data cut the patient had died, {day} days after informed consent, "
                f"without having been transplanted.")
        return Sentence(text, "status", (_adsl(usubjid, row, "DTHFL", "DTHDT", origin),))
    day = day_of(subject["LKADT"])
    text = (f"At the data cut the patient was alive, last contact on Day {day}."
            if transplanted else
            f"At the data cut the patient was alive and not transplanted, last contact "
            f"{day} days after informed consent.")
    return Sentence(text, "status", (_adsl(usubjid, row, "DTHFL", "LKADT", origin),))


def quoted_days(text: str) -> list[int]:
    """Every study day a text quotes ("Day 13", "Day -2")."""
    return [int(day) for day in DAY.findall(text)]


def write_narratives_json(narratives: Iterable[Narrative], path: Path, *, study_id: str,
                          data_cut: str) -> Path:
    """``narratives.json``: study, data cut and per patient ``usubjid``, ``reasons``,
    ``text`` and ``sentences`` with their sources (sorted keys, stable bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"study_id": study_id, "data_cut": data_cut,
                "narratives": [n.to_json() for n in narratives]}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    return path

"""What the analysis datasets mean, for SAS transport labels and Define-XML: dataset labels,
variable labels, derivations (from the SAP) and the codelists of coded variables.

One entry per variable the derivation writes; a variable missing here stops the writers with
its name, so a new derived column cannot reach a submission without a label.
"""

from __future__ import annotations

from dataclasses import dataclass

STUDY_VARIABLE = "STUDYID"  # added to every dataset, as ADaM requires


@dataclass(frozen=True)
class Variable:
    """One variable: its label (<= 40 ASCII characters) and where it comes from."""

    label: str
    derivation: str | None = None  # None: copied from the data cut (origin "Predecessor")
    codelist: str | None = None


DATASET_LABELS: dict[str, str] = {
    "ADSL": "Subject-Level Analysis Dataset",
    "ADTTE": "Time-to-Event Analysis Dataset",
    "ADMRD": "MRD Assessments Analysis Dataset",
    "ADGVHD": "GVHD Episodes Analysis Dataset",
    "ADAE": "Adverse Events Analysis Dataset",
}
DATASET_CLASSES: dict[str, str] = {
    "ADSL": "SUBJECT LEVEL ANALYSIS DATASET",
    "ADTTE": "BASIC DATA STRUCTURE",
    "ADMRD": "OCCURRENCE DATA STRUCTURE",
    "ADGVHD": "OCCURRENCE DATA STRUCTURE",
    "ADAE": "OCCURRENCE DATA STRUCTURE",
}
DATASET_KEYS: dict[str, tuple[str, ...]] = {
    "ADSL": ("STUDYID", "USUBJID"),
    "ADTTE": ("STUDYID", "USUBJID", "PARAMCD"),
    "ADMRD": ("STUDYID", "USUBJID", "MRDDT", "METHOD"),
    "ADGVHD": ("STUDYID", "USUBJID", "GVHDTYPE", "ONSETDT"),
    "ADAE": ("STUDYID", "USUBJID", "AEDECOD", "AESTDT"),
}

_CUT = "Only records dated on or before the data cut date are kept."
_SUBGROUP = "Subgroup of the SAP (exploratory comparisons)."

COMMON: dict[str, Variable] = {
    "STUDYID": Variable("Study Identifier", "The run's study_id parameter."),
    "USUBJID": Variable("Unique Subject Identifier"),
    "ADY": Variable("Analysis Relative Day",
                    "Days from transplant (HSCTDT, day 0) to the record's date."),
    "MRDGRP": Variable("Pre-transplant MRD Group",
                       f"MRDPRE >= 1e-3 vs < 1e-3. {_SUBGROUP}", "MRDGRP"),
    "DISGRP": Variable("Disease Status Group",
                       f"CR1 vs CR2 or later (DISSTAT). {_SUBGROUP}", "DISGRP"),
    "PHGRP": Variable("Ph Status Group",
                      f"Ph-positive vs not (Ph-like counts as Ph-negative). {_SUBGROUP}",
                      "PHGRP"),
}

VARIABLES: dict[str, dict[str, Variable]] = {
    "ADSL": {
        "SITEID": Variable("Study Site Identifier"),
        "AGE": Variable("Age (years)"),
        "SEX": Variable("Sex", codelist="SEX"),
        "SUBTYPE": Variable("ALL Subtype"),
        "DISSTAT": Variable("Disease Status at Transplant", codelist="DISSTAT"),
        "MRDPRE": Variable("MRD Before Conditioning (fraction)"),
        "MRDMETH": Variable("MRD Method Before Conditioning", codelist="MRDMETH"),
        "DONREL": Variable("Donor Relation"),
        "HLAMATCH": Variable("HLA Match (loci matched)"),
        "GRAFTSRC": Variable("Graft Source"),
        "CD34DOSE": Variable("CD34+ Dose (x10^6 cells/kg)"),
        "BLINDAYS": Variable("Days of Blinatumomab in Conditioning"),
        "CONDREG": Variable("Conditioning Regimen"),
        "RFICDT": Variable("Date of Informed Consent"),
        "HSCTDT": Variable("Date of Transplant"),
        "LSTALVDT": Variable("Date Last Known Alive (as recorded)",
                             "As supplied in the subjects table."),
        "LKADT": Variable("Last Known Alive Date at the Cut",
                          "Latest of LSTALVDT and every dated record of the patient before "
                          "death and on or before the cut (relapse, MRD, GVHD onset, "
                          "engraftment, adverse event start), capped at the cut."),
        "ENRLFL": Variable("Enrolled Population Flag",
                           "Y when informed consent (RFICDT) is on or before the cut.", "NY"),
        "FASFL": Variable("Full Analysis Set Population Flag",
                          "Y when transplanted (HSCTDT) on or before the cut.", "NY"),
        "SAFFL": Variable("Safety Population Flag",
                          "Y when enrolled and BLINDAYS > 0.", "NY"),
        "CUTDT": Variable("Data Cut Date", "The run's data_cut_date parameter."),
        "EOSDT": Variable("End of Follow-up Date",
                          "Death on or before the cut, else LKADT."),
        "FUPDAYS": Variable("Follow-up (days from transplant)", "EOSDT - HSCTDT."),
        "DTHFL": Variable("Subject Death Flag", f"Y when a death is recorded. {_CUT}", "NY"),
        "DTHDT": Variable("Date of Death", _CUT),
        "DTHCAUS": Variable("Cause of Death", codelist="DTHCAUS"),
        "DTHCAT": Variable("Death Category",
                           "Death before transplant: died without transplant on or before "
                           "the cut, whatever the cause; otherwise relapse-related: death on "
                           "or after the first relapse, whatever the recorded cause; otherwise "
                           "non-relapse.", "DTHCAT"),
        "RELFL": Variable("Relapse Flag", f"Y when a relapse is recorded. {_CUT}", "NY"),
        "RELDT": Variable("Date of First Relapse", _CUT),
    },
    "ADTTE": {
        "PARAMCD": Variable("Parameter Code", "One row per FAS patient per endpoint.",
                            "PARAMCD"),
        "PARAM": Variable("Parameter", codelist="PARAM"),
        "STARTDT": Variable("Time-to-Event Origin Date", "Date of transplant (HSCTDT)."),
        "ADT": Variable("Analysis Date",
                        "Date of the event, competing event or end of follow-up."),
        "AVAL": Variable("Analysis Value (days)", "ADT - STARTDT, in days."),
        "CNSR": Variable("Censor", "0 event; 1 censored at last known alive; 2 censored at "
                         "the data cut; 3 competing event; 4 other.", "CNSR"),
        "EVNTTYPE": Variable("Event Type", "0 censored; 1 event of interest; 2 competing "
                             "event (SAP endpoint table).", "EVNTTYPE"),
        "EVNTDESC": Variable("Event or Censoring Description", codelist="EVNTDESC"),
        "CNSDTDSC": Variable("Censor Date Description", codelist="CNSDTDSC"),
    },
    "ADMRD": {
        "MRDDT": Variable("Date of MRD Assessment", _CUT),
        "METHOD": Variable("MRD Method", codelist="MRDMETH"),
        "RESULT": Variable("MRD Result (fraction)"),
    },
    "ADGVHD": {
        "GVHDTYPE": Variable("GVHD Type", codelist="GVHDTYPE"),
        "ONSETDT": Variable("Date of GVHD Onset", _CUT),
        "GRADE": Variable("GVHD Grade or Severity", codelist="GRADE"),
        "ORGANS": Variable("Organs Involved"),
        "SYSTX": Variable("Systemic Therapy Needed", codelist="NY"),
    },
    "ADAE": {
        "AETERM": Variable("Reported Term for the Adverse Event"),
        "AEDECOD": Variable("Dictionary-Derived Term"),
        "AEBODSYS": Variable("Body System or Organ Class"),
        "AETOXGR": Variable("Standard Toxicity Grade", codelist="AETOXGR"),
        "AESER": Variable("Serious Event", codelist="NY"),
        "AEREL": Variable("Related to Blinatumomab", codelist="NY"),
        "AESI": Variable("Adverse Event of Special Interest", codelist="AESI"),
        "AESTDT": Variable("Start Date of Adverse Event", _CUT),
        "SAFFL": Variable("Safety Population Flag", "From ADSL.", "NY"),
    },
}

# Codelists with fixed values (decodes where the code is not self-explanatory); the others
# (PARAM, EVNTDESC, CNSDTDSC, free subgroups) list the values present in the data.
CODELISTS: dict[str, dict[str, str]] = {
    "NY": {"N": "No", "Y": "Yes"},
    "SEX": {"F": "Female", "M": "Male"},
    "DISSTAT": {"CR1": "First complete remission", "CR2": "Second complete remission",
                "CR3+": "Third or later complete remission"},
    "MRDMETH": {"FCM": "Flow cytometry", "QPCR": "Quantitative PCR"},
    "DTHCAUS": {code: code.title() for code in ("RELAPSE", "INFECTION", "GVHD", "TMA", "VOD",
                                                 "HEMORRHAGE", "OTHER", "UNKNOWN")},
    "CNSR": {"0": "Event", "1": "Censored at last known alive", "2": "Censored at data cut",
             "3": "Competing event", "4": "Other"},
    "EVNTTYPE": {"0": "Censored", "1": "Event of interest", "2": "Competing event"},
    "GVHDTYPE": {"ACUTE": "Acute GVHD", "CHRONIC": "Chronic GVHD"},
    "GRADE": {"I": "Grade I", "II": "Grade II", "III": "Grade III", "IV": "Grade IV",
              "MILD": "Mild", "MODERATE": "Moderate", "SEVERE": "Severe"},
    "AETOXGR": {str(grade): f"CTCAE grade {grade}" for grade in range(1, 6)},
    "AESI": {"CRS": "Cytokine release syndrome", "ICANS": "Neurotoxicity (ICANS)",
             "INFECTION": "Infection"},
}


class MetadataError(ValueError):
    """A dataset has a variable without metadata, or metadata that break SAS transport rules."""


def variable(dataset: str, name: str) -> Variable:
    """The metadata of ``dataset.name``; :class:`MetadataError` naming it when there is none."""
    found = VARIABLES.get(dataset, {}).get(name) or COMMON.get(name)
    if found is None:
        raise MetadataError(f"{dataset}.{name} has no label: add it to "
                            "haplo_report/outputs/standards/metadata.py")
    return found

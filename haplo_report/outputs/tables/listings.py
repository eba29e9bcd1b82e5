"""Per-patient listings (ICH E3 appendix 16.2 numbering): one row per patient or event.

Privacy rule: listings show study days from transplant, never calendar dates, unless the run
asks for dates (parameter ``listing_dates``). A listing longer than a reader can use in the
report (more than :data:`haplo_report.limits.MAX_PATIENTS_SHOWN` patients, the swimmer plot's
limit too) is written as CSV only and the report says where it is.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from haplo_report.analysis.derive import BEFORE_TRANSPLANT
from haplo_report.analysis.mrd import (EVENT_BY_LANDMARK, NEGATIVE, NO_ASSESSMENT, NOT_REACHED,
                                       POSITIVE)
from haplo_report.formatting import AT_LEAST, fmt_scientific
from haplo_report.limits import MAX_PATIENTS_SHOWN
from haplo_report.outputs.tables.core import Table, TableInputError, code_label, sentence_case

LANDMARK_COLUMNS = ("USUBJID", "LANDMARK", "STATUS", "ADY", "RESULT")
STATUS_COLUMNS = ("USUBJID", "STATUS", "REASON")
EVENT_COLUMNS = ("USUBJID", "SAFFL", "ADY", "DATE", "EVENT", "TERM", "SOC", "GRADE",
                 "RELATED", "DTHCAT")
LANDMARK_LABELS: dict[str, str] = {
    NOT_REACHED: "After the cut", EVENT_BY_LANDMARK: "Relapse or death by then",
    NO_ASSESSMENT: "No assessment", NEGATIVE: "Negative", POSITIVE: "Positive",
}


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str, number: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise TableInputError(f"Listing {number}: {what} lacks column(s) {', '.join(missing)}")


def _when(day: object, date: object, listing_dates: bool) -> str:
    """A study day, or with ``listing_dates`` the calendar date; "" when missing."""
    if listing_dates:
        return "" if date is None or pd.isna(date) else pd.Timestamp(date).date().isoformat()
    return "" if day is None or pd.isna(day) else str(int(day))


def _landmark_cell(status: str, result: float, day: object, date: object, *,
                   listing_dates: bool) -> str:
    label = LANDMARK_LABELS.get(status, status)
    if status not in (NEGATIVE, POSITIVE):
        return label
    level = "undetectable" if result == 0 else fmt_scientific(result)
    where = ("" if listing_dates else "day ") + _when(day, date, listing_dates)
    return f"{label}, {level} ({where})"


def listing_16_2_6(landmarks: pd.DataFrame, status: pd.DataFrame, data_cut: str, *,
                   threshold: float, transplant_dates: pd.Series | None = None,
                   listing_dates: bool = False) -> Table:
    """Listing 16.2.6, MRD status by patient (FAS): the status at each landmark
    (:func:`haplo_report.analysis.mrd.mrd_by_landmark`: ``USUBJID, LANDMARK, STATUS, ADY,
    RESULT``) with the assessment that counted, and the 1-year category with its reason
    (:func:`haplo_report.analysis.mrd.mrd_status_1y`: ``USUBJID, STATUS, REASON``).

    Assessments are shown by study day, or by date (transplant date + day) when
    ``listing_dates``; ``transplant_dates`` (``HSCTDT`` indexed by ``USUBJID``) is then needed.
    """
    _require(landmarks, LANDMARK_COLUMNS, "MRD landmark status", "16.2.6")
    _require(status, STATUS_COLUMNS, "MRD 1-year status", "16.2.6")
    if listing_dates and transplant_dates is None:
        raise TableInputError("Listing 16.2.6: listing_dates needs the transplant dates")
    times = sorted(landmarks["LANDMARK"].unique())
    data = landmarks.copy()
    if listing_dates:
        hsct = data["USUBJID"].map(transplant_dates)
        shown = data["ADY"].notna()
        if (shown & hsct.isna()).any():
            patient = data.loc[shown & hsct.isna(), "USUBJID"].iloc[0]
            raise TableInputError(f"Listing 16.2.6: no transplant date for {patient}")
        data["DATE"] = pd.to_datetime(hsct) + pd.to_timedelta(
            data["ADY"].astype("float64"), unit="D")
    else:
        data["DATE"] = pd.NaT
    cells: dict[tuple[str, int], str] = {
        (r["USUBJID"], int(r["LANDMARK"])): _landmark_cell(
            r["STATUS"], r["RESULT"], r["ADY"], r["DATE"], listing_dates=listing_dates)
        for r in data.to_dict("records")}  # iterrows: seconds at 100,000 patients
    rows = []
    for patient in status.to_dict("records"):
        category = sentence_case(str(patient["STATUS"]))
        rows.append((str(patient["USUBJID"]),
                     *(cells.get((patient["USUBJID"], int(t)), "") for t in times),
                     f"{category}: {patient['REASON']}"))
    columns = ("Patient", *(f"Day {int(t)}" for t in times), "MRD-negative at 1 year")
    when = ("date" if listing_dates else "study day (days from transplant, day 0)")
    notes = ("Per landmark: the MRD assessment that counts (closest to the landmark within its "
             f"window; at equal distance the later one) with its result and {when}. After the "
             "cut: the landmark day is after the data cut. Relapse or death by then: on or "
             "before the landmark day. No assessment: alive and relapse-free, none in the "
             "window.",
             f"MRD result: fraction of leukemic cells; positive when {AT_LEAST}"
             f"{fmt_scientific(threshold)} (both methods); undetectable: 0. Two results on one "
             "day: the higher is shown (MRD-positive if either is).",
             "MRD-negative at 1 year: category of the registration's endpoint (Table 14.2.8) "
             "and the reason.")
    return Table("16.2.6", "MRD status by patient", "FAS", data_cut, columns, tuple(rows),
                 footnotes=notes, source="16_listings", kind="Listing")


def death_event(category: object) -> str:
    """A death as Listing 16.2.7 names it, in the words of Table 14.3.10's rows: "Death:
    Relapse-related", "Death: Non-relapse", "Death before transplant" (SAP v3)."""
    if category is None or pd.isna(category):
        return "Death"
    return str(category) if category == BEFORE_TRANSPLANT else f"Death: {category}"


def listing_16_2_7(events: pd.DataFrame, data_cut: str, *, listing_dates: bool = False
                   ) -> Table:
    """Listing 16.2.7, deaths and serious adverse events by patient (enrolled patients), from
    :func:`haplo_report.analysis.summaries.deaths_and_serious_events`: one row per event, by
    study day (or date when ``listing_dates``)."""
    _require(events, EVENT_COLUMNS, "deaths and serious adverse events", "16.2.7")
    rows = []
    for event in events.to_dict("records"):
        death = event["EVENT"] == "Death"
        day = _when(event["ADY"], event["DATE"], listing_dates)
        rows.append((str(event["USUBJID"]), day or "not transplanted",
                     death_event(event["DTHCAT"]) if death else str(event["EVENT"]),
                     code_label(str(event["TERM"])) if death else str(event["TERM"]),
                     "" if pd.isna(event["SOC"]) else str(event["SOC"]),
                     "" if pd.isna(event["GRADE"]) else str(int(event["GRADE"])),
                     "" if pd.isna(event["RELATED"]) else
                     {"Y": "Yes", "N": "No"}.get(str(event["RELATED"]), str(event["RELATED"])),
                     "Yes" if event["SAFFL"] == "Y" else "No"))
    columns = ("Patient", "Date" if listing_dates else "Study day", "Event",
               "Preferred term / cause of death", "System organ class", "CTCAE grade",
               "Related to blinatumomab", "Safety set")
    notes = ("Every death and every serious adverse event up to the data cut of the enrolled "
             "patients, by patient and " + ("date." if listing_dates else
                                            "study day (days from transplant, day 0; negative "
                                            "before transplant)."),
             "Deaths in the categories of Table 14.3.10: relapse-related when on or after the "
             "first relapse, otherwise non-relapse (transplanted patients); death before "
             "transplant when the patient was not transplanted, whatever the cause. The "
             "recorded cause is shown. Safety set: at least one dose of blinatumomab "
             "(patients outside it are not in the safety tables).",
             "MedDRA coding as supplied.")
    return Table("16.2.7", "Deaths and serious adverse events by patient", "Enrolled",
                 data_cut, columns, tuple(rows), footnotes=notes, source="16_listings",
                 kind="Listing")


def listing_markdown(listing: Table, folder: Path, study_id: str,
                     max_patients: int = MAX_PATIENTS_SHOWN) -> str:
    """Write the listing into ``folder`` and return what the report shows: the listing itself,
    or above ``max_patients`` patients (first column) a sentence naming its CSV (no DOCX or
    RTF then)."""
    patients = len({row[0] for row in listing.rows})
    if patients <= max_patients:
        listing.write(folder, study_id)
        return listing.to_markdown()
    path = listing.to_csv(Path(folder) / f"{listing.number}.csv")
    return (f"{listing.caption} has {patients} patients, more than a report page can "
            f"usefully show ({max_patients}); it is in the run folder as tables/{path.name} "
            f"(CSV) only.\n")

"""Per-patient listings (ICH E3 appendix 16.2 numbering): one row per patient.

Privacy rule: listings show study days from transplant, never calendar dates, unless the run
asks for dates (parameter ``listing_dates``). A listing longer than a reader can use in the
report (more than :data:`haplo_report.limits.MAX_PATIENTS_SHOWN` patients, the swimmer plot's
limit too) is written as CSV only and the report says where it is.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from haplo_report.formatting import AT_LEAST, fmt_scientific
from haplo_report.limits import MAX_PATIENTS_SHOWN
from haplo_report.outputs.tables.core import Table, TableInputError, sentence_case

STATUS_COLUMNS = ("USUBJID", "STATUS", "ADY", "RESULT")


def _result_label(result: float | None, threshold: float) -> str:
    if result is None or pd.isna(result):
        return ""
    if result == 0:
        return "Undetectable"
    return fmt_scientific(result) + (" (positive)" if result >= threshold else "")


def listing_16_2_6(status: pd.DataFrame, data_cut: str, *, threshold: float,
                   transplant_dates: pd.Series | None = None,
                   listing_dates: bool = False) -> Table:
    """Listing 16.2.6, MRD status at 1 year by patient, from
    :func:`haplo_report.analysis.mrd.mrd_status_1y` (``USUBJID, STATUS, ADY, RESULT``).

    The assessment is shown as its study day, or as its date (transplant date + day) when
    ``listing_dates``; ``transplant_dates`` (``HSCTDT`` indexed by ``USUBJID``) is then needed.
    """
    missing = [c for c in STATUS_COLUMNS if c not in status.columns]
    if missing:
        raise TableInputError(f"Listing 16.2.6: MRD status lacks column(s) "
                              f"{', '.join(missing)}")
    if listing_dates and transplant_dates is None:
        raise TableInputError("Listing 16.2.6: listing_dates needs the transplant dates")
    rows = []
    for patient in status.to_dict("records"):  # iterrows: 1.7 s at 100,000 patients
        day = patient["ADY"]
        if pd.isna(day):
            when = ""
        elif listing_dates:
            hsct = transplant_dates.get(patient["USUBJID"])  # type: ignore[union-attr]
            if hsct is None or pd.isna(hsct):
                raise TableInputError(f"Listing 16.2.6: no transplant date for "
                                      f"{patient['USUBJID']}")
            when = (pd.Timestamp(hsct) + pd.Timedelta(days=int(day))).date().isoformat()
        else:
            when = str(int(day))
        rows.append((str(patient["USUBJID"]), when,
                     _result_label(patient["RESULT"], threshold),
                     sentence_case(str(patient["STATUS"]))))
    columns = ("Patient", "Assessment date" if listing_dates else "Assessment, study day",
               "MRD result", "1-year status")
    notes = ("Assessment: the MRD assessment closest to day 365 within its window; none is "
             "shown when relapse or death came first or no assessment fell in the window. "
             "Study day: days from transplant (day 0).",
             "MRD result: fraction of leukemic cells; positive when "
             f"{AT_LEAST}{fmt_scientific(threshold)}; undetectable: 0.")
    return Table("16.2.6", "MRD status at 1 year by patient", "FAS", data_cut, columns,
                 tuple(rows), footnotes=notes, source="06_mrd", kind="Listing")


def listing_markdown(listing: Table, folder: Path, study_id: str,
                     max_patients: int = MAX_PATIENTS_SHOWN) -> str:
    """Write the listing into ``folder`` and return what the report shows: the listing itself,
    or above ``max_patients`` rows a sentence naming its CSV (no DOCX or RTF then)."""
    if len(listing.rows) <= max_patients:
        listing.write(folder, study_id)
        return listing.to_markdown()
    path = listing.to_csv(Path(folder) / f"{listing.number}.csv")
    return (f"{listing.caption} has {len(listing.rows)} patients, more than a report page can "
            f"usefully show ({max_patients}); it is in the run folder as tables/{path.name} "
            f"(CSV) only.\n")

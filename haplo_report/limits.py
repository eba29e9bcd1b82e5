"""Limits of what the report shows per patient."""

MAX_PATIENTS_SHOWN = 60
"""The most patients a per-patient output (swimmer plot, listing) shows in the report; above
it the swimmer plot becomes a status summary and the listing is written as CSV only."""

MIN_FREE_TEXT_PATIENTS = 3
"""A free-text value (site, subtype, regimen, verbatim AE term) held by fewer patients than
this is shown as "Other": a name or phone number typed into such a field never reaches the
derived data, tables, results or report."""

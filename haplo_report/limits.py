"""Limits of what the report shows per patient, and of the independent check."""

MAX_PATIENTS_SHOWN = 60
"""The most patients a per-patient output (swimmer plot, listing) shows in the report; above
it the swimmer plot becomes a status summary and the listing is written as CSV only."""

MIN_FREE_TEXT_PATIENTS = 3
"""A free-text value (site, subtype, regimen, verbatim AE term) held by fewer patients than
this is shown as "Other": a name or phone number typed into such a field never reaches the
derived data, tables, results or report."""

MAX_NARRATIVES = 1000
"""The most patients whose narratives a run drafts (each with its Word file, listed in the
report above :data:`MAX_PATIENTS_SHOWN`); above it the report says so and
``narratives/narratives.csv`` lists the patients with their reasons. Nobody edits thousands
of narratives by hand, and drafting them costs a run at 100,000 patients minutes (about 0.3 ms
of CPU a narrative, 10 kB of JSON and 30 ms of python-docx each)."""

QC_TOLERANCE = 1e-9
"""The independent check: largest difference allowed between a reported number and lifelines'
(absolute; relative above 1)."""

QC_IDENTITY_TOLERANCE = 1e-12
"""The independent check: how far an identity (CIF + CIF + KM = 1, counts) may be broken."""

"""Limits of what the report shows per patient."""

MAX_PATIENTS_SHOWN = 60
"""The most patients a per-patient output (swimmer plot, listing) shows in the report; above
it the swimmer plot becomes a status summary and the listing is written as CSV only."""

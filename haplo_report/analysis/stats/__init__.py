"""Estimators, one module per method; numpy arrays in, frames or small dataclasses out.

Each agrees with R (survival, cmprsk) to 1e-6; the proof is in ``haplo_report/qualification/reference/`` (``haplo-report qualify``).
"""

from haplo_report.analysis.stats.binomial import clopper_pearson
from haplo_report.analysis.stats.cif import CIFFit, cif_at, cumulative_incidence
from haplo_report.analysis.stats.compare import TestResult, gray_test, logrank_test
from haplo_report.analysis.stats.followup import FollowUp, median_followup
from haplo_report.analysis.stats.inputs import StatsInputError
from haplo_report.analysis.stats.km import KMFit, km_at, km_estimate, km_quantiles

__all__ = ["CIFFit", "FollowUp", "KMFit", "StatsInputError", "TestResult", "cif_at",
           "clopper_pearson", "cumulative_incidence", "gray_test", "km_at", "km_estimate",
           "km_quantiles", "logrank_test", "median_followup"]

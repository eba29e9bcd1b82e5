"""Shared helpers of the tests/test_stats_*.py modules: R reference inputs and comparisons."""

from __future__ import annotations

import numpy as np
import pandas as pd

from haplo_report.qualification.integrity import REFERENCE_DIR

REFERENCE = REFERENCE_DIR  # shipped with the package: haplo_report/qualification/reference
DATASETS = ["cohort31", "ties", "large", "short", "norelapse", "allcensored", "one", "allfail"]
LANDMARKS = [100, 365, 730, 5000]
TOLERANCE = 1e-6


def cohort(name: str) -> pd.DataFrame:
    """An input cohort: id, time (days), status (0 censored, 1 relapse, 2 NRM), groups."""
    return pd.read_csv(REFERENCE / "inputs" / f"{name}.csv")


def expected(name: str) -> pd.DataFrame:
    """An expected-output CSV written by make_expected.R (empty cells are NaN)."""
    return pd.read_csv(REFERENCE / "expected" / f"{name}.csv", keep_default_na=False,
                       na_values=[""])


def assert_close(actual: pd.Series | np.ndarray, wanted: pd.Series | np.ndarray,
                 label: str) -> None:
    """Equal within 1e-6 absolute, with NaN (NE) exactly where R has NA."""
    a = np.asarray(actual, dtype=float)
    b = np.asarray(wanted, dtype=float)
    assert a.shape == b.shape, f"{label}: shape {a.shape} != {b.shape}"
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=f"{label}: NA pattern")
    np.testing.assert_allclose(a, b, rtol=0, atol=TOLERANCE, equal_nan=True, err_msg=label)


LANDMARK_KEY = ["endpoint", "subgroup", "time"]


def assert_landmarks_equal_r(want: pd.DataFrame, got: pd.DataFrame, label: str) -> None:
    """Landmark rows (``got``: result rows with ``time``) equal R's (``want``) row for row: the
    same keys, estimates and CI limits within the tolerance, the same n, events and NE flags."""
    both = want.merge(got, on=LANDMARK_KEY, how="outer", suffixes=("_r", ""), indicator=True)
    unmatched = both.loc[both["_merge"] != "both", LANDMARK_KEY + ["_merge"]]
    assert unmatched.empty, f"{label}: rows only in R or only in Python:\n{unmatched}"
    for column in ("estimate", "ci_lower", "ci_upper"):
        assert_close(both[column], both[f"{column}_r"], f"{label} {column}")
    assert both["n"].tolist() == both["n_r"].tolist()
    assert both["events"].tolist() == both["events_r"].tolist()
    assert both["flag"].tolist() == both["flag_r"].tolist()


def assert_at_risk_equals_r(want: pd.DataFrame, rows: pd.DataFrame, label: str) -> None:
    """The ``at_risk`` result rows (SAP v3) equal R survival's ``n.risk`` (``want``) at every
    landmark of every group, one row per landmark estimate."""
    got = rows[rows["statistic"] == "at_risk"].rename(columns={"time_days": "time"})
    both = want.merge(got, on=LANDMARK_KEY, how="outer", suffixes=("_r", ""), indicator=True)
    unmatched = both.loc[both["_merge"] != "both", LANDMARK_KEY + ["_merge"]]
    assert unmatched.empty, f"{label}: at-risk rows only in R or only in Python:\n{unmatched}"
    assert both["estimate"].astype(int).tolist() == both["n_risk"].astype(int).tolist(), label
    few = both["n_risk"] < 5
    assert (both["flag"] == "few at risk").tolist() == few.tolist(), label

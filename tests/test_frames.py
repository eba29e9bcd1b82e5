import pandas as pd
import pytest

from haplo_report.analysis.frames import flagged, require_columns


def test_require_columns_names_every_missing_column_sorted():
    frame = pd.DataFrame({"USUBJID": ["A"]})
    require_columns(frame, ["USUBJID"], "ADSL")
    with pytest.raises(KeyError, match="ADSL lacks column\\(s\\) AVAL, FASFL"):
        require_columns(frame, ["FASFL", "USUBJID", "AVAL"], "ADSL", KeyError)


def test_flagged_keeps_only_y_and_treats_missing_as_not_flagged():
    frame = pd.DataFrame({"USUBJID": ["A", "B", "C"],
                          "FASFL": pd.array(["Y", None, "N"], dtype="string")})
    assert flagged(frame, "FASFL")["USUBJID"].tolist() == ["A"]

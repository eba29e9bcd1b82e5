import datetime as dt
from pathlib import Path

import pytest

from haplo_report.params import ParamsError, load_params

TODAY = dt.date(2026, 11, 24)


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    path = tmp_path / "cut.yml"
    path.write_text(text, encoding="utf-8")
    return path


BASE = "study_id: HAPLO-BLIN\nstudy_title: T\ndata_dir: data\ndata_cut_date: 2026-06-30\n"


def test_relative_paths_resolve_against_the_file(tmp_path):
    params = load_params(write(tmp_path, BASE), today=TODAY)
    assert params.data_dir == (tmp_path / "data").resolve()
    assert params.output_dir == (tmp_path / "output").resolve()
    assert params.data_cut_date == dt.date(2026, 6, 30)
    assert params.mrd_threshold == 1e-4


def test_overrides_win(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    params = load_params(write(tmp_path, BASE), data_dir=other, data_cut_date="2026-01-31",
                         output_dir=tmp_path / "out", today=TODAY)
    assert params.data_dir == other.resolve()
    assert params.data_cut_date == dt.date(2026, 1, 31)
    assert params.output_dir == (tmp_path / "out").resolve()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BASE + "mrd_treshold: 0.001\n", "unknown parameter 'mrd_treshold'"),
        (BASE + "mrd_window_days: fourteen\n", "mrd_window_days: expected int, got str"),
        (BASE + "gvhd_relapse_competes: 1\n", "gvhd_relapse_competes: expected bool"),
        (BASE.replace("2026-06-30", "2026-02-30"), "'2026-02-30' is not a valid date"),
        (BASE.replace("2026-06-30", "2027-01-01"), "is in the future"),
        (BASE.replace("data_dir: data", "data_dir: nowhere"), "folder not found"),
        (BASE + "landmarks_days: [365, -1]\n", "landmarks_days"),
        ("study_id: [unclosed\n", "YAML syntax error (line 2"),
        ("- a\n- b\n", "expected a mapping"),
        (BASE.replace("study_title: T\n", ""), "missing required parameter 'study_title'"),
    ],
)
def test_bad_parameters_give_one_line_reasons(tmp_path, text, message):
    with pytest.raises(ParamsError) as info:
        load_params(write(tmp_path, text), today=TODAY)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ParamsError, match="parameter file not found"):
        load_params(tmp_path / "nope.yml")


def test_report_furniture_defaults_and_checks(tmp_path):
    (tmp_path / "data").mkdir()
    path = tmp_path / "p.yml"
    path.write_text(BASE, encoding="utf-8")
    params = load_params(path, today=dt.date(2026, 12, 31))
    assert (params.report_status, params.page_size, params.report_version) == ("DRAFT", "a4", "1.0")
    assert params.confidentiality.startswith("Confidential")
    for line, message in [("report_status: final\n", "report_status: expected DRAFT or FINAL"),
                          ("page_size: A5\n", "page_size: expected a4 or us-letter")]:
        path.write_text(BASE + line, encoding="utf-8")
        with pytest.raises(ParamsError, match=message):
            load_params(path, today=dt.date(2026, 12, 31))



def test_sap_v2_defaults_subgroup_min_n_5_and_ltfu_days_180_and_the_example_uses_them(tmp_path):
    params = load_params(write(tmp_path, BASE), today=TODAY)
    assert (params.subgroup_min_n, params.ltfu_days) == (5, 180)
    example = load_params(Path(__file__).parents[1] / "params" / "example.yml", today=TODAY)
    assert (example.subgroup_min_n, example.ltfu_days) == (5, 180)
    with pytest.raises(ParamsError, match="ltfu_days: must not be negative"):
        load_params(write(tmp_path, BASE + "ltfu_days: -1\n"), today=TODAY)


STUDY = ("study_id: HAPLO-BLIN\nstudy_title: T\nsponsor: S\nprotocol: P-01\n"
         "gvhd_relapse_competes: true\noutput_dir: out\n")


def layered(tmp_path: Path, cut_text: str, study_text: str = STUDY) -> Path:
    """``study/study.yml`` and ``cuts/cut.yml`` (extending ``../study/study.yml``)."""
    (tmp_path / "study").mkdir(exist_ok=True)
    (tmp_path / "cuts").mkdir(exist_ok=True)
    (tmp_path / "cuts" / "data").mkdir(exist_ok=True)
    (tmp_path / "study" / "study.yml").write_text(study_text, encoding="utf-8")
    path = tmp_path / "cuts" / "cut.yml"
    path.write_text(cut_text, encoding="utf-8")
    return path


def test_a_cut_file_extends_the_study_file_and_says_where_each_value_came_from(tmp_path):
    path = layered(tmp_path, "extends: ../study/study.yml\ndata_dir: data\n"
                             "data_cut_date: 2026-06-30\nprotocol: P-02\n")
    params = load_params(path, today=TODAY)
    assert (params.sponsor, params.protocol, params.gvhd_relapse_competes) == ("S", "P-02", True)
    # a path is relative to the file that states it
    assert params.output_dir == (tmp_path / "study" / "out").resolve()
    assert params.data_dir == (tmp_path / "cuts" / "data").resolve()
    assert params.origins["sponsor"] == "../study/study.yml"
    assert params.origins["protocol"] == "cut.yml"
    assert params.origins["data_cut_date"] == "cut.yml"
    assert params.origins["ltfu_days"] == "default"
    assert params.files == [(tmp_path / "study" / "study.yml").resolve(), path]
    overridden = load_params(path, data_cut_date="2026-01-31", today=TODAY)
    assert overridden.origins["data_cut_date"] == "--data-cut-date"


@pytest.mark.parametrize(
    ("cut_text", "study_text", "message"),
    [
        ("extends: nope.yml\ndata_dir: data\ndata_cut_date: 2026-06-30\n", STUDY,
         "extends: study file not found: nope.yml"),
        ("extends: ../study/study.yml\ndata_dir: data\ndata_cut_date: 2026-06-30\n",
         STUDY + "extends: ../cuts/cut.yml\n", "extends makes a loop"),
        ("extends: ../study/study.yml\ndata_dir: data\ndata_cut_date: 2026-06-30\n",
         STUDY + "mrd_treshold: 0.01\n", "study.yml: unknown parameter 'mrd_treshold'"),
        ("extends: [a, b]\ndata_dir: data\ndata_cut_date: 2026-06-30\n", STUDY,
         "extends: expected the path of a study file"),
        ("extends: ../study/study.yml\ndata_dir: data\n", STUDY,
         "missing required parameter 'data_cut_date'"),
    ],
)
def test_bad_layering_gives_one_line_reasons(tmp_path, cut_text, study_text, message):
    with pytest.raises(ParamsError) as info:
        load_params(layered(tmp_path, cut_text, study_text), today=TODAY)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_the_later_example_cut_keeps_the_study_identity():
    """Issue 27: the later cut's report read "SPONSOR NOT SPECIFIED" and protocol
    HAPLO-BLIN-ALL; both example cuts now share every study parameter."""
    folder = Path(__file__).parents[1] / "params"
    first = load_params(folder / "example.yml", today=TODAY)
    later = load_params(folder / "example-later.yml", today=TODAY)
    assert later.sponsor == "Example sponsor (simulated data)"
    assert later.protocol == "HAPLO-BLIN-ALL-01"
    shared = {k: v for k, v in first.to_dict().items() if k not in ("data_dir", "data_cut_date")}
    assert shared == {k: v for k, v in later.to_dict().items()
                      if k not in ("data_dir", "data_cut_date")}
    assert later.output_dir == first.output_dir == (folder.parent / "output").resolve()


def test_the_example_loads_as_an_installed_package_ships_it(tmp_path):
    """A wheel copies haplo_report/example/*.yml (links in a checkout): the cut's file finds
    the study file it extends beside it."""
    from haplo_report.paths import EXAMPLE_DATA, EXAMPLE_PARAMS

    for name in ("example.yml", "study.yml"):
        (tmp_path / name).write_bytes((EXAMPLE_PARAMS.parent / name).read_bytes())
    params = load_params(tmp_path / "example.yml", data_dir=EXAMPLE_DATA, today=TODAY)
    assert params.protocol == "HAPLO-BLIN-ALL-01"
    assert params.origins["protocol"] == "study.yml"

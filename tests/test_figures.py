"""Figures: curves follow the estimator tables, numbers at risk are right, files are stable."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from haplo_report.outputs.figures import (CENSOR_MARK, DAYS_PER_MONTH, MRD_STATUSES, at_risk,
                                          cif_figure, incidence_axis, km_figure,
                                          mrd_status_counts, risk_rows, save_figure,
                                          swimmer_figure, time_ticks)
from haplo_report.typeface import FAMILY
from haplo_report.limits import MAX_PATIENTS_SHOWN


def table(times, n_risk, n_event, n_censor, estimate) -> pd.DataFrame:
    estimate = np.asarray(estimate, dtype=float)
    return pd.DataFrame({"time": times, "n_risk": n_risk, "n_event": n_event,
                         "n_censor": n_censor, "estimate": estimate, "se": 0.1,
                         "ci_lower": estimate - 0.1, "ci_upper": np.minimum(estimate + 0.1, 1)})


KM = table([30.0, 200.0, 400.0], [5, 4, 2], [1, 1, 0], [0, 1, 2], [0.8, 0.6, 0.6])


def texts(axis) -> list[str]:
    return [t.get_text() for t in axis.texts]


def test_numbers_at_risk_use_the_next_observed_time():
    assert at_risk(KM, [0, 30, 31, 200, 399, 400, 401]) == [5, 5, 4, 4, 2, 2, 0]


def test_km_figure_steps_band_censor_ticks_and_risk_table():
    figure = km_figure({"All": KM}, times_at_risk=[0, 91.3125, 182.625, 365.25],
                       ylabel="Overall survival (%)")
    axis, risk = figure.axes
    curve = axis.lines[0]
    np.testing.assert_allclose(curve.get_xdata(), np.array([0, 30, 200, 400]) / DAYS_PER_MONTH)
    np.testing.assert_allclose(curve.get_ydata(), [100, 80, 60, 60])
    assert curve.get_drawstyle() == "steps-post"
    censor = axis.lines[1]
    assert censor.get_marker() == CENSOR_MARK == "|"
    np.testing.assert_allclose(censor.get_ydata(), [60, 60])
    assert len(axis.collections) == 1  # the 95% band
    assert texts(risk) == ["5", "4", "4", "2"]
    assert axis.get_ylim() == (0, 100)  # survival: always the full scale
    np.testing.assert_allclose(axis.get_xticks(), [0, 3, 6, 12])
    assert axis.get_ylabel() == "Overall survival (%)"
    plt.close(figure)


def marked_lines(axis) -> list:
    return [line for line in axis.lines if line.get_marker() not in ("None", "", None)]


def test_the_only_marks_on_the_curves_are_censor_ticks():
    other = table([50.0, 500.0], [3, 2], [1, 1], [0, 1], [0.67, 0.33])
    figure = km_figure({"A": KM, "B": other}, ylabel="Progression-free survival (%)")
    axis = figure.axes[0]
    marked = marked_lines(axis)
    assert [line.get_marker() for line in marked] == [CENSOR_MARK, CENSOR_MARK]
    assert all(line.get_linestyle() == "None" for line in marked)
    # censor ticks exactly at the censoring times: KM at 200 and 400 days, B at 500
    np.testing.assert_allclose(marked[0].get_xdata(), np.array([200, 400]) / DAYS_PER_MONTH)
    np.testing.assert_allclose(marked[1].get_xdata(), [500 / DAYS_PER_MONTH])
    curves = [line for line in axis.lines if line not in marked]
    assert len(curves) == 2 and curves[0].get_linestyle() != curves[1].get_linestyle()
    legend = axis.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["A", "B", "Censored"]
    # default ticks every 3 months up to the last time (500 d = 16.4 months)
    np.testing.assert_allclose(axis.get_xticks(), np.arange(0, 19, 3))
    plt.close(figure)


def test_censored_in_the_legend_only_where_censor_ticks_are_drawn():
    # censored only after day 100: nothing drawn up to the horizon, no legend entry
    late = table([20.0, 150.0], [4, 3], [1, 0], [0, 3], [0.25, 0.25])
    figure = cif_figure({"Grade II-IV": late}, unit="days", horizon_days=100)
    axis = figure.axes[0]
    assert marked_lines(axis) == []
    assert [t.get_text() for t in axis.get_legend().get_texts()] == ["Grade II-IV"]
    plt.close(figure)


def test_overlapping_bands_differ_in_grey():
    cif = table([30.0, 90.0], [4, 3], [1, 1], [0, 3], [0.25, 0.5])
    figure = cif_figure({"Relapse": cif, "NRM": cif})
    first, second = figure.axes[0].collections
    assert not first.get_hatch() and first.get_facecolor()[0][3] > 0  # shaded
    assert second.get_hatch() == "////" and len(second.get_facecolor()) == 0  # hatched, no fill
    plt.close(figure)


def test_cif_figure_starts_at_zero():
    cif = table([30.0, 90.0], [4, 3], [1, 1], [0, 3], [0.25, 0.5])
    figure = cif_figure({"Relapse": cif, "NRM": cif})
    np.testing.assert_allclose(figure.axes[0].lines[0].get_ydata(), [0, 25, 50])
    assert figure.axes[0].get_ylabel() == "Cumulative incidence (%)"
    plt.close(figure)


def test_incidence_axis_ends_at_the_next_step_above_the_highest_upper_limit():
    assert incidence_axis(33.0) == (40, 10)
    assert incidence_axis(40.0) == (40, 10)
    assert incidence_axis(0.0) == (10, 10)
    assert incidence_axis(50.0) == (50, 10)
    assert incidence_axis(50.1) == (60, 20)
    assert incidence_axis(97.0) == (100, 20)
    low = table([30.0, 90.0], [10, 9], [1, 1], [0, 8], [0.1, 0.2])  # upper limit 30%
    figure = cif_figure({"Relapse": low})
    axis = figure.axes[0]
    assert axis.get_ylim() == (0, 30)
    np.testing.assert_allclose(axis.get_yticks(), [0, 10, 20, 30])
    plt.close(figure)


def test_tick_steps_are_even():
    np.testing.assert_allclose(time_ticks(40, "days", horizon_days=100), np.arange(0, 101, 10))
    np.testing.assert_allclose(time_ticks(40, "days", horizon_days=180), np.arange(0, 181, 20))
    np.testing.assert_allclose(time_ticks(40, "days", step_days=28, horizon_days=180),
                               np.arange(0, 197, 28))  # past the horizon, never 168 -> 180
    np.testing.assert_allclose(time_ticks(3, "days"), [0, 1, 2, 3])
    np.testing.assert_allclose(time_ticks(400, "months"), np.arange(0, 16, 3) * DAYS_PER_MONTH)
    for ticks in (time_ticks(100, "days"), time_ticks(130, "days"), time_ticks(2000, "months"),
                  time_ticks(730, "months")):
        assert len(set(np.round(np.diff(ticks), 6))) == 1, ticks


def test_one_numbers_at_risk_row_per_distinct_risk_set():
    # relapse and NRM: the same patients at risk (free of both), one row
    relapse = table([30.0, 90.0], [4, 3], [1, 0], [0, 3], [0.25, 0.25])
    nrm = relapse.assign(n_event=[0, 1], estimate=[0.0, 0.25])
    rows = risk_rows({"Relapse": relapse, "NRM": nrm}, [0, 30, 60, 90])
    assert rows == {"Relapse and NRM": [4, 4, 3, 3]}
    figure = cif_figure({"Relapse": relapse, "NRM": nrm}, times_at_risk=[0, 30, 60, 90])
    risk = figure.axes[1]
    assert [t.get_text() for t in risk.get_yticklabels()] == ["Relapse and NRM"]
    assert texts(risk) == ["4", "4", "3", "3"]
    plt.close(figure)
    assert list(risk_rows({"A": KM, "B": relapse}, [0, 30])) == ["A", "B"]


def test_numbers_at_risk_as_large_as_the_tick_labels_in_the_report_typeface():
    figure = km_figure({"All": KM}, ylabel="Overall survival (%)")
    axis, risk = figure.axes
    tick_size = axis.get_xticklabels()[0].get_fontsize()
    assert {t.get_fontsize() for t in risk.texts} == {tick_size}
    assert risk.get_yticklabels()[0].get_fontsize() == tick_size
    assert axis.get_xticklabels()[0].get_fontfamily() == ["sans-serif"]
    assert plt.rcParams["font.sans-serif"] == [FAMILY]
    plt.close(figure)


def engraftment() -> pd.DataFrame:
    return table([10.0, 14.0, 30.0, 400.0], [10, 8, 3, 2], [2, 4, 1, 0], [0, 1, 0, 2],
                 [0.2, 0.6, 0.7, 0.7])


def test_cif_figure_in_days_up_to_day_100():
    figure = cif_figure({"Neutrophils": engraftment()}, unit="days", horizon_days=100)
    axis, risk = figure.axes
    np.testing.assert_allclose(axis.get_xticks(), np.arange(0, 101, 10))
    assert axis.get_xlabel() == "Days since transplant"
    assert axis.get_xlim()[1] == pytest.approx(102)  # the later follow-up is not drawn
    np.testing.assert_allclose(axis.lines[0].get_xdata(), [0, 10, 14, 30, 400])
    assert texts(risk) == ["10", "10", "3", "3", "2", "2", "2", "2", "2", "2", "2"]
    assert axis.get_ylim() == (0, 80)  # upper limit 80% (estimate 70% + 0.1)
    plt.close(figure)


def extent(artist, figure):
    return artist.get_window_extent(figure.canvas.get_renderer())


@pytest.mark.parametrize("make", [km_figure, cif_figure])
def test_legend_beside_the_curves_and_row_labels_inside_the_figure(make):
    long = "Moderate-severe chronic GVHD"
    other = engraftment().assign(n_risk=[10, 9, 4, 2])  # another risk set: its own row
    figure = make({"NRM": engraftment(), long: other}, unit="days", horizon_days=100,
                  ylabel="Survival (%)")
    figure.canvas.draw()
    axis, risk = figure.axes
    assert extent(axis.get_legend(), figure).x0 >= extent(axis, figure).x1
    page = figure.bbox
    labels = risk.get_yticklabels()
    assert [t.get_text() for t in labels] == [long, "NRM"]
    for artist in [*labels, axis.get_legend()]:
        box = extent(artist, figure)
        assert page.x0 <= box.x0 and box.x1 <= page.x1, artist
    plt.close(figure)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="lacks column\\(s\\) n_censor"):
        km_figure({"All": KM.drop(columns="n_censor")}, ylabel="Overall survival (%)")
    with pytest.raises(ValueError, match="fits is empty"):
        cif_figure({})
    with pytest.raises(ValueError, match="unknown EVENT value\\(s\\) Dead"):
        swimmer_figure(pd.DataFrame({"USUBJID": ["P1"], "ADY": [3], "EVENT": ["Dead"]}))
    with pytest.raises(ValueError, match="unknown time unit 'weeks'"):
        cif_figure({"All": KM}, unit="weeks")


def timeline(patients: int) -> pd.DataFrame:
    rows = []
    for i in range(patients):
        rows += [(f"P{i:02d}", 30, "MRD-negative" if i % 2 else "MRD-positive"),
                 (f"P{i:02d}", 100 + i, "Death" if i % 3 == 0 else "Last follow-up")]
    return pd.DataFrame(rows, columns=["USUBJID", "ADY", "EVENT"])


def test_swimmer_orders_patients_by_follow_up_and_switches_to_summary():
    figure = swimmer_figure(timeline(4))
    axis = figure.axes[0]
    assert [t.get_text() for t in axis.get_yticklabels()] == ["P00", "P01", "P02", "P03"]
    widths = sorted(bar.get_width() for bar in axis.patches)
    np.testing.assert_allclose(widths, np.array([100, 101, 102, 103]) / DAYS_PER_MONTH)
    plt.close(figure)
    summary = swimmer_figure(timeline(4), max_patients=3)
    assert "summary of 4 patients" in summary.axes[0].get_title()
    # bars: 6 statuses x 5 months (1, 3, 6, 12, 24), status by status
    heights = np.array([b.get_height() for b in summary.axes[0].patches]).reshape(6, 5)
    assert heights[:, 0].tolist() == [2, 2, 0, 0, 0, 0]  # month 1: 2 MRD-neg, 2 MRD-pos
    assert heights[:, 2].tolist() == [0, 0, 0, 0, 2, 2]  # month 6: 2 died, 2 ended
    plt.close(summary)


def test_mrd_status_counts_on_a_hand_built_cohort():
    day = DAYS_PER_MONTH
    rows = [
        ("A", 10, "MRD-positive"), ("A", 20, "MRD-negative"), ("A", 400, "Last follow-up"),
        ("B", 10, "MRD-negative"), ("B", 2 * day, "MRD-positive"), ("B", 5 * day, "Relapse"),
        ("B", 7 * day, "Death"),
        ("C", 3 * day + 1, "MRD-positive"), ("C", 3 * day + 1, "MRD-negative"),  # same day:
        ("C", 800, "Last follow-up"),  # positive if either is (SAP), whatever the row order
        ("D", 50, "Acute GVHD"), ("D", 4 * day, "Last follow-up"),
    ]
    counts = mrd_status_counts(pd.DataFrame(rows, columns=["USUBJID", "ADY", "EVENT"]),
                               months=(1, 3, 6, 12, 24))
    assert list(counts.columns) == list(MRD_STATUSES)
    assert counts.loc[1].to_dict() == {"MRD-negative": 2, "MRD-positive": 0, "No MRD result": 2,
                                       "Relapse": 0, "Death": 0, "Follow-up ended": 0}
    # month 3: B's last result is positive; C's first result is one day later
    assert counts.loc[3].tolist() == [1, 1, 2, 0, 0, 0]
    # month 6: B relapsed, D's follow-up ended at month 4, C's same-day results: positive
    assert counts.loc[6].tolist() == [1, 1, 0, 1, 0, 1]
    # month 12: B died after relapsing; A followed to day 400 (past month 12: 365.25 days)
    assert counts.loc[12].tolist() == [1, 1, 0, 0, 1, 1]
    assert counts.loc[24].tolist() == [0, 1, 0, 0, 1, 2]  # A ended at day 400
    assert (counts.sum(axis=1) == 4).all()


def test_swimmer_shows_up_to_the_shared_patient_limit():
    assert MAX_PATIENTS_SHOWN == 60
    figure = swimmer_figure(timeline(MAX_PATIENTS_SHOWN))
    assert len(figure.axes[0].get_yticklabels()) == MAX_PATIENTS_SHOWN
    plt.close(figure)
    summary = swimmer_figure(timeline(MAX_PATIENTS_SHOWN + 1))
    assert "summary of 61 patients" in summary.axes[0].get_title()
    plt.close(summary)


def test_save_figure_writes_identical_png_and_svg(tmp_path):
    other = table([50.0, 500.0], [3, 2], [1, 1], [0, 1], [0.67, 0.33])  # a hatched band too
    first = save_figure(km_figure({"All": KM, "B": other}, ylabel="OS (%)"), tmp_path / "a", "f")
    second = save_figure(km_figure({"All": KM, "B": other}, ylabel="OS (%)"), tmp_path / "b",
                         "f")
    assert [p.name for p in first] == ["f.png", "f.svg"]
    for one, two in zip(first, second):
        assert one.read_bytes() == two.read_bytes()
    assert first[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<dc:date>" not in first[1].read_bytes()


def test_swimmer_plot_draws_hostile_patient_ids_as_typed(tmp_path):
    """Issue 28: identifiers are data, never mathtext ("$\\undefinedcmd$" made matplotlib
    fail; "$\\frac{1}{0}$" was drawn as a fraction)."""
    import matplotlib.pyplot as plt  # noqa: PLC0415
    import pandas as pd  # noqa: PLC0415

    from haplo_report.outputs.figures import save_figure, swimmer_figure  # noqa: PLC0415

    ids = ["$\\undefinedcmd$", "$\\frac{1}{0}$", "a_b^c", "<b>P</b>", "P" * 64]
    timeline = pd.DataFrame({"USUBJID": ids, "ADY": [100.0, 200.0, 300.0, 50.0, 20.0],
                             "EVENT": "Last follow-up"})
    figure = swimmer_figure(timeline, title="Timeline")
    labels = {label.get_text() for label in figure.axes[0].get_yticklabels()}
    assert labels == set(ids)
    assert all(not label.get_parse_math() for label in figure.axes[0].get_yticklabels())
    assert len(save_figure(figure, tmp_path, "swimmer")) == 2
    plt.close(figure)

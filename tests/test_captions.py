"""Figure captions: text built from what the figure draws, kept as text by every renderer."""

from __future__ import annotations

import re

import docx
import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_markdown_cell, new_notebook, new_output
from pypdf import PdfReader

from haplo_report.outputs.captions import (FIGURES, curve_caption, draw_curves,
                                           timeline_caption)
from haplo_report.outputs.figures import save_figure
from haplo_report.plan import NOTEBOOKS
from haplo_report.render import render_report
from render_fake_run import DATA_CUT, make_fake_run


def table(times, n_risk, n_event, n_censor, estimate) -> pd.DataFrame:
    estimate = np.asarray(estimate, dtype=float)
    return pd.DataFrame({"time": times, "n_risk": n_risk, "n_event": n_event,
                         "n_censor": n_censor, "estimate": estimate, "se": 0.1,
                         "ci_lower": estimate - 0.1, "ci_upper": np.minimum(estimate + 0.1, 1)})


PFS = {"PFS": table([30.0, 200.0, 400.0], [5, 4, 2], [1, 1, 0], [0, 1, 2], [0.8, 0.6, 0.6])}
RELAPSE = table([30.0, 90.0], [4, 3], [1, 0], [0, 3], [0.25, 0.25])
CIR_NRM = {"Relapse": RELAPSE, "NRM": RELAPSE.assign(n_event=[0, 1], estimate=[0.0, 0.25])}


def test_every_figure_is_defined_once_with_a_notebook_of_the_plan():
    assert list(FIGURES) == ["14.2.1", "14.2.2", "14.2.3", "14.2.4", "14.2.5", "14.3.1",
                             "14.3.2", "14.3.3"]
    notebooks = {spec.name for spec in NOTEBOOKS}
    assert all(spec.source in notebooks for spec in FIGURES.values())
    km = [spec.ylabel for spec in FIGURES.values() if spec.kind == "km"]
    assert km == ["Progression-free survival (%)", "Overall survival (%)",
                  "GVHD-free, relapse-free survival (%)"]


def test_km_caption_names_population_n_method_censoring_and_source():
    caption = curve_caption("14.2.1", PFS, data_cut="2026-07-31")
    assert caption.caption == "Figure 14.2.1. Progression-free survival, full analysis set (N=5)"
    assert caption.footnotes[0].startswith("Kaplan-Meier estimate; band: pointwise 95%")
    assert "relapse or death from any cause" in caption.footnotes[1]
    assert caption.footnotes[2].endswith("vertical ticks on the curves mark censoring times.")
    assert not any(n.startswith("Bands:") for n in caption.footnotes)  # one curve
    assert caption.source_line == "Source: notebook 03_pfs, data cut 2026-07-31"
    assert caption.alt.startswith("Kaplan-Meier curve of progression-free survival, full "
                                  "analysis set (N=5)")
    # SAP v3: no landmark has 5 at risk (4 at day 100, 2 at day 365): no value quoted
    assert "PFS: no landmark with at least 5 patients at risk" in caption.alt


def test_sap_v3_figure_description_names_the_last_landmark_with_enough_at_risk():
    # With min_at_risk 4: day 100 has 4 at risk, day 365 only 2; the description quotes day
    # 100, never the last point of the curve (60.0% at day 400, 2 at risk).
    caption = curve_caption("14.2.1", PFS, data_cut="2026-07-31", min_at_risk=4)
    assert ("At the last landmark with at least 4 patients at risk: PFS 80.0% at day 100, "
            "4 at risk.") in caption.alt
    assert "60.0%" not in caption.alt
    wide = curve_caption("14.2.1", PFS, data_cut="2026-07-31", min_at_risk=2,
                         landmarks_days=(100, 365, 730))
    assert "PFS 60.0% at 1 year (day 365), 2 at risk" in wide.alt


def test_cif_caption_explains_bands_and_the_shared_risk_set():
    caption = curve_caption("14.2.3", CIR_NRM, data_cut="2026-07-31")
    assert caption.caption.endswith("non-relapse mortality (NRM), full analysis set (N=4)")
    assert caption.footnotes[0].startswith("Aalen-Johansen")
    assert "Bands: Relapse shaded, NRM hatched." in caption.footnotes
    assert any("Relapse and NRM share one risk set" in n for n in caption.footnotes)


def test_gvhd_caption_without_censoring_in_the_window_and_competing_relapse():
    late = {"Grade II-IV": table([20.0, 150.0], [4, 3], [1, 0], [0, 3], [0.25, 0.25])}
    caption = curve_caption("14.3.1", late, data_cut="2026-07-31", relapse_competes=True)
    assert "no patient was censored within the time shown" in caption.footnotes[2]
    assert "relapse or death without it competing" in caption.footnotes[1]
    assert "Shown up to day 100; later follow-up is not drawn." in caption.footnotes
    assert "Grade II-IV: no landmark with at least 5 patients at risk" in caption.alt
    assert "Grade II-IV 25.0% at day 100, 3 at risk" in curve_caption(
        "14.3.1", late, data_cut="2026-07-31", min_at_risk=3).alt
    plain = curve_caption("14.3.1", late, data_cut="2026-07-31")
    assert "; death without it competing" in plain.footnotes[1]


def test_timeline_caption_n_threshold_and_summary():
    timeline = pd.DataFrame({"USUBJID": ["A", "A", "B"], "ADY": [30, 100, 60],
                             "EVENT": ["MRD-negative", "Last follow-up", "Death"]})
    caption = timeline_caption("14.2.4", timeline, data_cut="2026-07-31", mrd_threshold=1e-4)
    assert caption.caption == ("Figure 14.2.4. MRD results and clinical events by patient, "
                               "full analysis set (N=2)")
    assert "MRD-positive: result \u22651.0\u00d710\u207b\u2074" in caption.footnotes[1]
    assert caption.alt.startswith("Swimmer plot of the 2 patients")
    summary = timeline_caption("14.2.4", timeline, data_cut="2026-07-31", mrd_threshold=1e-4,
                               max_patients=1)
    assert summary.footnotes[0].startswith("More than 1 patients")
    assert summary.footnotes[0].endswith("(two on one day: positive if either is).")
    assert summary.alt.startswith("Stacked bars")


def test_unknown_or_mismatched_figure_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown figure '14.9.9'"):
        curve_caption("14.9.9", PFS, data_cut="2026-07-31")
    with pytest.raises(ValueError, match="figure 14.2.4 is a timeline figure, not km or cif"):
        draw_curves("14.2.4", PFS)


def test_markdown_links_the_png_from_the_notebook_with_caption_alt_and_notes():
    caption = curve_caption("14.2.1", PFS, data_cut="2026-07-31")
    text = caption.to_markdown()
    first, notes = text.split("\n\n", 1)
    assert first.startswith("![Figure 14.2.1. Progression-free survival, full analysis set "
                            "(N=5)](../figures/14.2.1.png){#figure-14-2-1 alt=\"Kaplan-Meier")
    assert f'fig-alt="{caption.alt}"' in first
    assert notes.startswith("::: figure-notes\nKaplan-Meier estimate")
    assert notes.rstrip().endswith("Source: notebook 03\\_pfs, data cut 2026-07-31\n:::")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):
    """A fake run whose GRFS notebook shows a real captioned figure, rendered with Pandoc."""
    run_dir = make_fake_run(tmp_path_factory.mktemp("run"))
    fits = {"GRFS": PFS["PFS"]}
    save_figure(draw_curves("14.2.5", fits), run_dir / "figures", "14.2.5")
    caption = curve_caption("14.2.5", fits, data_cut=DATA_CUT)
    notebook = new_notebook(cells=[new_markdown_cell("# GVHD-free, relapse-free survival")])
    notebook.cells.append(nbformat.v4.new_code_cell("x = 1", outputs=[new_output(
        "display_data", data={"text/markdown": caption.to_markdown(),
                              "text/plain": "<IPython.core.display.Markdown object>"})]))
    nbformat.write(notebook, run_dir / "notebooks" / "07_grfs.ipynb")
    return caption, render_report(run_dir, renderer="pandoc").outputs


def test_caption_notes_and_alt_text_survive_every_format(report):
    caption, outputs = report
    html = outputs["html"].read_text(encoding="utf-8")
    # the report titles a figure with a paragraph above it (render.markdown: the same in every
    # format and renderer), then the image with its alt text
    title = re.search(r'<div id="figure-14-2-5" class="tlf-title"[^>]*>\s*<p>(.*?)</p>', html,
                      re.S)
    assert title.group(1) == caption.caption
    figure = html[title.end():html.index('class="figure-notes', title.end())]
    assert f' alt="{caption.alt}"' in figure
    assert caption.alt.startswith("Kaplan-Meier curve of GVHD-free, relapse-free survival")
    assert 'src="data:image/png;base64,' in figure
    assert 'class="figure-notes' in html and caption.source_line in html
    document = docx.Document(outputs["docx"])
    paragraphs = [p.text for p in document.paragraphs]
    assert caption.caption in paragraphs
    assert caption.source_line in "\n".join(paragraphs)
    described = [shape._inline.docPr.get("descr") for shape in document.inline_shapes]
    assert caption.alt in described
    pdf = re.sub(r"\s+", " ", " ".join(page.extract_text()
                                       for page in PdfReader(outputs["pdf"]).pages))
    assert caption.caption in pdf and "Figure 14.2.5." in pdf
    assert caption.source_line in pdf
    plt.close("all")

"""A small fake run folder (executed notebooks, results, validation, manifest) for render tests."""

from __future__ import annotations

import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output  # noqa: E402

from haplo_report.analysis.results import ResultRow, write_results  # noqa: E402

STUDY_ID, DATA_CUT = "HAPLO-BLIN-ALL", "2026-01-31"
SPONSOR, PROTOCOL, RUN_STARTED = "Example Pharma", "HBA-01", "2026-11-29T10:00:00+00:00"
CODE_MARKER = "secret_code_marker = 1"  # source of every code cell: must never be rendered

RESULTS = [
    ResultRow("DISPOSITION", "ENRLFL=Y", "count", None, 33, n=33),
    ResultRow("DISPOSITION", "FASFL=Y", "count", None, 31, n=33),
    ResultRow("DISPOSITION", "SAFFL=Y", "count", None, 30, n=33),
    ResultRow("PFS", "All", "survival", 365, 0.64516, 0.45391, 0.78563, n=31, events=11,
              method="Kaplan-Meier, log(-log) 95% CI"),
    ResultRow("OS", "All", "survival", 365, 0.74194, 0.55012, 0.86204, n=31, events=8,
              method="Kaplan-Meier, log(-log) 95% CI"),
    ResultRow("CIR", "All", "cif", 365, 0.22581, 0.09912, 0.38415, n=31, events=7,
              method="Aalen-Johansen, Aalen variance"),
    ResultRow("AGVHD34", "All", "cif", 100, None, n=31, events=0, flag="NE",
              method="Aalen-Johansen, Aalen variance"),
    ResultRow("ANC", "All", "median_days", None, 15, 13, 17, n=31, events=30,
              method="Aalen-Johansen, median day"),
]

TABLE_1411 = """| Analysis set | N |
|---|---|
| Enrolled | 33 |
| Full analysis set | 31 |

: Table 14.1.1 Disposition and analysis sets (enrolled), data cut 2026-01-31
"""

TABLE_1421 = """| Time point | n at risk | Events | PFS, % (95% CI) |
|---|---|---|---|
| Day 100 | 27 | 4 | 87.1 (69.2, 94.9) |
| Day 365 | 18 | 11 | 64.5 (45.4, 78.6) |

: Table 14.2.1 Progression-free survival (FAS, N = 31), data cut 2026-01-31
"""

WIDE_COLUMNS = ["System organ class", "Preferred term", "Any grade", "Grade >= 3", "Serious",
                "Related to blinatumomab", "Fatal (grade 5)", "CRS", "ICANS", "Infection",
                "CMV reactivation", "EBV reactivation"]
TABLE_1435 = ("| " + " | ".join(WIDE_COLUMNS) + " |\n|" + "---|" * len(WIDE_COLUMNS) + "\n"
              + "| Infections and infestations, a long system organ class name | Cytomegalovirus "
              "infection reactivation | " + " | ".join(["12 (40.0)"] * 10) + " |\n\n"
              ": Table 14.3.7 Adverse events by system organ class and preferred term "
              "(safety set, N = 30), data cut 2026-01-31\n")


# A listing long enough to run over a PDF page: its title comes back as "(continued)".
LISTING_1626 = ("| Patient | Assessment, study day | MRD result | 1-year status |\n"
                "|---|---|---|---|\n"
                + "".join(f"| HB-01-{i:03d} | {300 + i} | Undetectable | Success: alive, "
                          "relapse-free and MRD-negative |\n" for i in range(1, 91))
                + "\n: Listing 16.2.6. MRD status at 1 year by patient (full analysis set; "
                  "data cut 2026-01-31)\n\n::: table-notes\nSource: notebook 16_listings\n:::\n")
FIGURE_CAPTION = "Figure 14.2.1. Progression-free survival, full analysis set (N=31)"
# A figure as outputs.captions.FigureCaption shows it: the saved PNG linked relative to the
# notebook, caption, alt text, then its notes.
FIGURE_1421 = (f"![{FIGURE_CAPTION}](../figures/14.2.1.png){{#figure-14-2-1 "
               'alt="Kaplan-Meier curve of PFS" fig-alt="Kaplan-Meier curve of PFS" '
               'width="100%"}\n\n::: figure-notes\nCensored patients are marked by ticks.\\\n'
               "Source: notebook 03_pfs, data cut 2026-01-31\n:::\n")


def _png() -> str:
    fig, ax = plt.subplots(figsize=(4, 2.5), dpi=80)
    ax.step([0, 100, 365, 500], [1, 0.87, 0.65, 0.6], where="post")
    ax.set_xlabel("Months since transplant")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    import base64
    return base64.b64encode(buffer.getvalue()).decode()


def _display(data: dict) -> object:
    return new_output("display_data", data=data)


def _notebook(title: str, outputs: list) -> nbformat.NotebookNode:
    cells = [new_markdown_cell(f"# {title}\n\nIntroductory text of {title}."),
             new_code_cell(CODE_MARKER, outputs=outputs)]
    return new_notebook(cells=cells)


def make_fake_run(run_dir: Path) -> Path:
    """Write a fake run folder with four executed notebooks (section 14 and appendix 16.2) and its JSON/CSV companions."""
    notebooks = run_dir / "notebooks"
    notebooks.mkdir(parents=True)
    books = {
        "01_population": _notebook("Study population", [
            _display({"text/markdown": TABLE_1411, "text/plain": "<IPython.core.display.Markdown object>"}),
            new_output("stream", name="stdout", text="Median follow-up 412 days\n"),
            new_output("stream", name="stderr", text="DeprecationWarning: noise\n"),
        ]),
        "03_pfs": _notebook("Progression-free survival", [
            _display({"text/markdown": TABLE_1421, "text/html": "<table><tr><td>html</td></tr></table>",
                      "text/plain": "   a  b\n0  1  2"}),
            _display({"text/markdown": FIGURE_1421}),
            _display({"image/png": _png(), "text/plain": "<Figure size 320x200 with 1 Axes>"}),
            new_output("execute_result", data={"text/html": "<table>df</table>",
                                               "text/plain": "DataFrame repr"}, execution_count=1),
        ]),
        "11_safety": _notebook("Adverse events and deaths", [
            _display({"text/markdown": TABLE_1435}),
        ]),
        "16_listings": _notebook("Patient data listings", [
            _display({"text/markdown": LISTING_1626}),
        ]),
    }
    for name, notebook in books.items():
        nbformat.write(notebook, notebooks / f"{name}.ipynb")
    import base64
    (run_dir / "figures").mkdir()
    (run_dir / "figures" / "14.2.1.png").write_bytes(base64.b64decode(_png()))
    write_results(RESULTS, run_dir / "results.csv")
    validation = {"valid": True, "violations": [],
                  "supplied": {"subjects": 33, "relapses": 9, "deaths": 8, "gvhd": 21,
                               "mrd": 120, "engraftment": None, "adverse_events": 240}}
    manifest = {
        "params": {"study_id": STUDY_ID, "study_title": "Haplo-HSCT with blinatumomab",
                   "data_cut_date": DATA_CUT, "mrd_threshold": 0.0001,
                   "landmarks_days": [100, 365, 730], "sponsor": SPONSOR, "protocol": PROTOCOL,
                   "report_status": "DRAFT", "report_version": "1.0", "page_size": "a4",
                   "confidentiality": "Confidential: example only."},
        "run_started": RUN_STARTED,
        "inputs": {"subjects.csv": {"sha256": "a" * 64, "rows": 33},
                   "deaths.csv": {"sha256": "b" * 64, "rows": 8}},
        "versions": {"haplo-report": "0.1.0", "pandas": "2.3.0", "lifelines": "0.30.0"},
        "git": {"commit": "0123456789abcdef0123", "dirty": False},
        "notebooks": {"01_population": {"status": "ok", "duration_s": 2.5},
                      "03_pfs": {"status": "ok", "duration_s": 3.1},
                      "16_listings": {"status": "ok", "duration_s": 1.0},
                      "11_safety": {"status": "cached", "duration_s": 0.0}},
    }
    (run_dir / "validation.json").write_text(json.dumps(validation), encoding="utf-8")
    (run_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return run_dir


if __name__ == "__main__":
    import sys
    make_fake_run(Path(sys.argv[1]))

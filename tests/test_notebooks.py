"""Every chapter notebook runs with papermill on a small simulated cut, writes its result rows,
tables and figures, and reports the same numbers as the package functions it calls."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pandas as pd
import papermill
import pytest

from haplo_report.analysis.derive import derive_cut, load_derived
from haplo_report.analysis.endpoints import endpoint_landmarks, tte_results
from haplo_report.analysis.narratives import build_narratives
from haplo_report.outputs.narratives import file_name
from haplo_report.params import Params, load_params
from haplo_report.plan import COMMON_PARAMS, NOTEBOOKS
from haplo_report.analysis.results import read_results, results_frame
from haplo_report.data.simulate import write_simulated_cut
from haplo_report.data.validation import validate_cut

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
CUT_DATE = dt.date(2026, 6, 30)
OPTIONAL = ("mrd", "gvhd", "engraftment", "adverse_events")

# Endpoints each notebook's results CSV must hold, and the tables and figures it must write.
EXPECTED: dict[str, tuple[set[str], set[str], set[str]]] = {
    "01_population": ({"DISP", "OS", "BASELINE", "TRANSPLANT"},
                      {"14.1.1", "14.1.2", "14.1.3", "14.1.4"}, set()),
    "03_pfs": ({"PFS"}, {"14.2.1", "14.2.2"}, {"14.2.1"}),
    "04_os": ({"OS"}, {"14.2.3", "14.2.4"}, {"14.2.2"}),
    "05_relapse_nrm": ({"CIR", "NRM"}, {"14.2.5", "14.2.6"}, {"14.2.3"}),
    "06_mrd": ({"MRD", "MRD1Y"}, {"14.2.7", "14.2.8"}, {"14.2.4"}),
    "07_grfs": ({"GRFS"}, {"14.2.9", "14.2.10"}, {"14.2.5"}),
    "08_acute_gvhd": ({"AGVHD24", "AGVHD34", "AGVHDMAX"}, {"14.3.1", "14.3.2"}, {"14.3.1"}),
    "09_chronic_gvhd": ({"CGVHD", "CGVHDMS", "CGVHDMAX"}, {"14.3.3", "14.3.4"}, {"14.3.2"}),
    "10_engraftment": ({"ANC", "PLT"}, {"14.3.5"}, {"14.3.3"}),
    "11_safety": ({"DEATH", "AE", "AESOCPT", "AESOCPTGR", "AESI"},
                  {"14.3.6", "14.3.7", "14.3.8", "14.3.9", "14.3.10"}, set()),
    "12_narratives": (set(), set(), set()),
    "16_listings": (set(), set(), set()),  # appendix 16.2: listings only (SAP v3)
}
# Chapters that depend on an optional table, and what remains without it.
WITHOUT_OPTIONAL = {"06_mrd": set(), "08_acute_gvhd": set(), "10_engraftment": set(),
                    "11_safety": {"DEATH"}, "12_narratives": set(), "16_listings": set()}


def _value(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def _parameters(name: str, params: Params, data_dir: Path, out_dir: Path) -> dict:
    spec = next(s for s in NOTEBOOKS if s.name == name)
    values = {p: _value(getattr(params, p)) for p in (*COMMON_PARAMS, *spec.params)}
    values["data_cut_date"] = str(params.data_cut_date)
    return {**values, "data_dir": str(data_dir), "out_dir": str(out_dir)}


def _execute(name: str, parameters: dict, out_dir: Path) -> str | None:
    """Run one notebook; None on success, else the error (papermill keeps the failed copy)."""
    target = out_dir / "notebooks" / f"{name}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(NOTEBOOK_DIR / f"{name}.ipynb", target,
                                   parameters=parameters, kernel_name="python3",
                                   progress_bar=False, cwd=str(out_dir))
    except Exception as error:  # noqa: BLE001 - reported by the test with the notebook's name
        return f"{type(error).__name__}: {error}"
    return None


def _derive(cut: Path, folder: Path, params: Params):
    derived = derive_cut(validate_cut(cut, params.data_cut_date), params)
    derived.write(folder)
    return load_derived(folder)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every notebook on a full simulated cut; the optional-table chapters again on the same
    cut without its optional tables. All kernels run two at a time."""
    root = tmp_path_factory.mktemp("notebooks")
    full_cut = write_simulated_cut(root / "cut", n=31, seed=11)
    bare_cut = root / "bare_cut"
    shutil.copytree(full_cut, bare_cut)
    for table in OPTIONAL:
        (bare_cut / f"{table}.csv").unlink()
    params = Params(study_id="TEST", study_title="Test study", data_dir=full_cut,
                    data_cut_date=CUT_DATE, subgroup_min_n=8)
    full = _derive(full_cut, root / "data", params)
    bare = _derive(bare_cut, root / "bare_data", dataclasses.replace(params, data_dir=bare_cut))
    jobs = [(name, _parameters(name, params, root / "data", root / "out"), root / "out")
            for name in EXPECTED]
    jobs += [(name, _parameters(name, params, root / "bare_data", root / "bare_out"),
              root / "bare_out") for name in WITHOUT_OPTIONAL]
    for _, _, out in jobs:
        out.mkdir(exist_ok=True)
    with ThreadPoolExecutor(max_workers=2) as pool:  # kernels are processes of their own
        errors = list(pool.map(_execute, *zip(*jobs)))
    failed = {f"{out.name}/{name}": e for (name, _, out), e in zip(jobs, errors) if e}
    return {"root": root, "full": full, "bare": bare, "params": params, "failed": failed}


def _outputs(path: Path) -> list[dict]:
    """The outputs the report shows (not those of cells tagged remove-output)."""
    notebook = nbformat.read(path, as_version=4)
    return [o for cell in notebook.cells if cell.cell_type == "code"
            and "remove-output" not in cell.metadata.get("tags", [])
            for o in cell.get("outputs", [])]


def test_every_notebook_ran(runs):
    assert runs["failed"] == {}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_notebook_writes_results_tables_and_figures(runs, name):
    out = runs["root"] / "out"
    endpoints, tables, figures = EXPECTED[name]
    results = read_results(out / "results" / f"{name}.csv")
    assert set(results["endpoint"]) == endpoints
    for number in tables:
        assert (out / "tables" / f"{number}.csv").is_file()
        assert (out / "tables" / f"{number}.docx").is_file()
        assert (out / "tables" / f"{number}.rtf").is_file()
    for number in figures:
        assert (out / "figures" / f"{number}.png").is_file()
    outputs = _outputs(out / "notebooks" / f"{name}.ipynb")
    markdown = [o["data"]["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {})]
    assert sum("\nTable: Table " in m for m in markdown) == len(tables)
    # each figure as a captioned image linked from the notebook, with its notes (the caption
    # is text in every format, not pixels)
    shown = [re.search(r"^!\[Figure ([\d.]+)\. [^\n]+\]\(\.\./figures/\1\.png\)\{#figure-", m)
             for m in markdown]
    assert [s.group(1) for s in shown if s] == sorted(figures)
    assert sum("\n::: figure-notes\n" in m for m in markdown) == len(figures)
    assert not any("image/png" in o.get("data", {}) for o in outputs)
    # The renderers show text/markdown and image/png; anything else would leak into the report.
    assert all(o["output_type"] in ("display_data", "execute_result") and
               {"text/markdown", "image/png"} & set(o["data"]) for o in outputs)


# (notebook, endpoint, landmarks parameter or None for the SAP's fixed ones, subgroups?)
TTE = [("03_pfs", "PFS", True, True), ("04_os", "OS", True, True),
       ("05_relapse_nrm", "CIR", True, True), ("05_relapse_nrm", "NRM", True, True),
       ("07_grfs", "GRFS", True, True), ("08_acute_gvhd", "AGVHD24", False, True),
       ("08_acute_gvhd", "AGVHD34", False, True), ("09_chronic_gvhd", "CGVHD", True, True),
       ("09_chronic_gvhd", "CGVHDMS", True, True), ("10_engraftment", "ANC", False, False),
       ("10_engraftment", "PLT", False, False)]


@pytest.mark.parametrize("name, paramcd, run_landmarks, subgroups", TTE)
def test_notebook_numbers_equal_tte_results(runs, name, paramcd, run_landmarks, subgroups):
    params = runs["params"]
    results = read_results(runs["root"] / "out" / "results" / f"{name}.csv")
    written = results[results["endpoint"] == paramcd].reset_index(drop=True)
    landmarks = (endpoint_landmarks(paramcd, params.landmarks_days) if run_landmarks
                 else endpoint_landmarks(paramcd))
    kwargs = {"subgroup_min_n": params.subgroup_min_n} if subgroups else {"subgroups": ()}
    expected = results_frame(tte_results(runs["full"].adtte, paramcd, landmarks=landmarks,
                                         **kwargs))
    assert len(written) > 0
    pd.testing.assert_frame_equal(written, expected, check_exact=False, rtol=1e-9)


def test_follow_up_in_population_chapter(runs):
    results = read_results(runs["root"] / "out" / "results" / "01_population.csv")
    assert set(results.loc[results["endpoint"] == "OS", "statistic"]) == {
        "median_followup", "min", "max"}


def test_tables_shown_in_numbering_order(runs):
    """Across the chapters in report order, every table caption follows the one before it in
    numbering order (14.1.1, 14.1.2, 14.1.3, 14.1.4, 14.2.1, ...)."""
    shown = []
    for spec in NOTEBOOKS:
        for output in _outputs(runs["root"] / "out" / "notebooks" / f"{spec.name}.ipynb"):
            markdown = output.get("data", {}).get("text/markdown", "")
            shown += re.findall(r"^Table: Table ([\d.]+)\.", markdown, flags=re.M)
    assert shown[:4] == ["14.1.1", "14.1.2", "14.1.3", "14.1.4"]
    assert shown == sorted(shown, key=lambda n: [int(p) for p in n.split(".")])


def test_sap_v3_listings_together_in_appendix_16_2(runs):
    out = runs["root"] / "out"
    markdown = "\n".join(o["data"]["text/markdown"] for spec in NOTEBOOKS
                         for o in _outputs(out / "notebooks" / f"{spec.name}.ipynb")
                         if spec.name != "16_listings" and "text/markdown" in o.get("data", {}))
    assert "Listing 16.2." not in markdown  # section 14 holds no listing
    listings = "\n".join(o["data"]["text/markdown"]
                         for o in _outputs(out / "notebooks" / "16_listings.ipynb")
                         if "text/markdown" in o.get("data", {}))
    assert listings.index("Listing 16.2.6.") < listings.index("Listing 16.2.7.")
    assert (out / "tables" / "16.2.7.csv").is_file()


def test_headline_sentence_is_shown(runs):
    outputs = _outputs(runs["root"] / "out" / "notebooks" / "03_pfs.ipynb")
    first = next(o["data"]["text/markdown"] for o in outputs
                 if "text/markdown" in o.get("data", {}))
    assert first.startswith("The 1-year progression-free survival was ")


def test_narratives_notebook_writes_every_narrative_with_its_files(runs):
    params, derived = runs["params"], runs["full"]
    expected = build_narratives(derived.adsl, derived.adae, derived.admrd, derived.adgvhd,
                                derived.adtte, mrd_threshold=params.mrd_threshold,
                                mrd_window_days=params.mrd_window_days,
                                mrd_window_days_365=params.mrd_window_days_365)
    folder = runs["root"] / "out" / "narratives"
    stored = json.loads((folder / "narratives.json").read_text(encoding="utf-8"))
    assert [n["usubjid"] for n in stored["narratives"]] == [n.usubjid for n in expected]
    assert [n["text"] for n in stored["narratives"]] == [n.text for n in expected]
    assert len(expected) > 5 and all((folder / file_name(n.usubjid)).is_file() for n in expected)
    markdown = "".join(o["data"]["text/markdown"] for o in _outputs(
        runs["root"] / "out" / "notebooks" / "12_narratives.ipynb")
        if "text/markdown" in o.get("data", {}))
    assert markdown.count("\n## ") == len(expected)
    bare = json.loads((runs["root"] / "bare_out" / "narratives" / "narratives.json")
                      .read_text(encoding="utf-8"))
    assert {n["usubjid"] for n in bare["narratives"]} == set(
        runs["bare"].adsl.loc[runs["bare"].adsl["DTHFL"] == "Y", "USUBJID"])


@pytest.mark.parametrize("name, table", [("06_mrd", "MRD"), ("08_acute_gvhd", "GVHD"),
                                         ("10_engraftment", "engraftment"),
                                         ("11_safety", "adverse event")])
def test_missing_optional_table_is_said_not_failed(runs, name, table):
    out = runs["root"] / "bare_out"
    assert runs["bare"].supplied[{"MRD": "mrd", "GVHD": "gvhd", "engraftment": "engraftment",
                                  "adverse event": "adverse_events"}[table]] is None
    markdown = [o["data"]["text/markdown"] for o in _outputs(out / "notebooks" / f"{name}.ipynb")
                if "text/markdown" in o.get("data", {})]
    assert f"The {table} table was not supplied in this data cut." in markdown
    results = read_results(out / "results" / f"{name}.csv")
    assert set(results["endpoint"]) == WITHOUT_OPTIONAL[name]


def test_parameters_cell_defaults_are_the_example_cut():
    example = load_params(NOTEBOOK_DIR.parent / "params" / "example.yml").to_dict()
    for spec in NOTEBOOKS:
        notebook = nbformat.read(NOTEBOOK_DIR / f"{spec.name}.ipynb", as_version=4)
        cells = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(cells) == 1, spec.name
        namespace: dict = {}
        exec(cells[0].source, namespace)  # noqa: S102 - our own source notebook
        expected = {"study_id", "study_title", "data_cut_date", "data_dir", "out_dir",
                    *spec.params}
        assert set(namespace) - {"__builtins__"} == expected, spec.name
        for name in (*COMMON_PARAMS, *spec.params):
            assert namespace[name] == example[name], (spec.name, name)
        assert (namespace["data_dir"], namespace["out_dir"]) == ("data", "."), spec.name
        assert notebook.cells[0].source == f"# {spec.title}"
        assert all(c.get("outputs", []) == [] and c.get("execution_count") is None
                   for c in notebook.cells if c.cell_type == "code"), spec.name


def test_first_output_is_the_dataset_check(runs):
    for spec in NOTEBOOKS:
        notebook = nbformat.read(runs["root"] / "out" / "notebooks" / f"{spec.name}.ipynb",
                                 as_version=4)
        first = next(o for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
        text = first["data"]["text/markdown"]
        assert re.match(r"\*\*Data check\.\*\* pandera [0-9.]+ validated each derived dataset",
                        text), spec.name
        assert re.search(r"\n\| Dataset +\| +Rows \| Schema +\| Valid +\|", text), spec.name
        assert re.search(r"\| ADSL +\| +31 \| ADSL 1\.0 +\| Yes ", text)
        assert "| No " not in text


def test_an_altered_dataset_stops_its_notebook_naming_the_violation(runs, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(runs["root"] / "data", data)
    adtte = pd.read_parquet(data / "adtte.parquet")
    row = int(adtte.index[adtte["PARAMCD"] == "PFS"][2])
    adtte.loc[row, "CNSR"] = 7
    adtte.to_parquet(data / "adtte.parquet", index=False)
    params = runs["params"]
    error = _execute("03_pfs", _parameters("03_pfs", params, data, tmp_path), tmp_path)
    assert "InvalidDerivedData" in error
    assert f"ADTTE (PFS): row {row + 1}, column CNSR, value 7, check isin([0, 1, 2, 3, 4])" in error
    assert not (tmp_path / "results" / "03_pfs.csv").exists()  # stopped before any result

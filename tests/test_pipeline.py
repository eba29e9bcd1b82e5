"""haplo_report.run: execution, collection, layout, cache and progress (fake notebooks)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import io
import os
import json
import re
import shutil
import warnings
from pathlib import Path

import nbformat
import pandas as pd
import psutil
import pytest

from haplo_report import run as pipeline
from haplo_report.params import ParamsError
from haplo_report.plan import NotebookSpec
from haplo_report.run import build, cache, collect, fast_path, html_copies, kernels, manifest
from haplo_report.run.progress import Progress
from haplo_report.outputs import standards
from haplo_report.render import RenderResult
from haplo_report.analysis.results import read_results
from pipeline_fixtures import (ALPHA, BETA, NOTEBOOKS_DIR, SPECS, VALID_CUT, good_run,  # noqa: F401
                               make_params, previous, run_fake, tree_hashes)

RUN = Path("TEST") / "2026-06-30"


def _injected(notebook: Path) -> str:
    cells = nbformat.read(notebook, as_version=4).cells
    return next(c.source for c in cells if "injected-parameters" in c.metadata.get("tags", []))


def test_every_notebook_executed_and_results_collected(good_run):
    output, result = good_run
    run_dir = output / RUN
    assert result.run_dir == run_dir
    assert result.executed == ("01_alpha", "02_beta") and result.cached == ()
    assert not result.up_to_date
    for name in ("data/adsl.parquet", "data/adtte.csv", "data/supplied.json",
                 "notebooks/01_alpha.ipynb", "notebooks/01_alpha.html", "notebooks/02_beta.ipynb",
                 "notebooks/02_beta.html", "tables/alpha.csv", "results/01_alpha.csv",
                 "results.csv", "validation.json", "validation.csv", "manifest.json"):
        assert (run_dir / name).is_file(), name
    # nothing but the report folder is left in the study folder (no lock files)
    assert sorted(p.name for p in (output / "TEST").iterdir()) == ["2026-06-30"]

    results = read_results(run_dir / "results.csv")
    assert results["endpoint"].tolist() == ["DISPOSITION", "OS", "MRD"]  # plan, then row order
    subjects = pd.read_csv(VALID_CUT / "subjects.csv")
    admrd = pd.read_csv(run_dir / "data" / "admrd.csv")
    assert results.loc[0, "estimate"] == len(subjects) == 8
    assert results.loc[2, "estimate"] == (admrd["RESULT"] >= 1e-4).sum()
    assert results.loc[2, "n"] == len(admrd)
    validation = json.loads((run_dir / "validation.json").read_text())
    assert validation["valid"] is True and validation["supplied"]["subjects"] == 8


def test_parameters_injected_per_plan(good_run):
    run_dir = good_run[0] / RUN
    alpha, beta = (_injected(run_dir / "notebooks" / f"{n}.ipynb") for n in ("01_alpha", "02_beta"))
    assert 'data_cut_date = "2026-06-30"' in alpha and 'study_id = "TEST"' in alpha
    assert "mrd_threshold" not in alpha
    assert "mrd_threshold = 0.0001" in beta
    assert 'data_dir = "data"' in beta and 'out_dir = "."' in beta  # the delivered folder's


def test_executed_notebooks_carry_no_wall_clock_and_html_is_offline(good_run):
    run_dir = good_run[0] / RUN
    notebook = nbformat.read(run_dir / "notebooks" / "01_alpha.ipynb", as_version=4)
    for node in (notebook, *notebook.cells):
        assert not {"start_time", "end_time", "duration"} & set(node.metadata.get("papermill", {}))
    html = (run_dir / "notebooks" / "01_alpha.html").read_text()
    assert "Enrolled patients: 8" in html
    remote = [url for url in re.findall(r"(?:src|href)=[\"']([^\"']+)", html) if "//" in url]
    assert remote == []
    assert not re.search(r"import\(\s*[\"']https?://", html)


def test_second_run_executes_nothing_and_leaves_the_folder(previous):
    before = tree_hashes(previous / RUN)
    stream = io.StringIO()
    result = run_fake(make_params(previous), stream=stream)
    assert result.up_to_date and result.executed == ()
    assert result.cached == ("01_alpha", "02_beta")
    assert tree_hashes(previous / RUN) == before
    assert "up to date" in stream.getvalue()
    assert [p.name for p in (previous / "TEST").iterdir()] == ["2026-06-30"]  # no lock files


def test_changed_parameter_reexecutes_only_the_notebook_that_reads_it(previous):
    old = tree_hashes(previous / RUN)
    result = run_fake(make_params(previous, mrd_threshold=0.5))
    assert result.executed == ("02_beta",) and result.cached == ("01_alpha",)
    run_dir = previous / RUN
    results = read_results(run_dir / "results.csv")
    admrd = pd.read_csv(run_dir / "data" / "admrd.csv")
    assert results.loc[2, "estimate"] == (admrd["RESULT"] >= 0.5).sum()
    new = tree_hashes(run_dir)
    for name in ("notebooks/01_alpha.ipynb", "tables/alpha.csv", "results/01_alpha.csv"):
        assert new[name] == old[name]
    assert new["notebooks/02_beta.ipynb"] != old["notebooks/02_beta.ipynb"]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["notebooks"]["01_alpha"]["status"] == "cached"
    assert manifest["notebooks"]["02_beta"]["status"] == "executed"
    assert manifest["params"]["mrd_threshold"] == 0.5


def test_changed_cut_reexecutes_what_depends_on_it(previous, tmp_path):
    cut = tmp_path / "cut"
    shutil.copytree(VALID_CUT, cut)
    mrd = (cut / "mrd.csv").read_text().splitlines()
    mrd[1] = mrd[1].rsplit(",", 1)[0] + ",0.01"  # one MRD result changes; ADSL and OS do not
    (cut / "mrd.csv").write_text("\n".join(mrd) + "\n")
    result = run_fake(make_params(previous, data_dir=cut))
    assert result.executed == ("02_beta",) and result.cached == ("01_alpha",)


def test_force_executes_all_with_byte_identical_outputs(good_run, previous):
    old = tree_hashes(previous / RUN)
    result = run_fake(make_params(previous), force=True)
    assert result.executed == ("01_alpha", "02_beta")
    new = tree_hashes(previous / RUN)
    same = [k for k in new if not k.startswith("notebooks/") and k != "manifest.json"]
    assert "results.csv" in same and "tables/alpha.csv" in same
    assert {k: new[k] for k in same} == {k: old[k] for k in same}
    # executed notebooks differ only by the injected folder paths of the two output folders
    for name in ("01_alpha.ipynb", "02_beta.ipynb", "02_beta.html"):
        before = (good_run[0] / RUN / "notebooks" / name).read_text()
        after = (previous / RUN / "notebooks" / name).read_text()
        assert after.replace(str(previous), str(good_run[0])) == before


def test_render_runs_once_and_is_skipped_when_nothing_changed(previous, monkeypatch):
    calls = []

    def fake_render(run_dir: Path, formats: tuple[str, ...], *, renderer: str) -> RenderResult:
        calls.append((formats, renderer, json.loads((run_dir / "manifest.json").read_text())))
        (run_dir / "report").mkdir()
        (run_dir / "report" / "TEST_2026-06-30.html").write_text("report")
        return RenderResult(renderer, {"html": run_dir / "report" / "TEST_2026-06-30.html"})

    monkeypatch.setattr(fast_path, "choose_renderer",
                        lambda renderer="auto": "stub" if renderer == "auto" else renderer)
    monkeypatch.setattr(build, "render_report", fake_render)
    params = make_params(previous)
    kwargs = dict(jobs=2, notebooks=SPECS, notebooks_dir=NOTEBOOKS_DIR, formats=("html",))
    first = pipeline.run(params, **kwargs)
    assert first.renderer == "stub" and not first.up_to_date and first.executed == ()
    assert len(calls) == 1 and calls[0][:2] == (("html",), "stub")
    assert "start" not in calls[0][2]["notebooks"]["01_alpha"]  # the report sees no wall clock
    manifest = json.loads((previous / RUN / "manifest.json").read_text())
    assert manifest["renderer"] == "stub"
    assert "report/TEST_2026-06-30.html" in manifest["outputs"]
    second = pipeline.run(params, **kwargs)
    assert second.up_to_date and len(calls) == 1
    third = pipeline.run(params, **{**kwargs, "formats": ("html", "docx")})
    assert not third.up_to_date and len(calls) == 2
    # another renderer is another report: rendered again, and the manifest says which
    fourth = pipeline.run(params, **{**kwargs, "formats": ("html", "docx")}, renderer="pandoc")
    assert not fourth.up_to_date and fourth.executed == () and calls[-1][1] == "pandoc"
    assert json.loads((previous / RUN / "manifest.json").read_text())["renderer"] == "pandoc"


def test_missing_notebook_and_bad_jobs_are_refused(tmp_path):
    params = make_params(tmp_path / "output")
    with pytest.raises(pipeline.RunFailed, match="notebook.*not found.*00_missing"):
        run_fake(params, (ALPHA, NotebookSpec("00_missing", "M", "14.1")))
    with pytest.raises(ParamsError, match="--jobs: must be at least 1, got 0"):
        pipeline.run(params, jobs=0, notebooks=(ALPHA,), notebooks_dir=NOTEBOOKS_DIR)
    with pytest.raises(ParamsError, match="--formats: unknown report format 'rtf'"):
        pipeline.run(params, formats=("html", "rtf"), notebooks=(ALPHA,),
                     notebooks_dir=NOTEBOOKS_DIR)
    assert not (tmp_path / "output").exists()


def test_invalid_cut_lists_violations_and_writes_nothing(tmp_path):
    cut = tmp_path / "cut"
    shutil.copytree(VALID_CUT, cut)
    text = (cut / "subjects.csv").read_text().replace(",M,", ",X,", 1)
    (cut / "subjects.csv").write_text(text)
    children = {p.pid for p in psutil.Process().children(recursive=True)}
    with pytest.raises(pipeline.RunFailed) as caught:
        run_fake(make_params(tmp_path / "output", data_dir=cut), (BETA,))
    message = str(caught.value)
    assert "subjects.csv" in message and "SEX" in message and "'X'" in message
    assert "1 violation(s)" in message
    assert not (tmp_path / "output").exists()
    # the kernel started before validation was shut down with the failed run
    assert {p.pid for p in psutil.Process().children(recursive=True)} - children == set()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_plain_lines_and_terminal_line():
    plain = io.StringIO()
    progress = Progress(2, plain)
    progress.start("03_pfs")
    progress.finish("03_pfs", "executed")
    lines = plain.getvalue().splitlines()
    assert lines[0] == "notebook 03_pfs: executing"
    assert re.fullmatch(r"notebook 03_pfs: executed \(1/2, \d+ s\)", lines[1])

    terminal = _Terminal()
    progress = Progress(2, terminal)
    progress.start("03_pfs")
    progress.start("04_os")
    assert "\n" not in terminal.getvalue()
    assert terminal.getvalue().endswith("running: 03_pfs, 04_os")
    progress.finish("03_pfs", "executed")
    assert re.search(r"\r\x1b\[K\[1/2\] \d+ s  running: 04_os$", terminal.getvalue())


def test_notebooks_run_in_a_neutral_folder_and_leave_the_process_cwd(previous, tmp_path):
    cwd = os.getcwd()
    run_fake(make_params(previous), force=True)
    assert os.getcwd() == cwd  # papermill's cwd= would chdir the whole process


def test_collect_results_with_an_empty_chapter_keeps_rows_and_types(tmp_path):
    from haplo_report.analysis.results import ResultRow, write_results
    row = ResultRow(endpoint="OS", subgroup="All", statistic="survival", time_days=365.0,
                    estimate=0.8, ci_lower=0.6, ci_upper=0.9, n=31, events=6, method="KM",
                    flag="")
    write_results([row], tmp_path / "results" / "01_alpha.csv")
    write_results([], tmp_path / "results" / "02_beta.csv")  # optional table not supplied
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas' FutureWarning on concatenating empty frames
        frame = collect.collect_results(["01_alpha", "02_beta"], tmp_path)
    assert frame["endpoint"].tolist() == ["OS"] and frame["events"].tolist() == [6]
    assert str(frame["n"].dtype) == "Int64" and str(frame["estimate"].dtype) == "float64"
    assert read_results(tmp_path / "results.csv")["estimate"].tolist() == [0.8]
    write_results([], tmp_path / "results" / "01_alpha.csv")
    assert collect.collect_results(["01_alpha", "02_beta"], tmp_path).empty


@pytest.fixture
def validations(monkeypatch) -> list[Path]:
    """The data folders validated by the runs of a test (none when a run stops early)."""
    calls: list[Path] = []
    real = build.validate_cut

    def counting(data_dir, data_cut_date):
        calls.append(Path(data_dir))
        return real(data_dir, data_cut_date)

    monkeypatch.setattr(build, "validate_cut", counting)
    return calls


def test_nothing_changed_stops_before_validating(previous, validations):
    manifest = json.loads((previous / RUN / "manifest.json").read_text())
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["run_key"])
    result = run_fake(make_params(previous))
    assert result.up_to_date and result.cached == ("01_alpha", "02_beta")
    assert validations == []
    assert run_fake(make_params(previous), force=True).executed == ("01_alpha", "02_beta")
    assert len(validations) == 1


def test_any_input_byte_parameter_or_suite_change_takes_the_full_path(previous, tmp_path,
                                                                     validations, monkeypatch):
    cut = tmp_path / "cut"
    shutil.copytree(VALID_CUT, cut)
    params = make_params(previous, data_dir=cut)
    run_fake(params)  # another folder, same files: full path, validation and derivation taken over
    assert validations == []
    assert run_fake(params).up_to_date and validations == []  # fast path
    (cut / "notes.txt").write_text("a file the readers ignore\n")
    result = run_fake(params)  # full path; the report stands and the manifest gets the keys
    assert result.up_to_date and len(validations) == 1
    assert run_fake(params).up_to_date and len(validations) == 1
    subjects = cut / "subjects.csv"
    subjects.write_bytes(subjects.read_bytes() + b"\n")  # one byte more, same table
    assert run_fake(params).executed == () and len(validations) == 2
    result = run_fake(make_params(previous, data_dir=cut, mrd_threshold=0.5))
    assert result.executed == ("02_beta",) and len(validations) == 2  # derivation taken over
    monkeypatch.setattr(cache, "suite_fingerprint",
                        lambda: {"version": "0", "code_sha256": "changed"})
    result = run_fake(make_params(previous, data_dir=cut, mrd_threshold=0.5))
    assert result.executed == ("01_alpha", "02_beta") and len(validations) == 3


def test_changed_or_missing_output_takes_the_full_path(previous, validations):
    table = previous / RUN / "tables" / "alpha.csv"
    text = table.read_text()
    table.write_text(text[:-2] + ("0" if text[-2] != "0" else "1") + text[-1])  # same size
    result = run_fake(make_params(previous))
    assert result.executed == ("01_alpha",) and validations == []  # derivation taken over
    assert table.read_text() == text
    (previous / RUN / "notebooks" / "02_beta.html").unlink()
    assert run_fake(make_params(previous)).executed == ("02_beta",)
    assert validations == []


def _refuse(*args: object) -> None:
    raise AssertionError("validated or derived although taken over")


def test_notebook_parameter_change_takes_validation_and_derivation_over(previous, tmp_path,
                                                                        monkeypatch):
    changed = make_params(previous, mrd_threshold=0.5)
    full = run_fake(dataclasses.replace(changed, output_dir=tmp_path / "full"))
    monkeypatch.setattr(build, "validate_cut", _refuse)
    monkeypatch.setattr(build, "derive_cut", _refuse)
    monkeypatch.setattr(standards, "write_xpt", _refuse)  # data/adam/ taken over too
    stream = io.StringIO()
    result = run_fake(changed, stream=stream)
    assert result.executed == ("02_beta",) and result.cached == ("01_alpha",)
    assert full.executed == ("01_alpha", "02_beta")
    assert ("validation and derivation unchanged since the last run: taken over"
            in stream.getvalue().splitlines())
    taken, ran = (json.loads((folder / "manifest.json").read_text())
                  for folder in (previous / RUN, tmp_path / "full" / RUN))
    # the same cache keys, inputs and derivation record as a full run
    assert ({n: e["cache_key"] for n, e in taken["notebooks"].items()}
            == {n: e["cache_key"] for n, e in ran["notebooks"].items()})
    assert taken["inputs"] == ran["inputs"] and taken["derivation"] == ran["derivation"]
    assert taken["run_key"] == ran["run_key"] and taken["report_key"] == ran["report_key"]
    assert set(taken["derivation"]["files"]) == {
        "validation.json", "validation.csv", "data/supplied.json",
        *(f"data/{name}.{ext}" for name in ("adsl", "adtte", "admrd", "adgvhd", "adae")
          for ext in ("parquet", "csv")),
        *(f"data/input/{name}.parquet" for name in ("subjects", "relapses", "deaths", "mrd",
                                                     "gvhd", "engraftment", "adverse_events")
          if (VALID_CUT / f"{name}.csv").is_file())}
    assert "derivation_taken_over" in taken["timings"] and "validation" not in taken["timings"]
    assert {"validation", "derivation"} <= set(ran["timings"])
    # every file but the executed notebooks (their output paths) and the manifest: identical
    same, other = tree_hashes(previous / RUN), tree_hashes(tmp_path / "full" / RUN)
    assert same.keys() == other.keys()
    assert ({k: v for k, v in same.items() if not k.startswith("notebooks/")
             and k != "manifest.json"}
            == {k: v for k, v in other.items() if not k.startswith("notebooks/")
                and k != "manifest.json"})


def test_adam_files_are_made_again_for_another_study_title(previous, monkeypatch):
    define = previous / RUN / "data" / "adam" / "define.xml"
    before = define.read_text(encoding="utf-8")
    written = []
    monkeypatch.setattr(build, "validate_cut", _refuse)  # the title is not read by derivation
    monkeypatch.setattr(standards, "write_xpt",
                        lambda dataset, *args, _write=standards.write_xpt, **kwargs:
                        written.append(dataset) or _write(dataset, *args, **kwargs))
    run_fake(make_params(previous, study_title="Another title"))
    assert len(written) == 5
    assert "Another title" in define.read_text(encoding="utf-8") and "Another title" not in before


@pytest.mark.parametrize("change", ["data file", "derivation parameter", "derived file",
                                    "missing file", "force", "no derivation record"])
def test_validation_and_derivation_not_taken_over(previous, tmp_path, validations, change):
    params = make_params(previous, mrd_threshold=0.5)
    run_dir = previous / RUN
    force = change == "force"
    if change == "data file":
        cut = tmp_path / "cut"
        shutil.copytree(VALID_CUT, cut)
        mrd = (cut / "mrd.csv").read_text().splitlines()
        mrd[1] = mrd[1].rsplit(",", 1)[0] + ",0.01"
        (cut / "mrd.csv").write_text("\n".join(mrd) + "\n")
        params = make_params(previous, data_dir=cut, mrd_threshold=0.5)
    elif change == "derivation parameter":
        params = make_params(previous, mrd_threshold=0.5, gvhd_relapse_competes=True)
    elif change == "derived file":  # same size, one character changed
        adsl = run_dir / "data" / "adsl.csv"
        text = adsl.read_text()
        adsl.write_text(text[:-2] + ("0" if text[-2] != "0" else "1") + text[-1])
    elif change == "missing file":
        (run_dir / "data" / "input" / "mrd.parquet").unlink()
    elif change == "no derivation record":  # a run of an earlier version
        recorded = json.loads((run_dir / "manifest.json").read_text())
        del recorded["derivation"]
        (run_dir / "manifest.json").write_text(json.dumps(recorded))
    stream = io.StringIO()
    result = run_fake(params, force=force, stream=stream)
    assert len(validations) == 1 and "taken over" not in stream.getvalue()
    assert result.executed == (("01_alpha", "02_beta") if force else ("02_beta",))
    manifest_now = json.loads((run_dir / "manifest.json").read_text())
    assert manifest_now["derivation"]["key"] == cache.derivation_key(
        params, cache.data_files(params.data_dir))
    assert {"validation", "derivation"} <= set(manifest_now["timings"])
    for relative in manifest_now["derivation"]["files"]:  # written again, as recorded
        assert manifest.sha256_file(run_dir / relative) == (
            manifest_now["outputs"][relative]["sha256"])


def test_derivation_key_covers_data_and_derivation_parameters_only(tmp_path):
    params = make_params(tmp_path)
    data = cache.data_files(VALID_CUT)
    key = cache.derivation_key(params, data)
    for changes in ({"mrd_threshold": 0.5}, {"ltfu_days": 30}, {"study_title": "Other"},
                    {"output_dir": tmp_path / "elsewhere"}, {"data_dir": tmp_path / "copy"}):
        assert cache.derivation_key(dataclasses.replace(params, **changes), data) == key
    for changes in ({"data_cut_date": dt.date(2026, 5, 31)}, {"mrdpre_cutoff": 0.01},
                    {"gvhd_relapse_competes": True}):
        assert cache.derivation_key(dataclasses.replace(params, **changes), data) != key
    assert cache.derivation_key(params, {**data, "notes.txt": "0" * 64}) != key
    assert cache.derivation_key(params, None) is None


def test_derivation_params_are_the_fields_derive_reads(tmp_path):
    """DERIVATION_PARAMS must list every Params field derive_cut reads (the derivation key)."""
    from haplo_report.analysis.derive import derive_cut
    from haplo_report.data.validation import validate_cut

    params = make_params(tmp_path)
    read: set[str] = set()

    class Recording:
        def __getattr__(self, name: str) -> object:
            read.add(name)
            return getattr(params, name)

    derive_cut(validate_cut(VALID_CUT, params.data_cut_date), Recording())
    assert read == set(cache.DERIVATION_PARAMS)


def test_cache_key_digests_are_shared_between_notebooks_and_unchanged(tmp_path):
    from haplo_report import plan
    from haplo_report.analysis.derive import derive_cut
    from haplo_report.data.validation import validate_cut

    params = make_params(tmp_path)
    derived = derive_cut(validate_cut(VALID_CUT, params.data_cut_date), params)
    known: dict[str, str] = {}
    for spec in plan.NOTEBOOKS:
        alone = cache.data_read_by(spec, derived)
        assert cache.data_read_by(spec, derived, known) == alone
        assert set(alone) == {"adsl", "adtte", *spec.datasets}
    assert known["adsl"] == cache.digest(derived.adsl)
    assert known["adtte:OS"] != known["adtte:PFS"]


def test_release_memory_runs_in_the_run_and_leaves_no_names():
    # garbage of earlier tests (unclosed kernel sockets) collected inside the snippet would warn
    # there and leave a __warningregistry__ in its namespace: collected before, not inside
    gc.collect()
    namespace: dict = {}
    exec(kernels.RELEASE_MEMORY, namespace)  # noqa: S102 - what each kernel runs
    assert set(namespace) == {"__builtins__"}
    kernels.release_memory()


def test_library_versions_are_in_the_keys(previous, validations, monkeypatch):
    tools = manifest.toolchain_versions(None)
    monkeypatch.setattr(cache, "toolchain_versions", lambda renderer: {**tools, "typst": "0.0"})
    result = run_fake(make_params(previous))  # a renderer's version: full path, notebooks and
    assert result.executed == () and validations == []  # derivation taken over
    computing = manifest.computing_versions()
    monkeypatch.setattr(cache, "computing_versions", lambda: {**computing, "lifelines": "0.0"})
    monkeypatch.setattr(cache, "toolchain_versions", lambda renderer: {**tools, "lifelines": "0.0"})
    assert run_fake(make_params(previous)).executed == ("01_alpha", "02_beta")
    assert len(validations) == 1
    assert set(manifest.COMPUTING) >= {"pandas", "numpy", "scipy", "lifelines", "matplotlib",
                                       "pandera"}
    assert set(tools) >= {"python", "pandas", "lifelines", "pandoc", "typst"}


def test_html_copies_of_several_notebooks_each_show_their_own_markdown(tmp_path):
    paths = []
    for name, cells in (("a", ["| arm | n |\n|:--|--:|\n| alpha | 1 |", "**first**"]),
                        ("b", ["| arm | n |\n|:--|--:|\n| beta | 2 |"])):
        cell = nbformat.v4.new_code_cell("")
        cell.outputs = [nbformat.v4.new_output("display_data", {"text/markdown": text})
                        for text in cells]
        paths.append(tmp_path / f"{name}.ipynb")
        nbformat.write(nbformat.v4.new_notebook(cells=[cell]), paths[-1])
    assert html_copies.write_html(paths) == [tmp_path / "a.html", tmp_path / "b.html"]
    first, second = ((tmp_path / f"{n}.html").read_text(encoding="utf-8") for n in "ab")
    assert ">alpha</td>" in first and "<strong>first</strong>" in first
    assert ">beta<" not in first and "HAPLOREPORTOUTPUTSPLIT" not in first
    assert ">beta</td>" in second and ">alpha<" not in second


def test_the_run_key_covers_the_earlier_cut_the_report_compares_with(tmp_path):
    params = make_params(tmp_path)
    earlier = tmp_path / "TEST" / "2026-01-31"
    earlier.mkdir(parents=True)

    def key(compare_to: str | None = None) -> str | None:
        return fast_path.start(params, formats=("html",), notebooks=SPECS,
                               notebooks_dir=NOTEBOOKS_DIR, render=False,
                               compare_to=compare_to).key

    alone = key()  # no earlier cut with a manifest: nothing compared
    identity = '"params": {"study_id": "TEST", "data_cut_date": "2026-01-31"}'
    (earlier / "manifest.json").write_text('{"run_key": "a", "report_key": "b", ' + identity + "}")
    found = key()  # the default: the latest earlier cut under the output folder
    assert found != alone and key("2026-01-31") == found == key(str(earlier))
    (earlier / "manifest.json").write_text('{"run_key": "a", "report_key": "c", ' + identity + "}")
    assert key() not in (found, alone)  # the earlier cut was run again: compared anew
    with pytest.raises(ParamsError, match="--compare-to 2025-12-31"):
        key("2025-12-31")

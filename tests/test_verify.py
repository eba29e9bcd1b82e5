"""``haplo-report verify`` on a delivered run folder, moved elsewhere; the folder itself names no
path of the machine and its notebooks re-execute where they were delivered.

Every test uses copies of the shared real run (conftest ``real_run``).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import nbformat
import papermill
import pytest

from conftest import RealRun, run_cli
from haplo_report.paths import PROJECT_ROOT
from haplo_report.plan import NOTEBOOKS
from haplo_report.run import verify as verifier
from haplo_report.run.manifest import MANIFEST, read_manifest, toolchain_versions
from test_privacy import docx_text, pdf_text


@pytest.fixture(scope="module")
def delivered(real_run: RealRun) -> Path:
    assert real_run.exit_code == 0, real_run.stderr
    return real_run.run_dir


@pytest.fixture
def moved(delivered: Path, tmp_path: Path) -> Path:
    """A copy of the run folder at another path (as an auditor receives it)."""
    target = tmp_path / "archive" / "received-run"
    shutil.copytree(delivered, target)
    return target


def _verify(run_dir: Path, *flags: str) -> tuple[int, str]:
    code, out, err = run_cli(["verify", str(run_dir), *flags])
    assert "Traceback" not in out + err
    return code, out


def test_moved_folder_verifies_and_reproduces(moved: Path) -> None:
    code, out = _verify(moved, "--reproduce", "--jobs", "2")
    assert code == 0, out
    assert "files: " in out and (" 0 missing, 0 changed, 0 unlisted, 0 links or names "
                                 "outside the folder: holds") in out
    assert "environment: " in out and ": 0 differ: holds" in out
    assert "11 derived data files derived again from data/input" in out
    assert f"{len(NOTEBOOKS)} of haplo-report's own notebooks executed again" in out
    figures = len(list((moved / "figures").iterdir()))
    assert f" {figures} figures re-drawn and compared by content (PNG pixels, SVG drawing)" in out
    assert "  not covered: the raw export files named under inputs" in out
    assert "  figures re-drawn and compared: 14.2.1.png, 14.2.1.svg, 14.2.2.png, " in out
    assert ": 0 differences: holds" in out and out.rstrip().endswith("result: VERIFIED")
    summary = (moved / verifier.SUMMARY).read_text(encoding="utf-8")
    assert summary == out
    # the summary beside the manifest is not an unlisted file: verifying again still holds
    assert _verify(moved)[0] == 0


@pytest.mark.parametrize("fault, expected", [
    ("table byte", "changed (SHA-256 differs): tables/14.2.1.csv"),
    ("deleted figure", "missing: figures/14.2.1.png"),
    ("extra file", "unlisted: notes/extra.txt"),
    ("library version", "version differs: lifelines: run 0.0.1, now "),
])
def test_each_fault_is_named_with_exit_1(moved: Path, fault: str, expected: str) -> None:
    if fault == "table byte":
        table = moved / "tables" / "14.2.1.csv"
        data = bytearray(table.read_bytes())
        data[-2] = ord("1") if data[-2] != ord("1") else ord("2")
        table.write_bytes(bytes(data))
    elif fault == "deleted figure":
        (moved / "figures" / "14.2.1.png").unlink()
    elif fault == "extra file":
        (moved / "notes").mkdir()
        (moved / "notes" / "extra.txt").write_text("added after delivery\n")
    else:
        manifest = read_manifest(moved / MANIFEST)
        manifest["toolchain"]["lifelines"] = "0.0.1"
        (moved / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    code, out = _verify(moved)
    assert code == 1
    assert f"  {expected}" in out
    assert out.rstrip().endswith("result: NOT VERIFIED")
    problems = [line for line in out.splitlines() if line.startswith("  ")]
    assert len(problems) == 1, problems  # nothing else reported


def test_reproduction_names_a_changed_row(moved: Path) -> None:
    """One notebook re-executed (the manifest cut down to it) against a table edited by hand."""
    manifest = read_manifest(moved / MANIFEST)
    manifest["notebooks"] = {"03_pfs": manifest["notebooks"]["03_pfs"]}
    table = moved / "tables" / "14.2.1.csv"
    lines = table.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    original = lines[3]
    lines[3] = original.replace(",", ";", 1)
    table.write_text("".join(lines), encoding="utf-8")
    check = verifier.reproduce(moved, manifest, jobs=1)
    assert not check.holds
    assert (f"tables/14.2.1.csv row 3: delivered {lines[3].rstrip(chr(10))!r}, "
            f"reproduced {original.rstrip(chr(10)).lstrip(chr(0xfeff))!r}") in check.problems
    assert "1 of haplo-report's own notebooks executed again" in check.summary


def test_compare_file_names_rows(tmp_path: Path) -> None:
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    old.write_text("a,b\n1,2\n3,4\n")
    new.write_text("a,b\n1,2\n3,5\n6,7\n")
    assert verifier.compare_file(old, old, "t.csv") == []
    assert verifier.compare_file(old, new, "t.csv") == [
        "t.csv row 2: delivered '3,4', reproduced '3,5'",
        "t.csv row 3: delivered '(no row)', reproduced '6,7'"]
    assert verifier.compare_file(old, tmp_path / "gone.csv", "t.csv") == [
        "t.csv: not written by the re-execution"]


def test_not_a_run_folder_is_a_usage_error(tmp_path: Path) -> None:
    code, out, err = run_cli(["verify", str(tmp_path)])
    assert code == 2 and "not a run folder" in err and "manifest.json" in err
    code, out, err = run_cli(["verify", str(tmp_path / "nowhere")])
    assert code == 2 and "not a folder" in err


def test_environment_check_compares_the_toolchain(delivered: Path) -> None:
    manifest = read_manifest(delivered / MANIFEST)
    assert manifest["toolchain"] == toolchain_versions(manifest["renderer"])
    check = verifier.check_environment({**manifest, "toolchain": {**manifest["toolchain"],
                                                                   "python": "2.7.18"}})
    assert check.problems == [f"version differs: python: run 2.7.18, now "
                              f"{manifest['toolchain']['python']}"]


def test_papermill_inside_the_delivered_folder_gives_the_same_results(moved: Path,
                                                                     tmp_path: Path) -> None:
    papermill.execute_notebook(str(moved / "notebooks" / "03_pfs.ipynb"),
                               str(tmp_path / "out.ipynb"), kernel_name="python3",
                               progress_bar=False, cwd=str(moved))
    check = verifier.check_files(moved, read_manifest(moved / MANIFEST))
    assert check.holds, check.problems  # results, tables, figures rewritten with the same bytes
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    injected = next(c.source for c in executed.cells
                    if "injected-parameters" in c.metadata.get("tags", []))
    assert 'data_dir = "data"' in injected and 'out_dir = "."' in injected  # as delivered
    assert not any(o.output_type == "error" for c in executed.cells if c.cell_type == "code"
                   for o in c.outputs)


def test_no_path_of_the_machine_in_what_the_run_shows(real_run: RealRun, delivered: Path) -> None:
    machine = {str(real_run.output_dir.resolve()), str(real_run.cut_dir.resolve()),
               str(real_run.params_file.parent.resolve()), str(PROJECT_ROOT), sys.prefix,
               str(Path.home())}
    machine.discard("/")
    scanned = []
    for path in sorted(delivered.rglob("*")):
        relative = path.relative_to(delivered).as_posix()
        if not path.is_file() or relative == MANIFEST:
            continue
        if path.suffix == ".docx":
            text = docx_text(path)
        elif path.suffix == ".pdf":
            text = pdf_text(path)
        else:
            text = path.read_bytes().decode("utf-8", errors="replace")
        scanned.append(relative)
        leaks = sorted(p for p in machine if p in text)
        assert leaks == [], (relative, leaks)
    for required in ("report/E2E-TEST_2026-06-30.html", "report/E2E-TEST_2026-06-30.pdf",
                     "report/E2E-TEST_2026-06-30.docx", "tables/14.2.1.docx",
                     "figures/14.2.1.svg", "notebooks/03_pfs.html", "notebooks/03_pfs.ipynb"):
        assert required in scanned
    manifest = read_manifest(delivered / MANIFEST)
    assert manifest["location"]["run_dir"] == str(delivered.resolve())  # the one field


def test_notebooks_say_which_run_made_them_and_html_renders_tables(delivered: Path) -> None:
    manifest = read_manifest(delivered / MANIFEST)
    notebook = nbformat.read(delivered / "notebooks" / "03_pfs.ipynb", as_version=4)
    ran = notebook.metadata["haplo_report"]
    assert ran["run_id"] == manifest["run_id"] == manifest["run_key"][:16]
    assert ran["suite_version"] == manifest["suite"]["version"]
    assert ran["git_commit"] == manifest["git"]["commit"]
    assert ran["cache_key"] == manifest["notebooks"]["03_pfs"]["cache_key"]
    assert len(ran["input_sha256"]) == 64 and set(ran["data_sha256"]) == {"adsl", "adtte"}
    assert ran["parameters"]["data_dir"] == "data" and ran["parameters"]["out_dir"] == "."
    assert ran["parameters"]["data_cut_date"] == "2026-06-30"
    assert notebook.metadata["papermill"]["input_path"] == "notebooks/03_pfs.ipynb"
    html = (delivered / "notebooks" / "03_pfs.html").read_text(encoding="utf-8")
    assert "<caption>Table 14.2.1. Progression-free survival" in html
    assert 'class="table-notes"' in html
    assert "::: table-notes" not in html and "Table: Table" not in html
    assert "| Dataset" not in html and ">Dataset</th>" in html  # the dataset check too
    # the HTML copy names its run where an auditor looks first, and its pandera check
    assert "<title>03_pfs</title>" in html
    first = html.index("Executed in run")
    assert first < html.index("Data check.") < html.index("Table 14.2.1.")
    for value in (manifest["run_id"], manifest["git"]["commit"], ran["input_sha256"],
                  "2026-06-30", f"haplo-report {manifest['suite']['version']}"):
        assert value in html[first:html.index("Data check.")], value
    assert "clean tree" in html or "dirty tree" in html
    assert f"pandera {metadata.version('pandera')} validated each derived dataset" in html
    assert "derived-data contract version 1.0" in html and ">ADSL 1.0</td>" in html
    assert "text-align: left" in html  # text cells left-aligned: indented labels read indented


def test_documents_are_dated_by_the_run_and_name_it(delivered: Path) -> None:
    import datetime as dt

    from pypdf import PdfReader

    manifest = read_manifest(delivered / MANIFEST)
    started = dt.datetime.fromisoformat(manifest["run_started"])
    stem = delivered / "report" / "E2E-TEST_2026-06-30"
    info = PdfReader(stem.with_suffix(".pdf")).metadata
    assert info.creation_date.astimezone(dt.timezone.utc) == started
    assert info.modification_date.astimezone(dt.timezone.utc) == started
    zulu = started.strftime("%Y-%m-%dT%H:%M:%SZ")
    core = zipfile.ZipFile(stem.with_suffix(".docx")).read("docProps/core.xml").decode()
    assert f">{zulu}</dcterms:created>" in core and f">{zulu}</dcterms:modified>" in core
    # a table is a reproducible output: its fixed stamp is its data cut, as XPT and define.xml
    core = zipfile.ZipFile(delivered / "tables" / "14.2.1.docx").read("docProps/core.xml")
    assert b">2026-06-30T00:00:00Z</dcterms:created>" in core
    html = stem.with_suffix(".html").read_text(encoding="utf-8")
    assert f'<meta name="dcterms.date" content="{started.date()}"' in html
    text = pdf_text(stem.with_suffix(".pdf"))
    assert text.count(manifest["run_id"]) >= 2  # title-page verso and provenance appendix
    assert f"Run {manifest['run_id']}, made by haplo-report" in " ".join(text.split())
    assert manifest["run_id"] in docx_text(stem.with_suffix(".docx"))
    # data files keep their fixed stamp, and define.xml says what it is
    define = (delivered / "data" / "adam" / "define.xml").read_text(encoding="utf-8")
    assert 'CreationDateTime="2026-06-30T00:00:00"' in define
    assert "<!-- CreationDateTime 2026-06-30T00:00:00 is a fixed stamp: the data cut" in define


def test_input_tables_are_kept_typed(delivered: Path, real_run: RealRun) -> None:
    from haplo_report.data.cut import TABLES, read_tables
    from haplo_report.data.validation import validate_cut

    kept = read_tables(delivered / "data" / "input")
    cut = validate_cut(real_run.cut_dir, "2026-06-30")
    for name in TABLES:
        if cut.table(name) is None:
            assert kept.table(name) is None, name
            continue
        assert kept.table(name).dtypes.astype(str).to_dict() == \
            cut.table(name).dtypes.astype(str).to_dict(), name
        assert kept.table(name).equals(cut.table(name)), name


# -- hostile run folders (issue 28): nothing run from the folder, nothing outside read ---------


def _manifest(moved: Path) -> dict:
    return json.loads((moved / MANIFEST).read_text(encoding="utf-8"))


def _write_manifest(moved: Path, manifest: dict) -> None:
    (moved / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n",
                                  encoding="utf-8")


@pytest.mark.parametrize("case, expected", [
    ("relative outside", "listed outside the run folder (not hashed): "),
    ("absolute outside", "listed outside the run folder (not hashed): "),
    ("listed link", "link (not followed): tables/14.2.1.csv"),
    ("results moved out", "link (not followed): results.csv"),
    ("fifo", "not a regular file (device, FIFO or socket): data/pipe"),
    ("dev zero", "link (not followed): data/zero"),
    ("link loop", "link (not followed): data/loop"),
    ("listed folder", "a folder, not a file: data/input"),
])
def test_links_and_names_outside_are_findings(moved: Path, tmp_path: Path, case: str,
                                              expected: str) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text("not the run's\n", encoding="utf-8")
    manifest = _manifest(moved)
    record = {"sha256": verifier.CheckedFolder.at(tmp_path).file_record("outside.csv")["sha256"],
              "bytes": outside.stat().st_size}
    if case == "relative outside":
        depth = len(moved.resolve().parts)
        manifest["outputs"]["../" * depth + str(outside).lstrip("/")] = record
    elif case == "absolute outside":
        manifest["outputs"][str(outside)] = record
    elif case == "listed link":
        table = moved / "tables" / "14.2.1.csv"
        copy = tmp_path / "14.2.1.csv"
        table.rename(copy)
        table.symlink_to(copy)
    elif case == "results moved out":
        (moved / "results.csv").rename(tmp_path / "results.csv")
        (moved / "results.csv").symlink_to(tmp_path / "results.csv")
    elif case == "fifo":
        os.mkfifo(moved / "data" / "pipe")
    elif case == "listed folder":
        manifest["outputs"]["data/input"] = record
    elif case == "dev zero":
        (moved / "data" / "zero").symlink_to("/dev/zero")
    else:
        (moved / "data" / "loop").symlink_to(moved / "data" / "loop2")
        (moved / "data" / "loop2").symlink_to(moved / "data" / "loop")
    _write_manifest(moved, manifest)
    code, out = _verify(moved)
    assert code == 1 and out.rstrip().endswith("result: NOT VERIFIED")
    assert any(line.startswith(f"  {expected}") for line in out.splitlines()), out


def test_the_summary_is_not_written_through_a_link(moved: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched\n", encoding="utf-8")
    (moved / verifier.SUMMARY).symlink_to(victim)
    code, out = _verify(moved)
    assert victim.read_text(encoding="utf-8") == "untouched\n"
    assert (moved / verifier.SUMMARY).read_text(encoding="utf-8") == out
    assert not (moved / verifier.SUMMARY).is_symlink()


@pytest.mark.parametrize("spoil, expected", [
    ("deep", "nested too deep"),
    ("wrong types", "not as the suite writes it, at outputs: expected object"),
    ("notebook outside", "not as the suite writes it, at notebooks"),
    ("not json", "not JSON text"),
])
def test_a_manifest_not_as_written_is_one_line_exit_2(moved: Path, spoil: str,
                                                      expected: str) -> None:
    if spoil == "deep":
        (moved / MANIFEST).write_text('{"outputs": ' + "[" * 200_000 + "]" * 200_000 + "}")
    elif spoil == "not json":
        (moved / MANIFEST).write_bytes(bytes(range(256)))
    else:
        manifest = _manifest(moved)
        if spoil == "wrong types":
            manifest["outputs"] = 5
        else:
            manifest["notebooks"]["../../../../tmp/evil"] = manifest["notebooks"]["03_pfs"]
        _write_manifest(moved, manifest)
    code, out, err = run_cli(["verify", str(moved), "--reproduce"])
    assert code == 2 and out == "" and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and expected in err, err


def test_reproduce_never_runs_the_folders_code(moved: Path, tmp_path: Path) -> None:
    """A code cell appended to a delivered notebook is named and not executed (the manifest's
    hash updated too); the other notebook is the suite's own, executed and compared."""
    marker = tmp_path / "ran.txt"
    path = moved / "notebooks" / "03_pfs.ipynb"
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(
        f"open({str(marker)!r}, 'w').write('code from the folder ran')"))
    nbformat.write(notebook, path)
    manifest = _manifest(moved)
    manifest["outputs"]["notebooks/03_pfs.ipynb"] = verifier.CheckedFolder.at(moved).file_record(
        "notebooks/03_pfs.ipynb")
    manifest["notebooks"] = {name: manifest["notebooks"][name] for name in ("03_pfs", "04_os")}
    _write_manifest(moved, manifest)
    code, out = _verify(moved, "--reproduce", "--jobs", "1")
    assert not marker.exists()
    assert code == 1
    assert ("  notebooks/03_pfs.ipynb: its code differs from haplo-report "
            f"{manifest['suite']['version']}'s notebook: not executed") in out
    assert "1 of haplo-report's own notebooks executed again" in out
    assert "tables/14.2.3.csv" not in out  # 04_os reproduced and equal


@pytest.mark.parametrize("spoil, expected", [
    ("not parquet", "data/input/relapses.parquet: not a Parquet file"),
    ("binary", "column 'USUBJID' has type binary"),
    ("missing", "input table(s) not kept: subjects"),
    ("params", "landmarks_days: expected list"),
    ("date", "data_cut_date: '2026-02-30' is not a valid date"),
])
def test_reproduce_refuses_hostile_inputs_in_one_line(moved: Path, spoil: str,
                                                      expected: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    inputs = moved / "data" / "input"
    manifest = _manifest(moved)
    if spoil == "not parquet":
        (inputs / "relapses.parquet").write_bytes(b"PAR1" + bytes(range(256)) * 8 + b"PAR1")
    elif spoil == "binary":
        table = pq.read_table(inputs / "subjects.parquet")
        at = table.schema.get_field_index("USUBJID")
        pq.write_table(table.set_column(at, "USUBJID", table["USUBJID"].cast(pa.binary())),
                       inputs / "subjects.parquet")
    elif spoil == "missing":
        (inputs / "subjects.parquet").unlink()
    elif spoil == "params":
        manifest["params"]["landmarks_days"] = "x"
    else:
        manifest["params"]["data_cut_date"] = "2026-02-30"
    _write_manifest(moved, manifest)
    code, out = _verify(moved, "--reproduce")
    assert code == 1
    lines = [line for line in out.splitlines() if line.startswith("  not reproduced: ")]
    assert len(lines) == 1 and expected in lines[0], out
    assert "nothing derived or executed again" in out


def test_figures_are_compared_by_content(tmp_path: Path, delivered: Path) -> None:
    from PIL import Image

    png = delivered / "figures" / "14.2.1.png"
    again = tmp_path / "again.png"
    with Image.open(png) as image:
        image.save(again, pnginfo=None, compress_level=1)  # other bytes, same pixels
    assert again.read_bytes() != png.read_bytes()
    assert verifier.compare_file(png, again, "figures/14.2.1.png") == []
    with Image.open(png) as image:
        image = image.convert("RGBA")
        image.putpixel((image.width // 2, image.height // 2), (255, 0, 0, 255))
        image.save(again)
    assert verifier.compare_file(png, again, "figures/14.2.1.png") == [
        "figures/14.2.1.png: the figure differs (content compared)"]
    svg = delivered / "figures" / "14.2.1.svg"
    text = svg.read_text(encoding="utf-8")
    renamed = tmp_path / "renamed.svg"
    import re

    marker = re.search(r'xlink:href="#(m[0-9a-f]+)"', text).group(1)  # a salted id
    renamed.write_text(text.replace(marker, "m0123456789"), encoding="utf-8")  # ids only
    assert verifier.compare_file(svg, renamed, "figures/14.2.1.svg") == []
    moved_path = tmp_path / "moved.svg"
    assert 'd="M 0 305.03952' in text
    moved_path.write_text(text.replace('d="M 0 305.03952', 'd="M 0 306.03952', 1),
                          encoding="utf-8")  # one point of the curve moved
    assert verifier.compare_file(svg, moved_path, "figures/14.2.1.svg") == [
        "figures/14.2.1.svg: the figure differs (content compared)"]


def test_signed_folder_verifies_and_any_manifest_edit_fails(moved: Path, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    code, out, err = run_cli(["keygen", str(keys / "auditor")])
    assert code == 0 and (keys / "auditor.key").stat().st_mode & 0o077 == 0
    assert run_cli(["keygen", str(keys / "auditor")])[0] == 2  # never replaced
    assert run_cli(["keygen", str(moved / "inside")])[0] == 2  # never into a run folder
    assert run_cli(["keygen", str(PROJECT_ROOT / "inside")])[0] == 2  # nor the repository
    assert not list(moved.glob("inside*")) and not list(PROJECT_ROOT.glob("inside*"))
    public = str(keys / "auditor.pub")
    code, out = _verify(moved, "--public-key", public)
    assert code == 1 and "  signature: manifest.json.sig missing" in out  # not signed yet
    assert run_cli(["sign", str(moved), "--key", str(keys / "auditor.key")])[0] == 0
    code, out = _verify(moved, "--public-key", public)
    assert code == 0 and "signature: manifest.json.sig checked with public key" in out, out
    # an input table and its hash edited together: the files check holds, the signature not
    table = moved / "data" / "input" / "deaths.parquet"
    table.write_bytes(table.read_bytes() + b"\n")
    manifest = _manifest(moved)
    manifest["outputs"]["data/input/deaths.parquet"] = verifier.CheckedFolder.at(
        moved).file_record("data/input/deaths.parquet")
    _write_manifest(moved, manifest)
    code, out = _verify(moved, "--public-key", public)
    assert code == 1 and "files: " in out and "0 changed" in out
    assert ("  signature: INVALID for manifest.json (manifest.json changed since it was "
            "signed)") in out
    # another key's signature
    assert run_cli(["keygen", str(keys / "other")])[0] == 0
    assert run_cli(["sign", str(moved), "--key", str(keys / "other.key")])[0] == 0
    code, out = _verify(moved, "--public-key", public)
    assert code == 1 and "signature: INVALID for manifest.json (signed by key " in out
    code, out, err = run_cli(["verify", str(moved), "--public-key", str(keys / "other.key")])
    assert code == 2 and "is not a PEM public key" in err and len(err.splitlines()) == 1

"""data/run_folder.py: a hostile run folder opened by ``compare`` and ``run --compare-to``
gives one line and exit 1 or 2, never a traceback; nothing outside the folder is read.

Run folders are the hand-built ones of test_comparison (inputs, ADSL, result rows, manifest).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import struct
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import run_cli, write_cut, write_params
from haplo_report.data.run_folder import (MAX_DEPTH, CheckedFolder, RunFolderError,
                                          check_earlier_cut, check_manifest, parse_json)
from haplo_report.data.simulate import simulate_cut
from haplo_report.paths import previous_run
from test_comparison import NEW_CUT, OLD_CUT, make_run


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        out.append(low | (0x80 if number else 0))
        if not number:
            return bytes(out)


def claim_rows(path: Path, rows: int) -> None:
    """Rewrite a Parquet footer so that it claims ``rows`` rows (thrift compact encoding of
    FileMetaData.num_rows, field 3, i64, zigzag varint)."""
    data = path.read_bytes()
    length = struct.unpack("<I", data[-8:-4])[0]
    footer = data[-8 - length:-8]
    actual = pq.ParquetFile(path).metadata.num_rows
    old = b"\x16" + _varint(actual << 1)
    at = footer.index(old)
    new = footer[:at] + b"\x16" + _varint(rows << 1) + footer[at + len(old):]
    path.write_bytes(data[:-8 - length] + new + struct.pack("<I", len(new)) + b"PAR1")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("pair")
    frames = simulate_cut(31, 2032)
    return make_run(root, frames, OLD_CUT), make_run(root, frames, NEW_CUT)


@pytest.fixture
def old_new(pair: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """Copies of the pair (each test spoils its own)."""
    import shutil

    copies = []
    for run in pair:
        target = tmp_path / "runs" / run.name
        shutil.copytree(run, target)
        copies.append(target)
    return copies[0], copies[1]


def _compare(old: Path, new: Path, *extra: str) -> tuple[int, str]:
    code, out, err = run_cli(["compare", str(old), str(new), *extra])
    assert "Traceback" not in out + err
    return code, err


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


SECRET = "USUBJID,SECRET\nX,outside the folder\n"


@pytest.mark.parametrize("spoil, expected", [
    ("results link", "results.csv: a link (not followed)"),
    ("input link", "data/input/subjects.parquet: a link (not followed)"),
    ("results bytes", "results.csv: not the result rows the suite writes"),
    ("missing adsl", "data/adsl.parquet: missing"),
    ("not parquet", "data/input/relapses.parquet: not a Parquet file"),
    ("binary column", "column 'USUBJID' has type binary, not one the suite writes"),
    ("wrong schema", "column 'RELDT' has type string, expected timestamp"),
    ("rows claimed", "claims 1,000,000,000,000 rows, more than 50,000,000"),
    ("fifo", "data/adsl.parquet: not a regular file"),
    ("dev zero", "data/adsl.parquet: a link (not followed)"),
    ("link loop", "data/input/deaths.parquet: a link (not followed)"),
    ("deep manifest", "manifest.json: nested too deep"),
    ("manifest types", "manifest.json not as the suite writes it, at params: expected object"),
    ("bad landmarks", "landmarks_days: expected list, got str 'x'"),
    ("impossible date", "data_cut_date: '2026-02-30' is not a valid date"),
])
def test_hostile_folder_is_one_line_exit_2(old_new: tuple[Path, Path], tmp_path: Path,
                                           spoil: str, expected: str) -> None:
    old, new = old_new
    outside = tmp_path / "outside.csv"
    outside.write_text(SECRET, encoding="utf-8")
    inputs = new / "data" / "input"
    if spoil == "results link":
        (new / "results.csv").unlink()
        (new / "results.csv").symlink_to(outside)
    elif spoil == "input link":
        target = tmp_path / "subjects.parquet"
        (inputs / "subjects.parquet").rename(target)
        (inputs / "subjects.parquet").symlink_to(target)
    elif spoil == "results bytes":
        (new / "results.csv").write_bytes(bytes(range(256)) * 40)
    elif spoil == "missing adsl":
        (new / "data" / "adsl.parquet").unlink()
    elif spoil == "not parquet":
        (inputs / "relapses.parquet").write_bytes(b"PAR1" + os.urandom(3000) + b"PAR1")
    elif spoil == "binary column":
        frame = pq.read_table(inputs / "subjects.parquet")
        index = frame.schema.get_field_index("USUBJID")
        frame = frame.set_column(index, "USUBJID", frame["USUBJID"].cast(pa.binary()))
        pq.write_table(frame, inputs / "subjects.parquet")
    elif spoil == "wrong schema":
        frame = pq.read_table(inputs / "relapses.parquet")
        index = frame.schema.get_field_index("RELDT")
        frame = frame.set_column(index, "RELDT", frame["RELDT"].cast(pa.string()))
        pq.write_table(frame, inputs / "relapses.parquet")
    elif spoil == "rows claimed":
        claim_rows(inputs / "mrd.parquet", 10 ** 12)
    elif spoil == "fifo":
        (new / "data" / "adsl.parquet").unlink()
        os.mkfifo(new / "data" / "adsl.parquet")
    elif spoil == "dev zero":
        (new / "data" / "adsl.parquet").unlink()
        (new / "data" / "adsl.parquet").symlink_to("/dev/zero")
    elif spoil == "link loop":
        (inputs / "deaths.parquet").unlink()
        (inputs / "deaths.parquet").symlink_to(inputs / "loop.parquet")
        (inputs / "loop.parquet").symlink_to(inputs / "deaths.parquet")
    else:
        manifest = json.loads((new / "manifest.json").read_text(encoding="utf-8"))
        if spoil == "deep manifest":
            text = '{"params": ' + "[" * 200_000 + "]" * 200_000 + "}"
            (new / "manifest.json").write_text(text, encoding="utf-8")
        else:
            if spoil == "manifest types":
                manifest["params"] = 5
            elif spoil == "bad landmarks":
                manifest["params"]["landmarks_days"] = "x"
            else:
                manifest["params"]["data_cut_date"] = "2026-02-30"
            (new / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    code, err = _compare(old, new, "--out", str(tmp_path / "comparison"))
    assert code == 2
    line = _one_line(err)
    assert expected in line, line
    assert not (tmp_path / "comparison").exists()  # nothing written, nothing of outside read


def test_compare_out_naming_a_file_is_refused(old_new: tuple[Path, Path], tmp_path: Path) -> None:
    existing = tmp_path / "existing.txt"
    existing.write_text("keep me\n", encoding="utf-8")
    code, err = _compare(*old_new, "--out", str(existing))
    assert code == 2 and "--out" in _one_line(err) and "not a folder" in err
    assert existing.read_text(encoding="utf-8") == "keep me\n"
    code, err = _compare(*old_new, "--out", str(tmp_path / "comparison"))
    assert code == 0 and (tmp_path / "comparison" / "headlines.csv").is_file()


def test_paths_outside_the_folder_are_refused(old_new: tuple[Path, Path]) -> None:
    folder = CheckedFolder.at(old_new[0])
    for name in ("../outside.csv", "/etc/passwd", "data/../../x", "", "a\x00b"):
        with pytest.raises(RunFolderError):
            folder.path(name)
    assert folder.path("data/./adsl.parquet") == folder.root / "data" / "adsl.parquet"


def test_manifest_depth_and_schema_checks() -> None:
    deep: dict = {}
    for _ in range(MAX_DEPTH + 5):
        deep = {"a": deep}
    with pytest.raises(RunFolderError, match="nested too deep"):
        parse_json(json.dumps(deep).encode(), "manifest.json")
    with pytest.raises(RunFolderError, match="not JSON"):
        parse_json(b"\xff\xfe{", "manifest.json")
    with pytest.raises(RunFolderError, match=r"at outputs/a.csv/bytes: expected integer"):
        check_manifest({"params": {}, "outputs": {"a.csv": {"sha256": "0" * 64, "bytes": "1"}}})
    with pytest.raises(RunFolderError, match="at notebooks"):
        check_manifest({"params": {}, "notebooks": {"../../../../tmp/x": {}}})
    with pytest.raises(RunFolderError, match="'params' is a required property"):
        check_manifest({"outputs": {}})


def test_verification_summary_is_never_written_through_a_link(old_new: tuple[Path, Path],
                                                              tmp_path: Path) -> None:
    folder = CheckedFolder.at(old_new[0])
    outside = tmp_path / "victim.txt"
    outside.write_text("untouched\n", encoding="utf-8")
    (folder.root / "verification.txt").symlink_to(outside)
    folder.write_text("verification.txt", "summary\n")
    assert outside.read_text(encoding="utf-8") == "untouched\n"
    assert not (folder.root / "verification.txt").is_symlink()
    assert (folder.root / "verification.txt").read_text(encoding="utf-8") == "summary\n"


# -- run --compare-to ---------------------------------------------------------------------------


@pytest.fixture
def output(tmp_path: Path, pair: tuple[Path, Path]) -> tuple[Path, Path]:
    """An output folder holding the cut of OLD_CUT's report (a hand-built run folder) and a
    parameter file for a run of that same cut."""
    import shutil

    output_dir = tmp_path / "output"
    shutil.copytree(pair[0], output_dir / "STUDY" / str(OLD_CUT))
    cut_dir = write_cut(simulate_cut(12, seed=3), tmp_path / "cut")
    params = write_params(tmp_path / "params.yml", cut_dir, OLD_CUT, output_dir,
                          study_id="STUDY")
    return output_dir, params


@pytest.mark.parametrize("which, expected", [
    ("later", "is after the new one"),
    ("own", "a cut is not compared with itself"),
    ("other study", "different studies"),
    ("link", "is a link, not a run folder of this output folder"),
])
def test_compare_to_applies_the_checks_compare_applies(output: tuple[Path, Path],
                                                       pair: tuple[Path, Path], tmp_path: Path,
                                                       which: str, expected: str) -> None:
    output_dir, params = output
    report = output_dir / "STUDY" / str(OLD_CUT)
    before = {p: p.read_bytes() for p in sorted(report.rglob("*")) if p.is_file()}
    if which == "later":
        target = str(pair[1])
    elif which == "own":
        target = str(OLD_CUT)
    elif which == "other study":
        other = tmp_path / "other"
        make_run(other, simulate_cut(12, seed=3), dt.date(2026, 1, 31), study_id="OTHER")
        target = str(other / "OTHER" / "2026-01-31")
    else:
        (output_dir / "STUDY" / "2026-01-31").symlink_to(pair[1], target_is_directory=True)
        target = "2026-01-31"
    code, out, err = run_cli(["run", str(params), "--compare-to", target, "--jobs", "1"])
    assert code == 2 and "Traceback" not in out + err
    assert expected in _one_line(err) and err.startswith("error: --compare-to")
    after = {p: p.read_bytes() for p in sorted(report.rglob("*")) if p.is_file()}
    assert after == before  # the previous report untouched
    assert not (output_dir / "STUDY" / f".{OLD_CUT}.build").exists()


def test_an_earlier_cut_that_is_a_link_is_not_followed(tmp_path: Path,
                                                       pair: tuple[Path, Path]) -> None:
    study = tmp_path / "output" / "STUDY"
    study.mkdir(parents=True)
    (study / "2026-01-31").symlink_to(pair[0], target_is_directory=True)
    assert previous_run(study, NEW_CUT) is None
    assert check_earlier_cut(pair[0], "STUDY", str(NEW_CUT)) == pair[0].resolve()


@pytest.mark.parametrize("cut, expected", [
    ("9999-12-31", "data_cut_date: 9999-12-31 is not a date a run can have"),
    ("1899-12-31", "data_cut_date: 1899-12-31 is not a date a run can have"),
])
def test_a_recorded_cut_a_comparison_cannot_use_is_one_line(old_new: tuple[Path, Path],
                                                            cut: str, expected: str) -> None:
    old, new = old_new
    target = new if cut > "2026" else old
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    manifest["params"]["data_cut_date"] = cut
    (target / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    code, err = _compare(old, new)
    assert code == 2 and expected in _one_line(err)

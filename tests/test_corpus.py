"""The bad-input corpus through ``haplo-report validate``: exit code, exact violations, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpus.cases import CASES, CLI_CASES, DATA_CUT_DATE, Case, CliCase, copy_fixture
from haplo_report.cli import main


def test_corpus_is_large_and_names_are_unique() -> None:
    assert len(CASES) >= 40
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cut = copy_fixture(tmp_path / "cut")
    case.mutate(cut)
    params = tmp_path / "params.yml"
    params.write_text(f"study_id: CORPUS\nstudy_title: Corpus\ndata_dir: {cut}\n"
                      f"data_cut_date: {DATA_CUT_DATE}\n", encoding="utf-8")
    report = tmp_path / "violations.json"

    code = main(["validate", str(params), "--report", str(report)])

    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    found = {(v["table"], v["row"], v["column"], v["rule"])
             for v in json.loads(report.read_text(encoding="utf-8"))}
    assert found == set(case.expected)
    if case.expected:
        assert code == 1
        for table, row, column, rule in case.expected:
            where = "file" if row is None else f"row {row}"
            assert any(line.startswith(f"  {where}") and column in line and rule in line
                       for line in err.splitlines()), (table, row, column, rule)
        assert err.splitlines()[-1].startswith(f"{len(case.expected)} violation(s)")
    else:
        assert code == 0
        assert out.startswith("valid: ")


@pytest.mark.parametrize("case", CLI_CASES, ids=[case.name for case in CLI_CASES])
def test_command_line_case(case: CliCase, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    argv = case.argv(tmp_path)
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code == case.exit_code, err
    lines = (out if code == 0 else err).splitlines()
    assert len(lines) == 1 and case.message in lines[0], lines
    assert len(lines[0]) < 400
    if code == 2:  # refused before any work: nothing written
        assert not (tmp_path / "output").exists()
        assert not (tmp_path / "violations.json").exists()

"""``haplo-report qualify``: the shipped reference manifest, the reference cases, the
environment against the lock, the run's independent check as checks, and the report.

The command's own example run (a full ``haplo-report run`` and ``verify --reproduce``, about a
minute of CPU) is not repeated here: the CLI test gives it the checks of the suite's shared real
run (conftest ``real_run``), whose run and reproduction test_end_to_end.py and test_verify.py
test. Everything else runs for real.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the lock's tomli
    import tomli as tomllib

from conftest import RealRun, run_cli
from haplo_report.paths import PACKAGE
from haplo_report.qualification import qualify as qualify_module
from haplo_report.qualification.checks import Comparison
from haplo_report.qualification.end_to_end import independent_check_checks
from haplo_report.qualification.environment import environment_checks
from haplo_report.qualification.integrity import (MANIFEST, REFERENCE_DIR, check_manifest,
                                                  manifest_text, refresh, reference_files)
from haplo_report.qualification.reference_cases import References, reference_checks

ROOT = PACKAGE.parent
ALTERED = "expected/example_km_landmarks.csv"


def test_shipped_manifest_is_fresh() -> None:
    assert (REFERENCE_DIR / MANIFEST).read_text(encoding="utf-8") == manifest_text(), (
        "the reference files changed since their manifest was written: after regenerating "
        "them on purpose, run `python -m haplo_report.qualification.refresh` and commit "
        f"{MANIFEST}")


def test_every_shipped_file_is_package_data() -> None:
    """pyproject's package-data globs take every reference file, notebook and example table
    into the wheel (a file in a new sub-folder would otherwise be left out silently)."""
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = globs["tool"]["setuptools"]["package-data"]

    def shipped(package: str, relative: str) -> bool:
        return any(pattern.count("/") == relative.count("/") and fnmatch.fnmatch(relative, pattern)
                   for pattern in globs[package])

    files = [f"reference/{name}" for name in reference_files() + [MANIFEST]
             if not name.startswith("../")]  # the example cut: package data of haplo_report
    assert [f for f in files if not shipped("haplo_report.qualification", f)] == []
    package_files = [p.relative_to(PACKAGE).as_posix() for folder in ("notebooks", "example")
                     for p in (PACKAGE / folder).rglob("*") if p.is_file()]
    package_files += [p.relative_to(PACKAGE).as_posix()
                      for p in (PACKAGE / "example" / "data").iterdir()]
    assert len(package_files) > 15
    assert [f for f in package_files + ["_quarto.yml"] if not shipped("haplo_report", f)] == []


@pytest.fixture
def reference_copy(tmp_path: Path) -> Path:
    """A copy of the reference folder, beside the shipped example cut as in the package."""
    copy = tmp_path / "package" / "qualification" / "reference"
    shutil.copytree(REFERENCE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "package" / "example").symlink_to(PACKAGE / "example")
    return copy


def _alter_one_value(folder: Path) -> None:
    """PFS, All, day 365: the last digit of R's estimate changed (1e-17 is enough for the
    manifest; +0.001 for the comparison)."""
    path = folder / ALTERED
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith("PFS,All,365,"))
    fields = lines[index].split(",")
    fields[3] = repr(float(fields[3]) + 0.001)
    lines[index] = ",".join(fields)
    path.write_text("".join(lines), encoding="utf-8")


def test_an_altered_reference_file_is_named_and_never_used(reference_copy: Path) -> None:
    _alter_one_value(reference_copy)
    checks, unusable = check_manifest(reference_copy)
    failed = [c for c in checks if not c.passed]
    assert [c.id for c in failed] == [f"file.reference/{ALTERED}"]
    assert f"reference/{ALTERED} altered: its SHA-256 differs from SHA256SUMS" in failed[0].detail
    assert unusable == {ALTERED}
    # the checks that would read it fail, naming the file, instead of comparing with it;
    # the checks against the other files run
    example = reference_checks(References(reference_copy, unusable), only=("example",))
    failed = [c for c in example if not c.passed]
    assert [c.id for c in failed] == ["example.example_km_landmarks"]
    assert f"reference/{ALTERED} failed the manifest check: not used" == failed[0].detail
    assert len(example) > 100 and not any(c.id.startswith("example.km.") for c in example)


def test_a_value_altered_with_its_manifest_fails_its_check(reference_copy: Path) -> None:
    _alter_one_value(reference_copy)
    refresh(reference_copy)  # a forged manifest: the comparison itself must catch the value
    checks, unusable = check_manifest(reference_copy)
    assert unusable == set() and all(c.passed for c in checks)
    example = reference_checks(References(reference_copy), only=("example",))
    failed = [c for c in example if not c.passed]
    assert [c.id for c in failed] == ["example.km.PFS.All"]
    assert "estimate (result row)" in failed[0].detail and "differs by 0.001" in failed[0].detail
    assert failed[0].largest_difference == pytest.approx(0.001, abs=1e-9)
    assert len(example) > 100 and sum(c.passed for c in example) == len(example) - 1


def test_a_missing_manifest_trusts_nothing(reference_copy: Path) -> None:
    (reference_copy / MANIFEST).unlink()
    checks, unusable = check_manifest(reference_copy)
    assert [c.result for c in checks] == ["fail"] and "missing" in checks[0].detail
    assert ALTERED in unusable and "../../example/data/subjects.csv" in unusable


def test_an_altered_example_cut_is_named_and_its_checks_not_run(tmp_path: Path) -> None:
    package = tmp_path / "package"
    copy = package / "qualification" / "reference"
    shutil.copytree(REFERENCE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(PACKAGE / "example" / "data", package / "example" / "data")
    deaths = package / "example" / "data" / "deaths.csv"
    deaths.write_text(deaths.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    checks, unusable = check_manifest(copy)
    assert [c.id for c in checks if not c.passed] == ["file.example/data/deaths.csv"]
    example = reference_checks(References(copy, unusable), only=("example",))
    assert {c.detail for c in example} == {
        "example/data/deaths.csv failed the manifest check: not used"}


def test_a_version_other_than_the_lock_fails_naming_the_package(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("pandas==0.0.1 \\\n    --hash=sha256:00\n"
                    "numpy==0.0.2 ; python_full_version < '3.0' \\\n    --hash=sha256:00\n",
                    encoding="utf-8")
    checks, versions = environment_checks(lock)
    pandas = next(c for c in checks if c.id == "environment.lock.pandas")
    assert pandas.result == "fail" and "lock 0.0.1" in pandas.detail
    assert "environment.lock.numpy" not in {c.id for c in checks}  # marker false: not locked
    assert versions["lock"] == {"pandas": "0.0.1"}
    drift = next(c for c in checks if c.id == "environment.nothing_else")
    assert drift.result == "fail" and "numpy" in drift.detail


def test_comparisons_fail_on_ne_in_one_only_and_on_nothing_compared() -> None:
    c = Comparison()
    c.close("estimate", [0.5, float("nan")], [0.5, 0.25])
    assert c.check("x", "s", "w", "r").result == "fail"
    assert Comparison().check("y", "s", "w", "r").detail == "nothing was compared"
    c = Comparison()
    c.close("estimate", [0.5 + 5e-7], [0.5])
    c.equal("n", [30], [30.0])
    check = c.check("z", "s", "w", "r")
    assert check.passed and check.largest_difference == pytest.approx(5e-7)


def test_the_independent_check_of_a_run_becomes_one_check_per_line(real_run: RealRun,
                                                                   tmp_path: Path) -> None:
    assert real_run.exit_code == 0, real_run.stderr
    checks = independent_check_checks(real_run.run_dir)
    lines = (real_run.run_dir / "qc.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(checks) == len(lines) - 1 > 20 and all(c.passed for c in checks)
    copy = tmp_path / "run"
    shutil.copytree(real_run.run_dir, copy)
    qc = copy / "qc.csv"
    text = qc.read_text(encoding="utf-8-sig").splitlines()
    text[1] = text[1][:text[1].rindex(",pass,")] + ",fail," + text[1][text[1].rindex(",pass,")
                                                                     + 6:]
    qc.write_text("\n".join(text) + "\n", encoding="utf-8")
    failed = [c for c in independent_check_checks(copy) if not c.passed]
    assert [c.id for c in failed] == ["end_to_end.independent_check.001"]


def test_qualify_passes_and_writes_the_signed_report(real_run: RealRun, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The command as a user runs it, the example run replaced by the shared real run's
    independent check (see the module docstring)."""
    assert real_run.exit_code == 0, real_run.stderr
    monkeypatch.setattr(qualify_module, "end_to_end_checks",
                        lambda folder, stream, jobs: independent_check_checks(real_run.run_dir))
    out = tmp_path / "qualification"
    code, stdout, stderr = run_cli(["qualify", "--out", str(out)])
    assert code == 0, stderr
    assert "FAILED" not in stderr and "3/5 R reference cases" in stderr
    record = json.loads((out / "qualification.json").read_text(encoding="utf-8"))
    assert record["result"] == "pass" and record["checks_failed"] == 0
    assert record["checks_total"] == len(record["checks"]) >= 600
    assert stdout.startswith(f"QUALIFIED: {record['checks_total']} checks: ")
    assert {"python", "pandoc", "typst", "quarto", "suite", "commit", "machine", "platform",
            "packages", "lock"} <= set(record["versions"])
    for check in record["checks"]:
        assert {"id", "what", "result", "largest_difference"} <= set(check)
        assert check["result"] == "pass"
    ids = [check["id"] for check in record["checks"]]
    assert len(set(ids)) == len(ids)
    assert "example.km.PFS.All" in ids and "cuts.sameday.counts" in ids
    assert any(i.startswith("end_to_end.independent_check.") for i in ids)
    pages = PdfReader(out / "qualification.pdf").pages
    first = " ".join(pages[0].extract_text().split())
    assert f"QUALIFIED: {record['checks_total']} checks: {record['checks_total']} passed, " \
           "0 failed" in first
    assert "Machine" in first and "commit" in first and "Reference cases: the example cut" in first
    assert "Review and approval" in pages[-1].extract_text()
    html = (out / "qualification.html").read_text(encoding="utf-8")
    assert "example.km.PFS.All" in html and "Review and approval" in html

"""The committed lock: pyproject.toml and the lock agree, and `make` installed exactly the lock."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: pytest's own TOML reader (in the lock for 3.10)
    import tomli as tomllib

from haplo_report.environment_lock import (LOCK_FILE, installed_versions, lock_differences,
                                           lock_sha256, locked_versions, normalised)
from haplo_report.run.manifest import build_manifest
from haplo_report.render.book import lock_sentence

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def declared() -> dict[str, Requirement]:
    """Every requirement pyproject.toml declares: runtime, the test extra, the setup group."""
    lines = [*PYPROJECT["project"]["dependencies"],
             *PYPROJECT["project"]["optional-dependencies"]["test"],
             *PYPROJECT["dependency-groups"]["setup"]]
    return {normalised(Requirement(line).name): Requirement(line) for line in lines}


def locked_from_pyproject(text: str) -> set[str]:
    """Packages the lock says it holds because pyproject.toml asks for them (``# via``)."""
    direct, current = set(), None
    for line in text.splitlines():
        head = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", line)
        if head:
            current = normalised(head.group(1))
        elif current and "haplo-report (pyproject.toml" in line:
            direct.add(current)
    return direct


def test_every_declared_dependency_is_locked_at_a_version_its_range_allows():
    locked = locked_versions()
    for name, requirement in declared().items():
        assert name in locked, f"{name} is in pyproject.toml but not in the lock: run make lock"
        assert requirement.specifier.contains(locked[name], prereleases=True), \
            f"{name}: lock {locked[name]} outside pyproject.toml's {requirement.specifier}"


def test_the_lock_holds_no_direct_dependency_pyproject_does_not_declare():
    assert locked_from_pyproject(LOCK_FILE.read_text(encoding="utf-8")) == set(declared())


def test_a_dependency_added_to_pyproject_only_is_caught():
    text = LOCK_FILE.read_text(encoding="utf-8")
    extra = text + "zzz-added==1.0 \\\n    --hash=sha256:00\n    # via haplo-report (pyproject.toml)\n"
    assert locked_from_pyproject(extra) - set(declared()) == {"zzz-added"}


def test_this_environment_is_exactly_the_lock():
    """What `make venv` installed: every package at the lock's version, nothing else but the
    suite itself (pip, which the venv brought, is removed by make)."""
    assert lock_differences(installed_versions(), locked_versions()) == []


def test_lock_differences_name_the_package_and_both_versions():
    installed = {"numpy": "2.4.6", "Extra_Pkg": "1.0", "haplo-report": "0.1.0"}
    locked = {"numpy": "2.4.5", "missing": "3.0"}
    assert lock_differences(installed, locked) == [
        "extra-pkg: installed 1.0, lock not in the lock",
        "missing: installed not installed, lock 3.0",
        "numpy: installed 2.4.6, lock 2.4.5"]


def test_locked_versions_evaluate_markers_for_this_python(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text("# header\nnumpy==1.0 ; python_full_version < '3.0' \\\n"
                    "    --hash=sha256:aa\nnumpy==2.0 ; python_full_version >= '3.0' \\\n"
                    "    --hash=sha256:bb\n    # via x\nscipy==1.5 \\\n    --hash=sha256:cc\n",
                    encoding="utf-8")
    assert locked_versions(lock) == {"numpy": "2.0", "scipy": "1.5"}


def test_environment_yml_installs_the_lock_and_pins_quarto():
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    assert re.search(r"^\s*- quarto=1\.9\.38$", text, re.M)
    assert re.search(r"^\s*- python=3\.11(\.\*)?$", text, re.M)
    assert "--require-hashes" in text and "haplo_report/requirements.lock" in text


def test_the_manifest_and_the_report_name_the_lock(tmp_path, example_params):
    manifest = build_manifest(example_params, inputs=[], run_dir=tmp_path, final=tmp_path,
                              notebooks={}, renderer=None, report_key="", suite={},
                              run_id="r", git={})
    assert manifest["environment_lock"] == {"file": "requirements.lock",
                                            "sha256": lock_sha256(), "differences": []}
    assert lock_sentence(manifest) == (
        f"The environment was installed from the lock requirements.lock (SHA-256 "
        f"{lock_sha256()[:16]}), exactly as locked.")
    differing = {"environment_lock": {**manifest["environment_lock"], "differences": ["a", "b"]}}
    assert lock_sentence(differing).endswith("differing from it in 2 packages (listed in "
                                             "manifest.json).")


@pytest.fixture
def example_params():
    from haplo_report.params import load_params

    return load_params(ROOT / "params" / "example.yml")

"""haplo_report.run.manifest: hashes, versions, git state, per-notebook records."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import subprocess
from pathlib import Path

import pandas

from haplo_report.run import manifest as mf
from pipeline_fixtures import VALID_CUT, good_run  # noqa: F401

RUN = Path("TEST") / "2026-06-30"


def test_manifest_hashes_match_every_file(good_run):
    run_dir = good_run[0] / RUN
    text = (run_dir / "manifest.json").read_text()
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    files = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()}
    assert set(data["outputs"]) == files - {"manifest.json"}
    for name, record in data["outputs"].items():
        content = (run_dir / name).read_bytes()
        assert record == {"sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}
    # no parameter file: inputs named relative to the data folder; its place under location
    assert sorted(data["inputs"]) == sorted(p.name for p in VALID_CUT.iterdir())
    for name, record in data["inputs"].items():
        assert record["sha256"] == hashlib.sha256((VALID_CUT / name).read_bytes()).hexdigest()
    assert data["params"]["data_dir"] == "." and "output_dir" not in data["params"]
    assert data["location"] == {"run_dir": str(run_dir.resolve()),
                                "output_dir": str(good_run[0].resolve()),
                                "data_dir": str(VALID_CUT.resolve()), "params_file": None}


def test_manifest_records_run_context(good_run):
    data = json.loads((good_run[0] / RUN / "manifest.json").read_text())
    assert data["study_id"] == "TEST" and data["data_cut_date"] == "2026-06-30"
    assert data["params"]["mrd_threshold"] == 0.0001
    assert data["params"]["landmarks_days"] == [100, 365, 730]
    assert data["python"]["version"] == platform.python_version()
    assert data["versions"]["pandas"] == pandas.__version__
    assert data["versions"]["haplo-report"] == data["suite"]["version"]
    assert data["renderer"] is None
    assert set(data["git"]) >= {"commit", "clean"}
    for name in ("01_alpha", "02_beta"):
        entry = data["notebooks"][name]
        assert entry["status"] == "executed"
        assert dt.datetime.fromisoformat(entry["start"]).tzinfo is not None
        assert entry["duration_s"] > 0
        assert len(entry["cache_key"]) == 64
        assert f"notebooks/{name}.ipynb" in entry["outputs"]
        assert f"results/{name}.csv" in entry["outputs"]
    assert "tables/alpha.csv" in data["notebooks"]["01_alpha"]["outputs"]


def test_git_state_without_git(tmp_path, monkeypatch):
    assert mf.git_state(tmp_path) == {"commit": None, "clean": None, "note": "not a git checkout"}

    def missing(*args, **kwargs):
        raise FileNotFoundError("git")

    monkeypatch.setattr(subprocess, "run", missing)
    assert mf.git_state(tmp_path)["note"] == "git not installed"


def test_git_state_of_a_repository(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "a.txt").write_text("a")
    subprocess.run(["git", "-C", str(tmp_path), "add", "a.txt"], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t",
                    "commit", "-q", "-m", "a"], check=True)
    state = mf.git_state(tmp_path)
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert state == {"commit": head, "clean": True}
    (tmp_path / "a.txt").write_text("b")
    assert mf.git_state(tmp_path)["clean"] is False


def test_without_timing_and_read_manifest(tmp_path):
    record = {"notebooks": {"a": {"status": "executed", "start": "2026-01-01T00:00:00+00:00",
                                  "duration_s": 1.5, "cache_key": "k"}}, "renderer": "pandoc"}
    assert mf.without_timing(record) == {"notebooks": {"a": {"status": "executed",
                                                             "cache_key": "k"}},
                                         "renderer": "pandoc"}
    mf.write_manifest(record, tmp_path / "manifest.json")
    assert mf.read_manifest(tmp_path / "manifest.json") == record
    assert mf.read_manifest(tmp_path / "missing.json") is None
    (tmp_path / "bad.json").write_text("{not json")
    assert mf.read_manifest(tmp_path / "bad.json") is None


def test_sha256_file(tmp_path):
    (tmp_path / "x").write_bytes(b"abc")
    assert mf.sha256_file(tmp_path / "x") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")

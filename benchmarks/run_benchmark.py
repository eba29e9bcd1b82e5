"""Speed and memory of the suite, in one invocation (issue: performance).

For each cohort size it simulates a cut and measures, as separate ``haplo-report run``
processes: a cold full run (validate, derive, all notebooks, render all formats), a warm re-run
with nothing changed, and a re-run after changing one parameter (``mrd_threshold``). On the
31-patient cut it also measures the plain baseline: every notebook executed by papermill one
after another, then rendering. Wall time and peak memory are of the whole process tree (the
run and its kernels), sampled with psutil. Ratios are only taken between figures of the same
invocation: absolute times on a shared machine are noisy.

    .venv/bin/python benchmarks/run_benchmark.py                 # 31, 1k, 10k, 100k patients
    .venv/bin/python benchmarks/run_benchmark.py --sizes 31,1000  # a quicker look
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
EXAMPLE_PARAMS = ROOT / "params" / "example.yml"


@dataclass
class Measure:
    seconds: float
    peak_mb: float
    returncode: int


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def measure(cmd: list[str], *, env: dict[str, str] | None = None) -> tuple[Measure, str]:
    """Run a command; wall time and peak resident memory of its whole process tree, and its
    standard error."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    ps = psutil.Process(proc.pid)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                peak = max(peak, _tree_rss(ps))
            except psutil.Error:
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    done.set()
    sampler.join()
    seconds = time.perf_counter() - start
    text = err.decode(errors="replace")
    if proc.returncode != 0:
        sys.stderr.write(text[-2000:])
    return Measure(seconds, peak / 2**20, proc.returncode), text


def write_params(base: dict, folder: Path, data_dir: Path, **changes) -> Path:
    params = {**base, "data_dir": str(data_dir), **changes}
    params.pop("output_dir", None)
    if "extends" in params:  # the study file, named from the example's folder
        params["extends"] = str((EXAMPLE_PARAMS.parent / params["extends"]).resolve())
    path = folder / "params.yml"
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return path


def manifest_of(out_dir: Path) -> dict:
    manifests = sorted(out_dir.glob("*/*/manifest.json"))
    return json.loads(manifests[0].read_text()) if manifests else {}


def stage_rows(size: int, manifest: dict) -> list[dict]:
    """Where the cold run's time went, as recorded in its manifest."""
    rows = [{"patients": size, "stage": stage, "seconds": round(sec, 3)}
            for stage, sec in manifest.get("timings", {}).items()]
    for name, info in sorted(manifest.get("notebooks", {}).items()):
        if info.get("duration_s") is not None:
            rows.append({"patients": size, "stage": f"notebook {name}",
                         "seconds": round(info["duration_s"], 3)})
    return rows


def executed_count(manifest: dict) -> int:
    return sum(1 for info in manifest.get("notebooks", {}).values()
               if info.get("status") == "executed")


def bench_size(size: int, work: Path, base: dict, jobs: int | None, pairs: int = 1
               ) -> tuple[list[dict], list[dict]]:
    """Cold, nothing changed and one parameter changed on a simulated cut of ``size``; on the
    31-patient cut ``pairs`` cold runs alternate with the plain baseline (medians reported),
    so both see the same load on a shared machine."""
    folder = work / f"n{size}"
    folder.mkdir()
    data_dir, out_dir = folder / "cut", folder / "out"
    sim, _ = measure([str(BIN / "haplo-report"), "simulate", "--n", str(size), "--seed", "11",
                   "--out", str(data_dir)])
    params = write_params(base, folder, data_dir)
    run = [str(BIN / "haplo-report"), "run", str(params), "--output-dir", str(out_dir)]
    if jobs:
        run += ["--jobs", str(jobs)]
    rows = [{"patients": size, "case": "simulate", **vars(sim), "notebooks_executed": ""}]
    colds, baselines = [], []
    for index in range(pairs if size == 31 else 1):
        if size == 31:
            baselines.append(bench_baseline(work, index))
        colds.append(measure(run + ["--force"])[0])
    cold = _median(colds)
    cold_manifest = manifest_of(out_dir)
    rows.append({"patients": size, "case": "cold", **vars(cold),
                 "notebooks_executed": executed_count(cold_manifest)})
    if baselines:
        rows.append({"patients": 31, "case": BASELINE, **vars(_median(baselines)),
                     "notebooks_executed": ""})
    warm, log = measure(run)
    up_to_date = warm.returncode == 0 and "up to date" in log  # the folder was left as it was
    rows.append({"patients": size, "case": "warm (no change)", **vars(warm),
                 "notebooks_executed": 0 if up_to_date else executed_count(manifest_of(out_dir))})
    write_params(base, folder, data_dir, mrd_threshold=base.get("mrd_threshold", 1e-4) * 10)
    changed, _ = measure(run)
    rows.append({"patients": size, "case": "one parameter changed", **vars(changed),
                 "notebooks_executed": executed_count(manifest_of(out_dir))})
    return rows + bench_comparison(size, folder, base, run[3:]), stage_rows(size, cold_manifest)


def bench_comparison(size: int, folder: Path, base: dict, options: list[str]) -> list[dict]:
    """A later export of the same study (same seed, later export date, corrections of records
    before the first cut) cut at LATER_CUT: its cold run, which compares itself with the first
    cut under the same output folder, and ``haplo-report compare`` of the two run folders."""
    data_dir = folder / "cut-later"
    measure([str(BIN / "haplo-report"), "simulate", "--n", str(size), "--seed", "11",
             "--export-date", LATER_EXPORT, "--corrections-before", base["data_cut_date"],
             "--out", str(data_dir)])
    later = folder / "later"
    later.mkdir()
    params = write_params(base, later, data_dir, data_cut_date=LATER_CUT)
    run, _ = measure([str(BIN / "haplo-report"), "run", str(params), *options, "--force"])
    study = folder / "out" / base["study_id"]
    compare, _ = measure([str(BIN / "haplo-report"), "compare",
                          str(study / base["data_cut_date"]), str(study / LATER_CUT)])
    return [{"patients": size, "case": f"later cut {LATER_CUT}, cold, with its comparison",
             **vars(run), "notebooks_executed": ""},
            {"patients": size, "case": COMPARE, **vars(compare),
             "notebooks_executed": ""}]


LATER_EXPORT, LATER_CUT = "2026-11-20", "2026-10-31"
COMPARE = "haplo-report compare (the two cuts)"


BASELINE = "plain baseline (sequential papermill + render)"


def _median(measures: list[Measure]) -> Measure:
    """The run of median wall time (the higher middle one of an even number)."""
    return sorted(measures, key=lambda m: m.seconds)[len(measures) // 2]


def bench_baseline(work: Path, index: int) -> Measure:
    """The plain way on the 31-patient cut: papermill one notebook after another, then render."""
    folder = work / "n31"
    script = ROOT / "benchmarks" / "plain_baseline.py"
    m, _ = measure([sys.executable, str(script), str(folder / "params.yml"),
                    str(work / f"baseline-{index}")])
    return m


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="31,1000,10000,100000")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--pairs", type=int, default=3,
                        help="31 patients: plain baseline and cold run alternated this often")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.csv")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    base = yaml.safe_load(EXAMPLE_PARAMS.read_text(encoding="utf-8"))
    rows: list[dict] = []
    stages: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="haplo-bench-") as tmp:
        work = Path(tmp)
        for size in sizes:
            size_rows, size_stages = bench_size(size, work, base, args.jobs, args.pairs)
            rows += size_rows
            stages += size_stages
    fields = ["patients", "case", "seconds", "peak_mb", "returncode", "notebooks_executed"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows({k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()}
                         for r in rows)
    with args.out.with_name("stages.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["patients", "stage", "seconds"])
        writer.writeheader()
        writer.writerows(stages)
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}")
    print(f"{'patients':>9}  {'case':<48} {'seconds':>8} {'peak MB':>8} {'executed':>8}")
    for r in rows:
        print(f"{r['patients']:>9}  {r['case']:<48} {r['seconds']:>8.1f} {r['peak_mb']:>8.0f} "
              f"{str(r['notebooks_executed']):>8}")
    by = {(r["patients"], r["case"]): r["seconds"] for r in rows}
    if (31, "cold") in by and (31, BASELINE) in by:
        print(f"cold 31 vs plain baseline (medians of {args.pairs} alternated pairs): "
              f"{by[(31, BASELINE)] / by[(31, 'cold')]:.2f}x faster")
    for size in sizes:
        if (size, "cold") in by:
            print(f"{size}: nothing changed {100 * by[(size, 'warm (no change)')] / by[(size, 'cold')]:.1f}% "
                  f"of cold, one parameter changed "
                  f"{100 * by[(size, 'one parameter changed')] / by[(size, 'cold')]:.1f}% of cold")
    for size in sizes:
        compare = by.get((size, COMPARE))
        if compare is not None:
            print(f"{size}: comparing two cuts {compare:.1f} s, "
                  f"{100 * compare / by[(size, 'cold')]:.0f}% of the cold run")
    if (31, "cold") in by and (max(sizes), "cold") in by and max(sizes) != 31:
        print(f"cold {max(sizes)} / cold 31: {by[(max(sizes), 'cold')] / by[(31, 'cold')]:.2f}x")
    print("stages of each cold run:")
    for s in stages:
        print(f"{s['patients']:>9}  {s['stage']:<40} {s['seconds']:>8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

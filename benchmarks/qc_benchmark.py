"""Cost of the independent check (haplo_report.analysis.qc, issue 19) per cohort size.

For each size it simulates a cut and runs it (``haplo-report run --formats html``), or takes
finished run folders given with ``--run-dir``; then, in a fresh Python process per run folder, it
times importing the check (lifelines, scipy.stats) and ``check_run`` itself, wall and CPU
seconds. Targets: the check under 1 s at 31 patients and under 10 s at 100,000. A run imports
lifelines while its notebooks execute, so the import is not on the run's critical path; it is
printed separately. CPU seconds are the figure to compare on a shared machine.

    .venv/bin/python benchmarks/qc_benchmark.py                        # 31 and 100,000 patients
    .venv/bin/python benchmarks/qc_benchmark.py --run-dir OUTPUT/STUDY/CUT   # an existing run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CUT_DATE = "2026-07-31"

MEASURE = """
import json, sys, time
from pathlib import Path
wall, cpu = time.perf_counter(), time.process_time()
from haplo_report.analysis import qc
imported = (time.perf_counter() - wall, time.process_time() - cpu)
wall, cpu = time.perf_counter(), time.process_time()
frame = qc.check_run(Path(sys.argv[1]))
checked = (time.perf_counter() - wall, time.process_time() - cpu)
print(json.dumps({"import_wall": imported[0], "import_cpu": imported[1],
                  "check_wall": checked[0], "check_cpu": checked[1],
                  "numbers": int(frame["numbers"].sum()), "lines": len(frame),
                  "failed": int((frame["result"] != "pass").sum())}))
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def run_cut(size: int, folder: Path) -> Path:
    """Simulate ``size`` patients and run the suite on them (HTML only); the run folder."""
    cut, output = folder / "cut", folder / "output"
    subprocess.run([sys.executable, "-m", "haplo_report", "simulate", "--n", str(size),
                    "--out", str(cut)], check=True, env=_env())
    params = folder / "params.yml"
    params.write_text(f"study_id: QC\nstudy_title: QC benchmark\ndata_dir: {cut}\n"
                      f"data_cut_date: \"{CUT_DATE}\"\noutput_dir: {output}\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "haplo_report", "run", str(params), "--formats",
                    "html"], check=True, env=_env(), stdout=subprocess.DEVNULL)
    return output / "QC" / CUT_DATE


def measure(run_dir: Path) -> dict[str, float]:
    """Time the check in a fresh process on a copy of what it reads (the run is not touched)."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp)
        shutil.copy2(run_dir / "results.csv", copy / "results.csv")
        (copy / "data").mkdir()
        for parquet in (run_dir / "data").glob("*.parquet"):
            shutil.copy2(parquet, copy / "data" / parquet.name)
        out = subprocess.run([sys.executable, "-c", MEASURE, str(copy)], check=True, env=_env(),
                             capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def patients(run_dir: Path) -> int:
    import pyarrow.parquet as pq

    return pq.read_metadata(run_dir / "data" / "adsl.parquet").num_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="31,100000", help="cohort sizes to simulate and run")
    parser.add_argument("--run-dir", type=Path, action="append", default=[],
                        help="a finished run folder to measure (repeatable; skips --sizes)")
    args = parser.parse_args()
    print("patients  numbers  lines  import wall/cpu (s)  check wall/cpu (s)  target  failed")
    with tempfile.TemporaryDirectory() as tmp:
        run_dirs = args.run_dir or [run_cut(int(size), Path(tmp) / size)
                                    for size in args.sizes.split(",")]
        for run_dir in run_dirs:
            n = patients(run_dir)
            m = measure(run_dir)
            target = 1.0 if n <= 1000 else 10.0
            print(f"{n:>8}  {m['numbers']:>7}  {m['lines']:>5}  "
                  f"{m['import_wall']:>8.2f} / {m['import_cpu']:<8.2f}  "
                  f"{m['check_wall']:>7.2f} / {m['check_cpu']:<7.2f}  < {target:g} s  "
                  f"{m['failed']:>6}")


if __name__ == "__main__":
    main()

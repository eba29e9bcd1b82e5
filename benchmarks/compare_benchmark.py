"""Time ``compare_runs`` on two simulated exports of one study (prints seconds and peak MB).

    .venv/bin/python benchmarks/compare_benchmark.py --n 100000

The two run folders are made the way the tests make them (inputs, ADSL, result rows of the
time-to-event endpoints, manifest), so only the comparison itself is timed: the second export
is later (2026-11-20) with corrections of records before the first cut (2026-07-31).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_comparison import NEW_CUT, OLD_CUT, make_run  # noqa: E402

from haplo_report.analysis.comparison import compare_runs  # noqa: E402
from haplo_report.data.simulate import revise_export, simulate_cut  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        began = time.monotonic()
        old = make_run(root, simulate_cut(args.n, 7), OLD_CUT)
        later = simulate_cut(args.n, 7, np.datetime64("2026-11-20", "D"))
        new = make_run(root, revise_export(later, np.datetime64(OLD_CUT, "D"), 7), NEW_CUT)
        print(f"patients {args.n}: two run folders made in {time.monotonic() - began:.1f} s")
        began = time.monotonic()
        comparison = compare_runs(old, new)
        seconds = time.monotonic() - began
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"compare_runs: {seconds:.1f} s, peak {peak:.0f} MB (whole process); "
              f"{comparison.summary()['retrospective_changes']} retrospective changes, "
              f"{len(comparison.new_events)} new events")


if __name__ == "__main__":
    main()

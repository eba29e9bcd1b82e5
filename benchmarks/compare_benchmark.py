"""Time a comparison of two simulated exports of one study (prints seconds and peak MB).

    .venv/bin/python benchmarks/compare_benchmark.py --n 100000

The two run folders are made the way the tests make them (inputs, ADSL, every chapter's
result rows, the section 14 tables, manifest), so only the comparison itself is timed: the
second export is later (2026-11-20) with corrections of records before the first cut
(2026-07-31). Timed: one derivation of the later export at the first cut (what the SAP's
three steps add at least), the comparison with the same parameters (the three steps with one
derivation) and with ``gvhd_relapse_competes`` changed (two derivations).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_comparison import NEW_CUT, OLD_CUT, make_run  # noqa: E402

from haplo_report.analysis.comparison import RunFolder  # noqa: E402
from haplo_report.analysis.derive import derive_cut  # noqa: E402
from haplo_report.data.simulate import revise_export, simulate_cut  # noqa: E402
from haplo_report.params import Params  # noqa: E402
from haplo_report.run.comparison import compare_runs  # noqa: E402


def _timed(what: str, work):
    began = time.monotonic()
    result = work()
    print(f"{what}: {time.monotonic() - began:.1f} s", flush=True)
    return result


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
        del later
        print(f"patients {args.n}: two run folders made in {time.monotonic() - began:.1f} s",
              flush=True)
        folder = RunFolder.open(new)
        params = Params(study_id="STUDY", study_title="T", data_dir=new, data_cut_date=OLD_CUT)
        _timed("one derivation of the later export at the first cut",
               lambda: derive_cut(folder.cut(), params))
        comparison = _timed("compare, same parameters (three steps, one derivation)",
                            lambda: compare_runs(old, new))
        summary = comparison.summary()
        print(f"  {summary['retrospective_changes']} retrospective changes, "
              f"{len(comparison.new_events)} new events, section 14 cells changed "
              f"{summary['table_cells_changed']}", flush=True)
        manifest = json.loads((new / "manifest.json").read_text(encoding="utf-8"))
        manifest["params"]["gvhd_relapse_competes"] = True
        (new / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        comparison = _timed("compare, gvhd_relapse_competes changed (two derivations)",
                            lambda: compare_runs(old, new))
        print(f"  section 14 cells changed {comparison.summary()['table_cells_changed']}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak {peak:.0f} MB (whole process)")


if __name__ == "__main__":
    main()

"""Peak memory of ``haplo-report validate`` on the two memory bombs of issue 12 (goal: < 200 MB).

- XLSX bomb: a 5 KB workbook (the relapses table) with one stray cell at XFD1048576.
- YAML alias bomb: "billion laughs" under ``study_title`` and under ``landmarks_days``.

Each case runs in its own process (its peak resident memory, from ``resource``); a plain
``validate`` of the valid fixture cut is the baseline (the imports alone: pandas, pandera).
Prints one line per case: peak MB, seconds, exit code, the first line of the message.

    .venv/bin/python benchmarks/bombs.py
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "valid_cut"
LIMIT_MB = 200
LAUGHS = ('a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
          + "".join(f"{n}: &{n} [" + ", ".join([f"*{p}"] * 9) + "]\n"
                    for p, n in zip("abcdefgh", "bcdefghi")))


def params(folder: Path, cut: Path, extra: str = "") -> Path:
    path = folder / "params.yml"
    path.write_text(f"study_id: BOMB\nstudy_title: Bomb\ndata_dir: {cut}\n"
                    f"data_cut_date: 2026-06-30\n{extra}", encoding="utf-8")
    return path


def xlsx_bomb(folder: Path) -> Path:
    cut = Path(shutil.copytree(FIXTURE, folder / "cut"))
    book = openpyxl.Workbook()
    with open(cut / "relapses.csv", newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle):
            book.active.append(row)
    book.active["XFD1048576"] = "x"
    book.save(cut / "relapses.xlsx")
    (cut / "relapses.csv").unlink()
    return params(folder, cut)


def yaml_bomb(key: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        cut = Path(shutil.copytree(FIXTURE, folder / "cut"))
        path = folder / "params.yml"
        text = LAUGHS + f"study_id: BOMB\ndata_dir: {cut}\ndata_cut_date: 2026-06-30\n"
        text += ("study_title: [*i, *i, *i, *i, *i, *i, *i, *i, *i]\n" if key == "study_title"
                 else f"study_title: Bomb\n{key}: *i\n")
        path.write_text(text, encoding="utf-8")
        return path
    return make


def baseline(folder: Path) -> Path:
    return params(folder, Path(shutil.copytree(FIXTURE, folder / "cut")))


CASES = {"baseline: valid fixture cut": baseline, "XLSX stray cell at XFD1048576": xlsx_bomb,
         "YAML alias bomb, study_title": yaml_bomb("study_title"),
         "YAML alias bomb, landmarks_days": yaml_bomb("landmarks_days")}

CHILD = """
import resource, sys
from haplo_report.cli import main
code = main(["validate", sys.argv[1]])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def main() -> int:
    print(f"{'case':<34} {'peak MB':>8} {'seconds':>8} {'exit':>5}  message")
    worst = 0.0
    for name, make in CASES.items():
        with tempfile.TemporaryDirectory() as tmp:
            path = make(Path(tmp))
            began = time.monotonic()
            done = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True,
                                  text=True, timeout=300, cwd=ROOT)
            seconds = time.monotonic() - began
        lines = done.stderr.strip().splitlines()
        peak = int(lines[-1]) / 1024  # ru_maxrss is in KiB on Linux
        message = (lines[:-1] or done.stdout.splitlines() or [""])[0][:70]
        worst = max(worst, peak)
        print(f"{name:<34} {peak:>8.0f} {seconds:>8.1f} {done.returncode:>5}  {message}")
    print(f"highest peak {worst:.0f} MB (goal < {LIMIT_MB} MB): "
          f"{'met' if worst < LIMIT_MB else 'MISSED'}")
    return 0 if worst < LIMIT_MB else 1


if __name__ == "__main__":
    sys.exit(main())

"""The two renderers side by side (issue 24): cold runs of the example cut with Quarto and with
the Pandoc + Typst fallback, alternated, and the rendering alone of one finished run folder.

Cold run: ``haplo-report run params/example.yml --force --renderer R`` as its own process, into
an output folder under a hidden folder (where every build is rendered from anyway); its wall
time, its CPU time (user + system of the process tree, from the OS's accounting of the
finished children) and the manifest's ``rendering`` stage. The renderers alternate pair by
pair, so a machine whose speed drifts affects both alike; medians are reported, and the
ratio Quarto / fallback of each pair.

Rendering alone (``--render-only``): ``render_report`` of one finished run folder, in this
process: the fallback, and Quarto in one process for all formats and in one process per core.

    .venv/bin/python benchmarks/renderer_benchmark.py --pairs 3     # needs quarto on PATH
    .venv/bin/python benchmarks/renderer_benchmark.py --render-only 3
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
EXAMPLE = ROOT / "params" / "example.yml"
RUN = Path("HAPLO-BLIN-ALL") / "2026-07-31"
CSV = Path(__file__).with_name("renderer.csv")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cold_run(renderer: str, out: Path) -> dict[str, float]:
    """One cold run with ``renderer``: wall and CPU seconds, and its rendering stage."""
    cpu, began = _children_cpu(), time.monotonic()
    done = subprocess.run([str(BIN / "haplo-report"), "run", str(EXAMPLE), "--force",
                           "--renderer", renderer, "--output-dir", str(out)],
                          capture_output=True, text=True, check=False)
    wall, cpu = time.monotonic() - began, _children_cpu() - cpu
    if done.returncode != 0:
        sys.exit(f"{renderer} run failed: {done.stderr.strip()}")
    manifest = json.loads((out / RUN / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["renderer"] == renderer
    return {"wall_s": wall, "cpu_s": cpu, "rendering_s": manifest["timings"]["rendering"]}


def render_only(run_dir: Path, repeats: int) -> list[dict[str, object]]:
    """``render_report`` of ``run_dir`` (a copy), each variant ``repeats`` times, alternated."""
    from haplo_report.render import quarto, render_report

    cores = quarto.cores
    variants = {"pandoc": ("pandoc", cores), "quarto, 1 process": ("quarto", lambda: 1),
                "quarto, 1 process per core": ("quarto", cores)}
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / ".build" / "run"
        shutil.copytree(run_dir, copy)
        for repeat in range(repeats):
            for name, (renderer, processes) in variants.items():
                shutil.rmtree(copy / "report", ignore_errors=True)
                quarto.cores = processes
                cpu, began = _children_cpu() + _self_cpu(), time.monotonic()
                render_report(copy, renderer=renderer)
                rows.append({"case": f"render only: {name}", "repeat": repeat + 1,
                             "wall_s": round(time.monotonic() - began, 2),
                             "cpu_s": round(_children_cpu() + _self_cpu() - cpu, 2)})
        quarto.cores = cores
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=3, help="alternated cold-run pairs")
    parser.add_argument("--render-only", type=int, default=0, metavar="N",
                        help="also time the rendering alone N times per variant")
    args = parser.parse_args()
    if shutil.which("quarto") is None:
        sys.exit("quarto is not on PATH: nothing to compare")
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        outs = {r: Path(tmp) / ".hidden" / r for r in ("quarto", "pandoc")}
        for pair in range(args.pairs):
            for renderer in ("quarto", "pandoc"):
                result = cold_run(renderer, outs[renderer])
                rows.append({"case": f"cold run: {renderer}", "repeat": pair + 1,
                             **{k: round(v, 2) for k, v in result.items()}})
                print(rows[-1], flush=True)
        if args.render_only:
            for row in render_only(outs["pandoc"] / RUN, args.render_only):
                rows.append(row)
                print(row, flush=True)
    fields = ["case", "repeat", "wall_s", "cpu_s", "rendering_s"]
    with CSV.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    for case in dict.fromkeys(str(row["case"]) for row in rows):
        chosen = [row for row in rows if row["case"] == case]
        medians = {k: statistics.median(float(r[k]) for r in chosen) for k in fields[2:]
                   if all(k in r for r in chosen)}
        print(f"{case}: medians " + ", ".join(f"{k} {v:.1f}" for k, v in medians.items()))
    quarto = [float(r["wall_s"]) for r in rows if r["case"] == "cold run: quarto"]
    pandoc = [float(r["wall_s"]) for r in rows if r["case"] == "cold run: pandoc"]
    if quarto:
        ratios = [q / p for q, p in zip(quarto, pandoc)]
        print("cold run Quarto / fallback, pair by pair: "
              + ", ".join(f"{r:.2f}" for r in ratios)
              + f" (median {statistics.median(ratios):.2f}; target <= 1.5)")


if __name__ == "__main__":
    main()

"""The plain way to make the report, for comparison: validate, derive, execute every notebook
with papermill one after another (a fresh kernel each, no cache), collect results, render.

    .venv/bin/python benchmarks/plain_baseline.py PARAMS.yml OUTPUT_FOLDER
"""

from __future__ import annotations

import sys
from pathlib import Path

import papermill

from haplo_report import plan
from haplo_report.analysis.derive import derive_cut
from haplo_report.run.manifest import build_manifest, git_state, write_manifest
from haplo_report.params import load_params
from haplo_report.paths import NOTEBOOKS_DIR
from haplo_report.run.cache import suite_fingerprint
from haplo_report.run.collect import collect_results, validation_record, write_validation
from haplo_report.render import choose_renderer, render_report
from haplo_report.data.validation import validate_cut


def main(params_path: Path, out: Path) -> None:
    params = load_params(params_path)
    cut = validate_cut(params.data_dir, params.data_cut_date)
    derived = derive_cut(cut, params)
    out.mkdir(parents=True)
    derived.write(out / "data")
    write_validation(validation_record(cut), out)
    (out / "notebooks").mkdir()
    values = params.to_dict()
    for spec in plan.NOTEBOOKS:
        parameters = {name: values[name] for name in (*plan.COMMON_PARAMS, *spec.params)}
        papermill.execute_notebook(
            str(NOTEBOOKS_DIR / f"{spec.name}.ipynb"),
            str(out / "notebooks" / f"{spec.name}.ipynb"),
            parameters={**parameters, "data_dir": str(out / "data"), "out_dir": str(out)},
            kernel_name="python3", progress_bar=False, cwd=str(out))
    collect_results([spec.name for spec in plan.NOTEBOOKS], out)
    renderer = choose_renderer()
    notebooks = {spec.name: {"status": "executed"} for spec in plan.NOTEBOOKS}
    write_manifest(build_manifest(params, inputs=list(cut.files.values()), run_dir=out,
                                  final=out, notebooks=notebooks, renderer=renderer,
                                  report_key="", suite=suite_fingerprint(), run_id="baseline",
                                  git=git_state()), out / "manifest.json")
    render_report(out, renderer=renderer)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

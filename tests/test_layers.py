"""The package's tree shows its one-way flow: a module imports only from its own stage or an
earlier one (read -> validate -> derive -> estimate -> rows -> tables/figures -> render -> run)."""

from __future__ import annotations

import ast
from pathlib import Path

import haplo_report

PACKAGE = Path(haplo_report.__file__).resolve().parent
# Foundation modules (parameters, plan, paths, limits, number formats, the environment lock,
# free-text rules) are importable by all.
STAGES = {"foundation": 0, "data": 1, "analysis": 2, "outputs": 3, "render": 4, "run": 5,
          "qualification": 6, "cli": 7}
FOUNDATION = {"params", "plan", "paths", "limits", "formatting", "typeface", "environment_lock",
              "text", "__init__"}


def stage_of(module: str) -> str:
    """The stage of a dotted module name inside the package."""
    parts = module.split(".")[1:]  # without "haplo_report"
    if not parts or parts[0] in FOUNDATION:
        return "foundation"
    if parts[0] == "__main__":
        return "cli"
    return parts[0]


def imports_of(path: Path) -> list[str]:
    module = "haplo_report." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names
                                     if node.module == "haplo_report"]
            found += [name for name in names if name.startswith("haplo_report")]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("haplo_report")]
    return [name for name in found if name != "haplo_report" and name != module]


def test_every_module_belongs_to_a_known_stage():
    for path in PACKAGE.rglob("*.py"):
        module = "haplo_report." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        assert stage_of(module) in STAGES, module


def test_no_module_imports_from_a_later_stage():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = "haplo_report." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        for imported in imports_of(path):
            if STAGES[stage_of(imported)] > STAGES[stage_of(module)]:
                upward.append(f"{module} imports {imported}")
    assert upward == []


def test_the_check_reads_imports_and_stages():
    readers = PACKAGE / "data" / "readers.py"
    assert stage_of("haplo_report.run.build") == "run"
    assert "haplo_report.data.cut" in imports_of(readers)
    assert STAGES[stage_of("haplo_report.render")] > STAGES[stage_of("haplo_report.analysis.derive")]

"""The qualification report a QA reviewer reads and signs: ``qualification.pdf`` and
``qualification.html`` (page 1: the summary; then every check; then the signature block) and
``qualification.json`` (``versions``, ``checks``), written with the suite's own renderers
(the Pandoc bundled by pypandoc-binary, Typst from PyPI, the report's typeface and CSS)."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typst

from haplo_report import typeface
from haplo_report.formatting import escape_markdown
from haplo_report.paths import PACKAGE
from haplo_report.qualification.checks import Check
from haplo_report.render.markdown import run_pandoc

TEMPLATES = PACKAGE / "templates"
TYPST_TEMPLATE = "qualification.typ"
CSS = "report.css"
STEM = "qualification"
FAILED_ON_PAGE_1 = 12  # the first failed checks named on the summary page


@dataclass(frozen=True)
class Qualification:
    """What one ``haplo-report qualify`` found."""

    checks: list[Check]
    versions: dict[str, Any]
    started: str  # UTC, ISO 8601
    duration_s: float

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if not check.passed]

    @property
    def passed(self) -> bool:
        return bool(self.checks) and not self.failed

    @property
    def verdict(self) -> str:
        return "QUALIFIED" if self.passed else "NOT QUALIFIED"

    def counts(self) -> str:
        return (f"{len(self.checks)} checks: {len(self.checks) - len(self.failed)} passed, "
                f"{len(self.failed)} failed")


def write_json(result: Qualification, path: Path) -> Path:
    record = {"result": "pass" if result.passed else "fail", "verdict": result.verdict,
              "started": result.started, "duration_s": round(result.duration_s, 1),
              "checks_total": len(result.checks), "checks_passed":
              len(result.checks) - len(result.failed), "checks_failed": len(result.failed),
              "versions": result.versions, "checks": [c.to_json() for c in result.checks]}
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path


def _cell(text: Any) -> str:
    return escape_markdown(str(text)).replace("\n", " ")


def _difference(value: float | None) -> str:
    return "-" if value is None else f"{value:.2g}"


def summary_markdown(result: Qualification) -> str:
    """Page 1: what was qualified, where, when, by whom, and the counts."""
    v = result.versions
    rows = [("Result", f"**{result.verdict}**: {result.counts()}"),
            ("Date", f"{result.started} (UTC); took {result.duration_s:.0f} s"),
            ("Machine", f"{v['machine']}: {v['platform']} ({v['architecture']})"),
            ("Run by", v["user"]),
            ("Suite", f"{v['suite']}, commit {v['commit']}"),
            ("Suite code SHA-256", v["code SHA-256"]),
            ("Installed at", v["suite location"]),
            ("Python", f"{v['python']} ({v['python executable']})"),
            ("Pandoc, Typst, Quarto", f"{v['pandoc']}; {v['typst']}; {v['quarto']}"),
            ("Locked dependencies", f"{len(v['lock'])} for this interpreter, "
                                    f"{len(v['packages'])} distributions installed; lock "
                                    f"SHA-256 {v['lock sha256']}")]
    lines = [f"# Installation and operational qualification of {_cell(v['suite'])}", "",
             "| | |", "|---|-------------|"]
    lines += [f"| {name} | {value if name == 'Result' else _cell(value)} |"
              for name, value in rows]
    lines += ["", "## Checks by section", "",
              "| Section | Checks | Passed | Failed | Largest difference |",
              "|----------|--|--|--|---|"]
    for section in dict.fromkeys(check.section for check in result.checks):
        these = [c for c in result.checks if c.section == section]
        largest = [c.largest_difference for c in these if c.largest_difference is not None]
        lines.append(f"| {_cell(section)} | {len(these)} | {sum(c.passed for c in these)} | "
                     f"{sum(not c.passed for c in these)} | "
                     f"{_difference(max(largest) if largest else None)} |")
    lines += ["", "What it checks: the installed Python packages against the shipped lock; "
              "the shipped reference files against their SHA-256 manifest; every estimate "
              "of the R reference cases (R survival, cmprsk, binom.test), computed again by "
              "the installed suite, at the stated tolerance; a run of the bundled example cut "
              "with its independent check (lifelines and identities) and haplo-report verify "
              "\\-\\-reproduce. The largest difference is the largest absolute difference "
              "between the suite and its reference among the numbers a check compares."]
    lines += ["", "Every check follows, by section; the signature block is on the last page."]
    if result.failed:
        lines += ["", "## Failed checks", ""]
        lines += [f"- **{_cell(c.id)}**: {_cell(c.detail)}"
                  for c in result.failed[:FAILED_ON_PAGE_1]]
        if len(result.failed) > FAILED_ON_PAGE_1:
            lines.append(f"- and {len(result.failed) - FAILED_ON_PAGE_1} more, marked FAIL "
                         "below")
    return "\n".join(lines) + "\n"


def checks_markdown(result: Qualification) -> str:
    """Every check, by section: id, what it compares, the reference's source, the tolerance,
    the largest difference and the result."""
    lines = ["# Every check", ""]
    for section in dict.fromkeys(check.section for check in result.checks):
        lines += [f"## {_cell(section)}", "",
                  "| Check | What it compares | Reference | Tolerance | Largest difference "
                  "| Result |",
                  "|---------|-----------|--------|----|---|--|"]
        for c in (c for c in result.checks if c.section == section):
            outcome = "pass" if c.passed else f"**FAIL**: {_cell(c.detail)}"
            lines.append(f"| {_cell(c.id)} | {_cell(c.what)} | {_cell(c.source)} | "
                         f"{_cell(c.tolerance)} | {_difference(c.largest_difference)} | "
                         f"{outcome} |")
        lines.append("")
    return "\n".join(lines)


SIGNATURE_ROLES = ("Performed by", "Reviewed by (quality assurance)", "Approved by")


def signatures_markdown() -> str:
    """The signature block: a ruled table with room to sign (raw Typst for the PDF, raw HTML
    for the HTML: a Markdown table has no row height)."""
    typst_rows = "".join(f"  [{role}], [], [], [],\n" for role in SIGNATURE_ROLES)
    html_rows = "".join(f'<tr><td>{role}</td><td></td><td></td><td></td></tr>'
                        for role in SIGNATURE_ROLES)
    return ("# Review and approval\n\nI have reviewed this qualification report, including "
            "every failed check listed on page 1.\n\n"
            "```{=typst}\n#table(columns: (32%, 28%, 25%, 15%), rows: (auto, 1.4cm, 1.4cm, "
            "1.4cm), align: (left + horizon),\n  [Role], [Name], [Signature], [Date],\n"
            f"{typst_rows})\n```\n\n"
            '```{=html}\n<table class="signatures" style="width:100%">'
            "<thead><tr><th>Role</th><th>Name</th><th>Signature</th><th>Date</th></tr></thead>"
            f'<tbody style="height:12em">{html_rows}</tbody></table>\n```\n')


PAGE_BREAK = "\n```{=typst}\n#pagebreak()\n```\n\n"


def report_markdown(result: Qualification) -> str:
    return (summary_markdown(result) + PAGE_BREAK + checks_markdown(result) + PAGE_BREAK
            + signatures_markdown())


def write_reports(result: Qualification, out_dir: Path) -> dict[str, Path]:
    """``qualification.{json,html,pdf}`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {"json": write_json(result, out_dir / f"{STEM}.json")}
    v = result.versions
    header = f"Installation and operational qualification: {v['suite']}"
    footer = f"{v['machine']}, {result.started[:10]}"
    with tempfile.TemporaryDirectory(prefix="haplo-report-qualification-") as temporary:
        folder = Path(temporary)
        (folder / "report.md").write_text(report_markdown(result), encoding="utf-8")
        shutil.copy2(TEMPLATES / TYPST_TEMPLATE, folder / TYPST_TEMPLATE)
        shutil.copy2(TEMPLATES / CSS, folder / CSS)
        (folder / "fonts").mkdir()
        for font in typeface.font_files():
            shutil.copy2(font, folder / "fonts" / font.name)
        common = ["report.md", "-f", "markdown", "--standalone", "--wrap=none",
                  f"--metadata=pagetitle:{header}", f"--metadata=header-left:{header}",
                  f"--metadata=header-right:{result.verdict}",
                  f"--metadata=footer-left:{footer}"]
        html = out_dir / f"{STEM}.html"
        run_pandoc([*common, "-t", "html5", "--embed-resources", f"--css={CSS}", "-o",
                    str(html.resolve())], folder)
        written["html"] = html
        run_pandoc([*common, "-t", "typst", f"--template={TYPST_TEMPLATE}", "-o",
                    "report.typ"], folder)
        pdf = out_dir / f"{STEM}.pdf"
        typst.compile(str(folder / "report.typ"), output=str(pdf.resolve()), root=str(folder),
                      font_paths=[str(folder / "fonts")], ignore_system_fonts=True)
        written["pdf"] = pdf
    return written

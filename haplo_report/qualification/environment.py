"""The environment check: Python, every locked dependency's installed version against the
shipped lock (``haplo_report/requirements.lock``, its markers evaluated for this interpreter),
the Pandoc and Typst that render, Quarto when present, and the platform."""

from __future__ import annotations

import getpass
import platform
import re
import socket
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.specifiers import SpecifierSet

import haplo_report
from haplo_report.environment_lock import (LOCK_FILE, NOT_LOCKED, installed_versions,
                                           lock_sha256, locked_versions)
from haplo_report.paths import PACKAGE, PROJECT_ROOT
from haplo_report.qualification.checks import Check, failed, outcome, passed
from haplo_report.render import quarto_path
from haplo_report.run.cache import suite_fingerprint
from haplo_report.run.manifest import git_state

SECTION = "Environment"
LOCK_SOURCE = "haplo_report/requirements.lock (shipped lock, uv pip compile with hashes)"
SUITE = "haplo-report"


def commit() -> str:
    """The suite's commit: the checkout's, or the one the installer recorded (PEP 610
    ``direct_url.json``), else "not recorded"."""
    state = git_state(PROJECT_ROOT) if (PROJECT_ROOT / ".git").exists() else {}
    if state.get("commit"):
        return state["commit"] + ("" if state.get("clean") else " (with uncommitted changes)")
    try:
        direct = metadata.distribution(SUITE).read_text("direct_url.json") or ""
    except metadata.PackageNotFoundError:
        direct = ""
    found = re.search(r'"commit_id"\s*:\s*"([0-9a-f]+)"', direct)
    return found.group(1) if found else "not recorded (installed without git information)"


def facts() -> dict[str, str]:
    """What the report's first page names: machine, platform, Python, suite and commit."""
    return {"suite": f"{SUITE} {haplo_report.__version__}", "commit": commit(),
            "code SHA-256": suite_fingerprint()["code_sha256"],
            "machine": socket.gethostname(), "user": _user(),
            "platform": platform.platform(), "architecture": platform.machine(),
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "python executable": sys.executable, "suite location": str(PACKAGE)}


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def tool_versions() -> dict[str, str]:
    """Pandoc, Typst and Quarto (when on PATH) as found now."""
    import pypandoc

    versions = {}
    try:
        versions["pandoc"] = pypandoc.get_pandoc_version()
    except OSError:
        versions["pandoc"] = "not installed"
    versions["typst"] = _installed("typst")
    quarto = quarto_path()
    if quarto:
        done = subprocess.run([quarto, "--version"], capture_output=True, text=True, check=False)
        versions["quarto"] = done.stdout.strip() if done.returncode == 0 else "does not run"
    else:
        versions["quarto"] = "not on PATH (Pandoc+Typst render)"
    return versions


def _installed(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment_checks(lock: Path = LOCK_FILE) -> tuple[list[Check], dict[str, Any]]:
    """The checks and the ``versions`` record of ``qualification.json``."""
    checks: list[Check] = []
    installed = installed_versions()
    requires = _installed_metadata("Requires-Python") or ">=3.10"
    python = platform.python_version()
    checks.append(outcome(SpecifierSet(requires).contains(python), "environment.python",
                          SECTION, f"Python {python} within the suite's requires-python "
                          f"{requires}", "the suite's metadata (pyproject.toml requires-python)",
                          f"Python {python} is outside {requires}"))
    checks.append(outcome(SUITE in installed, "environment.suite", SECTION,
                          f"{SUITE} {haplo_report.__version__} is an installed distribution",
                          "the installed distribution's metadata",
                          f"{SUITE} is not installed (run from a source tree?)"))
    locked = locked_versions(lock)
    for name, want in sorted(locked.items()):
        have = installed.get(name)
        checks.append(outcome(have == want, f"environment.lock.{name}", SECTION,
                              f"{name}: installed version against the lock's {want}",
                              LOCK_SOURCE, f"{name}: installed {have or 'nothing'}, lock {want}"))
    extra = sorted(set(installed) - set(locked) - NOT_LOCKED)
    checks.append(outcome(not extra, "environment.nothing_else", SECTION,
                          "no installed distribution outside the lock (no drift)", LOCK_SOURCE,
                          f"installed but not locked: {', '.join(extra)}"))
    tools = tool_versions()
    checks.append(_pandoc_check(tools["pandoc"]))
    checks.append(_typst_check(tools["typst"]))
    if quarto_path():
        checks.append(outcome(tools["quarto"] != "does not run", "environment.quarto", SECTION,
                              f"Quarto on PATH runs: {tools['quarto']}", "quarto --version",
                              f"{quarto_path()} does not run"))
    versions = {**facts(), **tools,
                "packages": {name: installed[name] for name in sorted(installed)},
                "lock": {name: locked[name] for name in sorted(locked)},
                "lock sha256": lock_sha256(lock)}
    return checks, versions


def _installed_metadata(field: str) -> str | None:
    try:
        return metadata.metadata(SUITE).get(field)
    except metadata.PackageNotFoundError:
        return None


def _pandoc_check(version: str) -> Check:
    """Pandoc (pypandoc-binary) converts a line of Markdown to HTML."""
    from haplo_report.render.markdown import PandocError, run_pandoc

    what = f"Pandoc {version} (pypandoc-binary) converts Markdown to HTML"
    try:
        html = run_pandoc(["-f", "markdown", "-t", "html"], Path(tempfile.gettempdir()),
                          stdin="*qualified*")
    except (PandocError, OSError) as exc:
        return failed("environment.pandoc", SECTION, what, "pandoc --version", str(exc))
    if "<em>qualified</em>" not in html:
        return failed("environment.pandoc", SECTION, what, "pandoc", f"unexpected output {html!r}")
    return passed("environment.pandoc", SECTION, what, "pandoc (bundled with pypandoc-binary)")


def _typst_check(version: str) -> Check:
    """Typst compiles a one-line document to a PDF."""
    import typst

    what = f"Typst {version} (PyPI typst) compiles a document to PDF"
    with tempfile.TemporaryDirectory(prefix="haplo-report-qualify-") as folder:
        source = Path(folder) / "probe.typ"
        source.write_text("Qualified.\n", encoding="utf-8")
        try:
            pdf = typst.compile(str(source))
        except RuntimeError as exc:
            return failed("environment.typst", SECTION, what, "typst", str(exc))
    if not pdf.startswith(b"%PDF"):
        return failed("environment.typst", SECTION, what, "typst", "the output is not a PDF")
    return passed("environment.typst", SECTION, what, "typst (PyPI)")

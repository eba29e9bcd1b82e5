"""Command line: ``haplo-report validate | simulate | run | verify | compare | qualify | keygen |
sign``.

Exit codes: 0 success; 1 invalid data or a failed run; 2 bad usage or bad parameters.
Errors are one clear message, never a traceback.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
from pathlib import Path

from haplo_report.params import ParamsError, load_params
from haplo_report.render import RENDERER_CHOICES

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _add_override_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("params", type=Path, help="parameter file of the data cut (params/*.yml)")
    parser.add_argument("--data-dir", type=Path, help="folder of the cut's tables (overrides the file)")
    parser.add_argument("--data-cut-date", help="data cut date YYYY-MM-DD (overrides the file)")
    parser.add_argument("--output-dir", type=Path, help="where run folders go (overrides the file)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="haplo-report",
        description="Per-data-cut clinical study report: validate a cut, derive analysis "
        "datasets, execute one notebook per endpoint and render the report.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = sub.add_parser(
        "validate", help="check a data cut against the input contract",
        description="Read the cut's tables and check every rule of the data-cut spec. Exit 0 "
        "when valid; otherwise list every violation (table, row, column, value, rule) and exit 1.",
    )
    _add_override_flags(validate)
    validate.add_argument("--report", type=Path,
                          help="also write the violations to this file (.csv or .json)")

    simulate = sub.add_parser(
        "simulate", help="write a realistic simulated data cut",
        description="Write a complete, valid data cut of N simulated patients in the spec's "
        "format. The same seed gives the same files.",
    )
    simulate.add_argument("--n", type=int, default=31, help="number of patients (default 31)")
    simulate.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    simulate.add_argument("--out", type=Path, required=True, help="folder to write the tables into")
    simulate.add_argument("--format", default="csv", choices=("csv", "xlsx", "parquet", "xpt"),
                          help="file format of the tables (default csv)")
    simulate.add_argument("--export-date", type=_date, default=None,
                          help="date of the database export, YYYY-MM-DD (default 2026-10-15); "
                          "the same seed with a later date is a later export of the same study")
    simulate.add_argument("--corrections-before", type=_date, default=None,
                          help="also correct a few records dated on or before this date "
                          "(YYYY-MM-DD), as a later export does")
    simulate.add_argument("--force", action="store_true",
                          help="write into a folder that is not empty (its tables are replaced)")

    run = sub.add_parser(
        "run", help="validate, derive, execute all notebooks and render the report",
        description="The main job: validate the cut, derive the analysis datasets, execute every "
        "endpoint notebook with papermill and render the report (HTML, Word, PDF) into "
        "OUTPUT/<study>/<data cut date>/. Unchanged notebooks are not executed again.",
    )
    _add_override_flags(run)
    run.add_argument("--jobs", type=int, default=None,
                     help="notebooks executed at once (default: all cores)")
    run.add_argument("--force", action="store_true", help="execute every notebook, ignoring the cache")
    run.add_argument("--formats", default="html,docx,pdf",
                     help="report formats, comma-separated (default html,docx,pdf)")
    run.add_argument("--renderer", choices=RENDERER_CHOICES, default="auto",
                     help="what renders the report: quarto, pandoc (Pandoc + Typst, always "
                     "installed) or auto, quarto when the quarto command is on PATH (default)")
    run.add_argument("--stall-timeout", type=float, default=None, metavar="SECONDS",
                     help="a notebook cell running longer than this fails the run as stalled "
                     "(default 1800)")
    verify = sub.add_parser(
        "verify", help="check a delivered run folder against its manifest",
        description="Check every file of a run folder against the SHA-256 in its manifest "
        "(missing, changed, unlisted files; links and names outside the folder are findings, "
        "never followed) and the installed versions against the recorded ones; with "
        "--public-key, the manifest's signature; with --reproduce, derive the datasets again "
        "from the folder's input tables and execute this suite's own notebooks again (never "
        "code from the folder) from its derived data in a temporary folder, comparing result "
        "rows and tables byte for byte and figures by content. Writes verification.txt beside "
        "the manifest. Exit 0 when every check holds, 1 otherwise, 2 when the folder cannot "
        "be read as a run folder.",
    )
    verify.add_argument("run_dir", type=Path, help="the run folder (OUTPUT/<study>/<data cut date>)")
    verify.add_argument("--reproduce", action="store_true",
                        help="also derive and execute again, and compare the results")
    verify.add_argument("--jobs", type=int, default=None,
                        help="notebooks executed at once with --reproduce (default: all cores)")
    verify.add_argument("--public-key", type=Path, default=None, metavar="KEY",
                        help="also check manifest.json.sig, the signature of the manifest, "
                        "with this public key (haplo-report keygen NAME writes NAME.pub)")
    run.add_argument("--compare-to", metavar="DATE|RUN_DIR", default=None,
                     help="earlier cut to compare with: its date (a run folder of this study "
                     "under the output folder) or a run folder (default: the latest earlier "
                     "cut of this study under the output folder, when there is one)")

    compare = sub.add_parser(
        "compare", help="what changed between two data cuts of one study",
        description="Compare two run folders of the same study (earlier cut first): new "
        "parameters that differ, patients, new events, retrospective changes of earlier records, "
        "headline estimates explained in three steps (corrections, parameters, new "
        "information) and the section 14 cells corrections and parameters changed.",
    )
    compare.add_argument("old", type=Path, help="run folder of the earlier data cut")
    compare.add_argument("new", type=Path, help="run folder of the later data cut")
    compare.add_argument("--out", type=Path, default=None,
                         help="also write the comparison (CSV per finding, summary.json) into "
                         "this folder")

    keygen = sub.add_parser(
        "keygen", help="write a key pair for signing run folders",
        description="Write a new Ed25519 key pair: NAME.key (private, readable by you only: "
        "keep it secret) and NAME.pub (give it to whoever verifies). Never inside a run folder "
        "or the suite's repository; existing files are not replaced.",
    )
    keygen.add_argument("name", type=Path, help="path and base name of the two key files")

    sign = sub.add_parser(
        "sign", help="sign a run folder's manifest",
        description="Write manifest.json.sig in the run folder: an Ed25519 signature of "
        "manifest.json, which lists the SHA-256 of every file of the folder. "
        "haplo-report verify RUN_DIR --public-key NAME.pub checks it.",
    )
    sign.add_argument("run_dir", type=Path, help="the run folder")
    sign.add_argument("--key", type=Path, required=True, help="the private key (NAME.key)")


    qualify = sub.add_parser(
        "qualify", help="installation and operational qualification of the installed suite",
        description="Check the installed suite: its environment against the shipped lock, the "
        "shipped R reference cases (manifest first, then every estimate at its tolerance) and "
        "a run of the bundled example cut with its independent check and verify --reproduce. "
        "Writes qualification.pdf, .html and .json for a QA reviewer to sign. Exit 0 only "
        "when every check passes; otherwise each failed check is named and the exit is 1.",
    )
    qualify.add_argument("--out", type=Path, default=Path("qualification"),
                         help="folder for the report (default ./qualification)")
    qualify.add_argument("--jobs", type=int, default=None,
                         help="notebooks executed at once in the example run (default: all "
                         "cores)")
    return parser


def _date(text: str):
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def _load(args: argparse.Namespace):
    return load_params(args.params, data_dir=args.data_dir, data_cut_date=args.data_cut_date,
                       output_dir=args.output_dir)


def _validate(args: argparse.Namespace) -> int:
    from haplo_report.data.validation import InvalidCutError, validate_cut, write_violations

    if args.report:
        _check_report_path(args.report)
    params = _load(args)
    try:
        cut = validate_cut(params.data_dir, params.data_cut_date)
    except InvalidCutError as exc:
        print(exc.format(), file=sys.stderr)
        if args.report:
            write_violations(exc.violations, args.report)
        return EXIT_FAILED
    if args.report:
        write_violations(None, args.report)
    print(f"valid: {params.data_dir} ({cut.summary()})")
    return EXIT_OK


def _check_report_path(path: Path) -> None:
    """``--report`` must be a .csv or .json file that can be written: checked before any work."""
    if path.suffix.lower() not in (".csv", ".json"):
        raise ParamsError(f"--report: use a .csv or .json file name, got {path.name[:60]}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise ParamsError(f"--report: cannot write {str(path)[:200]} "
                          f"({exc.strerror or type(exc).__name__})") from None


MAX_SIMULATED = 1_000_000


def _simulate(args: argparse.Namespace) -> int:
    from haplo_report.data.simulate import write_simulated_cut

    if not 1 <= args.n <= MAX_SIMULATED:
        raise ParamsError(f"--n: need 1 to {MAX_SIMULATED:,} patients, got {args.n}")
    if args.seed < 0:
        raise ParamsError(f"--seed: must be a whole number >= 0, got {args.seed}")
    out = args.out
    if out.exists() and not out.is_dir():
        raise ParamsError(f"--out: {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not args.force:
        raise ParamsError(f"--out: {out} is not empty; choose an empty or new folder, or pass "
                          "--force to replace its tables")
    import numpy as np

    extra = {}
    if args.export_date is not None:
        extra["export_date"] = np.datetime64(args.export_date, "D")
    if args.corrections_before is not None:
        extra["corrections_before"] = np.datetime64(args.corrections_before, "D")
    try:
        folder = write_simulated_cut(out, n=args.n, seed=args.seed, file_format=args.format,
                                     **extra)
    except OSError as exc:
        print(f"error: cannot write the simulated cut into {out}: "
              f"{exc.strerror or type(exc).__name__}", file=sys.stderr)
        return EXIT_FAILED
    print(f"wrote a simulated cut of {args.n} patients to {folder}")
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    import os

    from haplo_report import plan
    from haplo_report.paths import NOTEBOOKS_DIR
    from haplo_report.run import fast_path
    from haplo_report.run.errors import RunFailed

    formats = tuple(dict.fromkeys(f.strip() for f in args.formats.split(",")))
    stall = plan.STALL_TIMEOUT_S if args.stall_timeout is None else args.stall_timeout
    jobs = (os.cpu_count() or 1) if args.jobs is None else args.jobs
    plan.check_run_options(jobs, formats, stall)
    params = _load(args)
    try:
        # before this process imports the suite (~1.2 s): kernels start, or the fast path finds
        # nothing to do; run() closes the kernels on any error
        result, begun = fast_path.begin(params, jobs=jobs, force=args.force, formats=formats,
                                        notebooks=plan.NOTEBOOKS, notebooks_dir=NOTEBOOKS_DIR,
                                        render=True, compare_to=args.compare_to,
                                        renderer=args.renderer)
        if result is None:
            from haplo_report.run import run

            result = run(params, jobs=args.jobs, force=args.force, formats=formats,
                         stall_timeout=stall, compare_to=args.compare_to, begun=begun,
                         renderer=args.renderer)
    except RunFailed as exc:
        print(f"run failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    rendered = "" if result.up_to_date or result.renderer is None else \
        f" (rendered with {result.renderer})"
    print(f"report written to {result.run_dir}{rendered}")
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    import os

    from haplo_report.run.signing import load_public_key
    from haplo_report.run.verify import VerifyError, verify

    jobs = (os.cpu_count() or 1) if args.jobs is None else args.jobs
    if jobs < 1:
        raise ParamsError(f"--jobs must be at least 1, got {jobs}")
    public_key = None if args.public_key is None else load_public_key(args.public_key)
    try:
        checks, summary = verify(args.run_dir, reproduce_notebooks=args.reproduce, jobs=jobs,
                                 stream=sys.stderr, public_key=public_key)
    except VerifyError as exc:
        raise ParamsError(str(exc)) from None
    print(summary, end="")
    return EXIT_OK if all(check.holds for check in checks) else EXIT_FAILED


def _compare(args: argparse.Namespace) -> int:
    from haplo_report.analysis.comparison import ComparisonError, summary_lines
    from haplo_report.run.comparison import compare_runs

    if args.out is not None and (args.out.is_symlink() or
                                 (args.out.exists() and not args.out.is_dir())):
        raise ParamsError(f"--out: {args.out} exists and is not a folder; name a folder")
    try:
        comparison = compare_runs(args.old, args.new)
    except ComparisonError as exc:
        raise ParamsError(str(exc)) from None
    print("\n".join(summary_lines(comparison.summary())))
    if args.out is not None:
        try:
            comparison.write(args.out)
        except OSError as exc:
            print(f"error: cannot write the comparison into {args.out}: "
                  f"{exc.strerror or type(exc).__name__}", file=sys.stderr)
            return EXIT_FAILED
        print(f"comparison written to {args.out}")
    return EXIT_OK


def _qualify(args: argparse.Namespace) -> int:
    if args.jobs is not None and args.jobs < 1:
        raise ParamsError(f"--jobs must be at least 1, got {args.jobs}")
    if args.out.exists() and not args.out.is_dir():
        raise ParamsError(f"--out: {args.out} is a file, not a folder")
    try:  # refused before minutes of checks, not after
        args.out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=args.out):
            pass
    except OSError as exc:
        raise ParamsError(f"--out: cannot write into {args.out} "
                          f"({exc.strerror or type(exc).__name__})") from None
    from haplo_report.qualification.qualify import qualify

    try:
        result, written = qualify(args.out, sys.stderr, jobs=args.jobs)
    except OSError as exc:
        print(f"error: qualification report not written to {args.out}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    for check in result.failed:
        print(f"FAILED {check.id}: {check.detail}", file=sys.stderr)
    print(f"{result.verdict}: {result.counts()}; report {written['pdf']}")
    return EXIT_OK if result.passed else EXIT_FAILED


def _keygen(args: argparse.Namespace) -> int:
    from haplo_report.run.signing import keygen

    private, public = keygen(args.name)
    print(f"wrote {private} (private: keep it secret) and {public} (public: for verify "
          "--public-key)")
    return EXIT_OK


def _sign(args: argparse.Namespace) -> int:
    from haplo_report.run.signing import sign

    written = sign(args.run_dir, args.key)
    print(f"signed: {written}")
    return EXIT_OK


COMMANDS = {"validate": _validate, "simulate": _simulate, "run": _run, "verify": _verify,
            "compare": _compare, "qualify": _qualify, "keygen": _keygen, "sign": _sign}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ParamsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted: the previous report is unchanged", file=sys.stderr)
        return 130


def entry() -> None:
    """The ``haplo-report`` command: :func:`main`, then exit without collecting its objects.

    A run leaves ~0.5 GB of objects; the interpreter's final garbage collections over them
    took ~0.8 s of each run's wall time. Everything is written and closed by then, so they are
    moved out of the collector's sight (gc.freeze) and only freed.
    """
    code = main()
    gc.freeze()
    raise SystemExit(code)

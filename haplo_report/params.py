"""Run parameters: a study file and one YAML file per data cut, validated before anything runs.

A per-cut file names the study file it extends (``extends: study.yml``) and holds only what is
the cut's (data folder, cut date, and what the user chooses to override); the study's
parameters (sponsor, protocol, SAP options) are written once in the study file, so no cut
loses one by omission. A study file may extend another; the file that extends wins.

Relative paths are resolved against the folder of the file that states them, so a parameter
file works from any working directory. CLI flags (``--data-dir``, ``--data-cut-date``,
``--output-dir``) override the files. ``Params.origins`` says where each value came from.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import reprlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from haplo_report.text import hidden_character


class ParamsError(ValueError):
    """A parameter file or override that cannot be used; the message is one line for the user."""


@dataclass(frozen=True)
class Params:
    """Everything a run of one data cut depends on, besides the data itself."""

    study_id: str
    study_title: str
    data_dir: Path
    data_cut_date: dt.date
    output_dir: Path = Path("output")
    mrd_threshold: float = 1e-4  # MRD-positive: result >= threshold (SAP)
    mrd_window_days: int = 14  # window around day 30, 90, 180
    mrd_window_days_365: int = 30  # window around day 365
    mrdpre_cutoff: float = 1e-3  # subgroup: pre-transplant MRD >= cutoff vs below
    gvhd_relapse_competes: bool = False  # GVHD endpoints: relapse is a competing event too
    landmarks_days: tuple[int, ...] = (100, 365, 730)
    subgroup_min_n: int = 5  # subgroup tests only when every level has this many patients
    subgroup_min_events: int = 5  # ... and the levels together have this many events (SAP v3)
    min_at_risk: int = 5  # a landmark estimate with fewer patients at risk is marked (SAP v3)
    ltfu_days: int = 180  # alive with last contact more than this many days before the cut
    listing_dates: bool = False  # listings show calendar dates instead of study days
    # Page furniture of the report (title page, running header and footer):
    sponsor: str = ""  # "" prints "Sponsor not specified"
    protocol: str = ""  # protocol number; "" prints the study id
    report_status: str = "DRAFT"  # DRAFT or FINAL, printed in every page's header
    report_version: str = "1.0"
    page_size: str = "a4"  # a4 or us-letter (PDF and Word)
    confidentiality: str = ("Confidential: contains unpublished clinical trial data. "
                            "Do not copy or distribute without the sponsor's permission.")
    source: Path | None = field(default=None, compare=False)  # the YAML file, for messages
    # where each value came from: a parameter file (path), DEFAULT or a command-line flag
    origins: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    study_files: tuple[Path, ...] = field(default=(), compare=False, repr=False)  # extended

    @property
    def files(self) -> list[Path]:
        """The parameter files the values were read from: study files first, then ``source``."""
        return [*self.study_files, *([self.source] if self.source else [])]

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready values (paths and dates as strings), without ``source``,
        ``origins`` and ``study_files``."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name in _NOT_VALUES:
                continue
            value = getattr(self, f.name)
            if isinstance(value, (Path, dt.date)):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


_NOT_VALUES = ("source", "origins", "study_files")
# The Params fields that validation and derivation read: validate_cut is given data_cut_date;
# derive_cut reads data_cut_date, mrdpre_cutoff (ADSL's MRDGRP) and gvhd_relapse_competes
# (ADTTE's GVHD endpoints). tests/test_pipeline.py fails when derive_cut reads another field.
DERIVATION_PARAMS: tuple[str, ...] = ("data_cut_date", "mrdpre_cutoff", "gvhd_relapse_competes")
DEFAULT = "default"  # origin of a value no file or flag set
EXTENDS = "extends"  # the key naming the study file a per-cut file extends
MAX_EXTENDS = 10  # files in one chain of extends


_REQUIRED = ("study_id", "study_title", "data_dir", "data_cut_date")
_FIELDS = {f.name: f for f in dataclasses.fields(Params) if f.name not in _NOT_VALUES}
PARAM_NAMES: tuple[str, ...] = tuple(_FIELDS)  # the parameters, in the order of Params
_TYPES: dict[str, tuple[type, ...]] = {
    "study_id": (str,),
    "study_title": (str,),
    "data_dir": (str,),
    "output_dir": (str,),
    "mrd_threshold": (float, int),
    "mrd_window_days": (int,),
    "mrd_window_days_365": (int,),
    "mrdpre_cutoff": (float, int),
    "gvhd_relapse_competes": (bool,),
    "landmarks_days": (list,),
    "subgroup_min_n": (int,),
    "subgroup_min_events": (int,),
    "min_at_risk": (int,),
    "ltfu_days": (int,),
    "listing_dates": (bool,),
    "sponsor": (str,),
    "protocol": (str,),
    "report_status": (str,),
    "report_version": (str,),
    "page_size": (str,),
    "confidentiality": (str,),
}
REPORT_STATUSES = ("DRAFT", "FINAL")
PAGE_SIZES = ("a4", "us-letter")


# Text parameters printed in the report (title page, header, footer): at most this long.
_PRINTED = ("study_title", "sponsor", "protocol", "report_version", "confidentiality")
MAX_SHOWN_CHARS = 1000
MAX_FILE_BYTES = 100_000  # a parameter file is a few hundred bytes
MAX_ALIASES = 10  # YAML aliases (*name) allowed in one file: an alias bomb stops here


class _Loader(yaml.SafeLoader):
    """Safe YAML without implicit timestamps (dates stay text so a bad one gets a clear error),
    without duplicate keys, and with at most :data:`MAX_ALIASES` aliases.

    Hand-written: PyYAML lets the last duplicate key win silently and expands any number of
    aliases (a "billion laughs" file names one list a billion times).
    """

    aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise ParamsError(f"YAML line {mark.line + 1}: more than {MAX_ALIASES} aliases "
                                  "(*name); write the values out")
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)  # merge keys (<<) first, as SafeLoader does
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) or key is None:
                if key in seen:
                    raise ParamsError(f"YAML line {key_node.start_mark.line + 1}: key "
                                      f"{shown(key)} appears more than once")
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


_SHOWN = reprlib.Repr()
_SHOWN.maxstring, _SHOWN.maxother, _SHOWN.maxlevel, _SHOWN.maxlist = 60, 60, 2, 5


def shown(value: Any) -> str:
    """``repr(value)`` cut short (a value can be huge): at most ~60 characters a string, five
    items a list, two levels deep; built without expanding the whole value."""
    return _SHOWN.repr(value)


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_date(value: Any, name: str) -> dt.date:
    """A date written ``YYYY-MM-DD`` (text) from YAML or the command line; nothing else
    (``20260731``, ``2026-W31-5`` or a YAML number are refused)."""
    if isinstance(value, dt.date):
        return value if not isinstance(value, dt.datetime) else value.date()
    text = value.strip() if isinstance(value, str) else None
    try:
        if text is None or not _ISO_DATE.fullmatch(text):
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ParamsError(f"{name}: {shown(value)} is not a valid date (expected YYYY-MM-DD)"
                          ) from None


def _check_type(name: str, value: Any) -> None:
    allowed = _TYPES[name]
    ok = isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed)
    if not ok:
        wanted = " or ".join(t.__name__ for t in allowed)
        raise ParamsError(f"{name}: expected {wanted}, got {type(value).__name__} {shown(value)}")


def _resolve(path: str | Path, base: Path) -> Path:
    path = Path(path).expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def _read_file(path: Path) -> dict[str, Any]:
    """One parameter file's mapping (names checked to be text), or :class:`ParamsError`."""
    if not path.is_file():
        raise ParamsError(f"parameter file not found: {path}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ParamsError(f"{path}: larger than {MAX_FILE_BYTES:,} bytes; not a parameter file")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ParamsError(f"{path}: YAML syntax error{where}: {problem}") from None
    except UnicodeDecodeError:
        raise ParamsError(f"{path}: not UTF-8 text") from None
    except ParamsError as exc:
        raise ParamsError(f"{path}: {exc}") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of parameter names to values")
    not_text = [key for key in raw if not isinstance(key, str)]
    if not_text:
        raise ParamsError(f"{path}: parameter names are text, got {shown(not_text[0])}")
    unknown = sorted(set(raw) - set(_FIELDS) - {EXTENDS})
    if unknown:
        known = ", ".join(sorted([*_FIELDS, EXTENDS]))
        raise ParamsError(f"{path}: unknown parameter {shown(unknown[0])} (known: {known})")
    return raw


def _layers(path: Path) -> list[tuple[Path, dict[str, Any]]]:
    """``path`` and the study files it extends, the farthest first (each file's mapping
    without ``extends``). A missing study file, a loop or a chain of more than
    :data:`MAX_EXTENDS` files is a :class:`ParamsError`."""
    chain: list[tuple[Path, dict[str, Any]]] = []
    seen: list[Path] = []
    current = path
    while True:
        raw = _read_file(current)
        seen.append(current.resolve())
        chain.append((current, {k: v for k, v in raw.items() if k != EXTENDS}))
        if EXTENDS not in raw:
            return chain[::-1]
        named = raw[EXTENDS]
        if not isinstance(named, str) or not named.strip():
            raise ParamsError(f"{current}: {EXTENDS}: expected the path of a study file, got "
                              f"{shown(named)}")
        following = _resolve(named, current.resolve().parent)
        if following.resolve() in seen:
            loop = " -> ".join(str(p) for p in [*(c for c, _ in chain), following])
            raise ParamsError(f"{current}: {EXTENDS} makes a loop: {loop}")
        if len(chain) >= MAX_EXTENDS:
            raise ParamsError(f"{path}: more than {MAX_EXTENDS} files extend one another")
        if not following.is_file():
            raise ParamsError(f"{current}: {EXTENDS}: study file not found: {named}")
        current = following


def load_params(
    path: Path,
    *,
    data_dir: Path | None = None,
    data_cut_date: str | dt.date | None = None,
    output_dir: Path | None = None,
    today: dt.date | None = None,
) -> Params:
    """Read and validate a parameter file and the study files it extends, applying
    command-line overrides.

    Raises :class:`ParamsError` with a one-line reason for a missing file, bad YAML, an unknown
    key, a wrong type, a study file that is missing or extends in a loop, an impossible or
    future data cut, or a data folder that does not exist.
    """
    path = Path(path)
    layers = _layers(path)
    raw: dict[str, Any] = {}
    origin_of: dict[str, Path] = {}
    for file, values in layers:
        raw.update(values)
        origin_of.update({name: file for name in values})
    missing = [name for name in _REQUIRED if raw.get(name) in (None, "")]
    if data_dir is not None and "data_dir" in missing:
        missing.remove("data_dir")
    if data_cut_date is not None and "data_cut_date" in missing:
        missing.remove("data_cut_date")
    if missing:
        raise ParamsError(f"{path}: missing required parameter {missing[0]!r}")

    values = _typed_values(raw)
    for name in ("data_dir", "output_dir"):
        if name in values:
            values[name] = _resolve(values[name], origin_of[name].resolve().parent)

    base = path.resolve().parent
    origins = {name: _origin(origin_of[name], base) if name in origin_of else DEFAULT
               for name in _FIELDS}
    for name, flag in (("data_dir", data_dir), ("data_cut_date", data_cut_date),
                       ("output_dir", output_dir)):
        if flag is not None:
            origins[name] = "--" + name.replace("_", "-")
    if data_dir is not None:
        values["data_dir"] = Path(data_dir).expanduser().resolve()
    if data_cut_date is not None:
        values["data_cut_date"] = parse_date(data_cut_date, "--data-cut-date")
    if output_dir is not None:
        values["output_dir"] = Path(output_dir).expanduser().resolve()
    values.setdefault("output_dir", _resolve(Params.output_dir, base))

    params = Params(**values, source=path, origins=origins,
                    study_files=tuple(file for file, _ in layers[:-1]))
    _check_values(params, today or dt.date.today())
    return params


def _origin(file: Path, base: Path) -> str:
    """``file`` named relative to the per-cut file's folder ``base`` (POSIX style)."""
    return Path(os.path.relpath(file.resolve(), base)).as_posix()


def _typed_values(raw: dict[str, Any]) -> dict[str, Any]:
    """Each value of a parameter mapping checked for its type and typed (folders as ``Path``
    as written, dates as ``date``, landmarks as a sorted tuple)."""
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "data_cut_date":
            values[name] = parse_date(value, name)
            continue
        _check_type(name, value)
        if name in ("data_dir", "output_dir"):
            values[name] = Path(value)
        elif name == "landmarks_days":
            if not value or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                    for v in value):
                raise ParamsError(f"landmarks_days: expected a list of positive whole days, got "
                                  f"{shown(value)}")
            values[name] = tuple(sorted(set(value)))
        else:
            values[name] = float(value) if _TYPES[name] == (float, int) else value
    return values


def params_from_record(raw: Any) -> Params:
    """The :class:`Params` a run recorded (``manifest.json``'s ``params``), checked as a
    parameter file is (known names, types, values) but for what only the machine that ran it
    could check: its folders (kept as recorded, never opened) and the date it ran.
    :class:`ParamsError` names the first problem."""
    if not isinstance(raw, dict) or not all(isinstance(key, str) for key in raw):
        raise ParamsError("params: expected a mapping of parameter names to values")
    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        raise ParamsError(f"params: unknown parameter {shown(unknown[0])}")
    missing = [name for name in _REQUIRED if raw.get(name) in (None, "")]
    if missing:
        raise ParamsError(f"params: missing required parameter {missing[0]!r}")
    params = Params(**_typed_values(raw))
    _check_values(params, today=None)
    if not RECORDED_CUTS[0] <= params.data_cut_date <= RECORDED_CUTS[1]:
        raise ParamsError(f"data_cut_date: {params.data_cut_date} is not a date a run can have "
                          f"({RECORDED_CUTS[0]} to {RECORDED_CUTS[1]})")
    return params


# Data cut dates a recorded run can hold: derived dates are nanosecond timestamps (to 2262-04-11)
RECORDED_CUTS = (dt.date(1900, 1, 1), dt.date(2262, 4, 11))


def _check_values(params: Params, today: dt.date | None) -> None:
    """Refuse values out of range; ``today`` None: neither the date nor the data folder is
    checked (a recorded run)."""
    for name in _PRINTED:
        value = getattr(params, name)
        if hidden_character(value):
            raise ParamsError(f"{name}: holds a line break, tab or other hidden character "
                              f"({hidden_character(value)}); write printable text on one line")
        if len(value) > MAX_SHOWN_CHARS:
            raise ParamsError(f"{name}: at most {MAX_SHOWN_CHARS} characters, got {len(value)}")
    if not 0 < params.mrd_threshold < 1:
        raise ParamsError(f"mrd_threshold: must be in (0, 1), got {params.mrd_threshold}")
    if not 0 < params.mrdpre_cutoff < 1:
        raise ParamsError(f"mrdpre_cutoff: must be in (0, 1), got {params.mrdpre_cutoff}")
    for name in ("mrd_window_days", "mrd_window_days_365", "subgroup_min_n",
                 "subgroup_min_events", "min_at_risk", "ltfu_days"):
        if getattr(params, name) < 0:
            raise ParamsError(f"{name}: must not be negative, got {getattr(params, name)}")
    if today is not None and params.data_cut_date > today:
        raise ParamsError(f"data_cut_date: {params.data_cut_date} is in the future (today is {today})")
    if today is not None and not params.data_dir.is_dir():
        raise ParamsError(f"data_dir: folder not found: {params.data_dir}")
    if params.report_status not in REPORT_STATUSES:
        raise ParamsError(f"report_status: expected {' or '.join(REPORT_STATUSES)}, "
                          f"got {shown(params.report_status)}")
    if params.page_size not in PAGE_SIZES:
        raise ParamsError(f"page_size: expected {' or '.join(PAGE_SIZES)}, got {shown(params.page_size)}")
    if not params.study_id.replace("-", "").replace("_", "").isalnum():
        raise ParamsError(f"study_id: use letters, digits, '-' and '_' only, got {shown(params.study_id)}")

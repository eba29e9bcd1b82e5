"""The one safe way to open a delivered run folder (``verify``, ``compare``, ``--compare-to``).

A run folder comes from elsewhere and may have been edited by anyone, so nothing in it is
trusted before it is checked:

- every path read or written is named relative to the folder, never absolute and never through
  ``..``; no part of it may be a link (a link, wherever it points, is a finding: the folder the
  suite writes holds none), and a file must be a regular file (no device, FIFO or socket), opened
  without following a link and checked again once open;
- ``manifest.json`` is read up to :data:`MAX_MANIFEST_BYTES`, nested at most
  :data:`MAX_DEPTH` deep, and checked against :data:`MANIFEST_SCHEMA` (JSON Schema, checked by
  the ``jsonschema`` library) before any value is used; its ``params`` are checked as a parameter
  file is (:func:`haplo_report.params.params_from_record`);
- a Parquet file is opened by its footer first: its columns and their types checked against
  what the suite writes, and its row count and size bounded, before a row is read.

Every problem is a :class:`RunFolderError` whose message is one line. This module imports no
pandas, pyarrow or pandera until a table is read, so ``haplo-report run`` can check the earlier
cut it compares with before importing the suite.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from haplo_report.params import Params, ParamsError, params_from_record, shown
from haplo_report.paths import MANIFEST

if TYPE_CHECKING:
    import pandas as pd

MAX_MANIFEST_BYTES = 64 << 20  # a manifest of 100,000 patients' run is ~200 kB
MAX_DEPTH = 16  # the suite's manifest nests 4 deep
MAX_NAME = 1000  # characters of a path named in a manifest
MAX_TEXT = 100_000  # characters of any other text in a manifest
MAX_PARQUET_ROWS = 50_000_000  # a table of 100,000 patients holds ~2 million rows
MAX_PARQUET_BYTES = 2 << 30  # uncompressed bytes a table's footer may claim (~200 MB at 100,000)
# Arrow types per column kind (data/schemas.py kinds); a column of nothing but missing values
# may also be written as Arrow's null type.
ARROW_KINDS: dict[str, tuple[str, ...]] = {
    "iso_date": ("timestamp",), "whole_number": ("int64", "int32"),
    "number": ("double", "float", "int64"), "text": ("string", "large_string"),
}

_FILE = {"type": "object", "required": ["sha256", "bytes"],
         "properties": {"sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                        "bytes": {"type": "integer", "minimum": 0}}}
_SHORT = {"type": "string", "maxLength": MAX_NAME}
_TEXT = {"type": "string", "maxLength": MAX_TEXT}
_NAMES = {"maxLength": MAX_NAME}
MANIFEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["params"],  # verify asks for "outputs" too
    "properties": {
        "run_id": {"type": "string", "pattern": "^[0-9a-f]{1,64}$"},
        "study_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,100}$"},
        "data_cut_date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
        "params": {"type": "object", "maxProperties": 200, "propertyNames": _NAMES},
        "inputs": {"type": "object", "propertyNames": _NAMES, "additionalProperties": _FILE},
        "outputs": {"type": "object", "propertyNames": _NAMES, "additionalProperties": _FILE,
                    "maxProperties": 1_000_000},
        "notebooks": {
            "type": "object", "maxProperties": 1000,
            "propertyNames": {"pattern": "^[A-Za-z0-9_]{1,100}$"},
            "additionalProperties": {
                "type": "object",
                "properties": {"status": _SHORT, "cache_key": _SHORT, "error": _TEXT,
                               "outputs": {"type": "array", "items": _SHORT}}}},
        "toolchain": {"type": "object", "propertyNames": _NAMES, "additionalProperties": _SHORT},
        "versions": {"type": "object", "propertyNames": _NAMES, "additionalProperties": _SHORT},
        "suite": {"type": "object", "propertyNames": _NAMES, "additionalProperties": _SHORT},
        "python": {"type": "object", "additionalProperties": _SHORT},
        "git": {"type": "object",
                "properties": {"commit": {"type": ["string", "null"], "maxLength": 100},
                               "clean": {"type": ["boolean", "null"]}, "note": _SHORT}},
        "renderer": {"type": ["string", "null"], "maxLength": 100},
        "run_started": _SHORT,
        "run_key": _SHORT,
        "report_key": _SHORT,
    },
}


class RunFolderError(ValueError):
    """A run folder, or a file in it, that cannot be used; the message is one line."""


def _where(relative: str) -> str:
    return shown(relative)


def relative_parts(relative: Any) -> tuple[str, ...]:
    """The parts of a path named relative to a run folder; :class:`RunFolderError` when it is
    not text, is absolute or climbs out with ``..``."""
    if not isinstance(relative, str) or not relative or "\x00" in relative:
        raise RunFolderError(f"{_where(relative)}: not a file name")
    path = PurePosixPath(relative)
    if path.is_absolute() or relative.startswith("\\") or ".." in path.parts:
        raise RunFolderError(f"{_where(relative)}: outside the run folder")
    parts = tuple(part for part in path.parts if part != ".")
    if not parts:
        raise RunFolderError(f"{_where(relative)}: not a file name")
    return parts


def depth_of(value: Any) -> int:
    """How deep a parsed JSON value nests (iterative: a hostile value cannot exhaust the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        if isinstance(item, dict):
            stack += [(child, depth + 1) for child in item.values()]
        elif isinstance(item, list):
            stack += [(child, depth + 1) for child in item]
    return deepest


def parse_json(data: bytes, name: str) -> Any:
    """JSON text checked for depth; :class:`RunFolderError` when it is not JSON."""
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except RecursionError:
        raise RunFolderError(f"{name}: nested too deep (more than {MAX_DEPTH} levels)") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RunFolderError(f"{name}: not JSON text ({type(exc).__name__})") from None
    if depth_of(value) > MAX_DEPTH:
        raise RunFolderError(f"{name}: nested too deep (more than {MAX_DEPTH} levels)")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def check_manifest(value: Any, name: str = MANIFEST) -> dict[str, Any]:
    """``value`` when it fits :data:`MANIFEST_SCHEMA`; else :class:`RunFolderError` naming the
    first problem found (where, and what was expected)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(MANIFEST_SCHEMA)
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is None:
        return value
    where = "/".join(shown(str(part)).strip("'") for part in error.absolute_path) or "top level"
    expected = {"type": f"expected {error.validator_value}",
                "pattern": f"does not match {error.validator_value}",
                "required": error.message[:200]}.get(
        str(error.validator), f"fails {error.validator} {shown(error.validator_value)}")
    raise RunFolderError(f"{name} not as the suite writes it, at {where}: {expected}")


def _regular(mode: int) -> bool:
    return stat.S_ISREG(mode)


@dataclass(frozen=True)
class CheckedFolder:
    """A run folder, every access to it checked (see the module docstring)."""

    root: Path  # resolved

    @classmethod
    def at(cls, path: Path) -> CheckedFolder:
        """The folder ``path`` (the caller's own choice, so a link to it is followed once)."""
        try:
            root = Path(path).resolve(strict=True)
        except (OSError, RuntimeError):
            raise RunFolderError(f"not a folder: {path}") from None
        if not root.is_dir():
            raise RunFolderError(f"not a folder: {path}")
        return cls(root)

    def where(self, relative: Any) -> str:
        """``relative`` in a message: inside the folder's path, quoted when not plain text."""
        plain = isinstance(relative, str) and relative.isprintable() and len(relative) < 300
        return f"{self.root}/{relative}" if plain else f"{self.root}: {shown(relative)}"

    def path(self, relative: str) -> Path:
        """``root/relative``, refusing a name outside the folder or a link on the way (the
        file itself need not exist)."""
        parts = relative_parts(relative)
        current = self.root
        for part in parts:
            current = current / part
            try:
                mode = current.lstat().st_mode
            except FileNotFoundError:
                break  # nothing further exists: no link further on either
            except OSError as exc:
                raise RunFolderError(f"{self.where(relative)}: cannot be read "
                                     f"({exc.strerror or type(exc).__name__})") from None
            if stat.S_ISLNK(mode):
                raise RunFolderError(f"{self.where(relative)}: a link (not followed)")
        return self.root.joinpath(*parts)

    def exists(self, relative: str) -> bool:
        """Whether ``relative`` names anything (a link counts: it is then refused on use)."""
        path = self.root.joinpath(*relative_parts(relative))
        return os.path.lexists(path)

    def open(self, relative: str, limit: int | None = None) -> tuple[int, int]:
        """A read-only descriptor of the regular file ``relative`` and its size; a link,
        device, FIFO or a file over ``limit`` bytes is refused."""
        path = self.path(relative)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            raise RunFolderError(f"{self.where(relative)}: missing") from None
        except OSError as exc:
            raise RunFolderError(f"{self.where(relative)}: cannot be opened "
                                 f"({exc.strerror or type(exc).__name__})") from None
        info = os.fstat(fd)
        if not _regular(info.st_mode):
            os.close(fd)
            raise RunFolderError(f"{self.where(relative)}: not a regular file (a folder, device, "
                                 "FIFO or socket)")
        if limit is not None and info.st_size > limit:
            os.close(fd)
            raise RunFolderError(f"{self.where(relative)}: larger than {limit:,} bytes")
        return fd, info.st_size

    def read_bytes(self, relative: str, limit: int) -> bytes:
        """The bytes of the regular file ``relative`` (at most ``limit``)."""
        fd, _ = self.open(relative, limit)
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise RunFolderError(f"{self.where(relative)}: larger than {limit:,} bytes")
        return data

    def file_record(self, relative: str) -> dict[str, Any]:
        """``{"sha256", "bytes"}`` of the regular file ``relative``."""
        fd, size = self.open(relative)
        digest = hashlib.sha256()
        with os.fdopen(fd, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return {"sha256": digest.hexdigest(), "bytes": size}

    def walk(self) -> tuple[list[str], list[str]]:
        """Every regular file in the folder (relative POSIX names, sorted) and a finding for
        every link (not followed) and every other kind of file in it."""
        files, findings = [], []
        for top, folders, names in os.walk(self.root, followlinks=False):
            here = Path(top)
            for name in sorted([*folders, *names]):
                path = here / name
                relative = path.relative_to(self.root).as_posix()
                try:
                    mode = path.lstat().st_mode
                except OSError:
                    continue  # gone meanwhile
                if stat.S_ISLNK(mode):
                    findings.append(f"link (not followed): {relative}")
                elif _regular(mode):
                    files.append(relative)
                elif not stat.S_ISDIR(mode):
                    findings.append(f"not a regular file (device, FIFO or socket): {relative}")
        return sorted(files), sorted(findings)

    def write_text(self, relative: str, text: str) -> Path:
        """Write ``relative`` in a new file moved over the old name (a link or file already
        there is replaced, never written through)."""
        parts = relative_parts(relative)
        parent = self.path("/".join(parts[:-1])) if len(parts) > 1 else self.root
        if not parent.is_dir():
            raise RunFolderError(f"{self.where(relative)}: its folder is missing")
        target = parent / parts[-1]
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return target

    # -- the manifest and its parameters ----------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        """``manifest.json`` checked against :data:`MANIFEST_SCHEMA`."""
        if not self.exists(MANIFEST):
            raise RunFolderError(f"not a run folder: {self.root / MANIFEST} missing")
        value = parse_json(self.read_bytes(MANIFEST, MAX_MANIFEST_BYTES), self.where(MANIFEST))
        return check_manifest(value, self.where(MANIFEST))

    def params(self, manifest: dict[str, Any]) -> Params:
        """The run's parameters from its checked manifest."""
        try:
            params = params_from_record(manifest["params"])
        except ParamsError as exc:
            raise RunFolderError(f"{self.where(MANIFEST)}: {exc}") from None
        if (params.study_id != manifest.get("study_id", params.study_id)
                or str(params.data_cut_date) != manifest.get("data_cut_date",
                                                             str(params.data_cut_date))):
            raise RunFolderError(f"{self.where(MANIFEST)}: params name another study or cut "
                                 "than the manifest itself")
        return params

    # -- tables -----------------------------------------------------------------------------

    def parquet(self, relative: str, kinds: dict[str, str] | None = None, *,
                required: tuple[str, ...] = (), columns: list[str] | None = None,
                strict: bool = False) -> pd.DataFrame:
        """The Parquet file ``relative`` as a frame, read only after its footer was checked:
        at most :data:`MAX_PARQUET_ROWS` rows and :data:`MAX_PARQUET_BYTES` bytes, no binary
        or nested column, the ``required`` columns present, and each column named in ``kinds``
        of its kind's Arrow type (``strict``: a column not in ``kinds`` is refused).
        ``columns``: read only these."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        fd, _ = self.open(relative)
        with os.fdopen(fd, "rb") as handle:
            try:
                parquet = pq.ParquetFile(handle)
                meta = parquet.metadata
                schema = parquet.schema_arrow
            except (pa.ArrowException, OSError, ValueError, TypeError) as exc:
                raise RunFolderError(f"{self.where(relative)}: not a Parquet file "
                                     f"({type(exc).__name__})") from None
            if meta.num_rows > MAX_PARQUET_ROWS or meta.num_rows < 0:
                raise RunFolderError(f"{self.where(relative)}: claims {meta.num_rows:,} rows, more "
                                     f"than {MAX_PARQUET_ROWS:,}")
            claimed = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
            if claimed > MAX_PARQUET_BYTES:
                raise RunFolderError(f"{self.where(relative)}: claims {claimed:,} bytes of data, "
                                     f"more than {MAX_PARQUET_BYTES:,}")
            self._check_schema(relative, schema, kinds, required, strict)
            try:
                table = parquet.read(columns=columns, use_threads=False)
                return table.to_pandas()
            except (pa.ArrowException, OSError, ValueError, TypeError, KeyError,
                    MemoryError) as exc:
                raise RunFolderError(f"{self.where(relative)}: cannot be read "
                                     f"({type(exc).__name__})") from None

    def _check_schema(self, relative: str, schema: Any, kinds: dict[str, str] | None,
                      required: tuple[str, ...], strict: bool) -> None:
        import pyarrow as pa

        names = list(schema.names)
        if len(set(names)) != len(names):
            raise RunFolderError(f"{self.where(relative)}: a column appears more than once")
        missing = [name for name in required if name not in names]
        if missing:
            raise RunFolderError(f"{self.where(relative)}: column {shown(missing[0])} missing")
        for field in schema:
            kind = None if kinds is None else kinds.get(field.name)
            if strict and kind is None:
                raise RunFolderError(f"{self.where(relative)}: column {shown(field.name)} is not "
                                     "one the suite writes")
            type_ = field.type
            if pa.types.is_null(type_):
                continue
            if (pa.types.is_binary(type_) or pa.types.is_large_binary(type_)
                    or pa.types.is_fixed_size_binary(type_) or pa.types.is_nested(type_)
                    or pa.types.is_dictionary(type_)):
                raise RunFolderError(f"{self.where(relative)}: column {shown(field.name)} has type "
                                     f"{type_}, not one the suite writes")
            if kind is not None and not str(type_).startswith(ARROW_KINDS[kind]):
                raise RunFolderError(f"{self.where(relative)}: column {shown(field.name)} has type "
                                     f"{type_}, expected {' or '.join(ARROW_KINDS[kind])}")

    def input_table(self, name: str) -> pd.DataFrame | None:
        """The validated input table ``name`` the run kept (``data/input/<name>.parquet``),
        its columns and types those of the data-cut spec; None when not supplied."""
        from haplo_report.data.schemas import SCHEMAS, column_kind

        relative = f"data/input/{name}.parquet"
        if not self.exists(relative):
            return None
        model = SCHEMAS[name]
        schema = model.to_schema()
        kinds = {column: column_kind(model, column) for column in schema.columns}
        required = tuple(column for column, spec in schema.columns.items() if spec.required)
        frame = self.parquet(relative, kinds, required=required, strict=True)
        dtypes = {"text": "string", "whole_number": "Int64", "number": "float64",
                  "iso_date": "datetime64[ns]"}  # as validation types them (data/schemas.py)
        try:
            return frame.astype({column: dtypes[kind] for column, kind in kinds.items()
                                 if column in frame})
        except (ValueError, TypeError, OverflowError) as exc:
            raise RunFolderError(f"{self.where(relative)}: values not of their column's type "
                                 f"({type(exc).__name__})") from None


def open_run_folder(path: Path) -> tuple[CheckedFolder, dict[str, Any], Params]:
    """The run folder at ``path``, its checked manifest and parameters."""
    folder = CheckedFolder.at(path)
    manifest = folder.manifest()
    return folder, manifest, folder.params(manifest)




def check_pair(old: tuple[str, str, Path], new: tuple[str, str, Path]) -> None:
    """Two cuts (study id, data cut date, folder) that can be compared: one study, the old
    cut earlier; :class:`RunFolderError` otherwise (``compare`` and ``run --compare-to``)."""
    (old_study, old_cut, old_path), (new_study, new_cut, new_path) = old, new
    if old_study != new_study:
        raise RunFolderError(f"different studies: {old_study} ({old_path}) and {new_study} "
                             f"({new_path}); compare two cuts of one study")
    if old_cut == new_cut:
        raise RunFolderError(f"both folders are the data cut of {new_cut}: a cut is not "
                             "compared with itself")
    if old_cut > new_cut:
        raise RunFolderError(f"the previous cut ({old_cut}) is after the new one ({new_cut}): "
                             "give the earlier run folder first")


_IDENTITY_SCHEMA = {key: MANIFEST_SCHEMA["properties"][key]
                    for key in ("study_id", "data_cut_date")}  # as recorded under params


def check_earlier_cut(path: Path, study_id: str, data_cut_date: str) -> Path:
    """The run folder ``path`` (resolved) when it is an earlier cut of ``study_id`` than
    ``data_cut_date``: the manifest's study and cut read (bounded, no link) without the full
    schema check, so that ``haplo-report run`` can refuse before any work."""
    import re

    folder = CheckedFolder.at(path)
    if not folder.exists(MANIFEST):
        raise RunFolderError(f"not a run folder: {folder.root / MANIFEST} missing")
    value = parse_json(folder.read_bytes(MANIFEST, MAX_MANIFEST_BYTES), folder.where(MANIFEST))
    identity = []
    for key, rule in _IDENTITY_SCHEMA.items():
        params = value.get("params") if isinstance(value, dict) else None
        item = params.get(key) if isinstance(params, dict) else None
        if not isinstance(item, str) or not re.fullmatch(rule["pattern"], item):
            raise RunFolderError(f"{folder.where(MANIFEST)} not as the suite writes it, at "
                                 f"params/{key}")
        identity.append(item)
    check_pair((identity[0], identity[1], folder.root), (study_id, data_cut_date, Path("this run")))
    return folder.root


__all__ = ["MANIFEST_SCHEMA", "CheckedFolder", "RunFolderError", "check_earlier_cut",
           "check_manifest", "check_pair", "depth_of", "open_run_folder",
           "parse_json", "relative_parts"]

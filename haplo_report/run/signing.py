"""Signing a run folder's manifest: ``haplo-report keygen NAME``, ``haplo-report sign RUN_DIR
--key KEY`` and ``haplo-report verify RUN_DIR --public-key KEY``.

``manifest.json`` lists the SHA-256 of every file of the folder, so a signature of its bytes
covers the whole folder: an edit of an input table and of its hash in the manifest passes the
files check but not the signature. Ed25519 (RFC 8032) from ``cryptography``; keys are PEM files
(PKCS #8 private key, SubjectPublicKeyInfo public key), the signature a detached text file
``manifest.json.sig`` beside the manifest. Keys are never written into a run folder or into the
suite's repository (a key kept beside what it signs protects nothing).
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

from haplo_report.data.run_folder import (MAX_MANIFEST_BYTES, CheckedFolder, RunFolderError,
                                          check_manifest, parse_json)
from haplo_report.params import ParamsError
from haplo_report.paths import MANIFEST, PROJECT_ROOT

SIGNATURE = "manifest.json.sig"
FORMAT = "haplo-report manifest signature 1"
MAX_KEY_BYTES = 10_000


def _key_bytes(path: Path, what: str) -> bytes:
    try:
        if not Path(path).is_file():
            raise ParamsError(f"{what}: not a file: {path}")
        with Path(path).open("rb") as handle:
            data = handle.read(MAX_KEY_BYTES + 1)
    except OSError as exc:
        raise ParamsError(f"{what}: cannot read {path} ({exc.strerror or exc})") from None
    if len(data) > MAX_KEY_BYTES:
        raise ParamsError(f"{what}: {path} is not a key file (too large)")
    return data


def load_private_key(path: Path) -> Any:
    """The Ed25519 private key in the PEM file ``path`` (``keygen``'s ``NAME.key``)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    data = _key_bytes(path, "--key")
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise ParamsError(f"--key: {path} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ParamsError(f"--key: {path} is not an Ed25519 key")
    return key


def load_public_key(path: Path) -> Any:
    """The Ed25519 public key in the PEM file ``path`` (``keygen``'s ``NAME.pub``)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    data = _key_bytes(path, "--public-key")
    try:
        key = load_pem_public_key(data)
    except (ValueError, TypeError):
        raise ParamsError(f"--public-key: {path} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ParamsError(f"--public-key: {path} is not an Ed25519 public key")
    return key


def key_id(public_key: Any) -> str:
    """The first 16 hex digits of the SHA-256 of the raw public key: names the key."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _refuse_key_place(folder: Path) -> None:
    """Keys are kept out of run folders and out of the suite's repository."""
    folder = folder.resolve()
    for place in (folder, *folder.parents):
        if (place / MANIFEST).is_file():
            raise ParamsError(f"keygen: {folder} is inside the run folder {place}: keep keys "
                              "elsewhere")
    if folder == PROJECT_ROOT or PROJECT_ROOT in folder.parents:
        raise ParamsError(f"keygen: {folder} is inside the haplo-report repository: keep keys "
                          "elsewhere")


def keygen(name: Path) -> tuple[Path, Path]:
    """Write a new key pair ``NAME.key`` (private, readable by its owner only) and
    ``NAME.pub``; an existing file is never replaced."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (Encoding, NoEncryption,
                                                              PrivateFormat, PublicFormat)

    name = Path(name)
    private, public = name.with_name(name.name + ".key"), name.with_name(name.name + ".pub")
    if not name.parent.is_dir():
        raise ParamsError(f"keygen: folder not found: {name.parent}")
    _refuse_key_place(name.parent)
    for path in (private, public):
        if os.path.lexists(path):
            raise ParamsError(f"keygen: {path} exists; choose another name")
    key = Ed25519PrivateKey.generate()
    texts = {private: key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()),
             public: key.public_key().public_bytes(Encoding.PEM,
                                                   PublicFormat.SubjectPublicKeyInfo)}
    for path, data in texts.items():
        mode = 0o600 if path == private else 0o644
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        except OSError as exc:
            raise ParamsError(f"keygen: cannot write {path} ({exc.strerror or exc})") from None
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    return private, public


def _manifest_bytes(folder: CheckedFolder) -> bytes:
    data = folder.read_bytes(MANIFEST, MAX_MANIFEST_BYTES)
    check_manifest(parse_json(data, folder.where(MANIFEST)), folder.where(MANIFEST))
    return data


def sign(run_dir: Path, key_file: Path) -> Path:
    """Sign ``run_dir``'s manifest with the private key in ``key_file``: writes
    ``manifest.json.sig`` in the folder (replacing an earlier one)."""
    key = load_private_key(key_file)
    try:
        folder = CheckedFolder.at(run_dir)
        data = _manifest_bytes(folder)
    except RunFolderError as exc:
        raise ParamsError(str(exc)) from None
    signature = base64.b64encode(key.sign(data)).decode("ascii")
    text = (f"{FORMAT}\nalgorithm: Ed25519\nkey: {key_id(key.public_key())}\n"
            f"manifest-sha256: {hashlib.sha256(data).hexdigest()}\nsignature: {signature}\n")
    try:
        return folder.write_text(SIGNATURE, text)
    except (OSError, RunFolderError) as exc:
        raise ParamsError(f"sign: cannot write {folder.root / SIGNATURE} "
                          f"({getattr(exc, 'strerror', None) or exc})") from None


def signature_problem(folder: CheckedFolder, public_key: Any) -> str | None:
    """None when ``manifest.json.sig`` is a valid signature of ``manifest.json`` by
    ``public_key``; else one line saying what is wrong."""
    from cryptography.exceptions import InvalidSignature

    try:
        text = folder.read_bytes(SIGNATURE, MAX_KEY_BYTES).decode("ascii")
    except RunFolderError as exc:
        return f"signature: {SIGNATURE} {str(exc).rsplit(': ', 1)[-1]}"
    except UnicodeDecodeError:
        return f"signature: {SIGNATURE} is not a signature file"
    fields = dict(line.split(": ", 1) for line in text.splitlines()[1:] if ": " in line)
    if not text.startswith(FORMAT + "\n") or fields.get("algorithm") != "Ed25519":
        return f"signature: {SIGNATURE} is not a haplo-report Ed25519 signature"
    try:
        signature = base64.b64decode(fields.get("signature", ""), validate=True)
    except ValueError:
        return f"signature: {SIGNATURE} holds no readable signature"
    try:
        data = folder.read_bytes(MANIFEST, MAX_MANIFEST_BYTES)
        public_key.verify(signature, data)
    except RunFolderError as exc:
        return f"signature: {exc}"
    except InvalidSignature:
        by, expected = fields.get("key", ""), key_id(public_key)
        by = by if len(by) == 16 and all(c in "0123456789abcdef" for c in by) else "unknown"
        why = ("manifest.json changed since it was signed" if by == expected
               else f"signed by key {by}, not by the public key given ({expected})")
        return f"signature: INVALID for manifest.json ({why})"
    return None


__all__ = ["SIGNATURE", "key_id", "keygen", "load_private_key", "load_public_key", "sign",
           "signature_problem"]

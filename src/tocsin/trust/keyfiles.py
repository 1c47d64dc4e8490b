"""Key files: the signer key string in ``<name>.key`` (mode 0600), the verifier key in ``.pub``.

Both are one line of text in the C2SP formats, so the same files work with
Go's ``sumdb/note`` tools. Private key files are created exclusively (never
overwritten) with mode 0600 from the first byte, and their contents are never
echoed in errors.
"""

from __future__ import annotations

import os
from pathlib import Path

from tocsin.trust.note import KeyFormatError, Signer, Verifier

MAX_KEY_FILE_BYTES = 4096


class KeyFileError(ValueError):
    """A key file is missing, unreadable, exists already or holds no valid key."""


def key_file_stem(name: str) -> str:
    """A file name for a key name (``/`` is not allowed in file names)."""
    return name.replace("/", "_")


def _write_new(path: Path, text: str, mode: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise KeyFileError(f"{path} exists already; not overwriting a key") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot create ({exc.strerror})") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def write_key_pair(signer: Signer, directory: Path) -> tuple[Path, Path]:
    """Write ``<stem>.key`` (0600) and ``<stem>.pub`` (0644) into ``directory``."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KeyFileError(f"{directory}: cannot create directory ({exc.strerror})") from None
    stem = key_file_stem(signer.name)
    private, public = directory / f"{stem}.key", directory / f"{stem}.pub"
    if public.exists():
        raise KeyFileError(f"{public} exists already; not overwriting a key")
    _write_new(private, signer.skey + "\n", 0o600)
    _write_new(public, signer.verifier().vkey + "\n", 0o644)
    return private, public


def _read_line(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_KEY_FILE_BYTES + 1)
    except FileNotFoundError:
        raise KeyFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise KeyFileError(f"{path}: is a directory, expected a key file") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read ({exc.strerror})") from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise KeyFileError(f"{path}: too large to be a key file")
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise KeyFileError(f"{path}: not a text key file") from None


def read_signer(path: Path) -> Signer:
    """Load a private key file; the error never repeats its contents."""
    text = _read_line(path)
    if not text.startswith("PRIVATE+KEY+"):
        raise KeyFileError(f"{path}: not a private key file (expected PRIVATE+KEY+...)")
    try:
        return Signer.from_skey(text)
    except KeyFormatError as exc:
        raise KeyFileError(f"{path}: invalid private key: {exc}") from None


def read_verifier(path: Path) -> Verifier:
    """Load a public (verifier) key file."""
    text = _read_line(path)
    if text.startswith("PRIVATE+KEY+"):
        raise KeyFileError(f"{path}: is a private key; give the .pub file")
    try:
        return Verifier.from_vkey(text)
    except KeyFormatError as exc:
        raise KeyFileError(f"{path}: invalid public key: {exc}") from None

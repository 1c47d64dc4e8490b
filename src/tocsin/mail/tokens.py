"""The secrets in an email's links: confirmation tokens and unsubscribe tokens.

* A **confirmation token** is 32 random bytes (``secrets``), sent once in the confirmation
  email; only its SHA-256 is stored, it expires, it is compared in constant time and is
  spent when used (:mod:`tocsin.mail.store`).
* An **unsubscribe token** is an HMAC-SHA256 of the subscription id under the hub's email
  link key (``DATA_DIR/email.key``, 32 random bytes, mode 0600), so every alert email can
  carry a working one-click link without the hub storing any token; it is compared in
  constant time and dies with the subscription (its id is never reused).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_FILE = "email.key"
KEY_BYTES = 32


def new_token() -> str:
    """A fresh unguessable token for a link (256 bits, base64url)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def same_token(stored_hash: bytes, token: str) -> bool:
    """Whether ``token`` hashes to ``stored_hash`` (constant time)."""
    return hmac.compare_digest(stored_hash, token_hash(token))


class LinkKey:
    """The key unsubscribe tokens are derived with (see the module docstring)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"an email link key has {KEY_BYTES} bytes")
        self._key = key

    def __repr__(self) -> str:
        return "LinkKey(<secret>)"

    @classmethod
    def load_or_create(cls, data_dir: Path) -> LinkKey:
        path = data_dir / KEY_FILE
        try:
            return cls(path.read_bytes())
        except FileNotFoundError:
            pass
        key = secrets.token_bytes(KEY_BYTES)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
            handle.flush()
            os.fsync(handle.fileno())
        return cls(key)

    def unsubscribe_token(self, sub_id: str) -> str:
        mac = hmac.new(self._key, b"tocsin-email-unsubscribe\0" + sub_id.encode("utf-8"), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")

    def check_unsubscribe(self, sub_id: str, token: str) -> bool:
        return hmac.compare_digest(self.unsubscribe_token(sub_id).encode("ascii"),
                                   token.encode("utf-8", "replace"))

"""The hub's VAPID key pair (RFC 8292) and the ``Authorization`` header it signs.

The key lives in ``DATA_DIR/vapid.key`` (PEM, mode 0600), created on first run. A key
file that exists but cannot be read as a P-256 private key is refused and left as it
is (nothing is written over it): browsers' subscriptions are bound to the public key,
so replacing it silently would orphan every one of them.

A JWT is signed per push service origin (``aud``) and reused until an hour before it
expires (12 hours): signing per message would cost as much as encrypting it.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02, VapidException

KEY_FILE = "vapid.key"
TOKEN_LIFETIME_SECS = 12 * 3600
TOKEN_RENEW_BEFORE_SECS = 3600


class VapidKeyError(ValueError):
    """The VAPID key file exists but is not a usable P-256 private key."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding (browsers send it without)."""
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_or_create_vapid_key(data_dir: Path) -> ec.EllipticCurvePrivateKey:
    path = data_dir / KEY_FILE
    if path.exists():
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError, OSError) as exc:
            raise VapidKeyError(f"{path}: not a PEM private key ({exc})") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise VapidKeyError(f"{path}: not a P-256 private key")
        return key
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    return key


class VapidSigner:
    """Signs and caches the VAPID ``Authorization`` header per push service origin."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, contact: str,
                 clock: Callable[[], float] = time.time) -> None:
        self._vapid = Vapid02(key)
        self.contact = contact
        self._clock = clock
        self.public_key = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        self.public_key_b64 = b64url(self.public_key)
        self._cache: dict[str, tuple[float, str]] = {}

    def authorization(self, origin: str) -> str:
        """``vapid t=<JWT>, k=<public key>`` for a push service at ``origin``."""
        now = self._clock()
        cached = self._cache.get(origin)
        if cached is not None and cached[0] - TOKEN_RENEW_BEFORE_SECS > now:
            return cached[1]
        expires = int(now) + TOKEN_LIFETIME_SECS
        try:
            header: str = self._vapid.sign({"aud": origin, "sub": self.contact,
                                            "exp": expires})["Authorization"]
        except VapidException as exc:
            raise ValueError(f"VAPID claims refused: {exc}") from None
        self._cache[origin] = (expires, header)
        return header

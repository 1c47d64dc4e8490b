"""RFC 8291 message encryption for Web Push (``Content-Encoding: aes128gcm``, RFC 8188).

Built on the ``cryptography`` primitives (ECDH P-256, HKDF-SHA-256, AES-128-GCM) that
``http_ece`` and ``pywebpush`` use, so the tests can decrypt every message with
``http_ece`` — an implementation independent of this one.

Invariants: a new ephemeral key pair and a new random salt for every message (RFC 8291
section 3.1); one record (the payload must fit in :data:`MAX_PAYLOAD`: a push service
need accept no more than 4096 bytes of body); no padding.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

RECORD_SIZE = 4096
HEADER_SIZE = 16 + 4 + 1 + 65  # salt, record size, key id length, ephemeral public key
#: Largest plaintext: 4096 bytes of body, less the header, the padding delimiter and the tag.
MAX_PAYLOAD = RECORD_SIZE - HEADER_SIZE - 1 - 16

_CURVE = ec.SECP256R1()
_KEY_INFO = b"WebPush: info\x00"
_CEK_INFO = b"Content-Encoding: aes128gcm\x00"
_NONCE_INFO = b"Content-Encoding: nonce\x00"


class PushKeyError(ValueError):
    """A subscription's keys are not a P-256 public key and a 16-byte secret."""


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    """HKDF-SHA-256 (RFC 5869) for one output block (<= 32 bytes), on OpenSSL's HMAC.

    Every length here fits one block, so extract-then-expand is two HMACs; building a
    ``cryptography`` HKDF object per call costs twice as much, three times a message.
    """
    prk = hmac.digest(salt, ikm, hashlib.sha256)
    return hmac.digest(prk, info + b"\x01", hashlib.sha256)[:length]


def check_keys(p256dh: bytes, auth: bytes) -> ec.EllipticCurvePublicKey:
    """The user agent's public key, or :class:`PushKeyError` (checked when subscribing)."""
    if len(auth) != 16:
        raise PushKeyError(f"keys.auth must be 16 bytes, got {len(auth)}")
    if len(p256dh) != 65 or p256dh[0] != 4:
        raise PushKeyError("keys.p256dh must be an uncompressed P-256 point (65 bytes)")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, p256dh)
    except ValueError:
        raise PushKeyError("keys.p256dh is not a point on P-256") from None


def encrypt(payload: bytes, p256dh: bytes, auth: bytes, *,
            ua_key: ec.EllipticCurvePublicKey | None = None) -> bytes:
    """The aes128gcm body carrying ``payload`` to the user agent holding ``p256dh``/``auth``."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"push payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    ua_public = ua_key if ua_key is not None else check_keys(p256dh, auth)
    ephemeral = ec.generate_private_key(_CURVE)
    as_public = ephemeral.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    shared = ephemeral.exchange(ec.ECDH(), ua_public)
    ikm = _hkdf(auth, shared, _KEY_INFO + p256dh + as_public, 32)
    salt = os.urandom(16)
    cek = _hkdf(salt, ikm, _CEK_INFO, 16)
    nonce = _hkdf(salt, ikm, _NONCE_INFO, 12)
    sealed = AESGCM(cek).encrypt(nonce, payload + b"\x02", None)  # \x02: the last record
    return salt + struct.pack("!IB", RECORD_SIZE, len(as_public)) + as_public + sealed

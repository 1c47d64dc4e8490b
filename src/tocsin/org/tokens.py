"""One-time secrets (enrolment links, check-in links, sessions, recovery codes), kept hashed.

A secret is 256 random bits (``secrets.token_urlsafe(32)``); the store keeps only its
SHA-256, so a copy of the database lets nobody answer a check-in or sign in. Looking a
secret up by its hash leaks nothing useful through timing (an attacker would need a
preimage); where a secret is compared with a known value, :func:`same` compares in
constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 32
RECOVERY_CODES = 10


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def new_id() -> str:
    """A short random id for a record (not a secret: ids appear in URLs and the audit log)."""
    return secrets.token_hex(8)


def recovery_codes(n: int = RECOVERY_CODES) -> list[str]:
    """``n`` one-time recovery codes, grouped for reading aloud (``xxxx-xxxx-xxxx-xxxx``)."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
    codes = []
    for _ in range(n):
        raw = "".join(secrets.choice(alphabet) for _ in range(16))
        codes.append("-".join(raw[i:i + 4] for i in range(0, 16, 4)))
    return codes


def normalise_code(code: str) -> str:
    return "".join(c for c in code.lower() if c.isalnum())

"""Which email addresses and display names the hub takes: nothing that could inject a header.

Addresses are checked by ``email-validator`` (syntax only: no DNS look-up at subscription
time) and kept in their ASCII form (an international domain as ``xn--``; an international
local part is refused, because a relay need not speak SMTPUTF8). Any control character —
CR and LF above all — is refused before anything else looks at the text, with its own
message, so a header injection attempt is named as what it is. A display name is optional
free text without control or line-separator characters; :mod:`email.headerregistry` quotes
and encodes it when the message is written.
"""

from __future__ import annotations

import email.utils
import unicodedata
from email.headerregistry import Address

from email_validator import EmailNotValidError, validate_email

MAX_ADDRESS_CHARS = 254  # RFC 5321's path limit less the angle brackets
MAX_NAME_CHARS = 100


class AddressRefused(ValueError):
    """An address or display name the hub will not write into a header; the message says why."""


def has_control(text: str) -> bool:
    """Any C0/C1 control, DEL or Unicode line/paragraph separator (CR and LF among them)."""
    return any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in text)


def parse_address(raw: object) -> str:
    """The address to send to (ASCII, domain lower-cased), or :class:`AddressRefused`."""
    if not isinstance(raw, str) or not raw:
        raise AddressRefused("address must be a non-empty string")
    if has_control(raw):
        raise AddressRefused("address contains a line break or control character (refused: "
                             "it could inject mail headers)")
    if len(raw) > MAX_ADDRESS_CHARS:
        raise AddressRefused(f"address is longer than {MAX_ADDRESS_CHARS} characters")
    try:
        valid = validate_email(raw.strip(), check_deliverability=False, allow_smtputf8=False,
                               allow_quoted_local=False, allow_domain_literal=False)
    except EmailNotValidError as exc:
        raise AddressRefused(f"not a usable email address: {exc}") from None
    address = str(valid.ascii_email or valid.normalized)
    if len(address) > MAX_ADDRESS_CHARS:
        raise AddressRefused(f"address is longer than {MAX_ADDRESS_CHARS} characters")
    return address


def parse_name(raw: object) -> str:
    """An optional display name ('' for none), or :class:`AddressRefused`."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise AddressRefused("name must be a string")
    if has_control(raw):
        raise AddressRefused("name contains a line break or control character (refused: it "
                             "could inject mail headers)")
    name = " ".join(raw.split())
    if len(name) > MAX_NAME_CHARS:
        raise AddressRefused(f"name is longer than {MAX_NAME_CHARS} characters")
    return name


def from_address_of(text: str) -> Address:
    """The ``email_from`` setting (``Name <addr>`` or ``addr``) as a checked :class:`Address`."""
    if has_control(text):
        raise AddressRefused("contains a line break or control character")
    name, addr = email.utils.parseaddr(text)
    if not addr:
        raise AddressRefused(f"{text!r} is not 'Name <address>' or an address")
    return Address(parse_name(name), addr_spec=parse_address(addr))

"""People as CSV: import with a report of every rejected row, export safe to open in a spreadsheet.

Columns (header row required; only ``name`` is mandatory; docs/organisations.md):
``id, name, language, groups, sms, email, webhook, push, home, work, contact``.

Import invariants:

* **Nothing is lost silently.** Every row is either accepted or listed in the report with
  its line number and the reason (invalid UTF-8 with the byte, a duplicate of which line,
  an unknown region, a malformed phone/email/point, a missing name). Unknown columns are
  reported as ignored. A file that cannot be read as CSV at all is refused whole.
* **Duplicates**: a person is identified by ``id``, else by name + phone + email
  (:func:`tocsin.org.store.person_key`); the second row naming a person already in the
  file is rejected (the first wins); a person already in the organisation is updated.
* **Places at the person's precision**: a region code (canonicalised), or ``lat,lon`` kept
  with exactly the decimals written (at most :data:`~tocsin.org.model.MAX_POINT_DECIMALS`),
  and it must lie inside the hub's regions.

Export neutralises formulas: a cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR is
prefixed with ``'`` (OWASP "CSV injection"), so ``=cmd|' /C calc'!A0`` is shown, never run.
Import strips that one quote again before such a character, so an exported file re-imports
unchanged.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tocsin.org.model import LANGUAGES, MAX_POINT_DECIMALS, Person, Place
from tocsin.org.store import person_key
from tocsin.regions import RegionSet

COLUMNS = ("id", "name", "language", "groups", "sms", "email", "webhook", "push", "home", "work",
           "contact")
MAX_ROWS = 200_000
MAX_FIELD_CHARS = 4096
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PHONE = re.compile(r"\+[1-9][0-9]{6,14}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,63}")
_POINT = re.compile(r"(-?[0-9]{1,2}(?:\.([0-9]+))?)\s*,\s*(-?[0-9]{1,3}(?:\.([0-9]+))?)")


class CsvRefused(ValueError):
    """The file cannot be used at all (no header, no ``name`` column, too many rows)."""


@dataclass
class ImportReport:
    """What an import did; ``rejected`` lists (line, reason) for every row not taken."""

    people: list[Person] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    created: int = 0
    updated: int = 0

    def json(self) -> dict[str, Any]:
        return {"accepted": len(self.people), "created": self.created, "updated": self.updated,
                "rejected": [{"line": line, "reason": reason} for line, reason in self.rejected],
                "ignored_columns": self.ignored_columns}


def _unquote(value: str) -> str:
    """Undo the export's formula quote (``'=x`` -> ``=x``); trim surrounding spaces."""
    value = value.strip(" ")
    if len(value) >= 2 and value[0] == "'" and value[1] in FORMULA_START:
        return value[1:]
    return value


def _bad_bytes(text: str) -> str | None:
    for ch in text:
        if "\udc80" <= ch <= "\udcff":
            return f"0x{ord(ch) - 0xDC00:02x}"
    return None


def parse_place(label: str, raw: str, regions: RegionSet) -> Place:
    """A region code or a ``lat,lon`` point inside the regions; ValueError says why not."""
    match = _POINT.fullmatch(raw)
    if match is not None:
        for decimals in (match.group(2), match.group(4)):
            if decimals is not None and len(decimals) > MAX_POINT_DECIMALS:
                raise ValueError(f"{label}: at most {MAX_POINT_DECIMALS} decimals in a point")
        lat, lon = float(match.group(1)), float(match.group(3))
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError(f"{label}: {raw!r} is not a latitude,longitude")
        if not regions.locate(lat, lon):
            raise ValueError(f"{label}: the point {raw!r} is outside this hub's regions")
        return Place(label, f"{match.group(1)},{match.group(3)}")
    code = regions.canonical(raw)
    if code is None:
        raise ValueError(f"{label}: {raw[:40]!r} is not a region code of this hub nor a lat,lon point")
    return Place(label, code)


def _push(raw: str) -> str:
    from tocsin.push.crypto import PushKeyError, check_keys
    from tocsin.push.endpoints import EndpointRefused, check_endpoint
    from tocsin.push.vapid import b64url_decode

    try:
        data = json.loads(raw)
        endpoint, keys = data["endpoint"], data["keys"]
        check_endpoint(endpoint, (), resolve=False)
        check_keys(b64url_decode(keys["p256dh"]), b64url_decode(keys["auth"]))
    except EndpointRefused as exc:
        raise ValueError(f"push: {exc}") from None
    except (ValueError, KeyError, TypeError, PushKeyError):
        raise ValueError("push: not a browser PushSubscription JSON (endpoint, keys)") from None
    return json.dumps({"endpoint": endpoint, "keys": {"p256dh": keys["p256dh"], "auth": keys["auth"]}})


def _person(row: dict[str, str], regions: RegionSet, allow_push_hosts: frozenset[str]) -> Person:
    name = " ".join(row.get("name", "").split())
    if not name:
        raise ValueError("name is empty")
    if len(name) > 200:
        raise ValueError("name is longer than 200 characters")
    ref = row.get("id", "")
    if len(ref) > 100:
        raise ValueError("id is longer than 100 characters")
    language = (row.get("language") or "uk").lower()
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {language[:10]!r}")
    channels: dict[str, str] = {}
    sms = row.get("sms", "").replace(" ", "").replace("-", "")
    if sms:
        if not _PHONE.fullmatch(sms):
            raise ValueError("sms: a phone number in international form (+380...)")
        channels["sms"] = sms
    email = row.get("email", "")
    if email:
        if not _EMAIL.fullmatch(email):
            raise ValueError("email: not an email address")
        channels["email"] = email
    webhook = row.get("webhook", "")
    if webhook:
        from tocsin.push.endpoints import EndpointRefused, check_endpoint

        try:
            check_endpoint(webhook, allow_push_hosts, resolve=False)
        except EndpointRefused as exc:
            raise ValueError(f"webhook: {exc}".replace("subscription.endpoint", "the URL")) from None
        channels["webhook"] = webhook
    if row.get("push"):
        channels["push"] = _push(row["push"])
    places = tuple(parse_place(label, row[label], regions) for label in ("home", "work") if row.get(label))
    groups = tuple(dict.fromkeys(g.strip() for g in row.get("groups", "").split(";") if g.strip()))
    if any(len(g) > 100 for g in groups):
        raise ValueError("groups: a group name is longer than 100 characters")
    return Person(id="", org_id="", ref=ref, name=name, language=language, channels=channels,
                  places=places, groups=groups, contact=row.get("contact", "")[:200])


def read_people(data: bytes, regions: RegionSet, *, known_keys: Iterable[str] = (),
                allow_push_hosts: frozenset[str] = frozenset()) -> ImportReport:
    """Validate a people CSV; the report holds the accepted people and every rejected row."""
    known = set(known_keys)
    text = data.decode("utf-8", errors="surrogateescape")
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    report = ImportReport()
    try:
        header = next(reader)
    except StopIteration:
        raise CsvRefused("the file is empty (a header row with a name column is needed)") from None
    except csv.Error as exc:
        raise CsvRefused(f"the header row is not CSV: {exc}") from None
    if _bad_bytes("".join(header)):
        raise CsvRefused("the header row is not valid UTF-8 (save the file as UTF-8)")
    names = [h.strip().lower() for h in header]
    if "name" not in names:
        raise CsvRefused(f"the header has no 'name' column (columns: {', '.join(COLUMNS)})")
    report.ignored_columns = [h for h in names if h not in COLUMNS]
    seen: dict[str, int] = {}
    rows = 0
    while True:
        line = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            report.rejected.append((line, f"not CSV: {exc}"))
            break  # the csv module cannot resynchronise after a broken quote
        if not any(v.strip() for v in values):
            continue
        rows += 1
        if rows > MAX_ROWS:
            raise CsvRefused(f"more than {MAX_ROWS} people in one file; split it")
        bad = _bad_bytes("".join(values))
        if bad is not None:
            report.rejected.append((line, f"not valid UTF-8 (byte {bad}); save the file as UTF-8"))
            continue
        if len(values) != len(names):
            report.rejected.append((line, f"{len(values)} fields; the header has {len(names)}"))
            continue
        if any(len(v) > MAX_FIELD_CHARS for v in values):
            report.rejected.append((line, f"a field is longer than {MAX_FIELD_CHARS} characters"))
            continue
        row = {n: _unquote(v) for n, v in zip(names, values, strict=True) if n in COLUMNS}
        try:
            person = _person(row, regions, allow_push_hosts)
        except ValueError as exc:
            report.rejected.append((line, str(exc)))
            continue
        key = person_key(person)
        if key in seen:
            report.rejected.append((line, f"duplicate of line {seen[key]}"))
            continue
        seen[key] = line
        if key in known:
            report.updated += 1
        else:
            report.created += 1
        report.people.append(person)
    return report


def neutralise(value: str) -> str:
    """A cell a spreadsheet shows as text: a leading formula character gets a ``'``."""
    return "'" + value if value.startswith(FORMULA_START) else value


def write_people(people: Sequence[Person]) -> bytes:
    """The people as UTF-8 CSV (with a BOM, so spreadsheets read Cyrillic), formulas neutralised."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for p in people:
        places = {pl.label: pl.text for pl in p.places}
        row = (p.ref, p.name, p.language, ";".join(p.groups), p.channels.get("sms", ""),
               p.channels.get("email", ""), p.channels.get("webhook", ""), p.channels.get("push", ""),
               places.get("home", ""), places.get("work", ""), p.contact)
        writer.writerow([neutralise(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")

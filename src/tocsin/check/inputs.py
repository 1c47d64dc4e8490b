"""What was pasted: an alert id or link, a CAP document, a proof bundle, or a post.

Direct references are resolved to a logged alert by id (a CAP document by
the id of its exact bytes, a proof bundle by the entry at its log index);
anything else is checked as text. A CAP document that is not logged byte for
byte is checked by its words, with the sender's alert of the same identifier
(if any) as the original it was altered from.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from tocsin.cap import CapError, parse_alert
from tocsin.check.engine import Checker, CheckResult, clean_text
from tocsin.check.index import info_text_fields
from tocsin.issue import ALERT_ID_HEX, alert_id_for
from tocsin.tlog.entry import EntryError, decode_entry
from tocsin.tlog.proof import parse_proof_bundle
from tocsin.tlog.tree import TlogError

_ID = re.compile(rf"^[0-9a-f]{{{ALERT_ID_HEX}}}$")
_LINK = re.compile(rf"/(?:api/v1/alerts|check/alert)/([0-9a-f]{{{ALERT_ID_HEX}}})\b")
_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
_CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"


def check_input(checker: Checker, raw: str) -> CheckResult:
    """Check anything a person may paste (see module docstring)."""
    text = clean_text(raw)
    stripped = text.strip()
    lowered = stripped.lower()
    if _ID.match(lowered):
        return checker.check_alert_id(lowered, "alert-id")
    link = _LINK.search(lowered)
    if link and len(stripped.split()) == 1:
        return checker.check_alert_id(link.group(1), "link")
    if stripped.startswith(_PROOF_HEADER):
        return _check_proof(checker, stripped)
    if _CAP_NAMESPACE in stripped and "<" in stripped:
        return _check_cap(checker, raw if raw.strip() == stripped else stripped)
    if stripped.startswith("{"):
        alert_id = _json_alert_id(stripped)
        if alert_id is not None:
            return checker.check_alert_id(alert_id, "alert-json")
    return checker.check_text(text)


def _json_alert_id(text: str) -> str | None:
    try:
        doc: Any = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return None
    if isinstance(doc, dict) and isinstance(doc.get("id"), str) and _ID.match(doc["id"]):
        return str(doc["id"])
    return None


def _check_proof(checker: Checker, text: str) -> CheckResult:
    try:
        bundle = parse_proof_bundle(text.encode("utf-8") + (b"" if text.endswith("\n") else b"\n"))
    except TlogError as exc:
        return _unusable(checker, f"proof bundle: {exc}")
    try:
        entries = checker.store.log_entries(bundle.index, bundle.index + 1)
    except Exception:
        entries = []
    if not entries:
        return _unusable(checker, f"proof bundle names log index {bundle.index}, "
                         "which this log does not have")
    try:
        entry = decode_entry(entries[0])
    except EntryError as exc:
        return _unusable(checker, f"log entry {bundle.index} cannot be read: {exc}")
    if entry.detached:  # a large alert: the statement names its CAP's SHA-256, the id's source
        found = re.search(rb"^sha256 ([0-9a-f]{64})$", entry.statement, re.MULTILINE)
        if found is None:
            return _unusable(checker, f"log entry {bundle.index} names no CAP hash")
        alert_id = found.group(1).decode()[:32]
    elif not entry.cap:
        return _unusable(checker, f"log entry {bundle.index} is not an alert")
    else:
        alert_id = alert_id_for(entry.cap)
    return checker.check_alert_id(alert_id, "proof-bundle",
                                  note=f"proof bundle for log index {bundle.index}")


def _check_cap(checker: Checker, text: str) -> CheckResult:
    data = text.encode("utf-8")
    alert_id = alert_id_for(data)
    if checker.store.get(alert_id) is not None:
        return checker.check_alert_id(alert_id, "cap")
    try:
        alert = parse_alert(data, strict=False).alert
    except CapError:
        return checker.check_text(text)
    words = "\n".join(t for _, t in info_text_fields(alert))
    sender = next((i.sender_name for i in alert.info if i.sender_name), None)
    result = checker.check_text(f"{sender}\n{words}" if sender else words)
    result.input_kind = "cap"
    original = checker.store.find(alert.sender, alert.identifier)
    if original is not None:
        result.evidence.notes.append(
            f"the CAP names {alert.sender} / {alert.identifier}, logged as alert {original.id} "
            "with different bytes: this copy was changed after signing")
        if result.verdict == "authentic":  # words match, bytes do not: still the real alert's words
            result.evidence.notes.append("its words match the logged alert")
    return result


def _unusable(checker: Checker, note: str) -> CheckResult:
    return checker.unverifiable("proof-bundle", note)

"""What was pasted: an alert id or link, a CAP document, a proof bundle, or a post.

Direct references are resolved to a logged alert by id (a CAP document by
the id of its exact bytes, a proof bundle by the entry at its log index);
anything else is checked as text.

* A link is this hub's when its host is one of ``hub_hosts`` (the host the
  person reached the hub by, and its configured public URL). The alert page
  ``/alerts/ID`` and the API ``/api/v1/alerts/ID`` are both recognised. A link
  on another host naming a real alert id is ``altered``: the id is real, the
  site is not this hub.
* An alert's JSON with more than its ``id`` is ``authentic`` (or ``outdated``)
  only when every field equals the hub's own view of that alert; otherwise
  ``altered``, listing the fields.
* A CAP document is ``authentic`` (or ``outdated``) only as the exact signed
  bytes (SHA-256 equal: not even a newline more or less). Anything else that
  names a logged alert (its sender and identifier, or failing that its words)
  is ``altered``, with the CAP fields that differ.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

import msgspec

from tocsin.cap import CapError, parse_alert
from tocsin.cap.model import Alert
from tocsin.check.align import Difference
from tocsin.check.engine import Checker, CheckResult, clean_text
from tocsin.check.index import info_text_fields
from tocsin.check.rule import foreign_link_note, host_of
from tocsin.issue import ALERT_ID_HEX, alert_id_for
from tocsin.tlog.entry import EntryError, decode_entry
from tocsin.tlog.proof import parse_proof_bundle
from tocsin.tlog.tree import TlogError
from tocsin.trust.statement import STATEMENT_HEADER

_ID = re.compile(rf"^[0-9a-f]{{{ALERT_ID_HEX}}}$")
_LINK = re.compile(rf"/(?:api/v1/alerts|alerts|check/alert)/([0-9a-f]{{{ALERT_ID_HEX}}})"
                   r"(?:/(?:cap|statement|proof))?/?(?:[?#].*)?$")
_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
_CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"


def check_input(checker: Checker, raw: str,
                hub_hosts: frozenset[str] | set[str] | tuple[str, ...] = (),
                view_of: Callable[[str], dict[str, Any] | None] | None = None) -> CheckResult:
    """Check anything a person may paste (see module docstring).

    ``hub_hosts``: the ``host[:port]`` names this hub answers to; a link to any
    other host is never this hub's. ``view_of``: the hub's own JSON view of a
    logged alert (``GET /api/v1/alerts/ID``), to compare pasted alert JSON with;
    without it, alert JSON carrying more than the id is never authentic.
    """
    hosts = frozenset(h.lower() for h in hub_hosts)
    text = clean_text(raw)
    stripped = text.strip()
    lowered = stripped.lower()
    if _ID.match(lowered):
        return checker.check_alert_id(lowered, "alert-id")
    if len(stripped.split()) == 1:
        link = _LINK.search(lowered)
        if link:
            return _check_link(checker, stripped, link.group(1), hosts)
    if stripped.startswith(_PROOF_HEADER):
        return _check_proof(checker, stripped)
    if stripped.startswith(STATEMENT_HEADER):
        return _check_statement(checker, raw)
    if _CAP_NAMESPACE in stripped and "<" in stripped:
        return _check_cap(checker, raw, hosts)
    if stripped.startswith("{"):
        found = _json_alert(stripped)
        if found is not None:
            return _check_json(checker, found[0], found[1], view_of)
    return checker.check_text(text, hosts)


def _check_link(checker: Checker, link: str, alert_id: str, hosts: frozenset[str],
                ) -> CheckResult:
    host = "" if link.startswith("/") else host_of(link)
    if not host or host in hosts:
        return checker.check_alert_id(alert_id, "link")
    if checker.store.get(alert_id) is None:
        return checker.unverifiable("link", f"the link names no alert this hub logged "
                                    f"({alert_id}), and its site {host} is not this hub")
    result = checker.altered_reference(
        alert_id, "link", [Difference("link", link, f"/alerts/{alert_id}")],
        [foreign_link_note(host, alert_id)])
    result.evidence.notes.append("do not trust that site: open the alert on this hub")
    return result


def _json_alert(text: str) -> tuple[str, dict[str, Any]] | None:
    try:
        doc: Any = msgspec.json.decode(text)
    except (msgspec.DecodeError, RecursionError):  # nested too deeply for the decoder: not an id
        return None
    if isinstance(doc, dict) and isinstance(doc.get("id"), str) and _ID.match(doc["id"]):
        return str(doc["id"]), doc
    return None


# Fields of the hub's view that change with time: a copy saved earlier may differ in these
# alone, and then says nothing false about the alert itself.
_STATE_FIELDS = frozenset({"active", "over", "ended", "ended_by", "log"})


def _check_json(checker: Checker, alert_id: str, doc: dict[str, Any],
                view_of: Callable[[str], dict[str, Any] | None] | None) -> CheckResult:
    """Alert JSON: authentic only as the id alone or as the hub's own view of that alert.

    Every field besides the id is compared with the hub's view (``GET /api/v1/alerts/ID``);
    a field changed, added or left out is a difference (``altered``). Only the fields that
    change with time (:data:`_STATE_FIELDS`) may differ, and only when the alert is over now
    (a view saved while it was in force; the verdict then says ``outdated``).
    """
    if set(doc) == {"id"}:
        return checker.check_alert_id(alert_id, "alert-json")
    record = checker.store.get(alert_id)
    if record is None:
        return checker.unverifiable("alert-json", f"no logged alert has id {alert_id}")
    view = view_of(alert_id) if view_of is not None else None
    if view is None:
        return checker.altered_reference(
            alert_id, "alert-json", [Difference("field", "(fields besides the id)",
                                                "(this hub's view of the alert)")],
            ["this JSON cannot be compared with the hub's view here: only the id is checked, "
             "and the other fields are not vouched for"])
    view = msgspec.json.decode(msgspec.json.encode(view))  # as a client would read it
    diffs: list[Difference] = []
    state: list[Difference] = []
    for key in dict.fromkeys([*view, *doc]):
        if key == "id":
            continue
        found: list[Difference] = []
        _diff(doc.get(key), view.get(key), key, found)
        if key in _STATE_FIELDS and key in doc:
            state.extend(found)
        elif key not in _STATE_FIELDS:
            diffs.extend(found)
    if not diffs and (not state or view.get("active") is False):
        return checker.check_alert_id(alert_id, "alert-json")
    fields = [Difference("field", d.message, d.alert) for d in (diffs + state)[:40]]
    return checker.altered_reference(
        alert_id, "alert-json", fields,
        [f"this JSON names logged alert {alert_id} but its fields are not the hub's: "
         "it was changed"])


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


def _check_cap(checker: Checker, raw: str, hosts: frozenset[str]) -> CheckResult:
    exact = alert_id_for(raw.encode("utf-8"))
    if checker.store.get(exact) is not None:  # the exact signed bytes (SHA-256 equal)
        return checker.check_alert_id(exact, "cap")
    body = raw.strip()
    for candidate in dict.fromkeys((body, body + "\n", body + "\r\n", body + "\n\n")):
        alert_id = alert_id_for(candidate.encode("utf-8"))
        if checker.store.get(alert_id) is not None:
            signed = candidate
            where = " and ".join(w for w, differs in (
                ("at the start", raw[:len(raw) - len(raw.lstrip())] !=
                 signed[:len(signed) - len(signed.lstrip())]),
                ("at the end", raw[len(raw.rstrip()):] != signed[len(signed.rstrip()):]))
                if differs) or "around the document"
            return checker.altered_reference(
                alert_id, "cap", [Difference("cap", f"(whitespace {where})",
                                             "(the signed bytes)")],
                [f"the bytes differ: whitespace {where}; only the exact signed bytes are "
                 f"alert {alert_id}"])
    data = raw.strip().encode("utf-8")
    try:
        alert = parse_alert(data, strict=False).alert
    except CapError:
        result = checker.check_text(raw.strip(), hosts)
        return _never_authentic(checker, result, "the pasted CAP cannot be read")
    original = checker.store.find(alert.sender, alert.identifier)
    if original is not None:
        diffs = cap_differences(alert, original.cap)
        return checker.altered_reference(
            original.id, "cap", diffs or [Difference("cap", "(formatting)", "(exact bytes)")],
            [f"the CAP names {alert.sender} / {alert.identifier}, logged as alert "
             f"{original.id} with different bytes: this copy was changed after signing"])
    words = "\n".join(t for _, t in info_text_fields(alert))
    sender = next((i.sender_name for i in alert.info if i.sender_name), None)
    result = checker.check_text(f"{sender}\n{words}" if sender else words, hosts)
    result.input_kind = "cap"
    return _never_authentic(checker, result, "these CAP bytes are not logged: no issuer "
                            "signed this document")


def _check_statement(checker: Checker, raw: str) -> CheckResult:
    """A pasted signed statement: authentic (or outdated) only as the exact logged bytes."""
    text = raw.strip()
    lines = dict(line.split(" ", 1) for line in text.splitlines()[1:7] if " " in line)
    digest = lines.get("sha256", "")
    record = checker.store.get(digest[:32]) if re.fullmatch(r"[0-9a-f]{64}", digest) else None
    if record is None and "sender" in lines and "identifier" in lines:
        record = checker.store.find(lines["sender"], lines["identifier"])
    if record is None:
        return checker.unverifiable("statement", "no logged alert matches this signed statement")
    if raw.encode("utf-8") == record.statement or (text + "\n").encode() == record.statement:
        return checker.check_alert_id(record.id, "statement")
    logged = record.statement.decode("utf-8", "replace").strip().splitlines()
    pasted = text.splitlines()
    diffs = [Difference("statement", p or "—", q or "—")
             for p, q in itertools.zip_longest(pasted, logged, fillvalue="") if p != q]
    return checker.altered_reference(
        record.id, "statement", diffs[:20] or [Difference("statement", "(formatting)",
                                                          "(exact bytes)")],
        [f"this statement is not the one logged with alert {record.id}: it was changed"])


def _never_authentic(checker: Checker, result: CheckResult, note: str) -> CheckResult:
    """A CAP document whose exact bytes are not logged is never authentic (or outdated)."""
    result.input_kind = "cap"
    if result.verdict not in ("authentic", "outdated"):
        result.evidence.notes.append(note)
        return result
    alert = result.evidence.alerts.get("match") or {}
    record = checker.store.get(alert.get("id", ""))
    if record is None:
        return checker.unverifiable("cap", note)
    return checker.altered_reference(
        record.id, "cap", [Difference("cap", "(other bytes)", "(the signed bytes)")],
        [note, f"its words match logged alert {record.id}, whose signed bytes differ"])


def cap_differences(pasted: Alert, original_cap: bytes) -> list[Difference]:
    """The CAP fields in which a pasted document differs from the logged one (by path)."""
    try:
        original = parse_alert(original_cap, strict=False).alert
    except CapError:
        return []
    out: list[Difference] = []
    _diff(msgspec.to_builtins(pasted), msgspec.to_builtins(original), "", out)
    return out[:40]


def _diff(a: Any, b: Any, path: str, out: list[Difference]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in dict.fromkeys([*b, *a]):
            _diff(a.get(key), b.get(key), f"{path}.{key}" if path else str(key), out)
    elif isinstance(a, list | tuple) and isinstance(b, list | tuple):
        for k in range(max(len(a), len(b))):
            _diff(a[k] if k < len(a) else None, b[k] if k < len(b) else None, f"{path}[{k}]",
                  out)
    elif a != b:
        out.append(Difference("cap", f"{path}: {_short(a)}", f"{path}: {_short(b)}"))


def _short(value: Any) -> str:
    text = "—" if value is None else str(value)
    return text if len(text) <= 120 else text[:117] + "…"


def _unusable(checker: Checker, note: str) -> CheckResult:
    return checker.unverifiable("proof-bundle", note)

"""The organisations' data in their own SQLite file (``DATA_DIR/orgs.sqlite3``).

Contract (``tests/org/test_store.py``):

* **Private to its organisation.** Every method that reads or changes people, messages,
  answers, deliveries or the audit log takes the organisation's id and touches only its
  rows: a person id of another organisation is "not found", never someone else's person.
* **Audited in the same transaction.** Every change an admin (or a rule, or the CLI) makes
  writes its audit entry in the transaction that makes the change: no change without its
  entry, no entry without its change. The audit log is append-only (SQL triggers refuse
  UPDATE and DELETE) and hash-chained per organisation (each entry's ``chain`` is SHA-256
  over the previous one and this entry), so a removed or edited entry shows. Entries hold
  ids and counts, never a person's name, note or place.
* **Secrets hashed.** Enrolment and check-in tokens, session tokens and recovery codes are
  stored as SHA-256 only (:mod:`tocsin.org.tokens`).
* **Answers once.** :meth:`OrgStore.record_answers` stores the first answer of a person to
  a check-in; any later one is refused (the token is spent), in one transaction per batch.
* **Durable.** WAL with ``synchronous=FULL``: a change is on disk before it is reported.
* **Deleting deletes.** Deleting a person removes their row, answers, deliveries and
  check-in tokens; ``secure_delete`` overwrites the bytes and the WAL is truncated.

Refusals (a wrong organisation, no session, a forged token) are kept apart from the audit
log, in a bounded table (:data:`MAX_REFUSALS` per organisation), so that strangers cannot
fill the disk or the owner's audit log.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tocsin.org.model import (
    Admin,
    Answer,
    AuditEntry,
    DeliveryStatus,
    Message,
    Org,
    Person,
    Place,
    Role,
)
from tocsin.org.tokens import new_id, new_token, normalise_code, token_hash
from tocsin.trust.note import Signer

FILE_NAME = "orgs.sqlite3"
MAX_REFUSALS = 10_000
ENROL_TTL_SECS = 7 * 24 * 3600.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orgs (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, created REAL NOT NULL, skey TEXT NOT NULL,
    vkey TEXT NOT NULL, retention_days INTEGER, rule_enabled INTEGER NOT NULL DEFAULT 0,
    rule_text TEXT NOT NULL DEFAULT '', reminder_minutes INTEGER, escalate_minutes INTEGER);
CREATE TABLE IF NOT EXISTS admins (
    id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id), email TEXT NOT NULL,
    role TEXT NOT NULL, created REAL NOT NULL, enrol_hash BLOB UNIQUE, enrol_expires REAL,
    UNIQUE (org_id, email));
CREATE TABLE IF NOT EXISTS credentials (
    id BLOB PRIMARY KEY, admin_id TEXT NOT NULL REFERENCES admins(id), public_key BLOB NOT NULL,
    sign_count INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS recovery_codes (
    admin_id TEXT NOT NULL REFERENCES admins(id), hash BLOB NOT NULL, used REAL,
    PRIMARY KEY (admin_id, hash));
CREATE TABLE IF NOT EXISTS sessions (
    hash BLOB PRIMARY KEY, admin_id TEXT NOT NULL REFERENCES admins(id), csrf TEXT NOT NULL,
    expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS people (
    id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id), ikey TEXT NOT NULL,
    ref TEXT NOT NULL, name TEXT NOT NULL, language TEXT NOT NULL, channels TEXT NOT NULL,
    places TEXT NOT NULL, groups_ TEXT NOT NULL, contact TEXT NOT NULL,
    UNIQUE (org_id, ikey));
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id), created REAL NOT NULL,
    author TEXT NOT NULL, text TEXT NOT NULL, audience TEXT NOT NULL, note BLOB NOT NULL,
    checkin INTEGER NOT NULL, closed REAL, alert_id TEXT, recipients INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS messages_org ON messages (org_id, created);
CREATE TABLE IF NOT EXISTS checkin_tokens (
    hash BLOB PRIMARY KEY, org_id TEXT NOT NULL, message_id TEXT NOT NULL, person_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS checkin_person ON checkin_tokens (person_id);
CREATE TABLE IF NOT EXISTS answers (
    org_id TEXT NOT NULL, message_id TEXT NOT NULL, person_id TEXT NOT NULL, answer TEXT NOT NULL,
    note TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (message_id, person_id));
CREATE TABLE IF NOT EXISTS deliveries (
    org_id TEXT NOT NULL, message_id TEXT NOT NULL, person_id TEXT NOT NULL, channel TEXT NOT NULL,
    status TEXT NOT NULL, detail TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (message_id, person_id, channel));
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, org_id TEXT NOT NULL, at REAL NOT NULL,
    actor TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL, chain TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_org ON audit (org_id, seq);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS refusals (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, org_id TEXT NOT NULL, at REAL NOT NULL,
    actor TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS followups (
    org_id TEXT NOT NULL, message_id TEXT NOT NULL, person_id TEXT NOT NULL, kind TEXT NOT NULL,
    at REAL NOT NULL, PRIMARY KEY (message_id, person_id, kind));
CREATE TABLE IF NOT EXISTS positions (name TEXT PRIMARY KEY, event_id INTEGER NOT NULL);
"""


class StoreConflict(ValueError):
    """A change that would break a rule of the store (a taken email, a spent token)."""


@dataclass(frozen=True, slots=True)
class CheckinTarget:
    """What a check-in token names: one person, one request, one organisation."""

    org_id: str
    message_id: str
    person_id: str


@dataclass(frozen=True, slots=True)
class Credential:
    id: bytes
    admin_id: str
    public_key: bytes
    sign_count: int


def person_key(person: Person) -> str:
    """A person's identity in its organisation: the CSV id, else name + phone + email."""
    if person.ref:
        return "ref:" + person.ref
    return "auto:" + "|".join((person.name.casefold(), person.channels.get("sms", ""),
                                person.channels.get("email", "").casefold()))


class OrgStore:
    """Every organisation's records in one SQLite file; all access scoped (module docstring)."""

    def __init__(self, path: Path, *, clock: Any = time.time) -> None:
        self.path = path
        self.clock = clock
        if not path.exists():  # it holds people's data and the organisations' signing keys
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA secure_delete=ON")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._conn.execute(sql, args).fetchall())

    # -- audit ---------------------------------------------------------------

    def _audit(self, conn: sqlite3.Connection, org_id: str, actor: str, action: str,
               detail: dict[str, Any]) -> None:
        at = self.clock()
        body = json.dumps(detail, sort_keys=True, ensure_ascii=False)
        row = conn.execute("SELECT chain FROM audit WHERE org_id = ? ORDER BY seq DESC LIMIT 1",
                           (org_id,)).fetchone()
        previous = "" if row is None else str(row[0])
        chain = hashlib.sha256(
            json.dumps([previous, org_id, at, actor, action, body], ensure_ascii=False).encode()
        ).hexdigest()
        conn.execute("INSERT INTO audit (org_id, at, actor, action, detail, chain) "
                     "VALUES (?, ?, ?, ?, ?, ?)", (org_id, at, actor, action, body, chain))

    def audit(self, org_id: str, actor: str, action: str, detail: dict[str, Any]) -> None:
        """Record an action that changes nothing in the store (an export, a read of the log)."""
        with self._tx() as conn:
            self._audit(conn, org_id, actor, action, detail)

    def audit_entries(self, org_id: str, after: int = 0, limit: int = 100_000) -> list[AuditEntry]:
        rows = self._read("SELECT seq, org_id, at, actor, action, detail, chain FROM audit "
                          "WHERE org_id = ? AND seq > ? ORDER BY seq LIMIT ?", (org_id, after, limit))
        return [AuditEntry(int(r[0]), str(r[1]), float(r[2]), str(r[3]), str(r[4]), str(r[5]),
                           str(r[6])) for r in rows]

    def audit_intact(self, org_id: str) -> bool:
        """Whether the organisation's audit chain recomputes from its first entry to its last."""
        previous = ""
        for e in self.audit_entries(org_id):
            chain = hashlib.sha256(json.dumps([previous, e.org_id, e.at, e.actor, e.action, e.detail],
                                              ensure_ascii=False).encode()).hexdigest()
            if chain != e.chain:
                return False
            previous = chain
        return True

    def refuse(self, org_id: str, actor: str, reason: str) -> None:
        """Keep a refused attempt (bounded; the oldest are dropped past MAX_REFUSALS)."""
        with self._tx() as conn:
            conn.execute("INSERT INTO refusals (org_id, at, actor, reason) VALUES (?, ?, ?, ?)",
                         (org_id, self.clock(), actor, reason[:300]))
            conn.execute("DELETE FROM refusals WHERE org_id = ? AND seq <= (SELECT MAX(seq) FROM "
                         "refusals WHERE org_id = ?) - ?", (org_id, org_id, MAX_REFUSALS))

    def refusals(self, org_id: str) -> list[tuple[float, str, str]]:
        rows = self._read("SELECT at, actor, reason FROM refusals WHERE org_id = ? ORDER BY seq",
                          (org_id,))
        return [(float(r[0]), str(r[1]), str(r[2])) for r in rows]

    # -- organisations and admins ------------------------------------------------

    def create_org(self, name: str, signer_for: Any, admin_email: str,
                   actor: str = "cli") -> tuple[Org, Admin, str]:
        """A new organisation with its signing key and an owner to enrol; the enrolment token."""
        org_id = new_id()
        signer: Signer = signer_for(org_id)
        now = self.clock()
        with self._tx() as conn:
            conn.execute("INSERT INTO orgs (id, name, created, skey, vkey) VALUES (?, ?, ?, ?, ?)",
                         (org_id, name, now, signer.skey, signer.verifier().vkey))
            self._audit(conn, org_id, actor, "org.create", {"org": org_id})
            admin, token = self._add_admin(conn, org_id, admin_email, Role.OWNER, actor)
        org = self.org(org_id)
        assert org is not None
        return org, admin, token

    def _add_admin(self, conn: sqlite3.Connection, org_id: str, email: str, role: Role,
                   actor: str) -> tuple[Admin, str]:
        admin_id, token, now = new_id(), new_token(), self.clock()
        try:
            conn.execute("INSERT INTO admins (id, org_id, email, role, created, enrol_hash, "
                         "enrol_expires) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (admin_id, org_id, email, role.value, now, token_hash(token),
                          now + ENROL_TTL_SECS))
        except sqlite3.IntegrityError:
            raise StoreConflict(f"{email} is already an admin of this organisation") from None
        self._audit(conn, org_id, actor, "admin.invite", {"admin": admin_id, "role": role.value})
        return Admin(admin_id, org_id, email, role, now, False), token

    def add_admin(self, org_id: str, email: str, role: Role, actor: str) -> tuple[Admin, str]:
        with self._tx() as conn:
            return self._add_admin(conn, org_id, email, role, actor)

    def org(self, org_id: str) -> Org | None:
        rows = self._read("SELECT id, name, created, vkey, retention_days, rule_enabled, rule_text, skey, "
                          "reminder_minutes, escalate_minutes FROM orgs WHERE id = ?", (org_id,))
        if not rows:
            return None
        r = rows[0]
        name = str(r[7]).split("+")[2]
        return Org(str(r[0]), str(r[1]), float(r[2]), name, str(r[3]),
                   None if r[4] is None else int(r[4]), bool(r[5]), str(r[6]),
                   None if r[8] is None else int(r[8]), None if r[9] is None else int(r[9]))

    def orgs(self) -> list[Org]:
        return [o for (oid,) in self._read("SELECT id FROM orgs ORDER BY created")
                if (o := self.org(str(oid))) is not None]

    def signer(self, org_id: str) -> Signer:
        rows = self._read("SELECT skey FROM orgs WHERE id = ?", (org_id,))
        return Signer.from_skey(str(rows[0][0]))

    def set_settings(self, org_id: str, actor: str, *, retention_days: int | None,
                     rule_enabled: bool, rule_text: str, reminder_minutes: int | None = None,
                     escalate_minutes: int | None = None) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE orgs SET retention_days = ?, rule_enabled = ?, rule_text = ?, "
                         "reminder_minutes = ?, escalate_minutes = ? WHERE id = ?",
                         (retention_days, int(rule_enabled), rule_text, reminder_minutes,
                          escalate_minutes, org_id))
            self._audit(conn, org_id, actor, "settings.change",
                        {"retention_days": retention_days, "rule_enabled": rule_enabled,
                         "reminder_minutes": reminder_minutes, "escalate_minutes": escalate_minutes})

    def _admin_row(self, row: Sequence[Any]) -> Admin:
        return Admin(str(row[0]), str(row[1]), str(row[2]), Role(str(row[3])), float(row[4]),
                     bool(row[5]))

    _ADMIN = ("SELECT a.id, a.org_id, a.email, a.role, a.created, "
              "EXISTS (SELECT 1 FROM credentials c WHERE c.admin_id = a.id) FROM admins a ")

    def admin(self, admin_id: str) -> Admin | None:
        rows = self._read(self._ADMIN + "WHERE a.id = ?", (admin_id,))
        return self._admin_row(rows[0]) if rows else None

    def admins(self, org_id: str) -> list[Admin]:
        return [self._admin_row(r) for r in self._read(self._ADMIN + "WHERE a.org_id = ?", (org_id,))]

    def admin_by_enrolment(self, token: str) -> Admin | None:
        rows = self._read(self._ADMIN + "WHERE a.enrol_hash = ? AND a.enrol_expires > ?",
                          (token_hash(token), self.clock()))
        return self._admin_row(rows[0]) if rows else None

    def enrol(self, token: str, credential: Credential, codes: Iterable[str]) -> Admin:
        """Spend the enrolment token: keep the passkey and the recovery codes (hashed)."""
        with self._tx() as conn:
            row = conn.execute("SELECT id, org_id FROM admins WHERE enrol_hash = ? AND enrol_expires > ?",
                               (token_hash(token), self.clock())).fetchone()
            if row is None:
                raise StoreConflict("this enrolment link is spent or expired")
            admin_id, org_id = str(row[0]), str(row[1])
            conn.execute("UPDATE admins SET enrol_hash = NULL, enrol_expires = NULL WHERE id = ?",
                         (admin_id,))
            self._add_credential(conn, admin_id, credential)
            self._set_codes(conn, admin_id, codes)
            self._audit(conn, org_id, admin_id, "admin.enrol", {"admin": admin_id})
        admin = self.admin(admin_id)
        assert admin is not None
        return admin

    def _add_credential(self, conn: sqlite3.Connection, admin_id: str, credential: Credential) -> None:
        try:
            conn.execute("INSERT INTO credentials (id, admin_id, public_key, sign_count, created) "
                         "VALUES (?, ?, ?, ?, ?)", (credential.id, admin_id, credential.public_key,
                                                    credential.sign_count, self.clock()))
        except sqlite3.IntegrityError:
            raise StoreConflict("this passkey is already registered") from None

    def add_credential(self, admin: Admin, credential: Credential) -> None:
        with self._tx() as conn:
            self._add_credential(conn, admin.id, credential)
            self._audit(conn, admin.org_id, admin.id, "admin.passkey_add", {"admin": admin.id})

    def _set_codes(self, conn: sqlite3.Connection, admin_id: str, codes: Iterable[str]) -> None:
        conn.execute("DELETE FROM recovery_codes WHERE admin_id = ?", (admin_id,))
        conn.executemany("INSERT INTO recovery_codes (admin_id, hash) VALUES (?, ?)",
                         [(admin_id, token_hash(normalise_code(c))) for c in codes])

    def credential(self, credential_id: bytes) -> Credential | None:
        rows = self._read("SELECT id, admin_id, public_key, sign_count FROM credentials WHERE id = ?",
                          (credential_id,))
        if not rows:
            return None
        r = rows[0]
        return Credential(bytes(r[0]), str(r[1]), bytes(r[2]), int(r[3]))

    def credential_ids(self, admin_id: str) -> list[bytes]:
        return [bytes(r[0]) for r in self._read("SELECT id FROM credentials WHERE admin_id = ?",
                                                (admin_id,))]

    def update_sign_count(self, credential_id: bytes, count: int) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE credentials SET sign_count = ? WHERE id = ?", (count, credential_id))

    def use_recovery_code(self, org_id: str, email: str, code: str) -> Admin | None:
        """Spend one recovery code of the admin with this email; the admin, or None."""
        with self._tx() as conn:
            row = conn.execute("SELECT id FROM admins WHERE org_id = ? AND email = ?",
                               (org_id, email)).fetchone()
            if row is None:
                return None
            admin_id = str(row[0])
            cur = conn.execute("UPDATE recovery_codes SET used = ? WHERE admin_id = ? AND hash = ? "
                               "AND used IS NULL", (self.clock(), admin_id,
                                                    token_hash(normalise_code(code))))
            if cur.rowcount != 1:
                return None
            left = conn.execute("SELECT COUNT(*) FROM recovery_codes WHERE admin_id = ? AND used IS NULL",
                                (admin_id,)).fetchone()[0]
            self._audit(conn, org_id, admin_id, "admin.recover", {"admin": admin_id, "codes_left": left})
        return self.admin(admin_id)

    # -- sessions --------------------------------------------------------------

    def create_session(self, admin_id: str, ttl: float) -> tuple[str, str]:
        token, csrf = new_token(), new_token()
        with self._tx() as conn:
            conn.execute("DELETE FROM sessions WHERE expires <= ?", (self.clock(),))
            conn.execute("INSERT INTO sessions (hash, admin_id, csrf, expires) VALUES (?, ?, ?, ?)",
                         (token_hash(token), admin_id, csrf, self.clock() + ttl))
        return token, csrf

    def session(self, token: str) -> tuple[Admin, str] | None:
        rows = self._read("SELECT admin_id, csrf FROM sessions WHERE hash = ? AND expires > ?",
                          (token_hash(token), self.clock()))
        if not rows:
            return None
        admin = self.admin(str(rows[0][0]))
        return None if admin is None else (admin, str(rows[0][1]))

    def end_session(self, token: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM sessions WHERE hash = ?", (token_hash(token),))

    # -- people ----------------------------------------------------------------

    @staticmethod
    def _person_row(r: Sequence[Any]) -> Person:
        places = tuple(Place(str(p[0]), str(p[1])) for p in json.loads(r[6]))
        return Person(id=str(r[0]), org_id=str(r[1]), ref=str(r[2]), name=str(r[3]),
                      language=str(r[4]), channels=dict(json.loads(r[5])), places=places,
                      groups=tuple(json.loads(r[7])), contact=str(r[8]))

    _PERSON = "SELECT id, org_id, ref, name, language, channels, places, groups_, contact FROM people "

    def save_people(self, org_id: str, people: Sequence[Person], actor: str,
                    action: str = "people.import") -> tuple[int, int]:
        """Insert new people, update those already known (same :func:`person_key`): (new, updated)."""
        created = updated = 0
        with self._tx() as conn:
            for p in people:
                values = (p.ref, p.name, p.language, json.dumps(p.channels, ensure_ascii=False),
                          json.dumps([[pl.label, pl.text] for pl in p.places]),
                          json.dumps(list(p.groups), ensure_ascii=False), p.contact)
                key = person_key(p)
                cur = conn.execute("UPDATE people SET ref = ?, name = ?, language = ?, channels = ?, "
                                   "places = ?, groups_ = ?, contact = ? WHERE org_id = ? AND ikey = ?",
                                   (*values, org_id, key))
                if cur.rowcount:
                    updated += 1
                else:
                    conn.execute("INSERT INTO people (id, org_id, ikey, ref, name, language, channels, "
                                 "places, groups_, contact) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                 (p.id or new_id(), org_id, key, *values))
                    created += 1
            self._audit(conn, org_id, actor, action, {"created": created, "updated": updated})
        return created, updated

    def people(self, org_id: str) -> list[Person]:
        return [self._person_row(r) for r in self._read(self._PERSON + "WHERE org_id = ? ORDER BY rowid",
                                                        (org_id,))]

    def people_by_ids(self, org_id: str, ids: Iterable[str]) -> list[Person]:
        wanted = list(ids)
        found: list[Person] = []
        for n in range(0, len(wanted), 500):
            chunk = wanted[n:n + 500]
            marks = ",".join("?" * len(chunk))
            found.extend(self._person_row(r) for r in self._read(
                self._PERSON + f"WHERE org_id = ? AND id IN ({marks})", (org_id, *chunk)))
        return found

    def person(self, org_id: str, person_id: str) -> Person | None:
        rows = self._read(self._PERSON + "WHERE org_id = ? AND id = ?", (org_id, person_id))
        return self._person_row(rows[0]) if rows else None

    def person_keys(self, org_id: str) -> set[str]:
        return {str(r[0]) for r in self._read("SELECT ikey FROM people WHERE org_id = ?", (org_id,))}

    def delete_person(self, org_id: str, person_id: str, actor: str) -> bool:
        """Delete the person and everything about them (answers, deliveries, tokens)."""
        with self._tx() as conn:
            cur = conn.execute("DELETE FROM people WHERE org_id = ? AND id = ?", (org_id, person_id))
            if cur.rowcount == 0:
                return False
            for table in ("answers", "deliveries", "checkin_tokens", "followups"):
                conn.execute(f"DELETE FROM {table} WHERE org_id = ? AND person_id = ?",  # noqa: S608
                             (org_id, person_id))
            self._audit(conn, org_id, actor, "person.delete", {"person": person_id})
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return True

    # -- messages and check-ins ------------------------------------------------

    def add_message(self, message: Message, tokens: Sequence[tuple[str, bytes]], actor: str) -> None:
        """Store a message with its recipients' check-in token hashes ``(person id, hash)``."""
        with self._tx() as conn:
            conn.execute("INSERT INTO messages (id, org_id, created, author, text, audience, note, "
                         "checkin, closed, alert_id, recipients) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (message.id, message.org_id, message.created, message.author, message.text,
                          message.audience, message.note, int(message.checkin), message.closed,
                          message.alert_id, message.recipients))
            conn.executemany("INSERT INTO checkin_tokens (hash, org_id, message_id, person_id) "
                             "VALUES (?, ?, ?, ?)",
                             [(h, message.org_id, message.id, pid) for pid, h in tokens])
            self._audit(conn, message.org_id, actor, "message.send",
                        {"message": message.id, "recipients": message.recipients,
                         "checkin": message.checkin, "alert": message.alert_id})

    @staticmethod
    def _message_row(r: Sequence[Any]) -> Message:
        return Message(id=str(r[0]), org_id=str(r[1]), created=float(r[2]), author=str(r[3]),
                       text=str(r[4]), audience=str(r[5]), note=bytes(r[6]), checkin=bool(r[7]),
                       closed=None if r[8] is None else float(r[8]),
                       alert_id=None if r[9] is None else str(r[9]), recipients=int(r[10]))

    _MESSAGE = ("SELECT id, org_id, created, author, text, audience, note, checkin, closed, alert_id, "
                "recipients FROM messages ")

    def message(self, org_id: str, message_id: str) -> Message | None:
        rows = self._read(self._MESSAGE + "WHERE org_id = ? AND id = ?", (org_id, message_id))
        return self._message_row(rows[0]) if rows else None

    def messages(self, org_id: str, limit: int = 100) -> list[Message]:
        return [self._message_row(r) for r in self._read(
            self._MESSAGE + "WHERE org_id = ? ORDER BY created DESC LIMIT ?", (org_id, limit))]

    def open_rule_messages(self) -> list[Message]:
        return [self._message_row(r) for r in self._read(
            self._MESSAGE + "WHERE alert_id IS NOT NULL AND closed IS NULL")]

    def close_message(self, org_id: str, message_id: str, actor: str, reason: str) -> bool:
        with self._tx() as conn:
            cur = conn.execute("UPDATE messages SET closed = ? WHERE org_id = ? AND id = ? AND "
                               "closed IS NULL", (self.clock(), org_id, message_id))
            if cur.rowcount:
                self._audit(conn, org_id, actor, "message.close", {"message": message_id,
                                                                   "reason": reason})
        return cur.rowcount > 0

    def checkin_target(self, token: str) -> CheckinTarget | None:
        rows = self._read("SELECT org_id, message_id, person_id FROM checkin_tokens WHERE hash = ?",
                          (token_hash(token),))
        return CheckinTarget(str(rows[0][0]), str(rows[0][1]), str(rows[0][2])) if rows else None

    def record_answers(self, answers: Sequence[tuple[CheckinTarget, Answer, str, float]]) -> list[bool]:
        """Record each first answer, in one transaction; False for one already answered."""
        results: list[bool] = []
        with self._tx() as conn:
            for target, answer, note, at in answers:
                cur = conn.execute("INSERT OR IGNORE INTO answers (org_id, message_id, person_id, "
                                   "answer, note, at) VALUES (?, ?, ?, ?, ?, ?)",
                                   (target.org_id, target.message_id, target.person_id, answer.value,
                                    note, at))
                results.append(cur.rowcount == 1)
        return results

    def answers(self, org_id: str, message_id: str) -> dict[str, tuple[Answer, str, float]]:
        rows = self._read("SELECT person_id, answer, note, at FROM answers WHERE org_id = ? AND "
                          "message_id = ?", (org_id, message_id))
        return {str(r[0]): (Answer(str(r[1])), str(r[2]), float(r[3])) for r in rows}

    def recipients(self, org_id: str, message_id: str) -> list[str]:
        """Each recipient once (a reminder gives a person a second link to the same request)."""
        return [str(r[0]) for r in self._read(
            "SELECT person_id FROM checkin_tokens WHERE org_id = ? AND message_id = ? "
            "GROUP BY person_id ORDER BY MIN(rowid)", (org_id, message_id))]

    def open_checkins(self, org_id: str, since: float) -> list[Message]:
        return [self._message_row(r) for r in self._read(
            self._MESSAGE + "WHERE org_id = ? AND checkin = 1 AND closed IS NULL AND created >= ?",
            (org_id, since))]

    def followed_up(self, org_id: str, message_id: str, kind: str) -> set[str]:
        return {str(r[0]) for r in self._read("SELECT person_id FROM followups WHERE org_id = ? AND "
                                              "message_id = ? AND kind = ?", (org_id, message_id, kind))}

    def record_followups(self, org_id: str, message_id: str, kind: str, person_ids: Sequence[str],
                         tokens: Sequence[tuple[str, bytes]], actor: str) -> None:
        """Mark people reminded or escalated (once each), with any new check-in link hashes."""
        now = self.clock()
        with self._tx() as conn:
            conn.executemany("INSERT OR IGNORE INTO followups (org_id, message_id, person_id, kind, at) "
                             "VALUES (?, ?, ?, ?, ?)",
                             [(org_id, message_id, p, kind, now) for p in person_ids])
            conn.executemany("INSERT INTO checkin_tokens (hash, org_id, message_id, person_id) "
                             "VALUES (?, ?, ?, ?)", [(h, org_id, message_id, p) for p, h in tokens])
            self._audit(conn, org_id, actor, f"checkin.{kind}", {"message": message_id,
                                                                 "people": len(person_ids)})

    # -- deliveries ------------------------------------------------------------

    def set_deliveries(self, rows: Sequence[tuple[str, str, str, str, DeliveryStatus, str]]) -> None:
        """``(org, message, person, channel, status, detail)`` rows, upserted in one transaction."""
        now = self.clock()
        with self._tx() as conn:
            conn.executemany(
                "INSERT INTO deliveries (org_id, message_id, person_id, channel, status, detail, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (message_id, person_id, channel) DO UPDATE "
                "SET status = excluded.status, detail = excluded.detail, at = excluded.at",
                [(o, m, p, c, s.value, d, now) for o, m, p, c, s, d in rows])

    def deliveries(self, org_id: str, message_id: str) -> dict[str, dict[str, str]]:
        """person id -> channel -> status."""
        out: dict[str, dict[str, str]] = {}
        for pid, channel, status in self._read(
                "SELECT person_id, channel, status FROM deliveries WHERE org_id = ? AND message_id = ?",
                (org_id, message_id)):
            out.setdefault(str(pid), {})[str(channel)] = str(status)
        return out

    # -- retention and positions -----------------------------------------------

    def purge(self, now: float) -> dict[str, int]:
        """Delete answers, deliveries and check-in tokens of messages older than each org's
        retention; returns the messages purged per organisation (audited)."""
        purged: dict[str, int] = {}
        with self._tx() as conn:
            for org_id, days in conn.execute("SELECT id, retention_days FROM orgs WHERE "
                                             "retention_days IS NOT NULL").fetchall():
                cutoff = now - int(days) * 86400.0
                ids = [str(r[0]) for r in conn.execute(
                    "SELECT id FROM messages WHERE org_id = ? AND created < ? AND (EXISTS (SELECT 1 "
                    "FROM checkin_tokens t WHERE t.message_id = messages.id) OR EXISTS (SELECT 1 FROM "
                    "deliveries d WHERE d.message_id = messages.id) OR EXISTS (SELECT 1 FROM answers a "
                    "WHERE a.message_id = messages.id))", (org_id, cutoff))]
                for mid in ids:
                    for table in ("answers", "deliveries", "checkin_tokens", "followups"):
                        conn.execute(f"DELETE FROM {table} WHERE org_id = ? AND message_id = ?",  # noqa: S608
                                     (org_id, mid))
                if ids:
                    purged[str(org_id)] = len(ids)
                    self._audit(conn, str(org_id), "retention", "retention.purge",
                                {"messages": len(ids), "days": int(days)})
        if purged:
            with self._lock:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return purged

    def position(self, name: str) -> int | None:
        rows = self._read("SELECT event_id FROM positions WHERE name = ?", (name,))
        return int(rows[0][0]) if rows else None

    def save_position(self, name: str, event_id: int) -> None:
        with self._tx() as conn:
            conn.execute("INSERT INTO positions (name, event_id) VALUES (?, ?) ON CONFLICT (name) "
                         "DO UPDATE SET event_id = excluded.event_id", (name, event_id))

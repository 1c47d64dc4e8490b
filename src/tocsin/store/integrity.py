"""Is this data directory's store the log its key signed? Checked before the hub writes anything.

The log key signs checkpoints; a checkpoint is a promise that the tree of
that size, with that root, exists and only grows. A store that is lost,
emptied, restored from an older backup or damaged would — if the hub simply
started — become a *new* tree signed by the same key: two inconsistent
checkpoints under one key, a fork every monitor would flag and every client
would have to distrust.

So the hub keeps the last checkpoint it signed outside the database
(``DATA_DIR/log.checkpoint``, :func:`tocsin.logserver.write_checkpoint_file`)
and :func:`preflight` refuses to start unless the store holds at least that
tree, with that root. Witness state kept in the data directory (the demo
witness) is further evidence. Every refusal is one :class:`StartupRefused`
line naming the file and what to do, raised before anything is written:
the database is opened read-only (immutable when no write-ahead log is
present), and no key, public key or checkpoint is created.

What start-up reads is bounded, whatever the history: the file's header and length, the
schema, the log's size and the O(log n) stored hashes under each checkpoint's root. Damage
there is refused before anything is written; a page damaged elsewhere is found by the
whole-file scan the hub runs beside serving (:mod:`tocsin.store.scan`), which then stops
every write.

:func:`check_store` is the thorough offline check behind ``tocsin store
check``: SQLite's ``integrity_check``, every leaf rehashed and the whole tree
rebuilt and compared with the stored hashes, every stored checkpoint and the
outside file verified against the rebuilt tree, every alert against its leaf.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tocsin.logserver import CHECKPOINT_FILE
from tocsin.store.base import StoreError
from tocsin.store.sqlite import SqlHashReader
from tocsin.tlog.checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointSignatureError,
    note_text,
    open_checkpoint,
    parse_checkpoint,
)
from tocsin.tlog.entry import EntryError, alert_entry
from tocsin.tlog.tree import HashReader, MemoryHashStore, TlogError, leaf_hash, tree_root
from tocsin.trust.note import NoteError, Signer, Verifier

DB_FILE = "tocsin.sqlite3"
KEY_FILE = "log.key"
PUB_FILE = "log.pub"
WITNESS_DB = Path("witness") / "witness.sqlite3"
RESTORE = "restore it from a backup"
NEW_LOG = "a new log needs a new data directory, origin and key (docs/operations.md)"


class StartupRefused(Exception):
    """The hub must not serve this data directory; the message is one line: the file and what to do."""


@contextlib.contextmanager
def open_readonly(db: Path) -> Iterator[sqlite3.Connection]:
    """A connection that cannot change ``db``.

    Without a write-ahead log beside it the file is the whole database, so it
    is opened ``immutable`` (SQLite creates no -wal or -shm file). With one
    (the hub is running, or was killed) it is opened read-only, which lets
    SQLite read the log and see a consistent snapshot; it may create or
    update the shared-memory index, never the data.
    """
    wal = db.with_name(db.name + "-wal")
    mode = "ro" if wal.exists() else "ro&immutable=1"  # a -wal file: a writer may be running
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode={mode}", uri=True)
    try:
        yield conn
    finally:
        conn.close()


def _store_state(db: Path) -> str:
    if not db.exists():
        return "missing"
    return "empty" if db.stat().st_size == 0 else "present"


def _unverified_size(path: Path) -> int:
    try:
        return parse_checkpoint(note_text(path.read_bytes())).size
    except (OSError, CheckpointError):
        return -1


def read_log_key(path: Path, origin: str) -> Signer:
    """The log signing key at ``path``, or a :class:`StartupRefused` naming it."""
    try:
        signer = Signer.from_skey(path.read_text(encoding="utf-8").strip())
    except (OSError, UnicodeDecodeError, NoteError) as exc:
        raise StartupRefused(f"{path}: not a usable log signing key ({exc}); {RESTORE} — "
                             "a new key would fork this log") from None
    if signer.name != origin:
        raise StartupRefused(f"{path} signs for origin {signer.name!r}, not {origin!r}: set log_origin "
                             f"back to {signer.name!r} (an origin never changes for a log), or {NEW_LOG}")
    return signer


def read_checkpoint_file(path: Path, verifier: Verifier, origin: str) -> Checkpoint | None:
    """The outside-the-database checkpoint, verified with the log key (None if there is none)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StartupRefused(f"{path}: cannot read ({exc.strerror}); fix its permissions") from None
    try:
        return open_checkpoint(data, verifier, origin)[0]
    except CheckpointSignatureError as exc:
        raise StartupRefused(f"{path} does not verify with the log key ({exc}): log.key is not the "
                             "key of this log; restore the matching log.key from a backup") from None
    except CheckpointError as exc:
        raise StartupRefused(f"{path}: damaged ({exc}); {RESTORE}") from None


def preflight(data_dir: Path, origin: str, *, shared_store: bool = False) -> None:
    """Refuse (:class:`StartupRefused`) a data directory the hub must not serve; write nothing.

    Passes for a new, empty data directory (the hub then creates a key and a
    log) and for a store that holds at least the tree of the last checkpoint
    the key signed, with the same root. ``shared_store``: the store is not in the data
    directory (PostgreSQL); only the key and checkpoint files are checked here, the store
    itself once it is open (:func:`tocsin.store.backend.check_shared_store`).
    """
    key_path, pub_path = data_dir / KEY_FILE, data_dir / PUB_FILE
    cp_path, db = data_dir / CHECKPOINT_FILE, data_dir / DB_FILE
    store = "shared" if shared_store else _store_state(db)
    if not key_path.exists():
        evidence = [str(p) for p in (pub_path,) if p.exists()]
        if _unverified_size(cp_path) > 0:
            evidence.append(str(cp_path))
        if store == "present":
            evidence.append(str(db))
        if evidence:
            raise StartupRefused(f"{key_path} is missing but this data directory holds a log "
                                 f"({', '.join(evidence)}): restore log.key from a backup; "
                                 f"a new key would fork the log — {NEW_LOG}")
        return  # a new log: the hub creates its key
    signer = read_log_key(key_path, origin)
    verifier = signer.verifier()
    kept = read_checkpoint_file(cp_path, verifier, origin)
    if kept is None:
        # A key is created with its first checkpoint file, so a key without the file means the
        # file was lost — and with it the only local record of how far the key has signed. An
        # older store would then be continued as if nothing had been published: a fork.
        raise StartupRefused(f"{cp_path} is missing beside {key_path}: it records the last checkpoint "
                             "the key signed; restore it from a backup at least as new as the store. "
                             "A data directory from before log.checkpoint existed is adopted once, "
                             f"explicitly: `tocsin store check {data_dir} --adopt`")
    if pub_path.exists():
        with contextlib.suppress(OSError, UnicodeDecodeError):
            if pub_path.read_text(encoding="utf-8").strip() != verifier.vkey:
                raise StartupRefused(f"{pub_path} is not the public key of log.key: restore the "
                                     "matching pair from a backup")
    if shared_store:
        return
    if store != "present":
        if kept is None:
            raise StartupRefused(f"{db} is {store} and {cp_path}, the record of the last checkpoint "
                                 f"log.key signed, is missing: restore both from a backup; {NEW_LOG}")
        if kept.size > 0:
            raise StartupRefused(f"{db} is {store} but log.key signed a checkpoint of size {kept.size} "
                                 f"({cp_path}): {RESTORE}; starting an empty store under this key "
                                 f"would fork the log — {NEW_LOG}")
        return
    try:
        with open_readonly(db) as conn:
            _check_against(conn, db, data_dir, verifier, origin, kept)
    except sqlite3.DatabaseError as exc:
        raise StartupRefused(f"{db}: damaged ({exc}); keep a copy, run `tocsin store check "
                             f"{data_dir}`, and {RESTORE}") from None


def _check_against(conn: sqlite3.Connection, db: Path, data_dir: Path, verifier: Verifier,
                   origin: str, kept: Checkpoint | None) -> None:
    # Bounded: the header and length, the schema, the log's size and the O(log n) stored
    # hashes under each checkpoint's root — never the whole file (start-up must not grow with
    # the history; the whole-file scan runs beside serving, tocsin.store.scan).
    short = _truncated(db)
    if short:
        raise StartupRefused(f"{db}: damaged ({short}); keep a copy, run `tocsin store check "
                             f"{data_dir}`, and {RESTORE}")
    if not _has_log(conn):
        raise StartupRefused(f"{db} is not a Tocsin store (no log tables): {RESTORE}")
    size = int(conn.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM log_entries").fetchone()[0])
    reader = SqlHashReader(conn)
    row = conn.execute("SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1").fetchone()
    stored: Checkpoint | None = None
    if row is not None:
        try:
            stored = open_checkpoint(bytes(row[1]), verifier, origin)[0]
        except CheckpointError as exc:
            raise StartupRefused(f"{db}: its checkpoint of size {row[0]} does not verify with log.key "
                                 f"({exc}): this store belongs to another log key; restore the "
                                 "matching log.key or store") from None
    kept_path = data_dir / CHECKPOINT_FILE
    for checkpoint, where in ((kept, str(kept_path)), (stored, f"{db} (its own last checkpoint)")):
        if checkpoint is None:
            continue
        if size < checkpoint.size:
            raise StartupRefused(f"{db} holds {size} log entries but log.key signed a checkpoint of "
                                 f"size {checkpoint.size} ({where}): the store is behind what was "
                                 f"published; {RESTORE} that is at least as new — {NEW_LOG}")
        try:
            root = tree_root(checkpoint.size, reader)
        except (TlogError, StoreError) as exc:
            raise StartupRefused(f"{db}: the log's stored hashes are incomplete ({exc}); run "
                                 f"`tocsin store check {data_dir}` and {RESTORE}") from None
        if root != checkpoint.root_hash:
            raise StartupRefused(f"{db} holds a different tree of size {checkpoint.size} than the "
                                 f"checkpoint log.key signed ({where}): {RESTORE}")
    if kept is None and stored is None and size > 0:
        return  # logged before any checkpoint was ever signed: nothing published to contradict
    if kept is None and stored is None:
        raise StartupRefused(f"{kept_path}, the record of the last checkpoint log.key signed, is "
                             f"missing and {db} holds no log: restore both from a backup; {NEW_LOG}")
    _check_witness(data_dir, origin, size, reader, db)


def _truncated(db: Path) -> str:
    """Why the file is shorter than its own header says (empty: it is not, or cannot tell).

    SQLite's header records the database size in pages (valid when the change counter equals
    the version-valid-for number); without a write-ahead log beside it the file holds every
    one of those pages. With a log, pages may still live there: not judged here.
    """
    if db.with_name(db.name + "-wal").exists():
        return ""
    with open(db, "rb") as handle:
        header = handle.read(100)
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        return "not an SQLite database header"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    if pages == 0 or header[24:28] != header[92:96]:
        return ""
    length = db.stat().st_size
    if length < pages * page_size:
        return f"{length} bytes, but its header counts {pages} pages of {page_size}"
    return ""


def _has_log(conn: sqlite3.Connection) -> bool:
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {"log_entries", "log_hashes", "checkpoints"} <= names


def _check_witness(data_dir: Path, origin: str, size: int, reader: HashReader, db: Path | str) -> None:
    """A witness in the data directory (the demo's) must not have cosigned more than we hold."""
    path = data_dir / WITNESS_DB
    if not path.exists() or path.stat().st_size == 0:
        return
    try:
        with open_readonly(path) as conn:
            row = conn.execute("SELECT size, root FROM log_state WHERE origin = ?", (origin,)).fetchone()
    except sqlite3.DatabaseError:
        return  # the witness's own trouble; its state is extra evidence, not a requirement
    if row is None:
        return
    witnessed, root = int(row[0]), bytes(row[1])
    if witnessed > size:
        raise StartupRefused(f"{db} holds {size} log entries but the witness ({path}) cosigned size "
                             f"{witnessed}: the store is behind what was published; {RESTORE}")
    try:
        ours = tree_root(witnessed, reader)
    except (TlogError, StoreError):
        return
    if ours != root:
        raise StartupRefused(f"{db} holds a different tree of size {witnessed} than the witness "
                             f"({path}) cosigned: {RESTORE}")


# -- the thorough check (``tocsin store check``) ------------------------------------------


@dataclass
class StoreReport:
    """What ``tocsin store check`` found: facts it verified and problems (empty: all agree)."""

    facts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


MAX_PROBLEMS = 50


def check_store(data_dir: Path, origin: str | None = None) -> StoreReport:
    """Check everything that must agree in a data directory; read-only.

    ``origin`` defaults to the log key's name. Raises :class:`StartupRefused`
    only when there is nothing to check (no database, unreadable key).
    """
    report = StoreReport()
    db, key_path, cp_path = data_dir / DB_FILE, data_dir / KEY_FILE, data_dir / CHECKPOINT_FILE
    if _store_state(db) != "present":
        raise StartupRefused(f"{db} is {_store_state(db)}: nothing to check")
    verifier: Verifier | None = None
    if key_path.exists():
        signer = read_log_key(key_path, origin or _key_name(key_path))
        verifier, origin = signer.verifier(), signer.name
    elif (data_dir / PUB_FILE).exists():
        try:
            verifier = Verifier.from_vkey((data_dir / PUB_FILE).read_text(encoding="utf-8").strip())
            origin = origin or verifier.name
        except (OSError, UnicodeDecodeError, NoteError) as exc:
            report.problems.append(f"{data_dir / PUB_FILE}: not a verifier key ({exc})")
    else:
        report.problems.append(f"{key_path} and {data_dir / PUB_FILE} are missing: checkpoints "
                               "cannot be verified")
    # Read before the database: beside a running hub the store can only be newer than this.
    try:
        kept: bytes | str = cp_path.read_bytes()
    except FileNotFoundError:
        kept = (f"{cp_path} is missing (the last checkpoint the key signed, kept outside "
                "the database)")
    except OSError as exc:
        kept = f"{cp_path}: cannot read ({exc.strerror})"
    try:
        with open_readonly(db) as conn:
            _check_all(conn, db, report, verifier, origin or "", cp_path, kept)
    except sqlite3.DatabaseError as exc:
        report.problems.append(f"{db}: cannot be read ({exc})")
    if origin and not report.problems:
        # Whatever the hub's own start-up check refuses (the witness's evidence, the key and
        # its public half) is a problem here too, in the same words.
        try:
            preflight(data_dir, origin)
        except StartupRefused as exc:
            report.problems.append(f"tocsin serve would refuse: {exc}")
        except sqlite3.DatabaseError as exc:
            report.problems.append(f"tocsin serve would refuse: a database cannot be read ({exc})")
    return report


def _key_name(path: Path) -> str:
    try:
        return Signer.from_skey(path.read_text(encoding="utf-8").strip()).name
    except (OSError, UnicodeDecodeError, NoteError) as exc:
        raise StartupRefused(f"{path}: not a usable log signing key ({exc})") from None


def _check_all(conn: sqlite3.Connection, db: Path, report: StoreReport, verifier: Verifier | None,
               origin: str, cp_path: Path, kept: bytes | str) -> None:
    problems = report.problems
    conn.execute("BEGIN")  # one snapshot for every query below, even beside a running hub
    try:
        integrity = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
    except sqlite3.DatabaseError as exc:
        integrity = [f"cannot run ({exc})"]
    if integrity == ["ok"]:
        report.facts.append("SQLite integrity_check: ok")
    else:
        problems.extend(f"SQLite integrity_check: {line}" for line in integrity[:MAX_PROBLEMS])
        return  # a damaged file: what follows would only repeat it
    if not _has_log(conn):
        problems.append(f"{db}: not a Tocsin store (no log tables)")
        return
    # Leaf by leaf: rehash every entry, rebuild the tree, compare every stored hash.
    rebuilt = MemoryHashStore()
    size = 0
    for idx, entry in conn.execute("SELECT idx, entry FROM log_entries ORDER BY idx"):
        if idx != size:
            problems.append(f"log entry {size} is missing (next stored is {idx})")
            break
        rebuilt.append([leaf_hash(bytes(entry))])
        size += 1
    stored_count = 0
    for idx, value in conn.execute("SELECT idx, hash FROM log_hashes ORDER BY idx"):
        if len(problems) >= MAX_PROBLEMS:
            break
        if idx >= len(rebuilt):
            problems.append(f"stored hash {idx} is beyond a tree of {size} leaves")
            continue
        if bytes(value) != rebuilt.read_hashes([idx])[0]:
            problems.append(_hash_problem(idx, conn))
        stored_count += 1
    if stored_count < len(rebuilt):
        problems.append(f"{len(rebuilt) - stored_count} stored hashes of the {size}-leaf tree are missing")
    report.facts.append(f"log: {size} entries rehashed, {stored_count} stored hashes compared")
    # Every alert is the leaf it says it is.
    alerts = 0
    for alert_id, cap, statement, index in conn.execute(
            "SELECT id, cap, statement, log_index FROM alerts ORDER BY seq"):
        alerts += 1
        if index is None or not 0 <= int(index) < size:
            problems.append(f"alert {alert_id} has no log leaf (log_index {index})")
            continue
        row = conn.execute("SELECT entry, alert_id FROM log_entries WHERE idx = ?", (index,)).fetchone()
        try:
            same = row is not None and bytes(row[0]) == alert_entry(bytes(statement), bytes(cap))
        except EntryError:
            same = False
        if not same or row[1] != alert_id:
            problems.append(f"alert {alert_id} differs from its log leaf {index}")
    report.facts.append(f"alerts: {alerts} compared with their leaves")
    # Checkpoints: the store's own and the one kept outside it.
    if verifier is None:
        return
    checked = 0
    for cp_size, note in conn.execute("SELECT size, note FROM checkpoints ORDER BY size"):
        checked += 1
        _check_checkpoint(bytes(note), f"stored checkpoint {cp_size}", verifier, origin, rebuilt,
                          size, problems)
    report.facts.append(f"checkpoints: {checked} stored, each verified with the log key and the tree")
    if isinstance(kept, str):
        problems.append(kept)
        return
    if _check_checkpoint(kept, str(cp_path), verifier, origin, rebuilt, size, problems):
        report.facts.append(f"{cp_path}: verified, the store holds its tree")


def _hash_problem(idx: int, conn: sqlite3.Connection) -> str:
    from tocsin.tlog.tree import split_stored_hash_index

    level, n = split_stored_hash_index(idx)
    if level == 0:
        return f"leaf {n}: the stored hash is not the hash of the stored entry"
    return f"stored hash {idx} (level {level}, node {n}) does not match the tree rebuilt from the entries"


def _check_checkpoint(note: bytes, what: str, verifier: Verifier, origin: str, rebuilt: MemoryHashStore,
                      size: int, problems: list[str]) -> bool:
    try:
        checkpoint = open_checkpoint(note, verifier, origin)[0]
    except CheckpointError as exc:
        problems.append(f"{what}: does not verify with the log key ({exc})")
        return False
    if checkpoint.size > size:
        problems.append(f"{what}: size {checkpoint.size} but the store holds only {size} entries "
                        "(the store is behind what the key signed)")
        return False
    if rebuilt.root(checkpoint.size) != checkpoint.root_hash:
        problems.append(f"{what}: its root is not the root of the store's first {checkpoint.size} "
                        "entries")
        return False
    return True


def adopt_checkpoint_file(data_dir: Path, origin: str | None = None) -> Path:
    """Write ``log.checkpoint`` from the store's last checkpoint, for a data directory from
    before the file existed; refuse if the file exists or the store has no verifying checkpoint.

    An explicit, one-time act (``tocsin store check DATA_DIR --adopt``): the hub itself never
    recreates a lost file, because it cannot tell a lost file from a restored older store.
    """
    from tocsin.logserver import write_checkpoint_file

    cp_path, db = data_dir / CHECKPOINT_FILE, data_dir / DB_FILE
    if cp_path.exists():
        raise StartupRefused(f"{cp_path} exists: nothing to adopt")
    from tocsin.trust.note import NoteError, Signer

    key_path = data_dir / KEY_FILE
    try:
        signer = Signer.from_skey(key_path.read_text(encoding="utf-8").strip())
    except (OSError, UnicodeDecodeError, NoteError) as exc:
        raise StartupRefused(f"{key_path}: cannot be read ({exc})") from None
    with open_readonly(db) as conn:
        row = conn.execute("SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1").fetchone()
    if row is None:
        raise StartupRefused(f"{db} holds no signed checkpoint to adopt")
    note = bytes(row[1])
    try:
        open_checkpoint(note, signer.verifier(), origin or signer.name)
    except CheckpointError as exc:
        raise StartupRefused(f"{db}: its last checkpoint does not verify with {key_path} ({exc})") from None
    write_checkpoint_file(cp_path, note)
    return cp_path

"""Which store a hub runs on, chosen by the ``store`` setting, and the checks before it writes.

Empty ``store`` (the default): SQLite in ``DATA_DIR/tocsin.sqlite3``, checked by
:func:`tocsin.store.integrity.preflight` before it is opened. A ``postgresql://`` URL: the
shared PostgreSQL store (:mod:`tocsin.store.postgres`). Its data is not in the data directory,
so once it is open :func:`check_shared_store` holds it to the same rule — never continue a log
the store does not hold: it must contain at least the tree of the last checkpoint the log key
signed (``DATA_DIR/log.checkpoint``), with that root, and a store that holds a log is never
served without the key that signed it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from tocsin.config import Settings
from tocsin.ledger.effects import Effects, Incoming, LedgerView, StateRefusal, StateRules
from tocsin.logserver import CHECKPOINT_FILE
from tocsin.store.base import AlertRecord, SearchText, StorageUnavailable, Store, StoreError
from tocsin.store.integrity import (
    KEY_FILE,
    NEW_LOG,
    RESTORE,
    StartupRefused,
    _check_witness,
    read_checkpoint_file,
    read_log_key,
)
from tocsin.tlog.checkpoint import CheckpointError, open_checkpoint
from tocsin.tlog.tree import TlogError, tree_root

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(url: str) -> bool:
    return url.startswith(POSTGRES_SCHEMES)


class AnotherWriterLeads(StartupRefused):
    """A writer found the shared store led by another live writer (a writer-role process
    then waits as a standby: :mod:`tocsin.bus.standby`)."""


def open_store(settings: Settings, rules: StateRules, *, lead: bool = True,
               text_of: Callable[[AlertRecord], SearchText | None] | None = None,
               opened: Store | None = None) -> Store:
    """The store ``settings.store`` names, opened and checked; :class:`StartupRefused` if unusable.

    With PostgreSQL and ``lead`` (a hub that writes), this process must become the leading
    writer at once; another live writer means it is refused (:class:`AnotherWriterLeads`,
    docs/operations.md). ``opened``: a PostgreSQL store a standby opened and now leads; it is
    checked here under that lead, so nobody else can append while it is checked.
    """
    if opened is not None:
        try:
            check_shared_store(opened, settings.data_dir, settings.log_origin,
                               _where(settings.store))
            backfill = getattr(opened, "backfill_text", None)
            if text_of is not None and backfill is not None:  # as a writer that led at once
                backfill(text_of)
        except StorageUnavailable as exc:
            raise StartupRefused(f"the store {_where(settings.store)} cannot be used ({exc})") from None
        return opened
    if not settings.store:
        from tocsin.store.sqlite import SqliteStore

        try:
            return SqliteStore(settings.db_path, rules=rules, text_of=text_of)
        except sqlite3.DatabaseError as exc:
            raise StartupRefused(f"{settings.db_path}: cannot be opened ({exc}); run `tocsin store "
                                 f"check {settings.data_dir}`") from None
    from tocsin.store.postgres import PostgresStore, redacted

    where = redacted(settings.store)
    try:
        store = PostgresStore(settings.store, rules=rules)
    except StorageUnavailable as exc:
        raise StartupRefused(f"the store {where} cannot be used ({exc}); start PostgreSQL or fix "
                             "the store setting") from None
    try:
        check_shared_store(store, settings.data_dir, settings.log_origin, where)
        if lead and not store.acquire_leadership():
            epoch, holder = store.current_leader()
            raise AnotherWriterLeads(f"another writer leads the store {where} ({holder}, epoch "
                                     f"{epoch}): stop it first, or run this hub with --role "
                                     "writer to wait as a standby")
        if lead and text_of is not None:  # alerts stored before the search history existed
            store.backfill_text(text_of)
    except StorageUnavailable as exc:
        store.close()
        raise StartupRefused(f"the store {where} cannot be used ({exc})") from None
    except BaseException:
        store.close()
        raise
    return store


def _where(dsn: str) -> str:
    from tocsin.store.postgres import redacted

    return redacted(dsn)


def preflight_store(settings: Settings) -> None:
    """Before anything is written to the data directory (demo files included): refuse a shared
    store that does not hold this data directory's log. SQLite: nothing (``preflight`` did it)."""
    if not settings.store:
        return
    from tocsin.store.postgres import PostgresStore, redacted

    where = redacted(settings.store)
    try:
        store = PostgresStore(settings.store, rules=_no_rules, pool_max=1)
    except StorageUnavailable as exc:
        raise StartupRefused(f"the store {where} cannot be used ({exc}); start PostgreSQL or fix "
                             "the store setting") from None
    try:
        check_shared_store(store, settings.data_dir, settings.log_origin, where)
    except StorageUnavailable as exc:
        raise StartupRefused(f"the store {where} cannot be used ({exc})") from None
    finally:
        store.close()


def _no_rules(alert: Incoming, view: LedgerView) -> Effects | StateRefusal:  # pragma: no cover
    raise AssertionError("a preflight store never writes")


def check_shared_store(store: Store, data_dir: Path, origin: str, where: str) -> None:
    """Refuse a shared store that does not hold the log this data directory's key signed."""
    key_path = data_dir / KEY_FILE
    size = store.log_size()
    if not key_path.exists():
        if size > 0:
            raise StartupRefused(f"{key_path} is missing but the store {where} holds a log of {size} "
                                 f"entries: restore log.key from a backup; a new key would fork the "
                                 f"log — {NEW_LOG}")
        return
    verifier = read_log_key(key_path, origin).verifier()
    kept_path = data_dir / CHECKPOINT_FILE
    kept = read_checkpoint_file(kept_path, verifier, origin)
    latest = store.latest_checkpoint()
    stored = None
    if latest is not None:
        try:
            stored = open_checkpoint(latest[1], verifier, origin)[0]
        except CheckpointError as exc:
            raise StartupRefused(f"the store {where}: its checkpoint of size {latest[0]} does not verify "
                                 f"with {key_path} ({exc}): it belongs to another log key") from None
    reader = store.hash_reader()
    for checkpoint, named in ((kept, str(kept_path)), (stored, f"{where} (its own last checkpoint)")):
        if checkpoint is None:
            continue
        if size < checkpoint.size:
            raise StartupRefused(f"the store {where} holds {size} log entries but log.key signed a "
                                 f"checkpoint of size {checkpoint.size} ({named}): the store is behind "
                                 f"what was published; {RESTORE} that is at least as new — {NEW_LOG}")
        try:
            root = tree_root(checkpoint.size, reader)
        except (TlogError, StoreError) as exc:
            raise StartupRefused(f"the store {where}: the log's stored hashes are incomplete ({exc}); "
                                 f"{RESTORE}") from None
        if root != checkpoint.root_hash:
            raise StartupRefused(f"the store {where} holds a different tree of size {checkpoint.size} "
                                 f"than the checkpoint log.key signed ({named}): {RESTORE}")
    _check_witness(data_dir, origin, size, reader, f"the store {where}")

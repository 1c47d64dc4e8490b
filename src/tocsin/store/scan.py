"""The whole-file integrity scan of the SQLite store, run beside a serving hub, not before it.

Start-up must not grow with the history: :func:`tocsin.store.integrity.preflight` reads only
what decides whether the store is missing, behind or forked (the file's header and length, the
log's size, the O(log n) stored hashes under each checkpoint's root). A page damaged anywhere
else is found here: SQLite's ``PRAGMA quick_check`` over the whole file, on its own read-only
connection, in a thread the kernel schedules at low priority (``nice``), started once the hub
serves.

Invariant: once the scan has found damage, the store accepts no write (every append raises
:class:`tocsin.store.base.StoreDamaged`, answered ``503 store_damaged``), ``/readyz`` answers
503 naming it, and the hub's log says it in one line; it stays so until an operator restores
the store and restarts the hub. Until the scan has finished, writes go on (the window in which
a damaged page elsewhere in the file is not yet known; the rows an append touches are read by
SQLite itself and a damaged one fails that append). ``tocsin store check`` runs the full check
(``integrity_check``, every leaf rehashed) on demand.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tocsin.store.integrity import open_readonly

log = logging.getLogger("tocsin.store")

SCAN_NICE = 10  # the scan thread's niceness: serving comes first
MAX_LINES = 5  # damage lines kept (quick_check lists up to 100)


class IntegrityScan:
    """One background ``quick_check`` of ``db``; ``on_damage(reason)`` is called if it fails.

    ``state`` is ``"pending"`` (not started), ``"running"``, ``"ok"``, ``"damaged"``,
    ``"failed"`` (it could not run: busy, an I/O error; no finding) or ``"stopped"`` (the hub
    stopped first); ``detail`` says what was found.
    """

    def __init__(self, db: Path, on_damage: Callable[[str], None]) -> None:
        self.db = db
        self.state = "pending"
        self.detail = ""
        self.seconds: float | None = None
        self._on_damage = on_damage
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="store-scan", daemon=True)

    def start(self) -> None:
        self.state = "running"
        self._thread.start()

    def stop(self) -> None:
        """Interrupt a running scan and wait for its thread (the hub is stopping)."""
        with self._lock:
            self._stopping = True
            if self._conn is not None:
                self._conn.interrupt()
        if self._thread.is_alive():
            self._thread.join()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the scan ends (tests and tools); True if it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def as_json(self) -> dict[str, object]:
        return {"state": self.state, "detail": self.detail, "seconds": self.seconds}

    def _run(self) -> None:
        # Linux: a thread has its own niceness (setpriority on its thread id); elsewhere the
        # scan runs at the process's priority.
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), SCAN_NICE)
        started = time.monotonic()
        try:
            with open_readonly(self.db) as conn:
                with self._lock:
                    if self._stopping:
                        self.state = "stopped"
                        return
                    self._conn = conn
                try:
                    rows = conn.execute("PRAGMA quick_check").fetchall()
                finally:
                    with self._lock:
                        self._conn = None
            lines = [str(r[0]) for r in rows]
        except sqlite3.OperationalError as exc:  # interrupted, busy: not a finding
            self.state = "stopped" if self._stopping else "failed"
            self.detail = str(exc)
            if not self._stopping:
                log.warning("store scan: %s could not be scanned (%s); run `tocsin store "
                            "check %s`", self.db, exc, self.db.parent)
            return
        except sqlite3.DatabaseError as exc:  # malformed, not a database: damage
            lines = [str(exc)]
        self.seconds = round(time.monotonic() - started, 3)
        if lines == ["ok"]:
            self.state, self.detail = "ok", "quick_check: ok"
            log.info("store scan: %s is whole (quick_check ok, %.1f s)", self.db, self.seconds)
            return
        self.state = "damaged"
        self.detail = "; ".join(lines[:MAX_LINES])
        log.error("store scan: %s is damaged (%s); writes are refused — keep a copy, run "
                  "`tocsin store check %s`, and restore it from a backup",
                  self.db, self.detail, self.db.parent)
        self._on_damage(self.detail)

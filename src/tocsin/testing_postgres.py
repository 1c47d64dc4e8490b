"""A throwaway PostgreSQL server for tests: Debian's binaries, 127.0.0.1, a random port.

:class:`PostgresServer` runs ``initdb`` into a fresh directory under the system temp dir and
starts ``postgres`` listening on 127.0.0.1 only (its socket in that directory, trust
authentication for the ``tocsin`` superuser). ``initdb`` and ``postgres`` refuse to run as
root, so when the tests run as root both run as the unprivileged ``nobody`` user, which owns
the directory. The server can be stopped and started again on the same port and data (a
PostgreSQL restart under a running hub) and each test may take a database of its own.

For speed on a shared machine the server runs with ``fsync=off``: the tests check what the
hub does when PostgreSQL stops, restarts or refuses, not what a power cut does to a disk.

The binaries are found under ``/usr/lib/postgresql/*/bin`` (the newest version), or in the
directory ``TOCSIN_PG_BINDIR`` names; :func:`find_bindir` returns None when there are none.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tocsin.testing import STARTUP_TIMEOUT_SECS, STOP_TIMEOUT_SECS, free_port

DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "tocsin"
UNPRIVILEGED = "nobody"  # who runs initdb and postgres when the tests run as root


def find_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``postgres`` (newest Debian version), or None."""
    named = os.environ.get("TOCSIN_PG_BINDIR")
    if named:
        return Path(named) if (Path(named) / "postgres").exists() else None
    found = [p for p in DEBIAN_PG_ROOT.glob("*/bin") if (p / "initdb").exists() and (p / "postgres").exists()]
    found.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return found[-1] if found else None


def _as_unprivileged() -> dict[str, Any]:
    """``subprocess`` arguments that drop root to ``nobody`` (nothing to drop otherwise)."""
    if os.geteuid() != 0:
        return {}
    user = pwd.getpwnam(UNPRIVILEGED)
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


@dataclass
class PostgresServer:
    """One PostgreSQL cluster in a temp directory; :meth:`create` builds and starts it."""

    bindir: Path
    root: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    _databases: int = 0

    @classmethod
    def create(cls, bindir: Path | None = None) -> PostgresServer:
        """initdb a new cluster and start it; raises if PostgreSQL is missing or fails."""
        found = bindir or find_bindir()
        if found is None:
            raise RuntimeError(f"PostgreSQL is not installed (no {DEBIAN_PG_ROOT}/*/bin/initdb): "
                               "apt-get install postgresql (scripts/test does)")
        root = Path(tempfile.mkdtemp(prefix="tocsin-pg-"))
        drop = _as_unprivileged()
        if drop:
            os.chown(root, drop["user"], drop["group"])
        server = cls(found, root)
        done = subprocess.run(
            [str(found / "initdb"), "-D", str(server.data), "-U", SUPERUSER, "--auth=trust",
             "-E", "UTF8", "--locale=C", "--no-sync"],
            capture_output=True, cwd=root, check=False, **drop)
        if done.returncode != 0:
            shutil.rmtree(root, ignore_errors=True)
            raise RuntimeError(f"initdb failed ({done.returncode}): {done.stderr.decode(errors='replace')}")
        server.start()
        return server

    @property
    def data(self) -> Path:
        return self.root / "data"

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> None:
        """Start the server (again) on the same port and data; return once it takes connections."""
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 - the child owns it until it ends
        self.proc = subprocess.Popen(
            [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.root}",
             "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200"],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.root, **_as_unprivileged())
        log.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + STARTUP_TIMEOUT_SECS
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited:\n{self.log_tail()}")
            try:
                psycopg.connect(self.dsn(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                time.sleep(0.05)  # polling a child process's port, not waiting for a result
        raise RuntimeError(f"postgres did not take connections within {STARTUP_TIMEOUT_SECS:.0f} s:\n"
                           f"{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = (self.root / "server.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """A fast shutdown (SIGINT: sessions are ended, the data is kept), as a restart does."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_SECS)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_SECS)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; its DSN."""
        import psycopg

        self._databases += 1
        name = f"{prefix}{self._databases}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def destroy(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

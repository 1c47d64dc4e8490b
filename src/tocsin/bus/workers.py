"""``tocsin serve --workers N``: N edge processes behind one port, plus the writer (issue 14).

Each edge binds the public port with ``SO_REUSEPORT`` (the kernel spreads connections across
them), so one machine holds more open streams than one process's file limit. The writer
listens on a private 127.0.0.1 port that only the edges use (it trusts them as proxies so its
per-client limits see real clients). A dead edge is started again after
:data:`RESTART_DELAY_SECS`; its subscribers reconnect — to any edge, the kernel decides — and
resume from their ``Last-Event-ID`` with no gap and no duplicate (ids are the store's).
Edges die with the parent (``PR_SET_PDEATHSIG``): a killed supervisor leaves no orphans.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence

log = logging.getLogger("tocsin.workers")

RESTART_DELAY_SECS = 1.0
STOP_TIMEOUT_SECS = 10.0
_PR_SET_PDEATHSIG = 1


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening socket other processes may bind too (``SO_REUSEPORT``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Workers:
    """Starts the edge processes, restarts any that dies, stops them all on :meth:`stop`."""

    def __init__(self, argv: Sequence[str], count: int, env: dict[str, str] | None = None) -> None:
        """``env``: added to the edges' environment (e.g. a store URL: never on a command line,
        where any user of the machine could read its password)."""
        self.argv = list(argv)
        self.count = count
        self.extra_env = dict(env or {})
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * count
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.restarts = 0

    def start(self) -> None:
        for slot in range(self.count):
            thread = threading.Thread(target=self._keep, args=(slot,), name=f"tocsin-edge-{slot}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    def _keep(self, slot: int) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("TOCSIN_ROLE", "TOCSIN_WORKERS")}
        env.update(self.extra_env)
        while not self._stopping.is_set():
            proc = subprocess.Popen([sys.executable, "-m", "tocsin", *self.argv], env=env,
                                    preexec_fn=_die_with_parent)
            self.procs[slot] = proc
            code = proc.wait()
            if self._stopping.is_set():
                return
            self.restarts += 1
            log.warning("edge %d (pid %d) ended with %d; starting it again in %.0f s", slot,
                        proc.pid, code, RESTART_DELAY_SECS)
            self._stopping.wait(RESTART_DELAY_SECS)

    def stop(self) -> None:
        self._stopping.set()
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            if proc is None:
                continue
            try:
                proc.wait(timeout=STOP_TIMEOUT_SECS)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

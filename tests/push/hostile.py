"""A hostile HTTP server on 127.0.0.1: answers every request at once, then streams its body.

It reads one request (headers and a ``Content-Length`` body), answers ``status`` with a
chunked body, and sends up to ``limit`` bytes of it as fast as the client takes them, then
holds the connection open without ending the body (a receiver that "answers" and then
streams forever). :attr:`sent` counts the body bytes the client let it send; a client that
reads a stranger's answer without bound takes all of ``limit`` and then waits for the rest.
"""

from __future__ import annotations

import socket
import threading

CHUNK = 64 * 1024


class StreamingServer:
    """See the module docstring; one connection at a time is enough for these tests."""

    def __init__(self, status: int = 201, limit: int = 64 * 1024 * 1024) -> None:
        self.status = status
        self.limit = limit
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.sent = 0
        self.requests = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self._one(conn)

    def _one(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            got = conn.recv(65536)
            if not got:
                return
            data += got
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            got = conn.recv(65536)
            if not got:
                return
            body += got
        self.requests += 1
        conn.sendall(f"HTTP/1.1 {self.status} OK\r\nTransfer-Encoding: chunked\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n".encode())
        chunk = f"{CHUNK:x}\r\n".encode() + b"x" * CHUNK + b"\r\n"
        try:
            while self.sent < self.limit and not self._stop.is_set():
                conn.sendall(chunk)
                self.sent += CHUNK
            conn.settimeout(30)
            conn.recv(1)  # hold the body open until the client closes (or 30 s)
        except OSError:
            return

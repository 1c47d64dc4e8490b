"""A tarpit on 127.0.0.1: accepts connections and never answers; counts how many are open.

It stands for a stranger's slow server. :attr:`most_open` is the largest number of its
connections the hub held open at once (a connection counts until the hub closes it).
"""

from __future__ import annotations

import selectors
import socket
import threading


class Tarpit:
    def __init__(self, address: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((address, 0))
        self.sock.listen(512)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://{address}:{self.port}"
        self.open = 0
        self.most_open = 0
        self.accepted = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.sock, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for key in list(self._selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self._selector.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(0.05):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                if sock is self.sock:
                    try:
                        conn, _ = sock.accept()
                    except OSError:
                        continue
                    conn.setblocking(False)
                    self._selector.register(conn, selectors.EVENT_READ)
                    with self._lock:
                        self.accepted += 1
                        self.open += 1
                        self.most_open = max(self.most_open, self.open)
                    continue
                try:
                    data = sock.recv(65536)  # the request: read and never answered
                except OSError:
                    data = b""
                if not data:
                    self._selector.unregister(sock)
                    sock.close()
                    with self._lock:
                        self.open -= 1

"""One SSE client process for the fan-out benchmark: thousands of raw-socket subscribers.

Why raw sockets: an HTTP client library costs far more per connection than
the server we want to measure, so at 10,000 subscribers the clients would be
the bottleneck. Each connection here is a bare ``asyncio.Protocol`` that
sends one GET, waits for the response head and then only scans incoming
bytes for the benchmark's marker ``BENCHSEQ=<n>;`` (which the parent puts in
every published message), so it works unchanged against the hub and nchan,
whatever their framing (``id:``/``data:`` lines, chunked encoding).

Receipt times are ``time.monotonic_ns()``: Linux's CLOCK_MONOTONIC is one
clock for the whole machine, so the parent compares them with its own.

Line protocol with the parent (``bench/bench_fanout.py``):

* stdout ``READY <connected> <failed>`` once every connection has its response head;
* stdout ``GOT <seq> <count> <first_ns> <last_ns>`` as soon as all connected
  subscribers have message ``seq``, or when asked;
* stdin ``ASK <seq>`` asks for the (possibly partial) figures of ``seq``;
* stdin ``QUIT`` (or end of input) closes every connection and exits.

Run: ``python bench/_sse_clients.py --port P --path '/sub?id=x' --count 2500 --source 127.0.0.2``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import resource
import socket
import sys
import time
from typing import cast

SEQ_RE = re.compile(rb"BENCHSEQ=(\d+);")
TAIL_BYTES = 32  # longer than any marker, so a marker split across reads is still found
IP_BIND_ADDRESS_NO_PORT = 24  # Linux: pick the source port at connect(), not bind()
CONNECT_TIMEOUT_SECS = 30.0


class Tally:
    """Per-message receipt counts of this process's subscribers."""

    def __init__(self) -> None:
        self.connected = 0
        self.lost = 0
        self.count: dict[int, int] = {}
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.reported: set[int] = set()

    def hit(self, seq: int, now: int) -> None:
        n = self.count.get(seq, 0) + 1
        self.count[seq] = n
        if n == 1:
            self.first[seq] = now
        self.last[seq] = now
        if n >= self.connected and seq not in self.reported:
            self.report(seq)

    def report(self, seq: int) -> None:
        self.reported.add(seq)
        line = f"GOT {seq} {self.count.get(seq, 0)} {self.first.get(seq, 0)} {self.last.get(seq, 0)}\n"
        sys.stdout.write(line)
        sys.stdout.flush()


class Subscriber(asyncio.Protocol):
    """One SSE connection that only counts marked messages."""

    def __init__(self, tally: Tally, request: bytes, head_done: asyncio.Future[bool]) -> None:
        self.tally = tally
        self.request = request
        self.head_done = head_done
        self.head = b""
        self.tail = b""
        self.last_seq = -1
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        if not self.head_done.done():
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                if len(self.head) > 16384:
                    self.head_done.set_result(False)
                return
            ok = self.head.startswith(b"HTTP/1.1 200")
            self.head_done.set_result(ok)
            data, self.head = self.head[end + 4:], b""
            if not ok:
                return
        buf = self.tail + data
        consumed = 0
        for match in SEQ_RE.finditer(buf):
            seq = int(match.group(1))
            consumed = match.end()
            if seq > self.last_seq:  # a marker seen twice in one message counts once
                self.last_seq = seq
                self.tally.hit(seq, now)
        self.tail = buf[consumed:][-TAIL_BYTES:]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.head_done.done():
            self.head_done.set_result(False)
        else:
            self.tally.lost += 1


async def open_one(host: str, port: int, source: str, tally: Tally, request: bytes,
                   gate: asyncio.Semaphore, keep: list[Subscriber]) -> bool:
    loop = asyncio.get_running_loop()
    async with gate:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((source, 0))
            sock.setblocking(False)
            await asyncio.wait_for(loop.sock_connect(sock, (host, port)), CONNECT_TIMEOUT_SECS)
            head_done: asyncio.Future[bool] = loop.create_future()
            _, proto = await loop.create_connection(
                lambda: Subscriber(tally, request, head_done), sock=sock)
            ok = await asyncio.wait_for(head_done, CONNECT_TIMEOUT_SECS)
        except (OSError, TimeoutError) as exc:
            sock.close()
            sys.stderr.write(f"connect from {source} failed: {exc!r}\n")
            return False
        if not ok:
            sys.stderr.write("subscription refused (non-200 response)\n")
            if proto.transport is not None:
                proto.transport.close()
            return False
        keep.append(proto)
        return True


async def run(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    tally = Tally()
    request = (f"GET {args.path} HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n"
               "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n").encode()
    gate = asyncio.Semaphore(args.connect_concurrency)
    keep: list[Subscriber] = []
    results = await asyncio.gather(*(
        open_one(args.host, args.port, args.source, tally, request, gate, keep)
        for _ in range(args.count)
    ))
    tally.connected = sum(results)
    sys.stdout.write(f"READY {tally.connected} {len(results) - tally.connected}\n")
    sys.stdout.flush()

    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = (await reader.readline()).decode().split()
        if not line or line[0] == "QUIT":
            break
        if line[0] == "ASK" and len(line) == 2:
            tally.report(int(line[1]))
    for proto in keep:
        if proto.transport is not None:
            proto.transport.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True, help="request target, e.g. /api/v1/stream?regions=X")
    parser.add_argument("--count", type=int, required=True, help="connections to hold")
    parser.add_argument("--source", default="127.0.0.2", help="local address to connect from")
    parser.add_argument("--connect-concurrency", type=int, default=128)
    args = parser.parse_args()
    if not args.host.startswith("127.") or not args.source.startswith("127."):
        parser.error("benchmark traffic stays on loopback (127.0.0.0/8)")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.count + 64 > hard:
        parser.error(f"{args.count} connections need more than the {hard} open files allowed")
    try:
        import uvloop
    except ImportError:
        asyncio.run(run(args))
    else:
        uvloop.run(run(args))


if __name__ == "__main__":
    main()

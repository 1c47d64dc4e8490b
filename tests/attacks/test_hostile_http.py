"""Hostile HTTP against a real hub: every request gets a catalogued answer, nothing is stored or lost.

Deeply nested JSON, a full disk, floods of checks and of refused writes,
half-sent headers and bodies (slowloris), a forged ``Host`` header, and a
sweep of malformed requests. Each test asserts the status, the catalogued
error code, and that nothing was stored (or, for the disk, that nothing
acknowledged was lost). Figures are recorded in ``docs/security.md``.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tocsin.cap import to_xml
from tocsin.client import issue_request, sign_cap
from tocsin.compose import AlertFacts, compose_alert
from tocsin.testing import HubProcess, free_port
from tocsin.trust.note import Signer

pytestmark = pytest.mark.timeout(180)

KYIV = "UA80000000000093317"
CATALOGUED_5XX = {507: "storage_full", 503: "storage_unavailable"}


def make_cap() -> bytes:
    return to_xml(compose_alert(AlertFacts(issuer_id="demo-air-force", areas=(KYIV,), kind="air-raid",
                                           expires_in=timedelta(hours=1))))


def honest_post(hub: HubProcess, http: httpx.Client) -> httpx.Response:
    cap = make_cap()
    return http.post(f"{hub.url}/api/v1/alerts",
                     json=issue_request(cap, sign_cap(cap, hub.signer("demo-air-force"))))


def forged_request() -> dict[str, str]:
    cap = make_cap()
    return issue_request(cap, sign_cap(cap, Signer.generate("demo-air-force")))


def stored_ids(hub: HubProcess) -> set[str]:
    alerts = httpx.get(f"{hub.url}/api/v1/alerts", params={"limit": 1000}).json()["alerts"]
    return {a["id"] for a in alerts}


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


@pytest.fixture
def hub(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[HubProcess]:
    env: dict[str, str] = getattr(request, "param", {})
    process = HubProcess(tmp_path / "data", env=env)
    process.start()
    yield process
    process.stop()


def _from(address: str) -> httpx.Client:
    """A client whose connections come from another loopback address (another peer)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10)


# -- deeply nested JSON ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/alerts", "/api/v1/check"])
@pytest.mark.parametrize("depth", [2_000, 40_000])
def test_deeply_nested_json_is_a_catalogued_400(hub: HubProcess, path: str, depth: int) -> None:
    before = stored_ids(hub)
    for body in (b"[" * depth + b"]" * depth,
                 b'{"cap": ' + b"[" * depth + b"]" * depth + b', "text": "x"}',
                 b'{"a":' * depth + b"1" + b"}" * depth):
        response = httpx.post(hub.url + path, content=body,
                              headers={"content-type": "application/json"}, timeout=30)
        assert response.status_code == 400, response.text[:300]
        assert error_code(response) == "bad_request"
    assert stored_ids(hub) == before


def test_deeply_nested_json_pasted_into_a_check_is_judged_not_crashed(hub: HubProcess) -> None:
    """A pasted message that looks like JSON is parsed by the checker too: depth is no crash."""
    for text in ('{"a":' * 1_500 + "1" + "}" * 1_500, "{" + "[" * 5_000 + "]" * 5_000 + "}"):
        response = httpx.post(f"{hub.url}/api/v1/check", json={"text": text}, timeout=30)
        assert response.status_code == 200, response.text[:300]
        assert response.json()["verdict"] != "authentic"


# -- rate limits ---------------------------------------------------------------------------

LIMITS = {"TOCSIN_CHECK_BURST": "20", "TOCSIN_CHECK_RATE_PER_SEC": "2",
          "TOCSIN_FAILED_WRITE_BURST": "10", "TOCSIN_FAILED_WRITE_RATE_PER_SEC": "1"}


@pytest.mark.parametrize("hub", [LIMITS], indirect=True)
def test_a_flood_of_checks_gets_429_per_client(hub: HubProcess) -> None:
    statuses: list[int] = []
    with httpx.Client(timeout=10) as http:
        for n in range(60):
            # A client-supplied X-Forwarded-For is never believed without a trusted proxy.
            response = http.post(f"{hub.url}/api/v1/check", json={"text": f"air raid in Kyiv {n}"},
                                 headers={"x-forwarded-for": f"10.0.{n}.1"})
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert error_code(response) == "rate_limited"
                assert int(response.headers["retry-after"]) >= 1
    assert statuses.count(429) >= 30, statuses
    assert all(s in (200, 429) for s in statuses), statuses
    with _from("127.0.0.2") as other:  # another client is not held back by the first
        response = other.post(f"{hub.url}/api/v1/check", json={"text": "air raid in Kyiv"})
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("hub", [LIMITS], indirect=True)
def test_a_flood_of_refused_writes_gets_429_and_honest_issuers_go_on(hub: HubProcess) -> None:
    before = stored_ids(hub)
    statuses: list[int] = []
    with httpx.Client(timeout=10) as http:
        for _ in range(50):
            response = http.post(f"{hub.url}/api/v1/alerts", json=forged_request())
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert error_code(response) == "rate_limited"
                assert int(response.headers["retry-after"]) >= 1
            else:
                assert error_code(response) == "forged"
    assert statuses.count(401) <= 12, statuses
    assert statuses.count(429) >= 35, statuses
    assert stored_ids(hub) == before  # nothing forged was stored
    with _from("127.0.0.3") as issuer:  # an honest issuer elsewhere is served
        for _ in range(15):  # successes never count against a client
            assert honest_post(hub, issuer).status_code == 201
    assert len(stored_ids(hub)) == len(before) + 15


def test_an_issuer_behind_the_same_address_as_a_flood_is_never_locked_out(hub: HubProcess) -> None:
    """An independent review locked the Air Force out with 40 bad posts from its address (a
    reverse proxy or NAT makes every client one address). Over the limit, an alert signed by a
    registry key is still taken; an unsigned one is still refused with 429."""
    with httpx.Client(timeout=10) as http:
        statuses = [http.post(f"{hub.url}/api/v1/alerts", json={"cap": "eA==", "statement": "y"})
                    .status_code for _ in range(40)]  # the default burst is 30
        assert statuses[-1] == 429, statuses
        with _from("127.0.0.1") as same:
            for _ in range(5):
                assert honest_post(hub, same).status_code == 201
        again = http.post(f"{hub.url}/api/v1/alerts", json=forged_request())
        assert again.status_code == 429 and error_code(again) == "rate_limited"
        # a real statement (public in the log) carrying other bytes is not let past the limit
        real = make_cap()
        statement = sign_cap(real, hub.signer("demo-air-force"))
        other = issue_request(make_cap(), statement)
        smuggled = http.post(f"{hub.url}/api/v1/alerts", json=other)
        assert smuggled.status_code == 429 and error_code(smuggled) == "rate_limited"


@pytest.mark.parametrize("hub", [LIMITS], indirect=True)
def test_an_early_answer_waits_for_the_body_before_closing(hub: HubProcess) -> None:
    """A 429 sent before the body arrived must reach the client: the hub reads and drops the rest
    and keeps the connection (closing with unread bytes sends a reset that can destroy the
    answer), and closes it if the rest never comes."""
    with httpx.Client(timeout=10) as http:
        while http.post(f"{hub.url}/api/v1/check", json={"text": "x"}).status_code != 429:
            pass
    body = b'{"text": "' + b"x" * 88 + b'"}'
    sock = socket.create_connection(("127.0.0.1", hub.port))
    sock.sendall(b"POST /api/v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body))
    sock.settimeout(5)
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        assert chunk, answer
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 429"), answer[:200]
    assert not _closed_within(sock, 0.5)  # still reading: the body has not come yet
    sock.sendall(body)  # dropped; the connection then serves the next request
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert sock.recv(65536).startswith(b"HTTP/1.1 200"), "the connection was not kept"
    sock.close()
    # A body that never comes, after an answer that did not read it: closed soon after.
    sock = socket.create_connection(("127.0.0.1", hub.port))
    sock.sendall(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
    started = time.monotonic()
    assert _closed_within(sock, 5)
    assert time.monotonic() - started < 4
    sock.close()


@pytest.mark.parametrize("hub", [{**LIMITS, "TOCSIN_TRUSTED_PROXIES": "127.0.0.1"}], indirect=True)
def test_a_trusted_proxy_names_its_clients(hub: HubProcess) -> None:
    """Behind a configured proxy each forwarded client has its own bucket; others cannot forge one."""
    with httpx.Client(timeout=10) as proxy:
        for n in range(40):  # 40 clients, one check each: none is limited
            response = proxy.post(f"{hub.url}/api/v1/check", json={"text": "air raid in Kyiv"},
                                  headers={"x-forwarded-for": f"203.0.113.{n}"})
            assert response.status_code == 200, response.text
    with _from("127.0.0.4") as direct:  # not a proxy: its X-Forwarded-For is ignored
        statuses = [direct.post(f"{hub.url}/api/v1/check", json={"text": "air raid in Kyiv"},
                                headers={"x-forwarded-for": f"198.51.100.{n}"}).status_code
                    for n in range(40)]
    assert statuses.count(429) >= 15, statuses


# -- slow clients ----------------------------------------------------------------------------

TIMEOUTS = {"TOCSIN_HEADER_TIMEOUT_SECS": "1", "TOCSIN_BODY_TIMEOUT_SECS": "1"}


def _closed_within(sock: socket.socket, secs: float) -> bool:
    """Whether the server closes ``sock`` within ``secs`` (reading and discarding any answer)."""
    sock.settimeout(0.2)
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        try:
            if sock.recv(65536) == b"":
                return True
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True
    return False


@pytest.mark.parametrize("hub", [TIMEOUTS], indirect=True)
def test_half_sent_headers_are_closed_while_others_are_served(hub: HubProcess) -> None:
    socks = []
    for n in range(200):
        sock = socket.create_connection(("127.0.0.1", hub.port))
        if n % 2:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # never finished
        socks.append(sock)  # the even ones send nothing at all
    started = time.monotonic()
    assert httpx.get(f"{hub.url}/healthz", timeout=5).status_code == 200
    for sock in socks:
        assert _closed_within(sock, 6), "a half-open connection was held"
        sock.close()
    assert time.monotonic() - started < 8
    # A trickle that never completes its headers is closed by the deadline, not by idleness.
    sock = socket.create_connection(("127.0.0.1", hub.port))
    sock.sendall(b"GET /healthz HTTP/1.1\r\n")
    started = time.monotonic()
    closed = False
    while time.monotonic() - started < 6:
        try:
            sock.sendall(b"X")
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        if _closed_within(sock, 0.3):
            closed = True
            break
    sock.close()
    assert closed
    assert time.monotonic() - started < 4
    assert httpx.get(f"{hub.url}/healthz", timeout=5).status_code == 200


COMPAT_PORT = free_port()


@pytest.mark.parametrize("hub", [{**TIMEOUTS, "TOCSIN_COMPAT_PORT": str(COMPAT_PORT)}], indirect=True)
def test_the_compat_port_has_the_same_header_deadline(hub: HubProcess) -> None:
    sock = socket.create_connection(("127.0.0.1", COMPAT_PORT))
    sock.sendall(b"GET /v1/alerts/active.json HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    started = time.monotonic()
    assert _closed_within(sock, 6)
    sock.close()
    assert time.monotonic() - started < 4


@pytest.mark.parametrize("hub", [TIMEOUTS], indirect=True)
def test_half_sent_bodies_are_answered_408_and_closed(hub: HubProcess) -> None:
    before = stored_ids(hub)
    for path in ("/api/v1/alerts", "/api/v1/check", "/healthz"):
        sock = socket.create_connection(("127.0.0.1", hub.port))
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: 100000\r\n\r\n{\"cap\": \"".encode())
        started = time.monotonic()
        sock.settimeout(6)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        sock.close()
        assert time.monotonic() - started < 5, path
        status = answer.split(b" ", 2)[1] if answer else b""
        if path == "/healthz":
            assert status == b"405"  # answered at once; the unread body then closes the connection
        else:
            assert status == b"408", answer[:300]
            assert b"request_timeout" in answer
    assert stored_ids(hub) == before


# -- the Host header -------------------------------------------------------------------------


def test_a_hostile_host_never_reaches_a_response(hub: HubProcess) -> None:
    with httpx.Client(timeout=10) as http:
        alert_id = honest_post(hub, http).json()["id"]
        paths = ["/feeds/alerts.atom", f"/feeds/regions/{KYIV}.atom", "/api/v1/alerts",
                 f"/api/v1/alerts/{alert_id}", "/api/v1/openapi.json", "/", "/check", "/healthz",
                 "/checkpoint", "/nowhere", f"/api/v1/regions/{KYIV}/status"]
        for path in paths:
            response = http.get(hub.url + path, headers={"host": "evil.example"})
            assert response.status_code < 500, path
            assert b"evil.example" not in response.content, path
            assert all("evil.example" not in v for v in response.headers.values()), path
        feed = http.get(hub.url + "/feeds/alerts.atom", headers={"host": "evil.example"}).text
        assert f"{hub.url}/api/v1/alerts/{alert_id}/cap" in feed  # the listen address by default


@pytest.mark.parametrize("hub", [{"TOCSIN_PUBLIC_URL": "https://alerts.example.org"}], indirect=True)
def test_feeds_link_to_the_configured_public_url(hub: HubProcess) -> None:
    with httpx.Client(timeout=10) as http:
        alert_id = honest_post(hub, http).json()["id"]
        feed = http.get(hub.url + "/feeds/alerts.atom", headers={"host": "evil.example"}).text
    assert f"https://alerts.example.org/api/v1/alerts/{alert_id}/cap" in feed
    assert "evil.example" not in feed


# -- a sweep of malformed requests -------------------------------------------------------------


def _sweep() -> list[tuple[str, str, dict[str, str], bytes]]:
    cap = make_cap()
    good = issue_request(cap, sign_cap(cap, Signer.generate("demo-air-force")))
    junk = [b"", b"\x00" * 1000, os.urandom(4096), b"{", b"[1,2", b"null", b"1e999999", b'"\\ud800"',
            b'{"cap": 1}', b'{"cap": "!!!", "statement": "x"}', b'{"text": null}',
            b'{"cap": "' + base64.b64encode(b"<alert/>") + b'", "statement": "x"}',
            b"<?xml version='1.0'?><!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>",
            ("{" + '"a":1,' * 50_000 + '"b":2}').encode(), str(good).encode()]
    types = ["application/json", "application/cap+xml", "text/plain", "application/x-www-form-urlencoded",
             "multipart/form-data; boundary=x", ""]
    out = []
    for path in ("/api/v1/alerts", "/api/v1/check", "/api/v1/registry"):
        for media in types:
            for body in junk:
                headers = {"content-type": media} if media else {}
                if media == "application/cap+xml":
                    headers["tocsin-statement"] = "%%%"
                out.append(("POST", path, headers, body))
    for path in ("/api/v1/alerts?limit=-1", "/api/v1/alerts?since=%00", "/api/v1/alerts?lat=1e400&lon=0",
                 "/api/v1/stream?regions=" + ",".join(["X"] * 500), "/api/v1/alerts/" + "a" * 5000,
                 "/tile/8/0/x999", "/api/v1/regions/locate?lat=nan&lon=nan", "/feeds/regions/%2e%2e",
                 "/api/v1/alerts/../../etc/passwd", "/api/v1/stream?since=-1"):
        out.append(("GET", path, {}, b""))
    return out


@pytest.mark.parametrize("hub", [{"TOCSIN_FAILED_WRITE_BURST": "100000", "TOCSIN_CHECK_BURST": "100000"}],
                         indirect=True)
def test_a_sweep_of_malformed_requests_never_gets_a_5xx(hub: HubProcess) -> None:
    before = stored_ids(hub)
    cases = _sweep()
    with httpx.Client(timeout=10) as http:
        for method, path, headers, body in cases:
            response = http.request(method, hub.url + path, headers=headers, content=body)
            assert response.status_code < 500, (path, headers, body[:80], response.text[:300])
            if response.status_code >= 400:  # text/plain to the checker is a valid question
                assert "code" in response.json()["error"], (path, body[:80])
    assert len(cases) >= 280
    assert stored_ids(hub) == before


# -- a full disk --------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 24 MiB filesystem (tmpfs) that can be filled up; needs root to mount."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            raise RuntimeError("the disk-full test mounts a tmpfs and must run as root under CI")
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> Path:
    """Fill ``folder``'s filesystem to the last byte. Unbuffered: a buffered file would raise
    ENOSPC again when closed, flushing the bytes the full disk refused."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as handle:
        chunk = b"\0" * 65536
        with contextlib.suppress(OSError):
            while True:
                handle.write(chunk)
        with contextlib.suppress(OSError):
            while True:
                handle.write(b"\0")  # the last bytes of a block
    return filler


def test_a_full_disk_answers_every_request_and_loses_nothing(small_disk: Path) -> None:
    hub = HubProcess(small_disk / "data")
    hub.start()
    try:
        acked: list[str] = []
        with httpx.Client(timeout=20) as http:
            for _ in range(3):
                response = honest_post(hub, http)
                assert response.status_code == 201
                acked.append(response.json()["id"])
        filler = _fill(small_disk)
        answers: list[int] = []
        lock = threading.Lock()

        def post(_: int) -> None:
            with httpx.Client(timeout=20) as http:
                response = honest_post(hub, http)
            with lock:
                answers.append(response.status_code)
                if response.status_code == 201:
                    acked.append(response.json()["id"])
                else:
                    assert response.status_code in CATALOGUED_5XX, response.text
                    assert error_code(response) == CATALOGUED_5XX[response.status_code]
                    assert int(response.headers["retry-after"]) >= 1

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(post, range(54)))  # an exception (no answer) fails the test here
        assert len(answers) == 54
        assert answers.count(507) + answers.count(503) >= 40, answers
        assert httpx.get(f"{hub.url}/healthz", timeout=5).status_code == 200
        filler.unlink()  # space again: the hub recovers by itself
        with httpx.Client(timeout=20) as http:
            for _ in range(3):
                response = honest_post(hub, http)
                assert response.status_code == 201, response.text
                acked.append(response.json()["id"])
        assert set(acked) <= stored_ids(hub)  # nothing acknowledged was lost
        hub.stop()
        hub.start()  # and it all survives a restart
        assert set(acked) <= stored_ids(hub)
    finally:
        hub.stop()
        shutil.rmtree(small_disk / "data", ignore_errors=True)


def test_huge_headers_get_431_and_the_connection_closes(hub: HubProcess) -> None:
    """An independent review streamed 103 MB of one header in 10 s (RSS +170 MB)."""
    sock = socket.create_connection(("127.0.0.1", hub.port))
    sock.settimeout(10)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
    answer = b""
    try:
        for _ in range(64):  # 2 MiB at most: the hub must stop reading long before
            sock.sendall(b"a" * 32768)
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        while chunk := sock.recv(4096):
            answer += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    sock.close()
    assert answer.startswith(b"HTTP/1.1 431"), answer[:80]
    assert b'"headers_too_large"' in answer
    assert httpx.get(f"{hub.url}/healthz").status_code == 200  # and the hub goes on

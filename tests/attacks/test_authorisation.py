"""Attacks on authorisation, each through the real hub's HTTP API (issue 10, holes 1, 2, 5, 6).

Every attack is signed by a real demo issuer key, so the signature is never
what stops it: the rules are. Each case asserts the status and the error code,
that the alert cannot be read back (404), that the log and the event stream
did not move (an honest probe alert issued before and after gets consecutive
log indexes and event ids), and that a subscriber in the targeted region was
sent nothing (its stream, resumed from the first probe, yields the second
probe first).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

from tocsin.cap import to_xml
from tocsin.cap.model import Alert, Area
from tocsin.client import ServerEvent, follow, issue_request, sign_cap
from tocsin.issue import alert_id_for
from tocsin.ledger import MAX_ALERT_BYTES
from tocsin.testing import HubProcess

from .shapes import (
    KYIV,
    LVIV_OBLAST,
    LVIV_SQUARE,
    alert,
    circle,
    geocode_area,
    polygon,
    ring,
)

LVIV_CITY_CENTRE = (49.84, 24.03)
KYIV_CENTRE = (50.45, 30.52)


@dataclass
class Attempt:
    status: int
    code: str
    alert_id: str


def post(hub: HubProcess, issuer: str, cap: bytes, *, raw: bool = False) -> tuple[int, dict[str, Any]]:
    statement = sign_cap(cap, hub.signer(issuer))
    if raw:
        import base64

        response = httpx.post(f"{hub.url}/api/v1/alerts", content=cap, timeout=60, headers={
            "Content-Type": "application/cap+xml",
            "Tocsin-Statement": base64.b64encode(statement).decode()})
    else:
        response = httpx.post(f"{hub.url}/api/v1/alerts", json=issue_request(cap, statement),
                              timeout=60)
    return response.status_code, response.json()


def probe(hub: HubProcess) -> dict[str, Any]:
    """An honest Air Force alert for Lviv oblast: where the log and the stream stand."""
    status, body = post(hub, "demo-air-force", to_xml(alert("demo-air-force",
                                                            [geocode_area(LVIV_OBLAST)])))
    assert status == 201, body
    return body


def attempt(hub: HubProcess, issuer: str, hostile: Alert | bytes, status: int, code: str,
            *, raw: bool = False) -> Attempt:
    cap = hostile if isinstance(hostile, bytes) else to_xml(hostile)
    got, body = post(hub, issuer, cap, raw=raw)
    assert got < 500, body
    assert (got, body["error"]["code"]) == (status, code), body
    alert_id = alert_id_for(cap)
    missing = httpx.get(f"{hub.url}/api/v1/alerts/{alert_id}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "alert_not_found"
    return Attempt(got, code, alert_id)


async def _first_event(hub: HubProcess, after: int, region: str) -> ServerEvent:
    async for event in follow(hub.url, regions=[region], last_event_id=after):
        if event.event != "comment":
            return event
    raise AssertionError("the stream ended")


def assert_nothing_moved(hub: HubProcess, before: dict[str, Any], region: str = LVIV_OBLAST) -> None:
    after = probe(hub)
    assert after["log"]["index"] == before["log"]["index"] + 1, "something was logged in between"
    assert after["event_id"] == before["event_id"] + 1, "some event was stored in between"
    first = asyncio.run(asyncio.wait_for(_first_event(hub, before["event_id"], region), 10))
    assert first.id == after["event_id"], f"a subscriber in {region} was sent {first.data}"


# -- hole 1: jurisdiction by effect -------------------------------------------------


def test_out_of_jurisdiction_by_geocode_polygon_circle_and_second_info(hub: HubProcess) -> None:
    before = probe(hub)
    city = "demo-kyiv-city"
    attempt(hub, city, alert(city, [geocode_area(KYIV), geocode_area(LVIV_OBLAST)]),
            403, "unauthorised")
    kyiv = geocode_area(KYIV).geocode
    smuggled = Area(area_desc="Київ", geocode=kyiv, polygon=(polygon(LVIV_SQUARE),))
    attempt(hub, city, alert(city, [smuggled]), 403, "unauthorised")
    lat, lon = KYIV_CENTRE
    wide = Area(area_desc="Київ", geocode=kyiv, circle=(circle(lat, lon, 300),))
    attempt(hub, city, alert(city, [wide]), 403, "unauthorised")
    attempt(hub, city, alert(city, [geocode_area(KYIV)], [geocode_area(LVIV_OBLAST)]),
            403, "unauthorised")
    attempt(hub, city, alert(city, [Area(area_desc="Львів",
                                                   circle=(circle(*LVIV_CITY_CENTRE, 5),))]),
            403, "unauthorised")
    assert_nothing_moved(hub, before)


def test_the_issue_10_circle_is_refused_before_any_geometry(hub: HubProcess) -> None:
    """The 800 km circle of the report, and 380 areas of 2,400 km circles: over budget."""
    before = probe(hub)
    city = "demo-kyiv-city"
    lat, lon = KYIV_CENTRE
    area = geocode_area(KYIV)
    one = Area(area_desc="Київ", geocode=area.geocode, circle=(circle(lat, lon, 800),))
    attempt(hub, city, alert(city, [one]), 422, "alert_too_complex")
    many = [Area(area_desc=f"Київ {n}", geocode=area.geocode,
                       circle=(circle(lat, lon, 2400),)) for n in range(380)]
    attempt(hub, city, alert(city, many), 422, "alert_too_complex")
    assert_nothing_moved(hub, before)


def test_shapes_inside_the_jurisdiction_are_accepted(hub: HubProcess) -> None:
    city = "demo-kyiv-city"
    lat, lon = KYIV_CENTRE
    area = Area(area_desc="центр", circle=(circle(lat, lon, 3),))
    status, body = post(hub, city, to_xml(alert(city, [area])))
    assert status == 201, body
    assert body["targets"][KYIV] in ("full", "partial")
    assert set(body["targets"]) <= {KYIV} | {c for c in body["targets"] if c.startswith("UA80")}


# -- hole 2: registry-bound senders ------------------------------------------------


def test_sender_of_another_issuer_is_refused_and_the_owner_keeps_it(hub: HubProcess) -> None:
    before = probe(hub)
    squatter = alert("demo-embassy", [geocode_area(KYIV)], kind="facility-closed",
                     sender="demo-air-force@tocsin")
    attempt(hub, "demo-embassy", squatter, 403, "sender_not_allowed")
    look_alike = alert("demo-embassy", [geocode_area(KYIV)], kind="facility-closed",
                       sender="Demo-Air-Force@tocsin")
    attempt(hub, "demo-embassy", look_alike, 403, "sender_not_allowed")
    assert_nothing_moved(hub, before)
    # The Air Force's own sender still works (it was never "taken").
    status, body = post(hub, "demo-air-force", to_xml(alert("demo-air-force", [geocode_area(KYIV)])))
    assert status == 201, body and body["sender"] == "demo-air-force@tocsin"


# -- holes 5 and 6: size first, cost budget ------------------------------------------


def test_oversize_alert_is_refused_first_with_413(hub: HubProcess) -> None:
    before = probe(hub)
    padding = "Увага. " * (MAX_ALERT_BYTES // 10)
    big = to_xml(alert("demo-air-force", [geocode_area(KYIV)], description=padding))
    assert MAX_ALERT_BYTES < len(big) < 1 << 20  # under the request body limit: this rule decides
    attempt(hub, "demo-air-force", big, 413, "alert_too_large", raw=True)
    assert_nothing_moved(hub, before)


def test_too_complex_alerts_are_refused_with_422(hub: HubProcess) -> None:
    before = probe(hub)
    af = "demo-air-force"
    lat, lon = 49.0, 31.0
    shapes = [Area(area_desc=f"c{n}", circle=(circle(lat, lon + n * 0.01, 5),))
              for n in range(65)]
    attempt(hub, af, alert(af, shapes), 422, "alert_too_complex")
    huge = Area(area_desc="p", polygon=(polygon(ring(lat, lon, 20_001, 1.0)),))
    attempt(hub, af, alert(af, [huge]), 422, "alert_too_complex")
    assert_nothing_moved(hub, before)


def test_an_honest_batch_survives_a_hostile_neighbour(hub: HubProcess) -> None:
    """Hole 6: 24 honest alerts posted together with oversize and over-budget ones all land."""
    padding = "Увага. " * (MAX_ALERT_BYTES // 10)
    honest = [to_xml(alert("demo-air-force", [geocode_area(KYIV)])) for _ in range(24)]
    hostile = [to_xml(alert("demo-air-force", [geocode_area(KYIV)], description=padding))
               for _ in range(3)]

    async def send_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60) as http:
            calls = []
            for cap in honest + hostile:
                statement = sign_cap(cap, hub.signer("demo-air-force"))
                calls.append(http.post(f"{hub.url}/api/v1/alerts",
                                       json=issue_request(cap, statement)))
            return await asyncio.gather(*calls)

    responses = asyncio.run(send_all())
    codes = [r.status_code for r in responses]
    assert codes[:24] == [201] * 24, [r.text for r in responses[:24] if r.status_code != 201]
    assert all(r.status_code in (413,) for r in responses[24:]), [r.text for r in responses[24:]]
    for cap in honest:
        assert httpx.get(f"{hub.url}/api/v1/alerts/{alert_id_for(cap)}").status_code == 200


# A point on Kyiv city's border, and a point 150 m outside it (a Kyiv-oblast hromada).
KYIV_BORDER = (50.43122, 30.259627)
JUST_OUTSIDE_KYIV = (50.429875, 30.259796)


async def _first_at(hub: HubProcess, lat: float, lon: float, ready: asyncio.Event) -> ServerEvent:
    async for event in follow(hub.url, lat=lat, lon=lon, include_heartbeats=True):
        ready.set()  # the first frame (a heartbeat or retry) means the stream is open
        if event.event != "comment" and event.id is not None:
            return event
    raise AssertionError("the stream ended")


def test_a_shape_within_the_border_tolerance_warns_nobody_across_the_border(hub: HubProcess) -> None:
    """A 250 m circle on Kyiv's border is accepted (tolerance 300 m) but reaches only Kyiv:
    a subscriber at a point 150 m outside, inside the circle as drawn, is not sent it."""

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], ServerEvent]:
        ready = asyncio.Event()
        listener = asyncio.create_task(_first_at(hub, *JUST_OUTSIDE_KYIV, ready))
        await asyncio.wait_for(ready.wait(), 10)
        async with httpx.AsyncClient(timeout=60) as http:
            await _until_subscribed(http, hub)
            city = "demo-kyiv-city"
            grazing = to_xml(alert(city, [Area(area_desc="на межі", circle=(circle(*KYIV_BORDER, 0.25),))]))
            first = await http.post(f"{hub.url}/api/v1/alerts", json=issue_request(
                grazing, sign_cap(grazing, hub.signer(city))))
            honest = to_xml(alert("demo-air-force", [geocode_area("UA32000000000030281")]))
            second = await http.post(f"{hub.url}/api/v1/alerts", json=issue_request(
                honest, sign_cap(honest, hub.signer("demo-air-force"))))
        return first.json(), second.json(), await asyncio.wait_for(listener, 10)

    grazing, honest, received = asyncio.run(scenario())
    assert "id" in grazing, grazing
    assert all(code.startswith("UA80") for code in grazing["targets"]), grazing["targets"]
    assert received.id == honest["event_id"], f"the point across the border got {received.data}"


async def _until_subscribed(http: httpx.AsyncClient, hub: HubProcess) -> None:
    for _ in range(200):  # the hub counts the stream once its subscription is registered
        if (await http.get(f"{hub.url}/healthz")).json()["subscribers"] >= 1:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the subscriber never registered")

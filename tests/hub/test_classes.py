"""Issue 12 through a real hub's HTTP API: threats alone colour a place; denials colour nothing.

The two cases the issue opens with come first: a denial once painted every oblast red and
reached a Kyiv subscriber as ``event: alert``; an embassy's ``facility-closed`` kept Kyiv
"under alert" after the Air Force and the city had both sounded the all-clear.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import websockets
from click.testing import CliRunner
from lxml import etree

from tocsin.cap.model import Reference
from tocsin.cli import main
from tocsin.client import ServerEvent, follow
from tocsin.compose import compose_cancel

from .conftest import KYIV, KYIV_OBLAST, HubProcess, issue_async, make_alert, wait_subscribers

pytestmark = pytest.mark.timeout(120)

FAKE = "ГУР попереджає: завтра вранці буде масований удар по Житомиру, виїжджайте негайно"
ATOM = {"a": "http://www.w3.org/2005/Atom"}


async def _next_event(url: str, **kw: Any) -> ServerEvent:
    async for event in follow(url, **kw):
        return event
    raise AssertionError("the stream ended")


def _deny(hub: HubProcess, *extra: str) -> str:
    """``tocsin deny`` as an issuer runs it, with its defaults; the denial's id."""
    result = CliRunner().invoke(main, [
        "deny", "--hub", hub.url, "--key", str(hub.key_path("demo-defence-intelligence")),
        "--as", "demo-defence-intelligence", *extra, FAKE])
    assert result.exit_code == 0, result.output
    return result.output.split()[1]


# -- 1. a denial colours nothing and reaches no region stream -----------------------------


async def test_a_denial_colours_nothing_and_reaches_only_denial_subscribers(
        hub: HubProcess) -> None:
    kyiv = asyncio.create_task(_next_event(hub.url, regions=[KYIV]))
    everything = asyncio.create_task(_next_event(hub.url))
    denials = asyncio.create_task(_next_event(hub.url, denials=True))
    await wait_subscribers(hub, 3)

    denial_id = await asyncio.to_thread(_deny, hub)
    event = await asyncio.wait_for(denials, 10)
    assert event.event == "denial"
    assert event.json()["id"] == denial_id
    assert event.json()["class"] == "denial"

    async with httpx.AsyncClient(base_url=hub.url) as http:
        state = (await http.get("/api/v1/map/state")).json()
        assert state["regions"] == {}  # nothing coloured
        assert state["alerts"] == []
        assert [d["id"] for d in state["denials"]] == [denial_id]
        status = (await http.get(f"/api/v1/regions/{KYIV}/status")).json()
        assert status["coverage"] == "none"
        assert status["alerts"] == [] and status["notices"] == []
        record = (await http.get(f"/api/v1/alerts/{denial_id}")).json()
        assert record["class"] == "denial" and record["targets"] == {} and record["areas"] == []
        assert record["active"] is True and record["over"] is None
        listed = (await http.get("/api/v1/denials")).json()["alerts"]
        assert [d["id"] for d in listed] == [denial_id]
        assert [a["id"] for a in (await http.get("/api/v1/alerts",
                                                 params={"class": "denial"})).json()["alerts"]] \
            == [denial_id]
        assert (await http.get("/api/v1/alerts", params={"class": "threat"})).json()["alerts"] == []
        assert (await http.get("/api/v1/alerts", params={"class": "nope"})).status_code == 400

    # The region and everything subscribers were not sent the denial: their first event is
    # the next threat.
    assert not kyiv.done() and not everything.done()
    raid = await issue_async(hub, "demo-air-force", (KYIV,))
    for task in (kyiv, everything):
        first = await asyncio.wait_for(task, 10)
        assert first.event == "alert"
        assert first.json()["id"] == raid["id"]


async def test_a_region_subscriber_resuming_is_not_replayed_a_denial(hub: HubProcess) -> None:
    denial_id = await asyncio.to_thread(_deny, hub)
    raid = await issue_async(hub, "demo-air-force", (KYIV,))
    replayed = await asyncio.wait_for(_next_event(hub.url, regions=[KYIV], last_event_id=0), 10)
    assert replayed.json()["id"] == raid["id"]
    everything = await asyncio.wait_for(_next_event(hub.url, last_event_id=0), 10)
    assert everything.json()["id"] == raid["id"]
    denial = await asyncio.wait_for(_next_event(hub.url, denials=True, last_event_id=0), 10)
    assert (denial.event, denial.json()["id"]) == ("denial", denial_id)


async def test_the_websocket_sends_denials_only_to_a_denial_subscription(hub: HubProcess) -> None:
    denial_id = await asyncio.to_thread(_deny, hub)
    raid = await issue_async(hub, "demo-air-force", (KYIV,))
    base = hub.url.replace("http", "ws") + "/api/v1/stream/ws?since=0"
    async with websockets.connect(base + f"&regions={KYIV}") as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert (first["type"], first["data"]["id"]) == ("alert", raid["id"])
    async with websockets.connect(base + "&denials=1") as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert (first["type"], first["data"]["id"]) == ("denial", denial_id)
    async with websockets.connect(base + "&denials=1&regions=*") as ws:  # the map's wish
        got = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(2)]
        assert [(m["type"], m["data"]["id"]) for m in got] == [("denial", denial_id),
                                                               ("alert", raid["id"])]
    async with httpx.AsyncClient() as http:
        bad = await http.get(f"{hub.url}/api/v1/stream", params={"denials": "maybe"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_parameter"


def test_a_denial_scoped_to_an_area_still_colours_nothing(hub: HubProcess) -> None:
    denial_id = _deny(hub, "--area", KYIV)
    with hub.client() as client:
        record = client.get(f"/api/v1/alerts/{denial_id}")
        assert record["class"] == "denial"
        assert record["areas"] == [{"code": KYIV, "name_uk": "м. Київ", "name_en": "Kyiv"}]
        assert client.get(f"/api/v1/regions/{KYIV}/status")["coverage"] == "none"
        assert client.get("/api/v1/map/state")["regions"] == {}


# -- 2. a notice is never "under alert" ---------------------------------------------------


def test_a_notice_left_after_the_all_clears_leaves_the_region_not_under_alert(
        hub: HubProcess) -> None:
    with hub.client() as client:
        client.issue(make_alert("demo-air-force", (KYIV,)), hub.signer("demo-air-force"))
        client.issue(make_alert("demo-kyiv-city", (KYIV,)), hub.signer("demo-kyiv-city"))
        closed = client.issue(make_alert("demo-embassy", (KYIV,), kind="facility-closed",
                                         headline="Посольство зачинене"),
                              hub.signer("demo-embassy"))
        status = client.get(f"/api/v1/regions/{KYIV}/status")
        assert status["coverage"] == "full"
        assert len(status["alerts"]) == 2
        assert [n["id"] for n in status["notices"]] == [closed["id"]]

        for issuer in ("demo-air-force", "demo-kyiv-city"):
            client.issue(make_alert(issuer, (KYIV,), kind="all-clear", expires_in=None),
                         hub.signer(issuer))

        status = client.get(f"/api/v1/regions/{KYIV}/status")
        assert status["coverage"] == "none"
        assert status["alerts"] == []
        [notice] = status["notices"]
        assert (notice["id"], notice["class"], notice["coverage"]) == (closed["id"], "notice", "full")
        assert notice["active"] is True and notice["over"] is None

        state = client.get("/api/v1/map/state")
        assert KYIV not in state["regions"]  # not coloured as a threat
        assert state["alerts"] == []
        assert [n["id"] for n in state["notices"]] == [closed["id"]]
        assert state["notice_regions"][KYIV]["coverage"] == "full"
        assert state["notice_regions"][KYIV]["kinds"] == ["facility-closed"]
        assert client.get("/api/v1/alerts", active="true", **{"class": "threat"})["alerts"] == []
        notices = client.get("/api/v1/alerts", active="true", **{"class": "notice"})["alerts"]
        assert [n["id"] for n in notices] == [closed["id"]]
        history = client.get(f"/api/v1/regions/{KYIV}/history")
        assert history["today"]["count"] == 2  # the two air raids; the notice is not a threat
        assert {i["class"] for i in history["timeline"]} == {"threat", "notice"}


# -- 3. what is over says so --------------------------------------------------------------


def test_ended_cancelled_and_expired_say_so_with_who_and_when(hub: HubProcess) -> None:
    air_force = hub.signer("demo-air-force")
    with hub.client() as client:
        ended = client.issue(make_alert(areas=(KYIV_OBLAST,)), air_force)
        clear = client.issue(make_alert(areas=(KYIV_OBLAST,), kind="all-clear", expires_in=None),
                             air_force)
        over = client.get(f"/api/v1/alerts/{ended['id']}")["over"]
        assert over["reason"] == "ended"
        assert over["by"] == clear["id"] and over["by_issuer"] == "demo-air-force"
        assert over["at"] == pytest.approx(clear["received"])
        at = datetime.fromisoformat(over["at_iso"])
        assert at.utcoffset() in (timedelta(hours=2), timedelta(hours=3))  # Europe/Kyiv
        assert at.timestamp() == pytest.approx(over["at"], abs=1)
        assert client.get(f"/api/v1/alerts/{clear['id']}")["over"] is None  # an announcement

        city = client.issue(make_alert(areas=(KYIV,)), air_force)
        original = client.get(f"/api/v1/alerts/{city['id']}")
        cancel = client.issue(compose_cancel(
            issuer_id="demo-air-force", sender=original["sender"],
            original=Reference(sender=original["sender"], identifier=original["identifier"],
                               sent=original["sent"])), air_force)
        over = client.get(f"/api/v1/alerts/{city['id']}")["over"]
        assert (over["reason"], over["by"]) == ("cancelled", cancel["id"])

        sent = datetime.now(UTC) - timedelta(seconds=120)
        expired = client.issue(make_alert(areas=(KYIV,), sent=sent,
                                          expires_in=timedelta(seconds=60)), air_force)
        assert expired["over"]["reason"] == "expired"
        assert expired["over"]["by"] is None
        assert expired["over"]["at"] == pytest.approx(sent.timestamp() + 60, abs=1)

        listed = {a["id"]: a for a in client.get("/api/v1/alerts")["alerts"]}
        assert listed[ended["id"]]["over"]["reason"] == "ended"
        assert listed[city["id"]]["over"]["reason"] == "cancelled"
        assert listed[expired["id"]]["over"]["reason"] == "expired"

    feed = etree.fromstring(httpx.get(f"{hub.url}/feeds/alerts.atom").content)
    summaries = {e.findtext("a:id", namespaces=ATOM).rsplit("/", 1)[1]:
                 (e.findtext("a:summary", namespaces=ATOM),
                  e.find("a:category", namespaces=ATOM).get("term"))
                 for e in feed.findall("a:entry", namespaces=ATOM)}
    assert f"ended by {clear['id']}" in summaries[ended["id"]][0]
    assert "cancelled" in summaries[city["id"]][0]
    assert "expired" in summaries[expired["id"]][0]
    assert summaries[ended["id"]][1] == "threat"
    assert summaries[clear["id"]][1] == "all-clear"


# -- 4. places by name --------------------------------------------------------------------


def test_views_and_stream_payloads_name_places_and_carry_class(hub: HubProcess) -> None:
    async def scenario() -> tuple[ServerEvent, dict[str, Any]]:
        follower = asyncio.create_task(_next_event(hub.url, regions=["UA-63"]))
        await wait_subscribers(hub, 1)
        issued = await issue_async(hub, "demo-air-force", ("UA-63",))
        return await asyncio.wait_for(follower, 10), issued

    event, issued = asyncio.run(scenario())
    kharkiv = {"code": "UA63000000000041885", "name_uk": "Харківська область",
               "name_en": "Kharkiv Oblast"}
    assert issued["areas"] == [kharkiv]
    assert issued["class"] == "threat" and issued["over"] is None
    payload = event.json()
    assert (payload["areas"], payload["class"], payload["over"]) == ([kharkiv], "threat", None)
    assert payload["area_desc"] == ["Харківська область"]  # the CAP Tocsin composed
    assert payload["issuer_name"] == {"uk": "Повітряні сили (ДЕМО)", "en": "Air Force (DEMO)"}
    cap = httpx.get(f"{hub.url}/api/v1/alerts/{issued['id']}/cap").content
    assert "<areaDesc>Харківська область</areaDesc>".encode() in cap
    assert b"UA63000000000041885" not in cap and b"<value>UA-63</value>" in cap


def test_tocsin_issue_writes_region_names_in_area_desc(hub: HubProcess) -> None:
    result = CliRunner().invoke(main, [
        "issue", "--hub", hub.url, "--key", str(hub.key_path("demo-kyiv-city")),
        "--as", "demo-kyiv-city", "--area", KYIV])
    assert result.exit_code == 0, result.output
    alert_id = result.output.strip()
    cap = httpx.get(f"{hub.url}/api/v1/alerts/{alert_id}/cap").content.decode()
    assert "<areaDesc>м. Київ</areaDesc>" in cap
    assert f"<areaDesc>{KYIV}</areaDesc>" not in cap


# -- 5. demo is visible; error docs resolve -----------------------------------------------


def test_demo_mode_says_so(hub: HubProcess) -> None:
    info = httpx.get(f"{hub.url}/api/v1/hub").json()
    assert info["demo"] is True and info["time_zone"] == "Europe/Kyiv"
    assert httpx.get(f"{hub.url}/api/v1/map/state").json()["demo"] is True
    issuers = httpx.get(f"{hub.url}/api/v1/registry").json()["registry"]["issuers"]
    for issuer in issuers:
        assert "(ДЕМО)" in issuer["names"]["uk"] and "(DEMO)" in issuer["names"]["en"], issuer["id"]


def test_the_docs_link_of_every_error_resolves(hub: HubProcess) -> None:
    error = httpx.get(f"{hub.url}/api/v1/alerts/" + "0" * 32).json()["error"]
    assert error["docs"] == "/docs/errors#alert_not_found"
    page = httpx.get(hub.url + error["docs"].split("#")[0])
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'id="alert_not_found"' in page.text
    markdown = httpx.get(f"{hub.url}/docs/errors.md")
    assert markdown.status_code == 200
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert '<a id="alert_not_found"></a>' in markdown.text

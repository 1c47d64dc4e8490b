"""The unmodified official alerts.in.ua client (``alerts-in-ua``) reads a real Tocsin hub."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from email.utils import parsedate_to_datetime

import alerts_in_ua
import httpx
import pytest
from alerts_in_ua import AsyncClient, Client, UnauthorizedError

from tocsin.cap import to_xml
from tocsin.client import sign_cap
from tocsin.compat.alerts_in_ua import OBLAST_ORDER_UIDS
from tocsin.compat.alerts_in_ua_routes import PREFIX
from tocsin.kinds import KindClass, kind_class
from tocsin.regions import default_region_set
from tocsin.testing import HubProcess

from .conftest import KHARKIV_OBLAST, KYIV, LVIV_RAION, TOKEN, make_alert


def client_for(hub: HubProcess, monkeypatch: pytest.MonkeyPatch, token: str = "any-token") -> Client:
    monkeypatch.setattr(Client, "API_BASE_URL", hub.url + PREFIX)
    return Client(token=token)


def compat_root(hub: HubProcess) -> str:
    return f"http://127.0.0.1:{hub.env['TOCSIN_COMPAT_PORT']}"


def issue(hub: HubProcess, issuer: str, **kw: object) -> dict[str, object]:
    with hub.client() as c:
        return c.issue(make_alert(issuer, **kw), hub.signer(issuer))  # type: ignore[arg-type]


def tocsin_status(hub: HubProcess, code: str) -> str:
    """A region's air-raid status as Tocsin's own API states it: threats only."""
    body = httpx.get(f"{hub.url}/api/v1/regions/{code}/status").json()
    coverages = {a["coverage"] for a in body["alerts"]
                 if kind_class(tuple(a["kinds"])) is KindClass.THREAT}
    return "active" if "full" in coverages else "partly" if coverages else "no_alert"


def test_real_client_reads_threats_only_and_agrees_with_region_status(
        open_hub: HubProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = open_hub
    kyiv = issue(hub, "demo-air-force", areas=(KYIV,), instruction="До укриття")
    lviv = issue(hub, "demo-air-force", areas=(LVIV_RAION,), kind="drone")
    shelling = issue(hub, "demo-kyiv-city", areas=(KYIV,), kind="shelling")
    # Not air-raid alerts: a notice (a facility closed) and a threat notice.
    issue(hub, "demo-embassy", areas=(KYIV,), kind="facility-closed")
    issue(hub, "demo-defence-intelligence", areas=(KHARKIV_OBLAST,), kind="threat-notice")
    client = client_for(hub, monkeypatch)

    active = client.get_active_alerts()
    assert {a.location_uid for a in active} == {"31", LVIV_RAION}
    by_id = {(a.location_uid, a.alert_type) for a in active}
    assert by_id == {("31", "air_raid"), ("31", "artillery_shelling"), (LVIV_RAION, "air_raid")}
    kyiv_alert = next(a for a in active.get_air_raid_alerts() if a.location_uid == "31")
    assert kyiv_alert.location_title == "м. Київ" and kyiv_alert.location_type == "city"
    assert kyiv_alert.location_oblast_uid == 31 and kyiv_alert.is_red()
    assert kyiv_alert.finished_at is None and kyiv_alert.started_at is not None
    assert kyiv_alert.started_at.utcoffset() is not None  # parsed as UTC, shown in Kyiv time
    raion = next(a for a in active if a.location_uid == LVIV_RAION)
    assert raion.location_type == "raion" and raion.location_oblast == "Львівська область"
    assert raion.location_oblast_uid == 27
    assert active.get_last_updated_at() is not None
    assert {kyiv["id"], lviv["id"], shelling["id"]} == {
        x["tocsin_alert_id"] for x in httpx.get(
            f"{hub.url}{PREFIX}/v1/alerts/active.json").json()["alerts"]}

    statuses = client.get_air_raid_alert_statuses_by_oblast()
    assert len(statuses) == 27
    got = {s.location_title: s.status for s in statuses}
    assert got["м. Київ"] == "active"
    assert got["Львівська область"] == "partly"
    assert got["Харківська область"] == "no_alert"  # a threat notice is not an air raid
    assert [s.location_title for s in statuses.get_active_alert_oblasts()] == ["м. Київ"]
    regions = default_region_set()
    for title, uid in zip(alerts_in_ua.air_raid_alert_oblast_statuses.AirRaidAlertOblastStatuses
                          .LOCATIONS, OBLAST_ORDER_UIDS, strict=True):
        code = regions.canonical(str(uid))
        assert code is not None
        assert got[title] == tocsin_status(hub, code), title
        one = client.get_air_raid_alert_status(uid)
        assert one.status == got[title], title

    red = client.get_air_raid_alert_statuses_by_oblast(include_alert_level=True)
    assert [s.location_title for s in red.get_red_alert_oblasts()] == ["м. Київ"]
    assert red.get_yellow_alert_oblasts() == []
    assert client.get_air_raid_alert_status("31", include_alert_level=True).is_red()
    assert client.get_air_raid_alert_status(27, oblast_level_only=True).is_no_alert()
    by_uid = client.get_air_raid_alert_statuses()
    assert by_uid.get_status(31).status == "active" and by_uid.get_status(27).status == "partly"

    history = client.get_alerts_history(31)
    assert {a.alert_type for a in history} == {"air_raid", "artillery_shelling"}
    assert all(a.location_uid == "31" for a in history)
    assert client.get_alerts_history("27", period="month_ago").alerts[0].location_uid == LVIV_RAION


def test_all_clear_ends_the_alert_everywhere_and_history_keeps_it(
        hub: HubProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    issue(hub, "demo-air-force", areas=(KYIV,))
    client = client_for(hub, monkeypatch, TOKEN)
    assert client.get_air_raid_alert_status(31).is_active_on_all_oblast()
    issue(hub, "demo-air-force", areas=(KYIV,), kind="all-clear")
    assert client.get_air_raid_alert_status(31).is_no_alert()  # revalidated, not served stale
    assert len(client.get_active_alerts()) == 0
    assert tocsin_status(hub, KYIV) == "no_alert"
    past = client.get_alerts_history(31)
    assert len(past) == 1 and past.alerts[0].finished_at is not None


def test_last_modified_and_if_modified_since(open_hub: HubProcess) -> None:
    url = f"{open_hub.url}{PREFIX}/v2/iot/active_air_raid_alerts_by_oblast.json"
    first = httpx.get(url)
    assert first.status_code == 200 and len(first.json()) == 27
    stamp = first.headers["last-modified"]
    assert parsedate_to_datetime(stamp).utcoffset() == timedelta(0)
    again = httpx.get(url, headers={"If-Modified-Since": stamp})
    assert again.status_code == 304 and again.headers["last-modified"] == stamp
    assert httpx.get(url, headers={"If-Modified-Since": "not a date"}).status_code == 200
    issue(open_hub, "demo-air-force", areas=(KHARKIV_OBLAST,))
    changed = httpx.get(url, headers={"If-Modified-Since": stamp})
    assert changed.status_code == 200
    assert parsedate_to_datetime(changed.headers["last-modified"]) > parsedate_to_datetime(stamp)
    for path in ("/v1/alerts/active.json", "/v1/iot/active_air_raid_alerts/22.json",
                 "/v1/regions/22/alerts/week_ago.json", "/v1/iot/active_air_raid_alerts.json"):
        answer = httpx.get(f"{open_hub.url}{PREFIX}{path}")
        assert answer.status_code == 200 and answer.headers["last-modified"], path


def test_token_is_required_when_configured_and_compared_exactly(
        hub: HubProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UnauthorizedError):
        client_for(hub, monkeypatch, "wrong-token").get_active_alerts()
    with pytest.raises(UnauthorizedError):
        client_for(hub, monkeypatch, TOKEN + "x").get_air_raid_alert_statuses_by_oblast()
    answer = httpx.get(f"{hub.url}{PREFIX}/v1/alerts/active.json")
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "bad_token"
    assert httpx.get(f"{hub.url}{PREFIX}/v1/alerts/active.json",
                     params={"token": TOKEN}).status_code == 200
    assert len(client_for(hub, monkeypatch, TOKEN).get_active_alerts()) == 0


def test_bad_input_gets_catalogued_errors(open_hub: HubProcess) -> None:
    base = f"{open_hub.url}{PREFIX}/v1"
    for path, code in (("/iot/active_air_raid_alerts/99.json", "unknown_region"),
                       ("/iot/active_air_raid_alerts/abc.json", "unknown_region"),
                       ("/regions/31/alerts/year_ago.json", "bad_parameter")):
        answer = httpx.get(base + path)
        assert answer.status_code < 500 and answer.json()["error"]["code"] == code, path
        assert answer.json()["message"]


def test_async_client_reads_the_compat_port_at_its_root(
        hub: HubProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    issue(hub, "demo-air-force", areas=(LVIV_RAION,))
    monkeypatch.setattr(AsyncClient, "API_BASE_URL", compat_root(hub))

    async def read() -> tuple[int, str, str]:
        client = AsyncClient(token=TOKEN)
        active = await client.get_active_alerts()
        statuses = await client.get_air_raid_alert_statuses_by_oblast()
        one = await client.get_air_raid_alert_status(27)
        await client.get_alerts_history(27)
        return len(active), statuses.get_partly_active_alert_oblasts()[0].location_title, one.status

    assert asyncio.run(read()) == (1, "Львівська область", "partly")
    assert httpx.get(compat_root(hub) + "/api/v1/alerts").status_code == 404  # compat only there


def test_cap_bytes_round_trip_is_untouched(open_hub: HubProcess) -> None:
    """The compat API only reads: the alert it shows is the one signed and stored."""
    cap = to_xml(make_alert("demo-air-force", areas=(KYIV,)))
    with open_hub.client() as c:
        body = c.issue_bytes(cap, sign_cap(cap, open_hub.signer("demo-air-force")))
    listed = httpx.get(f"{open_hub.url}{PREFIX}/v1/alerts/active.json").json()["alerts"]
    assert body["id"] in {a["tocsin_alert_id"] for a in listed}
    assert httpx.get(f"{open_hub.url}/api/v1/alerts/{body['id']}/cap").content == cap


def test_openapi_compat_block_is_served_and_every_path_answers(open_hub: HubProcess) -> None:
    from tocsin.api.openapi import alerts_in_ua_paths

    served = httpx.get(f"{open_hub.url}/api/v1/openapi.json").json()["paths"]
    block = alerts_in_ua_paths()
    assert len(block) == 8 and set(block) <= set(served)
    for path in block:
        url = open_hub.url + path.replace("{uid}", "31").replace("{period}", "week_ago")
        root = compat_root(open_hub) + path.removeprefix(PREFIX).replace("{uid}", "31").replace(
            "{period}", "week_ago")
        # The hub's state may move between two reads (an alert expiring, a checkpoint): the two
        # listeners must agree on a read taken at the same state, so retry a moving read.
        for _ in range(3):
            answer = httpx.get(url)
            assert answer.status_code == 200 and answer.headers["last-modified"], path
            if httpx.get(root).content == answer.content:
                break
        else:
            raise AssertionError(f"{path}: the two listeners disagree on three reads in a row")


def test_kinds_map_to_alert_types_and_denials_never_appear(open_hub: HubProcess) -> None:
    import msgspec

    chemical = make_alert("demo-kyiv-city", areas=(KYIV,), kind="shelter-in-place")
    chemical = msgspec.structs.replace(chemical, info=tuple(
        msgspec.structs.replace(info, category=("CBRNE",)) for info in chemical.info))
    with open_hub.client() as c:
        made = c.issue(chemical, open_hub.signer("demo-kyiv-city"))
    shelter = issue(open_hub, "demo-kyiv-city", areas=(KYIV,), kind="shelter-in-place")
    denial = issue(open_hub, "demo-defence-intelligence", areas=(KYIV,), kind="denial")
    listed = httpx.get(f"{open_hub.url}{PREFIX}/v1/alerts/active.json").json()["alerts"]
    types = {a["tocsin_alert_id"]: a["alert_type"] for a in listed}
    assert types[made["id"]] == "chemical"
    assert types[shelter["id"]] == "air_raid"
    assert denial["id"] not in types


def test_last_modified_moves_on_when_a_body_changes_within_one_second() -> None:
    from tocsin.compat.alerts_in_ua_routes import Freshness

    fresh = Freshness(clock=lambda: 1_000.5)
    first = fresh.last_modified("k", b"one")
    assert fresh.last_modified("k", b"one") == first == 1_000
    assert fresh.last_modified("k", b"two") == 1_001  # same second, new body: a later date
    assert fresh.last_modified("k", b"one") == 1_002
    assert fresh.last_modified("other", b"two") == 1_000  # per endpoint

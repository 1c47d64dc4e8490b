"""Without a relay, email is off: the API says so (503 email_unavailable) and writes nothing."""

from __future__ import annotations

from pathlib import Path

import httpx

from tocsin.assemble import build_app
from tocsin.config import Settings
from tocsin.demo import ensure_demo
from tocsin.regions import default_region_set
from tocsin.runtime import Hub


async def test_no_relay_no_email(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", demo=True)
    registry = ensure_demo(settings.data_dir, default_region_set())
    hub = Hub(settings, registry_bytes=registry.read_bytes(), registry_path=registry)
    assert hub.email is None
    transport = httpx.ASGITransport(app=build_app(hub))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
        answer = await http.post("/api/v1/email/subscriptions",
                                 json={"address": "a@example.org", "regions": ["UA80000000000093317"]})
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "email_unavailable"
        page = await http.get("/api/v1/email/unsubscribe?id=x&token=y", headers={"Accept": "text/html"})
        assert page.status_code == 503 and "email_unavailable" in page.text
    assert not list(settings.data_dir.glob("email*"))
    hub.issuer.close()
    hub.store.close()

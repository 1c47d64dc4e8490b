"""Registry versions reach a running hub signed by its pinned root, are logged, and bind at once."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from tocsin.client import HubError
from tocsin.trust.note import Signer
from tocsin.trust.registry import Registry, load_registry

from .conftest import KYIV, HubProcess, make_alert


def _root(hub: HubProcess) -> Signer:
    return Signer.from_skey((hub.data_dir / "registry-root.key").read_text().strip())


def test_revocation_is_logged_and_refuses_later_alerts(hub: HubProcess) -> None:
    signer = hub.signer("demo-air-force")
    with hub.client() as client:
        before = client.issue(make_alert(areas=(KYIV,)), signer)
        current = load_registry(httpx.get(f"{hub.url}/api/v1/registry").content)
        revoked = current.with_key_revoked("demo-air-force", signer.key_id, datetime.now(UTC))
        response = httpx.post(f"{hub.url}/api/v1/registry", content=revoked.sign(_root(hub)))
        assert response.status_code == 201, response.text
        assert response.json()["version"] == current.version + 1
        with pytest.raises(HubError) as refused:
            client.issue(make_alert(areas=(KYIV,)), signer)
        assert refused.value.code == "unauthorised"
        assert "revoked" in (refused.value.detail or "")
        # The alert issued before the revocation stays valid and stored.
        assert client.get(f"/api/v1/alerts/{before['id']}")["id"] == before["id"]
        # Alert leaf at 1, revocation at 2 (leaf 0 is the first registry).
        assert before["log"]["index"] == 1
    # A restart must not bring the revoked key back: the logged registry is in force.
    hub.stop()
    hub.start()
    with hub.client() as client:
        assert load_registry(httpx.get(f"{hub.url}/api/v1/registry").content).version == \
            current.version + 1
        with pytest.raises(HubError) as still_refused:
            client.issue(make_alert(areas=(KYIV,)), signer)
        assert still_refused.value.code == "unauthorised"


def test_registry_from_another_root_or_older_version_is_refused(hub: HubProcess) -> None:
    current = load_registry(httpx.get(f"{hub.url}/api/v1/registry").content)
    impostor = Signer.generate("impostor-root")
    # Newer, complete, validly signed — but by a root this hub never pinned.
    forged = Registry(version=current.version + 1, root=impostor.verifier(), issuers=current.issuers)
    response = httpx.post(f"{hub.url}/api/v1/registry", content=forged.sign(impostor))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "bad_registry"
    same = httpx.post(f"{hub.url}/api/v1/registry", content=current.sign(_root(hub)))
    assert same.status_code == 422
    assert "not newer" in same.json()["error"]["detail"]
    garbage = httpx.post(f"{hub.url}/api/v1/registry", content=b"{not json")
    assert garbage.status_code == 422

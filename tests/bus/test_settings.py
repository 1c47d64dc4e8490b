"""The settings of roles: env names as the issue gives them, and refusals that name the setting."""

from __future__ import annotations

import pytest

from tocsin.bus.handover import is_write
from tocsin.config import SettingsError, load_settings


def test_roles_come_from_the_environment_as_named() -> None:
    settings = load_settings(environ={"TOCSIN_STORE": "postgresql://tocsin@db/tocsin",
                                      "TOCSIN_BUS": "nats://127.0.0.1:4222",
                                      "TOCSIN_ROLE": "edge"})
    assert (settings.role, settings.bus, settings.store) == (
        "edge", "nats://127.0.0.1:4222", "postgresql://tocsin@db/tocsin")
    assert not settings.is_writer
    assert load_settings(environ={}).role == "all"


@pytest.mark.parametrize(("env", "named"), [
    ({"TOCSIN_ROLE": "leader"}, "role"),
    ({"TOCSIN_BUS_POLL_SECS": "5"}, "bus_poll_secs"),  # the bound is 2 s
    ({"TOCSIN_BUS": "redis://x"}, "bus"),
    ({"TOCSIN_WORKERS": "2", "TOCSIN_ROLE": "edge"}, "workers"),
])
def test_a_setting_the_roles_cannot_use_is_refused_by_name(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(environ=env)


def test_an_edge_hands_over_exactly_the_writes() -> None:
    assert is_write("POST", "/api/v1/alerts") and is_write("POST", "/api/v1/registry")
    assert is_write("DELETE", "/api/v1/push/subscriptions/x") and is_write("GET", "/api/v1/push/key")
    assert not is_write("POST", "/api/v1/check")  # read-only: answered by the edge itself
    assert not is_write("GET", "/api/v1/stream") and not is_write("GET", "/checkpoint")
    for path in ("/api/v1/email/confirm", "/api/v1/webhooks/x", "/api/v1/orgs/o/people", "/org",
                 "/api/v1/relayed/x", "/api/v1/follows"):
        assert is_write("GET", path)  # held by the writer only (their own stores and senders)
    assert not is_write("GET", "/organisations") and not is_write("GET", "/orgchart")

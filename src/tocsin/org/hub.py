"""Wiring: the hub's organisations service, its channels, passkeys and public-alert rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tocsin.org.auth import Passkeys
from tocsin.org.channels import Channel, EmailChannel, SmsGateway, WebPushChannel
from tocsin.org.rules import RuleEngine
from tocsin.org.service import OrgService
from tocsin.org.store import FILE_NAME, OrgStore

if TYPE_CHECKING:
    from tocsin.runtime import Hub


@dataclass
class Organisations:
    """What a hub runs for organisations (``hub.orgs``)."""

    service: OrgService
    passkeys: Passkeys
    rules: RuleEngine

    @property
    def store(self) -> OrgStore:
        return self.service.store

    async def start(self) -> None:
        await self.service.start()
        await self.rules.start()

    async def stop(self) -> None:
        await self.rules.stop()
        await self.service.stop()


def organisations_for(hub: Hub) -> Organisations:
    from tocsin.push.endpoints import parse_allowed_hosts

    settings = hub.settings
    allowed = parse_allowed_hosts(settings.push_allowed_hosts)
    store = OrgStore(settings.data_dir / FILE_NAME, clock=hub.clock)
    channels: list[Channel] = [WebPushChannel(hub.push.signer, allowed)]
    from tocsin.mail.addresses import from_address_of
    from tocsin.mail.smtp import Relay

    relay = Relay.from_settings(settings)
    if relay is not None:  # the email alerts' relay serves organisations too
        channels.append(EmailChannel(relay, from_address_of(settings.email_from), settings.email_workers))
    if settings.org_sms_gateway_url:
        channels.append(SmsGateway(settings.org_sms_gateway_url, settings.org_sms_gateway_token, allowed))
    service = OrgService(store, hub.regions, base_url=settings.base_url, channels=channels, clock=hub.clock)
    follow = hub.follow  # built before us (runtime): its verified hub alerts feed the rule too
    from tocsin.follow.verify import CLOCK_SKEW_SECS

    rules = RuleEngine(service, feed=hub.feed, get_alert=hub.store.get, clock=hub.clock,
                       get_relayed=follow.verified_cap,
                       relayed_max_age_secs=settings.max_sent_age_secs + CLOCK_SKEW_SECS)
    follow.on_verified = rules.relayed
    return Organisations(service, Passkeys(store, settings.base_url), rules)

"""The evidence behind a verdict, and the verdict in plain words (Ukrainian and English).

Everything a person needs to judge the verdict for themselves goes in: the
alert it rests on (link, issuer, time, signature check, log index and the
checkpoint that covers it, where to fetch the inclusion proof), the
differences found, what the message claims, and what the log holds now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tocsin.check.align import Difference
from tocsin.check.claims import Claims
from tocsin.regions import RegionSet
from tocsin.store.base import AlertRecord
from tocsin.trust.registry import Registry

if TYPE_CHECKING:
    from tocsin.check.engine import Candidate

FACT_NAMES = {
    "region": ("місце", "place"), "time": ("час", "time"), "kind": ("вид загрози", "threat kind"),
    "severity": ("серйозність", "severity"), "instruction": ("інструкція", "instruction"),
    "issuer": ("джерело", "issuer"), "wording": ("формулювання", "wording"),
}


def issuer_json(registry: Registry, issuer_id: str, phrase: str | None = None) -> dict[str, Any]:
    issuer = registry.issuer(issuer_id)
    out: dict[str, Any] = {"id": issuer_id,
                           "name_uk": issuer.name_uk if issuer else issuer_id,
                           "name_en": issuer.name_en if issuer else issuer_id}
    if phrase is not None:
        out["as_written"] = phrase
    return out


def region_json(regions: RegionSet, code: str, phrase: str | None = None) -> dict[str, Any]:
    region = regions.get(code)
    out: dict[str, Any] = {"code": code,
                           "name_uk": region.name_uk_full if region else code,
                           "name_en": region.name_en if region else code}
    if phrase is not None:
        out["as_written"] = phrase
    return out


@dataclass
class Evidence:
    regions: RegionSet
    claims: Claims | None = None
    claimed_issuers: list[dict[str, Any]] = field(default_factory=list)
    claimed_regions: list[dict[str, Any]] = field(default_factory=list)
    normal_sha256: str | None = None
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)  # role -> alert evidence
    differences: list[Difference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    current: list[dict[str, Any]] = field(default_factory=list)
    issuer_recent: list[dict[str, Any]] = field(default_factory=list)
    lead: dict[str, Any] | None = None

    def set_alert(self, role: str, record: AlertRecord, registry: Registry, *,
                  signature: tuple[str, str], checkpoint_size: int, now: float,
                  candidate: Candidate | None) -> None:
        logged = record.log_index is not None and record.log_index < checkpoint_size
        data: dict[str, Any] = {
            "id": record.id,
            "issuer": issuer_json(registry, record.issuer_id),
            "sent": record.sent,
            "kinds": list(record.kinds),
            "event": record.event,
            "msgType": record.msg_type,
            "active": record.active_at(now),
            "ended_by": record.ended_by,
            "signature": {"status": signature[0], "reason": signature[1],
                          "key_id": record.key_id},
            "log": {"index": record.log_index, "checkpoint_size": checkpoint_size,
                    "included": logged},
            "links": {"self": f"/api/v1/alerts/{record.id}",
                      "cap": f"/api/v1/alerts/{record.id}/cap",
                      "statement": f"/api/v1/alerts/{record.id}/statement",
                      "proof": f"/api/v1/alerts/{record.id}/proof",
                      "checkpoint": "/checkpoint"},
        }
        if candidate is not None:
            a = candidate.alignment
            data["match"] = {"language": candidate.language, "matched_words": a.matched,
                             "alert_words": a.alert_len, "coverage": round(a.coverage, 3),
                             "span": list(a.span)}
        self.alerts[role] = data

    def to_json(self, verdict: str) -> dict[str, Any]:
        uk, en = summary(verdict, self)
        claims = self.claims or Claims()
        return {
            "summary": {"uk": uk, "en": en},
            "claims": {"issuers": self.claimed_issuers, "regions": self.claimed_regions,
                       "kinds": list(claims.kinds), "times": list(claims.times)},
            "normal_sha256": self.normal_sha256,
            "alert": self.alerts.get("match") or self.alerts.get("original"),
            "denial": self.alerts.get("denial"),
            "differences": [{"fact": d.fact, "fact_uk": FACT_NAMES[d.fact][0],
                             "fact_en": FACT_NAMES[d.fact][1], "message": d.message,
                             "alert": d.alert} for d in self.differences],
            "current_alerts": self.current,
            "issuer_recent": self.issuer_recent,
            "lead": self.lead,
            "notes": self.notes,
        }


def _names(items: list[dict[str, Any]], lang: str) -> str:
    return ", ".join(str(i[f"name_{lang}"]) for i in items)


def summary(verdict: str, ev: Evidence) -> tuple[str, str]:
    """One or two sentences per language saying what was found."""
    alert = ev.alerts.get("match") or ev.alerts.get("original") or {}
    issuer = alert.get("issuer", {})
    when = alert.get("sent", "")
    if verdict == "authentic":
        return (f"Справжнє попередження: його опублікувало «{issuer.get('name_uk')}» {when}; "
                f"підпис перевірено, запис №{alert['log']['index']} є в журналі.",
                f"Authentic: published by {issuer.get('name_en')} at {when}; signature "
                f"verified, entry {alert['log']['index']} is in the log.")
    if verdict == "denied":
        d = ev.alerts["denial"]
        return (f"Фейк: «{d['issuer']['name_uk']}» офіційно спростувало це повідомлення "
                f"({d['sent']}).",
                f"Fake: {d['issuer']['name_en']} has published a signed denial of this "
                f"message ({d['sent']}).")
    if verdict == "altered":
        facts_uk = ", ".join(dict.fromkeys(FACT_NAMES[d.fact][0] for d in ev.differences))
        facts_en = ", ".join(dict.fromkeys(FACT_NAMES[d.fact][1] for d in ev.differences))
        return (f"Змінено: схоже на справжнє попередження «{issuer.get('name_uk')}» ({when}), "
                f"але відрізняється: {facts_uk}.",
                f"Altered: close to a real alert by {issuer.get('name_en')} ({when}), but it "
                f"differs in: {facts_en}.")
    if verdict == "not-issued":
        return (f"{_names(ev.claimed_issuers, 'uk')} не публікували цього попередження.",
                f"{_names(ev.claimed_issuers, 'en')} did not publish this warning.")
    if alert:
        return (f"Неможливо підтвердити: збігається з попередженням {alert['id']}, але його "
                "не вдалося довести (див. примітки).",
                f"Unverifiable: matches alert {alert['id']}, but it could not be proven "
                "(see notes).")
    regions_uk = _names(ev.claimed_regions, "uk")
    regions_en = _names(ev.claimed_regions, "en")
    if ev.current:
        now_uk = f" Зараз для «{regions_uk}» в журналі {len(ev.current)} активних попереджень."
        now_en = f" The log has {len(ev.current)} active alert(s) for {regions_en} right now."
    elif ev.claimed_regions:
        now_uk = f" Зараз для «{regions_uk}» активних попереджень немає."
        now_en = f" The log has no active alert for {regions_en} right now."
    else:
        now_uk = now_en = ""
    return ("Неможливо перевірити: повідомлення не посилається на відоме джерело й не збігається "
            "з жодним попередженням у журналі." + now_uk,
            "Unverifiable: the message names no known issuer and matches no logged alert."
            + now_en)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()

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
from tocsin.localtime import kyiv_words
from tocsin.regions import RegionSet
from tocsin.store.base import AlertRecord
from tocsin.trust.registry import Registry

if TYPE_CHECKING:
    from tocsin.check.rule import Judgement

FACT_NAMES = {
    "region": ("місце", "place"), "time": ("час", "time"), "kind": ("вид загрози", "threat kind"),
    "severity": ("серйозність", "severity"), "instruction": ("інструкція", "instruction"),
    "issuer": ("джерело", "issuer"), "wording": ("формулювання", "wording"),
    "added": ("додане твердження", "added claim"),
    "cut": ("вирізано заперечення чи застереження", "negation or qualifier cut out"),
    "link": ("посилання", "link"), "phone": ("номер телефону", "phone number"),
    "app": ("застосунок або файл", "app or file"),
    "forward": ("заклик поширити", "call to forward"), "status": ("статус", "status"),
    "cap": ("поле CAP", "CAP field"),
    "field": ("поле JSON", "JSON field"),
    "emoji": ("емодзі зі змістом", "emoji with a meaning"),
    "statement": ("рядок підписаної заяви", "signed statement line"),
}
OVER_WORDS = {  # how an alert ended: (uk, en)
    "all-clear": ("завершене відбоєм", "ended by the all-clear"),
    "cancelled": ("скасоване джерелом", "cancelled by the issuer"),
    "updated": ("замінене новішою версією", "replaced by a newer version"),
    "expired": ("строк дії минув", "expired"),
    "ended-there": ("для названого місця вже дано відбій", "ended for the place named"),
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
    omitted: list[str] = field(default_factory=list)  # alert words an excerpt left out
    over: dict[str, Any] | None = None  # how and when the alert ended (outdated)

    def set_alert(self, role: str, record: AlertRecord, registry: Registry, *,
                  signature: tuple[str, str], checkpoint_size: int, now: float,
                  candidate: Judgement | None) -> None:
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
            "links": {"page": f"/alerts/{record.id}",
                      "self": f"/api/v1/alerts/{record.id}",
                      "cap": f"/api/v1/alerts/{record.id}/cap",
                      "statement": f"/api/v1/alerts/{record.id}/statement",
                      "proof": f"/api/v1/alerts/{record.id}/proof",
                      "checkpoint": "/checkpoint"},
        }
        if candidate is not None:
            c = candidate
            data["match"] = {"language": c.language, "matched_words": c.matched,
                             "alert_words": c.alert_len, "coverage": round(c.coverage, 3),
                             "span": list(c.span)}
        self.alerts[role] = data

    def to_json(self, verdict: str) -> dict[str, Any]:
        uk, en = summary(verdict, self)
        claims = self.claims or Claims()
        return {
            "summary": {"uk": uk, "en": en},
            "claims": {"issuers": self.claimed_issuers, "regions": self.claimed_regions,
                       "kinds": list(claims.kinds), "times": list(claims.times),
                       "links": [raw for fact, raw in claims.actionables if fact == "link"],
                       "phones": [raw for fact, raw in claims.actionables if fact == "phone"]},
            "normal_sha256": self.normal_sha256,
            "alert": self.alerts.get("match") or self.alerts.get("original"),
            "denial": self.alerts.get("denial"),
            "differences": [{"fact": d.fact, "fact_uk": FACT_NAMES[d.fact][0],
                             "fact_en": FACT_NAMES[d.fact][1], "message": d.message,
                             "alert": d.alert} for d in self.differences],
            "omitted": self.omitted,
            "over": self.over,
            "current_alerts": self.current,
            "issuer_recent": self.issuer_recent,
            "lead": self.lead,
            "notes": self.notes,
        }


def _names(items: list[dict[str, Any]], lang: str) -> str:
    return ", ".join(str(i[f"name_{lang}"]) for i in items)


def _quoted(items: list[dict[str, Any]], lang: str) -> str:
    return ", ".join(f"«{i[f'name_{lang}']}»" if lang == "uk" else str(i[f"name_{lang}"])
                     for i in items)


def _facts(ev: Evidence, lang: int) -> str:
    return ", ".join(dict.fromkeys(FACT_NAMES[d.fact][lang] for d in ev.differences))


def summary(verdict: str, ev: Evidence) -> tuple[str, str]:
    """One or two sentences per language saying what was found.

    The Ukrainian never makes a verb agree with an issuer's name (which may be
    singular or plural, of any gender): the name stands in quotes after the
    noun "джерело" (neuter singular), and the verbs agree with that noun.
    """
    alert = ev.alerts.get("match") or ev.alerts.get("original") or {}
    issuer = alert.get("issuer", {})
    sent = alert.get("sent", "")
    when_uk, when_en = kyiv_words(sent, "uk"), kyiv_words(sent, "en")
    omitted_uk = omitted_en = ""
    if ev.omitted:
        omitted_uk = f" Повідомлення — уривок: частину тексту пропущено ({len(ev.omitted)})."
        omitted_en = f" The message is an excerpt: parts were left out ({len(ev.omitted)})."
    if verdict == "authentic":
        return (f"Справжнє попередження. Джерело: «{issuer.get('name_uk')}», надіслано {when_uk}; "
                f"підпис перевірено, запис №{alert['log']['index']} є в журналі; повідомлення "
                "не додає нічого, чого немає в попередженні." + omitted_uk,
                f"Authentic: published by {issuer.get('name_en')} on {when_en}; signature "
                f"verified, entry {alert['log']['index']} is in the log; the message adds "
                "nothing the alert does not say." + omitted_en)
    if verdict == "outdated":
        over = ev.over or {}
        how_uk, how_en = OVER_WORDS.get(str(over.get("how")), ("більше не діє", "over"))
        at = over.get("at_kyiv")
        at_uk = f" ({at} за київським часом)" if at else ""
        at_en = f" at {at} Kyiv time" if at else ""
        return (f"Застаріле: це було справжнє попередження (джерело: «{issuer.get('name_uk')}», "
                f"надіслано {when_uk}), але воно вже не діє — {how_uk}{at_uk}.",
                f"Outdated: this was a real alert by {issuer.get('name_en')} (sent {when_en}), "
                f"but it is over: {how_en}{at_en}.")
    if verdict == "denied":
        d = ev.alerts["denial"]
        return (f"Фейк: джерело «{d['issuer']['name_uk']}» офіційно спростувало це "
                f"повідомлення ({kyiv_words(d['sent'], 'uk')}).",
                f"Fake: {d['issuer']['name_en']} has published a signed denial of this "
                f"message ({kyiv_words(d['sent'], 'en')}).")
    if verdict == "altered":
        return (f"Змінено: схоже на справжнє попередження (джерело: «{issuer.get('name_uk')}», "
                f"{when_uk}), але повідомлення відрізняється або додає своє: {_facts(ev, 0)}.",
                f"Altered: close to a real alert by {issuer.get('name_en')} ({when_en}), but the "
                f"message changes or adds: {_facts(ev, 1)}.")
    if verdict == "not-issued":
        if len(ev.claimed_issuers) == 1:
            uk = (f"У журналі немає такого попередження від джерела "
                  f"{_quoted(ev.claimed_issuers, 'uk')}: це джерело нічого подібного не "
                  "публікувало.")
        else:
            uk = (f"У журналі немає такого попередження від джерел "
                  f"{_quoted(ev.claimed_issuers, 'uk')}: жодне з них нічого подібного не "
                  "публікувало.")
        return (uk,
                f"{_names(ev.claimed_issuers, 'en')} did not publish this warning.")
    if alert:
        return (f"Неможливо підтвердити: збігається з попередженням {alert['id']}, але його "
                "не вдалося довести (див. примітки).",
                f"Unverifiable: matches alert {alert['id']}, but it could not be proven "
                "(see notes).")
    regions_uk = _quoted(ev.claimed_regions, "uk")
    regions_en = _names(ev.claimed_regions, "en")
    if ev.lead is not None:
        lead_uk = (" Слова збігаються з попередженням у журналі, але їх замало, щоб "
                   "визначити, з яким саме.")
        lead_en = " The words agree with a logged alert but are too few to identify which."
    else:
        lead_uk = lead_en = ""
    if ev.current and ev.claimed_regions:
        now_uk = f" Зараз для {regions_uk} чинних попереджень у журналі: {len(ev.current)}."
        now_en = f" The log has {len(ev.current)} active alert(s) for {regions_en} right now."
    elif ev.current:
        now_uk = f" Чинних попереджень такого виду зараз у журналі: {len(ev.current)} (див. список)."
        now_en = (f" The log has {len(ev.current)} active alert(s) of this kind right now "
                  "(see the list).")
    elif ev.claimed_regions:
        now_uk = f" Зараз для {regions_uk} чинних попереджень у журналі немає."
        now_en = f" The log has no active alert for {regions_en} right now."
    else:
        now_uk = now_en = ""
    return ("Неможливо перевірити: повідомлення не називає відомого джерела й не відповідає "
            "жодному попередженню в журналі." + lead_uk + now_uk,
            "Unverifiable: the message names no known issuer and matches no logged alert."
            + lead_en + now_en)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()

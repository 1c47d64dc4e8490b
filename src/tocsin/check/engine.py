"""The verdict on a circulating message: authentic, outdated, altered, not-issued, denied,
unverifiable.

The rules, in the order they are applied (issue 11):

1. ``denied`` when an issuer's logged, verified denial names the message's
   normal-form SHA-256.
2. ``authentic`` only when every claim in the message is backed by ONE
   signed, logged alert and the message adds nothing that alert does not say
   (:mod:`tocsin.check.rule`): same words (excerpts allowed, with what was
   left out listed), same issuer, places inside its area, no added sentence,
   link, phone number, app or call to forward; framing only. The message must
   identify the alert (a place of it, or enough of its words). The alert's
   signed statement must verify against the registry *now* and its log index
   be covered by the latest signed checkpoint. ``outdated`` instead when that
   alert is over: ended by an all-clear, cancelled, updated, or expired.
3. ``denied`` when a denial quotes the message with no change of place,
   time or kind.
4. ``altered`` when the message is a changed copy of a logged alert: each
   changed or added claim is listed.
5. ``not-issued`` when the message names a registry issuer and nothing that
   issuer logged backs it.
6. ``unverifiable`` otherwise, with the alerts in force for the places (or,
   when it names no place, the kinds) the message speaks of.

A real alert is never called fake: a message consistent with a logged alert
but too short to identify it comes back ``unverifiable`` with that alert as a
lead, never ``not-issued``.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from tocsin.cap import CapError, parse_alert
from tocsin.check.align import Alignment, Difference, align
from tocsin.check.claims import Claims, IssuerNames, read_claims
from tocsin.check.index import History
from tocsin.check.message import MessageView, read_message
from tocsin.check.normalise import normal_sha256, tokens
from tocsin.check.report import Evidence, issuer_json, region_json, summary
from tocsin.check.rule import ALERT_LINK, Context, Judgement, alert_view, judge
from tocsin.regions import RegionSet
from tocsin.store.base import AlertRecord, TextEntry
from tocsin.trust.registry import Registry
from tocsin.trust.verify import VerifyInputError, verify_alert

Verdict = Literal["authentic", "outdated", "altered", "not-issued", "denied", "unverifiable"]
VERDICTS: tuple[Verdict, ...] = ("authentic", "outdated", "altered", "not-issued", "denied",
                                 "unverifiable")

MAX_TEXT_CHARS = 20_000  # longer posts are refused: no real alert is this long
MAX_MESSAGE_WORDS = 1_500  # words compared; a longer message is never authentic (bounded work)
POSTING_BUDGET = 40_000  # postings visited per check, rarest words first
RECENT_PER_KEY = 100  # most recent alerts per named region / issuer also considered
ALIGN_TOP = 16  # candidates aligned word by word
SHARE_LANE = 4  # ...plus the few most fully carried by the message
JUDGE_TOP = 8  # of those, judged claim by claim against the rule
DENIAL_MIN_COVERAGE = 0.8
CURRENT_LIMIT = 20


_LANE = threading.local()
STEP_ASIDE_SECS = 0.001


def set_background_lane() -> None:
    """Mark the calling worker thread as the long-text lane: its checks step aside often.

    Python threads share one interpreter lock; a long check holding it would slow every
    short check next to it. A background-lane check sleeps a moment between candidates,
    so a waiting short check runs at once.
    """
    _LANE.background = True


def _step_aside() -> None:
    if getattr(_LANE, "background", False):
        time.sleep(STEP_ASIDE_SECS)


class CheckInputError(ValueError):
    """The input cannot be checked at all (empty, too long, not text)."""


@dataclass(frozen=True, slots=True)
class Candidate:
    entry: TextEntry
    language: str
    alignment: Alignment

    @property
    def clean(self) -> bool:
        return not self.alignment.material


@dataclass
class CheckResult:
    """A verdict and its evidence (``to_json`` is what the API returns)."""

    verdict: Verdict
    evidence: Evidence
    claims: Claims
    input_kind: str
    elapsed_ms: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "input": self.input_kind,
                **self.evidence.to_json(self.verdict),
                "elapsed_ms": round(self.elapsed_ms, 2), **self.extra}


class Checker:
    """Checks messages against a read-only view of the hub's logged alerts.

    Thread-safe for concurrent checks: every read goes to the store, which files an
    alert's search text in the transaction that stores it (:mod:`tocsin.check.index`),
    so a just-issued alert is found at once and nothing is held in memory per alert.
    """

    def __init__(self, *, registry: Callable[[], Registry],
                 regions: RegionSet, log_size: Callable[[], int],
                 store: Any, clock: Callable[[], float] = time.time) -> None:
        self.history = History(store, regions)
        self.registry = registry
        self.regions = regions
        self.log_size = log_size
        self.store = store  # get / find / list_alerts / log_entries
        self.clock = clock
        self._names: IssuerNames | None = None

    @property
    def names(self) -> IssuerNames:
        registry = self.registry()
        if self._names is None or self._names.version != registry.version:
            self._names = IssuerNames(registry)
        return self._names

    # -- the public entry points ------------------------------------------------

    def check_text(self, text: str, hub_hosts: frozenset[str] = frozenset()) -> CheckResult:
        """Check pasted text (a post, a forwarded alert's words)."""
        started = time.perf_counter()
        text = clean_text(text)
        result = self._check_words(text, "text", hub_hosts)
        result.elapsed_ms = (time.perf_counter() - started) * 1000
        return result

    def check_alert_id(self, alert_id: str, input_kind: str, note: str | None = None,
                       ) -> CheckResult:
        """Check a message that names a logged alert directly (id, link, CAP bytes, proof)."""
        started = time.perf_counter()
        record = self.store.get(alert_id)
        evidence = Evidence(regions=self.regions)
        if note:
            evidence.notes.append(note)
        if record is None:
            evidence.notes.append(f"no logged alert has id {alert_id}")
            result = CheckResult("unverifiable", evidence, Claims(), input_kind)
        elif self._prove(record, evidence):
            result = self._final(record, evidence, Claims(), input_kind)
        else:
            result = CheckResult("unverifiable", evidence, Claims(), input_kind)
        result.elapsed_ms = (time.perf_counter() - started) * 1000
        return result

    def altered_reference(self, alert_id: str, input_kind: str,
                          differences: Sequence[Difference], notes: Sequence[str],
                          ) -> CheckResult:
        """A message that names a real alert but is not it (a foreign link, edited CAP bytes)."""
        started = time.perf_counter()
        record = self.store.get(alert_id)
        evidence = Evidence(regions=self.regions)
        evidence.notes.extend(notes)
        if record is None or not self._prove(record, evidence, role="original"):
            result = CheckResult("unverifiable", evidence, Claims(), input_kind)
        else:
            evidence.differences = list(differences)
            result = CheckResult("altered", evidence, Claims(), input_kind)
        result.elapsed_ms = (time.perf_counter() - started) * 1000
        return result

    def unverifiable(self, input_kind: str, note: str) -> CheckResult:
        """A verdict for input that names nothing checkable (e.g. a foreign proof bundle)."""
        evidence = Evidence(regions=self.regions)
        evidence.notes.append(note)
        return CheckResult("unverifiable", evidence, Claims(), input_kind)

    # -- the text path -----------------------------------------------------------

    def _context(self, hub_hosts: frozenset[str]) -> Context:
        registry = self.registry()

        def issuer_name(issuer_id: str) -> str:
            issuer = registry.issuer(issuer_id)
            return issuer.name_uk if issuer else issuer_id

        return Context(regions=self.regions, is_place=self._is_place,
                       is_issuer=self._issuer_word_test(), issuer_name=issuer_name,
                       hub_hosts=hub_hosts,
                       alert_exists=lambda alert_id: self.store.get(alert_id) is not None)

    def _check_words(self, text: str, input_kind: str,
                     hub_hosts: frozenset[str] = frozenset()) -> CheckResult:
        registry = self.registry()
        view = read_message(text)
        too_long = len(view.tokens) > MAX_MESSAGE_WORDS
        if too_long:
            view = _first_words(view, MAX_MESSAGE_WORDS)
        _step_aside()
        claims = read_claims(text, self.names, self.regions, view)
        _step_aside()
        words = list(view.tokens)
        evidence = Evidence(regions=self.regions)
        evidence.claims = claims
        evidence.claimed_issuers = [issuer_json(registry, i, p)
                                    for i, p in zip(claims.issuers, claims.issuer_phrases,
                                                    strict=True)]
        evidence.claimed_regions = [region_json(self.regions, c, p)
                                    for c, p in zip(claims.regions, claims.region_phrases,
                                                    strict=True)]
        evidence.normal_sha256 = normal_sha256(text)
        if too_long:
            evidence.notes.append(f"only the first {MAX_MESSAGE_WORDS} words were compared; "
                                  "a message this long is never confirmed as authentic")
        denial = self._denial_by_hash(evidence.normal_sha256)
        if denial is not None and self._prove(denial, evidence, role="denial"):
            return CheckResult("denied", evidence, claims, input_kind)
        ctx = self._context(hub_hosts)
        judged = self._judge(view, claims, ctx)
        good = [j for j in judged if j.clean and j.identifying and not too_long]
        now = self.clock()
        good.sort(key=lambda j: (j.alert.record.active_at(now), j.matched,
                                 j.alert.record.sent_ts), reverse=True)
        for j in good:
            if self._prove(j.alert.record, evidence, j):
                evidence.omitted = list(j.omitted)
                evidence.notes.extend(j.notes)
                return self._final(j.alert.record, evidence, claims, input_kind)
        denial = self._denial_by_text(words, ctx)
        if denial is not None and self._prove(denial, evidence, role="denial"):
            return CheckResult("denied", evidence, claims, input_kind)
        derived = [j for j in judged if (not j.clean or too_long) and j.derived]
        if derived:
            best = max(derived, key=lambda j: (j.matched, j.coverage))
            if self._prove(best.alert.record, evidence, best, role="original"):
                evidence.differences = list(best.differences)
                if too_long and not best.differences:
                    evidence.differences.append(Difference(
                        "added", f"(more than {MAX_MESSAGE_WORDS} words)", ""))
                evidence.omitted = list(best.omitted)
                evidence.notes.extend(best.notes)
                return CheckResult("altered", evidence, claims, input_kind)
        # A lead: a logged alert that says everything the message says, but the
        # message is too little to identify it. Then the issuer did publish it.
        lead = next((j for j in judged if j.clean and j.matched >= 2), None)
        if lead is not None and not claims.issuers:
            evidence.notes.append("the words agree with a logged alert but are too few "
                                  "to identify it")
            evidence.lead = {"id": lead.alert.id, "url": f"/alerts/{lead.alert.id}",
                             "api": f"/api/v1/alerts/{lead.alert.id}"}
        if claims.issuers and (lead is None or lead.alert.record.issuer_id not in claims.issuers):
            evidence.issuer_recent = self._issuer_recent(claims)
            return CheckResult("not-issued", evidence, claims, input_kind)
        evidence.current = self._current(claims)
        return CheckResult("unverifiable", evidence, claims, input_kind)

    def _judge(self, view: MessageView, claims: Claims, ctx: Context) -> list[Judgement]:
        """Judge the best candidates claim by claim (see :mod:`tocsin.check.rule`)."""
        words = list(view.tokens)
        is_place, is_issuer = ctx.is_place, ctx.is_issuer
        out: list[Judgement] = []
        aligned = sorted(self._align(words, claims, is_place, is_issuer),
                         key=lambda c: (c.alignment.matched, c.alignment.coverage,
                                        c.entry.sent_ts), reverse=True)
        ids = [c.entry.id for c in aligned[:JUDGE_TOP] if c.alignment.matched > 0]
        for item in view.actionables:  # an alert a link names is judged too
            link = ALERT_LINK.search(item.raw)
            if link and self.store.get(link.group(1).lower()) is not None:
                ids.insert(0, link.group(1).lower())
        for alert_id in dict.fromkeys(ids):
            _step_aside()
            record = self.store.get(alert_id)
            if record is None:
                continue
            alert = alert_view(record, self.regions)
            if alert is None:
                continue
            j = judge(view, claims, alert, ctx)
            if j is not None:
                out.append(j)
        return out

    def _final(self, record: AlertRecord, evidence: Evidence, claims: Claims,
               input_kind: str) -> CheckResult:
        """Authentic, or outdated when the alert is over, or altered when it is not Actual."""
        if record.status != "Actual":
            evidence.differences.append(Difference("status", "Actual", record.status))
            evidence.alerts["original"] = evidence.alerts.pop("match")
            return CheckResult("altered", evidence, claims, input_kind)
        over = self._over(record, claims)
        if over is not None:
            evidence.over = over
            evidence.current = self._current(claims)  # what is in force there now
            return CheckResult("outdated", evidence, claims, input_kind)
        return CheckResult("authentic", evidence, claims, input_kind)

    def _over(self, record: AlertRecord, claims: Claims) -> dict[str, Any] | None:
        """How and when the alert ended, if it has (all-clear, cancel, update, expiry)."""
        now = self.clock()
        if record.ended_ts is not None:
            ender = self.store.get(record.ended_by) if record.ended_by else None
            how = ("cancelled" if ender is not None and ender.msg_type == "Cancel"
                   else "all-clear" if ender is not None and "all-clear" in ender.kinds
                   else "updated")
            return _over_json(how, record.ended_ts, record.ended_by)
        if record.expires_ts is not None and record.expires_ts <= now:
            return _over_json("expired", record.expires_ts, None)
        if "all-clear" in record.kinds or record.msg_type not in ("Alert", "Update"):
            return None
        addressed = [self.regions.canonical(c) or c for c in record_codes(record)]
        named = [c for c in claims.regions
                 if any(c == t or self.regions.covers(t, c) for t in addressed)]
        if named and record.targets and not any(
                c == t or self.regions.covers(t, c)
                for c in named for t, cov in record.targets.items() if cov == "full"):
            return _over_json("ended-there", None, None)
        return None
    def _candidates(self, words: Sequence[str], claims: Claims) -> list[TextEntry]:
        """Alerts worth aligning: best weighted word overlap, plus recent by region/issuer.

        Words are visited rarest first within a budget of postings, so a message of common
        words costs no more than a bounded read of the store's inverted index.
        """
        history = self.history
        count, df = history.stats(words)
        n = max(1, count)
        ids = sorted(df, key=lambda w: (df[w], w))
        idf = {w: math.log(1 + n / max(1, df[w])) for w in ids}
        scores: dict[int, float] = {}
        budget = POSTING_BUDGET
        for w in ids:
            if df[w] > budget:
                break
            plist = history.postings(w)
            budget -= len(plist)
            weight = idf[w]
            for pos in plist:
                scores[pos] = scores.get(pos, 0.0) + weight
        # The best by weight (keys are unique: the same set a full sort would give).
        pool = set(heapq.nlargest(ALIGN_TOP * 20, scores, key=lambda p: (scores[p], p)))
        for code in claims.regions[:4]:
            pool.update(history.recent_in_region(code, RECENT_PER_KEY))
        for issuer in claims.issuers[:3]:
            pool.update(history.recent_by_issuer(issuer, RECENT_PER_KEY))
        pool.update(history.recent(RECENT_PER_KEY))
        entries = {p: e for p, e in history.entries(pool).items() if not e.text.denial}
        known = {w for e in entries.values() for _, info in e.text.infos for w in info}
        _, known_df = history.stats(known - set(idf))
        for w, docs in known_df.items():
            idf[w] = math.log(1 + n / max(1, docs))
        wanted = set(ids)

        def full_score(entry: TextEntry) -> tuple[float, float]:
            # How much of the message this alert explains (rare words weigh more),
            # then how much of the alert the message carries. Ranking by the share
            # alone would prefer any short templated alert the message happens to
            # contain over the long alert it actually quotes.
            best = (0.0, 0.0)
            for _, info in entry.text.infos:
                toks = set(info)
                shared = sum(idf[w] for w in sorted(toks & wanted))
                total = sum(idf.get(w) or math.log(1 + n) for w in sorted(toks))
                best = max(best, (round(shared, 6), round(shared / total, 6) if total else 0.0))
            return best

        scored = {p: full_score(e) for p, e in entries.items()}
        ranked = sorted(scored, key=lambda p: (scored[p], p), reverse=True)
        # A short alert the message carries whole ("Повітряна тривога") weighs little
        # next to long ones sharing more words; a second lane keeps the best few by share.
        by_share = sorted(scored, key=lambda p: (scored[p][1], p), reverse=True)
        return [entries[p] for p in dict.fromkeys([*ranked[:ALIGN_TOP], *by_share[:SHARE_LANE]])]

    def _align(self, words: Sequence[str], claims: Claims, is_place: Callable[[str], bool],
               is_issuer: Callable[[str], bool]) -> list[Candidate]:
        out: list[Candidate] = []
        for entry in self._candidates(words, claims):
            _step_aside()
            best: Candidate | None = None
            for language, alert_words in entry.text.infos:
                a = align(list(alert_words), words, is_place=is_place, is_issuer=is_issuer)
                cand = Candidate(entry, language, a)
                # The info the message follows most closely (not the one it differs least from).
                if best is None or (a.matched, a.coverage) > (best.alignment.matched,
                                                              best.alignment.coverage):
                    best = cand
            if best is not None:
                out.append(best)
        out.sort(key=_rank, reverse=True)
        return out

    def _get(self, alert_id: str) -> AlertRecord | None:
        record: AlertRecord | None = self.store.get(alert_id)
        return record

    def _denial_by_hash(self, digest: str) -> AlertRecord | None:
        history = self.history
        positions = history.denials_naming(digest)
        entries = history.entries(positions)
        for pos in positions:  # newest first
            entry = entries.get(pos)
            record = self._get(entry.id) if entry is not None else None
            if record is not None:
                return record
        return None

    def _denial_by_text(self, words: Sequence[str], ctx: Context) -> AlertRecord | None:
        history = self.history
        scores: dict[int, int] = {}
        for w in sorted(set(words)):
            for pos in history.postings(w, denial=True):
                scores[pos] = scores.get(pos, 0) + 1
        top = sorted(scores, key=lambda p: (scores[p], p), reverse=True)[:5]
        entries = history.entries(top)
        for pos in top:
            entry = entries.get(pos)
            denied = entry.text.denied if entry is not None else ()
            if entry is None or not denied:
                continue
            a = align(list(denied), words, is_place=ctx.is_place, is_issuer=ctx.is_issuer)
            facts = {d.fact for d in a.differences}
            if a.coverage >= DENIAL_MIN_COVERAGE and not facts & {"region", "time", "kind"}:
                record = self._get(entry.id)
                if record is not None:
                    return record
        return None

    # -- proof ---------------------------------------------------------------------

    def _prove(self, record: AlertRecord, evidence: Evidence, cand: Judgement | None = None,
               role: str = "match") -> bool:
        """Verify the stored alert's signature and log inclusion; record both as evidence."""
        try:
            verdict = verify_alert(record.cap, record.statement, self.registry(),
                                   regions=self.regions,
                                   at=datetime.fromtimestamp(record.received_ts, UTC))
            status, reason = verdict.status, verdict.reason
        except VerifyInputError as exc:
            status, reason = "forged", str(exc)
        size = self.log_size()
        logged = record.log_index is not None and record.log_index < size
        evidence.set_alert(role, record, self.registry(), signature=(status, reason),
                           checkpoint_size=size, now=self.clock(), candidate=cand)
        if status != "authentic":
            evidence.notes.append(f"alert {record.id}: signature check says {status}: {reason}")
        if not logged:
            evidence.notes.append(f"alert {record.id} is not yet covered by a signed "
                                  "checkpoint; check again in a moment")
        return status == "authentic" and logged

    # -- context for the other verdicts ----------------------------------------------

    def _current(self, claims: Claims) -> list[dict[str, Any]]:
        """Alerts in force now for the places the message names or, naming none, of its kinds."""
        now = self.clock()
        if claims.regions:
            records = self.store.list_alerts(regions=list(claims.regions[:8]), active_at=now,
                                             limit=CURRENT_LIMIT)
            return [self._brief(r) for r in records if "denial" not in r.kinds]
        kinds = set(claims.kinds) - {"denial"}
        if not kinds:
            return []
        records = self.store.list_alerts(active_at=now, limit=500)
        return [self._brief(r) for r in records if kinds & set(r.kinds)][:CURRENT_LIMIT]

    def _brief(self, record: AlertRecord) -> dict[str, Any]:
        out = _brief(record)
        out["where"] = [region_json(self.regions, code)
                        for code, cov in record.targets.items() if cov == "full"][:5]
        return out

    def _issuer_recent(self, claims: Claims) -> list[dict[str, Any]]:
        out = []
        for issuer in claims.issuers[:3]:
            positions = self.history.recent_by_issuer(issuer, 5)
            entries = self.history.entries(positions)
            for e in (entries[p] for p in positions if p in entries):
                out.append({"id": e.id, "issuer": e.issuer_id, "kinds": list(e.kinds),
                            "sent": _iso(e.sent_ts), "url": f"/alerts/{e.id}",
                            "api": f"/api/v1/alerts/{e.id}"})
        return out

    def _is_place(self, word: str) -> bool:
        if len(word) < 4 or word.isdigit():
            return False
        found = self.regions.find_by_name(word)
        return 0 < len(found) <= 2

    def _issuer_word_test(self) -> Callable[[str], bool]:
        registry = self.registry()
        words = {w for i in registry.issuers
                 for name in (i.name_uk, i.name_en, *i.aliases_uk, *i.aliases_en)
                 for w in tokens(name) if len(w) >= 3}
        return words.__contains__


KYIV = ZoneInfo("Europe/Kyiv")


def _rank(c: Candidate) -> tuple[int, int, float, float]:
    a = c.alignment
    return (1 if c.clean else 0, a.matched, a.coverage, c.entry.sent_ts)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _brief(record: AlertRecord) -> dict[str, Any]:
    return {"id": record.id, "issuer": record.issuer_id, "event": record.event,
            "kinds": list(record.kinds), "sent": record.sent,
            "url": f"/alerts/{record.id}", "api": f"/api/v1/alerts/{record.id}"}


def record_codes(record: AlertRecord) -> list[str]:
    """The region codes an alert was addressed to (fully), ended or not."""
    try:
        alert = parse_alert(record.cap, strict=False).alert
    except CapError:
        return [c for c, cov in record.targets.items() if cov == "full"]
    return [p.value.strip() for i in alert.info for a in i.area for p in a.geocode]


def _over_json(how: str, at: float | None, by: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"how": how, "at": _iso(at) if at is not None else None,
                           "at_kyiv": _kyiv(at) if at is not None else None, "by": by}
    if by:
        out["by_url"] = f"/alerts/{by}"
    return out


def _kyiv(ts: float) -> str:
    return datetime.fromtimestamp(ts, KYIV).strftime("%d.%m.%Y %H:%M")


def _first_words(view: MessageView, n: int) -> MessageView:
    starts = frozenset(s for s in view.sentence_starts if s <= n)
    return MessageView(view.text, view.tokens[:n], view.originals[:n], starts,
                       frozenset(e for e in view.ellipsis_before if e <= n), view.actionables,
                       tuple(sorted(starts)))


def _issuer_difference(registry: Registry, claims: Claims, record: AlertRecord) -> Difference:
    issuer = registry.issuer(record.issuer_id)
    return Difference("issuer", ", ".join(claims.issuer_phrases),
                      issuer.name_uk if issuer else record.issuer_id)


# Characters that show nothing: text made only of these (and spaces) is empty.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u2060"
                                   "\u2061\u2062\u2063\u2064\ufeff\u202a\u202b\u202c"
                                   "\u202d\u202e\u2066\u2067\u2068\u2069\u3164"))


def clean_text(text: str) -> str:
    """Refuse what cannot be a message; drop control characters (keep line breaks)."""
    if len(text) > MAX_TEXT_CHARS:
        raise CheckInputError(f"the text is {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
    if "\x00" in text:
        raise CheckInputError("the text contains NUL bytes: it looks binary, not a message")
    kept = "".join(c for c in text if c in "\n\t" or (c >= " " and c != "\x7f"))
    if not kept.translate(_INVISIBLE).strip():
        raise CheckInputError("the text is empty (it has only spaces or invisible characters)")
    return kept


__all__ = ["VERDICTS", "CheckInputError", "CheckResult", "Checker", "Verdict", "clean_text",
           "summary"]

"""The verdict on a circulating message: authentic, altered, not-issued, denied, unverifiable.

The rules, in the order they are applied:

1. ``authentic`` only when the message carries a logged alert's words with no
   material change (or names it by id, link, CAP bytes or proof bundle), the
   alert's signed statement verifies against the registry *now*, and its log
   index is covered by the latest signed checkpoint. Otherwise no verdict
   ever says ``authentic``.
2. ``denied`` when an issuer's logged, verified denial names the message's
   normal-form SHA-256, or quotes it with no change of place, time or kind.
3. ``altered`` when the message lines up with a logged alert but a fact
   inside the quoted span differs; the differences are the evidence.
4. ``not-issued`` when the message names a registry issuer and nothing that
   issuer logged lines up with it.
5. ``unverifiable`` otherwise, with what the log holds for the named regions.

A real alert is never called fake: a message consistent with a logged alert
but too short to confirm comes back ``unverifiable`` with that alert as a
lead, never ``not-issued``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from tocsin.check.align import Alignment, Difference, align
from tocsin.check.claims import Claims, IssuerNames, read_claims
from tocsin.check.index import AlertIndex, Entry
from tocsin.check.normalise import normal_sha256, tokens
from tocsin.check.report import Evidence, issuer_json, region_json, summary
from tocsin.regions import RegionSet
from tocsin.store.base import AlertRecord
from tocsin.trust.registry import Registry
from tocsin.trust.verify import VerifyInputError, verify_alert

Verdict = Literal["authentic", "altered", "not-issued", "denied", "unverifiable"]
VERDICTS: tuple[Verdict, ...] = ("authentic", "altered", "not-issued", "denied", "unverifiable")

MAX_TEXT_CHARS = 20_000  # longer posts are refused: no real alert is this long
POSTING_BUDGET = 40_000  # postings visited per check, rarest words first
RECENT_PER_KEY = 100  # most recent alerts per named region / issuer also considered
ALIGN_TOP = 16  # candidates aligned word by word
AUTH_MIN_MATCHED = 6  # words of the alert the message must carry...
AUTH_MIN_COVERAGE = 0.4  # ...and this share of the alert's text (or AUTH_LONG_QUOTE words)
AUTH_LONG_QUOTE = 15
ALTERED_MIN_MATCHED = 3
ALTERED_MIN_COVERAGE = 0.5
DENIAL_MIN_COVERAGE = 0.8
LEAD_MIN_MATCHED = 3
LEAD_MESSAGE_SHARE = 0.6


class CheckInputError(ValueError):
    """The input cannot be checked at all (empty, too long, not text)."""


@dataclass(frozen=True, slots=True)
class Candidate:
    entry: Entry
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
    """Checks messages against a read-only view of the hub's logged alerts."""

    def __init__(self, index: AlertIndex, *, registry: Callable[[], Registry],
                 regions: RegionSet, log_size: Callable[[], int],
                 store: Any, clock: Callable[[], float] = time.time) -> None:
        self.index = index
        self.registry = registry
        self.regions = regions
        self.log_size = log_size
        self.store = store  # get / list_alerts / log_entries
        self.clock = clock
        self._names: IssuerNames | None = None

    @property
    def names(self) -> IssuerNames:
        registry = self.registry()
        if self._names is None or self._names.version != registry.version:
            self._names = IssuerNames(registry)
        return self._names

    # -- the public entry points ------------------------------------------------

    def check_text(self, text: str) -> CheckResult:
        """Check pasted text (a post, a forwarded alert's words)."""
        started = time.perf_counter()
        text = clean_text(text)
        with self.index.lock:
            self.index.refresh()
            result = self._check_words(text, "text")
        result.elapsed_ms = (time.perf_counter() - started) * 1000
        return result

    def check_alert_id(self, alert_id: str, input_kind: str, note: str | None = None,
                       ) -> CheckResult:
        """Check a message that names a logged alert directly (id, link, CAP, proof)."""
        started = time.perf_counter()
        with self.index.lock:
            self.index.refresh()
            record = self.store.get(alert_id)
            evidence = Evidence(regions=self.regions)
            if note:
                evidence.notes.append(note)
            if record is None:
                evidence.notes.append(f"no logged alert has id {alert_id}")
                result = CheckResult("unverifiable", evidence, Claims(), input_kind)
            else:
                ok = self._prove(record, evidence)
                result = CheckResult("authentic" if ok else "unverifiable", evidence,
                                     Claims(), input_kind)
        result.elapsed_ms = (time.perf_counter() - started) * 1000
        return result

    def unverifiable(self, input_kind: str, note: str) -> CheckResult:
        """A verdict for input that names nothing checkable (e.g. a foreign proof bundle)."""
        evidence = Evidence(regions=self.regions)
        evidence.notes.append(note)
        return CheckResult("unverifiable", evidence, Claims(), input_kind)

    # -- the text path -----------------------------------------------------------

    def _check_words(self, text: str, input_kind: str) -> CheckResult:
        registry = self.registry()
        claims = read_claims(text, self.names, self.regions)
        words = tokens(text)
        evidence = Evidence(regions=self.regions)
        evidence.claims = claims
        evidence.claimed_issuers = [issuer_json(registry, i, p)
                                    for i, p in zip(claims.issuers, claims.issuer_phrases,
                                                    strict=True)]
        evidence.claimed_regions = [region_json(self.regions, c, p)
                                    for c, p in zip(claims.regions, claims.region_phrases,
                                                    strict=True)]
        evidence.normal_sha256 = normal_sha256(text)
        is_place = self._is_place
        is_issuer = self._issuer_word_test()
        candidates = self._align(words, claims, is_place, is_issuer)
        clean = [c for c in candidates if c.clean and self._confirms(c)]
        for cand in clean:
            record = self.store.get(cand.entry.id)
            if record is None:
                continue
            if claims.issuers and record.issuer_id not in claims.issuers:
                continue  # the words are real but the message puts them in another's mouth
            if self._prove(record, evidence, cand):
                return CheckResult("authentic", evidence, claims, input_kind)
        denial = self._find_denial(words, evidence.normal_sha256, is_place, is_issuer)
        if denial is not None and self._prove(denial, evidence, role="denial"):
            return CheckResult("denied", evidence, claims, input_kind)
        altered = [c for c in candidates if not c.clean
                   and c.alignment.matched >= ALTERED_MIN_MATCHED
                   and c.alignment.coverage >= ALTERED_MIN_COVERAGE]
        misattributed = [c for c in clean if claims.issuers
                         and c.entry.issuer_id not in claims.issuers]
        if altered or misattributed:
            best = max(altered + misattributed, key=lambda c: (c.alignment.matched,
                                                              c.alignment.coverage))
            record = self.store.get(best.entry.id)
            if record is not None and self._prove(record, evidence, best, role="original"):
                evidence.differences = list(best.alignment.material)
                if best in misattributed and best not in altered:
                    evidence.differences.append(_issuer_difference(registry, claims, record))
                return CheckResult("altered", evidence, claims, input_kind)
        # A lead: a logged alert that says everything the message says, but the
        # message is too short to confirm it. Then the issuer did publish it.
        lead = next((c for c in candidates if c.clean and c.alignment.matched >= LEAD_MIN_MATCHED
                     and c.alignment.matched >= LEAD_MESSAGE_SHARE * c.alignment.message_len),
                    None)
        if lead is not None and not claims.issuers:
            evidence.notes.append("the words agree with a logged alert but are too few "
                                  "to confirm it")
            evidence.lead = {"id": lead.entry.id, "url": f"/api/v1/alerts/{lead.entry.id}"}
        if claims.issuers and (lead is None or lead.entry.issuer_id not in claims.issuers):
            evidence.issuer_recent = self._issuer_recent(claims)
            return CheckResult("not-issued", evidence, claims, input_kind)
        evidence.current = self._current(claims)
        return CheckResult("unverifiable", evidence, claims, input_kind)

    def _confirms(self, cand: Candidate) -> bool:
        a = cand.alignment
        need = min(AUTH_MIN_MATCHED, a.alert_len)
        return a.matched >= need and (a.coverage >= AUTH_MIN_COVERAGE
                                      or a.matched >= AUTH_LONG_QUOTE)

    def _candidates(self, words: Sequence[str], claims: Claims) -> list[int]:
        """Positions worth aligning: best weighted word overlap, plus recent by region/issuer."""
        index = self.index
        n = max(1, len(index.entries))
        ids = sorted({t for t in index.token_ids(words) if t >= 0},
                     key=lambda t: len(index.postings.get(t, ())))
        idf = {t: math.log(1 + n / max(1, len(index.postings.get(t, ())))) for t in ids}
        scores: dict[int, float] = {}
        budget = POSTING_BUDGET
        for t in ids:
            plist = index.postings.get(t, ())
            if len(plist) > budget:
                break
            budget -= len(plist)
            w = idf[t]
            for pos in plist:
                scores[pos] = scores.get(pos, 0.0) + w
        pool = set(sorted(scores, key=lambda p: (scores[p], p), reverse=True)[:ALIGN_TOP * 20])
        for code in claims.regions[:4]:
            pool.update(index.recent(index.by_region.get(code, ()), RECENT_PER_KEY))
        for issuer in claims.issuers[:3]:
            pool.update(index.recent(index.by_issuer.get(issuer, ()), RECENT_PER_KEY))
        pool.update(range(max(0, len(index.entries) - RECENT_PER_KEY), len(index.entries)))
        wanted = set(ids)

        def full_score(pos: int) -> tuple[float, float]:
            # How much of the message this alert explains (rare words weigh more),
            # then how much of the alert the message carries. Ranking by the share
            # alone would prefer any short templated alert the message happens to
            # contain over the long alert it actually quotes.
            best = (0.0, 0.0)
            for info in index.entries[pos].infos:
                toks = set(info.tokens)
                shared = sum(idf[t] for t in sorted(toks & wanted))
                total = sum(idf.get(t) or math.log(1 + n / max(1, len(index.postings.get(t, ()))))
                            for t in sorted(toks))
                best = max(best, (round(shared, 6), round(shared / total, 6) if total else 0.0))
            return best

        ranked = sorted((p for p in pool if not index.entries[p].is_denial),
                        key=lambda p: (full_score(p), p), reverse=True)
        return ranked[:ALIGN_TOP]

    def _align(self, words: Sequence[str], claims: Claims, is_place: Callable[[str], bool],
               is_issuer: Callable[[str], bool]) -> list[Candidate]:
        out: list[Candidate] = []
        for pos in self._candidates(words, claims):
            entry = self.index.entries[pos]
            best: Candidate | None = None
            for info in entry.infos:
                alert_words = [self.index.words[t] for t in info.tokens]
                a = align(alert_words, words, is_place=is_place, is_issuer=is_issuer)
                cand = Candidate(entry, info.language, a)
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

    def _find_denial(self, words: Sequence[str], digest: str, is_place: Callable[[str], bool],
                     is_issuer: Callable[[str], bool]) -> AlertRecord | None:
        index = self.index
        for pos in reversed(index.by_denied_hash.get(digest, [])):
            record = self._get(index.entries[pos].id)
            if record is not None:
                return record
        ids = {t for t in index.token_ids(words) if t >= 0}
        scores: dict[int, int] = {}
        for t in ids:
            for pos in index.denial_postings.get(t, ()):
                scores[pos] = scores.get(pos, 0) + 1
        for pos in sorted(scores, key=lambda p: (scores[p], p), reverse=True)[:5]:
            denied = index.entries[pos].denied_text
            if denied is None or not len(denied):
                continue
            a = align([index.words[t] for t in denied], words, is_place=is_place,
                      is_issuer=is_issuer)
            facts = {d.fact for d in a.differences}
            if a.coverage >= DENIAL_MIN_COVERAGE and not facts & {"region", "time", "kind"}:
                record = self._get(index.entries[pos].id)
                if record is not None:
                    return record
        return None

    # -- proof ---------------------------------------------------------------------

    def _prove(self, record: AlertRecord, evidence: Evidence, cand: Candidate | None = None,
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
        if not claims.regions:
            return []
        records = self.store.list_alerts(regions=list(claims.regions[:8]),
                                         active_at=self.clock(), limit=20)
        return [_brief(r) for r in records if "denial" not in r.kinds]

    def _issuer_recent(self, claims: Claims) -> list[dict[str, Any]]:
        out = []
        for issuer in claims.issuers[:3]:
            for pos in reversed(self.index.recent(self.index.by_issuer.get(issuer, ()), 5)):
                e = self.index.entries[pos]
                out.append({"id": e.id, "issuer": e.issuer_id, "kinds": list(e.kinds),
                            "sent": _iso(e.sent_ts), "url": f"/api/v1/alerts/{e.id}"})
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


def _rank(c: Candidate) -> tuple[int, int, float, float]:
    a = c.alignment
    return (1 if c.clean else 0, a.matched, a.coverage, c.entry.sent_ts)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _brief(record: AlertRecord) -> dict[str, Any]:
    return {"id": record.id, "issuer": record.issuer_id, "event": record.event,
            "kinds": list(record.kinds), "sent": record.sent,
            "url": f"/api/v1/alerts/{record.id}"}


def _issuer_difference(registry: Registry, claims: Claims, record: AlertRecord) -> Difference:
    issuer = registry.issuer(record.issuer_id)
    return Difference("issuer", ", ".join(claims.issuer_phrases),
                      issuer.name_uk if issuer else record.issuer_id)


def clean_text(text: str) -> str:
    """Refuse what cannot be a message; drop control characters (keep line breaks)."""
    if len(text) > MAX_TEXT_CHARS:
        raise CheckInputError(f"the text is {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
    if "\x00" in text:
        raise CheckInputError("the text contains NUL bytes: it looks binary, not a message")
    kept = "".join(c for c in text if c in "\n\t" or (c >= " " and c != "\x7f"))
    if not kept.strip():
        raise CheckInputError("the text is empty")
    return kept


__all__ = ["VERDICTS", "CheckInputError", "CheckResult", "Checker", "Verdict", "clean_text",
           "summary"]

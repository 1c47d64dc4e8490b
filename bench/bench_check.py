"""Evaluate the message checker on the labelled set and time it with 100,000 logged alerts.

What it does, end to end, with real signatures throughout:

1. makes a demo hub (registry, issuer keys) in a temporary directory;
2. logs ``--alerts`` background alerts (default 100,000) from several
   templates, issuers and regions, sent over the last 30 days: each is
   composed, signed with the issuer's key, verified and authorised by the
   hub's own issuing code (``Issuer.prepare``) and appended to the store in
   batches (the benchmark writes to the store directly, not over HTTP);
3. issues the evaluation's real alerts, cancels and denials
   (``eval/check/alerts.json`` and ``adversarial_alerts.json``: some ended by an
   all-clear or a cancel, one expired) in the order of their send times, and
   signs a checkpoint;
4. loads the checker's index from the store (timed), checks every message of
   ``eval/check/messages.jsonl``, ``holdout.jsonl`` and ``adversarial.jsonl``
   (``{hub}``, ``{id:KEY}`` and ``{cap:KEY}`` in a message are filled in with
   the hub's address, the logged alert's id and its exact CAP bytes, with the
   message's ``edits`` applied) and prints precision and recall per verdict,
   the real-alert recall, and check latency (p50 / p95 / max).

Run: ``python bench/bench_check.py [--alerts 100000] [--repeat 3] [--show-errors]``.

``--flood`` measures fairness instead (issue 11): a real hub process
(``tocsin serve --demo``), four clients each posting 20,000-character texts
back to back, and one person checking a copy of a real alert every 50 ms;
it prints the person's check latency (p50 / p99 / max) with and without the
flood. Run: ``python bench/bench_check.py --flood [--person-checks 200]``.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tocsin.cap import to_xml
from tocsin.cap.model import Alert, Reference
from tocsin.check.denial import compose_denial
from tocsin.check.engine import VERDICTS, Checker
from tocsin.check.inputs import check_input
from tocsin.client import sign_cap
from tocsin.compose import AlertFacts, compose_alert, compose_cancel
from tocsin.config import load_settings
from tocsin.demo import build_demo_registry, demo_key_path
from tocsin.issue import alert_id_for
from tocsin.regions import default_region_set
from tocsin.runtime import Hub
from tocsin.store.base import NewAlert
from tocsin.trust.note import Signer

EVAL_DIR = Path(__file__).resolve().parents[1] / "eval" / "check"
BATCH = 2000
# The background never targets these oblasts (Odesa, Lviv, Vinnytsia, Rivne), so that the
# sets' messages about an air raid alert there ("Повітряна тривога в Одесі") meet only the
# evaluation's own alerts: otherwise whether such a message is backed (or over) would
# depend on the random background, not on the label.
RESERVED_OBLASTS = frozenset({"51", "46", "05", "56"})
KYIV_DISTRICTS = ("Голосіївському", "Дарницькому", "Деснянському", "Оболонському",
                  "Печерському", "Подільському", "Святошинському", "Солом'янському",
                  "Шевченківському")


class Clock:
    """The hub's clock, set to each background alert's send time while it is issued."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def background_facts(rng: random.Random, regions: Any, sent: datetime) -> AlertFacts:
    """One templated background alert (templates differ from the evaluation's alerts)."""
    roll = rng.random()
    level = "hromada" if roll < 0.8 else "raion" if roll < 0.95 else "oblast"
    region = rng.choice(regions[level])
    at = sent.astimezone(UTC).strftime("%H:%M")
    name, name_en, code = region.name_uk_full, region.name_en, region.code
    template = rng.random()
    if template < 0.45:
        return AlertFacts("demo-air-force", "air-raid", (code,), sent=sent,
                          headline=f"Повітряна тривога: {name}",
                          description=f"Тривогу оголошено о {at}.",
                          instruction="Прямуйте до укриття.",
                          extra_info=(("en-US", "Air raid alert", f"Air raid alert: {name_en}",
                                       "Go to a shelter."),))
    if template < 0.65:
        return AlertFacts("demo-air-force", "drone", (code,), sent=sent,
                          headline=f"Загроза БпЛА: {name}",
                          description="Фіксується рух ударних БпЛА.",
                          instruction="Прямуйте до укриття.",
                          extra_info=(("en-US", "Drone threat", f"Drone threat: {name_en}",
                                       "Go to a shelter."),))
    if template < 0.8:
        return AlertFacts("demo-air-force", "missile", (code,), sent=sent,
                          headline=f"Ракетна загроза: {name}",
                          description=f"Можливий ракетний удар, оголошено о {at}.",
                          instruction="Негайно прямуйте до укриття.")
    if template < 0.9:
        return AlertFacts("demo-air-force", "all-clear", (code,), sent=sent,
                          headline=f"Відбій тривоги: {name}", instruction="Будьте уважні.")
    if template < 0.97:
        district = rng.choice(KYIV_DISTRICTS)
        return AlertFacts("demo-kyiv-city", "threat-notice", ("UA80000000000093317",), sent=sent,
                          headline=f"КМВА: у {district} районі обмежено рух транспорту",
                          description=f"Обмеження діятиме до {rng.randint(10, 22)}:00.",
                          instruction="Плануйте маршрут заздалегідь.")
    oblast = rng.choice(regions["oblast"])
    return AlertFacts("demo-defence-intelligence", "threat-notice", (oblast.code,), sent=sent,
                      headline=f"ГУР МО: загроза ударів по території: {oblast.name_uk_full}",
                      description="Воєнна розвідка фіксує підготовку ворога до ударів "
                                  "найближчим часом.",
                      instruction="Стежте за офіційними повідомленнями.")


def issue_all(hub: Hub, clock: Clock, items: list[tuple[Alert, Signer, float]]) -> int:
    """Verify+authorise each signed alert with the hub's own code, append in batches."""
    batch: list[NewAlert] = []
    done = 0
    for alert, signer, at in items:
        cap = to_xml(alert)
        clock.now = at
        new, _ = hub.issuer.prepare(cap, sign_cap(cap, signer))
        batch.append(new)
        if len(batch) >= BATCH:
            done += _append(hub, batch)
            batch = []
    if batch:
        done += _append(hub, batch)
    return done


def _append(hub: Hub, batch: list[NewAlert]) -> int:
    results = hub.store.append_batch(batch)
    failures = [r for r in results if isinstance(r, Exception)]
    if failures:
        raise SystemExit(f"store refused {len(failures)} alerts: {failures[0]}")
    return len(results)


def eval_alert(spec: dict[str, Any], sent: datetime) -> Alert:
    """One evaluation alert from its spec (see eval/check/*alerts.json)."""
    if "extra" in spec:
        extra = tuple((lang, spec["kind"], headline, instruction)
                      for lang, headline, instruction in spec["extra"])
    elif "en_headline" in spec:
        extra = (("en-US", spec["kind"], spec["en_headline"], spec["en_instruction"]),)
    else:
        extra = ()
    return compose_alert(AlertFacts(
        spec["issuer"], spec["kind"], tuple(spec["areas"]), sent=sent, event=spec.get("event"),
        headline=spec.get("headline"), description=spec.get("description"),
        instruction=spec.get("instruction"), language=spec.get("language", "uk-UA"),
        expires_in=timedelta(minutes=spec.get("expires_minutes", 360)), extra_info=extra,
    ))


def eval_items(specs: list[dict[str, Any]], denials: list[dict[str, Any]],
               signers: dict[str, Signer], now: datetime,
               ) -> tuple[list[tuple[Alert, Signer, float]], dict[str, Alert]]:
    """The evaluation's alerts, cancels and denials in the order they are sent."""
    timed: list[tuple[datetime, Alert, str, str | None]] = []
    for k, spec in enumerate(specs):
        sent = (now - timedelta(minutes=spec.get("minutes_ago", 50 - k))).replace(microsecond=0)
        alert = eval_alert(spec, sent)
        timed.append((sent, alert, spec["issuer"], spec["key"]))
        if "cancel_minutes_ago" in spec:
            at = (now - timedelta(minutes=spec["cancel_minutes_ago"])).replace(microsecond=0)
            cancel = compose_cancel(issuer_id=spec["issuer"], sender=alert.sender, sent=at,
                                    original=Reference(sender=alert.sender,
                                                       identifier=alert.identifier,
                                                       sent=alert.sent))
            timed.append((at, cancel, spec["issuer"], None))
    for k, denial in enumerate(denials):
        sent = (now - timedelta(minutes=20 - k)).replace(microsecond=0)
        alert = compose_denial(issuer_id=denial["issuer"], denied_text=denial["text"],
                               areas=tuple(denial["areas"]))
        timed.append((sent, _at(alert, sent), denial["issuer"], denial["key"]))
    timed.sort(key=lambda t: t[0])
    by_key = {key: alert for _, alert, _, key in timed if key}
    return ([(alert, signers[issuer], sent.timestamp() + 1) for sent, alert, issuer, _ in timed],
            by_key)


HUB_URL = "http://127.0.0.1:8000"  # the hub the checker is told it is ({hub} in messages)


def message_text(message: dict[str, Any], alerts: dict[str, Alert]) -> str:
    """A message's text with {hub}, {id:KEY} and {cap:KEY} filled in and CAP edits applied."""
    text: str = message["text"]
    text = text.replace("{hub}", HUB_URL)
    text = re.sub(r"\{id:([\w-]+)\}", lambda m: alert_id_for(to_xml(alerts[m.group(1)])), text)
    match = re.fullmatch(r"\{cap:([\w-]+)\}", text)
    if match:
        text = to_xml(alerts[match.group(1)]).decode("utf-8")
        for old, new in message.get("edits", []):
            if old == "@expires+7d":
                text = re.sub(r"<expires>([^<]+)</expires>", _plus_week, text)
            else:
                text = text.replace(old, new)
    return text


def _plus_week(m: re.Match[str]) -> str:
    moment = datetime.fromisoformat(m.group(1)) + timedelta(days=7)
    return f"<expires>{moment.isoformat()}</expires>"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="timing passes over the set")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--show-errors", action="store_true")
    parser.add_argument("--flood", action="store_true",
                        help="measure a person's check latency while 4 clients flood")
    parser.add_argument("--person-checks", type=int, default=200)
    parser.add_argument("--only-alerts", metavar="FILE",
                        help="issue only this file's alerts and denials (under eval/check), "
                             "e.g. review_alerts.json for review.jsonl")
    parser.add_argument("--set", dest="sets", action="append",
                        help="message file(s) under eval/check (default: messages.jsonl, then "
                             "holdout.jsonl, reported separately)")
    args = parser.parse_args()
    if args.flood:
        flood_bench(args.person_checks, args.seed)
        return

    rng = random.Random(args.seed)
    regions = default_region_set()
    by_level = {level: [r for r in regions.at_level(level) if r.code[2:4] not in RESERVED_OBLASTS]
                for level in ("oblast", "raion", "hromada")}
    spec = json.loads((EVAL_DIR / "alerts.json").read_text(encoding="utf-8"))
    adversarial = json.loads((EVAL_DIR / "adversarial_alerts.json").read_text(encoding="utf-8"))
    if args.only_alerts:
        spec = json.loads((EVAL_DIR / args.only_alerts).read_text(encoding="utf-8"))
        adversarial = {"alerts": []}
    sets = {name: [json.loads(line) for line in
                   (EVAL_DIR / name).read_text(encoding="utf-8").splitlines() if line]
            for name in args.sets or ("messages.jsonl", "holdout.jsonl", "adversarial.jsonl")}

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        # Keys valid from before the oldest background alert.
        registry = build_demo_registry(data, regions, now=datetime.now(UTC) - timedelta(days=31))
        clock = Clock()
        hub = Hub(load_settings({"data_dir": data}), registry_bytes=registry, regions=regions,
                  clock=clock)
        signers = {i.id: Signer.from_skey(demo_key_path(data, i.id).read_text().strip())
                   for i in hub.registry.issuers}
        now = datetime.now(UTC)
        start = now - timedelta(days=30)
        step = (timedelta(days=30) - timedelta(hours=1)) / max(1, args.alerts)
        t0 = time.perf_counter()
        items = []
        for n in range(args.alerts):
            sent = (start + step * n).replace(microsecond=0)
            facts = background_facts(rng, by_level, sent)
            items.append((compose_alert(facts), signers[facts.issuer_id], sent.timestamp() + 1))
        logged = issue_all(hub, clock, items)
        del items
        build_secs = time.perf_counter() - t0
        specs = spec["alerts"] + adversarial["alerts"]
        real, by_key = eval_items(specs, spec["denials"], signers, now)
        logged += issue_all(hub, clock, real)
        hub.checkpointer.sign_now()

        rss_before = current_rss_mib()
        checker = Checker(registry=lambda: hub.registry, regions=regions,
                          log_size=lambda: hub.checkpointer.size, store=hub.store,
                          clock=time.time)
        check_input(checker, "warm-up: Повітряна тривога у Києві")  # dictionaries load once

        for name, messages in sets.items():
            got: dict[str, str] = {}
            latencies: list[float] = []
            for _ in range(max(1, args.repeat)):
                for message in messages:
                    t = time.perf_counter()
                    result = _check(checker, message_text(message, by_key))
                    latencies.append((time.perf_counter() - t) * 1000)
                    got[message["id"]] = result.verdict
            print(f"\n== {name}")
            report(messages, got, latencies, show_errors=args.show_errors)
        print(f"\nlogged alerts: {logged} ({args.alerts} background + "
              f"{len(specs)} evaluation + {len(spec['denials'])} denials + cancels); "
              f"log size {hub.checkpointer.size}")
        print(f"building the log (compose, sign, verify, append): {build_secs:.1f} s; "
              f"checker start: nothing to load (the search history is on disk; RSS "
              f"{rss_before:.0f} MiB before the checks, {current_rss_mib():.0f} MiB after); "
              f"peak RSS of the whole benchmark {rss_mib():.0f} MiB")
        hub.issuer.writer.close()
        hub.store.close()


FLOODERS = 4
FLOOD_CHARS = 20_000


def flood_bench(person_checks: int, seed: int) -> None:
    """A person's check latency on a real hub while four clients flood it with long texts."""
    import threading

    import httpx

    from tocsin.testing import HubProcess

    rng = random.Random(seed)
    spec = json.loads((EVAL_DIR / "alerts.json").read_text(encoding="utf-8"))
    vocabulary = " ".join(f"{a['headline']} {a['description']} {a['instruction']}"
                          for a in spec["alerts"]).split()
    with tempfile.TemporaryDirectory() as tmp:
        hub = HubProcess(Path(tmp) / "data")
        hub.start()
        try:
            alert = spec["alerts"][0]
            client = hub.client()
            issued = client.issue(eval_alert(alert, datetime.now(UTC)), hub.signer(alert["issuer"]))
            client.close()
            text = f"{alert['headline']}. {alert['description']} {alert['instruction']}"
            with httpx.Client(base_url=hub.url, timeout=60) as person:
                for _ in range(20):  # until the checkpoint covers it, and warm
                    body = person.post("/api/v1/check", json={"text": text}).json()
                    if body["verdict"] == "authentic":
                        break
                assert body["verdict"] == "authentic", body
                quiet = _person(person, text, max(20, person_checks // 4))
                stop = threading.Event()
                counts = [0] * FLOODERS

                def flood(k: int) -> None:
                    local = random.Random(seed + k)
                    with httpx.Client(base_url=hub.url, timeout=120) as c:
                        while not stop.is_set():
                            words: list[str] = []
                            size = 0
                            while size < FLOOD_CHARS - 40:
                                w = local.choice(vocabulary)
                                words.append(w)
                                size += len(w) + 1
                            c.post("/api/v1/check", json={"text": " ".join(words)[:FLOOD_CHARS]})
                            counts[k] += 1

                threads = [threading.Thread(target=flood, args=(k,), daemon=True)
                           for k in range(FLOODERS)]
                for t in threads:
                    t.start()
                while sum(counts) < FLOODERS:  # every flooder has had one answer
                    person.get("/healthz")
                started = time.perf_counter()
                loaded = _person(person, text, person_checks)
                secs = time.perf_counter() - started
                stop.set()
                for t in threads:
                    t.join(120)
            rng.random()
            print(f"hub: {hub.url}, alert {issued['id']}")
            for name, got in (("quiet", quiet), (f"{FLOODERS} clients flooding {FLOOD_CHARS}-char "
                                                 "checks", loaded)):
                ordered = sorted(got)
                print(f"person's check, {name}: n={len(ordered)} p50 "
                      f"{statistics.median(ordered):.1f} ms, p99 "
                      f"{ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]:.1f} ms, "
                      f"max {ordered[-1]:.1f} ms")
            print(f"flood checks answered while the person checked: {sum(counts)} "
                  f"({sum(counts) / secs:.1f}/s)")
        finally:
            hub.stop()


def _person(client: Any, text: str, n: int) -> list[float]:
    """n checks of a real alert's copy, one every 50 ms; latency of each in ms."""
    out = []
    for _ in range(n):
        t = time.perf_counter()
        body = client.post("/api/v1/check", json={"text": text}).json()
        out.append((time.perf_counter() - t) * 1000)
        if body.get("verdict") != "authentic":
            raise SystemExit(f"the person's check said {body.get('verdict')}")
        time.sleep(max(0.0, 0.05 - (time.perf_counter() - t)))  # a person's pace, not a result
    return out


def _check(checker: Checker, text: str) -> Any:
    """check_input, telling it this hub's host (the code before issue 11 took no hosts)."""
    import inspect

    if "hub_hosts" in inspect.signature(check_input).parameters:
        return check_input(checker, text, hub_hosts=(HUB_URL.split("//")[1],))
    return check_input(checker, text)


def current_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _at(alert: Alert, sent: datetime) -> Alert:
    import msgspec

    from tocsin.compose import cap_time

    return msgspec.structs.replace(alert, sent=cap_time(sent))


def report(messages: list[dict[str, Any]], got: dict[str, str], latencies: list[float], *,
           show_errors: bool) -> None:
    truth = {m["id"]: m["label"] for m in messages}
    # A message may accept more than one verdict ("altered|not-issued|unverifiable": the
    # reviewer's cases that must not be authentic); any of them counts as its label.
    got = {k: truth[k] if v in next(m.get("accept", ()) for m in messages if m["id"] == k)
           else v for k, v in got.items()}
    print(f"messages: {len(messages)}  "
          + "  ".join(f"{k}={v}" for k, v in sorted(Counter(truth.values()).items())))
    print(f"{'verdict':<14}{'labelled':>9}{'returned':>9}{'correct':>8}{'precision':>10}"
          f"{'recall':>8}")
    for verdict in dict.fromkeys([*VERDICTS, *truth.values()]):
        labelled = sum(1 for v in truth.values() if v == verdict)
        returned = sum(1 for v in got.values() if v == verdict)
        correct = sum(1 for k, v in got.items() if v == verdict and truth[k] == verdict)
        precision = correct / returned if returned else float("nan")
        recall = correct / labelled if labelled else float("nan")
        print(f"{verdict:<14}{labelled:>9}{returned:>9}{correct:>8}{precision:>10.3f}"
              f"{recall:>8.3f}")
    real = [k for k, v in truth.items() if v == "authentic"]
    called_fake = [k for k in real if got[k] in ("not-issued", "denied", "altered")]
    print(f"real alerts recognised: {sum(got[k] == 'authentic' for k in real)}/{len(real)} "
          f"= {sum(got[k] == 'authentic' for k in real) / max(1, len(real)):.3f}; "
          f"real alerts called fake: {len(called_fake)}")
    ordered = sorted(latencies)
    print(f"check latency over {len(latencies)} checks: p50 {statistics.median(ordered):.1f} ms, "
          f"p95 {ordered[int(0.95 * (len(ordered) - 1))]:.1f} ms, max {ordered[-1]:.1f} ms")
    wrong = [m for m in messages if got[m["id"]] != m["label"]]
    if wrong:
        print(f"misclassified: {', '.join(m['id'] + ':' + got[m['id']] for m in wrong)}")
    if show_errors:
        for m in wrong:
            print(f"  {m['id']} labelled {m['label']} got {got[m['id']]}: {m['text'][:100]}",
                  file=sys.stderr)


if __name__ == "__main__":
    main()

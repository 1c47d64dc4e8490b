"""Offline verification throughput on one core: statement signature, hash, CAP parse, checks.

Run: ``python bench/bench_verify.py [--seconds 3]``. Prints verifications per
second for the full path (``verify_alert`` with the real Ukrainian region set)
and, for comparison, for its parts.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime

from tocsin.cap.parse import parse_alert
from tocsin.regions import default_region_set
from tocsin.trust.note import Signer, Verifiers, open_note
from tocsin.trust.registry import Issuer, IssuerKey, Registry
from tocsin.trust.statement import Statement
from tocsin.trust.verify import verify_alert

CAP = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
    "<identifier>UA-KOVA-2026-0001</identifier><sender>alerts@koda.gov.ua</sender>"
    "<sent>2026-11-25T14:00:00+02:00</sent><status>Actual</status><msgType>Alert</msgType>"
    "<scope>Public</scope><info><language>uk-UA</language><category>Security</category>"
    "<event>Повітряна тривога</event><responseType>Shelter</responseType>"
    "<urgency>Immediate</urgency><severity>Extreme</severity><certainty>Observed</certainty>"
    "<eventCode><valueName>TOCSIN</valueName><value>air-raid</value></eventCode>"
    "<headline>Повітряна тривога! Пройдіть в укриття.</headline>"
    "<area><areaDesc>Бориспільський район</areaDesc><geocode><valueName>KATOTTG</valueName>"
    "<value>UA32040000000054694</value></geocode></area></info></alert>\n"
).encode()


def rate(label: str, seconds: float, fn: Callable[[], object]) -> None:
    fn()  # warm caches (schema, region set)
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(50):
            fn()
        count += 50
    print(f"{label:<42} {count / elapsed:>10,.0f} /s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    root, signer = Signer.generate("bench-root"), Signer.generate("ua.kova")
    issuer = Issuer(
        id="ua.kova", name_uk="Київська ОВА", name_en="Kyiv Oblast Military Administration",
        kinds=frozenset({"air-raid"}), jurisdiction=("UA32000000000030281",),
        senders=("alerts@koda.gov.ua",),
        keys=(IssuerKey(signer.verifier(), not_before=datetime(2026, 1, 1, tzinfo=UTC)),),
    )
    registry = Registry.empty(root.verifier()).with_issuer(issuer)
    statement = Statement.for_cap(
        CAP, issuer="ua.kova", key_id=signer.key_id, identifier="UA-KOVA-2026-0001",
        sender="alerts@koda.gov.ua", sent="2026-11-25T14:00:00+02:00",
    ).sign(signer)
    regions = default_region_set()
    verdict = verify_alert(CAP, statement, registry, regions=regions)
    assert verdict.status == "authentic", verdict.reason
    verifiers = Verifiers([signer.verifier()])
    print(f"CAP {len(CAP)} bytes, statement {len(statement)} bytes, one core")
    rate("verify_alert (full path)", args.seconds,
         lambda: verify_alert(CAP, statement, registry, regions=regions))
    rate("  open_note (Ed25519 verify)", args.seconds, lambda: open_note(statement, verifiers))
    rate("  parse_alert (lenient)", args.seconds, lambda: parse_alert(CAP, strict=False))
    rate("  sha256 of the CAP bytes", args.seconds, lambda: hashlib.sha256(CAP).digest())


if __name__ == "__main__":
    main()

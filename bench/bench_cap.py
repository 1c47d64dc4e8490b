"""Parse + validate throughput of ``tocsin.cap.parse_alert`` on one core.

Run: ``python bench/bench_cap.py [--seconds 3]``. Prints alerts/s for
(1) a Tocsin-style alert (Ukrainian text, KATOTTG geocodes, ~2 KB), strict,
the issue path; (2) the real CAP samples from many producers (mean ~8.5 KB,
with polygons of up to 128 points and XML signatures), lenient and strict;
and the writers for comparison. The issue path's target for
parse + validate + verify is 5,000 alerts/s, so parse + validate must be well above.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from tocsin.cap import CapError, parse_alert, to_json, to_xml

SAMPLES = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cap" / "samples"

_AREA = """    <area>
      <areaDesc>{name}</areaDesc>
      <geocode><valueName>KATOTTG</valueName><value>{code}</value></geocode>
    </area>
"""
TOCSIN_ALERT = (
    """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>ua-kyiv-ova-2024-000123</identifier>
  <sender>kyiv-ova@tocsin.example</sender>
  <sent>2024-05-01T12:00:00+03:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>uk-UA</language>
    <category>Security</category>
    <event>Повітряна тривога</event>
    <responseType>Shelter</responseType>
    <urgency>Immediate</urgency>
    <severity>Extreme</severity>
    <certainty>Observed</certainty>
    <eventCode><valueName>TOCSIN</valueName><value>air-raid</value></eventCode>
    <effective>2024-05-01T12:00:00+03:00</effective>
    <expires>2024-05-01T14:00:00+03:00</expires>
    <senderName>Київська обласна військова адміністрація</senderName>
    <headline>Повітряна тривога в Київській області</headline>
    <description>Оголошено повітряну тривогу. Негайно прямуйте до найближчого укриття.
Залишайтеся в укритті до відбою тривоги.</description>
    <instruction>Прямуйте до укриття. Не користуйтеся ліфтами.</instruction>
    <web>https://tocsin.example/alerts/ua-kyiv-ova-2024-000123</web>
"""
    + "".join(
        _AREA.format(name=f"Громада {n}", code=f"UA3200000000003{n:04d}") for n in range(8)
    )
    + """  </info>
</alert>
"""
).encode("utf-8")


def rate(name: str, call: Callable[[], object], count: int, seconds: float) -> float:
    """Run ``call`` (which handles ``count`` alerts) for ``seconds``; print alerts/s."""
    call()  # warm caches (the XSD is parsed once per thread)
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        call()
        done += count
    per_second = done / elapsed
    print(f"{name:<58} {per_second:>10,.0f} alerts/s  ({1e6 / per_second:,.0f} µs/alert)")
    return per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    seconds = parser.parse_args().seconds

    size = len(TOCSIN_ALERT)
    rate(f"Tocsin alert ({size:,} B), strict", lambda: parse_alert(TOCSIN_ALERT), 1, seconds)
    rate(f"Tocsin alert ({size:,} B), lenient",
         lambda: parse_alert(TOCSIN_ALERT, strict=False), 1, seconds)

    samples = sorted((SAMPLES / "valid-1.2").glob("*.xml")) if SAMPLES.is_dir() else []
    if not samples:
        print(f"(real samples not found at {SAMPLES}: skipped)")
    else:
        docs = [path.read_bytes() for path in samples]
        mean = sum(map(len, docs)) // len(docs)

        def lenient() -> None:
            for doc in docs:
                parse_alert(doc, strict=False)

        def strict() -> None:
            for doc in docs:
                # One sample is refused by Tocsin's strict rules; that is still full work.
                with contextlib.suppress(CapError):
                    parse_alert(doc)

        rate(f"{len(docs)} real samples (mean {mean:,} B), lenient", lenient, len(docs), seconds)
        rate(f"{len(docs)} real samples (mean {mean:,} B), strict", strict, len(docs), seconds)

    alert = parse_alert(TOCSIN_ALERT).alert
    rate("to_xml (Tocsin alert)", lambda: to_xml(alert), 1, seconds)
    rate("to_json (Tocsin alert)", lambda: to_json(alert), 1, seconds)


if __name__ == "__main__":
    main()

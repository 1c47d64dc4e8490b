"""The alerts.in.ua-compatible API's latency on a real demo hub (docs/compat.md).

Starts ``tocsin serve --demo`` on 127.0.0.1, issues one air-raid alert per raion (120 by
default), then times each compat endpoint (median of 30 requests) and one revalidation
(If-Modified-Since -> 304). Loopback only; the hub is stopped at the end.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx

from tocsin.compat.alerts_in_ua_routes import PREFIX
from tocsin.compose import AlertFacts, compose_alert
from tocsin.regions import default_region_set
from tocsin.testing import HubProcess

PATHS = ("/v1/alerts/active.json", "/v1/iot/active_air_raid_alerts_by_oblast.json",
         "/v2/iot/active_air_raid_alerts/27.json", "/v1/regions/27/alerts/month_ago.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=120, help="active raion-level threats")
    parser.add_argument("--requests", type=int, default=30, help="requests timed per endpoint")
    args = parser.parse_args()
    print(f"{platform.machine()} {platform.python_version()}, {args.alerts} active alerts")
    raions = [r.code for r in default_region_set().at_level("raion")][: args.alerts]
    with tempfile.TemporaryDirectory() as folder:
        hub = HubProcess(Path(folder) / "data")
        hub.start()
        try:
            with hub.client() as client:
                signer = hub.signer("demo-air-force")
                for code in raions:
                    alert = compose_alert(AlertFacts(issuer_id="demo-air-force", kind="air-raid",
                                                     areas=(code,), expires_in=timedelta(hours=1)))
                    client.issue(alert, signer)
            with httpx.Client(timeout=10) as http:
                for path in PATHS:
                    url = hub.url + PREFIX + path
                    http.get(url)
                    times = []
                    for _ in range(args.requests):
                        start = time.perf_counter()
                        answer = http.get(url)
                        times.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    again = http.get(url, headers={"If-Modified-Since": answer.headers["last-modified"]})
                    revalidate = time.perf_counter() - start
                    print(f"{path}: {len(answer.content)} B, median {statistics.median(times) * 1e3:.1f} ms;"
                          f" {again.status_code} in {revalidate * 1e3:.1f} ms")
        finally:
            hub.stop()


if __name__ == "__main__":
    main()

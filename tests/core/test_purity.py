"""The core stays pure: no web framework, HTTP client or database driver is imported by it.

Checked in a fresh interpreter (so nothing else has imported them first): import every
module of the core packages, then look at what ``sys.modules`` holds.
"""

from __future__ import annotations

import json
import subprocess
import sys

CORE = ("tocsin.cap", "tocsin.trust", "tocsin.tlog", "tocsin.regions", "tocsin.ledger",
        "tocsin.kinds")
FORBIDDEN = ("starlette", "uvicorn", "httpx", "aiohttp", "requests", "sqlite3", "_sqlite3",
             "psycopg", "psycopg_pool", "nats", "websockets", "h11", "anyio")

PROBE = f"""
import importlib, json, pkgutil, sys
for name in {CORE!r}:
    module = importlib.import_module(name)
    for info in pkgutil.walk_packages(getattr(module, "__path__", []), name + "."):
        importlib.import_module(info.name)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {FORBIDDEN!r})))
"""


def test_core_imports_no_framework_client_or_database() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    assert json.loads(out) == []


def test_the_probe_would_see_a_forbidden_import() -> None:
    """The check itself can fail: the services layer does import them."""
    probe = PROBE.replace(repr(CORE), repr(("tocsin.services",)))
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    assert "sqlite3" in json.loads(out) and "httpx" in json.loads(out)

"""Suite-wide markers: ``-m core`` runs the fast core suite alone.

The core suite is every test of the pure core (``cap``, ``trust``, ``tlog``, ``regions``,
``kinds`` — folders ``tests/{core,cap,trust,tlog,regions}``) except those that start a server;
it needs no browser, no hub process and no network, and runs in well under a minute.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tocsin.testing_postgres import PostgresServer, find_bindir

CORE_FOLDERS = frozenset({"core", "cap", "trust", "tlog", "regions"})
SERVER_MODULES = frozenset({"test_monitor.py", "test_witness.py"})  # start uvicorn or a hub
TESTS = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "core: the fast core suite (no servers, no browser)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath)).resolve()
        try:
            folder = path.relative_to(TESTS).parts[0]
        except ValueError:
            continue
        if folder in CORE_FOLDERS and path.name not in SERVER_MODULES:
            item.add_marker(pytest.mark.core)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the session (Debian's, 127.0.0.1, random port).

    Each test takes a database of its own (``postgres.create_database()``). Without
    PostgreSQL installed the test is skipped — except under CI, where it fails.
    """
    if find_bindir() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed: apt-get install postgresql (scripts/test does)")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    server = PostgresServer.create()
    try:
        yield server
    finally:
        server.destroy()

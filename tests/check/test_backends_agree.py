"""The check gives the same answers on SQLite (FTS5) and PostgreSQL (GIN full-text index).

Two real hubs with the same demo issuers — one on its SQLite file, one on a PostgreSQL
store — are sent the same signed alerts, then asked the same messages: copies, altered
copies, made-up messages and a denied fake. Verdict, matched alert, matched words and the
differences found must be the same on both.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.check.conftest import KYIV, KYIV_OBLAST, LVIV_OBLAST, HubProcess, make_alert

from tocsin.cap import to_xml
from tocsin.check.denial import compose_denial
from tocsin.check.engine import RECENT_PER_KEY
from tocsin.client import sign_cap
from tocsin.testing import free_port
from tocsin.testing_postgres import PostgresServer

pytestmark = pytest.mark.timeout(240)

FORGED = "Терміново! ГУР: евакуація Києва до ранку, поширте всім, деталі в нашому каналі"


@pytest.fixture
def hubs(tmp_path: Path, postgres: PostgresServer) -> Iterator[tuple[HubProcess, HubProcess]]:
    on_sqlite = HubProcess(tmp_path / "sqlite", free_port())
    on_sqlite.start()
    on_sqlite.stop()
    # The same demo issuers and registry; a log of its own (key, checkpoint, witness) in PostgreSQL.
    shutil.copytree(on_sqlite.data_dir, tmp_path / "pg", ignore=shutil.ignore_patterns(
        "tocsin.sqlite3*", "log.*", "witness*"))
    on_pg = HubProcess(tmp_path / "pg", free_port(), args=("--store", postgres.create_database()))
    on_sqlite.start()
    on_pg.start()
    try:
        yield on_sqlite, on_pg
    finally:
        on_pg.stop()
        on_sqlite.stop()


def answer(body: dict[str, Any]) -> dict[str, Any]:
    alert = body.get("alert") or {}
    denial = body.get("denial") or {}
    return {"verdict": body["verdict"], "alert": alert.get("id"), "match": alert.get("match"),
            "denial": denial.get("id"),
            "differences": sorted(d["fact"] for d in body.get("differences", []))}


def test_the_check_answers_the_same_on_sqlite_and_postgresql(
        hubs: tuple[HubProcess, HubProcess]) -> None:
    on_sqlite, on_pg = hubs
    alerts = [
        make_alert("demo-air-force", (KYIV,), headline="Повітряна тривога у місті Києві",
                   description="Загроза застосування крилатих ракет. Зафіксовано пуски.",
                   instruction="Негайно прямуйте до найближчого укриття."),
        make_alert("demo-air-force", (KYIV_OBLAST,), kind="missile",
                   headline="Ракетна небезпека на Київщині",
                   description="Загроза балістичних ракет з півночі.",
                   instruction="Залишайтеся в укритті до відбою."),
        make_alert("demo-air-force", (LVIV_OBLAST,), kind="drone",
                   headline="Загроза ударних БпЛА на Львівщині",
                   description="Група ударних дронів рухається на захід.",
                   instruction="Прямуйте до укриття."),
        make_alert("demo-kyiv-city", (KYIV,), kind="all-clear", headline="Відбій тривоги у Києві",
                   description="Загрозу знято. Дякуємо, що були в укритті."),
        compose_denial(issuer_id="demo-defence-intelligence", denied_text=FORGED, areas=(KYIV,)),
    ]
    # Then more alerts than the check's "most recent" candidates (RECENT_PER_KEY): the first
    # ones are then found only through the word index, on both backends.
    filler = [make_alert("demo-air-force", (LVIV_OBLAST,), kind="drone",
                         headline=f"Група дронів номер {n}", description=f"Маршрут {n} на захід.")
              for n in range(RECENT_PER_KEY + 5)]
    issued, ids = [], []
    for alert in [*alerts, *filler]:
        issuer = alert.sender.split("@")[0]
        cap = to_xml(alert)
        statement = sign_cap(cap, on_sqlite.signer(issuer))
        with on_sqlite.client() as a, on_pg.client() as b:
            first, second = a.issue_bytes(cap, statement), b.issue_bytes(cap, statement)
        assert first["id"] == second["id"]
        issued.append(alert)
        ids.append(first)
    texts = []
    for alert in issued[:4]:
        info = alert.info[0]
        words = "\n".join(p for p in (info.headline, info.description, info.instruction) if p)
        texts += [words, words.replace("укриття", "укриття. Поширте всім знайомим!"),
                  words.replace("Київ", "Львів")]
    # Without a place or an issuer named: only the word index finds the alert.
    unnamed = ["\n".join(p for p in (a.info[0].description, a.info[0].instruction) if p)
               for a in issued[:3]]
    texts += unnamed
    texts += ["Повітряні сили: увага! 12 ракет у напрямку Києва, терміново всім до укриттів",
              FORGED, FORGED.upper(),
              "Сьогодні гарна погода, підемо в парк"]
    seen = set()
    for text in texts:
        one, other = answer(on_sqlite.check(text)), answer(on_pg.check(text))
        assert one == other, text
        seen.add(one["verdict"])
    assert len(seen) >= 3, seen  # the messages reach several verdicts, not one
    by_words = [answer(on_pg.check(t)) for t in unnamed]
    assert [a["alert"] for a in by_words] == [i["id"] for i in ids[:3]], by_words

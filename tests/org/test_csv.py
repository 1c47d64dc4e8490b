"""People CSV: every rejected row reported, formulas neutralised on export, 100,000 rows."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import pytest

from tocsin.org.csvio import CsvRefused, read_people, write_people
from tocsin.org.signing import new_signer
from tocsin.org.store import FILE_NAME, OrgStore
from tocsin.regions import RegionSet, region_set_for

KYIV = "UA80000000000093317"
LVIV_OBLAST = "UA46000000000026241"


@pytest.fixture(scope="module")
def regions() -> RegionSet:
    return region_set_for(None)


def test_every_rejected_row_is_reported(regions: RegionSet) -> None:
    data = (
        "id,name,language,sms,home,work,groups,shoe size\n"
        f'1,Олена Петренко,uk,+380501234567,{KYIV},"50.4501,30.5234",staff;drivers,42\n'
        "2,,uk,,,,,\n"
        f"3,Bad Region,en,,UA999,,,\n"
        f"1,Olena Again,uk,,{KYIV},,,\n"
        "4,Bad Phone,uk,0501234567,,,,\n"
        '5,Far Away,uk,,"48.8566,2.3522",,,\n'
        '6,Too Precise,uk,,"50.4501234,30.5234",,,\n'
        "7,Wrong Lang,de,,,,,\n"
    ).encode() + b"8,Broken \xff\xfe bytes,uk,,,,,\n" + b"9,Short row\n" + \
        f"10,=cmd|' /C calc'!A0,en,,{LVIV_OBLAST},,,\n".encode()
    report = read_people(data, regions)
    accepted = {p.ref: p for p in report.people}
    assert set(accepted) == {"1", "10"}
    reasons = dict(report.rejected)
    assert reasons[3] == "name is empty"
    assert "UA999" in reasons[4] and "region code" in reasons[4]
    assert reasons[5] == "duplicate of line 2"
    assert "international form" in reasons[6]
    assert "outside this hub's regions" in reasons[7]
    assert "at most 6 decimals" in reasons[8]
    assert "language" in reasons[9]
    assert "not valid UTF-8 (byte 0xff)" in reasons[10]
    assert "fields" in reasons[11]
    assert len(report.rejected) == 9
    assert report.ignored_columns == ["shoe size"]
    olena = accepted["1"]
    assert [p.text for p in olena.places] == [KYIV, "50.4501,30.5234"]
    assert olena.groups == ("staff", "drivers") and olena.channels == {"sms": "+380501234567"}
    assert accepted["10"].name == "=cmd|' /C calc'!A0"  # kept as data; neutralised on export


def test_points_are_kept_at_the_precision_given(regions: RegionSet) -> None:
    data = b'name,home,work\nIvan,"50.45,30.52","50.450123,30.523456"\n'
    [ivan] = read_people(data, regions).people
    assert [p.text for p in ivan.places] == ["50.45,30.52", "50.450123,30.523456"]


def test_a_file_without_a_name_column_is_refused_whole(regions: RegionSet) -> None:
    with pytest.raises(CsvRefused, match="no 'name' column"):
        read_people(b"id,phone\n1,2\n", regions)
    with pytest.raises(CsvRefused, match="empty"):
        read_people(b"", regions)


def test_export_neutralises_formulas_and_round_trips(regions: RegionSet) -> None:
    data = (b"id,name,sms,contact\n"
            b"1,=cmd|' /C calc'!A0,+380501234567,@SUM(A1)\n"
            b"2,-2+3,,\tTAB\n"
            b"3,+Plus,,\"\rCR\"\n")
    people = read_people(data, regions).people
    out = write_people(people)
    assert out.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(out.decode("utf-8-sig"), newline="")))
    assert rows[1][1] == "'=cmd|' /C calc'!A0" and rows[1][4] == "'+380501234567"
    assert rows[1][10] == "'@SUM(A1)"
    assert rows[2][1] == "'-2+3"
    assert rows[3][1] == "'+Plus" and rows[3][10] == "'\rCR" and rows[2][10] == "'\tTAB"
    for row in rows[1:]:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)
    again = read_people(out, regions).people
    assert [(p.name, p.channels) for p in again] == [(p.name, p.channels) for p in people]


def test_a_hundred_thousand_people(regions: RegionSet, tmp_path: Path) -> None:
    lines = ["id,name,language,sms,home,groups"]
    for i in range(100_000):
        lines.append(f"{i},Person {i},{'uk' if i % 2 else 'en'},+38050{i:07d},{KYIV},team{i % 50}")
    lines.append("5,Duplicate Five,uk,,,")
    data = ("\n".join(lines) + "\n").encode()
    store = OrgStore(tmp_path / FILE_NAME)
    org, _, _ = store.create_org("Big", new_signer, "a@a.org")
    started = time.perf_counter()
    report = read_people(data, regions, known_keys=store.person_keys(org.id))
    parsed = time.perf_counter()
    assert store.save_people(org.id, report.people, "admin") == (100_000, 0)
    saved = time.perf_counter()
    assert report.rejected == [(100_002, "duplicate of line 7")]
    exported = write_people(store.people(org.id))
    done = time.perf_counter()
    assert exported.count(b"\r\n") == 100_001
    print(f"\n100,000 people: parse {parsed - started:.2f} s, store {saved - parsed:.2f} s, "
          f"export {done - saved:.2f} s")
    assert done - started < 60

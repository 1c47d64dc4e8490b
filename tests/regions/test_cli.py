"""``tocsin regions``: output lines, exit codes and error messages, through the real CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tocsin.cli import main

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "cap-samples"
THUNDERSTORM = SAMPLES / "valid-1.2" / "oasis-cap12-spec_a2-thunderstorm.xml"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["regions", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_locate_prints_hromada_raion_oblast() -> None:
    code, out, _ = run("locate", "49.8397", "24.0297")
    assert code == 0
    lines = [line.split("\t") for line in out.splitlines()]
    assert [(row[0], row[1]) for row in lines] == [
        ("UA46060250000025047", "hromada"),
        ("UA46060000000042587", "raion"),
        ("UA46000000000026241", "oblast"),
    ]
    assert lines[0][2] == "Львівська територіальна громада"
    assert lines[2][3] == "Lviv Oblast"


def test_locate_json() -> None:
    code, out, _ = run("locate", "--json", "51.5220", "30.7560")
    assert code == 0
    assert [r["name_uk"] for r in json.loads(out)] == ["Славутицька", "Вишгородський", "Київська"]


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (("locate", "30.5234", "50.4501"), 1, "look swapped"),
        (("locate", "--", "-33.9", "18.4"), 1, "outside every region"),
        (("locate", "95", "30"), 2, "latitude 95.0 is outside"),
        (("locate", "nan", "30"), 2, "finite"),
        (("show", "UA-99"), 2, "unknown region code 'UA-99'"),
        (("children", "nope"), 2, "unknown region code"),
        (("find", "Атлантида"), 1, "no region is named 'Атлантида'"),
    ],
)
def test_errors(args: tuple[str, ...], exit_code: int, message: str) -> None:
    code, out, err = run(*args)
    assert code == exit_code
    assert out == ""
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err


def test_show_and_children() -> None:
    code, out, _ = run("show", "UA32100130000093505")
    assert code == 0
    assert [line.split("\t")[1] for line in out.splitlines()] == ["hromada", "raion", "oblast"]
    code, out, _ = run("children", "alerts.in.ua:31")
    assert code == 0 and len(out.splitlines()) == 10  # Kyiv's districts


def test_find_inflected() -> None:
    code, out, _ = run("find", "у", "Києві")
    assert code == 0
    assert out.splitlines()[0].split("\t")[:2] == ["UA80000000000093317", "oblast"]


def _sample_with_area(tmp_path: Path, area_xml: str) -> Path:
    text = THUNDERSTORM.read_text(encoding="utf-8")
    text = re.sub(r"<area>.*?</area>", area_xml, text, count=1, flags=re.S)
    path = tmp_path / "alert.xml"
    path.write_text(text, encoding="utf-8")
    return path


def test_target_a_real_foreign_alert_is_refused() -> None:
    """The OASIS spec's California thunderstorm lies outside Ukraine: say so, exit 1."""
    code, out, err = run("target", str(THUNDERSTORM))
    assert code == 1 and out == ""
    assert "shape lies outside every region" in err


def test_target_geocode(tmp_path: Path) -> None:
    area = (
        "<area><areaDesc>Slavutych</areaDesc><geocode><valueName>KATOTTG</valueName>"
        "<value>UA32100130000093505</value></geocode></area>"
    )
    code, out, _ = run("target", str(_sample_with_area(tmp_path, area)))
    assert code == 0
    rows = [line.split("\t") for line in out.splitlines()]
    assert [(r[0], r[-1]) for r in rows] == [
        ("UA32000000000030281", "partial"),
        ("UA32100000000065867", "partial"),
        ("UA32100130000093505", "full"),
    ]


def test_target_unknown_code(tmp_path: Path) -> None:
    area = (
        "<area><areaDesc>bad</areaDesc><geocode><valueName>ISO3166-2</valueName>"
        "<value>UA-99</value></geocode></area>"
    )
    code, _, err = run("target", str(_sample_with_area(tmp_path, area)))
    assert code == 1
    assert "ISO3166-2='UA-99' is not a known code" in err


def test_target_missing_file(tmp_path: Path) -> None:
    code, _, err = run("target", str(tmp_path / "none.xml"))
    assert code == 2 and "no such file" in err

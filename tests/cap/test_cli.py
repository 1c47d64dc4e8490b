"""``tocsin cap validate`` and ``tocsin cap convert`` through the real command group."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from tests.cap.alerts import alert_xml, polygon
from tests.cap.conftest import need_samples
from tests.cap.test_attacks import BILLION_LAUGHS

from tocsin.cap import parse_alert
from tocsin.cli import main


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["cap", *args])


def _no_traceback(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    made = {
        "good": alert_xml(),
        "zulu": alert_xml(sent="2024-05-01T09:00:00Z"),
        "bad": alert_xml(geometry=polygon("91,30 50,31 49,30 91,30"), status="Real"),
        "laughs": BILLION_LAUGHS,
        "json": b'{"identifier": 5}',
    }
    paths = {}
    for name, data in made.items():
        paths[name] = tmp_path / f"{name}.xml"
        paths[name].write_bytes(data)
    return paths


def test_validate_all_samples_exits_by_validity() -> None:
    valid = need_samples("valid-1.2") + need_samples("cap-1.1")
    result = run("validate", *map(str, valid))
    _no_traceback(result)
    assert result.exit_code == 0, result.stdout
    assert result.stdout.count("valid CAP 1.2 (lenient)") == len(need_samples("valid-1.2"))
    assert result.stdout.count("valid CAP 1.1 (lenient)") == len(need_samples("cap-1.1"))
    invalid = need_samples("invalid")
    result = run("validate", "-q", *map(str, invalid))
    _no_traceback(result)
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == len(invalid)  # one problem each
    assert all(": line " in line for line in result.stdout.splitlines())


def test_validate_prints_one_line_per_problem(files: dict[str, Path]) -> None:
    result = run("validate", str(files["good"]), str(files["bad"]))
    _no_traceback(result)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert f"{files['good']}: valid CAP 1.2 (lenient)" in lines
    assert f"{files['bad']}: line 6: /alert/status[1]: " in result.stdout
    assert "1 of 2 file(s) invalid" in result.stderr


def test_strict_turns_warnings_into_errors(files: dict[str, Path]) -> None:
    lenient = run("validate", str(files["zulu"]))
    assert lenient.exit_code == 0
    assert f"{files['zulu']}: line 5: /alert/sent: warning: expected a time" in lenient.stdout
    strict = run("validate", "--strict", str(files["zulu"]))
    assert strict.exit_code == 1
    assert f"{files['zulu']}: line 5: /alert/sent: expected a time" in strict.stdout


def test_attacks_and_garbage_exit_non_zero_without_traceback(files: dict[str, Path]) -> None:
    for name in ("laughs", "json"):
        result = run("validate", str(files[name]))
        _no_traceback(result)
        assert result.exit_code == 1
        assert "/: " in result.stdout or "line 1" in result.stdout


def test_missing_file_and_bad_limits_are_usage_errors(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    result = run("validate", str(tmp_path / "absent.xml"))
    _no_traceback(result)
    assert result.exit_code == 2 and "error: " in result.stderr and "no such file" in result.stderr
    result = run("validate", "--max-depth", "2", str(files["good"]))
    _no_traceback(result)
    assert result.exit_code == 2 and "max_depth" in result.stderr


def test_limits_are_applied_from_the_command_line(files: dict[str, Path]) -> None:
    result = run("validate", "--max-bytes", "100", str(files["good"]))
    _no_traceback(result)
    assert result.exit_code == 1
    assert f"{files['good']}: /: document is " in result.stdout
    assert "bytes, expected at most 100" in result.stdout


def test_convert_to_json_and_back_to_xml(files: dict[str, Path], tmp_path: Path) -> None:
    to_json = run("convert", str(files["good"]), "--to", "json")
    _no_traceback(to_json)
    assert to_json.exit_code == 0
    document = json.loads(to_json.output)
    assert document["msgType"] == "Alert"
    assert document["info"][0]["area"][0]["geocode"][0]["valueName"] == "KATOTTG"
    json_path = tmp_path / "alert.json"
    json_path.write_text(to_json.output)
    to_xml = run("convert", str(json_path), "--to", "xml")
    _no_traceback(to_xml)
    assert to_xml.exit_code == 0
    assert to_xml.stdout_bytes.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert parse_alert(to_xml.stdout_bytes).alert == parse_alert(files["good"].read_bytes()).alert


def test_convert_reports_warnings_and_refuses_invalid(files: dict[str, Path]) -> None:
    result = run("convert", str(files["zulu"]), "--to", "xml")
    assert result.exit_code == 0 and "warning: expected a time" in result.stderr
    assert run("convert", str(files["zulu"]), "--to", "xml", "--strict").exit_code == 1
    for name in ("bad", "laughs", "json"):
        result = run("convert", str(files[name]), "--to", "json")
        _no_traceback(result)
        assert result.exit_code == 1 and result.stdout == ""
        assert result.stderr.startswith("error: ")


def test_convert_needs_a_known_target(files: dict[str, Path]) -> None:
    result = run("convert", str(files["good"]), "--to", "yaml")
    _no_traceback(result)
    assert result.exit_code == 2


def test_alert_text_is_printed_literally(tmp_path: Path) -> None:
    path = tmp_path / "emoji.xml"
    path.write_bytes(alert_xml(identifier="a :fire:[bold]b"))
    result = run("validate", str(path))
    assert result.exit_code == 0
    assert "found 'a :fire:[bold]b'" in result.stdout

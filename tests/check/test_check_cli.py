"""``tocsin check`` and ``tocsin deny`` against a real hub: output, exit codes, errors."""

from __future__ import annotations

from click.testing import CliRunner
from tests.check.conftest import HubProcess, free_port, make_alert

from tocsin.cli import main

TEXT = "Повітряна тривога у місті Києві. Загроза ударних БпЛА з півночі. Прямуйте в укриття."
FAKE = "ГУР попереджає: завтра вранці буде масований удар по Житомиру, виїжджайте негайно"


def test_check_prints_the_verdict_and_exits_by_it(hub: HubProcess) -> None:
    issued = hub.issue(make_alert(kind="drone", headline="Повітряна тривога у місті Києві",
                                  description="Загроза ударних БпЛА з півночі.",
                                  instruction="Прямуйте в укриття."), "demo-air-force")
    hub.check(TEXT)  # wait until the checkpoint covers it
    runner = CliRunner()
    result = runner.invoke(main, ["check", "--hub", hub.url, TEXT])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("authentic")
    assert f"/api/v1/alerts/{issued['id']}" in result.output
    assert "log index" in result.output

    result = runner.invoke(main, ["check", "--hub", hub.url, "-"],
                           input=TEXT.replace("Києві", "Одесі"))
    assert result.exit_code == 10, result.output
    assert "place: message says" in result.output

    result = runner.invoke(main, ["check", "--hub", hub.url, "--json", FAKE])
    assert result.exit_code == 11, result.output
    assert '"verdict": "not-issued"' in result.output

    result = runner.invoke(main, ["check", "--hub", hub.url, "просто балачки ні про що"])
    assert result.exit_code == 13


def test_deny_publishes_a_denial_that_check_then_reports(hub: HubProcess) -> None:
    runner = CliRunner()
    key = str(hub.key_path("demo-defence-intelligence"))
    result = runner.invoke(main, ["deny", "--hub", hub.url, "--key", key,
                                  "--as", "demo-defence-intelligence", FAKE])
    assert result.exit_code == 0, result.output
    assert "denial" in result.output and "SHA-256" in result.output
    assert hub.check(FAKE)["verdict"] == "denied"
    result = runner.invoke(main, ["check", "--hub", hub.url, FAKE + " 😱😱"])
    assert result.exit_code == 12, result.output


def test_deny_refuses_another_issuers_key_and_the_hub_refuses_an_unallowed_kind(
        hub: HubProcess) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["deny", "--hub", hub.url, "--key",
                                  str(hub.key_path("demo-air-force")),
                                  "--as", "demo-defence-intelligence", FAKE])
    assert result.exit_code == 2
    assert "is a key of 'demo-air-force'" in result.output
    result = runner.invoke(main, ["deny", "--hub", hub.url, "--key",
                                  str(hub.key_path("demo-air-force")),
                                  "--as", "demo-air-force", FAKE])
    assert result.exit_code == 2
    assert "refused the denial: unauthorised" in result.output


def test_check_reports_bad_input_and_an_unreachable_hub_without_traceback(
        hub: HubProcess) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["check", "--hub", hub.url, "   "])
    assert result.exit_code == 2
    assert "error: bad_request" in result.output
    result = runner.invoke(main, ["check", "--hub", f"http://127.0.0.1:{free_port()}", TEXT])
    assert result.exit_code == 2
    assert "error: cannot reach the hub" in result.output
    assert "Traceback" not in result.output

"""``tocsin issue`` refuses what cannot be signed with one line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner

from tocsin.cap import to_xml
from tocsin.cli import main
from tocsin.compose import AlertFacts, compose_alert
from tocsin.trust.note import Signer


@pytest.mark.parametrize("sender", ["demo-kyiv-city@tocsin ", " demo-kyiv-city@tocsin",
                                    "demo-kyiv-city@tocsin\u00a0"])
def test_a_sender_with_spaces_around_it_is_refused_cleanly(tmp_path: Path, sender: str) -> None:
    key = tmp_path / "k.key"
    key.write_text(Signer.generate("demo-kyiv-city").skey + "\n")
    alert = compose_alert(AlertFacts(issuer_id="demo-kyiv-city", kind="air-raid",
                                     areas=("UA80000000000093317",)))
    cap = tmp_path / "a.xml"
    cap.write_bytes(to_xml(msgspec.structs.replace(alert, sender=sender)))
    result = CliRunner().invoke(main, ["issue", "--hub", "http://127.0.0.1:9", "--key", str(key),
                                       "--as", "demo-kyiv-city", "--file", str(cap)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "cannot sign this alert" in result.output

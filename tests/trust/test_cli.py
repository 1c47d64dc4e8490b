"""The newcomer's path through the real CLI: keys, registry, sign, verify, and bad input."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tocsin.cli import main

from .alerts import area_xml, cap_xml


def run(*args: str | Path) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.fixture
def setup(tmp_path: Path) -> Path:
    """Root and issuer keys, and a registry where ua.kova may warn Kyiv oblast of air raids."""
    keys = tmp_path / "keys"
    assert run("keys", "generate", "--issuer", "registry-root", "--out", keys).exit_code == 0
    assert run("keys", "generate", "--issuer", "ua.kova", "--out", keys).exit_code == 0
    registry = tmp_path / "registry.json"
    root = keys / "registry-root.key"
    assert run("registry", "init", "--root-key", root, "--out", registry).exit_code == 0
    added = run("registry", "add-issuer", registry, "--root-key", root, "--id", "ua.kova",
                "--name-uk", "Київська ОВА", "--name-en", "Kyiv Oblast Military Administration",
                "--kind", "air-raid", "--region", "UA-32", "--key", keys / "ua.kova.pub",
                "--sender", "alerts@koda.gov.ua", "--not-before", "2026-01-01T00:00:00Z")
    assert added.exit_code == 0, added.output
    return tmp_path


def verify(base: Path, cap: Path, *extra: str | Path) -> Result:
    return run("verify", cap, "--registry", base / "registry.json",
               "--root", base / "keys" / "registry-root.pub", *extra)


def test_key_files(setup: Path) -> None:
    private = setup / "keys" / "ua.kova.key"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text().startswith("PRIVATE+KEY+ua.kova+")
    assert (setup / "keys" / "ua.kova.pub").read_text().startswith("ua.kova+")
    again = run("keys", "generate", "--issuer", "ua.kova", "--out", setup / "keys")
    assert again.exit_code == 2 and "not overwriting" in again.output
    bad = run("keys", "generate", "--issuer", "UA KOVA", "--out", setup / "keys")
    assert bad.exit_code == 2 and "error:" in bad.output


def test_sign_verify_tamper(setup: Path) -> None:
    cap = setup / "alert.xml"
    cap.write_bytes(cap_xml())
    signed = run("sign", "--key", setup / "keys" / "ua.kova.key", cap)
    assert signed.exit_code == 0, signed.output
    assert (setup / "alert.xml.sig").exists()
    ok = verify(setup, cap)
    assert ok.exit_code == 0 and "authentic" in ok.output
    data = bytearray(cap.read_bytes())
    data[data.index(b"Actual")] ^= 0x20  # one byte: "Actual" -> "actual"
    cap.write_bytes(bytes(data))
    altered = verify(setup, cap)
    assert altered.exit_code == 3 and "altered" in altered.output


def test_outside_jurisdiction_is_unauthorised(setup: Path) -> None:
    cap = setup / "lviv.xml"
    cap.write_bytes(cap_xml(areas=[area_xml("Львівська область", [("ISO3166-2", "UA-46")])]))
    assert run("sign", "--key", setup / "keys" / "ua.kova.key", cap).exit_code == 0
    result = verify(setup, cap)
    assert result.exit_code == 5 and "outside the jurisdiction of issuer 'ua.kova'" in result.output


def test_unregistered_key_is_forged(setup: Path) -> None:
    assert run("keys", "generate", "--issuer", "ua.kova", "--out", setup / "impostor").exit_code == 0
    cap = setup / "alert.xml"
    cap.write_bytes(cap_xml())
    assert run("sign", "--key", setup / "impostor" / "ua.kova.key", cap).exit_code == 0
    result = verify(setup, cap)
    assert result.exit_code == 4 and "forged" in result.output


def test_revoked_key_is_unauthorised(setup: Path) -> None:
    cap = setup / "alert.xml"
    cap.write_bytes(cap_xml(sent="2026-11-25T14:00:00+02:00"))
    assert run("sign", "--key", setup / "keys" / "ua.kova.key", cap).exit_code == 0
    key_id = (setup / "keys" / "ua.kova.pub").read_text().split("+")[1]
    revoked = run("registry", "revoke-key", setup / "registry.json", "--root-key",
                  setup / "keys" / "registry-root.key", "--issuer", "ua.kova",
                  "--key-id", key_id, "--at", "2026-11-25T11:00:00Z")
    assert revoked.exit_code == 0, revoked.output
    result = verify(setup, cap)
    assert result.exit_code == 5 and "revoked" in result.output
    shown = run("registry", "show", setup / "registry.json")
    assert shown.exit_code == 0 and "REVOKED" in shown.output and "version 3" in shown.output
    assert "senders: alerts@koda.gov.ua" in shown.output  # bound by --sender, signed by the root


@pytest.mark.parametrize(
    "mangle",
    [
        lambda sig: sig[:40],  # truncated
        lambda sig: sig.replace(b"\n\n\xe2\x80\x94 ua.kova ", b"\n\n\xe2\x80\x94 ua.kova %%"),
        lambda sig: b"",
    ],
)
def test_unusable_signature_exits_2(setup: Path, mangle: object) -> None:
    cap = setup / "alert.xml"
    cap.write_bytes(cap_xml())
    assert run("sign", "--key", setup / "keys" / "ua.kova.key", cap).exit_code == 0
    sig = setup / "alert.xml.sig"
    sig.write_bytes(mangle(sig.read_bytes()))  # type: ignore[operator]
    result = verify(setup, cap)
    assert result.exit_code == 2 and "error:" in result.output


def test_registry_with_bad_root_signature_exits_2(setup: Path) -> None:
    cap = setup / "alert.xml"
    cap.write_bytes(cap_xml())
    assert run("sign", "--key", setup / "keys" / "ua.kova.key", cap).exit_code == 0
    registry = setup / "registry.json"
    doc = json.loads(registry.read_text())
    doc["registry"]["issuers"][0]["jurisdiction"] = ["*"]
    registry.write_text(json.dumps(doc))
    result = verify(setup, cap)
    assert result.exit_code == 2 and "bad root signature" in result.output


def test_missing_files_and_wrong_key_kinds_exit_2(setup: Path) -> None:
    missing = verify(setup, setup / "nope.xml")
    assert missing.exit_code == 2 and "no such file" in missing.output
    cap = setup / "alert.xml"
    cap.write_bytes(cap_xml())
    wrong = run("sign", "--key", setup / "keys" / "ua.kova.pub", cap)
    assert wrong.exit_code == 2 and "not a private key" in wrong.output
    invalid = setup / "bad.xml"
    invalid.write_bytes(b"<alert/>")
    assert run("sign", "--key", setup / "keys" / "ua.kova.key", invalid).exit_code == 1
    root_pub = setup / "keys" / "ua.kova.pub"  # the wrong root pinned
    result = run("verify", cap, "--sig", setup / "bad.xml", "--registry",
                 setup / "registry.json", "--root", root_pub)
    assert result.exit_code == 2 and "not the pinned root" in result.output


def test_key_rotation(setup: Path) -> None:
    keys = setup / "keys"
    assert run("keys", "generate", "--issuer", "ua.kova", "--out", setup / "new").exit_code == 0
    cap = setup / "alert.xml"
    cap.write_bytes(cap_xml())
    assert run("sign", "--key", setup / "new" / "ua.kova.key", cap).exit_code == 0
    assert verify(setup, cap).exit_code == 4  # not registered yet
    added = run("registry", "add-key", setup / "registry.json", "--root-key",
                keys / "registry-root.key", "--issuer", "ua.kova", "--key",
                setup / "new" / "ua.kova.pub", "--not-before", "2026-11-01T00:00:00Z")
    assert added.exit_code == 0, added.output
    assert verify(setup, cap).exit_code == 0
    wrong_root = run("registry", "add-key", setup / "registry.json", "--root-key",
                     keys / "ua.kova.key", "--issuer", "ua.kova", "--key",
                     setup / "new" / "ua.kova.pub")
    assert wrong_root.exit_code == 2 and "not the pinned root" in wrong_root.output


def test_add_issuer_refuses_a_sender_of_another_issuer(setup: Path) -> None:
    registry, root = setup / "registry.json", setup / "keys" / "registry-root.key"
    taken = run("registry", "add-issuer", registry, "--root-key", root, "--id", "ua.lova",
                "--name-uk", "Львівська ОВА", "--name-en", "Lviv Oblast Military Administration",
                "--kind", "air-raid", "--region", "UA-46", "--sender", "alerts@koda.gov.ua")
    assert taken.exit_code == 2 and "also listed by issuer 'ua.kova'" in taken.output, taken.output
    derived = run("registry", "add-issuer", registry, "--root-key", root, "--id", "ua.lova",
                  "--name-uk", "Львівська ОВА", "--name-en", "Lviv Oblast Military Administration",
                  "--kind", "air-raid", "--region", "UA-46")
    assert derived.exit_code == 0, derived.output
    shown = run("registry", "show", registry)
    assert "senders: ua.lova@<host> (derived from its id)" in shown.output

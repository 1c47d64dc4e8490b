"""What real producers publish reads as it should (issue 16, item 6).

* CAP 1.1 made ``<mimeType>`` optional in ``<resource>``; OASIS's own CAP 1.1 example A.1
  has none. It is valid CAP 1.1 and reads leniently; strict mode (alerts Tocsin issues,
  which are CAP 1.2, where mimeType is required) refuses it.
* US NWS CAP 1.1 feeds carry ``<polygon></polygon>`` for zone-based alerts: read as no
  polygon, with a warning (strict: an error).
* JSON written by ``tocsin cap convert`` always converts back, with the same limits: also
  for a large signed document, and with its XML-DSig ``Signature`` elements unchanged.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner, Result
from lxml import etree
from tests.cap.conftest import SAMPLES, sample_params

from tocsin.cap import CapError, from_json, parse_alert, to_json, to_xml
from tocsin.cap.model import CAP11_NS, CAP12_NS
from tocsin.cli import main

A1 = SAMPLES / "cap-1.1" / "oasis-cap11-spec_a1-homeland-security.xml"
NWS = SAMPLES / "cap-1.1" / "us-nws-cap11_blizzard-empty-polygon.xml"
SIGNED = sorted((SAMPLES / "valid-1.2").glob("*-signed.xml"))


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["cap", *args])


def test_cap11_resource_without_mime_type_reads_leniently() -> None:
    parsed = parse_alert(A1.read_bytes(), strict=False)
    assert parsed.version == "1.1" and parsed.warnings == ()
    resource = parsed.alert.info[0].resource[0]
    assert resource.resource_desc == "Image file (GIF)"
    assert resource.mime_type is None
    assert resource.uri == "http://www.dhs.gov/dhspublic/getAdvisoryImage"


def test_strict_mode_requires_mime_type() -> None:
    with pytest.raises(CapError) as caught:
        parse_alert(A1.read_bytes(), strict=True)
    messages = [str(p) for p in caught.value.problems]
    assert any("/alert/info[1]/resource[1]" in m and "mimeType" in m for m in messages), messages


def test_resource_without_mime_type_is_still_refused_in_cap12() -> None:
    data = A1.read_bytes().replace(CAP11_NS.encode(), CAP12_NS.encode())
    with pytest.raises(CapError, match="mimeType"):
        parse_alert(data, strict=False)


def test_cap11_without_mime_type_converts_to_json_and_back_as_cap11() -> None:
    alert = parse_alert(A1.read_bytes(), strict=False).alert
    data = to_json(alert)
    assert "mimeType" not in json.loads(data)["info"][0]["resource"][0]
    assert from_json(data) == alert
    xml = to_xml(alert)  # valid CAP 1.1, which a CAP 1.2 document without mimeType is not
    assert etree.fromstring(xml).tag == f"{{{CAP11_NS}}}alert"
    assert parse_alert(xml, strict=False).alert == alert


def test_nws_empty_polygon_reads_as_no_polygon_with_a_warning() -> None:
    parsed = parse_alert(NWS.read_bytes(), strict=False)
    area = parsed.alert.info[0].area[0]
    assert area.polygon == ()
    assert [g.value for g in area.geocode] == ["027031", "027075", "MNZ020", "MNZ021"]
    assert len(parsed.warnings) == 1
    warning = parsed.warnings[0]
    assert warning.severity == "warning"
    assert warning.path == "/alert/info[1]/area[1]/polygon[1]"
    assert warning.line is not None and "empty polygon" in warning.message
    with pytest.raises(CapError, match="empty polygon"):
        parse_alert(NWS.read_bytes(), strict=True)


def test_blank_polygon_between_real_ones_keeps_their_numbers() -> None:
    text = NWS.read_text(encoding="utf-8").replace(
        "<polygon></polygon>",
        "<polygon>45.0,-90.0 45.5,-90.0 45.5,-89.0 45.0,-90.0</polygon><polygon>  \n </polygon>"
        "<polygon>46.0,-90.0 46.5,-90.0 46.5,-89.0 46.0,-90.0</polygon>")
    parsed = parse_alert(text.encode(), strict=False)
    assert [p.points[0] for p in parsed.alert.info[0].area[0].polygon] == [(45.0, -90.0), (46.0, -90.0)]
    assert [w.path for w in parsed.warnings] == ["/alert/info[1]/area[1]/polygon[2]"]


@pytest.mark.parametrize("path", [*sample_params("valid-1.2"), *sample_params("cap-1.1")])
def test_convert_json_always_converts_back(path: Path, tmp_path: Path) -> None:
    as_json = run("convert", str(path), "--to", "json")
    assert as_json.exit_code == 0, as_json.output
    json_file = tmp_path / "alert.json"
    json_file.write_text(as_json.stdout, encoding="utf-8")
    back = run("convert", str(json_file), "--to", "xml")
    assert back.exit_code == 0, back.output
    xml_file = tmp_path / "back.xml"
    xml_file.write_bytes(back.stdout_bytes)
    again = run("convert", str(xml_file), "--to", "json")
    assert again.exit_code == 0, again.output
    first, second = json.loads(as_json.stdout), json.loads(again.stdout)
    first.pop("sourceVersion", None)  # written as 1.2 unless it can only be 1.1
    second.pop("sourceVersion", None)
    assert first == second


def big_signed_document() -> bytes:
    """A real signed IPAWS alert grown to about 1.8 MB by one long (valid) polygon.

    Its XML signature no longer verifies (it never carries trust in Tocsin); what matters is
    that the document is a real producer's shape, signed and large.
    """
    source = SAMPLES / "valid-1.2" / "us-ipaws-montgomery-md_local-emergency-polygon-signed.xml"
    data = source.read_text(encoding="utf-8")
    points = [f"{39.0 + i * 1e-5:.5f},{-77.0 - (i % 2) * 1e-5:.5f}" for i in range(100_000)]
    ring = " ".join([*points, points[0]])
    grown, count = re.subn(r"<polygon>[^<]*</polygon>", f"<polygon>{ring}</polygon>", data, count=1)
    assert count == 1
    return grown.encode("utf-8")


def test_large_signed_document_converts_to_json_and_back(tmp_path: Path) -> None:
    data = big_signed_document()
    assert 1_700_000 < len(data) < 2_000_000
    limit = "2000000"
    source = tmp_path / "big.xml"
    source.write_bytes(data)
    as_json = run("convert", str(source), "--to", "json", "--max-bytes", limit)
    assert as_json.exit_code == 0, as_json.output[-300:]
    assert len(as_json.stdout_bytes) > 2_000_000  # JSON is larger than its XML
    json_file = tmp_path / "big.json"
    json_file.write_bytes(as_json.stdout_bytes)
    back = run("convert", str(json_file), "--to", "xml", "--max-bytes", limit)
    assert back.exit_code == 0, back.output[-300:]
    original = parse_alert(data, strict=False, limits=_limits(2_000_000)).alert
    assert parse_alert(back.stdout_bytes, strict=False, limits=_limits(4_000_000)).alert == original
    assert original.signature and "SignatureValue" in original.signature[0]


def test_json_is_still_bounded(tmp_path: Path) -> None:
    """The JSON allowance grows with --max-bytes, but a JSON document has a limit too."""
    huge = tmp_path / "huge.json"
    huge.write_bytes(b'{"identifier": "' + b"x" * 5_000_000 + b'"}')
    result = run("convert", str(huge), "--to", "xml")
    assert result.exit_code == 1
    assert "bytes, expected at most" in result.output


def _limits(max_bytes: int):  # type: ignore[no-untyped-def]
    from tocsin.cap import ParseLimits

    return ParseLimits(max_bytes=max_bytes)


@pytest.mark.parametrize("path", SIGNED, ids=[p.name for p in SIGNED])
def test_signatures_of_a_cap11_document_round_trip(path: Path) -> None:
    """A signed document read as CAP 1.1 keeps its Signature exactly as CAP 1.2 would."""
    data = path.read_bytes()
    as_12 = parse_alert(data, strict=False).alert
    as_11 = parse_alert(data.replace(CAP12_NS.encode(), CAP11_NS.encode()), strict=False).alert
    assert as_11.signature == as_12.signature
    assert "xmlns:ns0" not in "".join(as_11.signature)
    assert from_json(to_json(as_11)) == as_11


def test_every_sample_has_its_source_and_licence_recorded() -> None:
    sources = (SAMPLES / "SOURCES.md").read_text(encoding="utf-8")
    for path in sorted(SAMPLES.glob("*/*.xml")):
        row = next((line for line in sources.splitlines() if line.startswith(f"| `{path.name}` |")), None)
        assert row is not None, f"{path.name} is not in SOURCES.md"
        cells = [cell.strip() for cell in row.split("|")[1:-1]]
        assert len(cells) >= 3 and " · " in cells[1] and cells[2], row  # source, licence


def _signed_by_test_certificate(path: Path) -> bytes:
    from tests.follow.signing import make_certificate, sign_cap_xml

    return sign_cap_xml(path.read_bytes(), make_certificate())


@pytest.mark.parametrize("name", ["us-nws_multiple-polygons-update.xml",
                                  "ca-eccc_thunderstorm-update-en-fr.xml"])
def test_a_signed_document_with_more_namespaces_converts_back(name: str, tmp_path: Path) -> None:
    """A real producer's document whose root declares other namespaces (NWS's carries three
    IPAWS ones), signed as IPAWS signs: its JSON converts back, in 1.2 and as CAP 1.1.

    A kept ``Signature`` was written as text with every namespace in scope, ordered by where
    each was declared; written under a new root and read again, the order changed, so the
    JSON of such a document was refused by the converter ("values that survive an XML
    round trip").
    """
    signed = _signed_by_test_certificate(SAMPLES / "valid-1.2" / name)
    for data in (signed, signed.replace(CAP12_NS.encode(), CAP11_NS.encode())):
        source = tmp_path / "signed.xml"
        source.write_bytes(data)
        as_json = run("convert", str(source), "--to", "json")
        assert as_json.exit_code == 0, as_json.output
        json_file = tmp_path / "signed.json"
        json_file.write_text(as_json.stdout, encoding="utf-8")
        back = run("convert", str(json_file), "--to", "xml")
        assert back.exit_code == 0, back.output
        alert = parse_alert(data, strict=False).alert
        again = parse_alert(back.stdout_bytes, strict=False).alert  # 1.2 unless it can only be 1.1
        assert msgspec.structs.replace(again, source_version=alert.source_version) == alert

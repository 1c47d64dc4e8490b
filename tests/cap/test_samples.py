"""Real CAP documents from many producers: read, refused, mapped as they should be."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.cap.alerts import alert_xml
from tests.cap.conftest import SAMPLES, sample_params

from tocsin.cap import CapError, parse_alert

# The one valid sample Tocsin's strict rules refuse, and why (docs/cap.md).
STRICT_REFUSED = {"oasis-cap12-spec_a1-homeland-security.xml": "areaDesc alone"}


@pytest.mark.parametrize("path", sample_params("valid-1.2"))
def test_valid_samples_read_leniently_without_warnings(path: Path) -> None:
    parsed = parse_alert(path.read_bytes(), strict=False)
    assert parsed.version == "1.2"
    assert parsed.alert.source_version == "1.2"
    assert parsed.warnings == ()


@pytest.mark.parametrize("path", sample_params("valid-1.2"))
def test_valid_samples_in_strict_mode(path: Path) -> None:
    data = path.read_bytes()
    if path.name in STRICT_REFUSED:
        with pytest.raises(CapError, match=STRICT_REFUSED[path.name]):
            parse_alert(data, strict=True)
    else:
        assert parse_alert(data, strict=True).warnings == ()


@pytest.mark.parametrize("path", sample_params("cap-1.1"))
def test_cap11_samples_map_to_the_12_model(path: Path) -> None:
    parsed = parse_alert(path.read_bytes(), strict=False)
    assert parsed.version == "1.1"
    assert parsed.alert.source_version == "1.1"
    assert parsed.alert.info, "every 1.1 sample has info blocks"


@pytest.mark.parametrize("path", sample_params("invalid"))
@pytest.mark.parametrize("strict", [True, False])
def test_invalid_samples_are_refused_with_line_and_path(path: Path, strict: bool) -> None:
    with pytest.raises(CapError) as caught:
        parse_alert(path.read_bytes(), strict=strict)
    problem = caught.value.problems[0]
    assert problem.severity == "error"
    assert problem.line is not None and problem.line > 0
    assert problem.path.startswith("/alert")
    assert str(problem).startswith(f"line {problem.line}: /alert")


def _read(kind: str, name: str) -> bytes:
    return (SAMPLES / kind / name).read_bytes()


def test_element_order_error_names_what_was_expected() -> None:
    data = _read("invalid", "generic_google-invalid-element-order.xml")
    with pytest.raises(CapError) as caught:
        parse_alert(data, strict=False)
    problem = caught.value.problems[0]
    assert (problem.line, problem.path) == (9, "/alert/info[1]")
    assert "Expected is one of ( source, scope )" in problem.message
    assert "urn:oasis" not in problem.message


def test_missing_severity_is_found_at_its_line() -> None:
    data = _read("invalid", "bf-anam_invalid-schema.xml")
    with pytest.raises(CapError) as caught:
        parse_alert(data)
    assert str(caught.value.problems[0]).startswith("line 16: /alert/info[1]/certainty[1]:")
    assert "severity" in caught.value.problems[0].message


def test_wrong_namespace_names_the_namespace_expected() -> None:
    data = _read("invalid", "tw-wra_wrong-namespace.xml")
    with pytest.raises(CapError, match=re.escape("urn:oasis:names:tc:emergency:cap:1.2")):
        parse_alert(data, strict=False)


def test_update_keeps_reference_triples_and_both_languages() -> None:
    alert = parse_alert(_read("valid-1.2", "ca-eccc_thunderstorm-update-en-fr.xml")).alert
    assert alert.msg_type == "Update"
    assert alert.references and all(ref.sent[-6] in "+-" for ref in alert.references)
    assert [info.language for info in alert.info] == ["en-CA", "fr-CA"]
    assert all(info.language_given for info in alert.info)


def test_cancel_without_info_keeps_its_signature() -> None:
    alert = parse_alert(_read("valid-1.2", "us-ipaws-nv-dps_cancel-no-info-signed.xml")).alert
    assert alert.msg_type == "Cancel" and alert.info == ()
    assert len(alert.signature) == 1 and "SignatureValue" in alert.signature[0]


def test_circles_and_geocodes_are_read_as_numbers_and_text() -> None:
    alert = parse_alert(_read("valid-1.2", "us-noaa-wcatwc_bc2012-01-alert-signed.xml")).alert
    circles = [c for info in alert.info for area in info.area for c in area.circle]
    assert len(circles) == 27
    for circle in circles:
        lat, lon_radius = circle.text.split(",", 1)
        assert circle.lat == float(lat)
        assert circle.radius_km == float(lon_radius.split()[-1])


def test_language_absent_defaults_to_en_us_and_is_recorded_as_absent() -> None:
    alert = parse_alert(_read("valid-1.2", "oasis-cap12-spec_a2-thunderstorm.xml")).alert
    assert alert.info[0].language == "en-US"
    assert alert.info[0].language_given is False


def test_empty_cap11_alert_is_refused() -> None:
    data = _read("invalid", "us-nws-cap11_empty-alert.xml")
    with pytest.raises(CapError, match="identifier"):
        parse_alert(data, strict=False)


def test_a_prefixed_cap_namespace_reads_the_same() -> None:
    data = alert_xml()
    prefixed = re.sub(rb"<(/?)([a-zA-Z]+)", rb"<\1cap:\2", data).replace(b'xmlns="', b'xmlns:cap="')
    assert b"<cap:alert xmlns:cap=" in prefixed
    assert parse_alert(prefixed).alert == parse_alert(data).alert

"""The rules the XSD cannot express, in strict (Tocsin-issued) and lenient (feeds) mode."""

from __future__ import annotations

import pytest
from tests.cap.alerts import alert_xml, polygon

from tocsin.cap import CapError, Problem, check_alert, parse_alert

KYIV = "50.0,30.0 50.5,30.0 50.5,31.0 50.0,30.0"
REFS = "  <references>kyiv-ova@tocsin.example,ua-kyiv-ova-2024-000122,2024-05-01T11:00:00+03:00</references>\n"  # noqa: E501


def _strict_error_lenient_warning(data: bytes, path: str, text: str) -> None:
    """The tolerated rules: refused when strict, a located warning when lenient."""
    with pytest.raises(CapError) as caught:
        parse_alert(data, strict=True)
    errors = [p for p in caught.value.problems if p.path == path]
    assert errors and text in errors[0].message and errors[0].severity == "error"
    parsed = parse_alert(data, strict=False)
    warnings = [p for p in parsed.warnings if p.path == path]
    assert warnings and text in warnings[0].message and warnings[0].severity == "warning"
    assert warnings[0].line is not None


def _error_in_both(data: bytes, path: str, text: str) -> None:
    for strict in (True, False):
        with pytest.raises(CapError) as caught:
            parse_alert(data, strict=strict)
        matching = [p for p in caught.value.problems if p.path == path and text in p.message]
        assert matching, caught.value.problems


def test_the_reference_alert_is_clean_in_both_modes() -> None:
    assert parse_alert(alert_xml(), strict=True).warnings == ()
    assert parse_alert(alert_xml(), strict=False).warnings == ()


@pytest.mark.parametrize("sent", ["2024-05-01T09:00:00Z", "2024-05-01T12:00:00.250+03:00"])
def test_z_zone_and_fractions_are_tolerated_only_leniently(sent: str) -> None:
    _strict_error_lenient_warning(alert_xml(sent=sent), "/alert/sent", "explicit UTC offset")


def test_a_warning_names_line_path_and_expectation() -> None:
    parsed = parse_alert(alert_xml(sent="2024-05-01T09:00:00Z"), strict=False)
    assert str(parsed.warnings[0]) == (
        "line 5: /alert/sent: warning: expected a time like 2024-05-01T12:00:00+03:00 "
        "(seconds, explicit UTC offset), found '2024-05-01T09:00:00Z'"
    )


def test_time_without_offset_is_refused_in_both_modes() -> None:
    _error_in_both(alert_xml(expires="2024-05-01T14:00:00"), "/alert/info[1]/expires", "offset")


def test_time_that_is_no_time_is_refused() -> None:
    with pytest.raises(CapError, match=r"/alert/sent\[1\]: .*'yesterday'"):
        parse_alert(alert_xml(sent="yesterday"), strict=False)


@pytest.mark.parametrize("expires", ["2024-05-01T11:00:00+03:00", "2024-05-01T09:00:00+00:00"])
def test_expires_must_follow_effective(expires: str) -> None:
    _strict_error_lenient_warning(
        alert_xml(expires=expires), "/alert/info[1]/expires", "after effective"
    )


def test_expires_is_compared_as_instants_across_offsets() -> None:
    # 11:30 UTC is 14:30 in Kyiv: after effective (12:00+03:00) although "11" < "12".
    assert parse_alert(alert_xml(expires="2024-05-01T11:30:00+00:00")).warnings == ()


@pytest.mark.parametrize("msg_type", ["Update", "Cancel"])
def test_update_and_cancel_need_references(msg_type: str) -> None:
    _strict_error_lenient_warning(alert_xml(msg_type=msg_type), "/alert/msgType", "references")
    assert parse_alert(alert_xml(msg_type=msg_type, extra_alert=REFS)).warnings == ()


def test_references_are_triples() -> None:
    bad = "  <references>kyiv-ova@tocsin.example,only-two</references>\n"
    _error_in_both(alert_xml(msg_type="Update", extra_alert=bad), "/alert/references", "triples")


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"identifier": "has space"}, "/alert/identifier"),
        ({"identifier": "a,b"}, "/alert/identifier"),
        ({"sender": "a&amp;b"}, "/alert/sender"),
        ({"sender": "a&lt;b"}, "/alert/sender"),
    ],
)
def test_identifier_and_sender_character_rules(kwargs: dict[str, str], path: str) -> None:
    _strict_error_lenient_warning(alert_xml(**kwargs), path, "no spaces, commas")


def test_empty_identifier_is_refused() -> None:
    _error_in_both(alert_xml(identifier=""), "/alert/identifier", "non-empty identifier")


def test_unclosed_polygon_is_tolerated_only_leniently() -> None:
    data = alert_xml(geometry=polygon("50.0,30.0 50.5,30.0 50.5,31.0 50.0,30.5"))
    _strict_error_lenient_warning(data, "/alert/info[1]/area[1]/polygon[1]", "closed ring")


def test_closed_polygon_is_clean() -> None:
    parsed = parse_alert(alert_xml(geometry=polygon(KYIV)))
    assert parsed.alert.info[0].area[0].polygon[0].points[0] == (50.0, 30.0)


@pytest.mark.parametrize(
    ("altitude", "path", "text"),
    [
        ("      <ceiling>100</ceiling>\n", "/alert/info[1]/area[1]/ceiling", "<altitude> too"),
        ("      <altitude>200</altitude>\n      <ceiling>100.5</ceiling>\n",
         "/alert/info[1]/area[1]/ceiling", "ceiling >= altitude"),
    ],
)
def test_altitude_and_ceiling(altitude: str, path: str, text: str) -> None:
    _strict_error_lenient_warning(alert_xml(altitude=altitude), path, text)


def test_altitude_keeps_its_exact_text() -> None:
    area = parse_alert(alert_xml(altitude="      <altitude> 100.50 </altitude>\n")).alert.info[0].area[0]
    assert (area.altitude, area.altitude_text) == (100.5, " 100.50 ")


@pytest.mark.parametrize(
    ("scope", "path"), [("Restricted", "/alert/scope"), ("Private", "/alert/scope")]
)
def test_restricted_and_private_scopes_need_their_element(scope: str, path: str) -> None:
    _strict_error_lenient_warning(alert_xml(scope=scope), path, f"when scope is {scope}")


def test_strict_needs_info_in_an_alert_but_not_in_a_cancel() -> None:
    with pytest.raises(CapError, match="at least one <info>"):
        parse_alert(alert_xml(info=False), strict=True)
    assert parse_alert(alert_xml(info=False), strict=False).warnings == ()
    assert parse_alert(alert_xml(info=False, msg_type="Cancel", extra_alert=REFS), strict=True)


def test_strict_needs_an_area_that_can_be_checked() -> None:
    no_geocode = alert_xml().replace(
        b"      <geocode><valueName>KATOTTG</valueName><value>UA32000000000030281</value></geocode>\n",
        b"",
    )
    with pytest.raises(CapError, match="areaDesc alone cannot be checked"):
        parse_alert(no_geocode, strict=True)
    assert parse_alert(no_geocode, strict=False).warnings == ()


def test_whitespace_around_an_enumeration() -> None:
    data = alert_xml(status=" Actual\n")
    with pytest.raises(CapError, match="expected no whitespace around the value"):
        parse_alert(data, strict=True)
    parsed = parse_alert(data, strict=False)
    assert parsed.alert.status == "Actual"
    assert parsed.warnings[0].path == "/alert/status[1]" and parsed.warnings[0].line == 6


def test_negative_resource_size() -> None:
    resource = (
        "    <resource><resourceDesc>map</resourceDesc><mimeType>image/png</mimeType>"
        "<size>-1</size></resource>\n"
    )
    data = alert_xml().replace(b"    <area>", resource.encode() + b"    <area>")
    _strict_error_lenient_warning(data, "/alert/info[1]/resource[1]/size", "size in bytes >= 0")


def test_check_alert_runs_the_same_rules_on_a_model() -> None:
    alert = parse_alert(alert_xml(sent="2024-05-01T09:00:00Z"), strict=False).alert
    assert check_alert(alert, strict=False) == [
        Problem("/alert/sent", None, check_alert(alert, strict=True)[0].message, "warning")
    ]


def test_cap_error_message_joins_every_problem() -> None:
    data = alert_xml(identifier="a b", sent="2024-05-01T09:00:00Z")
    with pytest.raises(CapError) as caught:
        parse_alert(data, strict=True)
    assert len(caught.value.problems) == 2
    assert str(caught.value) == "; ".join(str(p) for p in caught.value.problems)
    assert str(caught.value).startswith("line 3: /alert/identifier: expected the identifier to")


def test_referenced_times_follow_the_time_rules() -> None:
    refs = "  <references>kyiv-ova@tocsin.example,ua-1,2024-05-01T11:00:00Z</references>\n"
    data = alert_xml(msg_type="Update", extra_alert=refs)
    _strict_error_lenient_warning(data, "/alert/references", "explicit UTC offset")
    assert parse_alert(data, strict=False).warnings[0].line == 9


def test_many_rule_problems_are_summarised() -> None:
    areas = b"<area><areaDesc>x</areaDesc></area>" * 1500
    data = alert_xml().replace(b"    <area>", areas + b"    <area>", 1)
    with pytest.raises(CapError) as caught:
        parse_alert(data, strict=True)
    problems = caught.value.problems
    assert len(problems) == 51
    assert problems[0] == Problem("/alert", None, "1450 more problems not shown", "error")
    assert problems[1].path == "/alert/info[1]/area[1]" and problems[1].line == 24

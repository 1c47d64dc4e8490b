"""Hostile and broken input: each gets a precise CapError, never a file read or a request."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.cap.alerts import NS, alert_xml, circle, polygon

from tocsin.cap import CapError, ParseLimits, from_json, parse_alert

BOTH = pytest.mark.parametrize("strict", [True, False], ids=["strict", "lenient"])

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE alert [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol9;</identifier></alert>
"""


def _only(exc: pytest.ExceptionInfo[CapError]) -> str:
    return "\n".join(str(p) for p in exc.value.problems)


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET-MARKER")
    return path


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []  # noqa: RUF012 - shared on purpose, reset per test

    def do_GET(self) -> None:
        _Recorder.hits.append(self.path)
        body = b'<!ENTITY leak "NETWORK-MARKER">'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Silence the default stderr log."""


@pytest.fixture
def http_server() -> Iterator[str]:
    """A real server on 127.0.0.1 that records any request the parser might make."""
    _Recorder.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@BOTH
def test_billion_laughs_is_refused(strict: bool) -> None:
    with pytest.raises(CapError) as caught:
        parse_alert(BILLION_LAUGHS, strict=strict)
    assert "DOCTYPE" in _only(caught)


@BOTH
def test_billion_laughs_in_utf16_is_refused_after_parsing(strict: bool) -> None:
    data = BILLION_LAUGHS.decode().replace('<?xml version="1.0"?>', "").encode("utf-16")
    assert b"<!DOCTYPE" not in data  # the byte scan cannot see it: the parser check must
    with pytest.raises(CapError) as caught:
        parse_alert(data, strict=strict)
    assert "DOCTYPE" in _only(caught)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_xxe_file_entity_is_refused_and_not_read(secret_file: Path, encoding: str) -> None:
    doc = (
        f'<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file://{secret_file}">]>'
        f'<alert xmlns="{NS}"><identifier>&xxe;</identifier></alert>'
    )
    with pytest.raises(CapError) as caught:
        parse_alert(doc.encode(encoding), strict=False)
    assert "TOP-SECRET-MARKER" not in str(caught.value)
    assert "DOCTYPE" in str(caught.value)


def test_external_dtd_and_parameter_entities_make_no_request(http_server: str) -> None:
    docs = [
        f'<!DOCTYPE alert SYSTEM "{http_server}/a.dtd"><alert xmlns="{NS}"/>',
        f'<!DOCTYPE alert [<!ENTITY % p SYSTEM "{http_server}/p.dtd"> %p;]><alert xmlns="{NS}"/>',
    ]
    for doc in docs:
        for encoding in ("utf-8", "utf-16"):
            with pytest.raises(CapError, match="DOCTYPE"):
                parse_alert(doc.encode(encoding), strict=False)
    assert _Recorder.hits == []


def test_schema_location_and_xinclude_are_not_followed(http_server: str) -> None:
    hint = (
        b'<alert xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        + f'xsi:schemaLocation="{NS} {http_server}/cap.xsd" '.encode()
    )
    with_hint = alert_xml().replace(b"<alert ", hint)
    assert parse_alert(with_hint).alert.identifier == "ua-kyiv-ova-2024-000123"
    include = f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{http_server}/x"/>'
    with pytest.raises(CapError) as caught:  # xi:include is no CAP element
        parse_alert(alert_xml(tail=include).replace(b"<alert ", hint), strict=False)
    assert "include" in _only(caught)
    assert _Recorder.hits == []


def test_undeclared_entity_is_malformed() -> None:
    with pytest.raises(CapError, match=r"malformed XML: .*xxe"):
        parse_alert(alert_xml(identifier="&xxe;"))


@BOTH
def test_oversized_document_is_refused_before_parsing(strict: bool) -> None:
    data = alert_xml(extra_alert=f"  <note>{'x' * (1 << 20)}</note>\n")
    with pytest.raises(CapError, match=r"bytes, expected at most 1048576"):
        parse_alert(data, strict=strict)


def test_size_limit_is_configurable() -> None:
    data = alert_xml()
    assert parse_alert(data, limits=ParseLimits(max_bytes=len(data)))
    with pytest.raises(CapError, match=f"expected at most {len(data) - 1}"):
        parse_alert(data, limits=ParseLimits(max_bytes=len(data) - 1))


@pytest.mark.parametrize("depth", [65, 300, 5000])
def test_deep_nesting_is_refused(depth: int) -> None:
    nested = "<x>" * depth + "</x>" * depth
    data = alert_xml(tail=f'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
                          f"{nested}</ds:Signature>")
    with pytest.raises(CapError, match="nested at most 64 deep"):
        parse_alert(data, strict=False)


def test_depth_limit_is_configurable() -> None:
    nested = "<x>" * 20 + "</x>" * 20
    data = alert_xml(tail=f'<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">{nested}'
                          "</Signature>")
    assert parse_alert(data, strict=False).alert.signature
    with pytest.raises(CapError, match="nested at most 16 deep"):
        parse_alert(data, strict=False, limits=ParseLimits(max_depth=16))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (alert_xml(identifier="caf\u00e9").replace("é".encode(), b"\xe9"), "malformed XML"),
        (alert_xml().replace(b'encoding="UTF-8"', b'encoding="no-such-encoding"'), "encoding"),
        (alert_xml().replace(b'encoding="UTF-8"', b'encoding="UTF-16"'), "XML"),
        (b"\xff\xfe\x00\x00garbage", "XML"),
        (b"", "XML"),
        (b"<alert", "malformed XML"),
        (alert_xml()[:-20], "malformed XML"),
        (b"not xml at all", "malformed XML"),
    ],
    ids=["latin1-as-utf8", "unknown-encoding", "utf8-as-utf16", "bom-garbage", "empty",
         "truncated-tag", "truncated-doc", "text"],
)
def test_broken_bytes_get_a_clear_error(data: bytes, expected: str) -> None:
    with pytest.raises(CapError) as caught:
        parse_alert(data, strict=False)
    assert expected in _only(caught)
    assert caught.value.problems[0].severity == "error"


def test_utf16_alert_with_bom_is_accepted() -> None:
    text = alert_xml().decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    parsed = parse_alert(text.encode("utf-16"))
    assert parsed.alert.info[0].event == "Повітряна тривога"


@BOTH
@pytest.mark.parametrize(
    ("geometry", "expected"),
    [
        (polygon("91,30 50,31 49,30 91,30"), "latitude in [-90, 90]"),
        (polygon("50,181 50,31 49,30 50,181"), "longitude in [-180, 180]"),
        (polygon("nan,30 50,31 49,30 nan,30"), "decimal number for latitude, found 'nan'"),
        (polygon("1e2,30 50,31 49,30 1e2,30"), "decimal number for latitude"),
        (polygon("inf,30 50,31 49,30 inf,30"), "decimal number"),
        (polygon("50,30 50,31 50,30"), "at least 4 points"),
        (polygon("50;30 50;31 49;30 50;30"), "'lat,lon'"),
        (polygon(" 50,30 "), "at least 4 points"),
        (circle("50.45,30.52 -1"), "radius >= 0"),
        (circle("50.45,30.52"), "'lat,lon radius'"),
        (circle("95,30.52 10"), "latitude in [-90, 90]"),
        (circle("50.45,30.52 ten"), "decimal number for radius"),
    ],
)
def test_invalid_coordinates_are_refused(strict: bool, geometry: str, expected: str) -> None:
    # An *empty* polygon is what US NWS CAP 1.1 feeds publish: tests/cap/test_producers.py.
    with pytest.raises(CapError) as caught:
        parse_alert(alert_xml(geometry=geometry), strict=strict)
    text = _only(caught)
    assert expected in text
    assert "/alert/info[1]/area[1]/" in text and "line 2" in text


@BOTH
@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"status": "Real"}, "/alert/status[1]"),
        ({"msg_type": "Warning"}, "/alert/msgType[1]"),
        ({"scope": "Everyone"}, "/alert/scope[1]"),
        ({"status": "actual"}, "/alert/status[1]"),
    ],
)
def test_unknown_enumerations_are_refused(strict: bool, kwargs: dict[str, str], path: str) -> None:
    with pytest.raises(CapError) as caught:
        parse_alert(alert_xml(**kwargs), strict=strict)
    problem = caught.value.problems[0]
    assert problem.path == path and problem.line is not None
    assert "not an element of the set" in problem.message


def test_unknown_elements_are_refused_even_leniently() -> None:
    with pytest.raises(CapError, match="This element is not expected"):
        parse_alert(alert_xml(extra_alert="  <password>x</password>\n"), strict=False)


def test_non_bytes_input_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="expects bytes"):
        parse_alert(alert_xml().decode())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"{", "malformed JSON"),
        (b"\xff\xfe{}", "malformed JSON"),
        (b"[]", "Expected `object`, got `array`"),
        (b'{"identifier": 5}', "/alert/identifier: Expected `str`, got `int`"),
        (b'{"identifier": "a"}', "missing required field"),
        (b"[" * 100_000, "nested less deeply"),
        (b'{"x":' + b"[" * 100_000, "nested less deeply"),
        (b'{"identifier": "a", "headLine": "x"}', "/alert/headLine: expected only CAP"),
        (b'{"x": "' + b"a" * (4 << 20) + b'"}', "expected at most 4194304"),  # 4x: JSON of 1 MiB XML
    ],
    ids=["truncated", "bad-utf8", "array", "wrong-type", "missing", "deep", "deep-unknown",
         "unknown-key", "oversized"],
)
def test_bad_json_gets_a_clear_error(data: bytes, expected: str) -> None:
    with pytest.raises(CapError) as caught:
        from_json(data)
    assert expected in _only(caught)


def test_a_flood_of_schema_errors_is_summarised() -> None:
    flood = b"<category>Bogus</category>" * 1900  # stays under ParseLimits.max_children
    data = alert_xml().replace(b"<category>Security</category>", flood)
    with pytest.raises(CapError) as caught:
        parse_alert(data, strict=False)
    problems = caught.value.problems
    assert len(problems) == 51
    assert problems[0].message == "1850 more schema errors not shown"
    assert problems[-1].path == "/alert/info[1]/category[50]"


def test_doctype_text_inside_cdata_is_not_mistaken_for_a_dtd() -> None:
    html = "<![CDATA[<!DOCTYPE html><p>Прямуйте до укриття &amp; чекайте</p>]]>"
    data = alert_xml(extra_alert=f"  <note>{html}</note>\n")
    note = parse_alert(data).alert.note
    assert note == "<!DOCTYPE html><p>Прямуйте до укриття &amp; чекайте</p>"


def test_doctype_after_a_prolog_comment_is_still_refused() -> None:
    data = b'<!-- <x> --><!DOCTYPE alert [<!ENTITY a "b">]><alert xmlns="' + NS.encode() + b'"/>'
    with pytest.raises(CapError, match="DOCTYPE"):
        parse_alert(data, strict=False)


_BASE = alert_xml(geometry=polygon("50,30 51,30 51,31 50,30") + circle("50.4,30.5 10"),
                  altitude="      <altitude>1</altitude>\n      <ceiling>2</ceiling>\n")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, len(_BASE)), st.integers(0, 8), st.binary(max_size=8)),
        min_size=1,
        max_size=4,
    ),
    st.booleans(),
)
def test_mutated_alerts_only_ever_raise_cap_error(
    edits: list[tuple[int, int, bytes]], strict: bool
) -> None:
    """Splice random bytes into a valid alert: the result is parsed or refused, nothing else."""
    data = _BASE
    for at, cut, insert in edits:
        data = data[:at] + insert + data[at + cut :]
    try:
        parsed = parse_alert(data, strict=strict)
    except CapError as exc:
        assert exc.problems and all(p.message for p in exc.problems)
    else:
        assert parsed.alert.identifier is not None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_in_a_value_is_kept_or_refused(text: str) -> None:
    """Any text survives exactly (XML line-end normalisation aside) or is a CapError."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;")
    try:
        alert = parse_alert(alert_xml(extra_alert=f"  <note>{escaped}</note>\n"), strict=False)
    except CapError as exc:
        assert "malformed XML" in str(exc)  # only characters XML 1.0 forbids
        return
    assert alert.alert.note == text.replace("\r\n", "\n").replace("\r", "\n")


def test_too_many_elements_are_refused_before_validation() -> None:
    data = alert_xml().replace(b"<category>Security</category>", b"<category/>" * 30_000)
    with pytest.raises(CapError, match="expected at most 20000 elements, found 30"):
        parse_alert(data, strict=False)


def test_too_many_children_are_refused_with_their_parent() -> None:
    flood = b"<category>Bogus</category>" * 2_001
    data = alert_xml().replace(b"<category>Security</category>", flood)
    with pytest.raises(CapError) as caught:
        parse_alert(data, strict=False)
    problem = caught.value.problems[0]
    assert (problem.path, problem.line) == ("/alert/info[1]", 9)
    assert problem.message == "expected at most 2000 child elements, found 2015"


def test_a_nationwide_alert_in_two_languages_fits_the_limits() -> None:
    area = (
        "<area><areaDesc>Громада {n}</areaDesc><geocode><valueName>KATOTTG</valueName>"
        "<value>UA{n:017d}</value></geocode></area>"
    )
    areas = "".join(area.format(n=n) for n in range(1469)).encode()
    data = alert_xml().replace(b"    <area>", areas + b"    <area>", 1)
    info = data[data.index(b"  <info>") : data.index(b"  </info>\n") + 10]
    data = data.replace(b"  </info>\n", b"  </info>\n" + info, 1)
    parsed = parse_alert(data)
    assert [len(info.area) for info in parsed.alert.info] == [1470, 1470]


def test_breadth_limits_are_configurable() -> None:
    data = alert_xml(extra_alert="  <code>x</code>\n" * 3000)
    assert len(parse_alert(data, limits=ParseLimits(max_children=5000)).alert.code) == 3000
    with pytest.raises(CapError, match="at most 2000 child elements"):
        parse_alert(data)
    with pytest.raises(CapError, match="at most 100 child elements"):
        parse_alert(data, limits=ParseLimits(max_children=100))
    with pytest.raises(CapError, match="at most 1000 elements"):
        parse_alert(data, limits=ParseLimits(max_elements=1000, max_children=5000))

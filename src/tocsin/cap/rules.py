"""The CAP 1.2 rules the XSD cannot express, checked on the typed model.

They run on the model rather than the XML so that an alert read from JSON is
held to exactly the same rules. Each rule is either always an error (the
value is unusable: a coordinate off the globe, a time without an offset) or a
*tolerated* one: an error in strict mode (alerts Tocsin issues) and a warning
in lenient mode (other producers' feeds, which commonly get these wrong).
``docs/cap.md`` lists every rule and its mode.
"""

from __future__ import annotations

import re
from datetime import datetime

from tocsin.cap.errors import Problem, ProblemSeverity
from tocsin.cap.model import Alert, Area, Info, Polygon, parse_cap_time

# The lexical form the CAP 1.2 XSD requires for every time.
_STRICT_TIME = re.compile(r"\d\d\d\d-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d\Z")
# CAP 1.2 section 3.2.1: identifier and sender carry no spaces, commas, < or &.
_FORBIDDEN_ID_CHARS = re.compile(r"[\s,<&]")
_TIME_EXAMPLE = "a time like 2024-05-01T12:00:00+03:00 (seconds, explicit UTC offset)"
# Message types that need no <info> even for Tocsin (they speak about other messages).
_INFO_OPTIONAL = frozenset({"Cancel", "Ack", "Error"})


class _Checker:
    """Collects problems for one alert; ``tolerated`` picks severity by mode."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.problems: list[Problem] = []

    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, None, message, "error"))

    def tolerated(self, path: str, message: str) -> None:
        severity: ProblemSeverity = "error" if self.strict else "warning"
        self.problems.append(Problem(path, None, message, severity))

    def time(self, path: str, text: str | None) -> datetime | None:
        """Check one CAP time; return it (aware) when usable."""
        if text is None:
            return None
        value = text.strip()
        try:
            parsed = parse_cap_time(value)
        except ValueError:
            self.error(path, f"expected {_TIME_EXAMPLE}, found {text!r}")
            return None
        if not _STRICT_TIME.match(value):
            self.tolerated(path, f"expected {_TIME_EXAMPLE}, found {text!r}")
        return parsed

    def identifier(self, path: str, text: str, what: str) -> None:
        if not text.strip():
            self.error(path, f"expected a non-empty {what}")
        elif _FORBIDDEN_ID_CHARS.search(text):
            self.tolerated(
                path, f"expected the {what} to have no spaces, commas, '<' or '&', found {text!r}"
            )


def check_alert(alert: Alert, *, strict: bool) -> list[Problem]:
    """Every rule-level problem of ``alert`` (without source lines)."""
    c = _Checker(strict)
    c.identifier("/alert/identifier", alert.identifier, "identifier")
    c.identifier("/alert/sender", alert.sender, "sender")
    sent = c.time("/alert/sent", alert.sent)
    if alert.msg_type in ("Update", "Cancel") and not alert.references:
        c.tolerated(
            "/alert/msgType",
            f"expected <references> naming the earlier alert(s) a {alert.msg_type} applies to",
        )
    for ref in alert.references:  # one <references> element holds every triple
        c.identifier("/alert/references", ref.sender, "referenced sender")
        c.identifier("/alert/references", ref.identifier, "referenced identifier")
        c.time("/alert/references", ref.sent)
    if alert.scope == "Restricted" and not (alert.restriction or "").strip():
        c.tolerated("/alert/scope", "expected <restriction> when scope is Restricted")
    if alert.scope == "Private" and not (alert.addresses or "").strip():
        c.tolerated("/alert/scope", "expected <addresses> when scope is Private")
    if strict and not alert.info and alert.msg_type not in _INFO_OPTIONAL:
        c.error("/alert", f"expected at least one <info> in a {alert.msg_type} issued by Tocsin")
    for number, info in enumerate(alert.info, 1):
        _check_info(c, f"/alert/info[{number}]", info, sent, alert.msg_type)
    return c.problems


def _check_info(c: _Checker, path: str, info: Info, sent: datetime | None, msg_type: str) -> None:
    if not info.event.strip():
        c.tolerated(f"{path}/event", "expected a non-empty event")
    effective = c.time(f"{path}/effective", info.effective)
    onset = c.time(f"{path}/onset", info.onset)
    expires = c.time(f"{path}/expires", info.expires)
    start = effective or sent
    if expires is not None and start is not None and expires <= start:
        which = "effective" if effective is not None else "sent"
        c.tolerated(f"{path}/expires", f"expected a time after {which} ({start.isoformat()})")
    if expires is not None and onset is not None and expires < onset:
        c.tolerated(f"{path}/expires", f"expected a time not before onset ({onset.isoformat()})")
    for number, resource in enumerate(info.resource, 1):
        if resource.size is not None and resource.size < 0:
            c.tolerated(f"{path}/resource[{number}]/size", "expected a size in bytes >= 0")
    if c.strict and msg_type not in _INFO_OPTIONAL and not info.area and not _placeless(info):
        c.error(path, "expected at least one <area>: Tocsin alerts always name where they apply")
    for number, area in enumerate(info.area, 1):
        _check_area(c, f"{path}/area[{number}]", area)


def _check_area(c: _Checker, path: str, area: Area) -> None:
    if c.strict and not (area.polygon or area.circle or area.geocode):
        c.error(
            path, "expected a <geocode>, <polygon> or <circle>: areaDesc alone cannot be checked"
        )
    for number, polygon in enumerate(area.polygon, 1):
        _check_polygon(c, f"{path}/polygon[{number}]", polygon)
    for number, circle in enumerate(area.circle, 1):
        where = f"{path}/circle[{number}]"
        _check_point(c, where, circle.lat, circle.lon)
        if circle.radius_km < 0:
            c.error(where, f"expected a radius >= 0 km, found {circle.radius_km:g}")
    if area.ceiling is not None:
        if area.altitude is None:
            c.tolerated(
                f"{path}/ceiling", "expected <altitude> too: ceiling is only meaningful with it"
            )
        elif area.ceiling < area.altitude:
            c.tolerated(f"{path}/ceiling", f"expected a ceiling >= altitude ({area.altitude:g})")


def _check_polygon(c: _Checker, path: str, polygon: Polygon) -> None:
    points = polygon.points
    if len(points) < 4:
        c.error(path, f"expected at least 4 points (a closed ring), found {len(points)}")
    for lat, lon in points:
        if not _check_point(c, path, lat, lon):
            break
    if len(points) >= 2 and points[0] != points[-1]:
        c.tolerated(path, "expected the last point to repeat the first (a closed ring)")


def _check_point(c: _Checker, path: str, lat: float, lon: float) -> bool:
    if -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0:
        return True
    c.error(
        path, f"expected latitude in [-90, 90] and longitude in [-180, 180], found {lat:g},{lon:g}"
    )
    return False


def _placeless(info: Info) -> bool:
    """A denial is about a message, not a place: its info may name no area (issue 12)."""
    from tocsin.kinds import KIND_VALUE_NAME, KINDS, KindClass  # kinds imports cap.model

    return any(code.value_name == KIND_VALUE_NAME and code.value.strip() in KINDS
               and KINDS[code.value.strip()].klass is KindClass.DENIAL
               for code in info.event_code)

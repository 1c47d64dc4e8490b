"""Compose CAP 1.2 alerts from a few plain facts, so nobody writes XML by hand.

Used by ``tocsin issue`` and the demo. The result is an ordinary
:class:`~tocsin.cap.model.Alert`; its XML (:func:`tocsin.cap.to_xml`) is what
the issuer signs and the hub stores byte for byte.

Places are named for people: ``<areaDesc>`` carries the regions' names (Ukrainian
in a Ukrainian ``info``, English in any other), whether the issuer gave KATOTTG or
ISO 3166-2 codes; the ``<geocode>`` elements keep the codes machines match on.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tocsin.cap.model import Alert, Area, Info, Reference, ValuePair
from tocsin.kinds import KIND_VALUE_NAME, KINDS, KindClass
from tocsin.regions import RegionSet, default_region_set

# What an issuer means by each kind, in CAP's own terms, unless told otherwise.
_DEFAULT_ASSESSMENT: dict[str, tuple[str, str, str]] = {
    # kind: (urgency, severity, certainty)
    "air-raid": ("Immediate", "Extreme", "Likely"),
    "missile": ("Immediate", "Extreme", "Likely"),
    "drone": ("Immediate", "Severe", "Likely"),
    "shelling": ("Immediate", "Extreme", "Observed"),
    "shelter-in-place": ("Immediate", "Severe", "Likely"),
    "threat-notice": ("Expected", "Severe", "Possible"),
    "facility-closed": ("Expected", "Minor", "Observed"),
    "facility-status": ("Expected", "Minor", "Observed"),
    "all-clear": ("Past", "Minor", "Observed"),
    "denial": ("Past", "Minor", "Observed"),
}


class ComposeError(ValueError):
    """The facts given cannot make a valid alert; the message says which."""


def cap_time(moment: datetime) -> str:
    """A CAP dateTime with an explicit offset and no fraction (what the XSD requires)."""
    if moment.tzinfo is None:
        raise ComposeError("times must carry a time zone")
    return moment.replace(microsecond=0).isoformat()


def new_identifier(issuer_id: str, moment: datetime) -> str:
    """Unique per sender: issuer, UTC timestamp and 48 random bits."""
    return f"{issuer_id}-{moment.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(6)}"


@dataclass(frozen=True, slots=True)
class AlertFacts:
    issuer_id: str
    kind: str
    areas: Sequence[str]  # region codes (KATOTTG or ISO 3166-2)
    event: str | None = None
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    sender_name: str | None = None
    language: str = "uk-UA"
    status: str = "Actual"
    msg_type: str = "Alert"
    expires_in: timedelta | None = timedelta(hours=6)
    urgency: str | None = None
    severity: str | None = None
    certainty: str | None = None
    sender: str | None = None
    identifier: str | None = None
    references: Sequence[Reference] = ()
    area_desc: str | None = None
    sent: datetime | None = None
    extra_info: Sequence[tuple[str, str, str | None, str | None]] = field(default_factory=tuple)
    # (language, event, headline, instruction) for extra-language info blocks


def area_names(codes: Sequence[str], language: str, regions: RegionSet | None = None) -> str:
    """The regions' names for ``<areaDesc>``: Ukrainian for a ``uk`` info, English otherwise.

    ``UA-63`` and ``UA63000000000041885`` both read "Харківська область" / "Kharkiv Oblast";
    a code the region set does not know stays as written (the hub will refuse it by name).
    """
    found = regions if regions is not None else default_region_set()
    names: list[str] = []
    for code in codes:
        region = found.get(code)
        if region is None:
            name = code
        else:
            name = region.name_uk_full if language.lower().startswith("uk") else region.name_en
        if name not in names:
            names.append(name)
    return ", ".join(names)


def geocode_name(code: str, regions: RegionSet) -> str:
    """The CAP geocode valueName for ``code``: the region set's own scheme for its codes
    (KATOTTG for Ukraine's), ISO3166-2 for an ISO alias."""
    region = regions.get(code)
    if region is not None and region.iso_3166_2 and region.iso_3166_2.upper() == code.strip().upper():
        return "ISO3166-2"
    return regions.code_scheme


def compose_alert(facts: AlertFacts, regions: RegionSet | None = None) -> Alert:
    """Build the alert the facts describe (one info per language).

    Every kind but a denial must name an area. A denial is a statement about a message,
    not a place: with no area it targets nowhere (and colours nothing).
    """
    if facts.kind not in KINDS:
        raise ComposeError(f"unknown kind {facts.kind!r}; one of: {', '.join(KINDS)}")
    kind = KINDS[facts.kind]
    if not facts.areas and kind.klass is not KindClass.DENIAL:
        raise ComposeError("name at least one area (a region code)")
    sent = facts.sent or datetime.now(UTC).astimezone()
    urgency, severity, certainty = _DEFAULT_ASSESSMENT[facts.kind]
    region_set = regions if regions is not None else default_region_set()
    geocodes = tuple(ValuePair(value_name=geocode_name(c, region_set), value=c) for c in facts.areas)

    def areas_for(language: str) -> tuple[Area, ...]:
        if not facts.areas:
            return ()
        desc = facts.area_desc or area_names(facts.areas, language, regions)
        return (Area(area_desc=desc, geocode=geocodes),)

    expires = cap_time(sent + facts.expires_in) if facts.expires_in else None

    def info(language: str, event: str, headline: str | None, instruction: str | None) -> Info:
        return Info(
            language=language,
            language_given=True,
            category=(kind.cap_category,),  # type: ignore[arg-type]
            event=event,
            response_type=(kind.response,),  # type: ignore[arg-type]
            urgency=(facts.urgency or urgency),  # type: ignore[arg-type]
            severity=(facts.severity or severity),  # type: ignore[arg-type]
            certainty=(facts.certainty or certainty),  # type: ignore[arg-type]
            event_code=(ValuePair(value_name=KIND_VALUE_NAME, value=kind.code),),
            effective=cap_time(sent),
            expires=expires,
            sender_name=facts.sender_name,
            headline=headline,
            description=facts.description if language == facts.language else None,
            instruction=instruction,
            area=areas_for(language),
        )

    primary_event = facts.event or (kind.name_uk if facts.language.startswith("uk") else kind.name_en)
    infos = [info(facts.language, primary_event, facts.headline, facts.instruction)]
    for language, event, headline, instruction in facts.extra_info:
        infos.append(info(language, event, headline, instruction))
    return Alert(
        identifier=facts.identifier or new_identifier(facts.issuer_id, sent),
        sender=facts.sender or f"{facts.issuer_id}@tocsin",
        sent=cap_time(sent),
        status=facts.status,  # type: ignore[arg-type]
        msg_type=facts.msg_type,  # type: ignore[arg-type]
        scope="Public",
        references=tuple(facts.references),
        info=tuple(infos),
    )


def compose_cancel(*, issuer_id: str, sender: str, original: Reference,
                   note: str | None = None, sent: datetime | None = None) -> Alert:
    """A Cancel withdrawing ``original`` (CAP: a Cancel may carry no info)."""
    moment = sent or datetime.now(UTC).astimezone()
    return Alert(
        identifier=new_identifier(issuer_id, moment),
        sender=sender,
        sent=cap_time(moment),
        status="Actual",
        msg_type="Cancel",
        scope="Public",
        note=note or "Cancelled by the issuer",
        references=(original,),
    )

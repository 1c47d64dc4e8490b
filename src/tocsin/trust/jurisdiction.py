"""Whether an alert's target areas lie inside its issuer's jurisdiction.

The rule (also in ``docs/trust.md``): every ``area`` of every ``info`` must be
named by at least one geocode whose ``valueName`` is ``KATOTTG`` or
``ISO3166-2``, and every such geocode must be known and covered by one of the
issuer's jurisdiction codes (an oblast covers everything inside it). An area
with no such geocode (polygon or circle only), and an ``info`` with no area at
all, can only be issued by a nationwide issuer (jurisdiction ``*``): shapes are
not checked against boundaries yet, so they are not trusted to stay inside one.
"""

from __future__ import annotations

from typing import Protocol

from tocsin.cap.model import Alert
from tocsin.trust.registry import NATIONWIDE, Issuer

REGION_VALUE_NAMES = frozenset({"KATOTTG", "ISO3166-2"})


class RegionCoverage(Protocol):
    """What the verifier needs of a region hierarchy (``tocsin.regions.RegionSet`` fits)."""

    def canonical(self, code: str) -> str | None:
        """The canonical code for a code or alias (e.g. ISO 3166-2), or None if unknown."""
        ...

    def covers(self, ancestor: str, code: str) -> bool:
        """Whether ``ancestor`` is ``code`` or a region above it."""
        ...


class ExactCoverage:
    """Fallback without region data: a code covers only itself (case-insensitive)."""

    def canonical(self, code: str) -> str | None:
        text = code.strip().upper()
        return text or None

    def covers(self, ancestor: str, code: str) -> bool:
        return ancestor.strip().upper() == code.strip().upper()


def jurisdiction_problem(alert: Alert, issuer: Issuer, regions: RegionCoverage) -> str | None:
    """Why ``alert`` targets somewhere ``issuer`` may not warn, or None if all is inside."""
    nationwide = NATIONWIDE in issuer.jurisdiction
    scope = [c for c in issuer.jurisdiction if c != NATIONWIDE]
    for i, info in enumerate(alert.info, start=1):
        if not info.area and not nationwide and not placeless_denial(alert, issuer):
            return f"info[{i}] has no area, which only a nationwide issuer may send"
        for a, area in enumerate(info.area, start=1):
            where = f"info[{i}]/area[{a}] ({area.area_desc!r})"
            codes = [
                g.value for g in area.geocode if g.value_name.strip().upper() in REGION_VALUE_NAMES
            ]
            if not codes and not nationwide:
                return f"{where} has no KATOTTG or ISO3166-2 geocode, so only a nationwide " \
                       "issuer may send it"
            for code in codes:
                canonical = regions.canonical(code)
                if canonical is None:
                    return f"{where} names unknown region code {code!r}"
                if nationwide:
                    continue
                if not any(regions.covers(top, canonical) for top in scope):
                    return (
                        f"{where} targets {canonical}, outside issuer {issuer.id!r}'s "
                        f"jurisdiction ({', '.join(issuer.jurisdiction)})"
                    )
    return None


# -- issue 12: a denial may name no place ------------------------------------------------


def placeless_denial(alert: Alert, issuer: Issuer) -> bool:
    """A denial (about a message, not a place) with no area, from an issuer allowed denials.

    It targets nowhere, so it reaches outside no jurisdiction; any area it does name is
    still checked like every other alert's.
    """
    from tocsin.kinds import KindClass, alert_class

    return alert_class(alert) is KindClass.DENIAL and "denial" in issuer.kinds

"""What can go wrong reading a CAP document, said precisely enough to fix it.

Every problem names the element path (``/alert/info[1]/area[2]/polygon[1]``,
1-based like XPath), the source line when there is one, and what was expected.
Errors refuse the document; warnings are what lenient reading tolerates in
other producers' feeds (a ``Z`` time zone, say) but reports all the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ProblemSeverity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """Caps applied before and while parsing, so hostile input costs little.

    ``max_bytes`` bounds the document size (checked before any parsing);
    ``max_depth`` bounds element nesting (a CAP alert needs 5 levels, an
    enveloped XML signature about 6 more). ``max_elements`` and
    ``max_children`` (checked for documents over 32 KiB) bound the work of
    schema validation: libxml2 locates each schema error by counting siblings,
    so a flood of invalid values under one parent costs quadratic time. A
    nationwide Ukrainian alert (1,469 hromadas, two languages) fits both.
    """

    max_bytes: int = 1 << 20
    max_depth: int = 64
    max_elements: int = 20_000
    max_children: int = 2_000

    def __post_init__(self) -> None:
        if self.max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, got {self.max_bytes}")
        if self.max_elements < 1 or self.max_children < 1:
            raise ValueError("max_elements and max_children must be at least 1")
        if not 6 <= self.max_depth <= 255:
            raise ValueError(f"max_depth must be between 6 and 255, got {self.max_depth}")


DEFAULT_LIMITS = ParseLimits()


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a document: where it is and what was expected."""

    path: str
    line: int | None
    message: str
    severity: ProblemSeverity = "error"

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        label = "" if self.severity == "error" else "warning: "
        return f"{where}{self.path}: {label}{self.message}"


class CapError(Exception):
    """A CAP document (XML or JSON) that is not acceptable in the chosen mode."""

    def __init__(self, problems: tuple[Problem, ...] | list[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems) or "invalid CAP document")


def line_of(element: object) -> int | None:
    """The source line of an lxml element, if known (the stubs type it loosely)."""
    line = getattr(element, "sourceline", None)
    return line if isinstance(line, int) else None


def errors_of(problems: list[Problem]) -> list[Problem]:
    """The problems that refuse a document."""
    return [p for p in problems if p.severity == "error"]

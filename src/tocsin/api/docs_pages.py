"""The error catalogue as pages, served where every error's ``docs`` link points.

An error answer says ``"docs": "/docs/errors#<code>"``; that address must lead
somewhere. The page is built from :data:`tocsin.api.errors.CATALOGUE` itself —
the same table ``docs/errors.md`` holds (a test keeps the two in step) — so it
ships inside the package and can never name a code the hub does not have.
"""

from __future__ import annotations

import html
from functools import cache

from tocsin.api.errors import CATALOGUE

_STYLE = ("body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
          "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ccc;"
          "padding:.4rem;text-align:left;vertical-align:top}tr:target{background:#fff3b0}"
          "code{font-size:.95em}")


@cache
def errors_markdown() -> str:
    """``docs/errors.md``: one row per code with its anchor, HTTP status and meaning."""
    lines = [
        "# Error catalogue",
        "",
        "Every error the HTTP API returns. The `code` is stable; clients key on it.",
        "",
        "| code | HTTP | meaning |",
        "|---|---|---|",
    ]
    for kind in CATALOGUE.values():
        lines.append(f'| <a id="{kind.code}"></a>`{kind.code}` | {kind.status} | {kind.message} |')
    return "\n".join(lines) + "\n"


@cache
def errors_html() -> str:
    """The same catalogue as a small HTML page; each row's ``id`` is its code (``#code``)."""
    rows = "\n".join(
        f'<tr id="{html.escape(k.code)}"><td><a href="#{html.escape(k.code)}"><code>'
        f"{html.escape(k.code)}</code></a></td><td>{k.status}</td><td>{html.escape(k.message)}</td></tr>"
        for k in CATALOGUE.values()
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Tocsin: error catalogue</title><style>{_STYLE}</style></head><body>"
        '<h1>Error catalogue</h1><p>Every error the Tocsin HTTP API returns is '
        '<code>{"error": {"code", "message", "detail", "docs"}}</code>. The <code>code</code> '
        "is stable; clients key on it.</p>"
        "<table><thead><tr><th>code</th><th>HTTP</th><th>meaning</th></tr></thead><tbody>\n"
        f"{rows}\n</tbody></table><p><a href=\"/\">Tocsin</a></p></body></html>\n"
    )

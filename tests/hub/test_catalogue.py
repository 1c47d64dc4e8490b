"""The error catalogue and the OpenAPI document stay in step with the code."""

from __future__ import annotations

import re
from pathlib import Path

from tocsin.api.errors import CATALOGUE

DOCS = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


def test_every_error_code_is_documented() -> None:
    documented = set(re.findall(r'<a id="([a-z_]+)"></a>', DOCS.read_text(encoding="utf-8")))
    assert documented == set(CATALOGUE)


def test_the_served_error_page_is_the_documented_catalogue() -> None:
    """``/docs/errors`` is built from the catalogue; every row it shows is in docs/errors.md."""
    from tocsin.api.docs_pages import errors_html, errors_markdown

    documented = DOCS.read_text(encoding="utf-8").splitlines()
    rows = [line for line in errors_markdown().splitlines() if line.startswith("| <a id=")]
    assert len(rows) == len(CATALOGUE)
    assert [row for row in rows if row not in documented] == []
    page = errors_html()
    assert all(f'<tr id="{code}">' in page for code in CATALOGUE)

"""What every public page shares: the one header, the demo banner and the HTML error pages.

Pages are static files with a ``<!--#chrome-->`` marker where the header goes;
:func:`render_page` puts the header (and, when the hub runs with ``--demo``,
the banner saying these are not real alerts) in its place before serving. It is
done here, on the server, so the header and the banner are in the HTML itself:
they show without JavaScript, in screenshots, and before anything loads.

Error pages are HTML in the page's language (Ukrainian by default; the page's
script switches to English when the reader chose it) with the HTTP status of
the error, never 200. Nothing from the request is echoed into the HTML.
"""

from __future__ import annotations

from html import escape

MARKER = b"<!--#chrome-->"

# Links carry data-i18n keys that i18n.js translates; the Ukrainian text is the default.
HEADER = """<header class="bar site">
  <a class="brand" href="/"><img src="/static/favicon.svg" alt="" width="22" height="22">Tocsin</a>
  <nav class="site-nav" data-i18n-label="nav_label" aria-label="Розділи">
    <a href="/" data-i18n="nav_map">Мапа</a>
    <a href="/check" data-i18n="nav_check">Перевірити повідомлення</a>
    <a href="/issuers" data-i18n="nav_issuers">Хто оголошує</a>
    <a href="/about" data-i18n="nav_about">Про сервіс</a>
  </nav>
  <p id="conn" class="conn" role="status" hidden></p>
  <button id="lang-switch" type="button" lang="en">English</button>
</header>
"""

DEMO_BANNER = """<p id="demo-banner" class="demo-banner" role="note">
  <strong lang="uk">ДЕМО — це не справжні тривоги</strong> /
  <strong lang="en">DEMO — not real alerts</strong>
</p>
"""

_ERRORS = {
    404: ("Не знайдено", "Not found",
          "За цією адресою нічого немає. Можливо, в адресі помилка або тривогу, регіон чи "
          "оголошувача з таким кодом не існує.",
          "There is nothing at this address. The address may be mistyped, or no alert, region "
          "or issuer has this code."),
    405: ("Так не можна", "Not allowed",
          "Ця адреса не приймає такого запиту.", "This address does not take this request."),
    500: ("Помилка сервера", "Server error",
          "Щось пішло не так на сервері; нічого не змінено. Спробуйте ще раз.",
          "Something went wrong on the server; nothing was changed. Please try again."),
}


def chrome(demo: bool) -> bytes:
    """The header (and the demo banner when ``demo``) as it goes into every page."""
    return (HEADER + (DEMO_BANNER if demo else "")).encode("utf-8")


def render_page(html: bytes, demo: bool) -> bytes:
    """``html`` with its chrome marker replaced by the header (and banner)."""
    return html.replace(MARKER, chrome(demo), 1)


def error_page(status: int, demo: bool) -> bytes:
    """A complete HTML error page for ``status`` (Ukrainian; English via the reader's choice)."""
    uk_title, en_title, uk_text, en_text = _ERRORS.get(status, _ERRORS[500])
    body = f"""<!doctype html>
<html lang="uk">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{escape(uk_title)} · Tocsin</title>
  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/static/css/app.css">
  <script src="/static/js/i18n.js" defer></script>
</head>
<body data-title-key="error_title" data-status="{status}">
<!--#chrome-->
  <main class="page error-page">
    <h2 data-uk="{escape(uk_title)}" data-en="{escape(en_title)}">{escape(uk_title)}</h2>
    <p data-uk="{escape(uk_text)}" data-en="{escape(en_text)}">{escape(uk_text)}</p>
    <p class="muted">HTTP {status}</p>
    <p><a href="/" data-i18n="back_to_map">← До мапи</a></p>
  </main>
</body>
</html>
"""
    return render_page(body.encode("utf-8"), demo)

"""Organisations (issue 17): an organisation's own people, messages and check-ins.

An embassy, a school or an employer tells *its* people what to do and learns who is safe.
Everything here is private to one organisation: its people, messages, answers, deliveries
and audit log live in the org store (``DATA_DIR/orgs.sqlite3``), every read and write is
scoped by the organisation's id, and nothing of it reaches the public log, feeds, streams
or ``/api/v1/check``. docs/organisations.md describes it for admins.

Modules: :mod:`.model` (the records), :mod:`.store` (SQLite, scoped by organisation, an
append-only audit log), :mod:`.csvio` (people import/export), :mod:`.tokens` (one-time
secrets, stored hashed), :mod:`.signing` (the organisation's Ed25519 key, via
:mod:`tocsin.trust`), :mod:`.messaging` (audiences, signed messages, check-in links),
:mod:`.channels` (push, SMS gateway; email and webhooks plug in), :mod:`.rules` (public
threats -> org check-ins, a follower of :class:`tocsin.feed.EventFeed`), :mod:`.auth`
(passkeys, recovery codes, sessions, CSRF).
"""

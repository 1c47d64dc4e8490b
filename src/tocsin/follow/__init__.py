"""CAP feeds in: follow another Tocsin hub or any CAP Atom feed, and say how far each alert is proven.

* :mod:`tocsin.follow.config` — the followed-feeds file (trust is configured, never learnt);
* :mod:`tocsin.follow.fetch` — bounded outbound fetches under the SSRF rule of push and webhooks;
* :mod:`tocsin.follow.atom` — a hardened reader of Atom feeds (entries and their CAP links);
* :mod:`tocsin.follow.proof` — a Tocsin hub's alert verified as if issued here;
* :mod:`tocsin.follow.xmldsig` — an XML-DSig signed CAP checked against configured certificates;
* :mod:`tocsin.follow.store` — relayed alerts and refusals, apart from this hub's own log;
* :mod:`tocsin.follow.follower` — one polling loop per feed that never stops on bad input;
* :mod:`tocsin.follow.routes` — ``/api/v1/relayed``, ``/api/v1/follows`` and ``/relayed/{id}``.

docs/federation.md says what each verdict means and what it does not.
"""

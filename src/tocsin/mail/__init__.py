"""Email alerts (issue 16): per-person subscriptions by region, double opt-in, one-click unsubscribe.

The email sender is one more follower of the committed event feed
(:class:`tocsin.feed.EventFeed`), like :mod:`tocsin.push.sender`: it reads events from the
store after the position it saved, matches them to confirmed subscriptions with the live
streams' :class:`~tocsin.delivery.fanout.PlaceIndex`, and hands one message per subscription
per event to the SMTP relay set in the settings. Modules:

* :mod:`tocsin.mail.addresses` — which addresses and display names are taken (no header injection)
* :mod:`tocsin.mail.smtp` — build one message and send it through the relay: the small interface
  any other sender (organisations) reuses
* :mod:`tocsin.mail.tokens` — confirmation tokens (stored hashed) and unsubscribe links (HMAC)
* :mod:`tocsin.mail.store` — durable subscriptions, pending confirmations, the sender's position
* :mod:`tocsin.mail.messages` — what an alert or confirmation email says, per class and language
* :mod:`tocsin.mail.sender` — the follower: matching, bounded relay connections, retries
"""

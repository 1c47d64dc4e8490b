"""Web Push (issue 15): wake people for their places when no page is open.

The push sender is one more follower of the committed event feed
(:class:`tocsin.feed.EventFeed`): it reads events from the store in id order, matches
them to push subscriptions with the same :class:`~tocsin.delivery.fanout.PlaceIndex` the
live streams use, and hands one encrypted message per subscription per event to the
subscription's push service (RFC 8030 push protocol, RFC 8291 aes128gcm encryption,
RFC 8292 VAPID). Modules:

* :mod:`tocsin.push.crypto` — RFC 8291 message encryption (``cryptography`` primitives)
* :mod:`tocsin.push.vapid` — the hub's VAPID key pair and JWTs (``py-vapid``)
* :mod:`tocsin.push.endpoints` — which push endpoints may be called (no SSRF)
* :mod:`tocsin.push.store` — durable subscriptions and the sender's position
* :mod:`tocsin.push.messages` — what a notification says, per class and language
* :mod:`tocsin.push.sender` — the follower: matching, per-service pools, retries
"""

"""Webhooks and WebSub (issue 16): signed HTTP callbacks to receivers that subscribed.

Both are followers of the committed event feed (:class:`tocsin.feed.EventFeed`), like the
push sender; they share one engine, because what they must guarantee is the same — each
receiver gets its events in order, at least once, retried with backoff, and a slow or
failing receiver delays nobody else. Modules:

* :mod:`tocsin.callbacks.store` — durable targets (webhook endpoints and WebSub
  subscriptions), each with its own cursor in the feed, and the webhook dead letters
* :mod:`tocsin.callbacks.webhooks` — Standard Webhooks messages and the endpoint check
* :mod:`tocsin.callbacks.websub` — W3C WebSub topics, intent verification, content
  distribution with ``X-Hub-Signature``
* :mod:`tocsin.callbacks.sender` — the follower: one worker per target, retries, dead letters

Which URLs may be called is the shared rule of :mod:`tocsin.delivery.outbound`.
"""

// Tocsin's service worker (issue 15), served at /sw.js so its scope is the whole site.
//
// * Push: every message is a JSON payload the hub encrypted for this browser (RFC 8291),
//   one per place an event meets; it is shown as a notification whose tag is the place's,
//   so an all-clear replaces the alert on screen. A message for an alert already shown for
//   another place is shown silently (one alarm per alert). A message standing for several
//   places (the hub's last one when an event meets more than 8) lists their tags in
//   `tags`; those notifications are closed. Tapping one opens the alert page, which
//   verifies the alert itself.
// * Offline: pages, scripts, map layers and the last map state are cached as they are
//   fetched (network first). A response served from the cache carries the header
//   X-Tocsin-Stored-At (ms since the epoch), so the page can say "offline, last update …".
//   Live streams and the push API are never cached.
"use strict";

const CACHE = "tocsin-v1";
const SHELL = [
  "/", "/check", "/check/check.css", "/check/check.js", "/manifest.webmanifest", "/static/css/app.css", "/static/js/i18n.js",
  "/static/js/common.js", "/static/js/patterns.js", "/static/js/map.js", "/static/js/push.js",
  "/static/vendor/leaflet/leaflet.js", "/static/vendor/leaflet/leaflet.css",
  "/static/icons/icon-192.png", "/api/v1/map/layers/oblast.json", "/api/v1/map/state",
  "/api/v1/hub", "/api/v1/kinds",
];
const NEVER = ["/api/v1/stream", "/api/v1/push/", "/sw.js", "/metrics"];

async function store(cache, request, response) {
  const body = await response.clone().arrayBuffer();
  const headers = new Headers(response.headers);
  headers.set("X-Tocsin-Stored-At", String(Date.now()));
  await cache.put(request, new Response(body, { status: response.status, statusText: response.statusText, headers }));
}

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await Promise.all(SHELL.map(async (url) => {
      try {
        const response = await fetch(url, { cache: "no-store" });
        if (response.ok) await store(cache, url, response);
      } catch (e) { /* offline at install: cached on first use instead */ }
    }));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (NEVER.some((prefix) => url.pathname.startsWith(prefix))) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const response = await fetch(request);
      if (response.ok && response.type === "basic") await store(cache, request, response);
      return response;
    } catch (e) {
      const cached = await cache.match(request, { ignoreSearch: url.pathname.startsWith("/static/") });
      if (cached) return cached;
      if (request.mode === "navigate") {
        const home = await cache.match("/");
        if (home) return home;
      }
      throw e;
    }
  })());
});

self.addEventListener("push", (event) => {
  let payload;
  try {
    payload = event.data ? event.data.json() : {};
  } catch (e) {
    payload = { title: "Tocsin", body: event.data ? event.data.text() : "" };
  }
  const tag = payload.tag || "tocsin";
  const tags = Array.isArray(payload.tags) ? payload.tags.filter((t) => typeof t === "string" && t !== tag) : [];
  event.waitUntil((async () => {
    const shown = await self.registration.getNotifications();
    // One alarm per alert: the same alert already on screen for another place -> quietly.
    const again = payload.id && shown.some((n) => n.tag !== tag && n.data && n.data.id === payload.id);
    for (const n of shown) if (tags.includes(n.tag)) n.close();
    const options = {
      body: payload.body || "",
      tag,
      renotify: !again,
      silent: Boolean(again),
      requireInteraction: Boolean(payload.requireInteraction),
      icon: "/static/icons/icon-192.png",
      badge: "/static/icons/icon-192.png",
      timestamp: Date.now(),
      data: { url: payload.url || "/", id: payload.id || null, class: payload.class || null },
    };
    if (!again) options.vibrate = Array.isArray(payload.vibrate) ? payload.vibrate : [];  // silent forbids vibrate
    await self.registration.showNotification(payload.title || "Tocsin", options);
    // An open page plays the sound for it (browsers let only a page play audio).
    for (const client of await self.clients.matchAll({ type: "window" })) {
      client.postMessage({ type: "tocsin-push", payload });
    }
  })());
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = new URL((event.notification.data && event.notification.data.url) || "/", self.location.origin);
  event.waitUntil((async () => {
    for (const client of await self.clients.matchAll({ type: "window", includeUncontrolled: true })) {
      if (new URL(client.url).pathname === target.pathname && "focus" in client) return client.focus();
    }
    return self.clients.openWindow(target.href);
  })());
});

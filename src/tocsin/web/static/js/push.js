// My places, Web Push notifications, sound and the offline notice (issue 15).
//
// * My places live on this device only (localStorage "tocsin.places"); the one place the
//   map page remembers ("tocsin.place") is shown as the first of them, not copied.
// * By name: the hub's place search (/api/v1/places?q=, inflections understood).
//   By geolocation: the hromada is found IN THE PAGE from the map's own boundary layers;
//   the position is sent to the hub only if the person ticks "alerts for this exact point".
// * Notifications: the browser's push subscription goes to the hub with the places' codes
//   (and chosen points); the hub keeps only that and a hash of the secret it returns.
// * Sound (opt-in, needs a click): a threat for my places plays an alarm, an all-clear a
//   different, gentle tone — from the live stream while this page is open.
"use strict";

(function () {
  const PLACES_KEY = "tocsin.places";
  const MAP_PLACE_KEY = "tocsin.place";
  const PUSH_KEY = "tocsin.push";
  const SOUND_KEY = "tocsin.sound";

  const TEXT = {
    uk: {
      title: "Мої місця", add: "Додати", search: "Назва місця (напр. Київ, Львові)", none: "Місць ще немає.",
      label: "Як назвати (дім, робота…)", here: "Де я зараз", precise: "Сповіщати саме за цією точкою (точка надсилається на сервер)",
      notify_on: "Увімкнути сповіщення", notify_off: "Вимкнути сповіщення", notify_active: "Сповіщення увімкнено для цих місць.",
      denied: "Браузер заборонив сповіщення для цього сайту.", unsupported: "Цей браузер не підтримує push-сповіщення.",
      sound: "Звук тривоги, поки сторінка відкрита", remove: "Прибрати", found_none: "Нічого не знайдено.",
      offline: "Офлайн: показано останній відомий стан, оновлено {time}.", map_place: "Моє місце (з мапи)",
      geo_failed: "Не вдалося визначити місце: {why}", outside: "Ця точка поза межами відомих громад.",
      failed: "Не вдалося: {why}",
    },
    en: {
      title: "My places", add: "Add", search: "Place name (e.g. Kyiv, Lviv)", none: "No places yet.",
      label: "Name it (home, work…)", here: "Where I am", precise: "Alert me for this exact point (the point is sent to the server)",
      notify_on: "Turn on notifications", notify_off: "Turn off notifications", notify_active: "Notifications are on for these places.",
      denied: "The browser blocks notifications for this site.", unsupported: "This browser does not support push notifications.",
      sound: "Alarm sound while this page is open", remove: "Remove", found_none: "Nothing found.",
      offline: "Offline: showing the last known state, updated {time}.", map_place: "My place (from the map)",
      geo_failed: "Could not find the place: {why}", outside: "This point is outside every known hromada.",
      failed: "Failed: {why}",
    },
  };

  function lang() {
    try { if (typeof currentLang === "function") return currentLang() === "en" ? "en" : "uk"; } catch (e) { /* no i18n */ }
    return document.documentElement.lang === "en" ? "en" : "uk";
  }
  function tr(key, vars) {
    let s = (TEXT[lang()] || TEXT.uk)[key] || key;
    for (const [k, v] of Object.entries(vars || {})) s = s.replace("{" + k + "}", String(v));
    return s;
  }
  function mk(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = String(v);
      else if (k === "class") node.className = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
    return node;
  }
  function load(key, fallback) {
    try { const v = JSON.parse(window.localStorage.getItem(key) || "null"); return v === null ? fallback : v; } catch (e) { return fallback; }
  }
  function save(key, value) {
    try { window.localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* private mode */ }
  }
  function b64ToBytes(text) {
    const pad = "=".repeat((4 - (text.length % 4)) % 4);
    const raw = atob((text + pad).replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }

  // -- places ---------------------------------------------------------------

  function places() {
    const list = load(PLACES_KEY, []).filter((p) => p && typeof p.code === "string");
    const fromMap = load(MAP_PLACE_KEY, null);
    if (fromMap && typeof fromMap.code === "string" && !list.some((p) => p.code === fromMap.code && !p.point)) {
      list.unshift({ code: fromMap.code, label: tr("map_place"), name_uk: fromMap.name_uk || fromMap.name || fromMap.code,
                     name_en: fromMap.name_en || fromMap.name || fromMap.code, fromMap: true });
    }
    return list;
  }
  function addPlace(place) {
    const list = load(PLACES_KEY, []);
    if (!list.some((p) => p.code === place.code && JSON.stringify(p.point || null) === JSON.stringify(place.point || null))) {
      list.push(place);
      save(PLACES_KEY, list);
    }
    changed();
  }
  function removePlace(index) {
    const all = places();
    const place = all[index];
    if (!place || place.fromMap) return;
    save(PLACES_KEY, load(PLACES_KEY, []).filter((p) => !(p.code === place.code && JSON.stringify(p.point || null) === JSON.stringify(place.point || null))));
    changed();
  }

  // Point in polygon on the map's GeoJSON layers, so a position need not leave the device.
  function inRing(ring, x, y) {
    let inside = false;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i], [xj, yj] = ring[j];
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  }
  function inGeometry(geometry, x, y) {
    const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
    return polygons.some((poly) => inRing(poly[0], x, y) && !poly.slice(1).some((hole) => inRing(hole, x, y)));
  }
  async function featureAt(layer, lat, lon) {
    const response = await fetch("/api/v1/map/layers/" + layer + ".json");
    if (!response.ok) throw new Error(layer + ": " + response.status);
    const data = await response.json();
    return (data.features || []).find((f) => f.geometry && inGeometry(f.geometry, lon, lat)) || null;
  }
  function props(feature) {
    const p = feature.properties || {};
    return { code: p.code || p.id || feature.id, name_uk: p.name_uk || p.name || p.code, name_en: p.name_en || p.name || p.code };
  }
  async function hromadaAt(lat, lon) {
    const oblast = await featureAt("oblast", lat, lon);
    if (!oblast) return null;
    const hromada = await featureAt("hromada-" + props(oblast).code, lat, lon);
    return hromada ? props(hromada) : props(oblast);
  }

  // -- push -------------------------------------------------------------------

  async function registration() {
    if (!("serviceWorker" in navigator)) return null;
    return navigator.serviceWorker.register("/sw.js", { scope: "/" });
  }
  function pushBody(subscription) {
    const list = places();
    const regions = [...new Set(list.filter((p) => !p.point).map((p) => p.code))];
    const points = list.filter((p) => p.point).map((p) => ({ lat: p.point.lat, lon: p.point.lon }));
    for (const p of list.filter((q) => q.point)) if (!regions.includes(p.code)) regions.push(p.code);
    return { subscription: subscription.toJSON(), regions, points: points.slice(0, 10), language: lang() };
  }
  async function subscribePush() {
    if (!("PushManager" in window) || !("Notification" in window)) throw new Error(tr("unsupported"));
    const permission = await Notification.requestPermission();
    if (permission !== "granted") throw new Error(tr("denied"));
    const reg = await registration();
    await navigator.serviceWorker.ready;
    const key = (await (await fetch("/api/v1/push/key")).json()).publicKey;
    let sub = await reg.pushManager.getSubscription();
    if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64ToBytes(key) });
    await sendPlaces(sub);
  }
  async function sendPlaces(sub) {
    // An endpoint already subscribed is updated only with its secret (the hub refuses anyone else).
    const held = load(PUSH_KEY, null);
    const headers = { "Content-Type": "application/json" };
    if (held && held.secret) headers.Authorization = "Bearer " + held.secret;
    const response = await fetch("/api/v1/push/subscriptions", {
      method: "POST", headers, body: JSON.stringify(pushBody(sub)),
    });
    const body = await response.json();
    if (!response.ok) throw new Error((body.error && (body.error.detail || body.error.message)) || response.status);
    save(PUSH_KEY, { id: body.id, secret: body.secret });
  }
  async function unsubscribePush() {
    const held = load(PUSH_KEY, null);
    if (held) {
      await fetch("/api/v1/push/subscriptions/" + encodeURIComponent(held.id), {
        method: "DELETE", headers: { Authorization: "Bearer " + held.secret },
      }).catch(() => null);
      window.localStorage.removeItem(PUSH_KEY);
    }
    const reg = "serviceWorker" in navigator ? await navigator.serviceWorker.getRegistration("/") : null;
    const sub = reg ? await reg.pushManager.getSubscription() : null;
    if (sub) await sub.unsubscribe();
  }

  // -- sound ----------------------------------------------------------------------

  let audio = null;
  function soundOn() { return load(SOUND_KEY, false) === true && audio !== null; }
  function tone(freqs, seconds, type) {
    const ctx = audio;
    const gain = ctx.createGain();
    gain.gain.value = 0.2;
    gain.connect(ctx.destination);
    const osc = ctx.createOscillator();
    osc.type = type;
    const t0 = ctx.currentTime;
    freqs.forEach((f, i) => osc.frequency.setValueAtTime(f, t0 + (i * seconds) / freqs.length));
    osc.connect(gain);
    osc.start(t0);
    osc.stop(t0 + seconds);
  }
  function play(kind) {
    if (!soundOn()) return;
    if (kind === "alarm") tone([660, 990, 660, 990, 660, 990, 660, 990], 4, "sawtooth"); // a rising-falling siren
    else tone([523, 659, 784], 1.2, "sine"); // the all-clear: three soft ascending notes
    document.body.dataset.lastSound = kind;
    document.body.dataset.soundCount = String(Number(document.body.dataset.soundCount || 0) + 1);
  }
  let lastSounded = null;  // one sound per alert, though the hub pushes it once per place it meets
  function soundFor(view) {
    if (!view) return;
    if (view.id && view.id === lastSounded) return;
    lastSounded = view.id || null;
    if (view.class === "threat" && view.msgType !== "Cancel") play("alarm");
    else if (view.class === "all-clear") play("all-clear");
  }
  let stream = null;
  function follow() {
    if (stream) { stream.close(); stream = null; }
    const codes = [...new Set(places().map((p) => p.code))];
    if (!codes.length || !load(SOUND_KEY, false)) return;
    stream = new EventSource("/api/v1/stream?regions=" + encodeURIComponent(codes.join(",")));
    stream.addEventListener("alert", (event) => {
      try { soundFor(JSON.parse(event.data)); } catch (e) { /* not an alert view */ }
    });
  }

  // -- the panel ----------------------------------------------------------------

  let panel = null;
  let status = null;
  function say(text) { if (status) status.textContent = text; }

  function render() {
    if (!panel) return;
    panel.replaceChildren();
    panel.append(mk("h2", { id: "my-places-title", text: tr("title") }));
    const list = places();
    const ul = mk("ul", { id: "my-places-list", class: "my-places-list" });
    list.forEach((p, i) => {
      const name = lang() === "en" ? p.name_en : p.name_uk;
      const li = mk("li", { "data-code": p.code }, mk("strong", { text: p.label || name }), " — " + name + (p.point ? " (•)" : ""));
      if (!p.fromMap) {
        const rm = mk("button", { type: "button", class: "link", text: tr("remove") });
        rm.addEventListener("click", () => removePlace(i));
        li.append(" ", rm);
      }
      ul.append(li);
    });
    panel.append(list.length ? ul : mk("p", { class: "muted", id: "my-places-none", text: tr("none") }));

    const form = mk("form", { id: "push-place-search", class: "push-place-search" });
    const query = mk("input", { type: "search", id: "push-place-query", placeholder: tr("search"), "aria-label": tr("search"), required: true });
    const label = mk("input", { type: "text", id: "push-place-label", placeholder: tr("label"), "aria-label": tr("label"), maxlength: 40 });
    const results = mk("ul", { id: "push-place-results", class: "push-place-results" });
    form.append(query, label, mk("button", { type: "submit", text: tr("add") }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      results.replaceChildren();
      try {
        const response = await fetch("/api/v1/places?q=" + encodeURIComponent(query.value.trim()));
        const body = await response.json();
        if (!response.ok) throw new Error((body.error && body.error.message) || response.status);
        if (!body.regions.length) results.append(mk("li", { text: tr("found_none") }));
        for (const r of body.regions) {
          const pick = mk("button", { type: "button", class: "link", "data-code": r.code, text: (lang() === "en" ? r.name_en : r.name_uk) });
          pick.addEventListener("click", () => {
            addPlace({ code: r.code, name_uk: r.name_uk, name_en: r.name_en, label: label.value.trim() || null });
            results.replaceChildren();
            query.value = "";
            label.value = "";
          });
          results.append(mk("li", {}, pick));
        }
      } catch (e) { say(tr("failed", { why: e.message })); }
    });
    panel.append(form, results);

    const precise = mk("input", { type: "checkbox", id: "push-place-precise" });
    const here = mk("button", { type: "button", id: "push-place-here", text: tr("here") });
    here.addEventListener("click", () => {
      if (!("geolocation" in navigator)) { say(tr("geo_failed", { why: "geolocation" })); return; }
      navigator.geolocation.getCurrentPosition(async (pos) => {
        try {
          const lat = pos.coords.latitude, lon = pos.coords.longitude;
          const found = await hromadaAt(lat, lon);
          if (!found) { say(tr("outside")); return; }
          const place = { code: found.code, name_uk: found.name_uk, name_en: found.name_en, label: label.value.trim() || null };
          if (precise.checked) place.point = { lat: Number(lat.toFixed(5)), lon: Number(lon.toFixed(5)) };
          addPlace(place);
        } catch (e) { say(tr("geo_failed", { why: e.message })); }
      }, (err) => say(tr("geo_failed", { why: err.message })), { enableHighAccuracy: false, timeout: 15000 });
    });
    panel.append(mk("p", {}, here, " ", mk("label", {}, precise, " " + tr("precise"))));

    const held = load(PUSH_KEY, null);
    const toggle = mk("button", { type: "button", id: "push-toggle", text: held ? tr("notify_off") : tr("notify_on"), disabled: !list.length && !held });
    toggle.addEventListener("click", async () => {
      toggle.disabled = true;
      try {
        if (load(PUSH_KEY, null)) { await unsubscribePush(); say(""); } else { await subscribePush(); say(tr("notify_active")); }
      } catch (e) { say(e.message); }
      render();
    });
    const sound = mk("input", { type: "checkbox", id: "sound-toggle", checked: load(SOUND_KEY, false) === true });
    sound.addEventListener("change", () => {
      save(SOUND_KEY, sound.checked);
      if (sound.checked && !audio) audio = new (window.AudioContext || window.webkitAudioContext)(); // the gesture unlocks audio
      if (audio && audio.state === "suspended") audio.resume();
      follow();
    });
    panel.append(mk("p", {}, toggle), mk("p", {}, mk("label", {}, sound, " " + tr("sound"))));
    status = mk("p", { id: "push-status", role: "status" });
    if (held) status.textContent = tr("notify_active");
    panel.append(status);
  }

  async function changed() {
    render();
    follow();
    const held = load(PUSH_KEY, null);
    if (!held || !("serviceWorker" in navigator)) return;
    try {  // the hub learns the new places (re-posting the endpoint updates it)
      const reg = await navigator.serviceWorker.getRegistration("/");
      const sub = reg ? await reg.pushManager.getSubscription() : null;
      if (sub && places().length) await sendPlaces(sub);
      else if (!places().length) { await unsubscribePush(); render(); }
    } catch (e) { say(tr("failed", { why: e.message })); }
  }

  // -- offline notice -----------------------------------------------------------

  async function offlineNotice() {
    let stamp = null;
    try {
      const response = await fetch("/api/v1/hub", { cache: "no-store" });
      stamp = response.headers.get("X-Tocsin-Stored-At");
    } catch (e) { stamp = null; }
    if (!stamp) return;
    const when = new Date(Number(stamp)).toLocaleString(lang() === "en" ? "en-GB" : "uk-UA", { timeZone: "Europe/Kyiv" });
    const note = mk("p", { id: "offline-note", class: "offline-note", role: "status", text: tr("offline", { time: when }) });
    document.body.prepend(note);
    document.body.dataset.offline = "true";
  }

  function start() {
    if (document.getElementById("map")) {  // my places live on the map page; every page gets the rest
      panel = mk("section", { id: "my-places", class: "my-places", "aria-labelledby": "my-places-title" });
      const anchor = document.querySelector("main") || document.body;
      anchor.append(panel);
      render();
      follow();
      // The map page's own "my place" (pages-web) is the first of my places: when it is
      // chosen or changed there, show it here and tell the hub (if notifications are on).
      let mapPlace = JSON.stringify(load(MAP_PLACE_KEY, null));
      const box = document.getElementById("my-place");
      if (box) {
        new MutationObserver(() => {
          const now = JSON.stringify(load(MAP_PLACE_KEY, null));
          if (now !== mapPlace) { mapPlace = now; changed(); }
        }).observe(box, { childList: true, subtree: true, characterData: true, attributes: true });
      }
    }
    if ("serviceWorker" in navigator) {
      registration().catch(() => null);
      navigator.serviceWorker.addEventListener("message", (event) => {
        if (event.data && event.data.type === "tocsin-push" && !stream) soundFor(event.data.payload);
      });
    }
    offlineNotice();
    const switcher = document.getElementById("lang-switch");
    if (switcher) switcher.addEventListener("click", () => setTimeout(render, 0));
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

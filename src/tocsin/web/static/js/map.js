// The live map page: region layers coloured by state, the active-alert list, the live stream.
//
// Failure model: the stream says *that* something changed; the page then re-reads the whole
// picture (/api/v1/map/state), so a missed, reordered or duplicated event can never leave a
// region the wrong colour. The stream resumes from the last event id it saw (the browser's
// EventSource sends Last-Event-ID itself; after a hard failure we reopen with ?since=).
"use strict";

const UKRAINE_BOUNDS = [[44.2, 22.0], [52.5, 40.3]];
const RAION_ZOOM = 8;       // below: oblasts; from here: raions
const HROMADA_ZOOM = 10;    // from here: hromadas of the oblasts in view
const REFRESH_SECS = 30;    // expiries end alerts without an event: re-read this often
const RECONNECT_MAX_SECS = 30;
const NARROW_PX = 600;      // phones: the legend starts folded so the map stays visible

const view = {
  map: null,
  layers: { oblast: null, raion: null },
  hromadas: new Map(),      // oblast code -> GeoJSON layer
  loading: new Set(),
  state: { regions: {}, alerts: [], event_id: 0 },
  kinds: {},
  registry: null,
  lastEventId: null,
  source: null,
  retryDelay: 1,
  refreshTimer: null,
  refreshing: null,
  labels: null,             // layer group of kind labels, above the shapes
  labelTips: new Map(),     // "code className" -> tooltip
  opened: false,
};

// -- styling ----------------------------------------------------------------

function regionState(code) {
  return view.state.regions[code] || null;
}

function styleFor(feature) {
  const st = regionState(feature.properties.code);
  if (!st) return { color: "#56635a", weight: 0.8, fillColor: "#dfe8dc", fillOpacity: 0.9 };
  return {
    color: st.coverage === "full" ? "#3a0000" : "#8a3c00",
    weight: st.coverage === "full" ? 1.6 : 1.2,
    fillColor: "url(#" + patternId(shapeOf(st.kinds), st.coverage) + ")",
    fillOpacity: 1,
  };
}

function stateLabel(code) {
  const st = regionState(code);
  if (!st) return t("legend_clear");
  const kinds = st.kinds.map((k) => kindName(view.kinds, k)).join(", ");
  return (st.coverage === "full" ? t("legend_full") : t("legend_partial")) + ": " + kinds;
}

function decorate(layer) {
  const props = layer.feature.properties;
  const st = regionState(props.code);
  layer.setStyle(styleFor(layer.feature));
  const path = layer.getElement();
  if (path) {
    path.setAttribute("data-code", props.code);
    path.setAttribute("data-state", st ? st.coverage : "clear");
    path.setAttribute("data-kinds", st ? st.kinds.join(" ") : "");
    path.setAttribute("aria-label", regionName(props.code) + " — " + stateLabel(props.code));
  }
}

function eachRegionLayer(fn) {
  for (const group of [view.layers.oblast, view.layers.raion, ...view.hromadas.values()]) {
    if (group) group.eachLayer(fn);
  }
}

function restyle() {
  eachRegionLayer(decorate);
  renderLabels();
}

// -- labels -------------------------------------------------------------------
// One label per region an issuer named (not one per coloured shape, which would bury the map
// in identical labels when a whole oblast is under alert), at the finest shape loaded for it.

function shapeFor(code) {
  let found = null;
  const visit = (layer) => { if (!found && layer.feature.properties.code === code) found = layer; };
  for (const layer of view.hromadas.values()) layer.eachLayer(visit);
  if (!found && view.layers.raion) view.layers.raion.eachLayer(visit);
  if (!found && view.layers.oblast) view.layers.oblast.eachLayer(visit);
  if (!found && view.layers.oblast && /^UA[0-9]{17}$/.test(code)) {
    // Not loaded at this zoom: label its oblast (KATOTTG: the two digits after UA).
    view.layers.oblast.eachLayer((layer) => {
      if (!found && layer.feature.properties.code.slice(0, 4) === code.slice(0, 4)) found = layer;
    });
  }
  return found;
}

function renderLabels() {
  if (!view.labels) return;
  const named = new Map(); // code -> {kinds, coverage}
  for (const alert of view.state.alerts) {
    for (const code of alert.area_codes) {
      const entry = named.get(code) || { kinds: new Set() };
      for (const kind of alert.kinds) entry.kinds.add(kind);
      named.set(code, entry);
    }
  }
  // Labels are updated in place: a removed one fades out for 200 ms, so re-creating them all
  // on every change would flicker (and briefly show two languages at once).
  const wanted = new Map();
  for (const [code, entry] of named) {
    const shape = shapeFor(code);
    if (!shape) continue;
    const st = regionState(shape.feature.properties.code);
    const className = "kind-label kind-" + (st ? st.coverage : "partial");
    const text = [...entry.kinds].sort().map((k) => kindName(view.kinds, k)).join(" · ");
    wanted.set(code + " " + className, { text, at: shape.getBounds().getCenter(), className });
  }
  for (const [key, tip] of view.labelTips) {
    if (!wanted.has(key)) { view.labels.removeLayer(tip); view.labelTips.delete(key); }
  }
  for (const [key, want] of wanted) {
    const tip = view.labelTips.get(key);
    if (tip) {
      tip.setLatLng(want.at).setContent(want.text);
    } else {
      const made = L.tooltip({ permanent: true, direction: "center", className: want.className })
        .setLatLng(want.at).setContent(want.text);
      view.labelTips.set(key, made);
      view.labels.addLayer(made);
    }
  }
}

// -- layers -----------------------------------------------------------------

function popupFor(code) {
  const box = el("div", { class: "popup" },
    el("strong", { text: regionName(code) }),
    el("p", { text: stateLabel(code) }));
  const st = regionState(code);
  if (st) {
    const list = el("ul");
    for (const id of st.alerts) {
      const alert = view.state.alerts.find((a) => a.id === id);
      const info = alert ? pickInfo(alert.info) : {};
      list.append(el("li", {}, el("a", { href: "/alerts/" + id, text: info.event || id })));
    }
    box.append(list);
  }
  box.append(el("a", { href: "/regions/" + code, text: t("open_region") }));
  return box;
}

function makeLayer(data, focusable) {
  return L.geoJSON(data, {
    style: styleFor,
    onEachFeature(feature, layer) {
      const p = feature.properties;
      rememberRegion(p.code, p.name_uk, p.name_en);
      layer.bindPopup(() => popupFor(p.code));
      layer.on("add", () => {
        decorate(layer);
        const path = layer.getElement();
        if (path && focusable) {
          path.setAttribute("tabindex", "0");
          path.setAttribute("role", "button");
          path.addEventListener("keydown", (ev) => {
            if (ev.key === "Enter" || ev.key === " ") {
              ev.preventDefault();
              layer.openPopup();
            }
          });
        }
      });
    },
  });
}

async function loadLayer(name) {
  const response = await fetch("/api/v1/map/layers/" + name + ".json");
  if (!response.ok) throw new ApiFailure("layer " + name + ": " + response.status);
  return response.json();
}

async function ensureRaions() {
  if (view.layers.raion || view.loading.has("raion")) return;
  view.loading.add("raion");
  try {
    view.layers.raion = makeLayer(await loadLayer("raion"), true);
  } finally {
    view.loading.delete("raion");
  }
  showLevel();
  renderLabels();
}

async function ensureHromadas() {
  const bounds = view.map.getBounds();
  const wanted = [];
  view.layers.oblast.eachLayer((layer) => {
    if (bounds.intersects(layer.getBounds())) wanted.push(layer.feature.properties.code);
  });
  for (const code of wanted) {
    if (view.hromadas.has(code) || view.loading.has(code)) continue;
    view.loading.add(code);
    loadLayer("hromada-" + code).then((data) => {
      view.hromadas.set(code, makeLayer(data, false));
      showLevel();
      renderLabels();
    }).catch(() => null).finally(() => view.loading.delete(code));
  }
}

function showLevel() {
  const zoom = view.map.getZoom();
  const want = zoom >= HROMADA_ZOOM ? "hromada" : zoom >= RAION_ZOOM ? "raion" : "oblast";
  const show = (layer, on) => {
    if (!layer) return;
    if (on && !view.map.hasLayer(layer)) layer.addTo(view.map);
    if (!on && view.map.hasLayer(layer)) view.map.removeLayer(layer);
  };
  const haveHromadas = want === "hromada" && view.hromadas.size > 0;
  show(view.layers.oblast, want === "oblast" || (want !== "oblast" && !view.layers.raion));
  show(view.layers.raion, (want === "raion" || want === "hromada") && !!view.layers.raion);
  for (const layer of view.hromadas.values()) show(layer, haveHromadas);
  document.body.dataset.level = want;
  if (want !== "oblast") ensureRaions().catch(() => null);
  if (want === "hromada") ensureHromadas();
}

// -- the alert list -----------------------------------------------------------

function renderLegend() {
  const list = document.getElementById("legend-items");
  const items = [
    el("li", {}, swatch(["air-raid"], "full"), " ", t("legend_full")),
    el("li", {}, swatch(["air-raid"], "partial"), " ", t("legend_partial")),
    el("li", {}, el("span", { class: "swatch clear", "aria-hidden": "true" }), " ", t("legend_clear")),
  ];
  for (const [kind, shape] of Object.entries(KIND_SHAPES)) {
    items.push(el("li", { "data-shape": shape }, swatch([kind], "full"), " ", kindName(view.kinds, kind)));
  }
  list.replaceChildren(...items);
}

function alertItem(alert) {
  const info = pickInfo(alert.info);
  const kinds = alert.kinds.map((k) => kindName(view.kinds, k)).join(", ");
  const areas = alert.area_codes.length ? alert.area_codes.map(regionName).join(", ") : (info.areas || []).join(", ");
  const dl = el("dl", {},
    el("dt", { text: t("issuer") }), el("dd", { text: issuerName(view.registry, alert.issuer) }),
    el("dt", { text: t("areas") }), el("dd", { text: areas }),
    el("dt", { text: t("since") }), el("dd", {}, el("time", { datetime: alert.sent, text: formatTime(alert.sent) }), " (" + ago(alert.sent_ts) + ")"),
    el("dt", { text: t("certainty") }), el("dd", { text: word(info.certainty) }),
    el("dt", { text: t("severity") }), el("dd", { text: word(info.severity) }));
  const item = el("li", { class: "alert-item", "data-id": alert.id },
    el("h3", {}, swatch(alert.kinds, "full"), " ", el("a", { href: "/alerts/" + alert.id, text: kinds })),
    info.event && info.event !== kinds ? el("p", { class: "event", lang: info.language || null, text: info.event }) : null,
    dl);
  if (info.instruction) {
    item.append(el("p", { class: "instruction" }, el("strong", { text: t("instruction") + ": " }),
      el("span", { lang: info.language || null, text: info.instruction })));
  }
  return item;
}

function renderList() {
  const list = document.getElementById("alert-list");
  list.replaceChildren(...view.state.alerts.map(alertItem));
  document.getElementById("no-alerts").hidden = view.state.alerts.length > 0;
}

// -- state and stream ---------------------------------------------------------

async function refresh() {
  if (view.refreshing) return view.refreshing;
  view.refreshing = (async () => {
    try {
      const state = await fetchJSON("/api/v1/map/state");
      await ensureRegionNames(state.alerts.flatMap((a) => a.area_codes));
      view.state = state;
      restyle();
      renderList();
      document.body.dataset.eventId = String(state.event_id);
      document.body.dataset.ready = "true";
    } finally {
      view.refreshing = null;
    }
  })();
  return view.refreshing;
}

function scheduleRefresh() {
  // Coalesce a burst of events into one re-read (a few milliseconds, well inside 1 s).
  if (view.refreshTimer) return;
  view.refreshTimer = setTimeout(() => {
    view.refreshTimer = null;
    refresh().catch(() => scheduleRefresh());
  }, 50);
}

function setConn(state) {
  const node = document.getElementById("conn");
  node.dataset.state = state;
  node.textContent = state === "live" ? "● " + t("live") : state === "offline" ? t("offline") : t("reconnecting");
}

async function announce(data) {
  const kinds = (data.kinds || []).map((k) => kindName(view.kinds, k)).join(", ");
  // The event names its places ({code, name_uk, name_en}: docs/hub.md, "Alert JSON").
  const areas = (data.areas || []).map((a) => (currentLang() === "en" ? a.name_en : a.name_uk) || a.code).join(", ");
  const lead = (data.kinds || []).includes("all-clear") || data.msgType === "Cancel" ? t("alert_ended") : t("new_alert");
  const node = document.getElementById("announcer");
  node.textContent = lead + ": " + kinds + " — " + areas + ". " + issuerName(view.registry, data.issuer);
}

function connect() {
  const since = view.lastEventId !== null ? view.lastEventId : view.state.event_id;
  const source = new EventSource("/api/v1/stream?since=" + encodeURIComponent(since));
  view.source = source;
  source.addEventListener("open", () => {
    view.retryDelay = 1;
    setConn("live");
    if (view.opened) scheduleRefresh();  // a reconnect: re-read whatever changed meanwhile
    view.opened = true;
  });
  source.addEventListener("alert", (ev) => {
    if (ev.lastEventId) view.lastEventId = ev.lastEventId;
    scheduleRefresh();
    try { announce(JSON.parse(ev.data)); } catch (e) { /* a malformed event only loses its announcement */ }
  });
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) {
      // The browser gave up (an HTTP error, not a dropped connection): reopen ourselves.
      setConn("offline");
      source.close();
      setTimeout(connect, view.retryDelay * 1000);
      view.retryDelay = Math.min(RECONNECT_MAX_SECS, view.retryDelay * 2);
    } else {
      setConn("connecting");
    }
  });
}

async function start() {
  if (window.innerWidth < NARROW_PX) document.getElementById("legend").open = false;
  view.map = L.map("map", { zoomSnap: 0.5, minZoom: 4, maxZoom: 13, keyboard: true, attributionControl: true });
  view.map.attributionControl.setPrefix(false);
  view.map.attributionControl.addAttribution("Boundaries: KATOTTG / OSM contributors");
  view.map.fitBounds(UKRAINE_BOUNDS);
  setConn("connecting");
  const [oblasts, kinds, registry, state] = await Promise.all([
    loadLayer("oblast"), loadKinds(), loadRegistry().catch(() => null), fetchJSON("/api/v1/map/state"),
  ]);
  for (const f of oblasts.features) rememberRegion(f.properties.code, f.properties.name_uk, f.properties.name_en);
  await ensureRegionNames(state.alerts.flatMap((a) => a.area_codes));
  view.state = state;
  document.body.dataset.eventId = String(state.event_id);
  view.kinds = kinds;
  view.registry = registry;
  view.layers.oblast = makeLayer(oblasts, true);
  view.labels = L.layerGroup().addTo(view.map);
  view.map.on("zoomend moveend", showLevel);
  showLevel();
  renderLegend();
  restyle();
  renderList();
  document.body.dataset.ready = "true";
  connect();
  setInterval(() => refresh().catch(() => null), REFRESH_SECS * 1000);
}

onLangChange(() => {
  renderLegend();
  restyle();
  renderList();
  setConn(document.getElementById("conn").dataset.state);
});

document.addEventListener("DOMContentLoaded", () => {
  start().catch((err) => showError(document.getElementById("alert-list"), err));
});

// The live map page: my place first, regions coloured by threats only, the lists, the stream.
//
// Truth rules (issue 12): only a *threat* (air raid, missile, drone, shelling, shelter in
// place) colours a region. A *notice* (a facility closed, a threat warned of) gets its own
// list and a blue "i" marker and is never called "under alert". A *denial* is about a
// message, not a place: it colours nothing and has its own list. The class comes from the
// hub (`class` on each alert) or, from an older hub, from the kinds (/api/v1/kinds).
//
// Failure model: the stream says *that* something changed; the page then re-reads the whole
// picture (/api/v1/map/state), so a missed, reordered or duplicated event can never leave a
// region the wrong colour. Without the stream for STALE_SECS the page says so in words, with
// the time of the last update, and greys the map: an old picture must not look current.
"use strict";

const UKRAINE_BOUNDS = [[44.38, 22.14], [52.38, 40.23]];
const RAION_ZOOM = 8;       // below: oblasts; from here: raions
const HROMADA_ZOOM = 10;    // from here: hromadas of the oblasts in view
const REFRESH_SECS = 30;    // expiries end alerts without an event: re-read this often
const RECONNECT_MAX_SECS = 30;
const NARROW_PX = 700;      // phones: the legend starts folded so the map stays visible
const STALE_SECS_DEFAULT = 15;
const CITY_MARKERS = ["UA80000000000093317"]; // Kyiv city: always visible, whatever the zoom
const PLACE_KEY = "tocsin.place";

function staleSecs() {
  const raw = new URLSearchParams(window.location.search).get("stale");
  const secs = raw === null ? NaN : Number(raw);
  return Number.isFinite(secs) && secs >= 1 && secs <= 600 ? secs : STALE_SECS_DEFAULT;
}

const view = {
  map: null,
  layers: { oblast: null, raion: null },
  hromadas: new Map(),      // oblast code -> GeoJSON layer
  loading: new Set(),
  state: { regions: {}, alerts: [], event_id: 0 },
  threats: [], notices: [], denials: [],
  threatRegions: {},        // code -> {coverage, kinds, alerts}: threats only
  kinds: {},
  registry: null,
  lastEventId: null,
  source: null,
  retryDelay: 1,
  refreshTimer: null,
  refreshing: null,
  labels: null,             // layer group of kind labels, above the shapes
  labelTips: new Map(),     // "code className" -> tooltip
  markers: null,            // notice markers and city markers
  cityMarkers: new Map(),
  noticeMarkers: new Map(),
  opened: false,
  conn: "connecting",
  lastUpdate: null,         // Date of the last moment the picture was known current
  staleTimer: null,
  place: null,              // {code, name_uk, name_en}
  placeStatus: null,
};

// -- classes -------------------------------------------------------------------

const CLASS_ORDER = ["denial", "all-clear", "threat", "notice"];

function alertClass(alert) {
  if (alert && typeof alert.class === "string") return alert.class;
  const classes = new Set((alert.kinds || []).map((k) => view.kinds[k] && view.kinds[k].class).filter(Boolean));
  return CLASS_ORDER.find((c) => classes.has(c)) || "notice"; // unknown is never a threat
}

function isThreatKind(kind) {
  return !!(view.kinds[kind] && view.kinds[kind].class === "threat");
}

function allAlerts(state) {
  const seen = new Map();
  const add = (item) => {
    if (item && typeof item === "object" && item.id && !seen.has(item.id)) seen.set(item.id, item);
  };
  for (const list of [state.alerts, state.notices, state.denials]) (list || []).forEach(add);
  return [...seen.values()];
}

function classify(state) {
  const all = allAlerts(state).sort((a, b) => (b.sent_ts || 0) - (a.sent_ts || 0));
  view.threats = all.filter((a) => alertClass(a) === "threat");
  view.notices = all.filter((a) => alertClass(a) === "notice");
  view.denials = all.filter((a) => alertClass(a) === "denial");
  const threatIds = new Set(view.threats.map((a) => a.id));
  view.threatRegions = {};
  for (const [code, st] of Object.entries(state.regions || {})) {
    const ids = (st.alerts || []).filter((id) => threatIds.has(id));
    if (!ids.length) continue;
    view.threatRegions[code] = {
      coverage: st.coverage, alerts: ids,
      kinds: (st.kinds || []).filter(isThreatKind),
    };
  }
}

// -- names -----------------------------------------------------------------------

function alertAreaCodes(alert) {
  const named = (alert.areas || []).filter((a) => a && typeof a === "object" && a.code).map((a) => a.code);
  return (named.length ? named : alert.area_codes || []).map(canonicalCode);
}

function alertAreaNames(alert) {
  const lang = currentLang();
  const named = (alert.areas || []).filter((a) => a && typeof a === "object" && (a.name_uk || a.name_en));
  if (named.length) return named.map((a) => a["name_" + lang] || a.name_uk || a.name_en).join(", ");
  const codes = alert.area_codes || [];
  return codes.map(regionName).join(", ");  // never areaDesc: the issuer's free text (docs/hub.md)
}

// -- styling ----------------------------------------------------------------

function regionState(code) {
  return view.threatRegions[code] || null;
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

function kindsText(kinds) {
  return kinds.map((k) => kindName(view.kinds, k)).join(", ");
}

function stateLabel(code) {
  const st = regionState(code);
  const notes = noticesFor(code);
  let text = st ? (st.coverage === "full" ? t("legend_full") : t("legend_partial")) + ": " + kindsText(st.kinds)
    : t("legend_clear");
  if (notes.length) text += "; " + t("notice_short") + ": " + notes.map((n) => noticeTitle(n)).join(", ");
  return text;
}

function placeCodes() {
  return view.place ? [view.place.code] : [];
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
    path.setAttribute("data-notice", noticesFor(props.code).length ? "true" : "false");
    path.setAttribute("aria-label", regionName(props.code) + " — " + stateLabel(props.code));
    const place = view.place && view.place.code;
    path.classList.toggle("my-place", place === props.code);
    path.classList.toggle("my-place-within", !!place && place !== props.code &&
      props.level === "oblast" && place.slice(0, 4) === props.code.slice(0, 4) && !CITY_MARKERS.includes(props.code));
  }
}

function eachRegionLayer(fn) {
  for (const group of [view.layers.oblast, view.layers.raion, ...view.hromadas.values()]) {
    if (group) group.eachLayer(fn);
  }
}

function restyle() {
  eachRegionLayer(decorate);
  for (const group of [view.layers.oblast, view.layers.raion, ...view.hromadas.values()]) {
    if (group && view.map.hasLayer(group)) {
      group.eachLayer((layer) => { if (CITY_MARKERS.includes(layer.feature.properties.code)) layer.bringToFront(); });
    }
  }
  renderMarkers();
  renderLabels();
}

// -- labels -------------------------------------------------------------------
// One label per region an issuer named for a threat (not one per coloured shape), at the
// finest shape loaded for it. Labels never overlap: a label that would cover another (or
// Kyiv's marker) is moved above or below, and hidden if no place is free — the region keeps
// its pattern and its accessible name, and the alert is in the list.

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

function labelAnchor(shape) {
  const code = shape.feature.properties.code;
  return CITY_MARKERS.includes(code) ? cityCentre(code) : shape.getBounds().getCenter();
}

function renderLabels() {
  if (!view.labels) return;
  const named = new Map(); // code -> Set of kinds
  for (const alert of view.threats) {
    for (const code of alertAreaCodes(alert)) {
      const kinds = named.get(code) || new Set();
      for (const kind of alert.kinds) if (isThreatKind(kind)) kinds.add(kind);
      named.set(code, kinds);
    }
  }
  // Labels are updated in place: a removed one fades out for 200 ms, so re-creating them all
  // on every change would flicker (and briefly show two languages at once).
  const wanted = new Map();
  for (const [code, kinds] of named) {
    const shape = shapeFor(code);
    if (!shape || !kinds.size) continue;
    const shapeCode = shape.feature.properties.code;
    const st = regionState(shapeCode);
    const city = CITY_MARKERS.includes(shapeCode);
    const className = "kind-label kind-" + (st ? st.coverage : "partial") + (city ? " city-label" : "");
    const text = [...kinds].sort().map((k) => kindName(view.kinds, k)).join(" · ");
    wanted.set(code + " " + className, { text, at: labelAnchor(shape), className, city });
  }
  for (const [key, tip] of view.labelTips) {
    if (!wanted.has(key)) { view.labels.removeLayer(tip); view.labelTips.delete(key); }
  }
  for (const [key, want] of wanted) {
    const tip = view.labelTips.get(key);
    if (tip) {
      tip.setLatLng(want.at).setContent(want.text);
    } else {
      const made = L.tooltip({
        permanent: true, direction: want.city ? "right" : "center", className: want.className,
        offset: want.city ? [12, 0] : [0, 0],
      }).setLatLng(want.at).setContent(want.text);
      view.labelTips.set(key, made);
      view.labels.addLayer(made);
    }
  }
  declutter();
}

function rectsIntersect(a, b) {
  return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
}

function declutter() {
  const tips = [...view.labelTips.values()].map((tip) => tip.getElement()).filter(Boolean);
  const taken = [...view.cityMarkers.values()].map((m) => m.getElement()).filter(Boolean)
    .map((node) => node.getBoundingClientRect());
  // Kyiv first, then whole regions before parts, then bigger labels.
  const rank = (node) => (node.classList.contains("city-label") ? 0 : 2) - (node.classList.contains("kind-full") ? 1 : 0);
  for (const node of tips) { node.style.marginTop = "0px"; node.style.marginLeft = "0px"; node.classList.remove("label-hidden"); }
  tips.sort((a, b) => rank(a) - rank(b));
  const frame = view.map.getContainer().getBoundingClientRect();
  const inside = (r) => r.left >= frame.left && r.right <= frame.right && r.top >= frame.top && r.bottom <= frame.bottom;
  for (const node of tips) {
    const box = node.getBoundingClientRect();
    const h = box.height + 2;
    // Pulled inside the map first (a label cut by the edge is unreadable), then up or down.
    const inX = box.left < frame.left ? frame.left - box.left + 2 : box.right > frame.right ? frame.right - box.right - 2 : 0;
    const candidates = [[inX, 0], [inX, -h], [inX, h], [inX, -2 * h], [inX, 2 * h]];
    let placed = false;
    for (const [dx, dy] of candidates) {
      const moved = { left: box.left + dx, right: box.right + dx, top: box.top + dy, bottom: box.bottom + dy };
      if (inside(moved) && !taken.some((r) => rectsIntersect(moved, r))) {
        node.style.marginLeft = dx + "px";
        node.style.marginTop = dy + "px";
        taken.push(moved);
        placed = true;
        break;
      }
    }
    if (!placed) node.classList.add("label-hidden");
  }
}

// -- markers: Kyiv city, notices ----------------------------------------------------

function cityCentre(code) {
  let centre = null;
  if (view.layers.oblast) {
    view.layers.oblast.eachLayer((layer) => {
      if (layer.feature.properties.code === code) centre = layer.getBounds().getCenter();
    });
  }
  return centre;
}

function cityMarker(code) {
  const centre = cityCentre(code);
  if (!centre) return null;
  const icon = L.divIcon({ className: "city-marker", iconSize: [18, 18], iconAnchor: [9, 9], html: "" });
  const marker = L.marker(centre, { icon, keyboard: true, zIndexOffset: 500, riseOnHover: false });
  marker.bindPopup(() => popupFor(code));
  return marker;
}

function noticeTitle(alert) {
  const info = pickInfo(alert.info || []);
  return info.event || kindsText(alert.kinds || []);
}

function noticesFor(code) {
  return view.notices.filter((n) => alertAreaCodes(n).includes(code));
}

const NOTICE_GAP = 22; // px: a notice marker (20) and a little air

function renderMarkers() {
  if (!view.markers) return;
  for (const code of CITY_MARKERS) {
    let marker = view.cityMarkers.get(code);
    if (!marker) {
      marker = cityMarker(code);
      if (!marker) continue;
      view.cityMarkers.set(code, marker);
      view.markers.addLayer(marker);
    }
    const node = marker.getElement();
    if (node) {
      const st = regionState(code);
      node.dataset.code = code;
      node.dataset.state = st ? st.coverage : "clear";
      node.classList.toggle("my-place", !!view.place && view.place.code === code);
      node.setAttribute("role", "button");
      node.setAttribute("aria-label", regionName(code) + " — " + stateLabel(code));
    }
  }
  // One "i" marker per region a notice names.
  const wanted = new Map();
  for (const notice of view.notices) {
    for (const code of alertAreaCodes(notice)) {
      const shape = shapeFor(code);
      if (!shape) continue;
      const at = CITY_MARKERS.includes(code) ? cityCentre(code) : shape.getBounds().getCenter();
      const entry = wanted.get(code) || { at, titles: [] };
      entry.titles.push(noticeTitle(notice));
      wanted.set(code, entry);
    }
  }
  for (const [code, marker] of view.noticeMarkers) {
    if (!wanted.has(code)) { view.markers.removeLayer(marker); view.noticeMarkers.delete(code); }
  }
  // Markers that would cover each other at this zoom (a city and its oblast share a centre)
  // are set side by side: each moves right by a marker's width until it is clear.
  const placed = [];
  for (const code of [...wanted.keys()].sort()) {
    const want = wanted.get(code);
    const p = view.map.latLngToLayerPoint(want.at);
    let dx = 0;
    while (placed.some((q) => Math.abs(q.x - (p.x + dx)) < NOTICE_GAP && Math.abs(q.y - p.y) < NOTICE_GAP)) dx += NOTICE_GAP;
    placed.push({ x: p.x + dx, y: p.y });
    want.dx = dx;
  }
  for (const [code, want] of wanted) {
    let marker = view.noticeMarkers.get(code);
    if (marker && marker.noticeDx !== want.dx) {
      view.markers.removeLayer(marker);
      view.noticeMarkers.delete(code);
      marker = null;
    }
    if (!marker) {
      // Beside the point (up and right), so a city marker underneath stays visible.
      const icon = L.divIcon({ className: "notice-marker", iconSize: [20, 20], iconAnchor: [-8 - want.dx, 26], html: "i" });
      marker = L.marker(want.at, { icon, keyboard: false, zIndexOffset: 400 });
      marker.noticeDx = want.dx;
      marker.bindPopup(() => popupFor(code));
      view.noticeMarkers.set(code, marker);
      view.markers.addLayer(marker);
    }
    const node = marker.getElement();
    if (node) {
      node.dataset.code = code;
      node.setAttribute("title", t("notice_short") + ": " + want.titles.join(", "));
      node.setAttribute("aria-hidden", "true");
    }
  }
}

// -- layers -----------------------------------------------------------------

function popupFor(code) {
  const box = el("div", { class: "popup" },
    el("strong", { text: regionName(code) }),
    el("p", { text: stateLabel(code) }));
  const st = regionState(code);
  const ids = [...(st ? st.alerts : []), ...noticesFor(code).map((n) => n.id)];
  if (ids.length) {
    const list = el("ul");
    for (const id of ids) {
      const alert = allAlerts({ alerts: [...view.threats, ...view.notices] }).find((a) => a.id === id);
      const info = alert ? pickInfo(alert.info || []) : {};
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
  restyle();
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
      restyle();
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

// -- the lists ----------------------------------------------------------------

function renderLegend() {
  const list = document.getElementById("legend-items");
  const items = [
    el("li", {}, swatch(["air-raid"], "full"), " ", t("legend_full")),
    el("li", {}, swatch(["air-raid"], "partial"), " ", t("legend_partial")),
    el("li", {}, el("span", { class: "swatch clear", "aria-hidden": "true" }), " ", t("legend_clear")),
    el("li", {}, el("span", { class: "legend-notice", "aria-hidden": "true", text: "i" }), " ", t("legend_notice")),
  ];
  for (const [kind, shape] of Object.entries(KIND_SHAPES)) {
    items.push(el("li", { "data-shape": shape }, swatch([kind], "full"), " ", kindName(view.kinds, kind)));
  }
  list.replaceChildren(...items);
}

function sinceRow(alert) {
  return [el("dt", { text: t("since") }),
    el("dd", {}, el("time", { datetime: alert.sent, text: formatTime(alert.sent) }),
      alert.sent_ts ? " (" + lasting(alert.sent_ts) + ")" : "")];
}

function alertItem(alert) {
  const info = pickInfo(alert.info || []);
  const kinds = kindsText(alert.kinds);
  const dl = el("dl", {},
    el("dt", { text: t("areas") }), el("dd", { text: alertAreaNames(alert) }),
    el("dt", { text: t("issuer") }), el("dd", { text: issuerName(view.registry, alert.issuer) }),
    ...sinceRow(alert),
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

function noticeItem(alert) {
  const info = pickInfo(alert.info || []);
  const item = el("li", { class: "notice-item", "data-id": alert.id },
    el("h3", {}, el("span", { class: "legend-notice", "aria-hidden": "true", text: "i" }), " ",
      el("a", { href: "/alerts/" + alert.id, lang: info.language || null, text: noticeTitle(alert) })),
    el("dl", {},
      el("dt", { text: t("kind") }), el("dd", { text: kindsText(alert.kinds) }),
      el("dt", { text: t("areas") }), el("dd", { text: alertAreaNames(alert) }),
      el("dt", { text: t("issuer") }), el("dd", { text: issuerName(view.registry, alert.issuer) }),
      ...sinceRow(alert)));
  if (info.instruction) {
    item.append(el("p", { class: "instruction" }, el("strong", { text: t("instruction") + ": " }),
      el("span", { lang: info.language || null, text: info.instruction })));
  }
  return item;
}

function denialItem(alert) {
  const info = pickInfo(alert.info || []);
  return el("li", { class: "denial-item", "data-id": alert.id },
    el("h3", {}, el("a", { href: "/alerts/" + alert.id, lang: info.language || null, text: info.headline || info.event || kindsText(alert.kinds) })),
    info.description ? el("p", { lang: info.language || null, text: info.description }) : null,
    el("p", { class: "muted" }, issuerName(view.registry, alert.issuer) + " · ", el("time", { datetime: alert.sent, text: formatTime(alert.sent) })));
}

function renderList() {
  document.getElementById("alert-list").replaceChildren(...view.threats.map(alertItem));
  document.getElementById("no-alerts").hidden = view.threats.length > 0;
  document.getElementById("notice-list").replaceChildren(...view.notices.map(noticeItem));
  document.getElementById("notices").hidden = view.notices.length === 0;
  document.getElementById("denial-list").replaceChildren(...view.denials.map(denialItem));
  document.getElementById("denials").hidden = view.denials.length === 0;
}

// -- my place -------------------------------------------------------------------

function loadPlace() {
  try {
    const stored = JSON.parse(window.localStorage.getItem(PLACE_KEY) || "null");
    if (stored && typeof stored.code === "string") return stored;
  } catch (e) { /* nothing usable stored */ }
  return null;
}

function savePlace(place) {
  try { window.localStorage.setItem(PLACE_KEY, JSON.stringify(place)); } catch (e) { /* not remembered */ }
}

function placeName(place) {
  const name = (currentLang() === "en" ? place.name_en : place.name_uk) || place.name_uk || place.code;
  return name.replace(/^м\.\s*/, "");
}

function lowerFirst(text) {
  return text ? text.charAt(0).toLocaleLowerCase(currentLang() === "uk" ? "uk" : "en") + text.slice(1) : text;
}

function renderPlace() {
  const node = document.getElementById("my-place");
  const picker = document.getElementById("place-picker");
  const todo = document.getElementById("my-place-todo");
  todo.hidden = true;
  if (!view.place) {
    node.dataset.state = "unset";
    node.textContent = t("place_unset");
    picker.hidden = false;
    document.getElementById("place-change").hidden = true;
    return;
  }
  document.getElementById("place-change").hidden = false;
  const status = view.placeStatus;
  const name = placeName(view.place);
  if (!status) { node.dataset.state = "loading"; node.textContent = name + ": …"; return; }
  const threats = (status.alerts || []).filter((a) => alertClass(a) === "threat");
  const notices = [...(status.notices || []), ...(status.alerts || []).filter((a) => alertClass(a) === "notice")];
  if (threats.length) {
    const kinds = [...new Set(threats.flatMap((a) => a.kinds.filter(isThreatKind)))];
    const since = Math.min(...threats.map((a) => Date.parse(a.sent) / 1000));
    const part = status.coverage === "partial" ? " " + t("place_partly") : "";
    node.dataset.state = "threat";
    node.textContent = name + ": " + lowerFirst(kindsText(kinds)) + part + ", " + elapsed(since);
    // Since when and what to do, right under it (the newest threat's instruction).
    const newest = threats.slice().sort((a, b) => Date.parse(b.sent) - Date.parse(a.sent))[0];
    const full = view.threats.find((a) => a.id === newest.id);
    const info = full ? pickInfo(full.info || []) : {};
    todo.hidden = false;
    todo.replaceChildren(t("since") + " " + formatClock(since) + ". ",
      info.instruction ? el("strong", { text: t("instruction") + ": " }) : "",
      info.instruction ? el("span", { lang: info.language || null, text: info.instruction + " " }) : "",
      el("a", { href: "/alerts/" + newest.id, text: t("details") }));
  } else {
    node.dataset.state = notices.length ? "notice" : "clear";
    node.textContent = name + ": " + t("place_clear") +
      (notices.length ? " · " + t("notice_short") + ": " + notices.map((n) => n.event || kindsText(n.kinds)).join(", ") : "");
  }
  // Without the stream the state of my place may have changed: say so, on the line itself.
  if (view.conn === "stale") {
    node.dataset.stale = "true";
    node.append(" — " + t("stale", { time: view.lastUpdate ? formatClock(view.lastUpdate) : "—" }));
  } else {
    delete node.dataset.stale;
  }
}

async function refreshPlace() {
  if (!view.place) return;
  try {
    view.placeStatus = await fetchJSON("/api/v1/regions/" + encodeURIComponent(view.place.code) + "/status");
  } catch (e) {
    if (e instanceof ApiFailure && /unknown_region|404/.test(e.message)) view.place = null;
  }
  renderPlace();
}

function choosePlace(place) {
  view.place = place;
  view.placeStatus = null;
  rememberRegion(place.code, place.name_uk, place.name_en);
  savePlace(place);
  document.getElementById("place-picker").hidden = true;
  document.getElementById("place-results").replaceChildren();
  renderPlace();
  restyle();
  refreshPlace();
}

async function searchPlace(query) {
  const results = document.getElementById("place-results");
  const note = document.getElementById("place-note");
  note.textContent = "";
  if (!query.trim()) { note.textContent = t("place_empty"); return; }
  const found = await fetchJSON("/api/v1/places?q=" + encodeURIComponent(query.trim()));
  if (!found.regions.length) { note.textContent = t("place_none"); results.replaceChildren(); return; }
  results.replaceChildren(...found.regions.map((r) => {
    const oblast = r.oblast && r.oblast !== r.code ? regionName(r.oblast) : "";
    const label = (currentLang() === "en" ? r.name_en : r.name_uk) + (oblast && oblast !== r.oblast ? " — " + oblast : "");
    const button = el("button", { type: "button", "data-code": r.code, text: label });
    button.addEventListener("click", () => choosePlace({ code: r.code, name_uk: r.name_uk, name_en: r.name_en }));
    return el("li", {}, button);
  }));
}

function locatePlace() {
  const note = document.getElementById("place-note");
  if (!navigator.geolocation) { note.textContent = t("place_no_geo"); return; }
  note.textContent = t("place_locating");
  navigator.geolocation.getCurrentPosition(async (pos) => {
    try {
      const found = await fetchJSON("/api/v1/regions/locate?lat=" + pos.coords.latitude + "&lon=" + pos.coords.longitude);
      const order = { hromada: 0, raion: 1, oblast: 2 };
      const best = found.regions.slice().sort((a, b) => (order[a.level] ?? 3) - (order[b.level] ?? 3))[0];
      if (!best) { note.textContent = t("place_outside"); return; }
      note.textContent = "";
      choosePlace({ code: best.code, name_uk: best.name_uk, name_en: best.name_en });
    } catch (e) {
      note.textContent = t("place_outside");
    }
  }, () => { note.textContent = t("place_geo_denied"); }, { timeout: 15000, maximumAge: 600000 });
}

function setUpPlace() {
  const form = document.getElementById("place-form");
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    searchPlace(document.getElementById("place-input").value).catch((err) => {
      document.getElementById("place-note").textContent = t("error_loading") + err.message;
    });
  });
  document.getElementById("place-locate").addEventListener("click", locatePlace);
  document.getElementById("place-change").addEventListener("click", () => {
    const picker = document.getElementById("place-picker");
    picker.hidden = !picker.hidden;
    if (!picker.hidden) document.getElementById("place-input").focus();
  });
  view.place = loadPlace();
  document.getElementById("place-picker").hidden = !!view.place;  // chosen: the status line alone
  if (view.place && view.place.name_uk) rememberRegion(view.place.code, view.place.name_uk, view.place.name_en);
  renderPlace();
}

async function completePlace() {
  // A place stored by code only (an older page, a link): fetch its names once.
  if (view.place && !view.place.name_uk) {
    try {
      const info = await fetchJSON("/api/v1/regions/" + encodeURIComponent(view.place.code));
      view.place = { code: info.code, name_uk: info.name_uk, name_en: info.name_en };
      savePlace(view.place);
    } catch (e) { view.place = null; }
  }
}

// -- connection ------------------------------------------------------------------

function setConn(state) {
  view.conn = state;
  const node = document.getElementById("conn");
  node.hidden = false;
  node.dataset.state = state;
  document.body.dataset.conn = state;
  const wasStale = node.dataset.shown === "stale";
  node.dataset.shown = state;
  if ((state === "stale") !== wasStale && document.getElementById("my-place")) renderPlace();
  if (state === "live") node.textContent = "● " + t("live");
  else if (state === "stale") node.textContent = t("stale", { time: view.lastUpdate ? formatClock(view.lastUpdate) : "—" });
  else if (state === "reconnecting") node.textContent = t("reconnecting");
  else node.textContent = t("connecting");
}

function armStale() {
  if (view.staleTimer) return;
  view.staleTimer = setTimeout(() => { view.staleTimer = null; if (view.conn !== "live") setConn("stale"); }, staleSecs() * 1000);
}

function disarmStale() {
  if (view.staleTimer) { clearTimeout(view.staleTimer); view.staleTimer = null; }
}

function markUpdated() {
  view.lastUpdate = new Date();
}

// -- state and stream ---------------------------------------------------------

function applyState(state) {
  view.state = state;
  classify(state);
  restyle();
  renderList();
  renderPlace();
  document.body.dataset.eventId = String(state.event_id);
  if (state.demo === true) document.body.dataset.demo = "true";
}

async function readState() {
  const state = await fetchJSON("/api/v1/map/state");
  // The hub names each alert's places (`areas`); only an older hub's codes are looked up,
  // and the names are remembered so popups and labels use them too.
  for (const alert of allAlerts(state)) {
    for (const a of alert.areas || []) if (a && typeof a === "object" && a.code) rememberRegion(a.code, a.name_uk, a.name_en);
  }
  const codes = allAlerts(state).filter((a) => !(a.areas || []).some((x) => x && typeof x === "object"))
    .flatMap((a) => a.area_codes || []);
  await ensureRegionNames(codes);
  return state;
}

async function refresh() {
  if (view.refreshing) return view.refreshing;
  view.refreshing = (async () => {
    try {
      const state = await readState();
      applyState(state);
      if (view.conn === "live") markUpdated();
      await refreshPlace();
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

async function announce(data) {
  const klass = alertClass(data);
  if (klass === "denial") return;  // about a message, not a place: nothing to announce as an alert
  await ensureRegionNames(data.areas && typeof data.areas[0] === "string" ? data.areas : []);
  const kinds = kindsText(data.kinds || []);
  const areas = alertAreaNames({ areas: data.areas, area_codes: (data.areas || []).filter((a) => typeof a === "string"), info: [] });
  const lead = data.msgType === "Cancel" ? t("new_cancel") : klass === "all-clear" ? t("alert_ended")
    : klass === "threat" ? t("new_alert") : t("new_notice");
  const node = document.getElementById("announcer");
  node.textContent = lead + ": " + kinds + " — " + areas + ". " + issuerName(view.registry, data.issuer);
}

function onEvent(ev, announceIt) {
  if (ev.lastEventId) view.lastEventId = ev.lastEventId;
  scheduleRefresh();
  if (announceIt) {
    try { announce(JSON.parse(ev.data)); } catch (e) { /* a malformed event only loses its announcement */ }
  }
}

function connect() {
  const since = view.lastEventId !== null ? view.lastEventId : view.state.event_id;
  // Every region's alerts and every denial (the hub sends denials only to a subscription
  // that asks for them: a denial is about a message, not a place).
  const source = new EventSource("/api/v1/stream?regions=*&denials=1&since=" + encodeURIComponent(since));
  view.source = source;
  source.addEventListener("open", () => {
    view.retryDelay = 1;
    disarmStale();
    setConn("live");
    markUpdated();
    if (view.opened) scheduleRefresh();  // a reconnect: re-read whatever changed meanwhile
    view.opened = true;
  });
  source.addEventListener("alert", (ev) => onEvent(ev, true));
  source.addEventListener("denial", (ev) => onEvent(ev, false));
  source.addEventListener("resync", () => scheduleRefresh());
  source.addEventListener("error", () => {
    if (view.conn === "live") markUpdated();  // the picture was current until now
    armStale();
    if (source.readyState === EventSource.CLOSED) {
      // The browser gave up (an HTTP error, not a dropped connection): reopen ourselves.
      source.close();
      setTimeout(connect, view.retryDelay * 1000);
      view.retryDelay = Math.min(RECONNECT_MAX_SECS, view.retryDelay * 2);
    }
    if (view.conn !== "stale") setConn(view.opened ? "reconnecting" : "connecting");
  });
}

function fitUkraine() {
  view.map.fitBounds(UKRAINE_BOUNDS, { padding: [0, 0] });
}

async function start() {
  setConn("connecting");
  armStale();
  setUpPlace();
  if (window.innerWidth < NARROW_PX) document.getElementById("legend").open = false;
  view.map = L.map("map", { zoomSnap: 0.1, zoomDelta: 0.5, minZoom: 4, maxZoom: 13, keyboard: true, attributionControl: true });
  view.map.attributionControl.setPrefix(false);
  view.map.attributionControl.addAttribution("Boundaries: KATOTTG / OSM contributors");
  fitUkraine();
  const [oblasts, kinds, registry] = await Promise.all([
    loadLayer("oblast"), loadKinds(), loadRegistry().catch(() => null)]);
  view.kinds = kinds;
  view.registry = registry;
  for (const f of oblasts.features) rememberRegion(f.properties.code, f.properties.name_uk, f.properties.name_en);
  const [state] = await Promise.all([readState(), completePlace()]);
  view.layers.oblast = makeLayer(oblasts, true);
  view.labels = L.layerGroup().addTo(view.map);
  view.markers = L.layerGroup().addTo(view.map);
  view.map.on("zoomend moveend", showLevel);
  view.map.on("zoomend moveend resize", declutter);
  view.map.on("zoomend", renderMarkers);  // notice markers side by side at the new scale
  showLevel();
  renderLegend();
  applyState(state);
  markUpdated();
  await refreshPlace();
  document.body.dataset.ready = "true";
  connect();
  setInterval(() => refresh().catch(() => null), REFRESH_SECS * 1000);
  setInterval(renderPlace, 30000);  // "12 хв" keeps counting
}

onLangChange(() => {
  renderLegend();
  restyle();
  renderList();
  renderPlace();
  setConn(view.conn);
});

window.TocsinMap = { STALE_SECS_DEFAULT, staleSecs, alertClass };

document.addEventListener("DOMContentLoaded", () => {
  start().catch((err) => showError(document.getElementById("alert-list"), err));
});

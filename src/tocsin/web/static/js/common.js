// Shared helpers: DOM building (text only, never HTML), API fetches, names, times.
// Alert text comes from issuers and the network: it is only ever set with textContent.
"use strict";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

class ApiFailure extends Error {}

async function fetchJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) {
    let detail = response.status + " " + response.statusText;
    try {
      const body = await response.json();
      if (body && body.error) detail = body.error.message + (body.error.detail ? " (" + body.error.detail + ")" : "");
    } catch (e) { /* not JSON */ }
    throw new ApiFailure(url + ": " + detail);
  }
  return response.json();
}

// -- names ----------------------------------------------------------------

let kindsPromise = null;
let registryPromise = null;
const regionNames = new Map(); // code -> {uk, en}
const regionFetches = new Map();

function loadKinds() {
  if (!kindsPromise) kindsPromise = fetchJSON("/api/v1/kinds").catch(() => ({}));
  return kindsPromise;
}

function loadRegistry() {
  if (!registryPromise) {
    registryPromise = fetch("/api/v1/registry").then(async (r) => {
      if (!r.ok) throw new ApiFailure("/api/v1/registry: " + r.status);
      const text = await r.text();
      return { text, doc: JSON.parse(text) };
    });
  }
  return registryPromise;
}

function kindName(kinds, code) {
  const entry = kinds[code];
  return entry ? entry[currentLang()] : code;
}

function issuerName(registry, id) {
  const issuer = registry && registry.doc.registry.issuers.find((i) => i.id === id);
  if (!issuer) return id;
  return issuer.names[currentLang()] || issuer.names.en || issuer.names.uk || id;
}

function rememberRegion(code, uk, en) {
  if (code && !regionNames.has(code)) regionNames.set(code, { uk, en });
}

function regionName(code) {
  const names = regionNames.get(canonicalCode(code));
  return names ? (names[currentLang()] || names.uk) : code;
}

// Codes an issuer may write other than KATOTTG (ISO 3166-2 "UA-63", alerts.in.ua ids) are
// resolved by the hub once each, so both kinds of code are named and drawn alike.
const aliases = new Map(); // alias -> canonical KATOTTG code

function canonicalCode(code) {
  return aliases.get(code) || code;
}

// Names the map has not loaded (a hromada, an ISO code) are fetched once each, a few at a
// time: a nationwide alert may name every hromada, and thousands of requests at once exhaust
// the browser.
const REGION_FETCHES_IN_FLIGHT = 6;
async function ensureRegionNames(codes) {
  const wanted = [...new Set(codes.filter((c) => typeof c === "string" && c && !regionNames.has(c) && !aliases.has(c)))];
  for (let i = 0; i < wanted.length; i += REGION_FETCHES_IN_FLIGHT) {
    await Promise.all(wanted.slice(i, i + REGION_FETCHES_IN_FLIGHT).map((code) => {
      if (!regionFetches.has(code)) {
        regionFetches.set(code, fetchJSON("/api/v1/regions/" + encodeURIComponent(code))
          .then((r) => {
            if (r.code !== code) aliases.set(code, r.code);
            rememberRegion(r.code, r.name_uk, r.name_en);
          }).catch(() => null));
      }
      return regionFetches.get(code);
    }));
  }
}

// -- times ----------------------------------------------------------------
// Always Kyiv time, and said so: a screenshot read elsewhere must not be off by hours.

const ZONE = "Europe/Kyiv";

function locale() {
  return currentLang() === "uk" ? "uk-UA" : "en-GB";
}

function toDate(value) {
  return value instanceof Date ? value : typeof value === "number" ? new Date(value * 1000) : new Date(value);
}

function formatTime(value) {
  const date = toDate(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(locale(), { timeZone: ZONE, day: "numeric", month: "long", hour: "2-digit", minute: "2-digit" });
}

// "1 грудня 2026 р. о 15:20 за київським часом": a full, unambiguous moment.
function formatMoment(value) {
  const date = toDate(value);
  if (Number.isNaN(date.getTime())) return String(value);
  const day = date.toLocaleDateString(locale(), { timeZone: ZONE, day: "numeric", month: "long", year: "numeric" });
  return t("moment", { day, time: formatClock(date) });
}

function formatClock(value) {
  const date = toDate(value);
  return date.toLocaleTimeString(locale(), { timeZone: ZONE, hour: "2-digit", minute: "2-digit" });
}

function formatDate(value) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return formatMoment(date);
}

// "1 год 5 хв", "45 хв", "2 дн 3 год": short units need no agreement with the number.
function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const minutes = Math.max(0, Math.round(seconds / 60));
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const mins = minutes % 60;
  const parts = [];
  if (days) parts.push(days + " " + t("days"));
  if (hours) parts.push(hours + " " + t("hours"));
  if (mins || !parts.length) parts.push(mins + " " + t("minutes"));
  return parts.slice(0, 2).join(" ");
}

// How long something has lasted, for the status line: "щойно", "12 хв", "1 год 5 хв".
function elapsed(sinceSecs) {
  const secs = Date.now() / 1000 - sinceSecs;
  return secs < 60 ? t("just_now") : duration(secs);
}

// "триває 12 хв" (or "щойно" in its first minute).
function lasting(sinceSecs) {
  const secs = Date.now() / 1000 - sinceSecs;
  return secs < 60 ? t("just_now") : t("lasting") + " " + duration(secs);
}

function ago(seconds) {
  const secs = Date.now() / 1000 - seconds;
  return secs < 60 ? t("just_now") : t("ago", { duration: duration(secs) });
}

function pickInfo(infos) {
  const lang = currentLang();
  return infos.find((i) => (i.language || "").toLowerCase().startsWith(lang)) || infos[0] || {};
}

function pageParam(prefix) {
  const path = window.location.pathname;
  return path.startsWith(prefix) ? decodeURIComponent(path.slice(prefix.length)).replace(/\/$/, "") : "";
}

function showError(container, err) {
  container.replaceChildren(el("p", { class: "error", role: "alert", text: t("error_loading") + err.message }));
}

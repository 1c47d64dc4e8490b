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
  const names = regionNames.get(code);
  return names ? (names[currentLang()] || names.uk) : code;
}

// Names the map has not loaded (a hromada) are fetched once each, a few at a time: a
// nationwide alert may name every hromada, and thousands of requests at once exhaust the browser.
const REGION_FETCHES_IN_FLIGHT = 6;
async function ensureRegionNames(codes) {
  const wanted = codes.filter((c) => /^UA[0-9]{17}$/.test(c) && !regionNames.has(c));
  for (let i = 0; i < wanted.length; i += REGION_FETCHES_IN_FLIGHT) {
    await Promise.all(wanted.slice(i, i + REGION_FETCHES_IN_FLIGHT).map((code) => {
      if (!regionFetches.has(code)) {
        regionFetches.set(code, fetchJSON("/api/v1/regions/" + encodeURIComponent(code))
          .then((r) => rememberRegion(code, r.name_uk, r.name_en)).catch(() => null));
      }
      return regionFetches.get(code);
    }));
  }
}

// -- times ----------------------------------------------------------------

function formatTime(value) {
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(currentLang() === "uk" ? "uk-UA" : "en-GB",
    { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
}

function formatDate(value) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(currentLang() === "uk" ? "uk-UA" : "en-GB",
    { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
}

function ago(seconds) {
  const minutes = Math.floor(Math.max(0, Date.now() / 1000 - seconds) / 60);
  if (minutes < 1) return t("just_now");
  if (minutes < 120) return minutes + " " + t("minutes_ago");
  return Math.floor(minutes / 60) + " " + t("hours_ago");
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return minutes + " " + t("minutes");
  return (minutes / 60).toFixed(1) + " " + t("hours");
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

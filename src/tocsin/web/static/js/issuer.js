// Issuer pages: who may warn about what and where (jurisdiction drawn on the map), and their
// keys with fingerprints, so a reader can compare them with what the issuer publishes itself.
// /issuers lists every issuer in the signed registry; /issuers/{id} shows one.
"use strict";

const issuerView = { registry: null, kinds: {}, id: "", map: null, keyPrints: new Map() };

function issuerList() {
  const issuers = issuerView.registry.doc.registry.issuers;
  return el("ul", { class: "keys" }, ...issuers.map((i) => el("li", {},
    el("a", { href: "/issuers/" + encodeURIComponent(i.id), text: issuerName(issuerView.registry, i.id) }),
    " — " + i.kinds.map((k) => kindName(issuerView.kinds, k)).join(", "))));
}

function keyItem(key) {
  const parsed = TocsinVerify.parseVkey(key.vkey);
  return el("li", { "data-key-id": parsed.keyId },
    el("dl", {},
      el("dt", { text: t("key_id") }), el("dd", { class: "mono", text: parsed.keyId }),
      el("dt", { text: t("fingerprint") }), el("dd", { class: "mono", text: issuerView.keyPrints.get(key.vkey) || "…" }),
      el("dt", { text: "vkey" }), el("dd", { class: "mono", text: key.vkey }),
      el("dt", { text: t("valid_from") }), el("dd", { text: formatDate(key.not_before) }),
      el("dt", { text: t("valid_to") }), el("dd", { text: formatDate(key.expires) }),
      key.revoked_at ? el("dt", { class: "error", text: t("revoked") }) : null,
      key.revoked_at ? el("dd", { class: "error", text: formatDate(key.revoked_at) }) : null));
}

function renderIssuer(issuer) {
  document.getElementById("issuer-name").textContent = issuerName(issuerView.registry, issuer.id);
  document.title = issuerName(issuerView.registry, issuer.id) + " · Tocsin";
  const body = document.getElementById("issuer-body");
  const mapBox = document.getElementById("issuer-map") || el("div", { id: "issuer-map", role: "img" });
  mapBox.setAttribute("aria-label", t("where") + ": " + issuer.jurisdiction.map(regionName).join(", "));
  body.replaceChildren(
    el("p", { class: "mono", text: issuer.id }),
    el("section", {}, el("h3", { text: t("may_warn") }),
      el("ul", {}, ...issuer.kinds.map((k) => el("li", { text: kindName(issuerView.kinds, k) })))),
    el("section", {}, el("h3", { text: t("where") }), mapBox,
      el("ul", { id: "jurisdiction" }, ...issuer.jurisdiction.map((c) => el("li", {}, el("a", { href: "/regions/" + c, text: regionName(c) }))))),
    el("section", {}, el("h3", { text: t("keys") }), el("ul", { class: "keys" }, ...issuer.keys.map(keyItem))));
}

async function drawJurisdiction(issuer) {
  const wanted = new Set(issuer.jurisdiction);
  issuerView.map = L.map("issuer-map", { zoomSnap: 0.5, attributionControl: false });
  issuerView.map.fitBounds([[44.2, 22.0], [52.5, 40.3]]);
  const style = (f) => wanted.has(f.properties.code)
    ? { color: "#0b4fa8", weight: 1.5, fillColor: "#5c8fd6", fillOpacity: 0.75 }
    : { color: "#56635a", weight: 0.6, fillColor: "#dfe8dc", fillOpacity: 0.6 };
  const oblasts = await fetchJSON("/api/v1/map/layers/oblast.json");
  const found = new Set(oblasts.features.map((f) => f.properties.code).filter((c) => wanted.has(c)));
  const layers = [L.geoJSON(oblasts, { style })];
  if ([...wanted].some((c) => !found.has(c))) {
    const raions = await fetchJSON("/api/v1/map/layers/raion.json");
    const inRaions = raions.features.filter((f) => wanted.has(f.properties.code));
    if (inRaions.length) layers.push(L.geoJSON({ type: "FeatureCollection", features: inRaions }, { style }));
  }
  const group = L.featureGroup(layers).addTo(issuerView.map);
  const highlighted = [];
  group.eachLayer((g) => g.eachLayer((l) => { if (wanted.has(l.feature.properties.code)) highlighted.push(l); }));
  if (highlighted.length) issuerView.map.fitBounds(L.featureGroup(highlighted).getBounds(), { maxZoom: 9 });
}

// The registry's own signature (RFC 8785 canonical JSON as a signed note by its root key), so
// a reader can compare the root fingerprint with the one the operator publishes elsewhere.
async function registryPanel(registry) {
  const doc = registry.doc;
  const box = el("p", { id: "registry-check", class: "trust" });
  try {
    const note = TocsinVerify.canonicalJSON(doc.registry) + "\n\n" + doc.signatures.join("\n") + "\n";
    await TocsinVerify.openNote(note, doc.registry.root);
    const print = await TocsinVerify.fingerprint(doc.registry.root);
    box.dataset.verdict = "verified";
    box.textContent = t("registry_ok", { version: doc.registry.version, root: TocsinVerify.parseVkey(doc.registry.root).name, fingerprint: print });
  } catch (err) {
    box.dataset.verdict = "failed";
    box.setAttribute("role", "alert");
    box.textContent = t("registry_bad") + " " + err.message;
  }
  return box;
}

async function start() {
  issuerView.id = pageParam("/issuers/");
  const [registry, kinds] = await Promise.all([loadRegistry(), loadKinds()]);
  issuerView.registry = registry;
  issuerView.kinds = kinds;
  const body = document.getElementById("issuer-body");
  if (!issuerView.id) {
    const check = TocsinVerify.webCryptoAvailable() ? await registryPanel(registry) : null;
    body.replaceChildren(issuerList(), check || "");
    onLangChange(async () => body.replaceChildren(issuerList(), await registryPanel(registry)));
    document.body.dataset.ready = "true";
    return;
  }
  const issuer = registry.doc.registry.issuers.find((i) => i.id === issuerView.id);
  if (!issuer) {
    body.replaceChildren(el("p", { class: "error", text: t("not_found") }), issuerList());
    document.body.dataset.ready = "true";
    return;
  }
  await ensureRegionNames(issuer.jurisdiction);
  if (TocsinVerify.webCryptoAvailable()) {
    for (const key of issuer.keys) issuerView.keyPrints.set(key.vkey, await TocsinVerify.fingerprint(key.vkey));
  }
  renderIssuer(issuer);
  onLangChange(() => renderIssuer(issuer));
  await drawJurisdiction(issuer);
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", () => {
  start().catch((err) => showError(document.getElementById("issuer-body"), err));
});

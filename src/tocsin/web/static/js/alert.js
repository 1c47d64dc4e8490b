// The alert page: every CAP field, read from the exact signed bytes, and a trust panel whose
// verdict this browser computes itself (signature, hash, key validity, log inclusion).
// Any failed check turns the whole panel into a loud warning; nothing is shown as verified
// unless every check that can be made has passed.
"use strict";

const V = TocsinVerify;
const PROOF_RETRIES = 10;
const PROOF_RETRY_MS = 1500;

const page = { id: "", record: null, over: null, endedBy: null, capDoc: null, registry: null, kinds: {}, checks: [], verdict: "checking", issuerId: "", logIndex: null };

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new ApiFailure(url + ": " + response.status);
  return new Uint8Array(await response.arrayBuffer());
}

function utf8(bytes) {
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}

// -- checks ----------------------------------------------------------------

function setCheck(key, result, why) {
  const found = page.checks.find((c) => c.key === key);
  if (found) { found.result = result; found.why = why || ""; } else page.checks.push({ key, result, why: why || "" });
}

function renderTrust() {
  const issuerLabel = issuerName(page.registry, page.issuerId);
  const panel = document.getElementById("trust");
  panel.dataset.verdict = page.verdict;
  const verdict = document.getElementById("verdict");
  const over = page.over ? " " + t(page.over.reason === "not-actual" ? "verified_not_actual" : "verified_over") : "";
  if (page.over) panel.dataset.over = page.over.reason; else delete panel.dataset.over;
  if (page.verdict === "verified") verdict.textContent = t("verified", { issuer: issuerLabel, index: page.logIndex }) + over;
  else if (page.verdict === "verified-pending") verdict.textContent = t("verified_pending", { issuer: issuerLabel }) + over;
  else if (page.verdict === "not-found") verdict.textContent = t("alert_not_found");
  else if (page.verdict === "failed") verdict.textContent = t("failed");
  else if (page.verdict === "unsupported") verdict.textContent = t("no_webcrypto");
  else verdict.textContent = t("checking");
  verdict.setAttribute("role", page.verdict === "failed" || page.verdict === "unsupported" ? "alert" : "status");
  const list = document.getElementById("checks");
  list.replaceChildren(...page.checks.map((c) => el("li", { "data-check": c.key, "data-result": c.result },
    t("check_" + c.key) + ": " + t(c.result === "ok" ? "ok" : c.result === "fail" ? "fail" : "pending"),
    c.why ? el("span", { class: "why", text: c.why }) : null)));
}

function settle() {
  if (page.checks.some((c) => c.result === "fail")) page.verdict = "failed";
  else if (page.checks.some((c) => c.result === "pending")) page.verdict = page.checks.find((c) => c.key === "signature" && c.result === "ok") ? "verified-pending" : "checking";
  else page.verdict = "verified";
  renderTrust();
  document.body.dataset.verdict = page.verdict;
  // What the hub says about the alert stays visible, but marked as unconfirmed.
  // A failed check is said at the top too: on a phone the panel is below Where and What to do.
  document.getElementById("alarm").hidden = page.verdict !== "failed";
  for (const id of ["summary", "key-facts"]) {
    const node = document.getElementById(id);
    if (page.verdict === "failed") node.dataset.untrusted = "true";
    else delete node.dataset.untrusted;
  }
}

function keyValidAt(key, sentMs) {
  const nb = Date.parse(key.not_before);
  const exp = Date.parse(key.expires);
  if (!Number.isNaN(nb) && sentMs < nb) return "key not yet valid at " + new Date(sentMs).toISOString();
  if (!Number.isNaN(exp) && sentMs >= exp) return "key expired " + key.expires;
  if (key.revoked_at && Date.parse(key.revoked_at) <= sentMs) return "key revoked " + key.revoked_at;
  return null;
}

async function verifyAlert(capBytes, statementBytes) {
  const registry = page.registry;
  // 1. The statement names the issuer and key; the registry holds that key.
  let statementText;
  let fields;
  let issuerKey = null;
  try {
    statementText = utf8(statementBytes);
    const note = V.parseNote(statementText);
    fields = V.parseStatement(note.text);
    const issuer = registry.doc.registry.issuers.find((i) => i.id === fields.issuer);
    if (!issuer) throw new V.VerifyError("issuer " + fields.issuer + " is not in the registry");
    issuerKey = issuer.keys.find((k) => V.parseVkey(k.vkey).keyId === fields.key) || null;
    if (!issuerKey) throw new V.VerifyError("key " + fields.key + " is not one of " + issuer.id + "'s keys");
    page.issuerId = issuer.id;
    setCheck("registry", "ok");
  } catch (err) {
    setCheck("registry", "fail", err.message);
    return;
  }
  // 2. The issuer's Ed25519 signature over the statement.
  try {
    await V.openNote(statementText, issuerKey.vkey);
    setCheck("signature", "ok");
  } catch (err) {
    if (err instanceof V.VerifyError) setCheck("signature", "fail", err.message);
    else { page.verdict = "unsupported"; setCheck("signature", "fail", String(err && err.message || err)); }
  }
  // 3. The exact CAP bytes are the ones signed.
  const digest = V.hex(await V.sha256(capBytes));
  if (digest === fields.sha256) setCheck("hash", "ok");
  else setCheck("hash", "fail", "sha256 " + digest + " ≠ signed " + fields.sha256);
  // 4. What the CAP says matches what was signed (read only from bytes that are the signed ones).
  if (digest === fields.sha256) page.capDoc = parseCap(capBytes);
  const cap = page.capDoc;
  const capField = (name) => { const n = cap && cap.documentElement.getElementsByTagNameNS("*", name)[0]; return n ? n.textContent : null; };
  const mismatched = ["identifier", "sender", "sent"].filter((name) => capField(name) !== fields[name]);
  if (digest !== fields.sha256) setCheck("fields", "fail", "not read: the CAP bytes are not the signed ones");
  else if (!cap) setCheck("fields", "fail", "the CAP bytes are not well-formed XML");
  else if (mismatched.length) setCheck("fields", "fail", mismatched.join(", "));
  else setCheck("fields", "ok");
  // 5. The key was valid when the alert was sent.
  const why = keyValidAt(issuerKey, Date.parse(fields.sent));
  setCheck("key_valid", why ? "fail" : "ok", why);
  return fields;
}

async function verifyProof(capBytes, statementBytes) {
  setCheck("checkpoint", "pending");
  setCheck("inclusion", "pending");
  settle();
  // A new alert is delivered before the checkpoint covering it is signed (well under a second):
  // wait for the record to say "proven" instead of asking for a proof the hub cannot give yet.
  for (let attempt = 0; attempt < 40; attempt++) {  // 10 s at most
    let record = null;
    try { record = await fetchJSON("/api/v1/alerts/" + encodeURIComponent(page.id)); } catch (e) { break; }
    if (!record || !record.log || record.log.status !== "pending") break;
    await new Promise((r) => setTimeout(r, 250));
  }
  for (let attempt = 0; attempt < PROOF_RETRIES; attempt++) {
    const response = await fetch("/api/v1/alerts/" + encodeURIComponent(page.id) + "/proof");
    if (response.status === 503) { await new Promise((r) => setTimeout(r, PROOF_RETRY_MS)); continue; }
    if (!response.ok) { setCheck("inclusion", "fail", "proof: HTTP " + response.status); return; }
    const text = await response.text();
    try {
      const bundle = V.parseProofBundle(text);
      const logKey = await fetchJSON("/api/v1/log/key");
      const body = await V.openNote(bundle.checkpoint, logKey.vkey);
      const checkpoint = V.parseCheckpoint(body);
      if (checkpoint.origin !== logKey.origin) throw new V.VerifyError("checkpoint origin " + checkpoint.origin);
      setCheck("checkpoint", "ok");
      const leaf = await V.leafHash(V.alertEntry(statementBytes, capBytes));
      try {
        await V.verifyInclusion(bundle.index, checkpoint.size, leaf, bundle.proof, checkpoint.root);
        page.logIndex = bundle.index;
        setCheck("inclusion", "ok");
      } catch (err) {
        setCheck("inclusion", "fail", err.message);
      }
    } catch (err) {
      setCheck("checkpoint", "fail", err.message);
      setCheck("inclusion", "fail", err.message);
    }
    return;
  }
}

// -- CAP fields ----------------------------------------------------------------

function fieldList(node) {
  const dl = el("dl");
  for (const child of node.children) {
    dl.append(el("dt", { text: child.localName }));
    if (child.children.length) {
      dl.append(el("dd", {}, el("details", { open: true }, el("summary", { text: child.localName }), fieldList(child))));
    } else {
      dl.append(el("dd", { text: child.textContent }));
    }
  }
  return dl;
}

function areaCodes(info) {
  return (info.area || []).flatMap((a) => (a.geocode || []).map((g) => g.value));
}

// Regions by name (KATOTTG and ISO codes alike; for shapes, the regions the hub found them
// to reach). Never the CAP's areaDesc: it is the issuer's free text and could name another
// place than the one alerted (it stays visible, as signed, among all the CAP fields).
function areaNames(info) {
  const named = (page.record.areas || []).filter((a) => a && typeof a === "object" && (a.name_uk || a.name_en));
  if (named.length) return named.map((a) => a["name_" + currentLang()] || a.name_uk || a.name_en).join(", ");
  return (info.area || []).flatMap((a) => (a.geocode || []).map((g) => regionName(g.value))).join(", ");
}

function parseCap(capBytes) {
  try {
    const doc = new DOMParser().parseFromString(utf8(capBytes), "application/xml");
    return doc.getElementsByTagName("parsererror").length ? null : doc;
  } catch (e) {
    return null;
  }
}

function renderFields() {
  const fields = document.getElementById("fields");
  fields.replaceChildren(page.capDoc ? fieldList(page.capDoc.documentElement)
    : el("p", { class: "error", text: t("fields_unverified") }));
}

function renderSummary() {
  const record = page.record;
  const info = pickInfo(record.cap.info || []);
  // A Cancel carries no info (so no kind): say what it is in the page's language, and what
  // it cancels as the CAP names it (never CAP's English word "Cancel" as a headline).
  const cancel = record.msgType === "Cancel";
  document.body.dataset.msgType = record.msgType || "";
  document.getElementById("headline").textContent = info.headline || info.event || (cancel ? t("cancel_headline") : record.event);
  const where = areaNames(info);
  document.getElementById("where").hidden = !where;
  document.getElementById("where-text").textContent = where;
  const todo = document.getElementById("todo");
  todo.hidden = !info.instruction;
  document.getElementById("todo-text").textContent = info.instruction || "";
  if (info.language) document.getElementById("todo-text").setAttribute("lang", info.language);
  const dl = el("dl", {},
    el("dt", { text: t("kind") }), el("dd", { text: record.kinds.length ? record.kinds.map((k) => kindName(page.kinds, k)).join(", ")
      : cancel ? t("cancel_type") : "—" }),
    cancel ? el("dt", { text: t("cancels") }) : null,
    cancel ? el("dd", {}, ...(record.references || []).map((r) => el("div", { class: "mono", text: String(r).split(",")[1] || String(r) }))) : null,
    el("dt", { text: t("issuer") }), el("dd", {}, el("a", { href: "/issuers/" + record.issuer, text: issuerName(page.registry, record.issuer) })),
    el("dt", { text: t("since") }), el("dd", { text: formatMoment(record.sent) }),
    el("dt", { text: t("until") }), el("dd", { text: info.expires ? formatMoment(info.expires) : "—" }),
    el("dt", { text: t("severity") }), el("dd", { text: word(info.severity) }),
    el("dt", { text: t("certainty") }), el("dd", { text: word(info.certainty) }),
    el("dt", { text: t("urgency") }), el("dd", { text: word(info.urgency) }));
  document.getElementById("summary").replaceChildren(dl);
  renderOver();
}

// -- what is over -------------------------------------------------------------------
// From the hub's `over` when it gives one; otherwise from `active`, `ended`, `ended_by`
// and `expires` (an older hub). An alert that expires while the page is open says so then.

function byName(by) {
  if (!by) return null;
  if (typeof by === "object") return by["name_" + currentLang()] || by.name_uk || by.name_en || by.id || null;
  return issuerName(page.registry, by);
}

async function computeOver(record) {
  if (record.over && typeof record.over === "object" && record.over.reason) {
    const o = record.over;
    return { reason: o.reason, at: o.at_iso || o.at, by: o.by_issuer || null, ender: o.by || null };
  }
  const now = Date.now() / 1000;
  if (record.active === false || (record.expires && record.expires <= now)) {
    if (record.ended_by) {
      let ender = null;
      try { ender = await fetchJSON("/api/v1/alerts/" + encodeURIComponent(record.ended_by)); } catch (e) { ender = null; }
      return { reason: ender && ender.msgType === "Cancel" ? "cancelled" : "ended",
        at: record.ended || (ender && ender.sent), by: ender ? ender.issuer : null };
    }
    if (record.expires && record.expires <= now) return { reason: "expired", at: record.expires, by: null };
    if (record.ended) return { reason: "ended", at: record.ended, by: null };
  }
  return null;
}

function renderOver() {
  const box = document.getElementById("over");
  const over = page.over;
  box.hidden = !over;
  if (!over) { delete box.dataset.reason; box.replaceChildren(); return; }
  box.dataset.reason = over.reason;
  if (over.reason === "not-actual") {  // a Test, Exercise, System or Draft message: never a real alarm
    box.replaceChildren(el("strong", { text: t("not_actual_" + over.status) }), t("not_actual_note"));
    document.body.dataset.over = over.reason;
    return;
  }
  const when = over.at ? formatMoment(over.at) : "";
  const reason = ["cancelled", "expired", "updated"].includes(over.reason) ? over.reason : "ended";
  const by = byName(over.by);
  const newer = reason === "updated" && over.ender
    ? el("a", { href: "/alerts/" + encodeURIComponent(over.ender), text: t("over_updated_link") }) : null;
  box.replaceChildren(el("strong", { text: t("over_" + reason, { when }).replace(/\s+\./, ".") }),
    by ? t(reason === "cancelled" ? "over_cancelled_by" : reason === "updated" ? "over_updated_by" : "over_ended_by", { issuer: by }) + " " : "",
    t("over_note"), ...(newer ? [" ", newer] : []));
  document.body.dataset.over = over.reason;
}

async function updateOver() {
  const status = page.record.status || (page.record.cap && page.record.cap.status) || "Actual";
  page.over = status !== "Actual" ? { reason: "not-actual", status } : await computeOver(page.record);
  renderOver();
  renderTrust();
  const info = pickInfo(page.record.cap.info || []);
  const expires = page.record.expires || (info.expires ? Date.parse(info.expires) / 1000 : null);
  if (!page.over && expires) {
    const wait = Math.max(0, expires * 1000 - Date.now()) + 250;
    if (wait < 2 ** 31 - 1) setTimeout(() => { page.over = { reason: "expired", at: expires, by: null }; renderOver(); renderTrust(); }, wait);
  }
}

async function followRecord() {
  // An all-clear or a cancel may end the alert while the page is open: re-read it now and then.
  if (page.over) return;
  try {
    const fresh = await fetchJSON("/api/v1/alerts/" + encodeURIComponent(page.id));
    page.record = fresh;
    const over = await computeOver(fresh);
    if (over && (!page.over || page.over.reason !== "expired")) { page.over = over; renderOver(); renderTrust(); }
  } catch (e) { /* kept as it was; the next try may work */ }
}

async function start() {
  page.id = pageParam("/alerts/");
  const base = "/api/v1/alerts/" + encodeURIComponent(page.id);
  for (const [id, href] of [["link-cap", base + "/cap"], ["link-statement", base + "/statement"], ["link-proof", base + "/proof"]]) {
    document.getElementById(id).setAttribute("href", href);
  }
  const first = await fetch(base, { headers: { Accept: "application/json" } });
  if (first.status === 404) {
    // No such alert: say "not found", never "verification failed".
    page.verdict = "not-found";
    document.body.dataset.verdict = "not-found";
    document.getElementById("headline").textContent = t("alert_not_found");
    document.getElementById("trust").hidden = true;
    return;
  }
  const [record, registry, kinds] = await Promise.all([first.ok ? first.json() : fetchJSON(base), loadRegistry(), loadKinds()]);
  page.record = record;
  page.registry = registry;
  page.kinds = kinds;
  // The hub names the places (`areas`); only an older hub's codes are looked up one by one.
  if (!(record.areas || []).some((a) => a && typeof a === "object" && (a.name_uk || a.name_en))) {
    await ensureRegionNames((record.cap.info || []).flatMap(areaCodes));
  }
  renderSummary();
  await updateOver();
  setInterval(followRecord, 30000);
  const [capBytes, statementBytes] = await Promise.all([fetchBytes(base + "/cap"), fetchBytes(base + "/statement")]);
  if (!V.webCryptoAvailable()) {
    page.capDoc = parseCap(capBytes);  // shown, but nothing here says it is genuine
    renderFields();
    page.verdict = "unsupported";
    renderTrust();
    document.body.dataset.verdict = "unsupported";
    return;
  }
  await verifyAlert(capBytes, statementBytes);
  renderFields();
  settle();
  if (!page.checks.some((c) => c.result === "fail")) await verifyProof(capBytes, statementBytes);
  settle();
}

onLangChange(() => { if (page.record) { renderSummary(); renderTrust(); } });

document.addEventListener("DOMContentLoaded", () => {
  start().catch((err) => {
    setCheck("load", "fail", err.message);
    settle();
    showError(document.getElementById("summary"), err);
  });
});

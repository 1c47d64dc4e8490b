// The organisation dashboard: people, messages, live check-ins (SSE), settings and audit.
// Everything shown is set with textContent: nothing a person or admin typed becomes markup.
"use strict";
let session = null;
let live = null;
const rows = new Map();  // person id -> row data of the open check-in
const $ = (id) => document.getElementById(id);

function api(path) { return `/api/v1/orgs/${session.org.id}${path}`; }
async function call(method, path, body, type) {
  const headers = {"X-CSRF-Token": session.csrf};
  if (body !== undefined && type === undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(body); }
  if (type) headers["Content-Type"] = type;
  const r = await fetch(api(path), {method, headers, body, credentials: "same-origin"});
  const data = r.status === 204 ? {} : await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((data.error && (data.error.detail || data.error.message)) || r.statusText);
  return data;
}
function cell(tr, text, cls) { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td); return td; }
function fail(e) { $("error").textContent = e.message; }

async function loadPeople() {
  const data = await call("GET", "/people");
  $("people-count").textContent = String(data.people.length);
}
async function loadMessages() {
  const data = await call("GET", "/messages");
  const body = $("messages");
  body.replaceChildren();
  for (const m of data.messages) {
    const tr = document.createElement("tr");
    cell(tr, new Date(m.created * 1000).toLocaleString());
    cell(tr, m.texts.uk || m.texts.en || "");
    cell(tr, `${m.recipients} people${m.checkin ? ", check-in" : ""}${m.alert ? ", public alert" : ""}${m.closed ? ", closed" : ""}`);
    const td = cell(tr, "");
    if (m.checkin) {
      const b = document.createElement("button"); b.type = "button"; b.textContent = "Open"; b.dataset.message = m.id;
      b.className = "open-checkin"; b.addEventListener("click", () => openCheckin(m.id)); td.appendChild(b);
    }
    body.appendChild(tr);
  }
}
const ORDER = {need_help: 0, not_answered: 1, away: 2, safe: 3};
const LABEL = {need_help: "Need help", not_answered: "Not answered", away: "Away", safe: "Safe"};
function render(board) {
  for (const k of Object.keys(board.counts)) $(`count-${k}`).textContent = String(board.counts[k]);
  for (const p of board.people) rows.set(p.id, p);
  const sorted = [...rows.values()].sort((a, b) => ORDER[a.answer] - ORDER[b.answer] || a.name.localeCompare(b.name));
  const body = $("checkin-people");
  body.replaceChildren();
  for (const p of sorted.slice(0, 2000)) {
    const tr = document.createElement("tr"); tr.className = p.answer; tr.dataset.person = p.id;
    const followed = [p.reminded ? "reminded" : "", p.escalated ? "escalated" : ""].filter(Boolean).join(", ");
    cell(tr, p.name); cell(tr, LABEL[p.answer] + (followed ? ` (${followed})` : ""), "answer"); cell(tr, p.note || "");
    cell(tr, p.places.map((pl) => `${pl.label}: ${pl.name}`).join("; "));
    cell(tr, Object.entries(p.delivery).map(([c, s]) => `${c}: ${s}`).join(", "), "delivery");
    body.appendChild(tr);
  }
  $("checkin-title").textContent = (board.message.texts.uk || board.message.texts.en || "") + (board.message.closed ? " (closed)" : "");
}
function openCheckin(id) {
  if (live) live.close();
  rows.clear();
  $("checkin-view").classList.remove("hidden");
  $("checkin-view").dataset.message = id;
  live = new EventSource(api(`/messages/${id}/live`));
  live.addEventListener("snapshot", (e) => { rows.clear(); render(JSON.parse(e.data)); $("live-state").textContent = "live"; });
  live.addEventListener("update", (e) => render(JSON.parse(e.data)));
  live.onerror = () => { $("live-state").textContent = "reconnecting…"; };
}

async function start() {
  const r = await fetch("/api/v1/org/session", {credentials: "same-origin"});
  if (r.status === 401) { location.href = "/org/login"; return; }
  session = await r.json();
  $("org-name").textContent = session.org.name;
  $("who").textContent = `${session.admin.email} (${session.admin.role})`;
  $("export").href = api("/people.csv");
  $("audit-export").href = api("/audit.csv");
  const select = document.querySelector("#send select[name=template]");
  for (const [k, t] of Object.entries(session.templates)) {
    const o = document.createElement("option"); o.value = k; o.textContent = `${t.uk} / ${t.en}`; select.appendChild(o);
  }
  if (session.admin.role === "viewer") $("send-section").classList.add("hidden");
  if (session.admin.role === "owner") {
    $("owner").classList.remove("hidden");
    const f = $("settings");
    f.retention_days.value = session.org.retention_days || "";
    f.rule_enabled.checked = session.org.rule_enabled;
    f.rule_text.value = session.org.rule_text;
    f.reminder_minutes.value = session.org.reminder_minutes || "";
    f.escalate_minutes.value = session.org.escalate_minutes || "";
  }
  await Promise.all([loadPeople(), loadMessages()]);
}

$("send").addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = event.target;
  const which = f.which.value.split(",").map((s) => s.trim()).filter(Boolean);
  const audience = f.to.value === "everyone" ? {everyone: true} : {[f.to.value]: which};
  const body = {audience, checkin: f.checkin.checked};
  if (f.template.value) body.template = f.template.value;
  else body.texts = Object.fromEntries([["uk", f.uk.value], ["en", f.en.value]].filter(([, v]) => v.trim()));
  try {
    const sent = await call("POST", "/messages", body);
    $("send-result").textContent = `Sent to ${sent.recipients} people.`;
    await loadMessages();
    if (body.checkin) openCheckin(sent.id);
  } catch (e) { $("send-result").textContent = "Not sent: " + e.message; }
});
$("import").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = event.target.file.files[0];
  if (!file) return;
  try {
    const report = await call("POST", "/people.csv", await file.arrayBuffer(), "text/csv");
    const out = $("import-report");
    out.replaceChildren();
    const p = document.createElement("p");
    p.id = "import-summary";
    p.textContent = `${report.accepted} accepted (${report.created} new, ${report.updated} updated), ${report.rejected.length} rejected`;
    out.appendChild(p);
    const ul = document.createElement("ul");
    for (const r of report.rejected.slice(0, 500)) { const li = document.createElement("li"); li.textContent = `line ${r.line}: ${r.reason}`; ul.appendChild(li); }
    out.appendChild(ul);
    await loadPeople();
  } catch (e) { fail(e); }
});
$("settings").addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = event.target;
  try {
    await call("PUT", "/settings", {retention_days: f.retention_days.value ? Number(f.retention_days.value) : null,
                                     rule_enabled: f.rule_enabled.checked, rule_text: f.rule_text.value,
                                     reminder_minutes: f.reminder_minutes.value ? Number(f.reminder_minutes.value) : null,
                                     escalate_minutes: f.escalate_minutes.value ? Number(f.escalate_minutes.value) : null});
    $("settings-result").textContent = "Saved.";
  } catch (e) { $("settings-result").textContent = e.message; }
});
$("invite").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const made = await call("POST", "/admins", {email: event.target.email.value, role: event.target.role.value});
    $("invite-link").textContent = `Send this one-time link to the new admin: ${made.link}`;
  } catch (e) { $("invite-link").textContent = e.message; }
});
$("load-audit").addEventListener("click", async () => {
  try {
    const data = await call("GET", "/audit");
    $("audit-intact").textContent = data.intact ? "chain intact" : "CHAIN BROKEN: entries were altered";
    const body = $("audit");
    body.replaceChildren();
    for (const e of data.entries) {
      const tr = document.createElement("tr"); tr.className = "audit-entry";
      cell(tr, new Date(e.at * 1000).toLocaleString()); cell(tr, e.actor); cell(tr, e.action); cell(tr, JSON.stringify(e.detail));
      body.appendChild(tr);
    }
    for (const r of data.refusals) {
      const tr = document.createElement("tr"); tr.className = "refusal";
      cell(tr, new Date(r.at * 1000).toLocaleString()); cell(tr, r.actor); cell(tr, "refused", "error"); cell(tr, r.reason);
      body.appendChild(tr);
    }
  } catch (e) { fail(e); }
});
$("logout").addEventListener("click", async () => {
  await fetch("/api/v1/org/logout", {method: "POST", credentials: "same-origin"});
  location.href = "/org/login";
});
$("add-passkey").addEventListener("click", async () => {
  try {
    await createPasskey("/api/v1/org/passkeys/options", "/api/v1/org/passkeys/finish", {}, {"X-CSRF-Token": session.csrf});
    $("error").textContent = "Passkey added.";
  } catch (e) { fail(e); }
});
start().catch(fail);

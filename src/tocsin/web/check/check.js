// The check page. Submitted text is only ever placed with textContent: never as HTML.
"use strict";

const VERDICT_WORDS = {
  "authentic": { uk: "Справжнє", en: "Authentic" },
  "outdated": { uk: "Застаріле: вже не діє", en: "Outdated: no longer in force" },
  "altered": { uk: "Змінене", en: "Altered" },
  "not-issued": { uk: "Не публікувалося", en: "Not issued" },
  "denied": { uk: "Спростовано (фейк)", en: "Denied (fake)" },
  "unverifiable": { uk: "Неможливо перевірити", en: "Unverifiable" },
};
const OVER_WORDS = {
  "all-clear": { uk: "завершене відбоєм", en: "ended by the all-clear" },
  "cancelled": { uk: "скасоване джерелом", en: "cancelled by the issuer" },
  "updated": { uk: "замінене новішою версією", en: "replaced by a newer version" },
  "expired": { uk: "строк дії минув", en: "expired" },
  "ended-there": { uk: "для названого місця вже дано відбій", en: "ended for the place named" },
};
const MAX_SHARE_CHARS = 4000;  // longer texts are not put into the link
let lastBody = null;

function lang() {
  return document.querySelector("input[name=lang]:checked").value;
}

function el(tag, text) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function link(href, text) {
  const a = el("a", text);
  if (typeof href === "string" && href.startsWith("/")) a.href = href;  // same-origin paths only
  return a;
}

function translateStatic() {
  for (const node of document.querySelectorAll("[data-uk]")) {
    node.textContent = node.dataset[lang()];
  }
}

function render(body) {
  lastBody = body;
  const l = lang();
  translateStatic();
  document.getElementById("error").hidden = true;
  const verdict = document.getElementById("verdict");
  verdict.textContent = (VERDICT_WORDS[body.verdict] || { uk: body.verdict, en: body.verdict })[l];
  verdict.className = "verdict v-" + body.verdict;
  document.getElementById("summary").textContent = localiseTimes(body.summary[l], l);
  const over = document.getElementById("over");
  over.replaceChildren();
  over.hidden = !body.over;
  if (body.over) {
    const how = (OVER_WORDS[body.over.how] || { uk: body.over.how, en: body.over.how })[l];
    over.append(el("strong", l === "uk" ? "Більше не діє: " : "No longer in force: "), how);
    if (body.over.at_kyiv) {
      over.append(l === "uk" ? ", " + body.over.at_kyiv + " за київським часом"
                             : ", " + body.over.at_kyiv + " Kyiv time");
    }
    if (body.over.by_url) {
      over.append(" · ", link(body.over.by_url, l === "uk" ? "що його завершило" : "what ended it"));
    }
  }

  const alert = body.alert || body.denial;
  const box = document.getElementById("alert-box");
  const dl = document.getElementById("alert");
  dl.replaceChildren();
  box.hidden = !alert;
  if (alert) {
    for (const [k, v, field] of alertRows(alert, l)) {
      const dd = el("dd", v);
      if (field) dd.dataset.field = field;
      dl.append(el("dt", k), dd);
    }
    fillPlaceAndForce(alert, l);
    const links = el("dd");
    links.append(link(alert.links.page || "/alerts/" + encodeURIComponent(alert.id),
                      l === "uk" ? "сторінка попередження" : "alert page"), " · ",
                 link(alert.links.cap, "CAP"), " · ",
                 link(alert.links.statement, l === "uk" ? "підпис" : "signature"), " · ",
                 link(alert.links.proof, l === "uk" ? "доказ" : "proof"));
    dl.append(el("dt", l === "uk" ? "Посилання" : "Links"), links);
  }

  const diffs = document.getElementById("diffs");
  diffs.replaceChildren();
  document.getElementById("diff-box").hidden = !body.differences.length;
  for (const d of body.differences) {
    const tr = el("tr");
    tr.append(el("td", d["fact_" + l]), el("td", d.message), el("td", d.alert));
    diffs.append(tr);
  }

  const omitted = document.getElementById("omitted");
  omitted.replaceChildren(...(body.omitted || []).map((o) => el("li", o)));
  document.getElementById("omitted-box").hidden = !(body.omitted || []).length;

  const list = document.getElementById("list");
  list.replaceChildren();
  const items = (body.issuer_recent || []).concat(body.current_alerts || []);
  document.getElementById("list-box").hidden = !items.length;
  for (const item of items) {
    const where = (item.where || []).map((w) => w["name_" + l]).join(", ");
    const li = el("li", kyivTime(item.sent, l) + " · " + item.issuer + " · " + item.kinds.join(", ") +
                        (where ? " · " + where : "") + " · ");
    li.append(link(item.url, item.id));
    list.append(li);
  }
  const notes = document.getElementById("notes");
  notes.replaceChildren(...(body.notes || []).map((n) => el("li", localiseTimes(n, l))));
  document.getElementById("result").hidden = false;
}

// -- the facts of a matched alert, in the reader's words (layout helpers, not the verdict) --

const SIGNATURE_WORDS = {
  authentic: { uk: "дійсний — підписав саме цей оголошувач", en: "valid — signed by this issuer" },
  altered: { uk: "не збігається: текст змінено після підпису", en: "does not match: the text was changed after signing" },
  forged: { uk: "підроблений — не підписаний жодним ключем із реєстру", en: "forged — not signed by any key in the registry" },
  unauthorised: { uk: "оголошувач не мав права на таке попередження", en: "the issuer may not issue this warning" },
};

// "1 грудня 2026 р. о 15:20 за київським часом": Kyiv time, and said so.
function kyivTime(value, l) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value || "");
  const loc = l === "uk" ? "uk-UA" : "en-GB";
  const day = date.toLocaleDateString(loc, { timeZone: "Europe/Kyiv", day: "numeric", month: "long", year: "numeric" });
  const time = date.toLocaleTimeString(loc, { timeZone: "Europe/Kyiv", hour: "2-digit", minute: "2-digit" });
  return l === "uk" ? day + " о " + time + " за київським часом" : day + " at " + time + " Kyiv time";
}

function logWords(log, l) {
  if (!log || log.index === null || log.index === undefined) {
    return l === "uk" ? "ще не записано в журнал" : "not logged yet";
  }
  const n = log.index;  // the same number the alert page and `tocsin verify` give
  if (l === "uk") {
    return "записано в публічний журнал під номером " + n + (log.included ? "" : " (доказ запису ще готується)");
  }
  return "recorded in the public log as entry number " + n + (log.included ? "" : " (the proof is being prepared)");
}

// Times written into the hub's sentences in UTC ISO form read as Kyiv time.
function localiseTimes(text, l) {
  return String(text || "").replace(/\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)/g,
    (iso) => kyivTime(iso, l));
}

function alertRows(alert, l) {
  const sig = SIGNATURE_WORDS[alert.signature.status] || { uk: alert.signature.status, en: alert.signature.status };
  return [
    [l === "uk" ? "Джерело" : "Issuer", alert.issuer["name_" + l]],
    [l === "uk" ? "Подія" : "Event", alert.event],
    [l === "uk" ? "Де" : "Where", "…", "where"],
    [l === "uk" ? "Чи чинне" : "In force", alert.active ? (l === "uk" ? "чинне зараз" : "in force now") : "…", "in-force"],
    [l === "uk" ? "Надіслано" : "Sent", kyivTime(alert.sent, l)],
    [l === "uk" ? "Підпис" : "Signature", sig[l]],
    [l === "uk" ? "Журнал" : "Log", logWords(alert.log, l)],
  ];
}

// The region and whether it is still in force come from the alert itself.
async function fillPlaceAndForce(alert, l) {
  let record = null;
  try {
    const response = await fetch("/api/v1/alerts/" + encodeURIComponent(alert.id), { headers: { Accept: "application/json" } });
    if (response.ok) record = await response.json();
  } catch (e) { record = null; }
  const where = document.querySelector("#alert [data-field=where]");
  const force = document.querySelector("#alert [data-field=in-force]");
  if (!where || !force || lang() !== l) return;
  if (!record) { where.textContent = "—"; return; }
  let names = (record.areas || []).filter((a) => a && typeof a === "object").map((a) => a["name_" + l] || a.name_uk);
  if (!names.length) {
    // The places the issuer named (its CAP geocodes), not every sub-region they cover.
    const codes = [...new Set(((record.cap && record.cap.info) || []).flatMap((info) =>
      (info.area || []).flatMap((a) => (a.geocode || []).map((g) => g.value))))];
    names = await Promise.all(codes.slice(0, 10).map(async (code) => {
      try {
        const r = await fetch("/api/v1/regions/" + encodeURIComponent(code));
        const j = await r.json();
        return j["name_" + l] || code;
      } catch (e) { return code; }
    }));
  }
  where.textContent = names.join(", ") || "—";
  if (record.active) {
    force.textContent = l === "uk" ? "чинне зараз" : "in force now";
  } else {
    const reason = record.over && record.over.reason;
    const at = (record.over && (record.over.at_iso || record.over.at)) || (record.ended ? record.ended * 1000 : record.expires ? record.expires * 1000 : null);
    const when = at ? " — " + kyivTime(typeof at === "number" && at < 1e12 ? at * 1000 : at, l) : "";
    const word = reason === "cancelled" ? (l === "uk" ? "скасоване" : "cancelled")
      : reason === "expired" || (!record.ended_by && !reason) ? (l === "uk" ? "термін дії минув" : "expired")
      : (l === "uk" ? "завершене" : "ended");
    force.textContent = (l === "uk" ? "уже не чинне: " : "no longer in force: ") + word + when;
  }
}

function shareLink(text) {
  const share = document.getElementById("share");
  if (text.length > MAX_SHARE_CHARS) {
    share.textContent = l10n("Текст задовгий для посилання", "Text too long for a link");
    share.removeAttribute("href");
    return;
  }
  // The text travels in the fragment: it is never sent to the server with the page request.
  const href = "/check#q=" + encodeURIComponent(text);
  share.href = href;
  const full = location.origin + href;
  share.textContent = full.length > 70 ? full.slice(0, 67) + "…" : full;
  share.title = l10n("Повне посилання", "Full link");
}

// The page's language follows the one the reader chose anywhere on the site.
function syncLang() {
  if (typeof currentLang !== "function") return;
  const radio = document.querySelector("input[name=lang][value=" + currentLang() + "]");
  if (radio) radio.checked = true;
}

function showEmpty() {
  const error = document.getElementById("error");
  error.textContent = l10n("Вставте текст повідомлення, посилання або номер попередження — поле порожнє.",
    "Paste the text of a message, a link or an alert id — the box is empty.");
  error.hidden = false;
  document.getElementById("result").hidden = true;
  document.getElementById("text").focus();
}

function l10n(uk, en) { return lang() === "uk" ? uk : en; }

async function runCheck(text) {
  const error = document.getElementById("error");
  try {
    const response = await fetch("/api/v1/check", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text }),
    });
    const body = await response.json();
    if (!response.ok) {
      error.textContent = (body.error && (body.error.detail || body.error.message)) || response.status;
      error.hidden = false;
      document.getElementById("result").hidden = true;
      return;
    }
    render(body);
    shareLink(text);
  } catch (e) {
    error.textContent = l10n("Не вдалося зв'язатися з сервером.", "Could not reach the server.");
    error.hidden = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  translateStatic();
  const form = document.getElementById("check-form");
  const textarea = document.getElementById("text");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    // Invisible characters alone (zero-width spaces, joiners) are an empty box too.
    if (textarea.value.replace(/[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff\u202a-\u202e\u2066-\u2069\u3164]/g, "").trim()) {
      document.getElementById("error").hidden = true;
      runCheck(textarea.value);
    } else {
      showEmpty();
    }
  });
  syncLang();
  for (const radio of document.querySelectorAll("input[name=lang]")) {
    radio.addEventListener("change", () => {
      if (typeof setLang === "function") setLang(lang());  // the header and other pages follow
      translateStatic();
      if (lastBody) render(lastBody);
    });
  }
  if (typeof onLangChange === "function") {
    onLangChange(() => { syncLang(); translateStatic(); if (lastBody) render(lastBody); });
  }
  if (location.hash.startsWith("#q=")) {
    try {
      textarea.value = decodeURIComponent(location.hash.slice(3));
      if (textarea.value.trim()) runCheck(textarea.value);
    } catch (e) { /* a malformed link: leave the box empty */ }
  }
});

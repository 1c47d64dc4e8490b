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
  document.getElementById("summary").textContent = body.summary[l];
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
    const rows = [
      [l === "uk" ? "Джерело" : "Issuer", alert.issuer["name_" + l]],
      [l === "uk" ? "Надіслано" : "Sent", alert.sent],
      [l === "uk" ? "Подія" : "Event", alert.event],
      [l === "uk" ? "Підпис" : "Signature", alert.signature.status],
      [l === "uk" ? "Запис у журналі" : "Log entry",
        alert.log.index + " / " + alert.log.checkpoint_size],
    ];
    for (const [k, v] of rows) { dl.append(el("dt", k), el("dd", v)); }
    const links = el("dd");
    links.append(link(alert.links.page || alert.links.self, l === "uk" ? "попередження" : "alert"), " · ",
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
    const li = el("li", item.sent + " · " + item.issuer + " · " + item.kinds.join(", ") +
                        (where ? " · " + where : "") + " · ");
    li.append(link(item.url, item.id));
    list.append(li);
  }
  const notes = document.getElementById("notes");
  notes.replaceChildren(...(body.notes || []).map((n) => el("li", n)));
  document.getElementById("result").hidden = false;
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
  share.textContent = location.origin + href;
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
    if (textarea.value.trim()) runCheck(textarea.value);
  });
  for (const radio of document.querySelectorAll("input[name=lang]")) {
    radio.addEventListener("change", () => { translateStatic(); if (lastBody) render(lastBody); });
  }
  if (location.hash.startsWith("#q=")) {
    try {
      textarea.value = decodeURIComponent(location.hash.slice(3));
      if (textarea.value.trim()) runCheck(textarea.value);
    } catch (e) { /* a malformed link: leave the box empty */ }
  }
});

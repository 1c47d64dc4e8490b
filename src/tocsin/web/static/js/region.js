// The region page: what is active now, the last 30 days, and the region's normal baseline
// (alerts per day, typical duration) with today's count against it: context against panic.
// It follows the live stream for this region and re-reads when anything changes.
"use strict";

const region = { code: "", info: null, status: null, history: null, kinds: {}, registry: null };

function kindsText(kinds) {
  return kinds.map((k) => kindName(region.kinds, k)).join(", ");
}

function isThreat(a) {
  if (typeof a.class === "string") return a.class === "threat";
  const classes = (a.kinds || []).map((k) => region.kinds[k] && region.kinds[k].class);
  return !classes.includes("denial") && !classes.includes("all-clear") && classes.includes("threat");
}

function activeItem(a) {
  return el("li", { "data-coverage": a.coverage },
    el("a", { href: "/alerts/" + a.id, text: kindsText(a.kinds) + (a.event && a.event !== kindsText(a.kinds) ? " — " + a.event : "") }),
    " · " + issuerName(region.registry, a.issuer) + " · " + t("since") + " " + formatTime(a.sent) +
    " (" + lasting(Date.parse(a.sent) / 1000) + ")");
}

function render() {
  const names = region.info;
  document.getElementById("region-name").textContent = currentLang() === "en" ? names.name_en : names.name_uk;
  document.title = document.getElementById("region-name").textContent + " · Tocsin";
  // Only threats put a region under alert; notices are listed apart (an older hub counts
  // everything, so the coverage is recomputed here from the threats alone).
  const all = region.status.alerts || [];
  const threats = all.filter(isThreat);
  const notices = [...(region.status.notices || []), ...all.filter((a) => !isThreat(a) && !(a.kinds || []).some((k) => region.kinds[k] && region.kinds[k].class === "denial"))];
  const cov = threats.some((a) => a.coverage === "full") ? "full" : threats.length ? "partial" : "none";
  const coverage = document.getElementById("coverage");
  coverage.dataset.coverage = cov;
  coverage.textContent = t("coverage_" + cov);
  const active = document.getElementById("active");
  active.replaceChildren(...threats.map(activeItem));
  if (!threats.length) active.replaceChildren(el("li", { class: "muted", "data-coverage": "none", text: t("no_alerts") }));
  const noticeBox = document.getElementById("notices");
  noticeBox.hidden = notices.length === 0;
  document.getElementById("notice-items").replaceChildren(...notices.map((a) => el("li", { "data-coverage": "notice", class: "notice" },
    el("a", { href: "/alerts/" + a.id, text: a.event || kindsText(a.kinds) }),
    " · " + kindsText(a.kinds) + " · " + issuerName(region.registry, a.issuer) + " · " + t("since") + " " + formatTime(a.sent))));

  const h = region.history;
  document.getElementById("today").textContent = t("today_text", { count: h.today.count });
  document.getElementById("baseline").textContent = h.baseline.days_counted && (h.baseline.per_day > 0 || h.baseline.typical_duration_secs)
    ? t("baseline_text", { per_day: h.baseline.per_day.toLocaleString(currentLang() === "uk" ? "uk-UA" : "en-GB"), duration: duration(h.baseline.typical_duration_secs) })
    : t("baseline_none");
  const max = Math.max(1, h.baseline.per_day, ...h.days.map((d) => d.count));
  const bars = document.getElementById("bars");
  bars.setAttribute("aria-label", t("per_day_chart") + ": " + h.days.map((d) => d.date + " " + d.count).join(", "));
  const children = h.days.map((d) => {
    const bar = el("div", { class: "bar-day" + (d.date === h.today.date ? " today" : ""), title: d.date + ": " + d.count });
    bar.style.height = (100 * d.count / max) + "%";
    return bar;
  });
  const line = el("div", { class: "baseline", title: t("baseline") });
  line.style.bottom = (100 * h.baseline.per_day / max) + "%";
  bars.replaceChildren(...children, line);
  const timeline = document.getElementById("timeline");
  timeline.replaceChildren(...h.timeline.slice().reverse().map((s) => el("li", { "data-coverage": s.coverage || "ended" },
    el("a", { href: "/alerts/" + s.id, text: kindsText(s.kinds) }),
    " · " + formatTime(s.start) + " – " + (s.ongoing ? t("timeline_ongoing", { duration: duration(s.end - s.start) })
      : formatTime(s.end) + " (" + duration(s.end - s.start) + ")") + " · " + issuerName(region.registry, s.issuer) +
      (s.over && s.over.reason ? " · " + t("over_word_" + s.over.reason) : ""))));
}

async function load() {
  const base = "/api/v1/regions/" + encodeURIComponent(region.code);
  const [info, status, history] = await Promise.all([fetchJSON(base), fetchJSON(base + "/status"), fetchJSON(base + "/history")]);
  region.info = info;
  region.status = status;
  region.history = history;
  render();
  document.body.dataset.ready = "true";
}

async function start() {
  region.code = pageParam("/regions/");
  const [kinds, registry] = await Promise.all([loadKinds(), loadRegistry().catch(() => null)]);
  region.kinds = kinds;
  region.registry = registry;
  await load();
  // Resume from the event id the history was read at: nothing between the two is missed.
  const source = new EventSource("/api/v1/stream?regions=" + encodeURIComponent(region.code) +
    "&since=" + encodeURIComponent(region.history.event_id));
  source.addEventListener("open", () => { document.body.dataset.live = "true"; });
  for (const type of ["alert", "denial", "notice", "update"]) source.addEventListener(type, () => load().catch(() => null));
}

onLangChange(() => { if (region.history) render(); });

document.addEventListener("DOMContentLoaded", () => {
  start().catch((err) => showError(document.getElementById("active"), err));
});

// Ukrainian and English strings, the reader's choice remembered in localStorage.
// Every page loads this first; elements with data-i18n="key" get their text from here.
"use strict";

const STRINGS = {
  uk: {
    nav_label: "Розділи",
    nav_map: "Мапа",
    nav_check: "Перевірити повідомлення",
    nav_issuers: "Хто оголошує",
    nav_about: "Про сервіс",
    error_title: "Помилка",
    moment: "{day} о {time} за київським часом",
    legend_notice: "Повідомлення (не тривога)",
    notice_short: "повідомлення",
    new_notice: "Нове повідомлення (не тривога)",
    notices: "Повідомлення (не тривоги)",
    denials: "Спростування фейків",
    denials_note: "Спростування стосуються повідомлень, а не місць: вони нічого не фарбують на мапі.",
    my_place: "Моє місце",
    place_unset: "Оберіть своє місце, щоб бачити його стан першим:",
    place_clear: "тривоги немає",
    place_partly: "в частині території",
    place_label: "Місто, громада, район чи область",
    place_search: "Знайти",
    place_locate: "Де я?",
    place_change: "Змінити місце",
    place_empty: "Введіть назву місця.",
    place_none: "Такого місця не знайдено. Спробуйте іншу назву.",
    place_no_geo: "Цей браузер не може визначити місцезнаходження.",
    place_locating: "Визначаємо місцезнаходження…",
    place_geo_denied: "Місцезнаходження недоступне. Оберіть місце за назвою.",
    place_outside: "Це місце поза регіонами цього сервісу.",
    over_ended: "Завершено {when}.",
    over_ended_by: "Хто завершив: {issuer}.",
    over_cancelled_by: "Хто скасував: {issuer}.",
    over_cancelled: "Скасовано {when}.",
    over_expired: "Термін дії минув {when}.",
    over_note: "Це попередження вже не чинне.",
    over_word_ended: "завершено",
    over_word_cancelled: "скасовано",
    over_word_expired: "термін дії минув",
    alert_not_found: "Тривогу з таким номером не знайдено.",
    region_notices: "Повідомлення (не тривоги)",
    timeline_ongoing: "триває {duration}",
    title: "Tocsin — тривоги наживо",
    skip: "Перейти до списку тривог",
    lang_switch: "English",
    lang_switch_label: "Switch to English",
    map_label: "Мапа тривог за областями, районами й громадами",
    active_alerts: "Активні тривоги",
    no_alerts: "Зараз тривог немає.",
    legend: "Позначення",
    legend_full: "Під тривогою (уся територія)",
    legend_partial: "Частково під тривогою",
    legend_clear: "Тривоги немає",
    live: "наживо",
    connecting: "Підключення…",
    reconnecting: "Перепідключення…",
    stale: "Може бути застарілим — останнє оновлення {time}",
    issuer: "Хто оголосив",
    kind: "Тип",
    areas: "Де",
    since: "Відколи",
    until: "До",
    certainty: "Ймовірність",
    severity: "Серйозність",
    urgency: "Терміновість",
    instruction: "Що робити",
    details: "Подробиці й перевірка",
    new_alert: "Нова тривога",
    alert_ended: "Відбій",
    updated: "Оновлено",
    ago: "{duration} тому",
    lasting: "триває",
    just_now: "щойно",
    alert_page: "Попередження",
    cap_fields: "Усі поля CAP",
    fields_unverified: "Поля не показано: байти CAP не ті, що підписані.",
    trust: "Перевірка в браузері",
    checking: "Перевіряємо підпис і журнал…",
    verified: "Перевірено. Джерело: {issuer}; запис № {index} у журналі.",
    verified_pending: "Підпис перевірено. Джерело: {issuer}. Доказ запису в журнал ще готується.",
    verified_over: "Це попередження справжнє, але вже не чинне.",
    failed: "УВАГА: перевірка не пройшла. Не довіряйте цьому повідомленню.",
    no_webcrypto: "Цей браузер не може перевірити підпис (потрібні HTTPS і WebCrypto Ed25519).",
    check_load: "Усі потрібні дані завантажено",
    check_registry: "Ключ оголошувача є в реєстрі",
    check_signature: "Підпис Ed25519 оголошувача правильний",
    check_hash: "SHA-256 точних байтів CAP збігається з підписаним",
    check_fields: "Ідентифікатор, відправник і час збігаються з підписаними",
    check_key_valid: "Ключ був чинним у час надсилання",
    check_checkpoint: "Контрольна точка журналу підписана ключем журналу",
    check_inclusion: "Доказ включення сходиться до кореня журналу",
    pending: "очікує",
    ok: "так",
    fail: "НІ",
    signed_cap: "Точний підписаний CAP",
    statement: "Підписана заява",
    proof_bundle: "Доказ включення (tlog-proof)",
    back_to_map: "← До мапи",
    region_page: "Регіон",
    coverage_full: "Уся територія під тривогою",
    coverage_partial: "Частина території під тривогою",
    coverage_none: "Тривоги немає",
    history: "Останні 30 днів",
    baseline: "Звичайний рівень",
    baseline_text: "Зазвичай тривог на день: {per_day}; типова тривалість — {duration}.",
    baseline_none: "Ще замало даних для звичайного рівня.",
    today_text: "Сьогодні: {count}.",
    per_day_chart: "Тривоги за днями",
    timeline: "Хронологія",
    ongoing: "триває",
    minutes: "хв",
    hours: "год",
    days: "дн",
    issuers: "Хто може оголошувати тривоги",
    issuer_page: "Оголошувач",
    may_warn: "Може оголошувати",
    where: "Де (юрисдикція)",
    keys: "Ключі",
    fingerprint: "Відбиток SHA-256",
    key_id: "Ідентифікатор ключа",
    valid_from: "Чинний з",
    valid_to: "Чинний до",
    revoked: "Відкликано",
    not_found: "Не знайдено.",
    error_loading: "Не вдалося завантажити: ",
    open_region: "Відкрити регіон",
    all_issuers: "Усі оголошувачі",
    registry_ok: "Реєстр версії {version} підписаний кореневим ключем {root}; підпис перевірено в браузері. Відбиток кореня SHA-256: {fingerprint}",
    registry_bad: "УВАГА: підпис реєстру не пройшов перевірку.",
    words: {
      Extreme: "надзвичайна", Severe: "висока", Moderate: "помірна", Minor: "незначна",
      // Severity, likelihood (CAP certainty) and urgency are all feminine nouns here: the
      // values agree with them ("Ймовірність: висока", never "Ймовірність: ймовірно").
      Unknown: "невідома", Observed: "подія підтверджена", Likely: "висока", Possible: "можлива",
      Unlikely: "низька", Immediate: "негайна", Expected: "протягом години",
      Future: "найближчим часом", Past: "дії вже не потрібні",
    },
  },
  en: {
    nav_label: "Sections",
    nav_map: "Map",
    nav_check: "Check a message",
    nav_issuers: "Who issues",
    nav_about: "About",
    error_title: "Error",
    moment: "{day} at {time} Kyiv time",
    legend_notice: "Notice (not an alert)",
    notice_short: "notice",
    new_notice: "New notice (not an alert)",
    notices: "Notices (not alerts)",
    denials: "Denials of false messages",
    denials_note: "Denials are about messages, not places: they colour nothing on the map.",
    my_place: "My place",
    place_unset: "Choose your place to see its state first:",
    place_clear: "no alert",
    place_partly: "in part of the area",
    place_label: "City, hromada, raion or oblast",
    place_search: "Find",
    place_locate: "Locate me",
    place_change: "Change place",
    place_empty: "Type the name of a place.",
    place_none: "No place has this name. Try another.",
    place_no_geo: "This browser cannot tell its location.",
    place_locating: "Finding your location…",
    place_geo_denied: "Location is not available. Choose a place by name.",
    place_outside: "This place is outside the regions of this service.",
    over_ended: "Ended {when}.",
    over_ended_by: "Ended by: {issuer}.",
    over_cancelled_by: "Cancelled by: {issuer}.",
    over_cancelled: "Cancelled {when}.",
    over_expired: "Expired {when}.",
    over_note: "This warning is no longer in force.",
    over_word_ended: "ended",
    over_word_cancelled: "cancelled",
    over_word_expired: "expired",
    alert_not_found: "No alert has this id.",
    region_notices: "Notices (not alerts)",
    timeline_ongoing: "ongoing, {duration}",
    title: "Tocsin — live alerts",
    skip: "Skip to the alert list",
    lang_switch: "Українська",
    lang_switch_label: "Перемкнути на українську",
    map_label: "Map of alerts by oblast, raion and hromada",
    active_alerts: "Active alerts",
    no_alerts: "No alerts right now.",
    legend: "Legend",
    legend_full: "Under alert (whole area)",
    legend_partial: "Partly under alert",
    legend_clear: "Clear",
    live: "live",
    connecting: "Connecting…",
    reconnecting: "Reconnecting…",
    stale: "May be out of date — last update {time}",
    issuer: "Issued by",
    kind: "Kind",
    areas: "Where",
    since: "Since",
    until: "Until",
    certainty: "Likelihood",
    severity: "Severity",
    urgency: "Urgency",
    instruction: "What to do",
    details: "Details and verification",
    new_alert: "New alert",
    alert_ended: "All clear",
    updated: "Updated",
    ago: "{duration} ago",
    lasting: "for",
    just_now: "just now",
    alert_page: "Warning",
    cap_fields: "Every CAP field",
    fields_unverified: "Fields not shown: the CAP bytes are not the signed ones.",
    trust: "Checked in your browser",
    checking: "Checking the signature and the log…",
    verified: "Verified: issued by {issuer}, logged at entry {index}.",
    verified_pending: "Signature verified: issued by {issuer}. The log proof is not ready yet.",
    verified_over: "This warning is genuine, but no longer in force.",
    failed: "WARNING: verification failed. Do not trust this message.",
    no_webcrypto: "This browser cannot check signatures (needs HTTPS and WebCrypto Ed25519).",
    check_load: "Everything needed was fetched",
    check_registry: "The issuer's key is in the registry",
    check_signature: "The issuer's Ed25519 signature is valid",
    check_hash: "SHA-256 of the exact CAP bytes matches the signed one",
    check_fields: "Identifier, sender and sent time match the signed ones",
    check_key_valid: "The key was valid when the alert was sent",
    check_checkpoint: "The log checkpoint is signed by the log's key",
    check_inclusion: "The inclusion proof leads to the log's root",
    pending: "pending",
    ok: "yes",
    fail: "NO",
    signed_cap: "The exact signed CAP",
    statement: "Signed statement",
    proof_bundle: "Inclusion proof (tlog-proof)",
    back_to_map: "← Back to the map",
    region_page: "Region",
    coverage_full: "The whole area is under alert",
    coverage_partial: "Part of the area is under alert",
    coverage_none: "No alert",
    history: "Last 30 days",
    baseline: "Normal baseline",
    baseline_text: "Usually {per_day} alerts a day; typical duration {duration}.",
    baseline_none: "Not enough history yet for a baseline.",
    today_text: "Today: {count}.",
    per_day_chart: "Alerts per day",
    timeline: "Timeline",
    ongoing: "ongoing",
    minutes: "min",
    hours: "h",
    days: "d",
    issuers: "Who may issue warnings",
    issuer_page: "Issuer",
    may_warn: "May warn about",
    where: "Where (jurisdiction)",
    keys: "Keys",
    fingerprint: "SHA-256 fingerprint",
    key_id: "Key id",
    valid_from: "Valid from",
    valid_to: "Valid until",
    revoked: "Revoked",
    not_found: "Not found.",
    error_loading: "Could not load: ",
    open_region: "Open the region",
    all_issuers: "All issuers",
    registry_ok: "Registry version {version} is signed by the root key {root}; the signature was checked in this browser. Root SHA-256 fingerprint: {fingerprint}",
    registry_bad: "WARNING: the registry's signature does not verify.",
    words: {
      Extreme: "extreme", Severe: "severe", Moderate: "moderate", Minor: "minor",
      Unknown: "unknown", Observed: "observed", Likely: "likely", Possible: "possible",
      Unlikely: "unlikely", Immediate: "immediate", Expected: "expected",
      Future: "future", Past: "past",
    },
  },
};

const LANG_KEY = "tocsin.lang";

function currentLang() {
  let stored = null;
  try { stored = window.localStorage.getItem(LANG_KEY); } catch (e) { stored = null; }
  return stored === "en" || stored === "uk" ? stored : "uk";
}

function t(key, vars) {
  const table = STRINGS[currentLang()];
  let text = key in table ? table[key] : key;
  if (vars) {
    for (const [name, value] of Object.entries(vars)) text = text.split("{" + name + "}").join(String(value));
  }
  return text;
}

function word(value) {
  if (value === null || value === undefined) return "—";
  const words = STRINGS[currentLang()].words;
  return words[value] || String(value);
}

const langListeners = [];

function onLangChange(fn) { langListeners.push(fn); }

function applyI18n() {
  document.documentElement.lang = currentLang();
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  // Static text written in both languages in the HTML itself (about, error pages).
  for (const node of document.querySelectorAll("[data-uk][data-en]")) node.textContent = node.dataset[currentLang()];
  for (const node of document.querySelectorAll("[data-i18n-label]")) node.setAttribute("aria-label", t(node.dataset.i18nLabel));
  const button = document.getElementById("lang-switch");
  if (button) {
    button.textContent = t("lang_switch");
    button.setAttribute("aria-label", t("lang_switch_label"));
    button.setAttribute("lang", currentLang() === "uk" ? "en" : "uk");
  }
  if (document.body.dataset.titleKey) document.title = t(document.body.dataset.titleKey) + " · Tocsin";
}

function setLang(lang) {
  try { window.localStorage.setItem(LANG_KEY, lang); } catch (e) { /* private mode: not remembered */ }
  applyI18n();
  for (const fn of langListeners) fn(lang);
}

document.addEventListener("DOMContentLoaded", () => {
  applyI18n();
  const button = document.getElementById("lang-switch");
  if (button) button.addEventListener("click", () => setLang(currentLang() === "uk" ? "en" : "uk"));
});

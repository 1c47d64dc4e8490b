// WebAuthn ceremonies with the hub: the browser's JSON forms of options and credentials.
"use strict";
async function postJSON(url, body, headers) {
  const r = await fetch(url, {method: "POST", credentials: "same-origin",
    headers: Object.assign({"Content-Type": "application/json"}, headers || {}),
    body: JSON.stringify(body || {})});
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((data.error && (data.error.detail || data.error.message)) || r.statusText);
  return data;
}
async function createPasskey(optionsUrl, finishUrl, extra, headers) {
  const start = await postJSON(optionsUrl, extra, headers);
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(start.options);
  const credential = await navigator.credentials.create({publicKey});
  return postJSON(finishUrl, Object.assign({ceremony: start.ceremony, credential: credential.toJSON()}, extra),
                  headers);
}
async function usePasskey() {
  const start = await postJSON("/api/v1/org/login/options");
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(start.options);
  const credential = await navigator.credentials.get({publicKey});
  return postJSON("/api/v1/org/login/finish", {ceremony: start.ceremony, credential: credential.toJSON()});
}

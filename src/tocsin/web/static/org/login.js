"use strict";
const error = document.getElementById("error");
document.getElementById("login").addEventListener("click", async () => {
  error.textContent = "";
  try { await usePasskey(); location.href = "/org"; }
  catch (e) { error.textContent = "Sign-in failed: " + e.message; }
});
document.getElementById("recover").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  error.textContent = "";
  try {
    await postJSON("/api/v1/org/recover", {org: form.get("org"), email: form.get("email"), code: form.get("code")});
    location.href = "/org";
  } catch (e) { error.textContent = "Recovery failed: " + e.message; }
});

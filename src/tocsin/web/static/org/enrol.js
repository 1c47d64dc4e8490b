"use strict";
document.getElementById("create").addEventListener("click", async () => {
  const token = location.pathname.split("/").pop();
  const error = document.getElementById("error");
  error.textContent = "";
  try {
    const done = await createPasskey("/api/v1/org/enrol/options", "/api/v1/org/enrol/finish", {token});
    document.getElementById("codes").textContent = done.recovery_codes.join("\n");
    document.getElementById("start").classList.add("hidden");
    document.getElementById("done").classList.remove("hidden");
  } catch (e) {
    error.textContent = "Enrolment failed: " + e.message;
  }
});

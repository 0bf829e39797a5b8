// "Mon espace": the e-mail preferences of the signed-in account, kept by the notify service
// (GET|PUT /api/v1/notifications/preferences with the access token: the preferences of the address
// notify holds for the account's organisation, school, or pupil's guardian). Per category:
// immediate, a daily or weekly digest, or off; and reminders on or off. Account e-mails (sign-in
// links, welcome, confirmations) always go.

import { HttpError, NETWORK_ERROR, messageOf } from "./http.js";
import { $ } from "./dom.js";
import { SessionEnded, authJson } from "./session.js";
import { busy, setStatus } from "./forms.js";

const URL = "/api/v1/notifications/preferences";
const CATEGORIES = { proposals: "pref-propositions", requests: "pref-demandes" };

function radios(name) {
  return [...document.querySelectorAll(`input[type="radio"][name="${name}"]`)];
}

function show(preferences) {
  for (const [category, name] of Object.entries(CATEGORIES)) {
    const value = preferences[category] || "immediate";
    for (const radio of radios(name)) radio.checked = radio.value === value;
  }
  $("pref-rappels").checked = preferences.reminders !== "off";
}

function chosen() {
  const body = {};
  for (const [category, name] of Object.entries(CATEGORIES)) {
    const fieldset = $(`${name}-groupe`);
    if (fieldset.hidden) continue;
    const radio = radios(name).find((item) => item.checked);
    if (radio) body[category] = radio.value;
  }
  body.reminders = $("pref-rappels").checked ? "on" : "off";
  return body;
}

/** Show the preferences section for `me` (its role decides which categories make sense). */
export async function showPreferences(me, signedOut) {
  const section = $("espace-preferences");
  const form = $("formulaire-preferences");
  const status = $("preferences-statut");
  const save = $("bouton-preferences");
  // New requests of pupils are written to their school's referent only.
  $("pref-demandes-groupe").hidden = me.role !== "school_referent";
  $("pref-rappels-aide").textContent = me.role === "school_referent"
    ? "Un rappel quand la mise en relation d'un élève attend encore votre confirmation."
    : "Un rappel quand une proposition attend encore votre réponse.";
  section.hidden = false;
  setStatus(status, "Chargement de vos préférences…");
  try {
    const answer = await authJson(URL);
    if (!answer.ok || !answer.data) {
      setStatus(status, messageOf(answer), answer.status === 404 ? undefined : "error");
      return;
    }
    show(answer.data);
    setStatus(status, "");
    form.hidden = false;
  } catch (error) {
    if (error instanceof SessionEnded) signedOut(error.message);
    else setStatus(status, error instanceof HttpError ? error.message : NETWORK_ERROR, "error");
    return;
  }

  let sending = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (sending) return;
    sending = true;
    busy(save, true);
    setStatus(status, "Enregistrement…");
    try {
      const answer = await authJson(URL, { method: "PUT", body: chosen() });
      if (answer.ok && answer.data) {
        show(answer.data);
        setStatus(status, "Vos préférences sont enregistrées.", "success");
      } else {
        setStatus(status, messageOf(answer), "error");
      }
    } catch (error) {
      if (error instanceof SessionEnded) signedOut(error.message);
      else setStatus(status, error instanceof HttpError ? error.message : NETWORK_ERROR, "error");
    } finally {
      sending = false;
      busy(save, false);
    }
  });
}

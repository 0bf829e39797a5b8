// "Mon espace": an account whose address is the contact of several actors (an organisation and a
// school, a guardian of two pupils...) has several memberships; its access token acts for one of
// them. Choosing another asks the accounts service for a token of that membership with the
// session's refresh token (POST /api/v1/auth/token {grant_type: refresh_token, actor_id}: the
// refresh token rotates, the session keeps its family), then the page is shown again for it.
//
// The choice is a select and a button, not a select that acts on change (WCAG 3.2.2: choosing an
// option must not change the context by itself).

import { label } from "./config.js";
import { HttpError, NETWORK_ERROR, messageOf, requestJson } from "./http.js";
import { $, element } from "./dom.js";
import { SESSION_ENDED, clearSession, readSession, saveSession } from "./session.js";
import { busy, setStatus } from "./forms.js";

const NOTICE_KEY = "vitawin.membership-notice";

export function membershipName(config, membership) {
  const role = label(config, "roles", membership.role);
  const name = membership.display_name || role || membership.actor_id;
  return role && name !== role ? `${name} (${role})` : name;
}

function storage() {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

/** The select of memberships (shown when there are two or more), and what it does. */
export function initMembershipSwitch(me, config, signedOut) {
  const memberships = Array.isArray(me.memberships) ? me.memberships : [];
  const status = $("rattachement-statut");
  const store = storage();
  const notice = store && store.getItem(NOTICE_KEY);
  if (notice) {
    store.removeItem(NOTICE_KEY);
    setStatus(status, notice, "success");
  }
  if (memberships.length < 2 || !me.actor_id) return;
  const select = $("choix-rattachement");
  const form = $("formulaire-rattachement");
  const button = $("bouton-rattachement");
  select.replaceChildren(...memberships.map((membership) => {
    const option = element("option", "", membershipName(config, membership));
    option.value = membership.actor_id;
    option.selected = membership.actor_id === me.actor_id;
    return option;
  }));
  $("rattachement").hidden = false;

  let sending = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (sending) return;
    const chosen = memberships.find((membership) => membership.actor_id === select.value);
    if (!chosen) return;
    const name = membershipName(config, chosen);
    if (chosen.actor_id === me.actor_id) {
      setStatus(status, `Vous agissez déjà pour ${name}.`);
      return;
    }
    const session = readSession();
    if (!session) {
      signedOut(SESSION_ENDED);
      return;
    }
    sending = true;
    busy(button, true);
    setStatus(status, "Changement en cours…");
    try {
      const answer = await requestJson("/api/v1/auth/token", {
        method: "POST",
        body: { grant_type: "refresh_token", refresh_token: session.refresh_token, actor_id: chosen.actor_id },
      });
      if (answer.ok && answer.data && answer.data.access_token) {
        saveSession(answer.data, session);
        if (store) store.setItem(NOTICE_KEY, `Vous agissez maintenant pour ${name}.`);
        window.location.reload();
        return;
      }
      if (answer.status === 400 && answer.data && answer.data.error === "invalid_grant") {
        clearSession();
        signedOut(messageOf(answer, SESSION_ENDED));
        return;
      }
      setStatus(status, messageOf(answer), "error");
    } catch (error) {
      setStatus(status, error instanceof HttpError ? error.message : NETWORK_ERROR, "error");
    } finally {
      sending = false;
      busy(button, false);
    }
  });
}

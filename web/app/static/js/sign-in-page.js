// The sign-in page (/connexion). Two things:
// - the form asks for a sign-in link (POST /api/v1/auth/sign-in: always the same answer, whether
//   an account has the address or not);
// - opened from the emailed link (/connexion#jeton=<token>), the page shows a "Me connecter"
//   button and does nothing else until it is pressed (mail scanners open links: opening must not
//   spend the one-use token). Pressed, it exchanges the token (grant magic_link), keeps the session
//   in this tab (session.js says why sessionStorage), removes the token from the address bar and
//   opens /mon-espace.

import { NETWORK_ERROR, messageOf, requestJson } from "./http.js";
import { $ } from "./dom.js";
import { initLayout } from "./layout.js";
import { readSession, saveSession } from "./session.js";

const MSG_EMPTY = "Indiquez votre adresse e-mail.";
const MSG_INVALID = "Adresse e-mail invalide : elle doit avoir la forme nom@exemple.fr.";
const MSG_SENDING = "Envoi de votre demande…";
const MSG_SENT = "Si un compte existe pour cette adresse, un lien de connexion vient d'y être envoyé.";
const MSG_SIGNING_IN = "Connexion en cours…";
const MSG_SIGNED_IN = "Vous êtes connecté(e). Ouverture de votre espace…";
const MSG_LINK_INVALID = "Lien de connexion invalide ou expiré : demandez-en un nouveau avec le formulaire ci-dessous.";
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;


function setStatus(node, text, tone) {
  node.textContent = text;
  node.classList.toggle("status--error", tone === "error");
  node.classList.toggle("status--success", tone === "success");
}

function tokenFromFragment() {
  const fragment = window.location.hash.replace(/^#/, "");
  if (!fragment) return null;
  return new URLSearchParams(fragment).get("jeton") || null;
}

function forgetFragment() {
  // The token must not stay in the address bar, the history or a bookmark.
  window.history.replaceState(window.history.state, "", window.location.pathname + window.location.search);
}

function initRequestForm() {
  const form = $("formulaire-connexion");
  const email = $("champ-email");
  const error = $("erreur-email");
  const button = $("bouton-recevoir-lien");
  const status = $("statut-connexion");
  let busy = false;

  function fieldError(message) {
    error.textContent = message;
    error.hidden = !message;
    if (message) email.setAttribute("aria-invalid", "true");
    else email.removeAttribute("aria-invalid");
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    const value = email.value.trim();
    if (!value || !EMAIL.test(value)) {
      fieldError(value ? MSG_INVALID : MSG_EMPTY);
      setStatus(status, "", null);
      email.focus();
      return;
    }
    fieldError("");
    busy = true;
    button.setAttribute("aria-disabled", "true");
    setStatus(status, MSG_SENDING, null);
    try {
      const answer = await requestJson("/api/v1/auth/sign-in", { method: "POST", body: { email: value } });
      if (answer.ok) {
        setStatus(status, (answer.data && answer.data.message) || MSG_SENT, "success");
      } else if (answer.status === 422) {
        const message = messageOf(answer, MSG_INVALID);
        fieldError(message);
        setStatus(status, "", null);
        email.focus();
      } else {
        setStatus(status, messageOf(answer), "error");
      }
    } catch {
      setStatus(status, NETWORK_ERROR, "error");
    } finally {
      busy = false;
      button.removeAttribute("aria-disabled");
    }
  });

  $("lien-demander-nouveau").addEventListener("click", (event) => {
    event.preventDefault();
    email.focus();
    email.scrollIntoView({ block: "center" });
  });
}

function initMagicLink() {
  const section = $("section-lien");
  const button = $("bouton-me-connecter");
  const status = $("statut-lien");
  const askNew = $("lien-nouveau");
  let token = null;
  let busy = false;

  function show() {
    const found = tokenFromFragment();
    if (!found) return;
    token = found;
    section.hidden = false;
    button.hidden = false;
    askNew.hidden = true;
    setStatus(status, "", null);
  }

  button.addEventListener("click", async () => {
    if (busy || !token) return;
    busy = true;
    button.setAttribute("aria-disabled", "true");
    setStatus(status, MSG_SIGNING_IN, null);
    try {
      const answer = await requestJson("/api/v1/auth/token", {
        method: "POST", body: { grant_type: "magic_link", token },
      });
      if (answer.ok && answer.data && answer.data.access_token) {
        saveSession(answer.data);
        token = null;
        forgetFragment();
        setStatus(status, MSG_SIGNED_IN, "success");
        window.location.assign("/mon-espace");
        return;
      }
      if (answer.status === 400 || answer.status === 422) { // the link is spent, expired or wrong
        token = null;
        forgetFragment();
        setStatus(status, answer.status === 400 ? messageOf(answer, MSG_LINK_INVALID) : MSG_LINK_INVALID, "error");
        button.hidden = true;
        askNew.hidden = false;
        $("lien-demander-nouveau").focus();
      } else { // too many tries, service down: the link may still work later
        setStatus(status, messageOf(answer), "error");
      }
    } catch {
      setStatus(status, NETWORK_ERROR, "error");
    } finally {
      busy = false;
      button.removeAttribute("aria-disabled");
    }
  });

  window.addEventListener("hashchange", show);
  show();
}

initLayout();
if (readSession()) $("deja-connecte").hidden = false;
initRequestForm();
initMagicLink();

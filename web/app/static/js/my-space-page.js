// "Mon espace" (/mon-espace): who is signed in (GET /api/v1/auth/me), the choice of the membership
// the account acts for when it has several (space-membership.js), a sign-out button; for a
// professional or a school's referent the proposals that concern them (GET /api/v1/proposals), each
// titled by its request (space-requests.js: what the caller may read of it), with "Accepter" /
// "Refuser" for those waiting for their answer (POST .../accept | .../decline); for a referent the
// requests of its school, for a pupil's guardian the pupil's own requests, with their status; and
// the e-mail preferences (space-preferences.js). Calls carry the session's access token, refreshed
// once when expired or refused (session.js).

import { loadConfig, label } from "./config.js";
import { dateTime, score } from "./format.js";
import { HttpError, NETWORK_ERROR, messageOf } from "./http.js";
import { $, element } from "./dom.js";
import { initLayout } from "./layout.js";
import { SessionEnded, authJson, readSession, signOut, whoIsSignedIn } from "./session.js";
import { initMembershipSwitch } from "./space-membership.js";
import { showPreferences } from "./space-preferences.js";
import {
  eachLimited, readRequests, requestFacts, requestTitle, schoolNames, showRequests,
} from "./space-requests.js";

const PROPOSAL_READERS = ["professional", "school_referent"];
const REQUEST_READERS = ["school_referent", "pupil"];
const oneDecimal = new Intl.NumberFormat("fr-FR", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const LIMIT = 200;
const MSG_NOT_FOUND = "Cette proposition est introuvable : elle a peut-être été retirée, ou ne vous concerne plus.";
const MSG_CONFLICT = "Réponse impossible";
const ANSWERED = {
  accepted: "Vous avez accepté cette proposition.",
  awaiting_confirmation: "Vous avez accepté cette proposition : l'établissement doit maintenant confirmer.",
  declined: "Vous avez refusé cette proposition.",
};


/** A proposal's distance: matching keeps it rounded to 0.1 km, so 0 means "under 50 m" (the
 * organisation and the school at the same place), never "0 km". */
function distance(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "non indiquée";
  return value < 0.05 ? "moins de 0,1 km" : `${oneDecimal.format(value)} km`;
}

/** Whether `role` answers a proposal in `status`: the professional first, then, for a pupil's
 * request, the school's referent confirms (awaiting_confirmation). */
function answerable(role, status) {
  return (role === "professional" && status === "pending")
    || (role === "school_referent" && status === "awaiting_confirmation");
}

async function main() {
  initLayout();
  const loading = $("espace-chargement");

  function signedOut(message) {
    loading.hidden = true;
    $("espace-compte").hidden = true;
    $("espace-propositions").hidden = true;
    $("espace-demandes").hidden = true;
    $("espace-preferences").hidden = true;
    $("espace-autre-role").hidden = true;
    if (message) $("anonyme-message").textContent = message;
    $("espace-anonyme").hidden = false;
  }

  const session = readSession();
  if (!session) {
    signedOut(null);
    return;
  }

  let config = { labels: {} };
  try {
    config = await loadConfig();
  } catch {
    // labels missing: codes are shown as they are
  }

  // Who is signed in: /me says it (and checks the session); the stored grant when it cannot.
  const me = await whoIsSignedIn(session, signedOut);
  if (!me) return;

  const role = me.role;
  const memberships = Array.isArray(me.memberships) ? me.memberships : [];
  const membership = memberships.find((m) => m.actor_id === me.actor_id && (!m.role || m.role === role))
    || memberships.find((m) => m.actor_id === me.actor_id);
  const identity = $("compte-identite");
  identity.replaceChildren();
  identity.append("Vous êtes connecté(e) en tant que ", element("strong", "", label(config, "roles", role) || "utilisateur"));
  if (membership && membership.display_name) {
    identity.append(" pour « ", element("strong", "", membership.display_name), " »");
  }
  if (role === "school_referent" && me.school_uai) identity.append(` (UAI ${me.school_uai})`);
  identity.append(".");

  $("bouton-deconnexion").addEventListener("click", async (event) => {
    event.currentTarget.setAttribute("aria-disabled", "true");
    await signOut();
    window.location.assign("/");
  });

  loading.hidden = true;
  $("espace-compte").hidden = false;
  initMembershipSwitch({ ...me, memberships }, config, signedOut);

  const work = [];
  if (me.actor_id && String(me.subject || "acc-").startsWith("acc-")) work.push(showPreferences(me, signedOut));
  if (!PROPOSAL_READERS.includes(role) && !REQUEST_READERS.includes(role)) $("espace-autre-role").hidden = false;
  let proposals = [];
  if (PROPOSAL_READERS.includes(role)) proposals = await showProposals(role, config, signedOut);
  if (REQUEST_READERS.includes(role)) {
    await showRequests({ ...me, display_name: membership && membership.display_name }, config, proposals, signedOut);
  }
  await Promise.all(work);
}

/** The organisations of pledges (public: GET /api/v1/volunteers/<id>): Map volunteer id -> name. */
async function organisationNames(ids) {
  const names = new Map();
  await eachLimited([...new Set(ids)], async (id) => {
    try {
      const answer = await authJson(`/api/v1/volunteers/${encodeURIComponent(id)}`);
      if (answer.ok && answer.data && answer.data.organisation_name) names.set(id, answer.data.organisation_name);
    } catch (error) {
      if (error instanceof SessionEnded) throw error;
    }
  });
  return names;
}

/** The proposals section; resolves with the proposals shown (none when they could not be read). */
async function showProposals(role, config, signedOut) {
  const section = $("espace-propositions");
  const list = $("liste-propositions");
  const status = $("propositions-statut");
  $("propositions-explication").textContent = role === "professional"
    ? "Les demandes des établissements et des élèves pour lesquelles Vitawin vous propose, les plus récentes d'abord. "
      + "Répondez avant la date limite : sans réponse, la demande est proposée à un autre professionnel."
    : "Les professionnels proposés pour les demandes de votre établissement. Pour la demande d'un élève, "
      + "vous confirmez la mise en relation après l'accord du professionnel.";
  section.hidden = false;
  status.textContent = "Chargement de vos propositions…";

  let proposals;
  const context = { requests: new Map(), schools: new Map(), organisations: new Map() };
  try {
    const answer = await authJson(`/api/v1/proposals?limit=${LIMIT}`);
    if (!answer.ok) {
      status.textContent = messageOf(answer);
      status.classList.add("status--error");
      return [];
    }
    proposals = Array.isArray(answer.data) ? answer.data : [];
    if (proposals.length) {
      // What each proposal is about: the requests the caller may read, their schools' names, and
      // for a referent the organisations proposed.
      const [requests, organisations] = await Promise.all([
        readRequests(proposals.map((p) => p.request_id)),
        role === "school_referent" ? organisationNames(proposals.map((p) => p.volunteer_id)) : new Map(),
      ]);
      context.requests = requests;
      context.organisations = organisations;
      context.schools = await schoolNames([...requests.values()].map((request) => request.town));
    }
  } catch (error) {
    if (error instanceof SessionEnded) signedOut(error.message);
    else {
      status.textContent = error instanceof HttpError ? error.message : NETWORK_ERROR;
      status.classList.add("status--error");
    }
    return [];
  }

  if (!proposals.length) {
    status.textContent = "Aucune proposition pour le moment.";
    return [];
  }
  const waiting = proposals.filter((p) => answerable(role, p.status)).length;
  status.textContent = `${proposals.length} proposition${proposals.length > 1 ? "s" : ""}`
    + (waiting ? `, dont ${waiting} en attente de votre réponse.` : ".")
    + (proposals.length >= LIMIT ? ` Les ${LIMIT} plus récentes sont affichées.` : "");
  const fragment = document.createDocumentFragment();
  for (const proposal of proposals) fragment.append(proposalRow(proposal, role, config, context, signedOut));
  list.replaceChildren(fragment);
  return proposals;
}

function fact(term, value, testid) {
  const wrapper = element("div");
  const dd = element("dd", "", value);
  if (testid) dd.dataset.testid = testid;
  wrapper.append(element("dt", "", term), dd);
  return wrapper;
}

function proposalRow(proposal, role, config, context, signedOut) {
  const id = proposal.proposal_id;
  const row = element("li", "proposal");
  row.id = `proposition-${id}`;
  row.dataset.testid = "proposal-row";
  row.dataset.proposalId = id;
  row.dataset.requestId = proposal.request_id || "";
  row.dataset.status = proposal.status || "";

  const titleId = `proposition-${id}-titre`;
  const action = label(config, "action_types", proposal.action_type) || "Action";
  const request = context.requests.get(proposal.request_id);
  // A pupil's request is not readable by the professional (the requests service's rule): the
  // proposal's own words then.
  const title = element("h3", "", request ? requestTitle(config, request) : `${action} — demande d'un ou d'une élève`);
  title.id = titleId;
  title.dataset.testid = "proposal-title";

  const statusValue = element("dd", "", label(config, "proposal_statuses", proposal.status));
  statusValue.dataset.testid = "proposal-status";
  const statusFact = element("div");
  statusFact.append(element("dt", "", "État"), statusValue);
  const deadlineFact = fact("Date limite de réponse", proposal.deadline ? dateTime(proposal.deadline) : "aucune",
    "proposal-deadline");

  const facts = element("dl", "proposal__facts");
  if (request) facts.append(...requestFacts(config, request, context.schools, "proposal-request"));
  else {
    facts.append(fact("Demande", "d'un ou d'une élève (ses détails sont dans l'e-mail de la proposition)",
      "proposal-request-kind"));
  }
  const organisation = context.organisations.get(proposal.volunteer_id);
  if (organisation) facts.append(fact("Organisation proposée", organisation, "proposal-organisation"));
  facts.append(
    fact("Type d'action", action, "proposal-action"),
    fact("Distance", distance(proposal.distance_km), "proposal-distance"),
    fact("Score d'adéquation", score(proposal.score), "proposal-score"),
    statusFact,
    deadlineFact,
  );

  row.append(title, facts);
  const reasons = Array.isArray(proposal.reasons) ? proposal.reasons : [];
  if (reasons.length) {
    const reasonsTitle = element("p", "proposal__reasons-title", "Raisons de la proposition");
    reasonsTitle.id = `proposition-${id}-raisons`;
    const reasonsList = element("ul", "proposal__reasons");
    reasonsList.setAttribute("aria-labelledby", reasonsTitle.id);
    reasonsList.dataset.testid = "proposal-reasons";
    for (const reason of reasons) reasonsList.append(element("li", "", reason));
    row.append(reasonsTitle, reasonsList);
  }

  const message = element("p", "proposal__message");
  message.id = `proposition-${id}-message`;
  message.setAttribute("role", "status");
  message.setAttribute("aria-live", "polite");
  message.dataset.testid = "proposal-message";
  title.tabIndex = -1;

  const actions = element("div", "proposal__actions");
  if (answerable(role, proposal.status)) {
    const accept = element("button", "button", "Accepter");
    accept.type = "button";
    accept.id = `accepter-${id}`;
    accept.dataset.testid = "proposal-accept";
    accept.setAttribute("aria-describedby", titleId);
    const decline = element("button", "button button--danger", "Refuser");
    decline.type = "button";
    decline.id = `refuser-${id}`;
    decline.dataset.testid = "proposal-decline";
    decline.setAttribute("aria-describedby", titleId);
    accept.addEventListener("click", () => answer(true));
    decline.addEventListener("click", () => answer(false));
    actions.append(accept, decline);
  } else if (role === "school_referent" && proposal.status === "pending") {
    actions.append(element("p", "hint", "En attente de la réponse du professionnel."));
  }
  row.append(actions, message);

  let busy = false;

  function update(state) {
    if (state && state.status) {
      row.dataset.status = state.status;
      statusValue.textContent = label(config, "proposal_statuses", state.status);
    }
    if (state && state.deadline) deadlineFact.querySelector("dd").textContent = dateTime(state.deadline);
  }

  function settle(text, tone) {
    message.textContent = text;
    message.classList.toggle("status--error", tone === "error");
    message.classList.toggle("status--success", tone === "success");
    if (!answerable(role, row.dataset.status)) {
      // The buttons go away: focus goes to the proposal's title; its message is announced.
      const hadFocus = actions.contains(document.activeElement);
      actions.replaceChildren();
      if (hadFocus) title.focus();
    }
  }

  async function reload() {
    try {
      const answer = await authJson(`/api/v1/proposals/${encodeURIComponent(id)}`);
      if (answer.ok) update(answer.data);
      else if (answer.status === 404) row.dataset.status = "gone";
    } catch {
      // the message already says what happened
    }
  }

  async function answer(accept) {
    if (busy) return;
    busy = true;
    const buttons = [...actions.querySelectorAll("button")];
    buttons.forEach((button) => button.setAttribute("aria-disabled", "true"));
    message.textContent = "Envoi de votre réponse…";
    try {
      const result = await authJson(`/api/v1/proposals/${encodeURIComponent(id)}/${accept ? "accept" : "decline"}`,
        { method: "POST" });
      if (result.ok) {
        update(result.data);
        settle(ANSWERED[row.dataset.status] || "Votre réponse est enregistrée.", "success");
      } else if (result.status === 409) {
        await reload();
        settle(`${MSG_CONFLICT} : ${messageOf(result)}`, "error");
      } else if (result.status === 404) {
        row.dataset.status = "gone";
        settle(MSG_NOT_FOUND, "error");
      } else {
        settle(messageOf(result), "error");
      }
    } catch (error) {
      if (error instanceof SessionEnded) {
        signedOut(error.message);
        return;
      }
      settle(error instanceof HttpError ? error.message : NETWORK_ERROR, "error");
    } finally {
      busy = false;
      buttons.forEach((button) => button.removeAttribute("aria-disabled"));
    }
  }

  return row;
}

main();

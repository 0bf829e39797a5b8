// The initiatives page (/initiatives): the open initiatives and calls for projects of the territory
// (GET /api/v1/initiatives?status=open, page by page), joining or leaving one (POST
// .../participants, DELETE .../participants/<actor_id>) and closing one's own (POST .../close), and
// the form that publishes one (POST /api/v1/initiatives). Who may do what is the API's rule
// (services/requests/vitawin_requests/initiatives/rules.py): professionals, school referents and
// territory managers publish; partners join too; a pupil's account does neither. The page offers
// only what the signed-in role may do, and shows the API's French refusals as they are.

import { label, loadConfig } from "./config.js";
import { count, day } from "./format.js";
import { HttpError, NETWORK_ERROR, messageOf, requestJson } from "./http.js";
import { $, element } from "./dom.js";
import { initLayout } from "./layout.js";
import { SessionEnded, authJson, readSession } from "./session.js";
import {
  busy, checked, clearErrors, fact, focusOn, localProblems, serverProblems, setStatus, showErrors, toggle,
} from "./forms.js";

const URL = "/api/v1/initiatives";
const PAGE_SIZE = 20;
const PUBLISHER_ROLES = ["professional", "school_referent", "territory_manager"];
const PARTICIPANT_ROLES = [...PUBLISHER_ROLES, "partner"];
const STATUS_LABELS = { open: "ouverte", closed: "clôturée" };
const WORDS = {
  initiative: { join: "Rejoindre l'initiative", leave: "Quitter l'initiative", joined: "Vous participez à cette initiative.",
    left: "Vous ne participez plus à cette initiative.", mine: "Vous avez publié cette initiative." },
  call_for_projects: { join: "Candidater", leave: "Retirer ma candidature", joined: "Votre candidature est enregistrée.",
    left: "Votre candidature est retirée.", mine: "Vous avez publié cet appel à projets." },
};

const state = { config: { labels: {} }, session: null, page: 1, total: 0, filters: {} };

function words(kind) {
  return WORDS[kind] || WORDS.initiative;
}

function townName(code) {
  const towns = (state.config.territory && state.config.territory.towns) || [];
  const town = towns.find((item) => item.insee === code);
  return town ? town.name : (code || "non indiquée");
}

/** "du 3 mars 2027 au 5 mars 2027", "à partir du ...", "jusqu'au ...", or null. */
function period(start, end) {
  if (start && end) return start === end ? `le ${day(start)}` : `du ${day(start)} au ${day(end)}`;
  if (start) return `à partir du ${day(start)}`;
  if (end) return `jusqu'au ${day(end)}`;
  return null;
}

/** A call as the signed-in person when there is a session (the list then says what they take
 * part in), anonymous otherwise. A session that ended falls back to an anonymous call. */
async function call(url, options = {}) {
  if (readSession()) {
    try {
      return await authJson(url, options);
    } catch (error) {
      if (!(error instanceof SessionEnded)) throw error;
      state.session = null;
      showWho();
      if (options.method && options.method !== "GET") throw error;
    }
  }
  return requestJson(url, options);
}

function canParticipate() {
  const s = state.session;
  return Boolean(s && s.actor_id && PARTICIPANT_ROLES.includes(s.role));
}

function showWho() {
  const who = $("initiatives-qui");
  const s = state.session;
  if (!s) {
    who.textContent = "Connectez-vous pour rejoindre une initiative ou candidater à un appel à projets.";
  } else if (canParticipate()) {
    who.textContent = "Vous pouvez rejoindre une initiative ou candidater à un appel à projets au nom de "
      + `${membershipName(s)}.`;
  } else {
    who.textContent = `Avec votre rôle (${label(state.config, "roles", s.role) || "inconnu"}), vous pouvez consulter `
      + "les initiatives, mais pas y participer.";
  }
}

function membershipName(s) {
  const memberships = Array.isArray(s.memberships) ? s.memberships : [];
  const found = memberships.find((m) => m.actor_id === s.actor_id);
  return found && found.display_name ? `« ${found.display_name} »` : "votre organisation";
}

// --- the list -------------------------------------------------------------------------------------
async function loadPage(page) {
  const status = $("initiatives-compte");
  const more = $("initiatives-plus");
  const list = $("initiatives-liste");
  const params = new URLSearchParams({ status: "open", page: String(page), page_size: String(PAGE_SIZE) });
  for (const [name, value] of Object.entries(state.filters)) if (value) params.set(name, value);
  if (page === 1) setStatus(status, "Chargement des initiatives…");
  busy(more, true);
  let answer;
  try {
    answer = await call(`${URL}?${params}`);
  } catch (error) {
    setStatus(status, error instanceof HttpError ? error.message : NETWORK_ERROR, "error");
    return;
  } finally {
    busy(more, false);
  }
  if (!answer.ok || !answer.data) {
    setStatus(status, messageOf(answer), "error");
    return;
  }
  const items = Array.isArray(answer.data.items) ? answer.data.items : [];
  state.page = page;
  state.total = Number(answer.data.total) || 0;
  const fragment = document.createDocumentFragment();
  for (const item of items) fragment.append(initiativeRow(item));
  if (page === 1) list.replaceChildren(fragment);
  else list.append(fragment);
  const shown = list.children.length;
  setStatus(status, state.total
    ? `${count(state.total, "initiative ouverte", "initiatives ouvertes")}${shown < state.total ? `, ${shown} affichées` : ""}.`
    : "Aucune initiative ouverte pour le moment.");
  more.hidden = shown >= state.total;
  if (page > 1 && items.length) {
    const first = document.getElementById(`initiative-${items[0].initiative_id}-titre`);
    if (first) first.focus();
  }
}

function initiativeRow(item) {
  const id = item.initiative_id;
  const row = element("li", "proposal initiative");
  row.id = `initiative-${id}`;
  row.dataset.testid = "initiative-row";
  row.dataset.initiativeId = id;
  const title = element("h3", "", item.title || "Sans titre");
  title.id = `initiative-${id}-titre`;
  title.tabIndex = -1;
  const kind = element("p", "result__kind", label(state.config, "initiative_kinds", item.kind) || "Initiative");
  const facts = element("dl", "proposal__facts");
  const countValue = fact("Participants", "", "initiative-participants");
  facts.append(fact("Commune", townName(item.town), "initiative-town"));
  const when = period(item.start_date, item.end_date);
  if (when) facts.append(fact("Dates", when, "initiative-dates"));
  if (item.deadline) facts.append(fact("Date limite de candidature", day(item.deadline), "initiative-deadline"));
  const kinds = (item.partner_kinds_sought || []).map((code) => label(state.config, "actor_kinds", code).toLowerCase());
  if (kinds.length) facts.append(fact("Partenaires recherchés", kinds.join(", "), "initiative-partners"));
  facts.append(countValue, fact("État", STATUS_LABELS[item.status] || item.status || "", "initiative-status"));
  row.append(title, kind, facts);
  if (item.description) row.append(element("p", "initiative__description", item.description));
  const actions = element("div", "proposal__actions");
  const message = element("p", "proposal__message");
  message.id = `initiative-${id}-message`;
  message.setAttribute("role", "status");
  message.setAttribute("aria-live", "polite");
  message.dataset.testid = "initiative-message";
  row.append(actions, message);

  let current = item;
  let working = false;

  function render() {
    row.dataset.participating = current.participating ? "true" : "false";
    row.dataset.status = current.status || "";
    countValue.querySelector("dd").textContent = String(current.participant_count ?? 0);
    const hadFocus = actions.contains(document.activeElement);
    actions.replaceChildren(...controls());
    if (hadFocus) {
      const next = actions.querySelector("button, summary");
      (next || title).focus();
    }
  }

  function button(text, className, testid, onClick) {
    const node = element("button", className, text);
    node.type = "button";
    node.dataset.testid = testid;
    node.setAttribute("aria-describedby", title.id);
    node.addEventListener("click", onClick);
    return node;
  }

  function controls() {
    const s = state.session;
    const w = words(current.kind);
    if (!s || current.status !== "open") return [];
    if (s.actor_id && current.publisher && current.publisher.actor_id === s.actor_id) {
      const note = element("p", "hint", w.mine);
      const close = button("Clôturer", "button button--secondary", "initiative-close", () => askClose(close));
      close.id = `initiative-${id}-cloturer`;
      return [note, close];
    }
    if (!canParticipate()) return [];
    if (current.participating) {
      const leave = button(w.leave, "button button--danger", "initiative-leave", leaveIt);
      leave.id = `initiative-${id}-quitter`;
      return [leave];
    }
    const details = element("details", "initiative__note");
    const summary = element("summary", "", "Ajouter un message (facultatif)");
    const field = element("div", "field");
    const fieldId = `initiative-${id}-mot`;
    const fieldLabel = element("label", "", "Message pour l'organisateur");
    fieldLabel.htmlFor = fieldId;
    const hint = element("p", "hint", "500 caractères au plus ; visible seulement par l'organisateur et les participants.");
    hint.id = `${fieldId}-aide`;
    const textarea = element("textarea");
    textarea.id = fieldId;
    textarea.rows = 3;
    textarea.maxLength = 500;
    textarea.setAttribute("aria-describedby", hint.id);
    textarea.dataset.testid = "initiative-join-message";
    field.append(fieldLabel, hint, textarea);
    details.append(summary, field);
    const join = button(w.join, "button", "initiative-join", () => joinIt(textarea.value.trim()));
    join.id = `initiative-${id}-rejoindre`;
    return [details, join];
  }

  function settle(text, tone) {
    setStatus(message, text, tone);
  }

  async function act(run) {
    if (working) return;
    working = true;
    const buttons = [...actions.querySelectorAll("button")];
    buttons.forEach((node) => busy(node, true));
    try {
      await run();
    } catch (error) {
      settle(error instanceof SessionEnded ? `${error.message}` : (error instanceof HttpError ? error.message : NETWORK_ERROR),
        "error");
      if (error instanceof SessionEnded) {
        state.session = null;
        render();
      }
    } finally {
      working = false;
      buttons.forEach((node) => busy(node, false));
    }
  }

  async function refresh() {
    const answer = await call(`${URL}/${encodeURIComponent(id)}`);
    if (answer.ok && answer.data) current = answer.data;
  }

  function joinIt(text) {
    return act(async () => {
      settle("Envoi…");
      const body = text ? { message: text } : {};
      const answer = await authJson(`${URL}/${encodeURIComponent(id)}/participants`, { method: "POST", body });
      if (answer.ok && answer.data) {
        current = answer.data;
        render();
        settle(words(current.kind).joined, "success");
      } else {
        if (answer.status === 409) await refresh().then(render);
        settle(messageOf(answer), "error");
      }
    });
  }

  function leaveIt() {
    return act(async () => {
      settle("Envoi…");
      const actor = state.session.actor_id;
      const answer = await authJson(`${URL}/${encodeURIComponent(id)}/participants/${encodeURIComponent(actor)}`,
        { method: "DELETE" });
      if (answer.ok) {
        await refresh();
        current = { ...current, participating: false };
        render();
        settle(words(current.kind).left, "success");
      } else {
        settle(messageOf(answer), "error");
      }
    });
  }

  function askClose(first) {
    // Closing cannot be undone: a second, explicit button confirms it.
    const confirm = button("Confirmer la clôture", "button button--danger", "initiative-close-confirm", closeIt);
    confirm.id = `initiative-${id}-confirmer`;
    const cancel = button("Annuler", "button button--secondary", "initiative-close-cancel", () => render());
    const note = element("p", "hint", "Une fois clôturée, elle n'accepte plus personne et ne se modifie plus.");
    first.replaceWith(note, confirm, cancel);
    confirm.focus();
  }

  function closeIt() {
    return act(async () => {
      const answer = await authJson(`${URL}/${encodeURIComponent(id)}/close`, { method: "POST" });
      if (answer.ok && answer.data) {
        current = answer.data;
        render();
        title.focus();
        settle("Clôturée : elle n'accepte plus de participants.", "success");
      } else {
        settle(messageOf(answer), "error");
      }
    });
  }

  render();
  return row;
}

// --- publishing -----------------------------------------------------------------------------------
function initPublishForm() {
  const form = $("formulaire-initiative");
  const unavailable = $("publier-indisponible");
  const status = $("publier-statut");
  const deadlineBlock = $("ini-bloc-date-limite");
  const submit = $("ini-publier");
  const s = state.session;
  unavailable.replaceChildren();
  if (!s) {
    const link = element("a", "", "Connectez-vous");
    link.href = "/connexion";
    unavailable.append(link, " avec l'adresse e-mail de contact de votre organisation ou de votre établissement "
      + "pour publier une initiative ou un appel à projets.");
    unavailable.hidden = false;
    form.hidden = true;
    return;
  }
  if (!PUBLISHER_ROLES.includes(s.role) || !s.actor_id) {
    unavailable.textContent = `Avec votre rôle (${label(state.config, "roles", s.role) || "inconnu"}), vous ne pouvez `
      + "pas publier d'initiative : c'est réservé aux organisations, aux établissements et aux gestionnaires de territoire.";
    unavailable.hidden = false;
    form.hidden = true;
    return;
  }
  $("publier-pour").textContent = membershipName(s);
  unavailable.hidden = true;
  form.hidden = false;

  function syncKind() {
    const kind = checked(form, "ini-type")[0] || "initiative";
    toggle(deadlineBlock, kind === "call_for_projects");
    submit.textContent = kind === "call_for_projects" ? "Publier l'appel à projets" : "Publier l'initiative";
  }
  for (const radio of form.querySelectorAll('input[name="ini-type"]')) radio.addEventListener("change", syncKind);
  syncKind();

  let sending = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (sending) return;
    clearErrors(form);
    setStatus(status, "");
    const problems = localProblems(form);
    if (problems.length) {
      showErrors(form, problems);
      return;
    }
    const kind = checked(form, "ini-type")[0];
    const body = {
      kind,
      title: $("ini-titre").value.trim(),
      partner_kinds_sought: checked(form, "ini-partenaires"),
      town: $("ini-commune").value,
      contact_email: $("ini-email").value.trim(),
    };
    const description = $("ini-description").value.trim();
    if (description) body.description = description;
    for (const [id, name] of [["ini-debut", "start_date"], ["ini-fin", "end_date"]]) {
      if ($(id).value) body[name] = $(id).value;
    }
    if (kind === "call_for_projects" && $("ini-date-limite").value) body.deadline = $("ini-date-limite").value;
    sending = true;
    busy(submit, true);
    setStatus(status, "Publication en cours…");
    try {
      const answer = await authJson(URL, { method: "POST", body });
      if (answer.status === 201 && answer.data) {
        form.reset();
        syncKind();
        setStatus(status, `« ${answer.data.title} » est publiée : elle figure dans la liste des initiatives ouvertes.`,
          "success");
        await loadPage(1);
        const row = document.getElementById(`initiative-${answer.data.initiative_id}-titre`);
        if (row) focusOn(row);
      } else {
        setStatus(status, "");
        showErrors(form, serverProblems(form, answer, messageOf(answer)));
      }
    } catch (error) {
      setStatus(status, error instanceof HttpError || error instanceof SessionEnded ? error.message : NETWORK_ERROR,
        "error");
    } finally {
      sending = false;
      busy(submit, false);
    }
  });
}

function initFilters() {
  const form = $("initiatives-filtres");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    state.filters = { kind: $("initiatives-filtre-type").value, town: $("initiatives-filtre-commune").value };
    loadPage(1);
  });
  $("initiatives-plus").addEventListener("click", () => loadPage(state.page + 1));
}

async function main() {
  initLayout();
  try {
    state.config = await loadConfig();
  } catch {
    // labels missing: codes are shown as they are
  }
  state.session = readSession();
  showWho();
  initFilters();
  initPublishForm();
  await loadPage(1);
  showWho(); // the session may have ended meanwhile
}

main();

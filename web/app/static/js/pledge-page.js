// The pledge page (/engagement): a professional, signed in for its organisation (the session's
// actor_id), says what it offers pupils (POST /api/v1/volunteers, services/actors: api/pledges.py
// and api/actions.py): the action types, each with its settings (audience, modality, weekly cap,
// and those of its type), the jobs shown (ROME codes, jobs.js), the place and the distance. The
// organisation's record (GET /api/v1/actors/<actor_id>) fills the name, the contact and the
// place. Once saved, the pledge is shown with a link to "Mon espace", where its proposals come.

import { loadConfig, label } from "./config.js";
import { $, element } from "./dom.js";
import {
  checked, decimal, fact, focusOn, frenchDecimal, integer, list, localProblems, place, sendForm, setStatus, showErrors,
  startSubmit, toggle,
} from "./forms.js";
import { day, km } from "./format.js";
import { jobPicker } from "./jobs.js";
import { initLayout } from "./layout.js";
import { authJson, readSession, whoIsSignedIn } from "./session.js";

const MSG_SENDING = "Enregistrement de votre engagement…";
const MSG_REFUSED = "L'engagement n'a pas été enregistré.";
const MSG_OTHER_ROLE = "Vous êtes connecté(e) en tant que {role}. Un engagement se propose au nom d'une organisation "
  + "(entreprise, artisan, collectivité, association, établissement public) : connectez-vous avec l'adresse de contact "
  + "de cette organisation.";
const MSG_NO_ORGANISATION = "Votre organisation est introuvable dans l'annuaire : elle a peut-être été effacée. "
  + "Inscrivez-la de nouveau, puis reconnectez-vous.";

const form = $("formulaire-engagement");
let config = { labels: {} };
let session = null;
let picker = null;

function showAnonymous(message) {
  $("engagement-chargement").hidden = true;
  form.hidden = true;
  if (message) $("engagement-anonyme-message").textContent = message;
  $("engagement-anonyme").hidden = false;
}

function showActions() {
  const chosen = new Set(checked(form, "eng-actions"));
  for (const part of form.querySelectorAll(".action-settings")) toggle(part, chosen.has(part.dataset.action));
  const fair = form.querySelector('[data-part="job-fair-dates"]');
  toggle(fair, chosen.has("job_fair") && checked(form, "eng-job_fair-quand")[0] === "dates");
}

/** The settings of one action: what is typed, nothing for what is left empty (the API's defaults). */
function settingsOf(code, romeCodes) {
  const settings = {};
  const audience = checked(form, `eng-${code}-public`)[0];
  if (audience) settings.audience = audience;
  settings.modality = $(`eng-${code}-modalite`).value;
  const cap = integer($(`eng-${code}-plafond`));
  if (cap !== null) settings.weekly_contact_cap = cap;
  if (romeCodes.length) settings.rome_codes = romeCodes;
  if (code === "intervention") {
    const topics = $("eng-intervention-themes").value.split("\n").map((topic) => topic.trim()).filter(Boolean);
    if (topics.length) settings.topics = topics;
  } else if (code === "internship") {
    const capacity = integer($("eng-internship-places"));
    if (capacity !== null) settings.capacity_per_period = capacity;
    const levels = checked(form, "eng-internship-niveaux");
    if (levels.length) settings.levels = levels;
    const weeks = list($("eng-internship-semaines").value);
    if (weeks.length) settings.periods = weeks;
  } else if (code === "apprenticeship") {
    const diplomas = checked(form, "eng-apprenticeship-diplomes");
    if (diplomas.length) settings.diplomas = diplomas;
    const places = integer($("eng-apprenticeship-places"));
    if (places !== null) settings.places = places;
  } else if (code === "mentoring") {
    const months = integer($("eng-mentoring-mois"));
    if (months !== null) settings.duration_months = months;
    const mentees = integer($("eng-mentoring-eleves"));
    if (mentees !== null) settings.mentees = mentees;
  } else if (code === "job_fair") {
    if (checked(form, "eng-job_fair-quand")[0] === "dates") settings.dates = list($("eng-job_fair-dates").value);
    else settings.on_request = true;
  }
  return settings;
}

function townName(code) {
  const towns = (config.territory && config.territory.towns) || [];
  const town = towns.find((item) => item.insee === code);
  return town ? town.name : code;
}

function actionSummary(code, settings) {
  const parts = [label(config, "action_types", code)];
  if (settings && settings.audience) parts.push(label(config, "audiences", settings.audience).toLowerCase());
  if (settings && settings.modality) parts.push(label(config, "modalities", settings.modality).toLowerCase());
  if (settings && Array.isArray(settings.dates) && settings.dates.length) parts.push(settings.dates.map(day).join(", "));
  if (settings && Array.isArray(settings.periods) && settings.periods.length) parts.push(settings.periods.join(", "));
  return parts.join(" — ");
}

function showDone(pledge) {
  const summary = $("engagement-resume");
  const actions = element("ul", "facts__list");
  for (const code of pledge.action_types || []) {
    actions.append(element("li", "", actionSummary(code, (pledge.actions || {})[code])));
  }
  const jobs = new Map();
  for (const settings of Object.values(pledge.actions || {})) {
    for (const job of settings.rome_jobs || []) jobs.set(job.code, `${job.label} (${job.code})`);
  }
  const actionsFact = fact("Actions", "");
  actionsFact.querySelector("dd").append(actions);
  summary.replaceChildren(
    fact("Organisation", pledge.organisation_name || "", "pledge-organisation"),
    fact("État", label(config, "pledge_statuses", pledge.status) || pledge.status || "", "pledge-status"),
    actionsFact,
    fact("Métiers", jobs.size ? [...jobs.values()].join(", ") : "aucun précisé", "pledge-jobs"),
    fact("Lieu d'accueil", townName(pledge.town), "pledge-town"),
    fact("Distance maximale", km(pledge.max_distance_km), "pledge-distance"),
  );
  summary.dataset.volunteerId = pledge.volunteer_id || "";
  form.hidden = true;
  $("engagement-fait").hidden = false;
  focusOn($("engagement-fait-titre"));
}

async function submit(event) {
  event.preventDefault();
  const button = $("bouton-engagement");
  const status = $("statut-engagement");
  if (!startSubmit(form, button, status)) return;
  const problems = localProblems(form);
  const pendingJob = picker.commit();
  if (pendingJob) problems.push({ field: picker.input, message: pendingJob });
  const town = $("eng-commune").value;
  const where = place("eng-position", town, config);
  if (where.problem) problems.push(where.problem);
  if (problems.length) {
    showErrors(form, problems);
    return;
  }
  const actionTypes = checked(form, "eng-actions");
  const romeCodes = picker.codes();
  const body = {
    organisation_name: $("eng-nom").value.trim(), contact_email: $("eng-email").value.trim(), town,
    location: where.location, action_types: actionTypes, actor_id: session.actor_id,
    actions: Object.fromEntries(actionTypes.map((code) => [code, settingsOf(code, romeCodes)])),
  };
  const distance = decimal($("eng-distance").value);
  if (distance !== null) body.max_distance_km = distance;
  await sendForm(form, {
    button, status, sending: MSG_SENDING, refused: MSG_REFUSED, done: showDone, signedOut: showAnonymous,
    call: () => authJson("/api/v1/volunteers", { method: "POST", body }),
  });
}

/** Fill the form from the organisation's record. */
function prefill(actor) {
  $("eng-nom").value = actor.name || "";
  $("eng-email").value = actor.contact_email || "";
  const towns = [...$("eng-commune").options].map((item) => item.value);
  if (towns.includes(actor.town)) $("eng-commune").value = actor.town;
  if (actor.location) {
    $("eng-position-lat").value = frenchDecimal(actor.location.lat);
    $("eng-position-lon").value = frenchDecimal(actor.location.lon);
  }
  $("engagement-pour").textContent = `Engagement au nom de « ${actor.name || "votre organisation"} ».`;
}

async function main() {
  initLayout();
  session = readSession();
  if (!session) {
    showAnonymous(null);
    return;
  }
  try {
    config = await loadConfig();
  } catch {
    // labels and towns' centres missing: codes are shown as they are, coordinates must be typed
  }
  const me = await whoIsSignedIn(session, showAnonymous);
  if (!me) return;
  session = readSession() || session;
  $("engagement-chargement").hidden = true;
  if (me.role !== "professional" || !me.actor_id) {
    $("engagement-autre-role-message").textContent = MSG_OTHER_ROLE
      .replace("{role}", label(config, "roles", me.role) || "utilisateur");
    $("engagement-autre-role").hidden = false;
    return;
  }
  session = { ...session, actor_id: me.actor_id };
  form.hidden = false;
  picker = jobPicker($("eng-metiers"));
  form.addEventListener("change", (event) => {
    if (event.target.name === "eng-actions" || event.target.name === "eng-job_fair-quand") showActions();
  });
  form.addEventListener("submit", submit);
  showActions();
  try {
    // With the session's token: an organisation's contact is shown to its own accounts only.
    const answer = await authJson(`/api/v1/actors/${encodeURIComponent(me.actor_id)}`);
    if (answer.ok && answer.data) prefill(answer.data);
    else if (answer.status === 404 || answer.status === 410) setStatus($("statut-engagement"), MSG_NO_ORGANISATION, "error");
  } catch {
    // the fields stay empty: the person types them
  }
}

main();

// The request page (/demande): a school's referent teacher (for the school of the session,
// school_uai) or a pupil publishes a request (POST /api/v1/requests, services/requests: inputs.py
// and kinds.py say the fields of each kind). The kinds offered are those of the session's role;
// the fields shown are those of the kind chosen (data-kinds), the others are hidden and disabled.
// The school's record (GET /api/v1/actors: its levels, its internship weeks per level, the
// referent's e-mail) fills what it can: only the levels it teaches, its weeks as boxes to tick.
// Once published, the request is shown with its state and a link to "Mon espace".

import { loadConfig, label } from "./config.js";
import { $, element } from "./dom.js";
import {
  checked, decimal, fact, focusOn, integer, list, localProblems, sendForm, showErrors, startSubmit, toggle,
} from "./forms.js";
import { count, day, isoWeek, km } from "./format.js";
import { requestJson } from "./http.js";
import { jobPicker } from "./jobs.js";
import { initLayout } from "./layout.js";
import { authJson, readSession, whoIsSignedIn } from "./session.js";

const REQUESTERS = { school_referent: "school", pupil: "pupil" };
const LYCEE_LEVELS = ["2nde", "1re", "Tle", "CAP1", "CAP2"];
const MSG_SENDING = "Publication de votre demande…";
const MSG_REFUSED = "La demande n'a pas été publiée.";
const MSG_OTHER_ROLE = "Vous êtes connecté(e) en tant que {role}. Les demandes sont publiées par le professeur "
  + "référent d'un établissement scolaire, ou par un élève.";
const MSG_WEEKS_NEEDED = "Cochez au moins une semaine.";
const MSG_NO_WEEKS = "L'établissement n'a pas indiqué de semaines de stage pour ce niveau : indiquez les semaines "
  + "(le référent peut les ajouter à la fiche de l'établissement).";
const MSG_JOB_NEEDED = "Ajoutez au moins un métier.";
const MSG_JOB_OR_KEYWORDS = "Indiquez des mots-clés ou au moins un métier.";

const form = $("formulaire-demande");
let config = { labels: {} };
let requester = null;
let school = null; // the school's public record (levels, internship_periods), and its contact for a referent
let picker = null;

function showAnonymous(message) {
  $("demande-chargement").hidden = true;
  form.hidden = true;
  if (message) $("demande-anonyme-message").textContent = message;
  $("demande-anonyme").hidden = false;
}

function kind() {
  return checked(form, "dem-type")[0] || null;
}

function showKind() {
  const chosen = kind();
  toggle($("dem-details"), Boolean(chosen));
  for (const part of form.querySelectorAll("[data-kinds]")) {
    toggle(part, Boolean(chosen) && part.dataset.kinds.split(/\s+/).includes(chosen));
  }
  toggle(form.querySelector('[data-part="around-town"]'), chosen === "discovery_internship"
    && checked(form, "dem-autour")[0] === "town");
  const levelBox = $("dem-niveau");
  for (const option of levelBox.options) { // apprenticeships are for lycée pupils
    option.hidden = chosen === "apprenticeship_search" && Boolean(option.value) && !LYCEE_LEVELS.includes(option.value);
  }
  if (levelBox.selectedOptions[0] && levelBox.selectedOptions[0].hidden) levelBox.value = "";
  showWeeks();
}

/** Monday to Friday of an ISO week: "2027-W03" -> "du 18 au 22 janvier 2027". */
function weekDays(week) {
  const match = /^(\d{4})-W(\d{2})$/.exec(week);
  if (!match) return "";
  const year = Number(match[1]);
  const jan4 = new Date(Date.UTC(year, 0, 4));
  const monday = new Date(jan4);
  monday.setUTCDate(jan4.getUTCDate() - ((jan4.getUTCDay() + 6) % 7) + (Number(match[2]) - 1) * 7);
  const friday = new Date(monday);
  friday.setUTCDate(monday.getUTCDate() + 4);
  const iso = (date) => date.toISOString().slice(0, 10);
  return `du ${day(iso(monday))} au ${day(iso(friday))}`;
}

/** The period: the school's weeks for the level as boxes, or a text box when it gave none. */
function showWeeks() {
  const chosen = kind();
  if (!["internship_hosting", "discovery_internship"].includes(chosen)) return;
  const level = $("dem-niveau").value;
  const weeks = (level && school && school.internship_periods && school.internship_periods[level]) || [];
  const boxes = $("dem-periode-semaines");
  const typed = $("dem-periode-saisie");
  $("dem-periode-attente").hidden = Boolean(level);
  boxes.replaceChildren();
  if (!level) {
    toggle(typed, false);
    return;
  }
  weeks.forEach((week, index) => {
    const wrapper = element("div", "check");
    const box = element("input");
    box.type = "checkbox";
    box.id = `dem-semaine-${index + 1}`;
    box.name = "dem-semaine";
    box.value = week;
    const text = element("label", "", `${isoWeek(week)[0].toUpperCase()}${isoWeek(week).slice(1)} (${weekDays(week)})`);
    text.htmlFor = box.id;
    wrapper.append(box, text);
    boxes.append(wrapper);
  });
  toggle(typed, !weeks.length);
  if (!weeks.length) $("aide-dem-periode-texte").textContent = `${MSG_NO_WEEKS} Séparées par des virgules (ex. 2027-W03, 2027-W04).`;
}

/** The body of POST /api/v1/requests for the kind chosen, and the problems found on the way. */
function body(chosen) {
  const problems = [];
  const data = { kind: chosen };
  const value = (id) => $(id).value.trim();
  const optionalInteger = (name, id) => {
    const number = integer($(id));
    if (number !== null) data[name] = number;
  };
  if (chosen === "class_intervention") data.topic = value("dem-theme");
  if (["class_testimony", "class_intervention", "job_fair"].includes(chosen)) data.date = value("dem-date");
  if (chosen === "class_testimony" || chosen === "class_intervention") {
    if (value("dem-debut")) data.start_time = value("dem-debut");
    if (value("dem-fin")) data.end_time = value("dem-fin");
    optionalInteger("class_size", "dem-effectif");
    optionalInteger("professionals_wanted", "dem-professionnels");
  }
  if (chosen === "job_fair") {
    data.start_time = value("dem-forum-debut");
    data.end_time = value("dem-forum-fin");
    data.levels = checked(form, "dem-niveaux");
    data.professionals_wanted = integer($("dem-forum-professionnels"));
  } else {
    data.level = value("dem-niveau");
  }
  if (chosen === "internship_hosting" || chosen === "discovery_internship") {
    const typed = !$("dem-periode-saisie").hidden;
    data.period = typed ? list(value("dem-periode-texte")) : checked(form, "dem-semaine");
    if (data.level && !data.period.length) {
      problems.push({ field: typed ? $("dem-periode-texte") : $("dem-periode"), message: MSG_WEEKS_NEEDED });
    }
  }
  if (chosen === "internship_hosting") data.pupils = integer($("dem-places"));
  if (chosen === "discovery_internship") {
    data.around = checked(form, "dem-autour")[0] || "school";
    if (data.around === "town") data.town = value("dem-commune");
  }
  if (chosen === "apprenticeship_search") {
    data.diploma = value("dem-diplome");
    data.start = value("dem-debut-alternance");
  }
  if (chosen === "job_information" && value("dem-mots-cles")) data.keywords = value("dem-mots-cles");
  const jobs = picker.codes();
  if (jobs.length) data.rome_codes = jobs;
  if (chosen === "apprenticeship_search" && !jobs.length) problems.push({ field: picker.input, message: MSG_JOB_NEEDED });
  if (chosen === "job_information" && !jobs.length && !data.keywords) {
    problems.push({ field: picker.input, message: MSG_JOB_OR_KEYWORDS });
  }
  const distance = decimal($("dem-distance").value);
  if (distance !== null) data.max_distance_km = distance;
  if (requester === "school") data.contact_email = value("dem-email");
  return { data, problems };
}

function when(request) {
  if (request.date) {
    const slot = request.start_time && request.end_time ? `, de ${request.start_time} à ${request.end_time}` : "";
    return `${day(request.date)}${slot}`;
  }
  if (Array.isArray(request.period) && request.period.length) return request.period.map(isoWeek).join(", ");
  if (request.start) return `à partir de ${request.start}`;
  return "sans date";
}

function showDone(request) {
  const summary = $("demande-resume");
  const levels = request.level ? [request.level] : (request.levels || []);
  const jobs = (request.rome_jobs || []).map((job) => `${job.label} (${job.code})`);
  const wanted = request.kind === "internship_hosting"
    ? count(request.pupils || request.professionals_wanted || 0, "place", "places")
    : count(request.professionals_wanted || 0, "professionnel", "professionnels");
  summary.replaceChildren(
    fact("Type", label(config, "request_kinds", request.kind), "request-kind"),
    fact("État", label(config, "request_statuses", request.status) || request.status || "", "request-status"),
    fact("Quand", when(request), "request-when"),
    fact("Niveau", levels.map((level) => label(config, "levels", level)).join(", ") || "—", "request-levels"),
    fact("Métiers", jobs.length ? jobs.join(", ") : "aucun précisé", "request-jobs"),
    ...(request.requester_kind === "school" ? [fact("Recherché", wanted, "request-wanted")] : []),
    fact("Distance maximale", km(request.max_distance_km), "request-distance"),
    fact("Numéro de la demande", request.request_id || "", "request-id"),
  );
  const section = $("demande-faite");
  section.dataset.requestId = request.request_id || "";
  section.dataset.status = request.status || "";
  form.hidden = true;
  section.hidden = false;
  focusOn($("demande-faite-titre"));
}

async function submit(event) {
  event.preventDefault();
  const button = $("bouton-demande");
  const status = $("statut-demande");
  if (!startSubmit(form, button, status)) return;
  const problems = localProblems(form);
  const pendingJob = picker.commit();
  if (pendingJob) problems.push({ field: picker.input, message: pendingJob });
  const chosen = kind();
  let sent = null;
  if (chosen) {
    sent = body(chosen);
    problems.push(...sent.problems);
  }
  if (problems.length) {
    showErrors(form, problems);
    return;
  }
  await sendForm(form, {
    button, status, sending: MSG_SENDING, refused: MSG_REFUSED, done: showDone, signedOut: showAnonymous,
    call: () => authJson("/api/v1/requests", { method: "POST", body: sent.data }),
  });
}

/** The school's record: a referent's own (full), a pupil's school from the directory (public). */
async function loadSchool(me) {
  if (requester === "school") {
    // With the session's token: a school's contact is shown to its own accounts only.
    const answer = await authJson(`/api/v1/actors/${encodeURIComponent(me.actor_id)}`);
    return answer.ok ? answer.data : null;
  }
  const pupil = await requestJson(`/api/v1/actors/${encodeURIComponent(me.actor_id)}`);
  if (pupil.ok && pupil.data && pupil.data.level) $("dem-niveau").value = pupil.data.level;
  const uai = me.school_uai || (pupil.ok && pupil.data && pupil.data.school_uai);
  for (let page = 1; uai && page <= 10; page += 1) {
    const answer = await requestJson(`/api/v1/actors?kind=school&page_size=200&page=${page}`);
    if (!answer.ok || !answer.data || !Array.isArray(answer.data.items)) return null;
    const found = answer.data.items.find((item) => item.uai === uai);
    if (found) return found;
    if (page * 200 >= (answer.data.total || 0)) return null;
  }
  return null;
}

function prefill() {
  if (!school) return;
  const taught = Array.isArray(school.levels) ? school.levels : [];
  if (taught.length) {
    for (const option of $("dem-niveau").options) {
      if (option.value && !taught.includes(option.value)) option.remove();
    }
    for (const box of form.querySelectorAll('input[name="dem-niveaux"]')) {
      if (!taught.includes(box.value)) box.closest(".check").remove();
    }
  }
  if (requester === "school") {
    $("dem-email").value = school.contact_email || "";
    $("demande-pour").textContent = `Demande de « ${school.name || "votre établissement"} ».`;
  }
}

async function main() {
  initLayout();
  const session = readSession();
  if (!session) {
    showAnonymous(null);
    return;
  }
  try {
    config = await loadConfig();
  } catch {
    // labels missing: codes are shown as they are
  }
  const me = await whoIsSignedIn(session, showAnonymous);
  if (!me) return;
  $("demande-chargement").hidden = true;
  requester = REQUESTERS[me.role] || null;
  if (!requester || !me.actor_id) {
    $("demande-autre-role-message").textContent = MSG_OTHER_ROLE
      .replace("{role}", label(config, "roles", me.role) || "utilisateur");
    $("demande-autre-role").hidden = false;
    return;
  }
  for (const part of form.querySelectorAll("[data-requester]")) toggle(part, part.dataset.requester === requester);
  form.hidden = false;
  picker = jobPicker($("dem-metiers"));
  form.addEventListener("change", (event) => {
    const name = event.target.name;
    if (name === "dem-type" || name === "dem-autour") showKind();
    else if (name === "dem-niveau") showWeeks();
  });
  form.addEventListener("submit", submit);
  showKind();
  try {
    school = await loadSchool(me);
  } catch {
    school = null; // no record: every level is offered, weeks are typed
  }
  prefill();
  showWeeks();
}

main();

// The registration page (/inscription): an organisation, a school (by its referent teacher) or a
// pupil joins the directory (POST /api/v1/actors, anonymous). The fields are the API's for each
// kind (services/actors: api/directory.py); the parts of the form not in use are hidden and
// disabled. A place is a town of the territory and, when given, coordinates (else the town's
// centre). The API's refusals come back beside their fields (forms.js). Once registered, the
// accounts service makes the account of the contact e-mail (a pupil's guardian's) from the
// contacts event: the page says so and leads to /connexion, where the sign-in link is asked for.

import { loadConfig, label } from "./config.js";
import { $ } from "./dom.js";
import {
  checked, focusOn, list, localProblems, place, sendForm, setStatus, showErrors, startSubmit, toggle,
} from "./forms.js";
import { requestJson } from "./http.js";
import { initLayout } from "./layout.js";

const MSG_SENDING = "Envoi de votre inscription…";
const MSG_REFUSED = "L'inscription n'a pas été enregistrée.";
const MSG_GUARDIAN = "Indiquez l'adresse e-mail d'un responsable légal : elle est obligatoire pour un élève de moins de 18 ans.";

const form = $("formulaire-inscription");
const parts = {
  organisation: $("partie-organisation"),
  school: $("partie-etablissement"),
  pupil: $("partie-eleve"),
};
let config = { labels: {}, territory: null };

function chosenKind() {
  const box = form.querySelector('input[name="type-inscription"]:checked');
  return box ? box.value : null;
}

function showPart() {
  const kind = chosenKind();
  for (const [name, part] of Object.entries(parts)) toggle(part, name === kind);
  if (kind === "organisation") showOutside();
  if (kind === "school") showInternshipLevels();
  if (kind === "pupil") showGuardian();
}

function showOutside() {
  const outside = $("org-hors-territoire").checked;
  toggle(form.querySelector('[data-part="organisation-inside"]'), !outside);
  toggle(form.querySelector('[data-part="organisation-outside"]'), outside);
}

function showInternshipLevels() {
  const taught = new Set(checked(parts.school, "eco-niveaux"));
  for (const wrapper of parts.school.querySelectorAll("[data-internship-level]")) {
    toggle(wrapper, taught.has(wrapper.dataset.internshipLevel));
  }
  $("eco-stages-aucun").hidden = taught.size > 0;
}

function showGuardian() {
  $("eleve-email-responsable").required = checked(parts.pupil, "eleve-age")[0] !== "adult";
}

function value(id) {
  return $(id).value.trim();
}

/** The body of POST /api/v1/actors for the part in use, and the problems found on the way. */
function body(kind) {
  const problems = [];
  if (kind === "organisation") {
    const outside = $("org-hors-territoire").checked;
    const town = outside ? value("org-commune-insee") : value("org-commune");
    const where = place("org-position", town, config, { required: outside });
    if (where.problem) problems.push(where.problem);
    return {
      problems,
      email: value("org-email"),
      name: value("org-nom"),
      data: {
        kind: value("org-type"), name: value("org-nom"), contact_email: value("org-email"), siret: value("org-siret"),
        naf_code: value("org-naf"), address: { street: value("org-rue"), postcode: value("org-code-postal") }, town,
        location: where.location, serves_territory_from_outside: outside,
      },
    };
  }
  if (kind === "school") {
    const town = value("eco-commune");
    const where = place("eco-position", town, config);
    if (where.problem) problems.push(where.problem);
    const levels = checked(parts.school, "eco-niveaux");
    const periods = {};
    for (const input of parts.school.querySelectorAll("[data-internship-level] input")) {
      const weeks = list(input.value);
      const level = input.closest("[data-internship-level]").dataset.internshipLevel;
      if (weeks.length && levels.includes(level)) periods[level] = weeks;
    }
    return {
      problems,
      email: value("eco-email"),
      name: value("eco-nom"),
      data: {
        kind: "school", name: value("eco-nom"), contact_email: value("eco-email"), uai: value("eco-uai"),
        school_type: value("eco-type"), levels, internship_periods: periods,
        address: { street: value("eco-rue"), postcode: value("eco-code-postal") }, town, location: where.location,
        guardian_copies: $("eco-copie-responsables").checked,
      },
    };
  }
  const minor = checked(parts.pupil, "eleve-age")[0] !== "adult";
  const guardian = value("eleve-email-responsable");
  if (minor && !guardian) problems.push({ field: $("eleve-email-responsable"), message: MSG_GUARDIAN });
  const data = {
    kind: "pupil", first_name: value("eleve-prenom"), level: value("eleve-niveau"), school_uai: value("eleve-uai"),
    town: value("eleve-commune"), is_minor: minor,
  };
  if (guardian) data.guardian_contact_email = guardian;
  return { problems, email: guardian, name: data.first_name, data };
}

function done(kind, sent, answer) {
  const message = $("inscription-faite-message");
  const who = kind === "pupil" ? "Votre inscription est enregistrée"
    : `« ${(answer && answer.name) || sent.name} » est inscrit${kind === "school" ? "" : "e"} dans l'annuaire de Vitawin`;
  if (kind === "pupil" && !sent.email) {
    message.textContent = `${who}. Sans adresse e-mail de responsable légal, aucun lien de connexion ne peut vous être `
      + "envoyé : demandez à votre établissement de vous aider.";
  } else if (kind === "pupil") {
    message.textContent = `${who}. Votre responsable légal en est informé à l'adresse ${sent.email} : c'est à cette `
      + "adresse que votre compte est créé, dans les instants qui viennent, et que vos liens de connexion sont envoyés.";
  } else {
    message.textContent = `${who}. Un e-mail de bienvenue part vers ${sent.email}. Votre compte Vitawin est créé à partir `
      + "de cette adresse dans les instants qui viennent : c'est là que vos liens de connexion seront envoyés.";
  }
  form.hidden = true;
  $("inscription-faite").hidden = false;
  focusOn($("inscription-faite-titre"));
}

async function submit(event) {
  event.preventDefault();
  const button = $("bouton-inscription");
  const status = $("statut-inscription");
  if (!startSubmit(form, button, status)) return;
  const kind = chosenKind();
  const problems = localProblems(form);
  if (!kind) {
    showErrors(form, problems);
    return;
  }
  const sent = body(kind);
  problems.push(...sent.problems);
  if (problems.length) {
    showErrors(form, problems);
    return;
  }
  await sendForm(form, {
    button, status, sending: MSG_SENDING, refused: MSG_REFUSED, done: (registered) => done(kind, sent, registered),
    call: () => requestJson("/api/v1/actors", { method: "POST", body: sent.data }),
  });
}

/** The schools of the directory as suggestions for a pupil's UAI (value: the UAI, label: the name). */
async function suggestSchools() {
  try {
    const answer = await requestJson("/api/v1/actors?kind=school&page_size=200");
    if (!answer.ok || !answer.data || !Array.isArray(answer.data.items)) return;
    const schools = answer.data.items.filter((item) => item.uai)
      .sort((a, b) => String(a.name).localeCompare(String(b.name), "fr"));
    const fragment = document.createDocumentFragment();
    for (const school of schools) {
      const option = document.createElement("option");
      option.value = school.uai;
      option.label = `${school.name} (${label(config, "school_types", school.school_type)})`;
      fragment.append(option);
    }
    $("eleve-etablissements").replaceChildren(fragment);
  } catch {
    // no suggestions: the UAI is typed
  }
}

async function main() {
  initLayout();
  form.addEventListener("change", (event) => {
    const name = event.target.name;
    if (name === "type-inscription") showPart();
    else if (name === "org-hors-territoire") showOutside();
    else if (name === "eco-niveaux") showInternshipLevels();
    else if (name === "eleve-age") showGuardian();
  });
  form.addEventListener("submit", submit);
  showPart();
  try {
    config = await loadConfig();
  } catch (error) {
    setStatus($("statut-inscription"), error.message, "error");
  }
  suggestSchools();
}

main();

// "Mon espace": what a proposal is about, and the requests of a school or of a pupil.
//
// Who may read a request is the requests service's rule (services/requests/vitawin_requests/
// access.py): a school's request is public (GET /api/v1/requests/<id>, without the referent's
// e-mail), a pupil's request is read by that pupil (its guardian's account), the referents of its
// school and territory managers only. A professional proposed for a pupil's request therefore gets
// a 404 and sees what the proposal itself says (the action), as in its e-mail's protections.
// Schools' names come from the public directory (GET /api/v1/actors?kind=school&town=...).

import { label } from "./config.js";
import { count, dateTime, day, isoWeek } from "./format.js";
import { HttpError, NETWORK_ERROR, messageOf } from "./http.js";
import { $, element } from "./dom.js";
import { SessionEnded, authJson } from "./session.js";
import { fact, setStatus } from "./forms.js";

const PARALLEL = 6;
const SCHOOL_PAGES = 3; // 600 schools in one town at most: more than any town of a territory has
const PUPIL_KINDS = ["job_information", "discovery_internship", "apprenticeship_search"];
const REQUEST_STATUSES = {
  open: "Ouverte", partly_matched: "En partie pourvue", fulfilled: "Pourvue", cancelled: "Annulée", expired: "Expirée",
};

/** Run `work(item)` on each item, PARALLEL at a time; the results in the items' order. */
export async function eachLimited(items, work, limit = PARALLEL) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index]);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export function townName(config, code) {
  const towns = (config.territory && config.territory.towns) || [];
  const town = towns.find((item) => item.insee === code);
  return town ? town.name : (code ? `commune ${code}` : "");
}

/** When a request takes place: its day, its weeks, or the month it starts. */
export function when(request) {
  if (request.date) return `le ${day(request.date)}`;
  const weeks = Array.isArray(request.period) ? request.period : [];
  if (weeks.length === 1) return isoWeek(weeks[0]);
  if (weeks.length > 1) return `de la ${isoWeek(weeks[0])} à la ${isoWeek(weeks[weeks.length - 1])}`;
  if (request.start) {
    const [year, month] = String(request.start).split("-");
    const months = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
      "novembre", "décembre"];
    const name = months[Number(month) - 1];
    if (name) return `à partir de ${name} ${year}`;
  }
  return "";
}

/** The title of a request: its kind, and when. */
export function requestTitle(config, request) {
  const kind = label(config, "request_kinds", request.kind)
    || label(config, "action_types", request.action_type) || "Demande";
  const moment = when(request);
  return moment ? `${kind} — ${moment}` : kind;
}

export function requestStatus(config, status) {
  const labels = (config.labels && config.labels.request_statuses) || REQUEST_STATUSES;
  return labels[status] || REQUEST_STATUSES[status] || status || "";
}

/** The requests of `ids` the caller may read: Map id -> request (absent: not readable, or gone). */
export async function readRequests(ids) {
  const found = new Map();
  await eachLimited([...new Set(ids)], async (id) => {
    try {
      const answer = await authJson(`/api/v1/requests/${encodeURIComponent(id)}`);
      if (answer.ok && answer.data) found.set(id, answer.data);
    } catch (error) {
      if (error instanceof SessionEnded) throw error;
      // unreachable now: the proposal shows what it says itself
    }
  });
  return found;
}

/** The names of the schools of `towns` from the public directory: Map UAI -> name. */
export async function schoolNames(towns) {
  const names = new Map();
  await eachLimited([...new Set(towns.filter(Boolean))], async (town) => {
    for (let page = 1; page <= SCHOOL_PAGES; page += 1) {
      let answer;
      try {
        answer = await authJson(`/api/v1/actors?kind=school&town=${encodeURIComponent(town)}&page_size=200&page=${page}`);
      } catch (error) {
        if (error instanceof SessionEnded) throw error;
        return;
      }
      if (!answer.ok || !answer.data) return;
      for (const school of answer.data.items || []) if (school.uai) names.set(school.uai, school.name);
      if (page * 200 >= (answer.data.total || 0)) return;
    }
  });
  return names;
}

/** The facts of a request (what, when, where, who), for a proposal or the list of requests. */
export function requestFacts(config, request, schools, prefix) {
  const facts = [];
  facts.push(fact("Demande", label(config, "request_kinds", request.kind) || "Demande", `${prefix}-kind`));
  const moment = request.date ? day(request.date) : when(request);
  if (moment) facts.push(fact(request.date ? "Date" : "Période", moment, `${prefix}-when`));
  if (request.school_uai) {
    const name = schools.get(request.school_uai);
    facts.push(fact("Établissement", name ? `${name} (UAI ${request.school_uai})` : `UAI ${request.school_uai}`,
      `${prefix}-school`));
  }
  if (request.town) facts.push(fact("Commune", townName(config, request.town), `${prefix}-town`));
  const levels = Array.isArray(request.levels) && request.levels.length ? request.levels
    : (request.level ? [request.level] : []);
  if (levels.length) facts.push(fact(levels.length > 1 ? "Niveaux" : "Niveau", levels.join(", "), `${prefix}-levels`));
  return facts;
}

// --- the requests of a school (its referent) or of a pupil (its guardian's account) ---------------
/**
 * Show the section "Les demandes de votre établissement" (referent: GET /api/v1/requests?school_uai=
 * its UAI, its pupils' requests included) or "Les demandes de votre enfant" (pupil: its own
 * requests, the only pupil requests it may read), each with its status and, for a referent, the
 * proposals made for it (`proposals`: those GET /api/v1/proposals gave, linked to their rows).
 */
export async function showRequests(me, config, proposals, signedOut) {
  const section = $("espace-demandes");
  const list = $("liste-demandes");
  const status = $("demandes-statut");
  const referent = me.role === "school_referent";
  $("demandes-titre").textContent = referent ? "Les demandes de votre établissement" : "Les demandes de votre enfant";
  $("demandes-explication").textContent = referent
    ? "Les demandes de votre établissement et de ses élèves, les plus récentes d'abord, avec leur état et les "
      + "professionnels proposés."
    : "Les demandes faites pour votre enfant, avec leur état. L'établissement confirme chaque mise en relation "
      + "proposée ; les coordonnées de votre enfant ne sont jamais données aux professionnels.";
  section.hidden = false;
  setStatus(status, "Chargement des demandes…");
  const query = referent
    ? `school_uai=${encodeURIComponent(me.school_uai || "")}`
    : PUPIL_KINDS.map((kind) => `kind=${kind}`).join("&");
  let requests;
  try {
    const answer = await authJson(`/api/v1/requests?${query}&page_size=100`);
    if (!answer.ok || !answer.data) {
      setStatus(status, messageOf(answer), "error");
      return;
    }
    requests = answer.data.items || [];
    if (!referent) requests = requests.filter((request) => request.requester_kind === "pupil");
    if (!requests.length) {
      setStatus(status, referent ? "Votre établissement n'a pas encore de demande." : "Aucune demande pour le moment.");
      return;
    }
    setStatus(status, `${count(requests.length, "demande", "demandes")}`
      + (answer.data.total > requests.length ? ` (les ${requests.length} plus récentes)` : "") + ".");
  } catch (error) {
    if (error instanceof SessionEnded) signedOut(error.message);
    else setStatus(status, error instanceof HttpError ? error.message : NETWORK_ERROR, "error");
    return;
  }
  const schools = new Map(referent && me.school_uai && me.display_name ? [[me.school_uai, me.display_name]] : []);
  const byRequest = new Map();
  for (const proposal of proposals || []) {
    if (!byRequest.has(proposal.request_id)) byRequest.set(proposal.request_id, []);
    byRequest.get(proposal.request_id).push(proposal);
  }
  const fragment = document.createDocumentFragment();
  for (const request of requests) fragment.append(requestRow(config, request, schools, referent ? byRequest : null));
  list.replaceChildren(fragment);
}

function requestRow(config, request, schools, byRequest) {
  const id = request.request_id;
  const row = element("li", "proposal");
  row.id = `demande-${id}`;
  row.dataset.testid = "request-row";
  row.dataset.requestId = id;
  row.dataset.status = request.status || "";
  const title = element("h3", "", requestTitle(config, request));
  title.id = `demande-${id}-titre`;
  const facts = element("dl", "proposal__facts");
  facts.append(
    fact("État", requestStatus(config, request.status), "request-status"),
    ...requestFacts(config, request, schools, "request"),
  );
  if (request.requester_kind === "pupil" && byRequest) facts.append(fact("Demandeur", "un ou une élève", "request-by"));
  const wanted = Number(request.professionals_wanted) || 0;
  if (wanted) {
    facts.append(fact("Professionnels", `${Number(request.accepted_count) || 0} accepté(s) sur ${wanted} recherché(s)`,
      "request-accepted"));
  }
  if (request.expires_at) facts.append(fact("Expire le", dateTime(request.expires_at), "request-expires"));
  row.append(title, facts);
  if (byRequest) {
    const mine = byRequest.get(id) || [];
    const heading = element("p", "proposal__reasons-title",
      mine.length ? `Professionnels proposés (${mine.length})` : "Aucun professionnel proposé pour le moment.");
    heading.id = `demande-${id}-propositions`;
    row.append(heading);
    if (mine.length) {
      const items = element("ul", "proposal__reasons");
      items.setAttribute("aria-labelledby", heading.id);
      items.dataset.testid = "request-proposals";
      for (const proposal of mine) {
        const item = element("li");
        const link = element("a", "", `Proposition ${proposal.rank ? `n° ${proposal.rank}` : ""}`.trim());
        link.href = `#proposition-${proposal.proposal_id}`;
        item.append(link, ` : ${label(config, "proposal_statuses", proposal.status)}`);
        items.append(item);
      }
      row.append(items);
    }
  }
  return row;
}

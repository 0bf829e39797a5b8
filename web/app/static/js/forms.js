// What the forms (/inscription, /engagement, /demande) share: the error summary and the messages
// beside each field, the API's errors mapped back to the fields, the checks made before sending,
// the sending itself (busy button, status, refusals), and the values typed the French way (decimal
// comma, lists separated by commas).
//
// A field is any element with a `data-field` attribute: the API's name of what it holds, as a
// dotted path ("address.postcode", "actions.internship.periods"); several paths separated by
// spaces when one control answers for more than one (the latitude box also answers for
// "location"). A field inside a disabled fieldset (a part of the form not in use) is left out.
//
// Accessibility (RGAA / WCAG 2.1 AA): on an error, a summary at the top of the form lists each
// message as a link to its field and takes the focus; each field gets its message (before the
// control, named in its aria-describedby) and aria-invalid="true"; the page's title starts with
// "Erreur". Nothing is told by colour alone: each message starts with a sign and its words.

import { element } from "./dom.js";
import { HttpError, NETWORK_ERROR, messageOf } from "./http.js";
import { SessionEnded } from "./session.js";

export const MSG_REQUIRED = "Ce champ est obligatoire.";
export const MSG_CHOOSE = "Choisissez une réponse.";
export const MSG_EMAIL = "Adresse e-mail invalide : elle doit avoir la forme nom@exemple.fr.";
export const MSG_INTEGER = "Nombre entier attendu (ex. 3).";
export const MSG_NUMBER = "Nombre attendu (ex. 2,5).";
const MSG_LOCATION_PAIR = "Indiquez la latitude et la longitude, ou aucune des deux.";
const MSG_LOCATION_NEEDED = "Indiquez la latitude et la longitude de ce lieu.";
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const ORIGINAL_TITLE = new WeakMap();

/** Whether `node` is in a part of the form that is not in use (hidden or disabled). */
export function inactive(node) {
  for (let at = node; at; at = at.parentElement) {
    if (at.hidden) return true;
    if (at.tagName === "FIELDSET" && at.disabled && at !== node) return true;
  }
  return false;
}

/** The fields of `form` in use, in the order of the page. */
export function fieldsOf(form) {
  return [...form.querySelectorAll("[data-field]")].filter((node) => !inactive(node));
}

function paths(node) {
  return (node.dataset.field || "").split(/\s+/).filter(Boolean);
}

/** The field answering for the API path `path` ("actions.internship.periods.0"): the longest
 * prefix of it that a field names. */
export function fieldFor(form, path) {
  const fields = fieldsOf(form);
  const parts = String(path).split(".");
  for (let size = parts.length; size > 0; size -= 1) {
    const wanted = parts.slice(0, size).join(".");
    const found = fields.find((node) => paths(node).includes(wanted));
    if (found) return found;
  }
  return null;
}

/** Every message of a flask-smorest error mapping, with its dotted path:
 * {"address": {"postcode": ["..."]}, "period": {"0": ["..."]}} -> [{path, message}]. */
export function flattenErrors(errors, prefix = "") {
  const found = [];
  if (typeof errors === "string") {
    found.push({ path: prefix, message: errors });
  } else if (Array.isArray(errors)) {
    for (const item of errors) found.push(...flattenErrors(item, prefix));
  } else if (errors && typeof errors === "object") {
    for (const [key, value] of Object.entries(errors)) {
      const path = key === "_schema" ? prefix : (prefix ? `${prefix}.${key}` : key);
      found.push(...flattenErrors(value, path));
    }
  }
  return found;
}

/** The element that takes the focus for a field: itself, or the first control of a group. */
export function focusTarget(field) {
  if (field.matches("input, select, textarea, button")) return field;
  return field.querySelector("input:not([disabled]), select:not([disabled]), textarea:not([disabled]), button")
    || field;
}

/** The field's name as the page shows it (its label, or its group's legend), without "(facultatif)". */
export function fieldName(field) {
  let text = "";
  if (field.matches("fieldset")) {
    const legend = field.querySelector(":scope > legend");
    text = legend ? legend.textContent : "";
  } else if (field.id) {
    const label = field.ownerDocument.querySelector(`label[for="${field.id}"]`);
    text = label ? label.textContent : (field.getAttribute("aria-label") || "");
  }
  return text.replace(/\(facultatif\)/g, "").replace(/\s+/g, " ").trim();
}

function messageNode(field) {
  const key = field.id || field.dataset.field.split(/\s+/)[0].replace(/\W+/g, "-");
  const id = `erreur-${key}`;
  let node = field.ownerDocument.getElementById(id);
  if (!node) {
    node = element("p", "field-error");
    node.id = id;
    node.dataset.testid = "field-error";
    node.dataset.errorFor = field.id || "";
    if (field.matches("fieldset")) {
      const after = field.querySelector(":scope > legend + .hint") || field.querySelector(":scope > legend");
      if (after) after.after(node);
      else field.prepend(node);
    } else {
      const wrapper = field.closest(".field, .check") || field.parentElement;
      const hint = wrapper && wrapper.querySelector(".hint");
      if (wrapper && wrapper.matches(".check")) wrapper.before(node);
      else if (hint && hint.compareDocumentPosition(field) & Node.DOCUMENT_POSITION_FOLLOWING) hint.after(node);
      else field.before(node);
    }
  }
  return node;
}

function describe(control, id, add) {
  const ids = (control.getAttribute("aria-describedby") || "").split(/\s+/).filter((x) => x && x !== id);
  if (add) ids.push(id);
  if (ids.length) control.setAttribute("aria-describedby", ids.join(" "));
  else control.removeAttribute("aria-describedby");
}

function controlsOfField(field) {
  return field.matches("input, select, textarea") ? [field] : [...field.querySelectorAll("input, select, textarea")];
}

function summaryOf(form) {
  let summary = form.querySelector(":scope > .error-summary");
  if (!summary) {
    summary = element("div", "error-summary");
    summary.id = `${form.id}-erreurs`;
    summary.tabIndex = -1;
    summary.dataset.testid = "error-summary";
    const title = element("h2", "error-summary__title");
    title.id = `${form.id}-erreurs-titre`;
    summary.setAttribute("aria-labelledby", title.id);
    const list = element("ul", "error-summary__list");
    summary.append(title, list);
    summary.hidden = true;
    form.prepend(summary);
  }
  return summary;
}

/** Remove every message, the summary and "Erreur" from the title. */
export function clearErrors(form) {
  for (const node of form.querySelectorAll(".field-error[data-testid='field-error']")) {
    for (const control of form.querySelectorAll(`[aria-describedby~="${node.id}"]`)) describe(control, node.id, false);
    node.remove();
  }
  for (const control of form.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
  const summary = form.querySelector(":scope > .error-summary");
  if (summary) summary.hidden = true;
  if (ORIGINAL_TITLE.has(form)) document.title = ORIGINAL_TITLE.get(form);
}

/**
 * Show `problems` ([{field, message}]; a null field: a message for the whole form) beside their
 * fields and in the summary, which takes the focus. Returns how many were shown.
 */
export function showErrors(form, problems, { focus = true } = {}) {
  clearErrors(form);
  if (!problems.length) return 0;
  const summary = summaryOf(form);
  const list = summary.querySelector("ul");
  list.replaceChildren();
  const seen = new Set();
  for (const { field, message } of problems) {
    const key = `${field ? (field.id || field.dataset.field) : ""}|${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const item = element("li");
    if (field) {
      const node = messageNode(field);
      node.textContent = node.textContent ? `${node.textContent} ${message}` : message;
      for (const control of controlsOfField(field)) {
        control.setAttribute("aria-invalid", "true");
        describe(control, node.id, true);
      }
      if (field.matches("fieldset")) describe(field, node.id, true);
      const target = focusTarget(field);
      const link = element("a", "", fieldName(field) ? `${fieldName(field)} : ${message}` : message);
      link.href = `#${target.id || ""}`;
      link.addEventListener("click", (event) => {
        event.preventDefault();
        target.focus();
        target.scrollIntoView({ block: "center" });
      });
      item.append(link);
    } else {
      item.textContent = message;
    }
    list.append(item);
  }
  const count = list.children.length;
  summary.querySelector("h2").textContent = count > 1
    ? `Le formulaire contient ${count} erreurs : corrigez-les, puis envoyez-le de nouveau.`
    : "Le formulaire contient une erreur : corrigez-la, puis envoyez-le de nouveau.";
  summary.hidden = false;
  if (!ORIGINAL_TITLE.has(form)) ORIGINAL_TITLE.set(form, document.title);
  document.title = `Erreur : ${ORIGINAL_TITLE.get(form)}`;
  if (focus) {
    summary.focus();
    summary.scrollIntoView({ block: "start" });
  }
  return count;
}

/** The API's answer to a refused form as [{field, message}] (flask-smorest: errors.json by field). */
export function serverProblems(form, answer, fallback) {
  const data = answer && answer.data;
  const errors = data && data.errors && (data.errors.json || data.errors);
  const problems = [];
  if (errors && typeof errors === "object") {
    for (const { path, message } of flattenErrors(errors)) {
      problems.push({ field: path ? fieldFor(form, path) : null, message });
    }
  }
  if (!problems.length) problems.push({ field: null, message: (data && data.message) || fallback });
  return problems;
}

/** Checks made before sending: what is required and missing, malformed e-mails and numbers. */
export function localProblems(form) {
  const problems = [];
  for (const field of fieldsOf(form)) {
    if (field.matches("fieldset")) {
      if (field.dataset.required !== undefined) {
        const boxes = [...field.querySelectorAll("input[type=checkbox], input[type=radio]")].filter((b) => !inactive(b));
        if (boxes.length && !boxes.some((box) => box.checked)) {
          problems.push({ field, message: field.dataset.requiredMessage || MSG_CHOOSE });
        }
      }
      continue;
    }
    if (!field.matches("input, select, textarea") || field.type === "checkbox" || field.type === "radio") continue;
    const value = field.value.trim();
    if (!value) {
      if (field.required) problems.push({ field, message: field.dataset.requiredMessage || MSG_REQUIRED });
      continue;
    }
    if (field.type === "email" && !EMAIL.test(value)) problems.push({ field, message: MSG_EMAIL });
    else if (field.dataset.kind === "integer" && !/^\d+$/.test(value)) problems.push({ field, message: MSG_INTEGER });
    else if (field.dataset.kind === "decimal" && Number.isNaN(decimal(value))) {
      problems.push({ field, message: MSG_NUMBER });
    }
  }
  return problems;
}

/** "2,5" or "2.5" -> 2.5; "" -> null; anything else -> NaN. */
export function decimal(text) {
  const value = String(text ?? "").trim().replace(/\s/g, "").replace(",", ".");
  if (!value) return null;
  return /^[-+]?\d+(\.\d+)?$/.test(value) ? Number(value) : Number.NaN;
}

/** A whole number typed in a box, or null when empty. */
export function integer(input) {
  const value = input.value.trim();
  return value ? Number.parseInt(value, 10) : null;
}

/** "2027-W24, 2027-W25" or one per line -> ["2027-W24", "2027-W25"]. */
export function list(text) {
  return String(text || "").split(/[\s,;]+/).map((item) => item.trim()).filter(Boolean);
}

/** The values of the checked boxes of a group. */
export function checked(container, name) {
  return [...container.querySelectorAll(`input[name="${name}"]:checked`)].filter((box) => !inactive(box))
    .map((box) => box.value);
}

/** Show or hide a part of the form; a hidden part is disabled too, so nothing in it is sent or checked. */
export function toggle(part, shown) {
  part.hidden = !shown;
  if (part.tagName === "FIELDSET") part.disabled = !shown;
  else for (const control of part.querySelectorAll("input, select, textarea, button")) control.disabled = !shown;
}

/** Mark a button busy (it stays focusable: aria-disabled, not disabled) and back. */
export function busy(button, on) {
  if (on) button.setAttribute("aria-disabled", "true");
  else button.removeAttribute("aria-disabled");
}

/** Set a status message (role="status" region). */
export function setStatus(node, text, tone) {
  node.textContent = text;
  node.classList.toggle("status--error", tone === "error");
  node.classList.toggle("status--success", tone === "success");
}

/** The start of a form's submit: false while its button is busy (the last submit is under way);
 * else the messages and the status of the last one are cleared. */
export function startSubmit(form, button, status) {
  if (button.getAttribute("aria-disabled") === "true") return false;
  clearErrors(form);
  setStatus(status, "", null);
  return true;
}

/**
 * Send a form with `call()` (a promise of http.js's {status, ok, data}), the button busy and
 * `sending` in the status meanwhile. Accepted: the status emptied, then `done(data)`. Refused (400,
 * 422): `refused` in the status, the API's messages beside their fields and in the summary. Any
 * other answer: its message. The session over (SessionEnded): `signedOut(message)` when given.
 * The network failing: its message.
 */
export async function sendForm(form, { button, status, sending, refused, call, done, signedOut = null }) {
  busy(button, true);
  setStatus(status, sending, null);
  try {
    const answer = await call();
    if (answer.ok) {
      setStatus(status, "", null);
      done(answer.data || {});
    } else if (answer.status === 400 || answer.status === 422) {
      setStatus(status, refused, "error");
      showErrors(form, serverProblems(form, answer, messageOf(answer)));
    } else {
      setStatus(status, messageOf(answer), "error");
    }
  } catch (error) {
    if (signedOut && error instanceof SessionEnded) signedOut(error.message);
    else setStatus(status, error instanceof HttpError ? error.message : NETWORK_ERROR, "error");
  } finally {
    busy(button, false);
  }
}

/** Move the focus to a heading or a panel shown after a step (it gets tabindex="-1"). */
export function focusOn(node) {
  if (!node.hasAttribute("tabindex")) node.tabIndex = -1;
  node.focus();
  node.scrollIntoView({ block: "start" });
}

/** A definition list's row. */
export function fact(term, value, testid) {
  const wrapper = element("div");
  const dd = element("dd", "", value);
  if (testid) dd.dataset.testid = testid;
  wrapper.append(element("dt", "", term), dd);
  return wrapper;
}

/** A number as French writes it: 48.8475 -> "48,8475". */
export function frenchDecimal(value) {
  return typeof value === "number" && Number.isFinite(value) ? String(value).replace(".", ",") : "";
}

/** The centre of a town of the territory (/app-config.json), or null. */
export function townCentre(config, code) {
  const towns = (config && config.territory && config.territory.towns) || [];
  const town = towns.find((item) => item.insee === code);
  return town ? { lat: town.centre.lat, lon: town.centre.lon } : null;
}

/**
 * The place typed in the latitude and longitude boxes `<prefix>-lat` / `<prefix>-lon`: {location}
 * when both are given, the centre of `town` when neither is (and `required` is false), else
 * {problem} for the latitude box.
 */
export function place(prefix, town, config, { required = false } = {}) {
  const latBox = document.getElementById(`${prefix}-lat`);
  const lat = decimal(latBox.value);
  const lon = decimal(document.getElementById(`${prefix}-lon`).value);
  if (Number.isNaN(lat) || Number.isNaN(lon)) return { location: undefined }; // localProblems says it
  if (lat !== null && lon !== null) return { location: { lat, lon } };
  if (lat !== null || lon !== null) return { problem: { field: latBox, message: MSG_LOCATION_PAIR } };
  const centre = required ? null : townCentre(config, town);
  if (!centre && (town || required)) return { problem: { field: latBox, message: MSG_LOCATION_NEEDED } };
  return { location: centre || undefined };
}

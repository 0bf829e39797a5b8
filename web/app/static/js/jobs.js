// The job picker of the forms: a text box with the ROME job sheets as suggestions (<datalist>,
// from /app-rome.json: "Boulanger / Boulangère (D1102)"), an "Ajouter ce métier" button, and the
// list of the jobs chosen, each with its "Retirer" button. A ROME code typed as it is ("d1102")
// is taken too, so the picker still works when the list cannot be loaded (the API checks codes).
//
// Markup (templates/_fields.html, macro job_picker): a container with data-job-picker holding the
// box (data-job-input), the button (data-job-add), the <datalist>, a role="status" message
// (data-job-status) and the <ul> of chosen jobs (data-job-list).

import { element } from "./dom.js";

const CODE_AT_END = /\(([A-Na-n]\d{4})\)\s*$/;
const CODE_ALONE = /^\s*([A-Na-n]\d{4})\s*$/;
export const MSG_UNKNOWN_JOB = "Métier introuvable : choisissez un métier dans la liste proposée, ou indiquez son code ROME (ex. D1102).";
const MSG_NO_LIST = "La liste des métiers n'a pas pu être chargée : indiquez les codes ROME (ex. D1102).";

let pending = null;

/** The ROME job sheets, [{code, label}] sorted by label (one request per page); [] when unavailable. */
export function loadJobs() {
  if (!pending) {
    pending = fetch("/app-rome.json", { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : null))
      .then((data) => (data && Array.isArray(data.jobs) ? data.jobs : []))
      .catch(() => []);
  }
  return pending;
}

function option(job) {
  return `${job.label} (${job.code})`;
}

/** A picker over `container`; `onChange` is called after each addition or removal. */
export function jobPicker(container, { onChange } = {}) {
  const input = container.querySelector("[data-job-input]");
  const add = container.querySelector("[data-job-add]");
  const datalist = container.querySelector("datalist");
  const status = container.querySelector("[data-job-status]");
  const chosenList = container.querySelector("[data-job-list]");
  const empty = container.querySelector("[data-job-empty]");
  const max = Number(container.dataset.max || 10);
  const labels = new Map();
  const byOption = new Map();
  const byLabel = new Map();
  let chosen = [];

  const ready = loadJobs().then((jobs) => {
    const fragment = document.createDocumentFragment();
    for (const job of jobs) {
      labels.set(job.code, job.label);
      byOption.set(option(job).toLowerCase(), job.code);
      byLabel.set(job.label.toLowerCase(), job.code);
      const item = document.createElement("option");
      item.value = option(job);
      fragment.append(item);
    }
    datalist.replaceChildren(fragment);
    if (!jobs.length && status) status.textContent = MSG_NO_LIST;
    render();
  });

  function nameOf(code) {
    return labels.has(code) ? `${labels.get(code)} (${code})` : code;
  }

  /** The ROME code of what is typed, or null. */
  function parse(text) {
    const value = String(text || "").trim();
    if (!value) return null;
    const lower = value.toLowerCase();
    if (byOption.has(lower)) return byOption.get(lower);
    if (byLabel.has(lower)) return byLabel.get(lower);
    const match = CODE_AT_END.exec(value) || CODE_ALONE.exec(value);
    if (!match) return null;
    const code = match[1].toUpperCase();
    return labels.size && !labels.has(code) ? null : code;
  }

  function render() {
    const fragment = document.createDocumentFragment();
    chosen.forEach((code, index) => {
      const item = element("li", "job-list__item");
      item.dataset.code = code;
      item.dataset.testid = "chosen-job";
      const name = element("span", "job-list__name", nameOf(code));
      const remove = element("button", "link-button", "Retirer");
      remove.type = "button";
      remove.setAttribute("aria-label", `Retirer ${nameOf(code)}`);
      remove.addEventListener("click", () => {
        chosen = chosen.filter((other) => other !== code);
        render();
        if (status) status.textContent = `Métier retiré : ${nameOf(code)}.`;
        const buttons = chosenList.querySelectorAll("button");
        (buttons[Math.min(index, buttons.length - 1)] || input).focus();
        if (onChange) onChange();
      });
      item.append(name, " ", remove);
      fragment.append(item);
    });
    chosenList.replaceChildren(fragment);
    chosenList.hidden = !chosen.length;
    if (empty) empty.hidden = Boolean(chosen.length);
  }

  /** Add what is typed; a French message when it cannot be. */
  function commit() {
    const text = input.value.trim();
    if (!text) return null;
    const code = parse(text);
    if (!code) return MSG_UNKNOWN_JOB;
    if (!chosen.includes(code)) {
      if (chosen.length >= max) return `Au plus ${max} métiers.`;
      chosen.push(code);
    }
    input.value = "";
    render();
    if (status) status.textContent = `Métier ajouté : ${nameOf(code)}.`;
    if (onChange) onChange();
    return null;
  }

  function addTyped() {
    const problem = commit();
    if (problem && status) status.textContent = problem;
    input.focus();
  }

  add.addEventListener("click", addTyped);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { // add the job, do not send the form
      event.preventDefault();
      addTyped();
    }
  });
  render();

  return {
    input,
    ready,
    /** The codes chosen, with what is still typed in the box when it is a job (added first). */
    codes() {
      return [...chosen];
    },
    commit,
    set(codes) {
      chosen = [...new Set(codes)];
      render();
    },
    nameOf,
  };
}

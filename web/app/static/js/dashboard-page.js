// The territory's dashboard (/tableau-de-bord), for territory managers: the counts of the three
// aggregate endpoints (GET /api/v1/actors/stats, /api/v1/requests/stats, /api/v1/proposals/stats,
// with the session's token) for a period of months and a town, as key figures and as sections, each
// with a bar chart drawn here in inline SVG, its data table (the chart's text alternative: a
// caption, th scope) and a CSV download of the table; and one CSV of every table.
//
// No chart library: horizontal bars are all these charts need, and a few lines of SVG keep them
// accessible (role="img" with a title naming the table that holds the values; values written
// beside the bars; a second series told by its hatching and the legend, never by colour alone),
// sized to the page (redrawn when its width changes) and within the Content-Security-Policy (SVG
// attributes, no inline style).
//
// Anyone else gets a French message instead: an anonymous visitor a link to /connexion; a person
// signed in with another role the same link (to sign in with a territory manager's account). The
// API says it too (401, 403): its answer wins over the role the session remembers.

import { loadConfig, label } from "./config.js";
import { decimal, download, toCsv } from "./csv.js";
import { $, element } from "./dom.js";
import { HttpError, NETWORK_ERROR, messageOf } from "./http.js";
import { initLayout } from "./layout.js";
import { SessionEnded, authJson, readSession } from "./session.js";

const MANAGER = "territory_manager";
const SVG_NS = "http://www.w3.org/2000/svg";
const ORGANISATION_KINDS = ["company", "craftsman", "local_authority", "association", "public_institution",
  "partner_organisation"];
const MORE_KINDS = { pupil: "Élève", territory_manager: "Gestionnaire de territoire" }; // not on the map's list
const STATUS_GROUPS = [
  ["pledges", "Engagements", "pledge_statuses", { active: "Actif", paused: "En pause", withdrawn: "Retiré" }],
  ["requests", "Demandes", "request_statuses", {}],
  ["initiatives", "Initiatives", null, { open: "Ouverte", closed: "Clôturée" }],
  ["proposals", "Propositions", "proposal_statuses", {}],
];
const MONTH = /^20\d{2}-(0[1-9]|1[0-2])$/;
const MSG_MONTH = "Mois invalide : format attendu AAAA-MM, par exemple 2026-09.";
const MSG_ORDER = "Le mois de fin doit être le mois de début ou un mois suivant.";
const MSG_ANONYMOUS = "Ce tableau de bord est réservé aux gestionnaires de territoire. Connectez-vous avec votre "
  + "compte de gestionnaire de territoire : vous recevrez un lien de connexion par e-mail.";
const NO_TOWN = "Sans commune";

const integer = new Intl.NumberFormat("fr-FR");
const oneDecimal = new Intl.NumberFormat("fr-FR", { maximumFractionDigits: 1 });
const monthName = new Intl.DateTimeFormat("fr-FR", { month: "long", year: "numeric", timeZone: "UTC" });
const parisMonth = new Intl.DateTimeFormat("en-CA", { year: "numeric", month: "2-digit", timeZone: "Europe/Paris" });

let config = { labels: {}, territory: null };
let current = null; // {filters, model, tables}
let generation = 0;
let chartCount = 0;
let observers = []; // the charts' ResizeObservers, let go when the sections are replaced

// --- formats ---------------------------------------------------------------------------------------
function monthLabel(month) {
  const [year, number] = month.split("-").map(Number);
  return monthName.format(new Date(Date.UTC(year, number - 1, 1)));
}

const FORMATS = {
  text: { html: (v) => v ?? "", csv: (v) => v ?? "" },
  int: { html: (v) => integer.format(v || 0), csv: (v) => String(v || 0), chart: (v) => integer.format(v || 0) },
  percent: {
    html: (v) => (v === null || v === undefined ? null : `${oneDecimal.format(v * 100)} %`),
    csv: (v) => (v === null || v === undefined ? "" : decimal(v * 100, 1)),
    chart: (v) => (v === null || v === undefined ? "sans objet" : `${oneDecimal.format(v * 100)} %`),
  },
  hours: {
    html: (v) => (v === null || v === undefined ? null : `${oneDecimal.format(v)} h`),
    csv: (v) => (v === null || v === undefined ? "" : decimal(v, 1)),
  },
};

function sum(items, pick = (item) => item.count) {
  return items.reduce((total, item) => total + (pick(item) || 0), 0);
}

function monthRange(first, last) {
  const months = [];
  let [year, number] = first.split("-").map(Number);
  for (let guard = 0; guard < 1200; guard += 1) {
    const month = `${year}-${String(number).padStart(2, "0")}`;
    if (month > last) break;
    months.push(month);
    number += 1;
    if (number > 12) { number = 1; year += 1; }
  }
  return months;
}

function thisMonth(offset = 0) {
  const parts = Object.fromEntries(parisMonth.formatToParts(new Date()).map((p) => [p.type, p.value]));
  let year = Number(parts.year);
  let number = Number(parts.month) + offset;
  while (number < 1) { number += 12; year -= 1; }
  return `${year}-${String(number).padStart(2, "0")}`;
}

// --- the model: what the tables show --------------------------------------------------------------
function townNames() {
  const towns = (config.territory && config.territory.towns) || [];
  return new Map(towns.map((town) => [town.insee, town.name]));
}

function townLabel(names, code) {
  if (code === null || code === undefined) return NO_TOWN;
  return names.get(code) || `Commune ${code} (hors territoire)`;
}

function buildModel(filters, actors, requests, proposals) {
  const names = townNames();
  const rates = proposals.proposals.rates;
  const ratesByTown = new Map(rates.by_town.map((r) => [r.town, r]));
  const pledgesByTown = new Map(actors.pledges.by_town.map((r) => [r.town, r.count]));

  // Towns: those of the territory (or the one asked for), then the others the data names.
  const codes = filters.town ? [filters.town]
    : [...names.entries()].sort((a, b) => a[1].localeCompare(b[1], "fr")).map(([code]) => code);
  const seen = [actors.actors.rows, actors.pledges.by_town, requests.requests.rows, requests.initiatives.rows,
    proposals.proposals.rows].flat().map((row) => row.town);
  for (const code of seen) if (!codes.includes(code)) codes.push(code);
  const byTown = (rows, code, pick) => sum(rows.filter((r) => r.town === code), pick);
  const towns = codes.map((code) => {
    const kinds = actors.actors.rows.filter((r) => r.town === code);
    const rate = ratesByTown.get(code) || {};
    return {
      key: code ?? "", label: townLabel(names, code), insee: code ?? "",
      actors: sum(kinds),
      organisations: sum(kinds.filter((r) => ORGANISATION_KINDS.includes(r.kind))),
      schools: sum(kinds.filter((r) => r.kind === "school")),
      pupils: sum(kinds.filter((r) => r.kind === "pupil")),
      pledges: pledgesByTown.get(code) || 0,
      requests: byTown(requests.requests.rows, code),
      initiatives: byTown(requests.initiatives.rows, code),
      proposals: rate.proposed || 0,
      answered: rate.answered || 0,
      accepted: rate.accepted || 0,
      answer_rate: rate.answer_rate ?? null,
      acceptance_rate: rate.acceptance_rate ?? null,
      median_answer_hours: rate.median_answer_hours ?? null,
    };
  });

  // Months: every month from the first to the last any service shows.
  const axis = [actors, requests, proposals].flatMap((body) => body.period.months).sort();
  const months = axis.length ? monthRange(axis[0], axis[axis.length - 1]) : [];
  const pledgesByMonth = new Map(actors.pledges.by_month.map((r) => [r.month, r.count]));
  const inMonth = (rows, month, extra = () => true) => sum(rows.filter((r) => r.month === month && extra(r)));
  const monthRows = months.map((month) => ({
    key: month, label: monthLabel(month), month,
    actors: inMonth(actors.actors.rows, month),
    pledges: pledgesByMonth.get(month) || 0,
    requests: inMonth(requests.requests.rows, month),
    initiatives: inMonth(requests.initiatives.rows, month),
    proposals: inMonth(proposals.proposals.rows, month),
    accepted: inMonth(proposals.proposals.rows, month, (r) => r.status === "accepted"),
  }));

  const sectors = actors.sectors.rows.map((r) => ({ key: r.section, label: r.label, section: r.section, count: r.count }));

  const actionLabels = (config.labels && config.labels.action_types) || {};
  const actionCodes = [...new Set([...Object.keys(actionLabels), ...actors.pledges.rows.map((r) => r.action_type),
    ...requests.requests.rows.map((r) => r.action_type), ...proposals.proposals.rows.map((r) => r.action_type)])];
  const ofAction = (rows, code, extra = () => true) => sum(rows.filter((r) => r.action_type === code && extra(r)));
  const actions = actionCodes.map((code) => ({
    key: code, label: label(config, "action_types", code),
    pledges: ofAction(actors.pledges.rows, code),
    requests: ofAction(requests.requests.rows, code),
    proposals: ofAction(proposals.proposals.rows, code),
    accepted: ofAction(proposals.proposals.rows, code, (r) => r.status === "accepted"),
  }));

  const kindLabels = { ...((config.labels && config.labels.actor_kinds) || {}), ...MORE_KINDS };
  const kindCodes = [...new Set([...Object.keys(kindLabels), ...actors.actors.rows.map((r) => r.kind)])];
  const kinds = kindCodes.map((code) => ({
    key: code, label: kindLabels[code] || code, count: sum(actors.actors.rows.filter((r) => r.kind === code)),
  }));

  const counts = { pledges: actors.pledges.by_status, requests: requests.requests.by_status,
    initiatives: requests.initiatives.by_status, proposals: proposals.proposals.by_status };
  const statuses = STATUS_GROUPS.flatMap(([group, what, labelsKey, fallback]) => Object.entries(counts[group] || {})
    .map(([code, count]) => ({
      key: `${group}-${code}`, label: what,
      status: (labelsKey && label(config, labelsKey, code) !== code) ? label(config, labelsKey, code) : (fallback[code] || code),
      count,
    })));

  return {
    towns, months: monthRows, sectors, actions, kinds, statuses,
    totals: {
      actors: actors.actors.total, organisations: actors.sectors.total, pledges: actors.pledges.total,
      activePledges: actors.pledges.by_status.active || 0, requests: requests.requests.total,
      fulfilled: requests.requests.by_status.fulfilled || 0, initiatives: requests.initiatives.total,
      proposals: proposals.proposals.total, answered: rates.answered, accepted: rates.accepted,
      answer_rate: rates.answer_rate, acceptance_rate: rates.acceptance_rate,
      median_answer_hours: rates.median_answer_hours,
    },
  };
}

function periodText(filters) {
  const town = filters.town ? townLabel(townNames(), filters.town) : "toutes les communes";
  if (filters.from && filters.to) {
    const span = filters.from === filters.to ? `en ${monthLabel(filters.from)}`
      : `de ${monthLabel(filters.from)} à ${monthLabel(filters.to)}`;
    return `${span}, ${town}`;
  }
  if (filters.from) return `depuis ${monthLabel(filters.from)}, ${town}`;
  if (filters.to) return `jusqu'à ${monthLabel(filters.to)} inclus, ${town}`;
  return `depuis le début, ${town}`;
}

// The tables: their columns (the first one heads each row), rows, total and chart.
function tablesOf(model, filters) {
  const when = periodText(filters);
  const countColumns = (items) => items.map(([key, text]) => ({ key, label: text, type: "int" }));
  const total = (rows, keys, extra = {}) => ({
    label: "Total", ...Object.fromEntries(keys.map((key) => [key, sum(rows, (r) => r[key])])), ...extra,
  });
  const townCounts = [["actors", "Acteurs inscrits"], ["organisations", "Organisations"],
    ["schools", "Établissements scolaires"], ["pupils", "Élèves"], ["pledges", "Engagements"],
    ["requests", "Demandes"], ["initiatives", "Initiatives"], ["proposals", "Propositions"],
    ["accepted", "Propositions acceptées"]];
  const monthCounts = [["actors", "Acteurs inscrits"], ["pledges", "Engagements"], ["requests", "Demandes"],
    ["initiatives", "Initiatives"], ["proposals", "Propositions"], ["accepted", "Propositions acceptées"]];
  const actionCounts = [["pledges", "Engagements proposant ce type d'action"], ["requests", "Demandes"],
    ["proposals", "Propositions"], ["accepted", "Propositions acceptées"]];
  const t = model.totals;
  return [
    {
      id: "communes", title: "Par commune", caption: `Chiffres par commune, ${when}`,
      columns: [{ key: "label", label: "Commune", type: "text" }, { key: "insee", label: "Code INSEE", type: "text" },
        ...countColumns(townCounts)],
      rows: model.towns,
      total: model.towns.length > 1 ? total(model.towns, townCounts.map(([k]) => k), { insee: "" }) : null,
      chart: { what: "par commune", series: ["actors", "pledges", "requests", "proposals", "accepted", "organisations"] },
    },
    {
      id: "taux", title: "Réponses aux propositions, par commune",
      caption: `Taux de réponse et d'acceptation des propositions par commune de la demande, ${when}`,
      columns: [{ key: "label", label: "Commune", type: "text" }, { key: "insee", label: "Code INSEE", type: "text" },
        { key: "proposals", label: "Propositions", type: "int" },
        { key: "answered", label: "Propositions avec réponse", type: "int" },
        { key: "accepted", label: "Propositions acceptées", type: "int" },
        { key: "answer_rate", label: "Taux de réponse (%)", type: "percent" },
        { key: "acceptance_rate", label: "Taux d'acceptation (%)", type: "percent" },
        { key: "median_answer_hours", label: "Délai médian de réponse (h)", type: "hours" }],
      rows: model.towns,
      total: model.towns.length > 1 ? {
        label: "Tout le territoire", insee: "", proposals: t.proposals, answered: t.answered, accepted: t.accepted,
        answer_rate: t.answer_rate, acceptance_rate: t.acceptance_rate, median_answer_hours: t.median_answer_hours,
      } : null,
      chart: { what: "par commune", together: ["answer_rate", "acceptance_rate"], max: 1,
        only: (row) => row.proposals > 0, whatMore: " (les communes qui ont eu des propositions)",
        none: "Aucune proposition dans cette période : pas de taux à représenter." },
    },
    {
      id: "mois", title: "Par mois", caption: `Chiffres par mois, ${when}`,
      columns: [{ key: "label", label: "Mois", type: "text" }, ...countColumns(monthCounts)],
      rows: model.months,
      total: model.months.length > 1 ? total(model.months, monthCounts.map(([k]) => k)) : null,
      chart: { what: "par mois", series: monthCounts.map(([k]) => k) },
      empty: "Aucune donnée dans cette période.",
    },
    {
      id: "secteurs", title: "Organisations par secteur d'activité",
      caption: `Organisations inscrites par section de la NAF rév. 2 (INSEE), ${when}`,
      columns: [{ key: "label", label: "Secteur d'activité", type: "text" },
        { key: "section", label: "Section NAF", type: "text" }, { key: "count", label: "Organisations", type: "int" }],
      rows: model.sectors,
      total: model.sectors.length > 1 ? total(model.sectors, ["count"], { section: "" }) : null,
      chart: { what: "par secteur d'activité", series: ["count"] },
      empty: "Aucune organisation inscrite dans cette période.",
    },
    {
      id: "actions", title: "Par type d'action", caption: `Chiffres par type d'action, ${when}`,
      columns: [{ key: "label", label: "Type d'action", type: "text" }, ...countColumns(actionCounts)],
      rows: model.actions, total: null, // an engagement offers several actions: a total would count it twice
      chart: { what: "par type d'action", series: actionCounts.map(([k]) => k) },
      note: "Un engagement qui propose plusieurs types d'action compte dans chacun.",
    },
    {
      id: "types", title: "Acteurs par type", caption: `Acteurs inscrits par type, ${when}`,
      columns: [{ key: "label", label: "Type d'acteur", type: "text" }, { key: "count", label: "Acteurs inscrits", type: "int" }],
      rows: model.kinds, total: model.kinds.length > 1 ? total(model.kinds, ["count"]) : null,
      chart: { what: "par type d'acteur", series: ["count"] },
    },
    {
      id: "etats", title: "État aujourd'hui",
      caption: `État aujourd'hui des engagements, demandes, initiatives et propositions, ${when}`,
      columns: [{ key: "label", label: "Ce qui est compté", type: "text" }, { key: "status", label: "État", type: "text" },
        { key: "count", label: "Nombre", type: "int" }],
      rows: model.statuses, total: null, chart: null,
    },
  ];
}

// --- SVG bar charts ------------------------------------------------------------------------------------
function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The words of `text` in lines of at most `width` pixels (about 0.62 em a character of bold text), 3
 * lines at most. */
function wrap(text, width, fontSize) {
  const perLine = Math.max(8, Math.floor(width / (fontSize * 0.62)));
  const lines = [];
  let line = "";
  for (const word of String(text).split(/\s+/)) {
    const next = line ? `${line} ${word}` : word;
    if (next.length > perLine && line) {
      lines.push(line);
      line = word;
    } else {
      line = next;
    }
  }
  if (line) lines.push(line);
  if (lines.length > 3) {
    lines.length = 3;
    lines[2] = `${lines[2].slice(0, perLine - 1)}…`;
  }
  return lines;
}

/**
 * Horizontal bars, one group per category, one bar per series: `categories` [label], `series`
 * [{label, values, format}], `max` (the scale's end; the largest value when absent). On a narrow
 * screen each category's label sits above its bars (room for long labels on a phone); from 600 px
 * in a column on their left. Each value is written after its bar.
 */
function barChart({ title, categories, series, max, width }) {
  const id = `tdb-graphique-${(chartCount += 1)}`;
  const fontSize = 14;
  const lineHeight = fontSize + 3;
  const valueRoom = 92;
  const labelWidth = width >= 600 ? Math.min(240, Math.round(width * 0.28)) : 0;
  const x0 = labelWidth ? labelWidth + 10 : 0;
  const plot = Math.max(60, width - x0 - valueRoom);
  const top = series.length > 1 ? 34 : 6;
  const barHeight = 16;
  const gap = 3;
  const scale = max || Math.max(1, ...series.flatMap((s) => s.values.map((v) => v || 0)));
  const root = svg("svg", { xmlns: SVG_NS, width, role: "img", "aria-labelledby": `${id}-titre ${id}-desc`,
    class: "chart__svg", focusable: "false" });
  root.append(svg("title", { id: `${id}-titre` }, title),
    svg("desc", { id: `${id}-desc` }, "Les valeurs de ce graphique sont dans le tableau qui le suit."));
  const defs = svg("defs");
  const pattern = svg("pattern", { id: `${id}-hachures`, patternUnits: "userSpaceOnUse", width: 6, height: 6,
    patternTransform: "rotate(45)" });
  pattern.append(svg("rect", { width: 6, height: 6, fill: "#ffffff" }),
    svg("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#1d3b8f", "stroke-width": 3 }));
  defs.append(pattern);
  root.append(defs);
  const fillOf = (index) => (index === 0 ? "#1d3b8f" : `url(#${id}-hachures)`);

  if (series.length > 1) { // the legend: the same swatch as the bars, and the series' name
    let x = x0;
    series.forEach((item, index) => {
      root.append(svg("rect", { x, y: 8, width: 18, height: 14, fill: fillOf(index), stroke: "#1d3b8f", "stroke-width": 1 }));
      root.append(svg("text", { x: x + 24, y: 20, "font-size": 13, fill: "#1b1b1b" }, item.label));
      x += 24 + item.label.length * 13 * 0.55 + 18;
    });
  }

  let y = top;
  categories.forEach((category, row) => {
    const lines = wrap(category, labelWidth || width, fontSize);
    lines.forEach((text, index) => {
      root.append(svg("text", { x: 0, y: y + fontSize + index * lineHeight, "font-size": fontSize,
        "font-weight": 600, fill: "#1b1b1b" }, text));
    });
    const labelHeight = lines.length * lineHeight;
    let barY = labelWidth ? y + 1 : y + labelHeight + 4;
    series.forEach((item, index) => {
      const value = item.values[row];
      const length = value ? Math.max(2, (value / scale) * plot) : 0;
      if (length) {
        root.append(svg("rect", { x: x0, y: barY, width: length.toFixed(1), height: barHeight, fill: fillOf(index),
          stroke: "#1d3b8f", "stroke-width": 1, "data-value": value }));
      }
      root.append(svg("text", { x: (x0 + length + 6).toFixed(1), y: barY + barHeight - 3, "font-size": 13,
        fill: "#1b1b1b" }, item.format(value)));
      barY += barHeight + gap;
    });
    y = Math.max(barY, labelWidth ? y + labelHeight : 0) + 10;
  });
  if (labelWidth) { // the bars' baseline, between the labels' column and the bars
    root.append(svg("line", { x1: x0 + 0.5, y1: top, x2: x0 + 0.5, y2: Math.max(top, y - 10), stroke: "#767676",
      "stroke-width": 1 }));
  }
  root.setAttribute("height", Math.ceil(y));
  root.setAttribute("viewBox", `0 0 ${width} ${Math.ceil(y)}`);
  return root;
}

// --- sections: chart, table, CSV --------------------------------------------------------------------
function cell(tag, column, value, scope) {
  const node = element(tag);
  if (scope) node.scope = scope;
  node.dataset.column = column.key;
  if (column.type !== "text") node.className = "num";
  const text = FORMATS[column.type].html(value);
  if (text === null) { // no value: a dash on screen, "sans objet" for screen readers
    const dash = element("span", "", "—");
    dash.setAttribute("aria-hidden", "true");
    node.append(dash, element("span", "visually-hidden", "sans objet"));
  } else {
    node.textContent = text;
  }
  return node;
}

function tableOf(table) {
  const captionId = `tdb-${table.id}-legende`;
  const node = element("table", "data-table");
  node.id = `tdb-${table.id}-tableau`;
  node.dataset.testid = `dashboard-table-${table.id}`;
  const caption = element("caption", "", table.caption);
  caption.id = captionId;
  const head = element("thead");
  const headRow = element("tr");
  for (const column of table.columns) {
    const th = element("th", column.type === "text" ? "" : "num", column.label);
    th.scope = "col";
    headRow.append(th);
  }
  head.append(headRow);
  const body = element("tbody");
  for (const row of table.rows) {
    const tr = element("tr");
    tr.dataset.key = row.key;
    table.columns.forEach((column, index) => tr.append(cell(index === 0 ? "th" : "td", column, row[column.key],
      index === 0 ? "row" : null)));
    body.append(tr);
  }
  node.append(caption, head, body);
  if (table.total) {
    const foot = element("tfoot");
    const tr = element("tr");
    tr.dataset.key = "total";
    table.columns.forEach((column, index) => tr.append(cell(index === 0 ? "th" : "td", column, table.total[column.key],
      index === 0 ? "row" : null)));
    foot.append(tr);
    node.append(foot);
  }
  // A wide table scrolls on its own on a phone: a region reachable by keyboard, named by the caption.
  const scroller = element("div", "table-scroll");
  scroller.setAttribute("role", "region");
  scroller.setAttribute("aria-labelledby", captionId);
  scroller.tabIndex = 0;
  scroller.append(node);
  return scroller;
}

function csvLines(table) {
  const lines = [table.columns.map((column) => column.label)];
  const line = (row) => table.columns.map((column) => FORMATS[column.type].csv(row[column.key]));
  for (const row of table.rows) lines.push(line(row));
  if (table.total) lines.push(line(table.total));
  return lines;
}

function fileName(part) {
  const { from, to, town } = current.filters;
  const where = town ? `-${town}` : "";
  return `vitawin-tableau-de-bord-${part}${where}-${from || "debut"}_${to || "aujourdhui"}.csv`;
}

function drawChart(holder, table, seriesKeys) {
  const columns = new Map(table.columns.map((column) => [column.key, column]));
  const rows = table.rows.filter(table.chart.only || (() => true));
  const series = seriesKeys.map((key) => ({
    label: columns.get(key).label.replace(/ \(%\)$/, ""),
    values: rows.map((row) => row[key]),
    format: FORMATS[columns.get(key).type].chart,
  }));
  const names = series.map((s) => s.label.toLowerCase()).join(" et ");
  const width = Math.max(260, Math.floor(holder.clientWidth || 320));
  if (!rows.length) {
    holder.replaceChildren(element("p", "", table.chart.none || "Aucune donnée à représenter."));
    return;
  }
  holder.replaceChildren(barChart({
    title: `Graphique en barres : ${names} ${table.chart.what}${table.chart.whatMore || ""}.`, width,
    max: table.chart.max,
    categories: rows.map((row) => (table.id === "secteurs" ? `${row.section} — ${row.label}` : row.label)),
    series,
  }));
  holder.dataset.series = seriesKeys.join(" ");
}

function sectionOf(table) {
  const section = element("section", "dashboard-section");
  section.id = `tdb-section-${table.id}`;
  section.dataset.testid = `dashboard-section-${table.id}`;
  const title = element("h2", "", table.title);
  title.id = `tdb-${table.id}-titre`;
  section.setAttribute("aria-labelledby", title.id);
  section.append(title);
  if (table.note) section.append(element("p", "hint", table.note));

  if (table.chart && table.rows.length) {
    const holder = element("div", "chart");
    holder.id = `tdb-${table.id}-graphique`;
    holder.dataset.testid = `dashboard-chart-${table.id}`;
    let keys = table.chart.together || [table.chart.series[0]];
    if (!table.chart.together && table.chart.series.length > 1) { // which column the chart shows
      const field = element("div", "field");
      const select = element("select");
      select.id = `tdb-${table.id}-indicateur`;
      select.dataset.testid = `dashboard-measure-${table.id}`;
      const name = element("label", "", "Indicateur du graphique");
      name.htmlFor = select.id;
      for (const key of table.chart.series) {
        const option = element("option", "", table.columns.find((column) => column.key === key).label);
        option.value = key;
        select.append(option);
      }
      select.addEventListener("change", () => {
        keys = [select.value];
        drawChart(holder, table, keys);
      });
      field.append(name, select);
      section.append(field);
    }
    section.append(holder);
    // Drawn once in the page (its width known), again when its width changes.
    if ("ResizeObserver" in window) {
      let lastWidth = 0;
      const observer = new ResizeObserver((entries) => {
        const width = Math.floor(entries[0].contentRect.width);
        if (width && Math.abs(width - lastWidth) > 8) {
          lastWidth = width;
          drawChart(holder, table, keys);
        }
      });
      observer.observe(holder);
      observers.push(observer);
    } else {
      requestAnimationFrame(() => drawChart(holder, table, keys));
    }
  }
  if (!table.rows.length) section.append(element("p", "", table.empty || "Aucune donnée."));
  section.append(tableOf(table));

  const button = element("button", "button button--secondary", "Télécharger ce tableau (CSV)");
  button.type = "button";
  button.id = `tdb-${table.id}-csv`;
  button.dataset.testid = `dashboard-csv-${table.id}`;
  button.setAttribute("aria-describedby", title.id);
  button.addEventListener("click", () => download(fileName(table.id), toCsv(csvLines(table))));
  section.append(button);
  return section;
}

/** "dont 1 pourvue", "dont 3 pourvues". */
function among(count, singular, plural) {
  return `dont ${integer.format(count)} ${count > 1 ? plural : singular}`;
}

/** A time to answer: "26,5 h", or in minutes under an hour ("30 min"); "sans objet" without answer. */
function duration(hours) {
  if (hours === null || hours === undefined) return "sans objet";
  return hours < 1 ? `${Math.round(hours * 60)} min` : `${oneDecimal.format(hours)} h`;
}

function showFigures(model, filters) {
  const t = model.totals;
  const percent = (v) => FORMATS.percent.html(v) ?? "sans objet";
  const figures = [
    ["actors", "Acteurs inscrits", integer.format(t.actors)],
    ["organisations", "Organisations", integer.format(t.organisations)],
    ["pledges", "Engagements", integer.format(t.pledges), among(t.activePledges, "actif", "actifs")],
    ["requests", "Demandes", integer.format(t.requests), among(t.fulfilled, "pourvue", "pourvues")],
    ["initiatives", "Initiatives", integer.format(t.initiatives)],
    ["proposals", "Propositions", integer.format(t.proposals), among(t.accepted, "acceptée", "acceptées")],
    ["answer-rate", "Taux de réponse", percent(t.answer_rate)],
    ["acceptance-rate", "Taux d'acceptation", percent(t.acceptance_rate)],
    ["median-hours", "Délai médian de réponse", duration(t.median_answer_hours)],
  ];
  const list = $("tdb-chiffres");
  list.replaceChildren(...figures.map(([key, term, value, detail]) => {
    const item = element("div", "kpi");
    const dd = element("dd", "kpi__value", value);
    dd.dataset.testid = `dashboard-kpi-${key}`;
    item.append(element("dt", "kpi__term", term), dd);
    if (detail) item.append(element("dd", "kpi__detail", detail));
    return item;
  }));
  $("tdb-chiffres-periode").textContent = `Période : ${periodText(filters)}.`;
}

function render(filters, bodies) {
  const model = buildModel(filters, ...bodies);
  const tables = tablesOf(model, filters);
  current = { filters, model, tables };
  observers.forEach((observer) => observer.disconnect());
  observers = [];
  showFigures(model, filters);
  $("tdb-sections").replaceChildren(...tables.map(sectionOf));
  $("tdb-csv-tout").disabled = false;
}

function downloadAll() {
  if (!current) return;
  const lines = [[`Vitawin — tableau de bord du territoire${config.territory ? ` ${config.territory.name}` : ""}`],
    [`Période : ${periodText(current.filters)}`], []];
  for (const table of current.tables) lines.push([table.caption], ...csvLines(table), []);
  download(fileName("complet"), toCsv(lines));
}

// --- filters, loading, refusals ------------------------------------------------------------------------
function filtersFromUrl() {
  const params = new URLSearchParams(window.location.search);
  const has = (name) => params.has(name);
  return {
    from: has("from") ? params.get("from") : thisMonth(-11),
    to: has("to") ? params.get("to") : thisMonth(0),
    town: params.get("town") || "",
  };
}

function setFieldError(input, errorNode, message) {
  errorNode.textContent = message || "";
  errorNode.hidden = !message;
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}

function checkFilters(filters) {
  const errors = {};
  if (filters.from && !MONTH.test(filters.from)) errors.from = MSG_MONTH;
  if (filters.to && !MONTH.test(filters.to)) errors.to = MSG_MONTH;
  if (!errors.from && !errors.to && filters.from && filters.to && filters.to < filters.from) errors.to = MSG_ORDER;
  return errors;
}

function showFilterErrors(errors) {
  setFieldError($("tdb-du"), $("tdb-erreur-du"), errors.from);
  setFieldError($("tdb-au"), $("tdb-erreur-au"), errors.to);
  const first = errors.from ? $("tdb-du") : errors.to ? $("tdb-au") : null;
  if (first) first.focus();
  return Boolean(first);
}

function statusMessage(text, tone) {
  const status = $("tdb-statut");
  status.textContent = text;
  status.classList.toggle("status--error", tone === "error");
}

/** The refusal instead of the dashboard; `signedIn`: the link offers another account. */
function refuse(message, signedIn = false) {
  $("tdb-contenu").hidden = true;
  $("tdb-statut").textContent = "";
  $("tdb-refus-message").textContent = message;
  $("tdb-lien-connexion").textContent = signedIn ? "Se connecter avec un autre compte" : "Se connecter";
  $("tdb-refus").hidden = false;
}

/** The refusal for a signed-in person: their role named when the session knows it (and it is not
 * a territory manager's: the API refused a session that said so). */
function otherRoleMessage(role) {
  const name = role && role !== MANAGER ? label(config, "roles", role) : "";
  return `Vous êtes connecté(e)${name ? ` en tant que ${name}` : ""}, mais ce tableau de bord est réservé aux `
    + "gestionnaires de territoire. Pour le consulter, connectez-vous avec un compte de gestionnaire de territoire.";
}

async function load(filters) {
  const mine = (generation += 1);
  const query = new URLSearchParams();
  if (filters.from) query.set("from", filters.from);
  if (filters.to) query.set("to", filters.to);
  if (filters.town) query.set("town", filters.town);
  const suffix = query.toString() ? `?${query}` : "";
  statusMessage("Chargement des chiffres…");
  $("tdb-sections").setAttribute("aria-busy", "true");
  let answers;
  try {
    answers = await Promise.all(["/api/v1/actors/stats", "/api/v1/requests/stats", "/api/v1/proposals/stats"]
      .map((url) => authJson(`${url}${suffix}`)));
  } catch (error) {
    if (mine !== generation) return;
    $("tdb-sections").removeAttribute("aria-busy");
    if (error instanceof SessionEnded) refuse(`${error.message} ${MSG_ANONYMOUS}`);
    else statusMessage(error instanceof HttpError ? error.message : NETWORK_ERROR, "error");
    return;
  }
  if (mine !== generation) return; // a newer choice of filters was made meanwhile
  $("tdb-sections").removeAttribute("aria-busy");
  const refused = answers.find((answer) => answer.status === 403);
  if (refused) {
    refuse(otherRoleMessage((readSession() || {}).role), true);
    return;
  }
  const invalid = answers.find((answer) => answer.status === 422);
  if (invalid) {
    const fields = (invalid.data && invalid.data.errors && invalid.data.errors.query) || {};
    const first = (name) => (Array.isArray(fields[name]) ? fields[name][0] : fields[name]) || null;
    showFilterErrors({ from: first("from"), to: first("to") });
    statusMessage(messageOf(invalid), "error");
    return;
  }
  const failed = answers.find((answer) => !answer.ok);
  if (failed) {
    statusMessage(messageOf(failed), "error");
    return;
  }
  render(filters, answers.map((answer) => answer.data));
  statusMessage(`Tableau de bord à jour : ${periodText(filters)}.`);
}

async function main() {
  initLayout();
  try {
    config = await loadConfig();
  } catch {
    // without the labels and towns, codes are shown as they are
  }
  const session = readSession();
  if (!session) {
    refuse(MSG_ANONYMOUS);
    return;
  }
  if (session.role && session.role !== MANAGER) {
    refuse(otherRoleMessage(session.role), true);
    return;
  }
  const filters = filtersFromUrl();
  $("tdb-du").value = filters.from;
  $("tdb-au").value = filters.to;
  $("tdb-commune").value = filters.town;
  if ($("tdb-commune").value !== filters.town) filters.town = ""; // a town not of the territory's list
  $("tdb-contenu").hidden = false;

  $("tdb-filtres").addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = { from: $("tdb-du").value.trim(), to: $("tdb-au").value.trim(), town: $("tdb-commune").value };
    if (showFilterErrors(checkFilters(chosen))) {
      statusMessage("Corrigez la période : les chiffres n'ont pas été mis à jour.", "error");
      return;
    }
    const query = new URLSearchParams({ from: chosen.from, to: chosen.to });
    if (chosen.town) query.set("town", chosen.town);
    window.history.replaceState(null, "", `${window.location.pathname}?${query}`);
    load(chosen);
  });
  $("tdb-csv-tout").addEventListener("click", downloadAll);
  if (!showFilterErrors(checkFilters(filters))) await load(filters);
}

main();

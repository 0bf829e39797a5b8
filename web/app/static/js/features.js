// The points of the map page, without the DOM: GeoJSON features of the three map APIs turned into
// items (French labels, town names), filtered as the form says, sorted and counted for the list.
// The actors API groups its actors when the visible area holds too many (or at a small zoom): its
// cluster features (properties.cluster) become cluster items for the map, never list items.

import { day, isoWeek } from "./format.js";

export const LAYERS = ["actors", "requests", "initiatives"];
export const ENDPOINTS = {
  actors: "/api/v1/actors/map.geojson",
  requests: "/api/v1/requests/map.geojson",
  initiatives: "/api/v1/initiatives/map.geojson",
};
export const LIST_CAP = 200;

/** The symbol of an item: its shape and letter on the map, in the list and in the legend. */
export const SYMBOLS = {
  organisation: { letter: "O", className: "pin--organisation" },
  school: { letter: "É", className: "pin--school" },
  request: { letter: "D", className: "pin--request" },
  initiative: { letter: "I", className: "pin--initiative" },
};

function labelsOf(config, group) {
  return (config.labels && config.labels[group]) || {};
}

function townNames(config) {
  const names = new Map();
  for (const town of (config.territory && config.territory.towns) || []) names.set(town.insee, town.name);
  return names;
}

function requestDetails(p) {
  const details = [];
  const levels = Array.isArray(p.levels) && p.levels.length ? p.levels : p.level ? [p.level] : [];
  if (levels.length) details.push(`niveau${levels.length > 1 ? "x" : ""} ${levels.join(", ")}`);
  if (p.date) details.push(`le ${day(p.date)}`);
  if (Array.isArray(p.period) && p.period.length) {
    const weeks = p.period.map(isoWeek);
    details.push(weeks.length === 1 ? weeks[0] : `de la ${weeks[0]} à la ${weeks[weeks.length - 1]}`);
  }
  return details;
}

function pointOf(feature) {
  const coordinates = feature && feature.geometry && feature.geometry.coordinates;
  if (!Array.isArray(coordinates) || coordinates.length < 2) return null;
  const [lon, lat] = coordinates.map(Number);
  return Number.isFinite(lat) && Number.isFinite(lon) ? { lat, lon } : null;
}

function isCluster(feature) {
  return Boolean(feature && feature.properties && feature.properties.cluster === true);
}

/** Items of one layer from its FeatureCollection (features without a point, and clusters, are skipped). */
export function toItems(layer, collection, config) {
  const names = townNames(config);
  const items = [];
  for (const feature of (collection && collection.features) || []) {
    const point = pointOf(feature);
    if (!point || isCluster(feature)) continue;
    const { lat, lon } = point;
    const p = feature.properties || {};
    const town = p.town || "";
    const base = {
      layer, lat, lon, town,
      townName: names.get(town) || (town ? `commune ${town}` : "commune non indiquée"),
    };
    if (layer === "actors") {
      const id = p.actor_id || feature.id;
      items.push({
        ...base, id, key: `actors:${id}`, kind: p.kind || "",
        kindLabel: labelsOf(config, "actor_kinds")[p.kind] || "Acteur",
        name: p.name || "Sans nom", symbol: p.kind === "school" ? "school" : "organisation", details: [],
      });
    } else if (layer === "requests") {
      const id = p.request_id || feature.id;
      const action = labelsOf(config, "action_types")[p.action_type] || p.action_type || "";
      items.push({
        ...base, id, key: `requests:${id}`, kind: p.kind || "", actionType: p.action_type || "",
        kindLabel: action ? `Demande : ${action.toLowerCase()}` : "Demande",
        name: labelsOf(config, "request_kinds")[p.kind] || action || "Demande",
        symbol: "request", details: requestDetails(p),
      });
    } else if (layer === "initiatives") {
      const id = p.initiative_id || feature.id;
      items.push({
        ...base, id, key: `initiatives:${id}`, kind: p.kind || "",
        kindLabel: labelsOf(config, "initiative_kinds")[p.kind] || "Initiative",
        name: p.title || "Sans titre", symbol: "initiative",
        details: p.deadline ? [`candidatures jusqu'au ${day(p.deadline)}`] : [],
      });
    }
  }
  return items;
}

const number = new Intl.NumberFormat("fr-FR");

/** "12 345" (French digit groups). */
export function formatCount(n) {
  return number.format(n);
}

/** A cluster's short label on the map: "8", "950", "1,2 k", "12 k". */
export function shortCount(n) {
  if (n < 1000) return String(n);
  if (n < 10000) return `${(Math.floor(n / 100) / 10).toLocaleString("fr-FR")} k`;
  return `${Math.floor(n / 1000)} k`;
}

/**
 * The actors API's clusters: {key, id, lat, lon, count, bbox: [minLon, minLat, maxLon, maxLat] | null,
 * label} where label names the group in French for assistive technologies ("Groupe de 1 234 acteurs,
 * dont 3 établissements scolaires").
 */
export function toClusters(collection) {
  const clusters = [];
  for (const feature of (collection && collection.features) || []) {
    if (!isCluster(feature)) continue;
    const point = pointOf(feature);
    const p = feature.properties;
    const count = Number(p.count);
    if (!point || !Number.isInteger(count) || count < 1) continue;
    const box = Array.isArray(p.bbox) && p.bbox.length === 4 && p.bbox.every((v) => Number.isFinite(Number(v)))
      ? p.bbox.map(Number) : null;
    const schools = Number((p.kinds && p.kinds.school) || 0);
    let label = `Groupe de ${formatCount(count)} acteurs`;
    if (schools > 0 && schools < count) {
      label += `, dont ${formatCount(schools)} ${schools > 1 ? "établissements scolaires" : "établissement scolaire"}`;
    } else if (schools === count) {
      label = `Groupe de ${formatCount(count)} établissements scolaires`;
    }
    clusters.push({ key: `cluster:${feature.id || `${point.lon},${point.lat}`}`, id: feature.id, ...point, count, bbox: box, label });
  }
  return clusters;
}

/** How many actors the answer stands for: its `total`, else its points and clusters' counts. */
export function actorsTotal(collection) {
  if (collection && Number.isInteger(collection.total)) return collection.total;
  let total = 0;
  for (const feature of (collection && collection.features) || []) {
    total += isCluster(feature) ? Number(feature.properties.count) || 0 : 1;
  }
  return total;
}

/**
 * The actors API's query: the visible box, the map's zoom (whole, 0 to 20; none without a map), and
 * the form's actor kind and town, which the API filters itself.
 */
export function actorsQuery(bbox, zoom, filters) {
  const parts = [`bbox=${bboxParam(bbox)}`];
  if (Number.isFinite(zoom)) parts.push(`zoom=${Math.max(0, Math.min(20, Math.round(zoom)))}`);
  if (filters.actorKind) parts.push(`kind=${encodeURIComponent(filters.actorKind)}`);
  if (filters.town) parts.push(`town=${encodeURIComponent(filters.town)}`);
  return parts.join("&");
}

/** The form's filters: {layers: Set, actorKind, actionType, town}. */
export function matches(item, filters) {
  if (!filters.layers.has(item.layer)) return false;
  if (filters.town && item.town !== filters.town) return false;
  if (filters.actorKind && item.layer === "actors" && item.kind !== filters.actorKind) return false;
  if (filters.actionType && item.layer === "requests" && item.actionType !== filters.actionType) return false;
  return true;
}

function squaredDistance(item, centre) {
  const dx = (item.lon - centre.lon) * Math.cos((centre.lat * Math.PI) / 180);
  const dy = item.lat - centre.lat;
  return dx * dx + dy * dy;
}

const byName = new Intl.Collator("fr", { sensitivity: "base", numeric: true });

/**
 * The filtered items: all of them (for the map), the first LIST_CAP nearest to `centre` (for the
 * list), how many more, and the counts per layer.
 */
export function summarise(itemsByLayer, filters, centre, cap = LIST_CAP) {
  const filtered = [];
  const counts = { actors: 0, requests: 0, initiatives: 0 };
  for (const layer of LAYERS) {
    for (const item of itemsByLayer[layer] || []) {
      if (matches(item, filters)) {
        filtered.push(item);
        counts[layer] += 1;
      }
    }
  }
  const sorted = centre
    ? filtered
        .map((item) => [squaredDistance(item, centre), item])
        .sort((a, b) => a[0] - b[0] || byName.compare(a[1].name, b[1].name))
        .map(([, item]) => item)
    : [...filtered].sort((a, b) => byName.compare(a.name, b.name));
  return { all: filtered, shown: sorted.slice(0, cap), rest: Math.max(0, sorted.length - cap), counts, total: filtered.length };
}

/** "min_lon,min_lat,max_lon,max_lat" within the valid ranges, 5 decimals (about a metre). */
export function bboxParam([minLon, minLat, maxLon, maxLat]) {
  const clamp = (value, low, high) => Math.min(high, Math.max(low, value));
  return [clamp(minLon, -180, 180), clamp(minLat, -90, 90), clamp(maxLon, -180, 180), clamp(maxLat, -90, 90)]
    .map((value) => value.toFixed(5))
    .join(",");
}

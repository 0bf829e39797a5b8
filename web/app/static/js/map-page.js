// The map page (/): a Leaflet map of the territory (the towns from /app-config.json, the actors,
// requests and initiatives of the visible area, in marker clusters, one layer each) and, beside or
// below it, the LIST of the same filtered points, usable without the map. The data of the visible
// bounding box is loaded again after each move (debounced). Without Leaflet (library missing), the
// list shows the whole territory. Tiles that fail to load only bring a notice: the towns and the
// points need no tile.
// The actors API gets the map's zoom and the form's actor kind and town: when the area holds too
// many actors (or at a small zoom) it answers groups ("clusters") instead, drawn as group markers
// (Enter or a click zooms on the group); the list then says how many actors the area holds and
// invites to zoom or choose a town, and still lists the requests and initiatives.

import { loadConfig } from "./config.js";
import {
  ENDPOINTS, LAYERS, LIST_CAP, SYMBOLS, actorsQuery, actorsTotal, bboxParam, formatCount, shortCount, summarise,
  toClusters, toItems,
} from "./features.js";
import { count } from "./format.js";
import { messageOf, requestJson } from "./http.js";
import { $, element } from "./dom.js";
import { initLayout } from "./layout.js";

const REDUCED_MOTION = Boolean(window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches);
const MOVE_DEBOUNCE_MS = 300;
const TRANSPARENT_TILE = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";
const MSG_NO_LIBRARY = "La bibliothèque de carte (Leaflet) n'a pas pu être chargée : la carte ne peut pas s'afficher. "
  + "La liste des résultats présente les mêmes informations.";
const MSG_NO_TILES = "Le fond de carte ne se charge pas : les communes et les points restent affichés.";
const LAYER_FAILED = {
  actors: "Les acteurs n'ont pas pu être chargés",
  requests: "Les demandes n'ont pas pu être chargées",
  initiatives: "Les initiatives n'ont pas pu être chargées",
};
const LAYER_COUNT = {
  actors: ["acteur", "acteurs"],
  requests: ["demande", "demandes"],
  initiatives: ["initiative", "initiatives"],
};


function visuallyHidden(text) {
  return element("span", "visually-hidden", text);
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

function readFilters(form) {
  return {
    layers: new Set([...form.querySelectorAll('input[name="layer"]:checked')].map((input) => input.value)),
    actorKind: form.elements.actor_kind.value,
    actionType: form.elements.action_type.value,
    town: form.elements.town.value,
  };
}

function pin(symbolName) {
  const symbol = SYMBOLS[symbolName];
  const node = element("span", `pin ${symbol.className}`);
  node.setAttribute("aria-hidden", "true");
  node.append(element("span", "", symbol.letter));
  return node;
}

// --- the map ------------------------------------------------------------------------------------
function createMap(L, config, onMove) {
  const territory = config.territory;
  const map = L.map("carte", {
    zoomControl: false,
    attributionControl: false,
    zoomAnimation: !REDUCED_MOTION,
    fadeAnimation: !REDUCED_MOTION,
    markerZoomAnimation: !REDUCED_MOTION,
    inertia: !REDUCED_MOTION,
    keyboard: true,
    minZoom: 8,
    maxZoom: 19,
  });
  L.control.zoom({ zoomInTitle: "Zoomer", zoomOutTitle: "Dézoomer", position: "topleft" }).addTo(map);
  L.control.attribution({ prefix: '<a href="https://leafletjs.com" hreflang="en">Leaflet</a>' }).addTo(map);
  L.control.scale({ imperial: false }).addTo(map);
  map.setView([territory.centre.lat, territory.centre.lon], territory.zoom, { animate: false });

  const tilesNotice = $("carte-fond");
  const tiles = L.tileLayer(config.tile_url, {
    attribution: config.tile_attribution,
    maxZoom: 19,
    errorTileUrl: TRANSPARENT_TILE,
  });
  tiles.on("tileerror", () => {
    if (tilesNotice.hidden) {
      tilesNotice.textContent = MSG_NO_TILES;
      tilesNotice.hidden = false;
    }
  });
  tiles.addTo(map);

  // The towns: their outline and their centre with its name, from the territory file. Their names
  // go in a pane under the markers' (600), so that they never hide a point.
  map.createPane("vw-towns");
  map.getPane("vw-towns").style.zIndex = "450";
  const towns = L.layerGroup();
  for (const town of territory.towns || []) {
    if (town.boundary) {
      L.geoJSON(town.boundary, {
        interactive: false,
        style: { color: "#474747", weight: 1.5, opacity: 0.9, fill: false, dashArray: "4 4" },
      }).addTo(towns);
    }
    L.circleMarker([town.centre.lat, town.centre.lon], {
      radius: 6, color: "#474747", weight: 3, fillColor: "#ffffff", fillOpacity: 1, interactive: false,
    }).bindTooltip(town.name, {
      permanent: true, direction: "right", offset: [8, 0], className: "vw-town-label", pane: "vw-towns",
    })
      .addTo(towns);
  }
  towns.addTo(map);

  const clusterNames = { actors: "acteurs", requests: "demandes", initiatives: "initiatives" };
  const groups = {};
  for (const layer of LAYERS) {
    groups[layer] = typeof L.markerClusterGroup === "function"
      ? L.markerClusterGroup({
        chunkedLoading: true,
        animate: !REDUCED_MOTION,
        animateAddingMarkers: false,
        showCoverageOnHover: false,
        spiderfyOnMaxZoom: true,
        iconCreateFunction(cluster) {
          const n = cluster.getChildCount();
          const size = n < 10 ? 34 : n < 100 ? 40 : 48;
          // The count is a number (no markup from the data); the hidden words name the group.
          return L.divIcon({
            html: `<span class="pin pin--cluster">${n}<span class="visually-hidden"> ${clusterNames[layer]} regroupés ici : `
              + "Entrée pour zoomer</span></span>",
            className: "vw-cluster",
            iconSize: [size, size],
          });
        },
      })
      : L.layerGroup(); // markercluster missing: plain markers
    groups[layer].addTo(map);
  }

  // The actors API's groups: markers of their own, outside the marker clusters (their count is the
  // server's, not the number of markers under them).
  const serverClusters = L.layerGroup().addTo(map);

  function clusterMarker(cluster) {
    const n = cluster.count;
    const size = n < 10 ? 34 : n < 100 ? 40 : n < 1000 ? 48 : 56;
    const name = `${cluster.label} : Entrée pour zoomer sur le groupe`;
    const marker = L.marker([cluster.lat, cluster.lon], {
      // The count is a number (no markup from the data); the hidden words name the group.
      icon: L.divIcon({
        html: `<span class="pin pin--cluster" data-testid="actors-cluster">${shortCount(n)}`
          + `<span class="visually-hidden"> : ${name}</span></span>`,
        className: "vw-cluster vw-cluster--server",
        iconSize: [size, size],
      }),
      title: name,
      keyboard: true,
      riseOnHover: true,
    });
    const zoomIn = () => {
      const [minLon, minLat, maxLon, maxLat] = cluster.bbox || [cluster.lon, cluster.lat, cluster.lon, cluster.lat];
      const bounds = L.latLngBounds([minLat, minLon], [maxLat, maxLon]);
      const target = Math.min(map.getMaxZoom(), Math.max(map.getBoundsZoom(bounds.pad(0.1)), map.getZoom() + 1));
      map.setView(bounds.getCenter(), target, { animate: !REDUCED_MOTION });
      // The marker is gone with the next answer: the keyboard goes on from the map.
      map.getContainer().focus({ preventScroll: true });
    };
    marker.on("click", zoomIn);
    // Leaflet gives a marker's Enter to its popup only: a group has none, it zooms (Space too, as a button).
    marker.on("keypress", (event) => {
      const key = event.originalEvent && event.originalEvent.key;
      if (key === "Enter" || key === " ") {
        event.originalEvent.preventDefault();
        zoomIn();
      }
    });
    return marker;
  }

  const markers = new Map(); // key -> {marker, signature}
  const onMap = { actors: new Map(), requests: new Map(), initiatives: new Map() }; // key -> marker
  let returnFocus = null; // the key of the list item whose "Voir sur la carte" opened the popup

  function popupContent(item) {
    const box = element("div", "vw-popup");
    box.tabIndex = -1;
    // Leaflet closes a popup on Escape only while the map itself has the focus; here the card has it.
    box.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.stopPropagation();
        map.closePopup();
      }
    });
    box.append(element("h3", "", item.name));
    box.append(element("p", "", `Type : ${item.kindLabel}`));
    box.append(element("p", "", `Commune : ${item.townName}`));
    for (const detail of item.details) box.append(element("p", "", detail.charAt(0).toUpperCase() + detail.slice(1)));
    return box;
  }

  function markerFor(item) {
    const signature = `${item.lat},${item.lon},${item.name},${item.kindLabel},${item.townName},${item.details.join("|")}`;
    const known = markers.get(item.key);
    if (known && known.signature === signature) return known.marker;
    const symbol = SYMBOLS[item.symbol];
    const marker = L.marker([item.lat, item.lon], {
      icon: L.divIcon({
        html: `<span class="pin ${symbol.className}" aria-hidden="true"><span>${symbol.letter}</span></span>`,
        className: "vw-marker",
        iconSize: [28, 28],
        iconAnchor: [14, 14],
        popupAnchor: [0, -14],
      }),
      // The marker's accessible name (role="button"), and its tooltip for the mouse.
      title: `${item.kindLabel} : ${item.name}, ${item.townName}`,
      keyboard: true,
      riseOnHover: true,
    });
    marker.bindPopup(() => popupContent(item), { maxWidth: 280, autoPanPadding: [24, 24] });
    markers.set(item.key, { marker, signature });
    return marker;
  }

  map.on("popupopen", (event) => {
    const container = event.popup.getElement();
    if (!container) return;
    const close = container.querySelector(".leaflet-popup-close-button");
    if (close) {
      close.setAttribute("aria-label", "Fermer la fiche");
      close.title = "Fermer la fiche";
    }
    const content = container.querySelector(".vw-popup");
    if (content) content.focus({ preventScroll: true });
  });
  map.on("popupclose", (event) => {
    const container = event.popup.getElement();
    const active = document.activeElement;
    const focusWasInside = !active || active === document.body || (container && container.contains(active));
    const source = event.popup._source;
    // Back to the list's button (the list may have been drawn again meanwhile), else to the marker.
    const listButton = returnFocus && [...document.querySelectorAll("#liste-resultats [data-key]")]
      .find((row) => row.dataset.key === returnFocus);
    const target = (listButton && listButton.querySelector("button"))
      || (source && typeof source.getElement === "function" && source.getElement());
    returnFocus = null;
    if (focusWasInside && target && document.contains(target)) target.focus({ preventScroll: true });
  });

  map.on("moveend", debounce(onMove, MOVE_DEBOUNCE_MS));

  return {
    bbox() {
      const bounds = map.getBounds();
      return [bounds.getWest(), bounds.getSouth(), bounds.getEast(), bounds.getNorth()];
    },
    centre() {
      const centre = map.getCenter();
      return { lat: centre.lat, lon: centre.lng };
    },
    zoom() {
      return map.getZoom();
    },
    render(summary, filters, clusters) {
      serverClusters.clearLayers();
      if (filters.layers.has("actors")) for (const cluster of clusters) serverClusters.addLayer(clusterMarker(cluster));
      const wanted = { actors: new Map(), requests: new Map(), initiatives: new Map() };
      for (const item of summary.all) wanted[item.layer].set(item.key, markerFor(item));
      for (const layer of LAYERS) {
        const group = groups[layer];
        const current = onMap[layer];
        const next = wanted[layer];
        const removed = [];
        const added = [];
        for (const [key, marker] of current) if (next.get(key) !== marker) removed.push(marker);
        for (const [key, marker] of next) if (current.get(key) !== marker) added.push(marker);
        if (removed.length) {
          if (group.removeLayers) group.removeLayers(removed);
          else removed.forEach((marker) => group.removeLayer(marker));
        }
        if (added.length) {
          if (group.addLayers) group.addLayers(added);
          else added.forEach((marker) => group.addLayer(marker));
        }
        onMap[layer] = next;
        if (filters.layers.has(layer) && !map.hasLayer(group)) map.addLayer(group);
        if (!filters.layers.has(layer) && map.hasLayer(group)) map.removeLayer(group);
      }
      if (markers.size > 50000) { // forget the markers of areas left long ago
        for (const [key] of markers) {
          const layer = key.split(":", 1)[0];
          if (!onMap[layer] || !onMap[layer].has(key)) markers.delete(key);
        }
      }
    },
    show(item) {
      const known = markers.get(item.key);
      const group = groups[item.layer];
      if (!known || !group.hasLayer(known.marker)) return;
      returnFocus = item.key;
      const open = () => known.marker.openPopup();
      $("carte").scrollIntoView({ behavior: REDUCED_MOTION ? "auto" : "smooth", block: "nearest" });
      if (typeof group.zoomToShowLayer === "function") group.zoomToShowLayer(known.marker, open);
      else {
        map.setView(known.marker.getLatLng(), Math.max(map.getZoom(), 16), { animate: !REDUCED_MOTION });
        open();
      }
    },
    showTown(insee) {
      const town = (territory.towns || []).find((candidate) => candidate.insee === insee);
      if (!town) return;
      if (town.boundary) map.fitBounds(L.geoJSON(town.boundary).getBounds(), { padding: [12, 12], animate: !REDUCED_MOTION });
      else map.setView([town.centre.lat, town.centre.lon], 14, { animate: !REDUCED_MOTION });
    },
    showTerritory() {
      map.setView([territory.centre.lat, territory.centre.lon], territory.zoom, { animate: !REDUCED_MOTION });
    },
  };
}

// --- the page -------------------------------------------------------------------------------------
async function main() {
  initLayout();
  const form = $("filtres");
  const list = $("liste-resultats");
  const countLine = $("liste-compte");
  const errorsLine = $("liste-erreurs");
  const more = $("liste-reste");
  const mapMessage = $("carte-message");
  const mapBox = $("carte");

  let config;
  try {
    config = await loadConfig();
  } catch (error) {
    countLine.textContent = "Résultats indisponibles.";
    errorsLine.textContent = error.message;
    errorsLine.hidden = false;
    return;
  }

  const state = {
    items: { actors: [], requests: [], initiatives: [] },
    clusters: [], // the actors API's groups, when it answered some
    actorsTotal: 0, // how many actors the area holds (points and groups)
    errors: {},
    loaded: false,
  };
  let mapView = null;
  let controller = null;

  function noMap(message) {
    $("carte-conteneur").hidden = true;
    if (message) {
      mapMessage.textContent = message;
      mapMessage.hidden = false;
    }
  }

  function summaryText(summary, filters) {
    if (!filters.layers.size) return "Aucune couche sélectionnée : cochez au moins une case « Afficher ».";
    const where = mapView ? "dans la zone affichée" : `sur le territoire ${config.territory.name}`;
    const grouped = filters.layers.has("actors") && state.clusters.length > 0;
    const counts = { ...summary.counts };
    if (grouped) counts.actors = state.actorsTotal;
    const total = summary.total - summary.counts.actors + counts.actors;
    if (!total) return `Aucun résultat ${where}.`;
    const parts = LAYERS.filter((layer) => filters.layers.has(layer))
      .map((layer) => count(counts[layer], ...LAYER_COUNT[layer]).replace(/^\d+/, (n) => formatCount(Number(n))));
    let text = `${formatCount(total)} ${total > 1 ? "résultats" : "résultat"} ${where} : ${parts.join(", ")}.`;
    if (grouped) {
      text += ` Les acteurs, trop nombreux pour la liste, sont regroupés sur la carte : ${mapView ? "zoomez ou choisissez" : "choisissez"}`
        + " une commune ou un type d'acteur pour les voir ici.";
    }
    if (summary.rest) text += ` La liste montre les ${LIST_CAP} plus proches du centre${mapView ? " de la carte" : ""}.`;
    return text;
  }

  function listItem(item) {
    const row = element("li", "result");
    row.dataset.testid = "result-item";
    row.dataset.layer = item.layer;
    row.dataset.featureId = item.id;
    row.dataset.key = item.key;
    const body = element("div", "result__body");
    const title = element("p", "result__title");
    const kind = element("span", "result__kind", item.kindLabel);
    kind.append(visuallyHidden(" : "));
    title.append(kind, element("strong", "", item.name));
    body.append(title, element("p", "result__meta", [item.townName, ...item.details].join(", ")));
    if (mapView) {
      const button = element("button", "link-button", "Voir sur la carte");
      button.type = "button";
      button.dataset.testid = "result-show-on-map";
      button.append(visuallyHidden(` : ${item.name}`));
      button.addEventListener("click", () => mapView.show(item));
      body.append(button);
    }
    row.append(pin(item.symbol), body);
    return row;
  }

  function render() {
    const filters = readFilters(form);
    const centre = mapView ? mapView.centre() : { lat: config.territory.centre.lat, lon: config.territory.centre.lon };
    const summary = summarise(state.items, filters, centre);
    if (mapView) mapView.render(summary, filters, state.clusters);
    const fragment = document.createDocumentFragment();
    for (const item of summary.shown) fragment.append(listItem(item));
    list.replaceChildren(fragment);
    if (state.loaded) countLine.textContent = summaryText(summary, filters);
    if (summary.rest) {
      more.textContent = `${summary.rest} ${summary.rest === 1 ? "autre" : "autres"} : zoomez ou filtrez`;
      more.hidden = false;
    } else {
      more.hidden = true;
      more.textContent = "";
    }
    const errors = Object.entries(state.errors).map(([layer, message]) => `${LAYER_FAILED[layer]} : ${message}`).join(" ");
    if (errorsLine.textContent !== errors) errorsLine.textContent = errors;
    errorsLine.hidden = !errors;
  }

  async function load(bbox) {
    if (controller) controller.abort();
    controller = new AbortController();
    const { signal } = controller;
    list.setAttribute("aria-busy", "true");
    const param = bboxParam(bbox);
    const filters = readFilters(form);
    const zoom = mapView ? mapView.zoom() : undefined;
    const answers = await Promise.all(LAYERS.map(async (layer) => {
      const query = layer === "actors" ? actorsQuery(bbox, zoom, filters) : `bbox=${param}`;
      try {
        return [layer, await requestJson(`${ENDPOINTS[layer]}?${query}`, { signal }), null];
      } catch (error) {
        return [layer, null, error];
      }
    }));
    if (signal.aborted) return;
    state.errors = {};
    state.clusters = [];
    state.actorsTotal = 0;
    for (const [layer, answer, error] of answers) {
      if (error) {
        state.items[layer] = [];
        state.errors[layer] = error.message;
      } else if (answer.ok) {
        state.items[layer] = toItems(layer, answer.data, config);
        if (layer === "actors") {
          state.clusters = toClusters(answer.data);
          state.actorsTotal = actorsTotal(answer.data);
        }
      } else {
        state.items[layer] = [];
        state.errors[layer] = messageOf(answer);
      }
    }
    state.loaded = true;
    list.removeAttribute("aria-busy");
    render();
  }

  const L = window.L;
  if (mapBox.dataset.mapLibrary === "missing") {
    noMap(null); // the page already says why
  } else if (!L || typeof L.map !== "function") {
    noMap(MSG_NO_LIBRARY);
  } else {
    try {
      mapView = createMap(L, config, () => load(mapView.bbox()));
    } catch (error) {
      mapView = null;
      noMap(MSG_NO_LIBRARY);
    }
  }

  const reload = () => load(mapView ? mapView.bbox() : config.territory.bbox);

  form.addEventListener("change", (event) => {
    render();
    // The actors API filters by kind and town itself (with 60,000 actors, the browser never has them all).
    if (event.target === form.elements.actor_kind || event.target === form.elements.town) reload();
    if (mapView && event.target === form.elements.town) {
      if (event.target.value) mapView.showTown(event.target.value);
      else mapView.showTerritory();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    render();
  });
  form.addEventListener("reset", () => {
    setTimeout(() => { // the reset event comes before the controls are reset
      render();
      reload();
      if (mapView) mapView.showTerritory();
    }, 0);
  });

  reload();
}

main();

// The app's settings: GET /app-config.json (tiles, territory and its towns, French labels), read
// once per page. The pages carry no inline script: this is where their settings come from.

let pending = null;

export function loadConfig() {
  if (!pending) {
    const url = (document.body && document.body.dataset.configUrl) || "/app-config.json";
    pending = fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(async (response) => {
        const data = await response.json().catch(() => null);
        if (!response.ok || !data) {
          throw new Error((data && data.message) || "Réglages du site indisponibles : rechargez la page dans un instant.");
        }
        return data;
      }, () => {
        throw new Error("Connexion au serveur impossible : vérifiez votre connexion à Internet, puis rechargez la page.");
      });
  }
  return pending;
}

/** The French label of `code` in the labels' `group`, or the code itself. */
export function label(config, group, code) {
  const labels = (config && config.labels && config.labels[group]) || {};
  return labels[code] || code || "";
}

// Calls to the gateway (same origin) with JSON bodies, and the French messages of their failures.
// `requestJson` resolves with {status, ok, data} for every HTTP answer (the caller decides what a
// 404 or a 409 means to the person) and rejects with an HttpError(0) when the network fails.

export const NETWORK_ERROR = "Connexion au serveur impossible : vérifiez votre connexion à Internet, puis réessayez.";

const FALLBACK = {
  400: "Requête invalide.",
  401: "Connexion requise : reconnectez-vous.",
  403: "Vous n'avez pas accès à cette information.",
  404: "Introuvable.",
  409: "L'élément a changé entre-temps : rechargez la page, puis recommencez.",
  413: "Requête trop volumineuse.",
  422: "Les informations envoyées sont invalides.",
  429: "Trop de requêtes : patientez un instant, puis réessayez.",
};
const SERVER_ERROR = "Service momentanément indisponible : réessayez dans un instant.";

export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "HttpError";
    this.status = status;
  }
}

export async function requestJson(url, { method = "GET", body, token, signal } = {}) {
  const headers = { Accept: "application/json, application/geo+json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (error) {
    if (error && error.name === "AbortError") throw error;
    throw new HttpError(0, NETWORK_ERROR);
  }
  let data = null;
  try {
    const text = await response.text();
    data = text ? JSON.parse(text) : null;
  } catch (error) {
    if (error && error.name === "AbortError") throw error;
    data = null;
  }
  return { status: response.status, ok: response.ok, data };
}

/** The first French message found in a list or a mapping of field errors. */
function firstMessage(errors) {
  if (typeof errors === "string") return errors;
  if (Array.isArray(errors)) {
    for (const item of errors) {
      const found = firstMessage(item);
      if (found) return found;
    }
  } else if (errors && typeof errors === "object") {
    for (const value of Object.values(errors)) {
      const found = firstMessage(value);
      if (found) return found;
    }
  }
  return null;
}

/** What to tell the person about a failed answer: the service's French message when there is one. */
export function messageOf(result, fallback) {
  const data = result && result.data;
  if (result && result.status === 422 && data && data.errors) {
    const detail = firstMessage(data.errors);
    if (detail) return detail;
  }
  if (data && typeof data.message === "string" && data.message) return data.message;
  if (fallback) return fallback;
  if (result && result.status >= 500) return SERVER_ERROR;
  return (result && FALLBACK[result.status]) || SERVER_ERROR;
}

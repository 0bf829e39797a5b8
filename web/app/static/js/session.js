// The signed-in session: the tokens of POST /api/v1/auth/token, kept in sessionStorage, and the
// calls that need them (Bearer), with one refresh of the access token when it has expired or a
// call answers 401.
//
// Why sessionStorage and not localStorage: the session then lives in this tab only and ends when
// the tab is closed. Vitawin is used on shared computers (a school's staff room, a CDI, a town
// hall's desk): a 30-day refresh token left in localStorage would sign the next person in. Each
// tab also keeps its own refresh token: refresh tokens rotate, and one used twice ends the session
// (it may have been stolen), which tabs sharing localStorage and refreshing at the same moment
// would trigger. Anything stored in the page is readable by a script running in it; the strict
// Content-Security-Policy (scripts from the gateway only) is what keeps foreign scripts out.

import { HttpError, messageOf, requestJson } from "./http.js";

const KEY = "vitawin.session";
const EXPIRY_MARGIN_MS = 30 * 1000; // refresh a little before the end, not after a refused call
export const NOT_SIGNED_IN = "Vous n'êtes pas connecté(e).";
export const SESSION_ENDED = "Votre session a expiré : reconnectez-vous en demandant un nouveau lien de connexion.";

/** The session is over (no session, or its refresh token refused): the person must sign in again. */
export class SessionEnded extends Error {
  constructor(message = SESSION_ENDED) {
    super(message);
    this.name = "SessionEnded";
  }
}

function storage() {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage disabled by the browser's settings
  }
}

export function readSession() {
  const store = storage();
  if (!store) return null;
  try {
    const session = JSON.parse(store.getItem(KEY) || "null");
    if (session && typeof session.access_token === "string" && typeof session.refresh_token === "string") {
      return session;
    }
  } catch {
    // an unreadable value: treated as no session
  }
  return null;
}

/** Store the answer of a token grant; `previous` fills what a refresh answer leaves out. */
export function saveSession(grant, previous = null) {
  const session = {
    access_token: grant.access_token,
    refresh_token: grant.refresh_token || (previous && previous.refresh_token),
    expires_at: Date.now() + (Number(grant.expires_in) || 900) * 1000,
    role: grant.role ?? (previous && previous.role) ?? null,
    actor_id: grant.actor_id ?? (previous && previous.actor_id) ?? null,
    school_uai: grant.school_uai ?? (previous && previous.school_uai) ?? null,
    memberships: Array.isArray(grant.memberships) ? grant.memberships : (previous && previous.memberships) || [],
  };
  const store = storage();
  if (store) store.setItem(KEY, JSON.stringify(session));
  return session;
}

export function clearSession() {
  const store = storage();
  if (store) store.removeItem(KEY);
}

export function isExpired(session, now = Date.now()) {
  return !session || !session.expires_at || session.expires_at - EXPIRY_MARGIN_MS <= now;
}

let refreshing = null;

/** A new access token from the refresh token (one call at a time: a refresh token serves once). */
export function refreshSession() {
  if (!refreshing) {
    refreshing = (async () => {
      const session = readSession();
      if (!session) throw new SessionEnded(NOT_SIGNED_IN);
      const body = { grant_type: "refresh_token", refresh_token: session.refresh_token };
      if (session.actor_id) body.actor_id = session.actor_id; // stay in the same membership
      const result = await requestJson("/api/v1/auth/token", { method: "POST", body });
      if (result.ok && result.data && result.data.access_token) return saveSession(result.data, session);
      if (result.status === 400 || result.status === 401) {
        clearSession();
        throw new SessionEnded(messageOf(result, SESSION_ENDED));
      }
      throw new HttpError(result.status, messageOf(result));
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/**
 * A call with the session's access token: refreshed first when expired, or after a 401 (once
 * per call). Rejects with SessionEnded when there is no session or it cannot be refreshed.
 */
export async function authJson(url, options = {}) {
  let session = readSession();
  if (!session) throw new SessionEnded(NOT_SIGNED_IN);
  let refreshed = false;
  if (isExpired(session)) {
    session = await refreshSession();
    refreshed = true;
  }
  let result = await requestJson(url, { ...options, token: session.access_token });
  if (result.status === 401 && !refreshed) {
    session = await refreshSession();
    result = await requestJson(url, { ...options, token: session.access_token });
  }
  if (result.status === 401) {
    clearSession();
    throw new SessionEnded(messageOf(result, SESSION_ENDED));
  }
  return result;
}

/**
 * Who is signed in, as a page for signed-in people starts: `session` (the stored one) completed by
 * GET /api/v1/auth/me, which checks it; `session` alone when /me cannot answer (offline, a server
 * error). When the session is over, `signedOut(message)` is called and the answer is null.
 */
export async function whoIsSignedIn(session, signedOut) {
  try {
    const answer = await authJson("/api/v1/auth/me");
    return answer.ok && answer.data ? { ...session, ...answer.data } : session;
  } catch (error) {
    if (!(error instanceof SessionEnded)) return session;
    signedOut(error.message);
    return null;
  }
}

/** End the session on the server (its refresh token revoked) and in this tab. */
export async function signOut() {
  const session = readSession();
  try {
    if (session) {
      await requestJson("/api/v1/auth/sign-out", { method: "POST", body: { refresh_token: session.refresh_token } });
    }
  } catch {
    // offline: the tokens are forgotten here anyway; the refresh token expires on its own
  } finally {
    clearSession();
  }
}

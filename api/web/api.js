// The REST side of the page: sign-in, the bearer token, and reads of the live state.
// The token lives in sessionStorage (one tab, gone with it), never in a cookie, so no other site can make the
// browser send it. Every request carries it in the Authorization header; a 401 means it expired or was revoked.

const API = "/api/v1";
const SESSION_KEY = "smartgate.session";

export class ApiError extends Error {
  constructor(status, detail) {
    super(`HTTP ${status}: ${detail}`);
    this.status = status;
    this.detail = detail;
  }
}

/** The stored session {token, role, user, expires_ms} or null when none or expired. */
export function loadSession() {
  try {
    const session = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? "null");
    if (session && typeof session.token === "string" && session.expires_ms > Date.now()) return session;
  } catch {
    // a corrupt entry is the same as none
  }
  return null;
}

export function clearSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

/** Sign in with the OAuth2 password flow; stores and returns the session. Throws ApiError on refusal. */
export async function signIn(username, password) {
  const body = new URLSearchParams({ username, password, grant_type: "password" });
  const response = await fetch(`${API}/auth/token`, { method: "POST", body });
  const answer = await readJson(response);
  const session = {
    token: answer.access_token,
    role: answer.role,
    user: username,
    expires_ms: Date.now() + 1000 * Number(answer.expires_in || 0),
  };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  return session;
}

/** A small client bound to one session's token; onUnauthorized runs once the server stops accepting it. */
export class Client {
  constructor(session, onUnauthorized) {
    this.session = session;
    this.onUnauthorized = onUnauthorized;
  }

  get(path) {
    return this.request("GET", path);
  }

  post(path, payload) {
    return this.request("POST", path, payload);
  }

  async request(method, path, payload) {
    const headers = { Authorization: `Bearer ${this.session.token}` };
    const init = { method, headers, cache: "no-store" };
    if (payload !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    const response = await fetch(`${API}${path}`, init);
    if (response.status === 401) this.onUnauthorized();
    return readJson(response);
  }

  /** An image behind the token, as a blob URL (an <img src> cannot send the Authorization header). */
  async blobUrl(url) {
    const response = await fetch(url, { headers: { Authorization: `Bearer ${this.session.token}` } });
    if (!response.ok) throw new ApiError(response.status, response.statusText);
    return URL.createObjectURL(await response.blob());
  }
}

/** The JSON answer, or an ApiError carrying the server's own words ("detail") when the status is not 2xx. */
async function readJson(response) {
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    answer = null;
  }
  if (!response.ok) throw new ApiError(response.status, describe(answer, response.statusText));
  return answer;
}

function describe(answer, fallback) {
  const detail = answer && answer.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((d) => d.msg ?? JSON.stringify(d)).join("; ");
  return fallback || "error";
}

/** Items of a list answer, whether paginated ({items}) or a plain array. */
export function itemsOf(answer) {
  if (Array.isArray(answer)) return answer;
  return answer && Array.isArray(answer.items) ? answer.items : [];
}

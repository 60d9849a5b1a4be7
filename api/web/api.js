// Talking to Lotse's HTTP API. Every request goes through apiFetch, the one place where
// authentication is added: the credential the person logged in with (an API key or an OIDC
// bearer token), kept in sessionStorage only, so it ends with the browser tab and is never
// written to localStorage. Paths are relative to the page, so the portal also works behind a
// proxy under a sub-path.

/** An error response in Lotse's one shape: {"error": {"code", "message", "hint"?, "field"?}}. */
export class ApiError extends Error {
  constructor(status, code, message, hint = null, field = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.hint = hint;
    this.field = field;
  }
}

const CREDENTIAL_KEY = "lotse.credential";
const KEY_PREFIX = "lotse_"; // api/keys.py: every API key starts with it; anything else is a token

/** Fired on document when the API answers 401: the page shows the login screen. */
export const UNAUTHENTICATED_EVENT = "lotse:unauthenticated";

/** The stored credential: {kind: "key"|"token", secret}, or null. */
export function storedCredential() {
  let raw = null;
  try {
    raw = window.sessionStorage.getItem(CREDENTIAL_KEY);
  } catch {
    raw = null; // storage disabled: nobody is logged in
  }
  if (!raw) return null;
  try {
    const value = JSON.parse(raw);
    if (value && (value.kind === "key" || value.kind === "token") && typeof value.secret === "string" && value.secret) {
      return { kind: value.kind, secret: value.secret };
    }
  } catch {
    // not ours: ignored below
  }
  return null;
}

/** What kind of credential a pasted secret is: API keys start with "lotse_". */
export function credentialKind(secret) {
  return secret.startsWith(KEY_PREFIX) ? "key" : "token";
}

/** Remember the credential for this tab (sessionStorage); an empty one logs out. */
export function storeCredential(secret) {
  const value = String(secret || "").trim();
  try {
    if (value) {
      window.sessionStorage.setItem(CREDENTIAL_KEY, JSON.stringify({ kind: credentialKind(value), secret: value }));
    } else {
      window.sessionStorage.removeItem(CREDENTIAL_KEY);
    }
  } catch {
    // storage disabled: the credential is not kept
  }
}

export function clearCredential() {
  storeCredential("");
}

/** Headers that say who is calling (api/auth.py): an API key as X-API-Key, an OIDC token as
 *  Authorization: Bearer. Nothing without a stored credential (auth mode none). */
export function authHeaders() {
  const credential = storedCredential();
  if (!credential) return {};
  if (credential.kind === "key") return { "X-API-Key": credential.secret };
  return { Authorization: `Bearer ${credential.secret}` };
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = body && typeof body === "object" ? body.error : null;
  if (error && typeof error.message === "string") {
    return new ApiError(response.status, String(error.code || "error"), error.message, error.hint ?? null, error.field ?? null);
  }
  return new ApiError(response.status, "http_error", `HTTP ${response.status}`);
}

/** fetch() for the API: JSON body, auth headers, same-origin only, errors as ApiError. */
export async function apiFetch(path, { method = "GET", body, signal, accept = "application/json" } = {}) {
  const headers = { Accept: accept, ...authHeaders() };
  const init = { method, headers, signal, credentials: "same-origin", cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (exc) {
    if (exc && exc.name === "AbortError") throw exc;
    throw new ApiError(0, "network", String(exc && exc.message ? exc.message : exc));
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401) document.dispatchEvent(new CustomEvent(UNAUTHENTICATED_EVENT, { detail: error }));
    throw error;
  }
  return response;
}

/** apiFetch and parse the JSON answer (null for 204 No Content). */
export async function apiJson(path, options) {
  const response = await apiFetch(path, options);
  return response.status === 204 ? null : response.json();
}

/** Server-Sent Events of a response as {event, data} objects (data parsed as JSON). */
export async function* readEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder("utf-8");
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      buffer = buffer.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const parsed = parseEvent(block);
        if (parsed) yield parsed;
      }
      if (done) break;
    }
    const last = parseEvent(buffer);
    if (last) yield last;
  } finally {
    reader.releaseLock();
  }
}

function parseEvent(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length) return null;
  return { event, data: JSON.parse(data.join("\n")) };
}

/** POST v1/chat as a stream; yields the SSE events (sources, token…, done | error). */
export async function* chatStream({ message, conversationId, signal }) {
  const body = { message, stream: true };
  if (conversationId) body.conversation_id = conversationId;
  const response = await apiFetch("v1/chat", {
    method: "POST",
    body,
    signal,
    accept: "text/event-stream",
  });
  yield* readEvents(response);
}

export function getConversation(conversationId) {
  return apiJson(`v1/conversations/${encodeURIComponent(conversationId)}`);
}

export function deleteConversation(conversationId) {
  return apiJson(`v1/conversations/${encodeURIComponent(conversationId)}`, { method: "DELETE" });
}

export function sendFeedback(answerId, rating, comment) {
  const body = { answer_id: answerId, rating };
  if (comment) body.comment = comment;
  return apiJson("v1/feedback", { method: "POST", body });
}

// --- who is calling ---

/** GET v1/me: {user_id, role, groups, auth_mode}. */
export function getMe() {
  return apiJson("v1/me");
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

// --- admin console ---

/** POST v1/admin/sources: {created: true} for a new source (201), false when an existing
 *  registration was replaced (200), with the source as the server now lists it. */
async function addSource(body) {
  const response = await apiFetch("v1/admin/sources", { method: "POST", body });
  return { created: response.status === 201, source: await response.json() };
}

export const admin = {
  sources: () => apiJson("v1/admin/sources"),
  addSource,
  removeSource: (name) => apiJson(`v1/admin/sources/${encodeURIComponent(name)}`, { method: "DELETE" }),
  reindex: (sources) => apiJson("v1/admin/reindex", { method: "POST", body: sources && sources.length ? { sources } : {} }),
  jobs: () => apiJson("v1/admin/jobs"),
  job: (jobId) => apiJson(`v1/admin/jobs/${encodeURIComponent(jobId)}`),
  cancelJob: (jobId) => apiJson(`v1/admin/jobs/${encodeURIComponent(jobId)}`, { method: "DELETE" }),
  stats: (days) => apiJson(`v1/admin/stats${query({ days })}`),
  gaps: () => apiJson("v1/admin/gaps"),
  audit: (filters) => apiJson(`v1/admin/audit${query(filters)}`),
  verifyAudit: () => apiJson("v1/admin/audit/verify", { method: "POST", body: {} }),
  erase: (body) => apiJson("v1/admin/erase", { method: "POST", body }),
  keys: () => apiJson("v1/admin/keys"),
  createKey: (body) => apiJson("v1/admin/keys", { method: "POST", body }),
  revokeKey: (keyId) => apiJson(`v1/admin/keys/${encodeURIComponent(keyId)}`, { method: "DELETE" }),
};

// --- agent workspace ---

export const tickets = {
  list: ({ limit = 50, q = "" } = {}) => apiJson(`v1/tickets${query({ limit, q })}`),
  get: (ticketId) => apiJson(`v1/tickets/${encodeURIComponent(ticketId)}`),
  suggest: (body) => apiJson("v1/tickets/suggest", { method: "POST", body }),
  decide: (ticketId, suggestionId, body) =>
    apiJson(
      `v1/tickets/${encodeURIComponent(ticketId || "-")}/suggestion/${encodeURIComponent(suggestionId)}/decision`,
      { method: "POST", body },
    ),
};

// Talking to Lotse's HTTP API. Every request goes through apiFetch, the one place where
// authentication (a bearer token or an API key header) is added once it exists.
// Paths are relative to the page, so the portal also works behind a proxy under a sub-path.

/** An error response in Lotse's one shape: {"error": {"code", "message", "hint"?}}. */
export class ApiError extends Error {
  constructor(status, code, message, hint = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.hint = hint;
  }
}

/** Headers that say who is calling. Authentication does not exist yet: nothing to add.
 *  Later: return {Authorization: `Bearer ${token}`} (or an API key header) from here. */
function authHeaders() {
  return {};
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
    return new ApiError(response.status, String(error.code || "error"), error.message, error.hint ?? null);
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
  if (!response.ok) throw await errorFrom(response);
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

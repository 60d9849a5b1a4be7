// The page around the views: who is logged in, which views their role may open, and switching
// between them. Chat is for everyone, the agent workspace from the role agent, the admin
// console for admin (the server checks every route again; this only hides what would fail).
// The view is in the URL fragment (#chat, #agent, #admin/audit), so reload and back work.

import {
  UNAUTHENTICATED_EVENT,
  clearCredential,
  getMe,
  storeCredential,
  storedCredential,
} from "./api.js";
import { el } from "./dom.js";
import { t } from "./i18n.js";

const RANK = { employee: 0, agent: 1, admin: 2 };
const VIEWS = {
  chat: { role: "employee", element: "main" },
  agent: { role: "agent", element: "agent-view" },
  admin: { role: "admin", element: "admin-view" },
};
const CONVERSATION_KEY = "lotse.conversation";

const $ = (id) => document.getElementById(id);

const session = { me: null, mounted: new Set(), mounts: {} };

/** Whether ``role`` may open something that needs ``needed`` (employee < agent < admin). */
export function allows(role, needed) {
  return role in RANK && RANK[role] >= RANK[needed];
}

export function currentUser() {
  return session.me;
}

function setText(node, key) {
  node.dataset.i18n = key;
  node.textContent = t(key);
}

function parseHash() {
  const raw = decodeURIComponent(window.location.hash.replace(/^#/, ""));
  const [view, ...rest] = raw.split("/");
  return { view: view in VIEWS ? view : "chat", sub: rest.join("/") };
}

function showLogin(reasonKey) {
  session.me = null;
  document.body.dataset.view = "login";
  document.body.dataset.role = "";
  $("view-nav").hidden = true;
  $("session").hidden = true;
  for (const view of Object.values(VIEWS)) {
    if (view.element !== "main") $(view.element).hidden = true;
  }
  $("login-view").hidden = false;
  const error = $("login-error");
  if (reasonKey) {
    error.replaceChildren(el("p", { i18n: reasonKey }));
    error.hidden = false;
  } else {
    error.hidden = true;
  }
  $("login-secret").focus();
}

/** An error about a role the caller lacks (a 403 from the API, or a view beyond the role). */
export function forbiddenNotice(needed) {
  return el("div", { className: "notice notice-error forbidden", attrs: { role: "alert" } }, [
    el("p", {}, [el("strong", { i18n: "forbiddenTitle" })]),
    el("p", {}, [el("span", { i18n: "forbiddenNeeds" }), " ", el("code", { text: needed })]),
  ]);
}

function route() {
  if (!session.me) return;
  const { view, sub } = parseHash();
  const spec = VIEWS[view];
  document.body.dataset.view = view;
  for (const link of document.querySelectorAll("[data-view-link]")) {
    if (link.dataset.viewLink === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  for (const [name, other] of Object.entries(VIEWS)) {
    if (other.element !== "main") $(other.element).hidden = name !== view;
  }
  if (view === "chat") return;
  const container = $(spec.element);
  if (!allows(session.me.role, spec.role)) {
    session.mounted.delete(view);
    container.replaceChildren(forbiddenNotice(spec.role));
    return;
  }
  const mount = session.mounts[view];
  if (!mount) return;
  if (!session.mounted.has(view)) {
    session.mounted.add(view);
    mount.mount(container, sub);
  } else if (mount.show) {
    mount.show(sub);
  }
}

function signedIn(me) {
  session.me = me;
  document.body.dataset.role = me.role;
  document.body.dataset.authMode = me.auth_mode;
  $("login-view").hidden = true;
  $("view-nav").hidden = false;
  for (const link of document.querySelectorAll("[data-view-link]")) {
    link.hidden = !allows(me.role, VIEWS[link.dataset.viewLink].role);
  }
  $("session").hidden = false;
  $("session-user").textContent = me.user_id;
  $("session-role").textContent = me.role;
  $("logout").hidden = !storedCredential();
  route();
}

async function login(event) {
  event.preventDefault();
  const input = $("login-secret");
  const secret = input.value.trim();
  if (!secret) return;
  storeCredential(secret);
  const button = $("login-submit");
  button.disabled = true;
  try {
    const me = await getMe();
    input.value = "";
    signedIn(me);
    document.dispatchEvent(new CustomEvent("lotse:signed-in"));
  } catch (exc) {
    clearCredential();
    showLogin(exc && exc.status === 401 ? "loginRejected" : exc && exc.status === 403 ? "loginNoRole" : "errorNetwork");
  } finally {
    button.disabled = false;
  }
}

function logout() {
  clearCredential();
  try {
    window.sessionStorage.removeItem(CONVERSATION_KEY); // the next person starts afresh
  } catch {
    // nothing stored
  }
  window.location.hash = "";
  window.location.reload();
}

/**
 * Wire the login form, navigation and views. ``mounts``: {agent: {mount(container, sub),
 * show(sub)}, admin: …}. Resolves true once someone is signed in (or auth is off), false when
 * the login screen shows.
 */
export async function startShell(mounts) {
  session.mounts = mounts;
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  window.addEventListener("hashchange", route);
  document.addEventListener(UNAUTHENTICATED_EVENT, () => {
    // the key was revoked or the token expired: ask again, keep the page as it is
    if (session.me) {
      clearCredential();
      showLogin("loginExpired");
    }
  });
  try {
    signedIn(await getMe());
    return true;
  } catch (exc) {
    if (exc && exc.status === 401) {
      const had = storedCredential();
      clearCredential();
      showLogin(had ? "loginExpired" : null);
    } else if (exc && exc.status === 403) {
      clearCredential();
      showLogin("loginNoRole");
    } else {
      showLogin("errorNetwork");
    }
    return false;
  }
}

/** Show an element's text by i18n key (small helper shared by the views). */
export { setText };

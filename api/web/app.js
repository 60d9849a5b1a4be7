// The employee self-service chat. Plain ES modules, no framework: the page is static HTML, this
// module wires it to the API (api.js). Nothing received from the server, a document or the
// model is ever inserted as HTML: answers go through the safe Markdown subset (markdown.js),
// everything else through textContent (dom.js).

import { apiJson, chatStream, deleteConversation, getConversation, sendFeedback } from "./api.js";
import { copyText, el, icon } from "./dom.js";
import { detectLanguage, language, setLanguage, t, translate } from "./i18n.js";
import { renderMarkdown } from "./markdown.js";
import { adminView } from "./admin.js";
import { agentView } from "./agent.js";
import { startShell } from "./shell.js";

const CONVERSATION_KEY = "lotse.conversation";
const SUBJECT_CHARS = 120;

const $ = (id) => document.getElementById(id);

const state = {
  conversationId: null,
  exchanges: [], // {question, answer, model, abstained, sources, answerId}
  controller: null,
  linkOrigins: [],
};

// --- small helpers ---

function readLinkOrigins() {
  const meta = document.querySelector('meta[name="lotse-link-origins"]');
  const origins = [];
  for (const item of (meta ? meta.content : "").split(/\s+/)) {
    if (!item) continue;
    try {
      const url = new URL(item);
      if (url.protocol === "https:" || url.protocol === "http:") origins.push(url.origin);
    } catch {
      // not an origin: ignored
    }
  }
  return origins;
}

function announce(key) {
  const status = $("status");
  status.dataset.i18n = key;
  status.textContent = t(key);
}

function remember(conversationId) {
  try {
    if (conversationId) window.sessionStorage.setItem(CONVERSATION_KEY, conversationId);
    else window.sessionStorage.removeItem(CONVERSATION_KEY);
  } catch {
    // storage disabled: the conversation simply does not survive a reload
  }
}

function remembered() {
  try {
    return window.sessionStorage.getItem(CONVERSATION_KEY);
  } catch {
    return null;
  }
}

function setConversation(conversationId) {
  state.conversationId = conversationId;
  document.body.dataset.conversationId = conversationId || "";
  $("delete-conversation").disabled = !conversationId;
  remember(conversationId);
}

function setBusy(busy) {
  $("send").disabled = busy;
  $("stop").hidden = !busy;
  document.body.classList.toggle("is-busy", busy);
}

function nearBottom() {
  const doc = document.documentElement;
  return doc.scrollHeight - (window.scrollY + window.innerHeight) < 160;
}

function scrollToBottom() {
  window.scrollTo({ top: document.documentElement.scrollHeight, behavior: "auto" });
}

function errorText(error) {
  if (!error) return t("errorNetwork");
  if (error.code === "network" || error.status === 0) return t("errorNetwork");
  return [error.message, error.hint].filter(Boolean).join(" — ");
}

function autosize() {
  const input = $("question");
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
}

// --- dialogs ---

let dialogOpener = null;

function openDialog(dialog, opener) {
  dialogOpener = opener || document.activeElement;
  dialog.showModal();
}

function wireDialog(dialog) {
  dialog.addEventListener("close", () => {
    // "close" is queued after the dialog hides; by then the browser may have restored focus
    // and the user may have moved on, so only take focus back if nobody holds it
    const active = document.activeElement;
    const unclaimed = !active || active === document.body || dialog.contains(active);
    if (unclaimed && dialogOpener && document.contains(dialogOpener)) dialogOpener.focus();
    dialogOpener = null;
  });
  for (const button of dialog.querySelectorAll("[data-close-dialog]")) {
    button.addEventListener("click", () => dialog.close());
  }
  // a click on the backdrop (outside the dialog's box) closes it too
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close();
  });
}

function openSource(source, opener) {
  $("source-dialog-title").textContent = source.title || source.source_id;
  $("source-dialog-heading").textContent = source.heading || "–";
  $("source-dialog-id").textContent = source.source_id;
  $("source-dialog-snippet").textContent = source.snippet;
  openDialog($("source-dialog"), opener);
}

function truncate(text, limit) {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > limit ? `${line.slice(0, limit - 1).trimEnd()}…` : line;
}

/** A ticket draft from the conversation up to ``exchange``; the person may edit it before
 *  sending (POST v1/escalations), or copy it when ticket sending is not configured. */
function ticketDraft(exchange) {
  const index = state.exchanges.indexOf(exchange);
  const upto = index === -1 ? [exchange] : state.exchanges.slice(0, index + 1);
  const lines = [t("ticketHeader"), ""];
  for (const item of upto) {
    lines.push(`${t("ticketQuestion")}: ${item.question}`);
    const model = item.model ? `, ${t("model")} ${item.model}` : "";
    lines.push(`${t("ticketAnswer")}${model}): ${item.answer || t("ticketNoAnswer")}`);
    if (item.sources.length) {
      const cited = item.sources.map((s) => `${s.title || s.source_id} (${s.source_id})`);
      lines.push(`${t("ticketSources")}: ${cited.join("; ")}`);
    }
    lines.push("");
  }
  return {
    subject: t("ticketSubjectPrefix") + truncate(exchange.question, SUBJECT_CHARS),
    description: lines.join("\n").trimEnd(),
  };
}

// --- sending the ticket: POST v1/escalations, then GET v1/escalations/{id} until it is
// delivered (with the ticket system's number) or failed (with the reason) ---

const TICKET_POLL_MS = 700;
const TICKET_POLL_LIMIT = 400; // about 5 minutes: the deliverer retries with backoff
const ticket = { config: null, exchange: null, sending: false, timer: null };

/** GET v1/escalations/config once: is a ticket system configured? (not cached on failure) */
async function ticketConfig() {
  if (ticket.config) return ticket.config;
  try {
    ticket.config = await apiJson("v1/escalations/config");
    return ticket.config;
  } catch {
    return { target: "none", configured: false };
  }
}

function setKey(node, key) {
  node.dataset.i18n = key;
  node.textContent = t(key);
}

function showTicketMode(configured) {
  const status = $("ticket-status");
  status.dataset.configured = String(configured);
  status.classList.toggle("notice-warning", !configured);
  status.classList.toggle("notice-info", configured);
  setKey($("ticket-status-title"), configured ? "ticketConfigured" : "ticketNotConfigured");
  setKey($("ticket-status-text"), configured ? "ticketConfiguredHint" : "ticketNotSent");
}

function updateSendButton() {
  const exchange = ticket.exchange;
  const sent = Boolean(exchange && exchange.escalation);
  $("ticket-send").disabled = !(ticket.config && ticket.config.configured) || ticket.sending || sent;
}

/** The delivery notice: ``state`` (data-state), a title key, an optional value and detail. */
function showDelivery(state, titleKey, { value = "", detail = "", hintKey = null, tone = "info" } = {}) {
  const box = $("ticket-delivery");
  box.hidden = false;
  box.dataset.state = state;
  box.className = `notice notice-${tone}`;
  setKey($("ticket-delivery-title"), titleKey);
  $("ticket-delivery-ref").textContent = value;
  const more = $("ticket-delivery-detail");
  more.textContent = detail; // the server's words (an HTTP status, an error code): as text
  more.hidden = !detail;
  const hint = $("ticket-delivery-hint");
  if (hintKey) setKey(hint, hintKey);
  else delete hint.dataset.i18n;
  hint.hidden = !hintKey;
}

function hideDelivery() {
  const box = $("ticket-delivery");
  box.hidden = true;
  box.dataset.state = "";
}

function renderEscalation(escalation) {
  const status = escalation.status;
  if (status === "delivered") {
    const ref = escalation.external_ref || "";
    showDelivery("delivered", ref ? "ticketDelivered" : "ticketDeliveredNoRef", { value: ref, tone: "success" });
  } else if (status === "failed") {
    showDelivery("failed", "ticketFailed", {
      detail: escalation.last_error || "",
      hintKey: "ticketFailedHint",
      tone: "error",
    });
  } else if (escalation.target === "none") {
    showDelivery("pending", "ticketStored", { tone: "warning" });
  } else if (status === "pending" && escalation.attempts > 0) {
    showDelivery("retrying", "ticketRetrying", {
      value: `${escalation.attempts + 1}/${escalation.max_attempts}`,
      detail: escalation.last_error || "",
      tone: "warning",
    });
  } else {
    showDelivery(status, status === "delivering" ? "ticketDelivering" : "ticketQueued");
  }
}

function stopPolling() {
  if (ticket.timer !== null) window.clearTimeout(ticket.timer);
  ticket.timer = null;
}

/** Follow the escalation of ``exchange`` until it is delivered or failed. */
function pollEscalation(exchange, round = 0) {
  stopPolling();
  const escalation = exchange.escalation;
  if (!escalation || escalation.status === "delivered" || escalation.status === "failed") return;
  if (escalation.target === "none" || round >= TICKET_POLL_LIMIT) return;
  ticket.timer = window.setTimeout(async () => {
    ticket.timer = null;
    try {
      exchange.escalation = await apiJson(`v1/escalations/${encodeURIComponent(escalation.escalation_id)}`);
    } catch {
      // a passing network problem: the next round asks again
    }
    if (ticket.exchange === exchange) renderEscalation(exchange.escalation);
    pollEscalation(exchange, round + 1);
  }, TICKET_POLL_MS);
}

async function sendTicket(event) {
  event.preventDefault();
  const exchange = ticket.exchange;
  if (!exchange || ticket.sending || exchange.escalation || !(ticket.config && ticket.config.configured)) return;
  const subject = $("ticket-subject").value.trim();
  const description = $("ticket-description").value.trim();
  if (!subject || !description) {
    showDelivery("invalid", "ticketMissingText", { tone: "error" });
    return;
  }
  if (!state.conversationId || !exchange.answerId) {
    showDelivery("invalid", "ticketNoConversation", { tone: "error" });
    return;
  }
  ticket.sending = true;
  updateSendButton();
  showDelivery("sending", "ticketSending");
  const body = {
    conversation_id: state.conversationId,
    answer_id: exchange.answerId,
    subject,
    description,
    reason: exchange.abstained ? "abstained" : "not_helpful",
  };
  try {
    exchange.escalation = await apiJson("v1/escalations", { method: "POST", body });
  } catch (exc) {
    showDelivery("error", "ticketSendFailed", { detail: errorText(exc), tone: "error" });
    return;
  } finally {
    ticket.sending = false;
    updateSendButton();
  }
  if (ticket.exchange === exchange) renderEscalation(exchange.escalation);
  pollEscalation(exchange);
}

function openTicket(exchange, opener) {
  const draft = ticketDraft(exchange);
  stopPolling();
  ticket.exchange = exchange;
  $("ticket-subject").value = exchange.escalation ? exchange.escalation.subject : draft.subject;
  $("ticket-description").value = exchange.escalation ? exchange.escalation.description : draft.description;
  $("ticket-copy-status").textContent = "";
  if (exchange.escalation) {
    renderEscalation(exchange.escalation);
    pollEscalation(exchange);
  } else {
    hideDelivery();
  }
  updateSendButton();
  ticketConfig().then((config) => {
    if (ticket.exchange !== exchange) return;
    showTicketMode(Boolean(config.configured));
    updateSendButton();
  });
  openDialog($("ticket-dialog"), opener);
  const subject = $("ticket-subject");
  subject.focus();
  subject.setSelectionRange(0, 0); // show the start of a long subject
  subject.scrollLeft = 0;
}

// --- one question and its answer ---

class AnswerView {
  constructor(exchange) {
    this.exchange = exchange;
    this.rating = null;
    this.commentOffered = false;
    this.renderScheduled = false;

    this.question = el("li", { className: "turn turn-user" }, [
      el("span", { className: "visually-hidden", i18n: "you" }),
      el("p", { className: "bubble", text: exchange.question }),
    ]);

    this.modelId = el("code", { className: "model-id" });
    this.modelLabel = el("span", { className: "model-label", attrs: { hidden: true } }, [
      el("span", { i18n: "model" }),
      ": ",
      this.modelId,
    ]);
    const head = el("header", { className: "answer-head" }, [
      el("span", { className: "assistant-name", i18n: "assistant" }),
      el("span", { className: "ai-badge", i18n: "aiGenerated" }),
      this.modelLabel,
    ]);

    this.sourceList = el("ul", { className: "source-list" });
    this.sources = el("section", { className: "sources", ariaLabel: "sources", attrs: { hidden: true } }, [
      el("h3", { className: "sources-title", i18n: "sources" }),
      this.sourceList,
    ]);

    this.body = el("div", {
      className: "answer-body",
      attrs: { "aria-live": "polite", "aria-busy": "true", "aria-atomic": "false" },
    });
    this.progress = el("p", { className: "answer-progress", i18n: "searching" });
    this.problem = el("div", { className: "notice notice-error", attrs: { role: "alert", hidden: true } });
    this.offer = el("div", { className: "ticket-offer", attrs: { hidden: true } }, [
      el("p", { i18n: "notFoundOffer" }),
      el(
        "button",
        {
          className: "button button-primary",
          attrs: { type: "button", "aria-haspopup": "dialog" },
          on: { click: (event) => openTicket(this.exchange, event.currentTarget) },
        },
        [icon("ticket"), el("span", { i18n: "prepareTicket" })],
      ),
    ]);

    this.actions = this.buildActions();
    this.feedback = this.buildFeedback();

    this.article = el(
      "article",
      { className: "answer", attrs: { "data-state": "searching", "aria-busy": "true" } },
      [head, this.sources, this.body, this.progress, this.problem, this.offer, this.actions, this.feedback],
    );
    this.answer = el("li", { className: "turn turn-assistant" }, [this.article]);
  }

  buildActions() {
    const iconButton = (name, label, handler, extra = {}) =>
      el(
        "button",
        {
          className: "button button-icon",
          ariaLabel: label,
          attrs: { type: "button", "data-i18n-title": label, title: t(label), ...extra },
          on: { click: handler },
        },
        [icon(name)],
      );
    this.copyButton = iconButton("copy", "copy", () => this.copy());
    this.upButton = iconButton("up", "rateUp", () => this.rate("up"), { "aria-pressed": "false" });
    this.downButton = iconButton("down", "rateDown", () => this.rate("down"), { "aria-pressed": "false" });
    this.didntHelp = el(
      "button",
      {
        className: "button button-quiet button-small",
        attrs: { type: "button", "aria-haspopup": "dialog" },
        on: { click: (event) => this.notHelpful(event.currentTarget) },
      },
      [icon("ticket"), el("span", { i18n: "didntHelp" })],
    );
    return el("div", { className: "answer-actions", attrs: { hidden: true } }, [
      this.copyButton,
      this.upButton,
      this.downButton,
      this.didntHelp,
    ]);
  }

  buildFeedback() {
    this.feedbackStatus = el("p", { className: "inline-status", attrs: { role: "status", "aria-live": "polite" } });
    this.commentInput = el("textarea", { className: "comment-input", attrs: { rows: "2", maxlength: "2000" } });
    const label = el("label", { className: "field" }, [
      el("span", { className: "field-label", i18n: "feedbackCommentLabel" }),
      this.commentInput,
    ]);
    this.commentForm = el(
      "form",
      { className: "comment-form", attrs: { hidden: true }, on: { submit: (event) => this.sendComment(event) } },
      [
        label,
        el("button", { className: "button button-quiet button-small", attrs: { type: "submit" } }, [
          el("span", { i18n: "feedbackCommentSend" }),
        ]),
      ],
    );
    return el("div", { className: "feedback" }, [this.feedbackStatus, this.commentForm]);
  }

  setStatus(node, key) {
    node.dataset.i18n = key;
    node.textContent = t(key);
  }

  showSources(sources) {
    this.exchange.sources = sources;
    this.sourceList.replaceChildren(
      ...sources.map((source, i) => {
        const card = el(
          "button",
          {
            className: "source-card",
            attrs: { type: "button", "aria-haspopup": "dialog", "data-source-id": source.source_id },
            on: { click: () => openSource(source, card) },
          },
          [
            el("span", { className: "source-index", text: String(i + 1), attrs: { "aria-hidden": "true" } }),
            el("span", { className: "source-main" }, [
              el("span", { className: "visually-hidden", i18n: "sourceOpen" }),
              el("span", { className: "source-title", text: source.title || source.source_id }),
              el("span", { className: "source-heading", text: source.heading }),
              el("span", { className: "source-snippet", text: source.snippet }),
            ]),
          ],
        );
        return el("li", {}, [card]);
      }),
    );
    this.sources.hidden = sources.length === 0;
    if (this.article.dataset.state === "searching") {
      this.article.dataset.state = "streaming";
      this.setStatus(this.progress, "writing");
    }
  }

  appendToken(text) {
    this.exchange.answer += text;
    if (this.renderScheduled) return;
    this.renderScheduled = true;
    window.requestAnimationFrame(() => {
      this.renderScheduled = false;
      this.render();
    });
  }

  render() {
    const follow = nearBottom();
    renderMarkdown(this.body, this.exchange.answer, { allowedOrigins: state.linkOrigins });
    if (follow) scrollToBottom();
  }

  finish(done) {
    Object.assign(this.exchange, {
      answer: done.answer,
      model: done.model,
      abstained: done.abstained,
      sources: done.sources,
      answerId: done.answer_id,
    });
    this.showSources(done.sources);
    this.render();
    this.modelId.textContent = done.model;
    this.modelLabel.hidden = false;
    this.progress.hidden = true;
    this.article.dataset.state = done.abstained ? "abstained" : "done";
    this.article.dataset.answerId = done.answer_id;
    this.body.setAttribute("aria-busy", "false");
    this.article.setAttribute("aria-busy", "false");
    if (done.abstained) {
      this.offer.hidden = false;
    } else {
      this.actions.hidden = false;
    }
  }

  fail(error) {
    this.progress.hidden = true;
    this.article.dataset.state = "error";
    this.body.setAttribute("aria-busy", "false");
    this.article.setAttribute("aria-busy", "false");
    this.problem.replaceChildren(el("p", {}, [el("strong", { i18n: "errorTitle" })]), el("p", { text: errorText(error) }));
    this.problem.hidden = false;
    this.offer.hidden = false;
  }

  stopped() {
    this.progress.hidden = false;
    this.setStatus(this.progress, "stopped");
    this.article.dataset.state = "stopped";
    this.body.setAttribute("aria-busy", "false");
    this.article.setAttribute("aria-busy", "false");
  }

  async copy() {
    const ok = await copyText(this.exchange.answer);
    this.setStatus(this.feedbackStatus, ok ? "copied" : "copyFailed");
  }

  async rate(rating, comment) {
    this.rating = rating;
    this.upButton.setAttribute("aria-pressed", String(rating === "up"));
    this.downButton.setAttribute("aria-pressed", String(rating === "down"));
    try {
      await sendFeedback(this.exchange.answerId, rating, comment);
    } catch {
      this.feedbackStatus.classList.add("is-error");
      this.setStatus(this.feedbackStatus, "feedbackFailed");
      return false;
    }
    this.feedbackStatus.classList.remove("is-error");
    this.setStatus(this.feedbackStatus, comment ? "feedbackCommentThanks" : "feedbackThanks");
    if (!comment && !this.commentOffered) {
      // once: offer the optional comment (a rating again replaces the earlier one)
      this.commentOffered = true;
      this.commentForm.hidden = false;
    }
    return true;
  }

  async sendComment(event) {
    event.preventDefault();
    const comment = this.commentInput.value.trim();
    if (!comment || !this.rating) return;
    if (await this.rate(this.rating, comment)) {
      this.commentForm.hidden = true;
    }
  }

  async notHelpful(opener) {
    openTicket(this.exchange, opener);
    if (this.rating !== "down") await this.rate("down");
  }
}

// --- the conversation ---

function showIntro(visible) {
  $("intro").hidden = !visible;
  document.body.classList.toggle("has-conversation", !visible);
}

function addView(exchange) {
  const view = new AnswerView(exchange);
  $("conversation").append(view.question, view.answer);
  showIntro(false);
  return view;
}

async function ask(text) {
  const question = text.trim();
  if (!question || state.controller) return;
  const exchange = { question, answer: "", model: "", abstained: false, sources: [], answerId: null };
  state.exchanges.push(exchange);
  const view = addView(exchange);
  view.question.scrollIntoView({ block: "start" });
  const input = $("question");
  input.value = "";
  autosize();
  const controller = new AbortController();
  state.controller = controller;
  setBusy(true);
  announce("searching");
  let ended = false;
  try {
    const events = chatStream({ message: question, conversationId: state.conversationId, signal: controller.signal });
    for await (const { event, data } of events) {
      if (event === "sources") view.showSources(data.sources);
      else if (event === "token") view.appendToken(data.text);
      else if (event === "done") {
        setConversation(data.conversation_id);
        view.finish(data);
        announce("answerReady");
        ended = true;
      } else if (event === "error") {
        view.fail(data.error);
        announce("errorTitle");
        ended = true;
      }
    }
    if (!ended) {
      view.fail(null);
      announce("errorTitle");
    }
  } catch (exc) {
    if (exc && exc.name === "AbortError") {
      view.stopped();
      announce("stopped");
    } else {
      view.fail(exc);
      announce("errorTitle");
    }
  } finally {
    if (state.controller === controller) state.controller = null;
    setBusy(false);
  }
}

function clearConversation() {
  if (state.controller) state.controller.abort();
  state.controller = null;
  state.exchanges = [];
  setConversation(null);
  $("conversation").replaceChildren();
  showIntro(true);
  setBusy(false);
}

function newConversation() {
  clearConversation();
  announce("conversationStarted");
  $("question").focus();
}

async function removeConversation() {
  const conversationId = state.conversationId;
  if (!conversationId) return;
  try {
    await deleteConversation(conversationId);
  } catch (exc) {
    if (!exc || exc.status !== 404) {
      announce("deleteFailed");
      return;
    }
  }
  clearConversation();
  announce("conversationDeleted");
  $("question").focus();
}

/** After a reload, show the conversation of this browser tab again (sessionStorage). */
async function restore() {
  const conversationId = remembered();
  if (!conversationId) return;
  let conversation;
  try {
    conversation = await getConversation(conversationId);
  } catch {
    remember(null);
    return;
  }
  setConversation(conversation.conversation_id);
  let pending = null;
  for (const turn of conversation.turns) {
    if (turn.role === "user") {
      pending = turn.text;
    } else if (pending !== null) {
      const exchange = { question: pending, answer: "", model: "", abstained: false, sources: [], answerId: null };
      state.exchanges.push(exchange);
      addView(exchange).finish({
        answer: turn.text,
        model: turn.model || "",
        abstained: turn.abstained,
        sources: turn.sources,
        answer_id: turn.answer_id,
      });
      pending = null;
    }
  }
}

// --- language ---

function applyLanguage(lang, rememberChoice) {
  setLanguage(lang, { remember: rememberChoice });
  translate(document);
  for (const button of document.querySelectorAll(".lang-button")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === language()));
  }
  document.dispatchEvent(new CustomEvent("lotse:language")); // views with formatted figures redraw
}

// --- start ---

function start() {
  state.linkOrigins = readLinkOrigins();
  applyLanguage(detectLanguage(), false);
  wireDialog($("source-dialog"));
  wireDialog($("ticket-dialog"));

  const input = $("question");
  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    ask(input.value);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey && !event.isComposing) {
      event.preventDefault();
      ask(input.value);
    } else if (event.key === "Escape" && state.controller) {
      state.controller.abort();
    }
  });
  input.addEventListener("input", autosize);
  document.querySelector(".skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    input.focus();
  });
  $("stop").addEventListener("click", () => {
    if (state.controller) state.controller.abort();
    input.focus();
  });
  $("new-conversation").addEventListener("click", newConversation);
  $("delete-conversation").addEventListener("click", removeConversation);
  for (const button of document.querySelectorAll(".lang-button")) {
    button.addEventListener("click", () => applyLanguage(button.dataset.lang, true));
  }
  for (const button of document.querySelectorAll("[data-example]")) {
    button.addEventListener("click", () => ask(t(button.dataset.example)));
  }
  $("ticket-form").addEventListener("submit", sendTicket); // does nothing while not configured
  $("ticket-copy").addEventListener("click", async () => {
    const text = `${$("ticket-subject").value}\n\n${$("ticket-description").value}`;
    const ok = await copyText(text);
    const status = $("ticket-copy-status");
    status.dataset.i18n = ok ? "ticketCopied" : "copyFailed";
    status.textContent = t(status.dataset.i18n);
  });

  document.body.dataset.ready = "true";
  // login (when the API asks for credentials), navigation by role, then the chat's conversation
  document.addEventListener("lotse:signed-in", () => restore());
  startShell({ agent: agentView, admin: adminView })
    .then((signedIn) => (signedIn ? restore() : null))
    .finally(() => {
      document.body.dataset.restored = "true";
    });
}

start();

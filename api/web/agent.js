// The agent workspace: the ticket list (imported or arrived by webhook) and a box to paste a
// ticket; for a ticket, the AI's suggested reply (editable, clearly a draft that is not sent
// until the agent acts), similar solved tickets and the triage suggestion with confidences.
// Accept, edit-and-send and reject are recorded through the API. Ticket texts, drafts and
// snippets are untrusted: they go in as text only (dom.js el()), never as HTML.

import { tickets } from "./api.js";
import { confidenceBar } from "./charts.js";
import { el } from "./dom.js";
import { formatShare, formatTime } from "./format.js";
import { t } from "./i18n.js";
import { forbiddenNotice } from "./shell.js";

const LIST_LIMIT = 50;
const SEARCH_DELAY_MS = 250;

function setText(node, key) {
  node.dataset.i18n = key;
  node.textContent = t(key);
}

function errorText(exc) {
  if (!exc || exc.status === 0) return t("errorNetwork");
  return [exc.message, exc.hint].filter(Boolean).join(" — ");
}

function problem(exc) {
  if (exc && exc.status === 403) return forbiddenNotice("agent");
  // a route this server does not have answers with Starlette's bare "Not Found"; an unknown
  // ticket has its own message
  const missingRoute = exc && (exc.status === 405 || (exc.status === 404 && exc.message === "Not Found"));
  if (missingRoute) {
    return el("div", { className: "notice notice-warning not-available", attrs: { role: "status" } }, [el("p", { i18n: "ticketsNotAvailable" })]);
  }
  return el("div", { className: "notice notice-error", attrs: { role: "alert" } }, [
    el("p", {}, [el("strong", { i18n: "requestFailed" })]),
    el("p", { className: "error-detail", text: errorText(exc) }),
  ]);
}

function chip(labelKey, value, className = "") {
  if (value === null || value === undefined || value === "") return "";
  return el("span", { className: `chip ${className}` }, [el("span", { className: "chip-label", i18n: labelKey }), " ", el("span", { className: "chip-value", text: value })]);
}

class AgentWorkspace {
  constructor(container) {
    this.container = container;
    this.selected = null; // ticket id shown, or "-" for a pasted ticket
    this.searchTimer = null;

    this.search = el("input", {
      attrs: { type: "search", name: "q", maxlength: "200", autocomplete: "off", "data-i18n-placeholder": "ticketSearch", placeholder: t("ticketSearch"), "aria-label": t("ticketSearch"), "data-i18n-aria-label": "ticketSearch" },
      on: { input: () => this.scheduleSearch() },
    });
    this.list = el("ul", { className: "ticket-list", ariaLabel: "ticketListTitle" });
    this.listStatus = el("div", { className: "ticket-list-status", attrs: { role: "status", "aria-live": "polite" } });

    this.pasteSubject = el("input", { attrs: { type: "text", name: "subject", maxlength: "500", autocomplete: "off", required: true } });
    this.pasteBody = el("textarea", { attrs: { name: "body", rows: "6", maxlength: "20000", required: true } });
    this.pasteLanguage = el("select", { attrs: { name: "language" } }, [
      el("option", { i18n: "languageAuto", attrs: { value: "" } }),
      el("option", { text: "Deutsch", attrs: { value: "de", lang: "de" } }),
      el("option", { text: "English", attrs: { value: "en", lang: "en" } }),
    ]);
    this.pasteButton = el("button", { className: "button button-primary button-small", attrs: { type: "submit" } }, [el("span", { i18n: "pasteSuggest" })]);
    this.pasteStatus = el("div", { attrs: { role: "status", "aria-live": "polite" } });
    const paste = el("form", { className: "paste-form", attrs: { novalidate: true }, on: { submit: (e) => { e.preventDefault(); this.suggestPasted(); } } }, [
      el("h2", { className: "pane-title", i18n: "pasteTitle" }),
      el("label", { className: "field" }, [el("span", { className: "field-label", i18n: "ticketSubject" }), this.pasteSubject]),
      el("label", { className: "field" }, [el("span", { className: "field-label", i18n: "pasteBody" }), this.pasteBody]),
      el("label", { className: "field field-inline" }, [el("span", { className: "field-label", i18n: "language" }), this.pasteLanguage]),
      el("div", { className: "toolbar" }, [this.pasteButton]),
      this.pasteStatus,
    ]);

    this.detail = el("section", { className: "ticket-detail", attrs: { "aria-live": "polite", "aria-labelledby": "agent-detail-title" } }, [
      el("h2", { className: "pane-title", i18n: "ticketPick", attrs: { id: "agent-detail-title" } }),
      el("p", { className: "empty", i18n: "ticketPickHint" }),
    ]);

    container.replaceChildren(
      el("div", { className: "view-head" }, [el("h1", { className: "view-title", i18n: "agentTitle", attrs: { id: "agent-title", tabindex: "-1" } })]),
      el("div", { className: "agent-layout" }, [
        el("div", { className: "agent-side" }, [
          el("section", { className: "ticket-pane", attrs: { "aria-labelledby": "ticket-list-title" } }, [
            el("div", { className: "section-head" }, [
              el("h2", { className: "pane-title", i18n: "ticketListTitle", attrs: { id: "ticket-list-title" } }),
              el("button", { className: "button button-quiet button-small", attrs: { type: "button" }, on: { click: () => this.loadList() } }, [el("span", { i18n: "refresh" })]),
            ]),
            this.search,
            this.listStatus,
            this.list,
          ]),
          paste,
        ]),
        this.detail,
      ]),
    );
    container.setAttribute("aria-labelledby", "agent-title");
  }

  scheduleSearch() {
    clearTimeout(this.searchTimer);
    this.searchTimer = setTimeout(() => this.loadList(), SEARCH_DELAY_MS);
  }

  async loadList() {
    let body;
    try {
      body = await tickets.list({ limit: LIST_LIMIT, q: this.search.value.trim() });
    } catch (exc) {
      this.list.replaceChildren();
      this.listStatus.replaceChildren(problem(exc));
      return;
    }
    this.listStatus.replaceChildren();
    const items = body.tickets || [];
    if (!items.length) {
      this.listStatus.replaceChildren(el("p", { className: "empty", i18n: this.search.value.trim() ? "ticketsNoMatch" : "ticketsEmpty" }));
    }
    this.list.replaceChildren(
      ...items.map((ticket) => {
        const open = el(
          "button",
          {
            className: "ticket-item",
            attrs: { type: "button", "data-ticket-id": ticket.ticket_id, "aria-current": this.selected === ticket.ticket_id ? "true" : null },
            on: { click: () => this.open(ticket.ticket_id) },
          },
          [
            el("span", { className: "ticket-item-subject", text: ticket.subject || t("ticketNoSubject") }),
            el("span", { className: "ticket-item-meta" }, [
              el("code", { text: ticket.ticket_id }),
              chip("ticketStatus", ticket.status),
              chip("ticketQueue", ticket.queue),
              chip("ticketPriority", ticket.priority),
              el("span", { className: `origin origin-${ticket.origin}`, i18n: ticket.origin === "webhook" ? "originWebhook" : "originImport" }),
              ticket.has_suggestion ? el("span", { className: "has-suggestion", i18n: "hasSuggestion" }) : "",
            ]),
          ],
        );
        return el("li", {}, [open]);
      }),
    );
    this.container.dataset.listLoaded = "true";
  }

  markSelected() {
    for (const item of this.list.querySelectorAll(".ticket-item")) {
      if (item.dataset.ticketId === this.selected) item.setAttribute("aria-current", "true");
      else item.removeAttribute("aria-current");
    }
  }

  async open(ticketId) {
    this.selected = ticketId;
    this.markSelected();
    this.detail.replaceChildren(el("p", { className: "loading", i18n: "loading" }));
    let body;
    try {
      body = await tickets.get(ticketId);
    } catch (exc) {
      this.detail.replaceChildren(problem(exc));
      return;
    }
    if (this.selected !== ticketId) return; // another ticket was picked meanwhile
    this.showTicket(body.ticket, body.suggestion);
  }

  async suggestPasted() {
    const subject = this.pasteSubject.value.trim(); // the API needs both (SuggestRequest)
    const body = this.pasteBody.value.trim();
    if (!subject || !body) {
      (subject ? this.pasteBody : this.pasteSubject).focus();
      return;
    }
    const request = { subject, body };
    if (this.pasteLanguage.value) request.language = this.pasteLanguage.value;
    this.pasteButton.disabled = true;
    this.pasteStatus.replaceChildren(el("p", { className: "loading", i18n: "suggesting" }));
    this.selected = "-";
    this.markSelected();
    try {
      const suggestion = await tickets.suggest(request);
      this.pasteStatus.replaceChildren();
      this.showTicket({ ticket_id: null, subject: request.subject, body, language: suggestion.language, origin: "paste" }, suggestion);
    } catch (exc) {
      this.pasteStatus.replaceChildren(problem(exc));
    } finally {
      this.pasteButton.disabled = false;
    }
  }

  showTicket(ticket, suggestion) {
    const pasted = !ticket.ticket_id;
    const head = el("header", { className: "ticket-head" }, [
      el("p", { className: "dialog-kicker" }, pasted ? [el("span", { i18n: "pastedTicket" })] : [el("span", { i18n: "ticketLabel" }), " ", el("code", { text: ticket.ticket_id })]),
      el("h2", { className: "ticket-subject", text: ticket.subject || t("ticketNoSubject"), attrs: { id: "agent-detail-title" } }),
      el("p", { className: "ticket-meta" }, [
        chip("ticketStatus", ticket.status),
        chip("ticketQueue", ticket.queue),
        chip("ticketPriority", ticket.priority),
        chip("ticketType", ticket.type),
        chip("ticketLanguage", ticket.language),
        ticket.created ? chip("ticketCreated", formatTime(ticket.created)) : "",
        ticket.origin && !pasted ? el("span", { className: `origin origin-${ticket.origin}`, i18n: ticket.origin === "webhook" ? "originWebhook" : "originImport" }) : "",
      ]),
    ]);
    const text = el("div", { className: "ticket-body", text: ticket.body || "" });
    this.suggestionArea = el("div", { className: "suggestion-area" });
    this.detail.replaceChildren(head, el("details", { className: "ticket-text", attrs: { open: true } }, [el("summary", { i18n: "ticketText" }), text]), this.suggestionArea);
    this.detail.dataset.ticketId = ticket.ticket_id || "-";
    if (suggestion) this.showSuggestion(ticket, suggestion);
    else this.offerSuggestion(ticket);
  }

  offerSuggestion(ticket) {
    const make = el("button", { className: "button button-primary", attrs: { type: "button" } }, [el("span", { i18n: "makeSuggestion" })]);
    make.addEventListener("click", async () => {
      make.disabled = true;
      this.suggestionArea.replaceChildren(el("p", { className: "loading", i18n: "suggesting" }));
      try {
        const suggestion = await tickets.suggest({ ticket_id: ticket.ticket_id });
        this.showSuggestion(ticket, suggestion);
        this.loadList();
      } catch (exc) {
        this.suggestionArea.replaceChildren(problem(exc), make);
        make.disabled = false;
      }
    });
    this.suggestionArea.replaceChildren(el("p", { className: "empty", i18n: "noSuggestionYet" }), make);
  }

  showSuggestion(ticket, suggestion) {
    const original = suggestion.draft || "";
    const draft = el("textarea", {
      className: "draft-text",
      attrs: { rows: "10", "aria-describedby": "draft-notice", "aria-labelledby": "draft-label", lang: suggestion.language || null },
    });
    draft.value = original; // a form value: never parsed as markup
    const status = el("div", { className: "decision-status", attrs: { role: "status", "aria-live": "polite" } });
    const accept = el("button", { className: "button button-primary", attrs: { type: "button", "data-decision": "accept" } }, [el("span", { i18n: "decisionAccept" })]);
    const edit = el("button", { className: "button button-primary", attrs: { type: "button", "data-decision": "edit", disabled: true } }, [el("span", { i18n: "decisionEdit" })]);
    const reject = el("button", { className: "button button-quiet", attrs: { type: "button", "data-decision": "reject" } }, [el("span", { i18n: "decisionReject" })]);
    const editedHint = el("p", { className: "field-hint", i18n: "draftEditedHint", attrs: { hidden: true } });
    const buttons = [accept, edit, reject];
    const sync = () => {
      const changed = draft.value !== original;
      accept.disabled = changed || (!original.trim() && !changed);
      edit.disabled = !changed || !draft.value.trim();
      editedHint.hidden = !changed;
    };
    draft.addEventListener("input", sync);
    sync();
    // a suggestion is decided once: afterwards (also when the ticket is opened again) it is read-only
    const showDecided = (decision, recordedAt) => {
      for (const b of buttons) b.disabled = true;
      draft.readOnly = true;
      panel.dataset.decision = decision;
      status.replaceChildren(
        el("div", { className: "notice notice-success" }, [
          el("p", {}, [el("strong", { i18n: `decided_${decision}` }), recordedAt ? " " : "", recordedAt ? el("span", { className: "cell-sub", text: formatTime(recordedAt) }) : ""]),
          el("p", { className: "cell-sub", i18n: decision === "reject" ? "decidedRejectNote" : "decidedSendNote" }),
        ]),
      );
    };
    const decide = async (decision) => {
      for (const b of buttons) b.disabled = true;
      const body = { decision };
      if (decision === "edit") body.text = draft.value;
      setText(status, "decisionSending");
      try {
        const recorded = await tickets.decide(suggestion.ticket_id || ticket.ticket_id || "-", suggestion.suggestion_id, body);
        showDecided(recorded.decision, recorded.recorded_at);
      } catch (exc) {
        status.replaceChildren(problem(exc));
        sync();
        reject.disabled = false;
      }
    };
    accept.addEventListener("click", () => decide("accept"));
    edit.addEventListener("click", () => decide("edit"));
    reject.addEventListener("click", () => decide("reject"));

    const draftHead = el("div", { className: "draft-head" }, [
      el("h3", { className: "pane-title", attrs: { id: "draft-label" } }, [el("span", { i18n: "draftTitle" })]),
      el("span", { className: "ai-badge", i18n: "aiDraftBadge" }),
      el("span", { className: "model-label" }, [el("span", { i18n: "model" }), ": ", el("code", { className: "model-id", text: suggestion.model || "–" })]),
    ]);
    const notices = [el("p", { className: "draft-notice", i18n: "draftNotSent", attrs: { id: "draft-notice" } })];
    if (suggestion.abstained) notices.push(el("div", { className: "notice notice-warning" }, [el("p", { i18n: "draftAbstained" })]));

    const sources = (suggestion.sources || []).map((s) =>
      el("li", { className: "draft-source", attrs: { "data-chunk-id": s.chunk_id } }, [
        el("span", { className: "source-title", text: s.title || s.source_id }),
        s.heading ? el("span", { className: "source-heading", text: s.heading }) : "",
        el("span", { className: "source-snippet", text: s.snippet || "" }),
        el("code", { className: "cell-sub", text: s.source_id }),
      ]),
    );

    const panel = el("section", { className: "suggestion", attrs: { "data-suggestion-id": suggestion.suggestion_id, "aria-labelledby": "draft-label" } }, [
      draftHead,
      ...notices,
      draft,
      editedHint,
      el("div", { className: "toolbar decision-actions" }, buttons),
      status,
      sources.length ? el("div", { className: "draft-sources" }, [el("h4", { i18n: "sources" }), el("ul", { className: "draft-source-list" }, sources)]) : "",
    ]);
    if (suggestion.decision) showDecided(suggestion.decision, null);
    this.suggestionArea.replaceChildren(panel, this.similarBlock(suggestion.similar || []), this.triageBlock(suggestion.triage || {}));
  }

  similarBlock(similar) {
    const items = similar.map((s) =>
      el("li", { className: "similar", attrs: { "data-ticket-id": s.ticket_id } }, [
        el("div", { className: "similar-head" }, [
          el("span", { className: "similar-subject", text: s.subject || s.ticket_id }),
          confidenceBar(s.similarity, formatShare(s.similarity)),
        ]),
        el("code", { className: "cell-sub", text: s.ticket_id }),
        s.resolution_snippet ? el("p", { className: "similar-resolution" }, [el("span", { className: "cell-sub", i18n: "resolution" }), " ", el("span", { text: s.resolution_snippet })]) : "",
      ]),
    );
    return el("section", { className: "similar-tickets", attrs: { "aria-labelledby": "similar-title" } }, [
      el("h3", { className: "pane-title", i18n: "similarTitle", attrs: { id: "similar-title" } }),
      items.length ? el("ul", { className: "similar-list" }, items) : el("p", { className: "empty", i18n: "similarNone" }),
    ]);
  }

  triageBlock(triage) {
    const rows = ["queue", "priority", "type"].map((name) => {
      const value = triage[name];
      return el("div", { className: "triage-row", attrs: { "data-field": name } }, [
        el("dt", { i18n: `triage_${name}` }),
        el("dd", {}, value ? [el("span", { className: "triage-value", text: value.value }), confidenceBar(value.confidence, formatShare(value.confidence))] : [el("span", { className: "cell-sub", i18n: "triageNone" })]),
      ]);
    });
    return el("section", { className: "triage", attrs: { "aria-labelledby": "triage-title" } }, [
      el("h3", { className: "pane-title", i18n: "triageTitle", attrs: { id: "triage-title" } }),
      el("p", { className: "cell-sub", i18n: "triageNote" }),
      el("dl", { className: "triage-list" }, rows),
    ]);
  }
}

let workspace = null;

export const agentView = {
  mount(container) {
    workspace = new AgentWorkspace(container);
    workspace.loadList();
  },
  show() {
    if (workspace) workspace.loadList();
  },
};


// The admin console: sources (register, edit, remove) and reindexing with live progress, a
// dashboard of usage charts and knowledge gaps, the review of ticket knowledge candidates, the
// audit log with its chain check, erasure and API keys. Everything shown comes from the admin
// API (api.js) and goes in as text (dom.js el()); source names, file paths, audit details and
// errors are data, never markup.

import { admin, apiJson } from "./api.js";
import { barList, ring, splitBar, stackedBars } from "./charts.js";
import { copyText, el, icon } from "./dom.js";
import { formatDay, formatMs, formatNumber, formatPercent, formatSeconds, formatShare, formatTime } from "./format.js";
import { t } from "./i18n.js";
import { forbiddenNotice } from "./shell.js";

const SECTIONS = ["sources", "dashboard", "candidates", "audit", "erase", "keys"];
const POLL_MS = 400;
const FINISHED = new Set(["succeeded", "failed", "cancelled"]);
const EVENTS = [
  "answer",
  "search",
  "feedback",
  "reindex",
  "source_registered",
  "source_removed",
  "retention",
  "checkpoint",
  "audit_export",
  "audit_viewed",
  "erasure",
  "escalation",
  "access_denied",
  "login",
  "key_created",
  "key_revoked",
  "keys_viewed",
  "suggestion",
  "suggestion_decision",
  "ticket_received",
  "candidate_decision",
  "audit_verified",
  "settings_changed",
];
const DECISIONS = ["answered", "abstained", "refused", "overloaded", "error"];
const ROLES = ["employee", "agent", "admin"];

// --- shared helpers ---

function setText(node, key) {
  node.dataset.i18n = key;
  node.textContent = t(key);
}

function errorText(exc) {
  if (!exc || exc.status === 0) return t("errorNetwork");
  return [exc.message, exc.hint].filter(Boolean).join(" — ");
}

/** A notice for a failed call: the missing role (403), a route this server lacks (404), or
 *  the server's message. */
function problem(exc, { notAvailable = false } = {}) {
  if (exc && exc.status === 403) return forbiddenNotice("admin");
  if (notAvailable && exc && (exc.status === 404 || exc.status === 405)) {
    return el("div", { className: "notice notice-warning not-available", attrs: { role: "status" } }, [
      el("p", { i18n: "notAvailable" }),
    ]);
  }
  return el("div", { className: "notice notice-error", attrs: { role: "alert" } }, [
    el("p", {}, [el("strong", { i18n: "requestFailed" })]),
    el("p", { className: "error-detail", text: errorText(exc) }),
  ]);
}

function button(labelKey, handler, { primary = false, small = true, iconName = null, attrs = {} } = {}) {
  const classes = ["button", primary ? "button-primary" : "button-quiet"];
  if (small) classes.push("button-small");
  return el("button", { className: classes.join(" "), attrs: { type: "button", ...attrs }, on: { click: handler } }, [
    ...(iconName ? [icon(iconName)] : []),
    el("span", { i18n: labelKey }),
  ]);
}

function field(labelKey, control, hintKey = null) {
  return el("label", { className: "field" }, [
    el("span", { className: "field-label", i18n: labelKey }),
    control,
    ...(hintKey ? [el("span", { className: "field-hint", i18n: hintKey })] : []),
  ]);
}

function select(options, { name, labels = null } = {}) {
  return el(
    "select",
    { attrs: { name } },
    options.map(([value, key]) => el("option", labels === "text" ? { text: key, attrs: { value } } : { i18n: key, attrs: { value } })),
  );
}

function table(headKeys, rows, className = "") {
  return el("div", { className: "table-wrap" }, [
    el("table", { className: `data-table ${className}` }, [
      el("thead", {}, [el("tr", {}, headKeys.map((k) => el("th", { i18n: k, attrs: { scope: "col" } })))]),
      el("tbody", {}, rows),
    ]),
  ]);
}

function cell(text, className = "") {
  return el("td", { className, text: text === null || text === undefined ? "–" : text });
}

function sectionHead(titleKey, ...actions) {
  return el("div", { className: "section-head" }, [el("h2", { i18n: titleKey }), el("div", { className: "section-actions" }, actions)]);
}

// --- sources and reindexing ---

const SOURCE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/; // api/schemas_admin.py _NAME
const SOURCE_KINDS = ["folder", "tickets"]; // api/sources.py SOURCE_KINDS
const TICKET_FORMATS = ["generic", "zammad", "znuny", "glpi", "jira", "mbox"]; // knowledge/tickets/formats.py FORMATS

/** A labelled control with its hint and a place for its error, both tied to the control by
 *  aria-describedby (the label holds only the label, so it stays the accessible name). */
function describedField(id, labelKey, control, hintKey = null) {
  control.id = id;
  const hint = el("span", { className: "field-hint", attrs: { id: `${id}-hint` } });
  if (hintKey) setText(hint, hintKey);
  const error = el("span", { className: "field-error", attrs: { id: `${id}-error`, hidden: true } });
  control.setAttribute("aria-describedby", `${id}-hint ${id}-error`);
  const wrap = el("div", { className: "field" }, [el("label", { className: "field-label", i18n: labelKey, attrs: { for: id } }), control, hint, error]);
  wrap.parts = { hint, error };
  return wrap;
}

/** Register a source or replace a registration: name, kind, path on the server, groups and,
 *  for a ticket export, its format. The name is checked as the server checks it; what only
 *  the server knows (whether the path exists, which names a ticket export may not have) comes
 *  back as its error, shown next to the form. */
class SourceForm {
  constructor({ saved, reindexNow }) {
    this.saved = saved;
    this.reindexNow = reindexNow;
    this.known = new Set();
    this.controls = {
      name: el("input", { attrs: { type: "text", name: "name", maxlength: "64", required: true, autocomplete: "off", spellcheck: "false" } }),
      kind: select(SOURCE_KINDS.map((k) => [k, `sourceKind_${k}`]), { name: "kind" }),
      location: el("input", { attrs: { type: "text", name: "location", maxlength: "4096", required: true, autocomplete: "off", spellcheck: "false" } }),
      acl: el("input", { attrs: { type: "text", name: "acl", autocomplete: "off", spellcheck: "false" } }),
      format: select([["", "sourceFormatChoose"], ...TICKET_FORMATS.map((f) => [f, `ticketFormat_${f}`])], { name: "format" }),
    };
    this.fields = {
      name: describedField("source-name", "sourceName", this.controls.name, "sourceNameHint"),
      kind: describedField("source-kind", "sourceKind", this.controls.kind, "sourceKindHint"),
      location: describedField("source-location", "sourceLocation", this.controls.location),
      acl: describedField("source-acl", "sourceAcl", this.controls.acl, "sourceAclHint"),
      format: describedField("source-format", "sourceFormat", this.controls.format, "sourceFormatHint"),
    };
    this.submitLabel = el("span", { i18n: "sourceRegister" });
    this.submit = el("button", { className: "button button-primary", attrs: { type: "submit" } }, [this.submitLabel]);
    this.exists = el("p", { className: "field-hint source-exists", i18n: "sourceExists", attrs: { hidden: true } });
    this.problem = el("div", { className: "source-form-problem" });
    this.result = el("div", { className: "source-form-result", attrs: { role: "status", "aria-live": "polite" } });
    const form = el("form", { className: "source-form", attrs: { novalidate: true, "aria-labelledby": "source-form-title" }, on: { submit: (e) => { e.preventDefault(); this.send(); } } }, [
      this.fields.name,
      this.fields.kind,
      this.fields.location,
      this.fields.format,
      this.fields.acl,
      el("div", { className: "toolbar" }, [this.submit, button("sourceFormClear", () => this.reset(), { small: false })]),
      this.exists,
    ]);
    this.controls.name.addEventListener("input", () => this.checkName());
    this.controls.kind.addEventListener("change", () => this.syncKind());
    for (const name of ["location", "acl", "format"]) {
      const control = this.controls[name];
      control.addEventListener(control.tagName === "SELECT" ? "change" : "input", () => this.setError(name, null));
    }
    this.element = el("div", { className: "source-register" }, [
      el("h3", { i18n: "sourceFormTitle", attrs: { id: "source-form-title" } }),
      el("p", { className: "section-intro", i18n: "sourceFormIntro" }),
      form,
      this.problem,
      this.result,
    ]);
    this.syncKind();
  }

  /** The names registered now: typing one of them turns the form into an update. */
  setKnown(names) {
    this.known = new Set(names);
    this.syncExists();
  }

  syncKind() {
    const tickets = this.controls.kind.value === "tickets";
    this.fields.format.hidden = !tickets;
    if (!tickets) this.setError("format", null);
    setText(this.fields.location.parts.hint, tickets ? "sourceLocationHint_tickets" : "sourceLocationHint_folder");
  }

  syncExists() {
    const exists = this.known.has(this.controls.name.value.trim());
    this.exists.hidden = !exists;
    setText(this.submitLabel, exists ? "sourceUpdate" : "sourceRegister");
  }

  checkName() {
    const name = this.controls.name.value.trim();
    this.setError("name", name && !SOURCE_NAME.test(name) ? "sourceNameInvalid" : null);
    this.syncExists();
  }

  setError(name, key) {
    const control = this.controls[name];
    const error = this.fields[name].parts.error;
    if (key) {
      setText(error, key);
      error.hidden = false;
      control.setAttribute("aria-invalid", "true");
    } else {
      error.hidden = true;
      error.replaceChildren();
      delete error.dataset.i18n;
      control.removeAttribute("aria-invalid");
    }
  }

  /** The request body, or null after marking what is missing or malformed. */
  body() {
    const name = this.controls.name.value.trim();
    const kind = this.controls.kind.value;
    const location = this.controls.location.value.trim();
    const format = this.controls.format.value;
    const wrong = [];
    if (!name) wrong.push(["name", "sourceNameMissing"]);
    else if (!SOURCE_NAME.test(name)) wrong.push(["name", "sourceNameInvalid"]);
    if (!location) wrong.push(["location", "sourceLocationMissing"]);
    if (kind === "tickets" && !format) wrong.push(["format", "sourceFormatMissing"]);
    for (const [field, key] of wrong) this.setError(field, key);
    if (wrong.length) {
      this.controls[wrong[0][0]].focus();
      return null;
    }
    const body = { name, kind, location };
    const groups = this.controls.acl.value.split(/[\s,]+/).filter(Boolean);
    if (groups.length) body.acl = groups;
    if (kind === "tickets") body.format = format;
    return body;
  }

  async send() {
    this.problem.replaceChildren();
    this.result.replaceChildren();
    for (const name of Object.keys(this.controls)) this.setError(name, null);
    const body = this.body();
    if (!body) return;
    this.submit.disabled = true;
    let answer;
    try {
      answer = await admin.addSource(body);
    } catch (exc) {
      this.problem.replaceChildren(problem(exc));
      const field = String((exc && exc.field) || "").split(".")[0];
      if (this.controls[field]) {
        this.controls[field].setAttribute("aria-invalid", "true");
        this.controls[field].focus();
      }
      return;
    } finally {
      this.submit.disabled = false;
    }
    this.reset();
    this.showSaved(answer);
    this.saved(answer.source);
  }

  showSaved({ created, source }) {
    const reindexNow = button("sourceReindexNow", () => this.reindexNow(source.name));
    this.result.replaceChildren(
      el("div", { className: "notice notice-success source-saved", attrs: { "data-created": String(created), "data-source": source.name } }, [
        el("p", {}, [el("strong", { i18n: created ? "sourceRegistered" : "sourceUpdated" }), " ", el("code", { className: "source-saved-name", text: source.name })]),
        el("p", { i18n: created ? "sourceNextReindex" : "sourceNextReindexUpdated" }),
        el("div", { className: "toolbar" }, [reindexNow]),
      ]),
    );
  }

  /** Fill the form with a registered source, to change its path, groups or format. */
  edit(source) {
    this.reset();
    this.result.replaceChildren();
    this.controls.name.value = source.name;
    this.controls.kind.value = SOURCE_KINDS.includes(source.kind) ? source.kind : "folder";
    this.controls.location.value = source.location;
    this.controls.acl.value = (source.acl || []).join(", ");
    this.controls.format.value = TICKET_FORMATS.includes(source.format) ? source.format : "";
    this.syncKind();
    this.checkName();
    this.controls.location.focus();
  }

  reset() {
    for (const [name, control] of Object.entries(this.controls)) {
      control.value = name === "kind" ? "folder" : "";
      this.setError(name, null);
    }
    this.problem.replaceChildren();
    this.syncKind();
    this.syncExists();
  }
}

class SourcesSection {
  constructor() {
    this.sources = [];
    this.confirming = null; // the name of the source whose removal waits for its confirmation
    this.open = null; // that confirmation's row and the button that opened it
    this.list = el("div", { className: "sources-table" });
    this.notice = el("div", { className: "source-notice", attrs: { role: "status", "aria-live": "polite", tabindex: "-1" } });
    this.progress = el("progress", { className: "job-progress", attrs: { max: "100", value: "0", "aria-labelledby": "job-progress-label" } });
    this.progressLabel = el("p", { className: "job-line", attrs: { id: "job-progress-label" } });
    this.jobState = el("p", { className: "job-state", attrs: { role: "status", "aria-live": "polite" } });
    this.summary = el("div", { className: "job-summary" });
    this.reindexButton = button("reindexAll", () => this.reindex(), { primary: true, small: false });
    this.cancelButton = button("reindexCancel", () => this.cancel(), { attrs: { hidden: true } });
    this.job = null;
    this.timer = null;
    this.jobPanel = el("div", { className: "job-panel", attrs: { hidden: true, "data-state": "" } }, [
      this.jobState,
      this.progress,
      this.progressLabel,
      this.summary,
    ]);
    this.form = new SourceForm({
      saved: () => {
        this.notice.replaceChildren();
        this.load();
      },
      reindexNow: (name) => this.reindex([name]),
    });
    this.problem = el("div");
    this.element = el("section", { className: "admin-section", attrs: { "data-section": "sources" } }, [
      sectionHead("sourcesTitle", button("refresh", () => this.load())),
      this.problem,
      this.notice,
      this.list,
      this.form.element,
      el("h3", { i18n: "reindexTitle" }),
      el("p", { className: "section-intro", i18n: "reindexIntro" }),
      el("div", { className: "toolbar" }, [this.reindexButton, this.cancelButton]),
      this.jobPanel,
    ]);
  }

  async load() {
    this.problem.replaceChildren();
    let body;
    try {
      body = await admin.sources();
    } catch (exc) {
      this.list.replaceChildren();
      this.form.element.hidden = Boolean(exc && exc.status === 403);
      this.problem.replaceChildren(problem(exc));
      return;
    }
    this.form.element.hidden = false;
    this.render(body.sources);
    this.element.dataset.loaded = "true";
    if (!this.job) this.attachRunning();
  }

  render(sources) {
    this.sources = sources;
    this.form.setKnown(sources.map((s) => s.name));
    // a confirmation still waiting survives the new rows (a finished job reloads the list)
    const waitingFor = this.confirming;
    const hadFocus = Boolean(this.open && this.open.row.contains(document.activeElement));
    this.open = null;
    this.confirming = null;
    if (!sources.length) {
      this.list.replaceChildren(el("p", { className: "empty", i18n: "sourcesEmpty" }));
      return;
    }
    const rows = sources.map((s) => {
      const errors = [];
      if (s.last_error) errors.push(el("p", { className: "source-error", text: s.last_error }));
      if (s.skipped.length) {
        errors.push(
          el("details", { className: "skipped" }, [
            el("summary", {}, [el("span", { i18n: "skippedFiles" }), ` (${formatNumber(s.skipped.length)})`]),
            el("ul", {}, s.skipped.map((f) => el("li", {}, [el("code", { text: f.source_id }), " — ", el("span", { text: f.reason })]))),
          ]),
        );
      }
      // the source's name completes each button's accessible name: "Remove it-wiki"
      const named = (key) => [el("span", { i18n: key }), el("span", { className: "visually-hidden", text: ` ${s.name}` })];
      const edit = el("button", { className: "button button-quiet button-small source-edit", attrs: { type: "button" }, on: { click: () => this.form.edit(s) } }, named("sourceEdit"));
      const remove = el("button", { className: "button button-quiet button-small source-remove", attrs: { type: "button", "aria-expanded": "false" }, on: { click: () => this.confirmRemoval(s, row, remove) } }, named("sourceRemove"));
      const row = el("tr", { attrs: { "data-source": s.name } }, [
        el("th", { attrs: { scope: "row" } }, [el("span", { className: "source-name", text: s.name }), el("span", { className: "cell-sub source-location", text: s.location })]),
        cell(s.format ? `${s.kind} · ${s.format}` : s.kind, "source-kind"),
        cell(formatNumber(s.documents), "num source-documents"),
        cell(formatNumber(s.chunks), "num source-chunks"),
        cell(s.last_indexed ? formatTime(s.last_indexed) : t("never"), "source-last-indexed"),
        cell(s.acl.join(", "), "source-acl"),
        el("td", { className: "source-errors" }, errors.length ? errors : [el("span", { className: "ok-text", i18n: "noErrors" })]),
        el("td", { className: "source-actions" }, [el("div", { className: "toolbar" }, [edit, remove])]),
      ]);
      row.parts = { source: s, remove };
      return row;
    });
    this.list.replaceChildren(table(["colSource", "colKind", "colDocuments", "colChunks", "colLastIndexed", "colAcl", "colErrors", "colActions"], rows));
    const waiting = rows.find((r) => r.parts.source.name === waitingFor);
    if (waiting) this.confirmRemoval(waiting.parts.source, waiting, waiting.parts.remove, { focus: hadFocus });
  }

  /** The inline confirm step below a source's row: what goes, what stays, two buttons. */
  confirmRemoval(s, row, trigger, { focus = true } = {}) {
    this.closeConfirm();
    this.notice.replaceChildren();
    this.confirming = s.name;
    const title = el("p", { className: "source-confirm-title", attrs: { id: "source-confirm-title", tabindex: "-1" } }, [el("strong", { i18n: "sourceRemoveTitle" }), " ", el("code", { text: s.name })]);
    const result = el("div", { className: "source-confirm-problem" });
    const confirm = button("sourceRemoveConfirm", () => this.remove(s, { confirm, keep, result }), { primary: true, small: false });
    confirm.classList.add("button-danger");
    const keep = button("sourceRemoveKeep", () => this.closeConfirm({ refocus: true }), { small: false });
    const panel = el("div", { className: "source-confirm notice notice-warning", attrs: { role: "group", "aria-labelledby": "source-confirm-title" } }, [
      title,
      el("p", { i18n: "sourceRemoveText" }),
      ...(s.kind === "tickets" ? [el("p", { i18n: "sourceRemoveTickets" })] : []),
      el("p", { className: "source-confirm-counts" }, [el("span", { i18n: "sourceRemoveCounts" }), " ", el("span", { i18n: "colDocuments" }), ` ${formatNumber(s.documents)} · `, el("span", { i18n: "colChunks" }), ` ${formatNumber(s.chunks)}`]),
      el("div", { className: "toolbar" }, [confirm, keep]),
      result,
    ]);
    panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.closeConfirm({ refocus: true });
    });
    const confirmRow = el("tr", { className: "source-confirm-row", attrs: { "data-confirm-for": s.name } }, [el("td", { attrs: { colspan: "8" } }, [panel])]);
    row.after(confirmRow);
    trigger.setAttribute("aria-expanded", "true");
    trigger.setAttribute("aria-controls", "source-confirm-title");
    this.open = { row: confirmRow, trigger };
    if (focus) title.focus();
  }

  closeConfirm({ refocus = false } = {}) {
    if (!this.open) return;
    const { row, trigger } = this.open;
    this.open = null;
    this.confirming = null;
    row.remove();
    trigger.setAttribute("aria-expanded", "false");
    trigger.removeAttribute("aria-controls");
    if (refocus) trigger.focus();
  }

  async remove(s, { confirm, keep, result }) {
    confirm.disabled = keep.disabled = true;
    result.replaceChildren();
    let removed;
    try {
      removed = await admin.removeSource(s.name);
    } catch (exc) {
      confirm.disabled = keep.disabled = false;
      if (exc && exc.status === 404) {
        // gone already (another admin, the CLI): show the list as it is now
        this.closeConfirm();
        await this.load();
        this.problem.replaceChildren(problem(exc));
        return;
      }
      result.replaceChildren(
        exc && exc.status === 409
          ? el("div", { className: "notice notice-error source-busy", attrs: { role: "alert" } }, [
              el("p", {}, [el("strong", { i18n: "sourceRemoveBusy" })]),
              el("p", { className: "error-detail", text: errorText(exc) }),
            ])
          : problem(exc),
      );
      return;
    }
    this.closeConfirm();
    this.notice.replaceChildren(
      el("div", { className: "notice notice-success source-removed", attrs: { "data-source": removed.name } }, [
        el("p", {}, [el("strong", { i18n: "sourceRemoved" }), " ", el("code", { text: removed.name })]),
        el("p", { className: "source-removed-counts" }, [el("span", { i18n: "sourceRemovedCounts" }), " ", el("span", { i18n: "colDocuments" }), ` ${formatNumber(removed.documents)} · `, el("span", { i18n: "colChunks" }), ` ${formatNumber(removed.chunks)}`]),
      ]),
    );
    await this.load();
    this.notice.focus();
  }

  async attachRunning() {
    try {
      const { jobs } = await admin.jobs();
      const running = jobs.find((j) => !FINISHED.has(j.state));
      if (running && !this.job) this.follow(running);
    } catch {
      // the list stays without a job; starting one still works
    }
  }

  /** Start a reindex of the named sources (default: all of them) and follow it. */
  async reindex(names = null) {
    this.reindexButton.disabled = true;
    this.summary.replaceChildren();
    try {
      const accepted = await admin.reindex(names);
      this.follow({ job_id: accepted.job_id, state: accepted.state, percent: 0, done: 0, total: 0, eta_s: null, current: "", summary: {}, errors: {}, error: null });
    } catch (exc) {
      this.reindexButton.disabled = Boolean(this.job);
      this.jobPanel.hidden = false;
      this.summary.replaceChildren(problem(exc));
    }
  }

  follow(job) {
    this.job = job;
    this.jobPanel.hidden = false;
    this.reindexButton.disabled = true;
    this.cancelButton.hidden = false;
    this.cancelButton.disabled = false;
    this.update(job);
    this.schedule();
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.poll(), POLL_MS);
  }

  async poll() {
    if (!this.job) return;
    let job;
    try {
      job = await admin.job(this.job.job_id);
    } catch (exc) {
      this.summary.replaceChildren(problem(exc));
      if (exc && (exc.status === 401 || exc.status === 403 || exc.status === 404)) return this.stop();
      return this.schedule(); // a blip: keep watching
    }
    this.job = job;
    this.update(job);
    if (FINISHED.has(job.state)) {
      this.stop();
      this.load();
    } else {
      this.schedule();
    }
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
    this.job = null;
    this.reindexButton.disabled = false;
    this.cancelButton.hidden = true;
  }

  async cancel() {
    if (!this.job) return;
    this.cancelButton.disabled = true;
    try {
      this.update(await admin.cancelJob(this.job.job_id));
    } catch (exc) {
      this.summary.replaceChildren(problem(exc));
    }
  }

  update(job) {
    const percent = Math.max(0, Math.min(100, Number(job.percent) || 0));
    this.jobPanel.dataset.state = job.state;
    this.jobPanel.dataset.jobId = job.job_id;
    this.progress.value = percent;
    this.progress.setAttribute("aria-valuetext", formatPercent(percent));
    setText(this.jobState, `jobState_${job.state}`);
    const parts = [formatPercent(percent)];
    if (job.total) parts.push(`${formatNumber(job.done)} / ${formatNumber(job.total)} ${t("files")}`);
    if (!FINISHED.has(job.state) && job.eta_s !== null && job.eta_s !== undefined) parts.push(`${t("eta")} ${formatSeconds(job.eta_s)}`);
    const line = [el("span", { className: "job-percent", text: parts.join(" · ") })];
    if (job.current && !FINISHED.has(job.state)) line.push(" · ", el("code", { className: "job-current", text: job.current }));
    this.progressLabel.replaceChildren(...line);
    if (FINISHED.has(job.state)) this.showSummary(job);
  }

  showSummary(job) {
    const rows = Object.entries(job.summary || {}).map(([name, s]) =>
      el("tr", { attrs: { "data-source": name } }, [
        el("th", { text: name, attrs: { scope: "row" } }),
        ...["files_seen", "new", "changed", "unchanged", "deleted"].map((k) => cell(formatNumber(s[k]), "num")),
        cell(formatNumber(Array.isArray(s.skipped) ? s.skipped.length : s.skipped), "num"),
        cell(formatNumber(s.chunks_written), "num"),
        cell(formatNumber(s.seconds, 2), "num"),
      ]),
    );
    const blocks = [el("h4", { i18n: "jobSummary" })];
    blocks.push(rows.length ? table(["colSource", "colSeen", "colNew", "colChanged", "colUnchanged", "colDeleted", "colSkipped", "colChunksWritten", "colSeconds"], rows, "summary-table") : el("p", { className: "empty", i18n: "jobNoSummary" }));
    for (const [name, why] of Object.entries(job.errors || {})) {
      blocks.push(el("p", { className: "source-error" }, [el("strong", { text: name }), ": ", el("span", { text: why })]));
    }
    if (job.error) blocks.push(el("p", { className: "source-error", text: job.error }));
    this.summary.replaceChildren(...blocks);
  }
}

// --- dashboard ---

class DashboardSection {
  constructor() {
    this.days = select([["7", "days7"], ["30", "days30"], ["90", "days90"]], { name: "days" });
    this.days.value = "30";
    this.days.addEventListener("change", () => this.load());
    this.body = el("div", { className: "dashboard" });
    this.gaps = el("div", { className: "gaps" });
    this.element = el("section", { className: "admin-section", attrs: { "data-section": "dashboard" } }, [
      sectionHead("dashboardTitle", field("window", this.days), button("refresh", () => this.load())),
      this.body,
      el("h3", { i18n: "gapsTitle" }),
      el("p", { className: "section-intro", i18n: "gapsIntro" }),
      this.gaps,
    ]);
    this.stats = null;
    this.gapList = null;
    this.gapError = null;
  }

  async load() {
    const [stats, gaps] = await Promise.allSettled([admin.stats(Number(this.days.value)), admin.gaps()]);
    if (stats.status === "fulfilled") {
      this.stats = stats.value;
      this.renderStats();
    } else {
      this.stats = null;
      this.body.replaceChildren(problem(stats.reason));
    }
    if (gaps.status === "fulfilled") {
      this.gapList = gaps.value;
      this.gapError = null;
    } else {
      this.gapList = null;
      this.gapError = gaps.reason;
    }
    this.renderGaps();
    this.element.dataset.loaded = "true";
  }

  /** Charts carry formatted numbers: draw them again in the new language. */
  relabel() {
    if (this.stats) this.renderStats();
    if (this.gapList || this.gapError) this.renderGaps();
  }

  renderStats() {
    const s = this.stats;
    const figures = el("dl", { className: "figures" }, [
      ["statQuestions", formatNumber(s.questions), "stat-questions"],
      ["statAnswered", formatNumber(s.answered), "stat-answered"],
      ["statAbstained", formatNumber(s.abstained), "stat-abstained"],
      ["statDeflection", formatShare(s.deflection_rate), "stat-deflection"],
    ].map(([key, value, className]) => el("div", { className: `figure ${className}` }, [el("dt", { i18n: key }), el("dd", { text: value })])));
    const days = (s.per_day || []).map((d) => ({ label: formatDay(d.day), values: [d.answered, d.abstained] }));
    const feedbackTotal = s.feedback_up + s.feedback_down;
    this.body.replaceChildren(
      figures,
      el("div", { className: "chart-grid-layout" }, [
        el("div", { className: "chart-wide" }, [
          days.length
            ? stackedBars({
                titleKey: "chartPerDay",
                rows: days,
                series: [
                  { labelKey: "statAnswered", className: "series-a" },
                  { labelKey: "statAbstained", className: "series-b" },
                ],
                format: (v) => formatNumber(v, 1),
              })
            : el("p", { className: "empty", i18n: "perDayMissing" }),
        ]),
        ring({ titleKey: "chartDeflection", share: s.deflection_rate, text: formatShare(s.deflection_rate), noteKey: "deflectionNote" }),
        ring({ titleKey: "chartAnswerRate", share: s.answer_rate, text: formatShare(s.answer_rate), className: "series-c" }),
        splitBar({
          titleKey: "chartAnsweredAbstained",
          parts: [
            { value: s.answered, labelKey: "statAnswered", className: "series-a" },
            { value: s.abstained, labelKey: "statAbstained", className: "series-b" },
          ],
          format: formatNumber,
        }),
        splitBar({
          titleKey: feedbackTotal ? "chartFeedback" : "chartFeedbackNone",
          parts: [
            { value: s.feedback_up, labelKey: "feedbackUp", className: "series-a" },
            { value: s.feedback_down, labelKey: "feedbackDown", className: "series-b" },
          ],
          format: formatNumber,
        }),
        barList({
          titleKey: "chartLatency",
          rows: [
            { labelKey: "latencyTotalP50", value: s.total_ms_p50, className: "series-a" },
            { labelKey: "latencyTotalP95", value: s.total_ms_p95, className: "series-b" },
            { labelKey: "latencyFirstP50", value: s.first_token_ms_p50, className: "series-a" },
            { labelKey: "latencyFirstP95", value: s.first_token_ms_p95, className: "series-b" },
          ],
          format: formatMs,
        }),
      ]),
    );
  }

  renderGaps() {
    if (this.gapError) {
      this.gaps.replaceChildren(problem(this.gapError, { notAvailable: true }));
      return;
    }
    const gaps = (this.gapList && this.gapList.gaps) || [];
    if (!gaps.length) {
      this.gaps.replaceChildren(el("p", { className: "empty", i18n: "gapsEmpty" }));
      return;
    }
    const max = Math.max(...gaps.map((g) => Number(g.count) || 0), 1);
    this.gaps.replaceChildren(
      el(
        "ol",
        { className: "gap-list" },
        gaps.map((g) => {
          const bar = el("span", { className: "gap-bar", attrs: { "aria-hidden": "true" } });
          bar.style.width = `${Math.round((100 * (Number(g.count) || 0)) / max)}%`; // CSSOM: allowed by the CSP
          return el("li", { className: "gap" }, [
            el("div", { className: "gap-head" }, [
              el("span", { className: "gap-topic", text: g.topic ?? "–" }),
              el("span", { className: "gap-count", text: `${formatNumber(g.count)} ×` }),
            ]),
            el("span", { className: "gap-track" }, [bar]),
            g.example ? el("p", { className: "gap-example" }, [el("span", { className: "cell-sub", i18n: "gapExample" }), " ", el("q", { text: g.example })]) : "",
            g.last_seen ? el("p", { className: "cell-sub" }, [el("span", { i18n: "gapLastSeen" }), " ", formatTime(g.last_seen)]) : "",
          ]);
        }),
      ),
    );
  }
}

// --- knowledge candidates (ticket review) ---

const CANDIDATE_STATUSES = ["pending", "approved", "rejected", "all"];
const CANDIDATE_PAGE = 20;
const REDACTION_KINDS = ["name", "email", "phone", "iban", "ip", "address", "customer_id", "url"]; // knowledge/redaction.py KINDS

const candidatesApi = {
  list: ({ status, limit, offset }) => apiJson(`v1/admin/candidates?${new URLSearchParams({ status, limit: String(limit), offset: String(offset) })}`),
  decide: (source, ticketId, decision, body) =>
    apiJson(`v1/admin/candidates/${encodeURIComponent(source)}/${encodeURIComponent(ticketId)}/${decision}`, { method: "POST", body }),
};

/** Resolved tickets, redacted as employees would read them, to approve or reject one by one. */
class CandidatesSection {
  constructor() {
    this.status = select(CANDIDATE_STATUSES.map((s) => [s, `candidateStatus_${s}`]), { name: "status" });
    this.status.addEventListener("change", () => {
      this.offset = 0;
      this.load();
    });
    this.mode = el("p", { className: "candidate-mode section-intro" });
    this.counts = el("p", { className: "candidate-counts page-info", attrs: { role: "status", "aria-live": "polite" } });
    this.list = el("div", { className: "candidate-list" });
    this.pageInfo = el("p", { className: "page-info" });
    this.previous = button("pageNewer", () => this.page(-1));
    this.next = button("pageOlder", () => this.page(1));
    this.offset = 0;
    this.total = 0;
    this.element = el("section", { className: "admin-section", attrs: { "data-section": "candidates" } }, [
      sectionHead("candidatesTitle", field("candidateFilterStatus", this.status), button("refresh", () => this.load())),
      el("p", { className: "section-intro", i18n: "candidatesIntro" }),
      this.mode,
      this.counts,
      this.list,
      el("div", { className: "pager" }, [this.previous, this.pageInfo, this.next]),
    ]);
  }

  async load() {
    let body;
    try {
      body = await candidatesApi.list({ status: this.status.value, limit: CANDIDATE_PAGE, offset: this.offset });
    } catch (exc) {
      this.list.replaceChildren(problem(exc, { notAvailable: true }));
      this.counts.replaceChildren();
      this.pageInfo.replaceChildren();
      this.previous.disabled = this.next.disabled = true;
      return;
    }
    this.total = body.total;
    setText(this.mode, body.mode === "review" ? "candidatesModeReview" : "candidatesModeAuto");
    this.mode.dataset.mode = body.mode;
    this.showCounts(body.counts);
    this.list.replaceChildren(
      ...(body.candidates.length ? body.candidates.map((c) => this.card(c)) : [el("p", { className: "empty", i18n: "candidatesEmpty" })]),
    );
    this.previous.disabled = this.offset === 0;
    this.next.disabled = this.offset + body.candidates.length >= body.total;
    this.pageInfo.replaceChildren(
      el("span", { i18n: "auditPage" }),
      ` ${Math.floor(this.offset / CANDIDATE_PAGE) + 1} · ${formatNumber(body.candidates.length)} / ${formatNumber(body.total)}`,
    );
    this.element.dataset.loaded = "true";
  }

  page(direction) {
    this.offset = Math.max(0, this.offset + direction * CANDIDATE_PAGE);
    this.load();
  }

  showCounts(counts) {
    const parts = [];
    for (const status of ["pending", "approved", "rejected"]) {
      if (parts.length) parts.push(" · ");
      parts.push(el("span", { i18n: `candidateStatus_${status}` }), ` ${formatNumber(counts[status] ?? 0)}`);
    }
    this.counts.replaceChildren(...parts);
  }

  card(c) {
    const statusBadge = el("span", { className: "candidate-status", i18n: `candidateStatus_${c.status}` });
    const live = el("span", { className: "candidate-live ok-text", i18n: "candidateLive", attrs: { hidden: !c.live } });
    const counts = c.redactions || {};
    const kinds = REDACTION_KINDS.filter((kind) => counts[kind] > 0).map((kind) => [kind, counts[kind]]);
    const redactions = el("p", { className: "candidate-redactions cell-sub" }, kinds.length
      ? [el("span", { i18n: "candidateRedactions" }), " ", ...kinds.flatMap(([kind, n], i) => [i ? " · " : "", el("span", { i18n: `redaction_${kind}` }), ` ${formatNumber(n)}`])]
      : [el("span", { i18n: "candidateNoRedactions" })]);
    const decided = el("p", { className: "candidate-decided cell-sub" });
    this.showDecided(decided, c);
    const reason = el("input", { attrs: { type: "text", name: "reason", maxlength: "1000", autocomplete: "off" } });
    const result = el("div", { className: "candidate-result", attrs: { role: "status", "aria-live": "polite" } });
    const approve = button("candidateApprove", () => this.decide(c, "approve", card), { primary: true });
    const reject = button("candidateReject", () => this.decide(c, "reject", card));
    approve.hidden = c.status === "approved" && c.live;
    reject.hidden = c.status === "rejected";
    const card = el("article", { className: "candidate", attrs: { "data-ticket-id": c.ticket_id, "data-source": c.source, "data-status": c.status } }, [
      el("div", { className: "candidate-head" }, [
        el("h3", { className: "candidate-title", text: c.title }),
        el("p", { className: "candidate-meta" }, [
          el("code", { className: "candidate-ticket", text: c.ticket_id }),
          " · ",
          el("span", { className: "candidate-source", text: c.source }),
          " · ",
          el("span", { className: "candidate-language", text: String(c.language || "").toUpperCase() }),
          " · ",
          statusBadge,
          " ",
          live,
        ]),
      ]),
      redactions,
      el("div", { className: "candidate-text", text: c.text }),
      decided,
      el("div", { className: "candidate-actions" }, [field("candidateReason", reason), el("div", { className: "toolbar" }, [approve, reject])]),
      result,
    ]);
    card.parts = { statusBadge, live, decided, reason, result, approve, reject };
    return card;
  }

  showDecided(node, c) {
    if (!c.decided_by) {
      node.replaceChildren();
      node.hidden = true;
      return;
    }
    node.hidden = false;
    const who = c.decided_by === "auto" ? el("span", { i18n: "candidateAuto" }) : el("code", { className: "pseudonym", text: c.decided_by.slice(0, 12), attrs: { title: c.decided_by } });
    node.replaceChildren(el("span", { i18n: "candidateDecidedBy" }), " ", who, c.decided_at ? ` · ${formatTime(c.decided_at)}` : "");
  }

  async decide(c, decision, card) {
    const { statusBadge, live, decided, reason, result, approve, reject } = card.parts;
    approve.disabled = reject.disabled = true;
    const body = { content_hash: c.content_hash };
    if (reason.value.trim()) body.reason = reason.value.trim();
    let outcome;
    try {
      outcome = await candidatesApi.decide(c.source, c.ticket_id, decision, body);
    } catch (exc) {
      result.replaceChildren(problem(exc));
      approve.disabled = reject.disabled = false;
      return;
    }
    const now = outcome.candidate;
    card.dataset.status = now.status;
    setText(statusBadge, `candidateStatus_${now.status}`);
    live.hidden = !now.live;
    this.showDecided(decided, now);
    Object.assign(c, now);
    result.replaceChildren(
      el("div", { className: `notice ${now.status === "approved" ? "notice-success" : "notice-info"}` }, [
        el("p", { i18n: now.status === "approved" ? "candidateApproved" : "candidateRejected" }),
      ]),
    );
    approve.hidden = now.status === "approved";
    reject.hidden = now.status === "rejected";
    approve.disabled = reject.disabled = false;
    reason.value = "";
    try {
      const fresh = await candidatesApi.list({ status: "pending", limit: 1, offset: 0 });
      this.showCounts(fresh.counts);
    } catch {
      // the counts stay as they were; the next load shows them
    }
  }
}

// --- audit log ---

class AuditSection {
  constructor() {
    this.form = el("form", { className: "filters", on: { submit: (e) => { e.preventDefault(); this.cursors = []; this.load(); } } });
    this.event = select([["", "allEvents"], ...EVENTS.map((e) => [e, e])], { name: "event" });
    for (const option of this.event.options) {
      if (option.value) {
        delete option.dataset.i18n;
        option.textContent = option.value;
      }
    }
    this.decision = select([["", "allDecisions"], ...DECISIONS.map((d) => [d, `decision_${d}`])], { name: "decision" });
    this.since = el("input", { attrs: { type: "datetime-local", name: "since", step: "1" } });
    this.until = el("input", { attrs: { type: "datetime-local", name: "until", step: "1" } });
    this.limit = select([["25", "25"], ["50", "50"], ["100", "100"], ["500", "500"]], { name: "limit", labels: "text" });
    this.limit.value = "50";
    this.form.append(
      field("filterEvent", this.event),
      field("filterDecision", this.decision),
      field("filterSince", this.since),
      field("filterUntil", this.until),
      field("filterLimit", this.limit),
      el("div", { className: "filters-actions" }, [el("button", { className: "button button-primary button-small", attrs: { type: "submit" } }, [el("span", { i18n: "applyFilters" })])]),
    );
    this.verifyResult = el("div", { className: "verify-result", attrs: { role: "status", "aria-live": "polite" } });
    this.verifyButton = button("verifyChain", () => this.verify(), { primary: true, small: false });
    this.list = el("div", { className: "audit-table" });
    this.pageInfo = el("p", { className: "page-info" });
    this.newer = button("pageNewer", () => this.page(-1));
    this.older = button("pageOlder", () => this.page(1));
    this.cursors = []; // ``until`` of each page after the first
    this.records = [];
    this.element = el("section", { className: "admin-section", attrs: { "data-section": "audit" } }, [
      sectionHead("auditTitle", this.verifyButton),
      this.verifyResult,
      this.form,
      el("p", { className: "section-intro", i18n: "auditIntro" }),
      this.list,
      el("div", { className: "pager" }, [this.newer, this.pageInfo, this.older]),
    ]);
  }

  filters(until) {
    const iso = (value) => (value ? new Date(value).toISOString() : undefined);
    return {
      event: this.event.value || undefined,
      since: iso(this.since.value),
      until: until || iso(this.until.value),
      limit: this.limit.value,
    };
  }

  async load() {
    const until = this.cursors.length ? this.cursors[this.cursors.length - 1] : undefined;
    let body;
    try {
      body = await admin.audit(this.filters(until));
    } catch (exc) {
      this.list.replaceChildren(problem(exc));
      return;
    }
    this.records = body.records;
    this.render();
    this.element.dataset.loaded = "true";
  }

  page(direction) {
    if (direction > 0 && this.records.length) this.cursors.push(this.records[this.records.length - 1].time);
    else if (direction < 0) this.cursors.pop();
    this.load();
  }

  render() {
    const decision = this.decision.value;
    const shown = decision ? this.records.filter((r) => r.decision === decision) : this.records;
    const rows = shown.map((r) =>
      el("tr", { attrs: { "data-seq": r.seq } }, [
        cell(String(r.seq), "num"),
        cell(formatTime(r.time)),
        el("td", {}, [el("code", { text: r.event })]),
        cell(r.role),
        el("td", {}, [el("code", { className: "pseudonym", text: r.actor.slice(0, 12), attrs: { title: r.actor } })]),
        cell(r.decision ? t(`decision_${r.decision}`) : "–"),
        cell(r.model_id || "–"),
        el("td", { className: "audit-details" }, [el("code", { text: Object.keys(r.details || {}).length ? JSON.stringify(r.details) : "–" })]),
      ]),
    );
    this.list.replaceChildren(
      rows.length ? table(["colSeq", "colTime", "colEvent", "colRole", "colActor", "colDecision", "colModel", "colDetails"], rows) : el("p", { className: "empty", i18n: "auditEmpty" }),
    );
    const limit = Number(this.limit.value);
    this.older.disabled = this.records.length < limit;
    this.newer.disabled = this.cursors.length === 0;
    this.pageInfo.replaceChildren(
      el("span", { i18n: "auditPage" }),
      ` ${this.cursors.length + 1} · ${formatNumber(shown.length)} `,
      el("span", { i18n: "auditRecords" }),
      ...(decision ? [" ", el("span", { className: "cell-sub", i18n: "decisionFilteredHere" })] : []),
    );
  }

  async verify() {
    this.verifyButton.disabled = true;
    this.verifyResult.replaceChildren(el("p", { i18n: "verifying" }));
    try {
      const result = await admin.verifyAudit();
      this.verifyResult.dataset.ok = String(result.ok);
      if (result.ok) {
        this.verifyResult.replaceChildren(
          el("div", { className: "notice notice-success" }, [
            el("p", {}, [el("strong", { i18n: "chainOk" })]),
            el("p", {}, [el("span", { i18n: "chainChecked" }), ` ${formatNumber(result.records)} · `, el("span", { i18n: "chainHead" }), " ", el("code", { text: result.head_hash.slice(0, 16) })]),
            ...result.notes.map((n) => el("p", { className: "cell-sub", text: n })),
          ]),
        );
      } else {
        this.verifyResult.replaceChildren(
          el("div", { className: "notice notice-error", attrs: { role: "alert" } }, [
            el("p", {}, [el("strong", { i18n: "chainBroken" })]),
            el("p", {}, [el("span", { i18n: "chainFirstBad" }), " ", el("code", { className: "bad-seq", text: String(result.bad_seq ?? "–") }), ": ", el("span", { text: result.reason })]),
            ...result.notes.map((n) => el("p", { className: "cell-sub", text: n })),
          ]),
        );
      }
    } catch (exc) {
      delete this.verifyResult.dataset.ok;
      this.verifyResult.replaceChildren(problem(exc));
    } finally {
      this.verifyButton.disabled = false;
    }
  }
}

// --- erasure ---

class EraseSection {
  constructor() {
    this.kind = select([["user", "eraseUser"], ["source", "eraseSource"], ["match", "eraseMatch"]], { name: "kind" });
    this.user = el("input", { attrs: { type: "text", name: "user", maxlength: "200", autocomplete: "off" } });
    this.source = el("input", { attrs: { type: "text", name: "source", maxlength: "64", autocomplete: "off" } });
    this.document = el("input", { attrs: { type: "text", name: "document", maxlength: "4096", autocomplete: "off" } });
    this.match = el("input", { attrs: { type: "text", name: "match", maxlength: "1000", autocomplete: "off" } });
    this.userField = field("eraseUserLabel", this.user, "eraseUserHint");
    this.sourceField = field("eraseSourceLabel", this.source);
    this.documentField = field("eraseDocumentLabel", this.document, "eraseDocumentHint");
    this.matchField = field("eraseMatchLabel", this.match, "eraseMatchHint");
    this.previewButton = el("button", { className: "button button-quiet", attrs: { type: "submit" } }, [el("span", { i18n: "erasePreview" })]);
    this.form = el("form", { className: "erase-form", attrs: { novalidate: true }, on: { submit: (e) => { e.preventDefault(); this.preview(); } } }, [
      field("eraseKind", this.kind),
      this.userField,
      this.sourceField,
      this.documentField,
      this.matchField,
      el("div", { className: "toolbar" }, [this.previewButton]),
    ]);
    this.result = el("div", { className: "erase-result", attrs: { role: "status", "aria-live": "polite" } });
    this.confirmBox = el("input", { attrs: { type: "checkbox", id: "erase-confirm-box" }, on: { change: () => this.syncConfirm() } });
    this.confirmButton = button("eraseConfirm", () => this.erase(), { primary: true, small: false, attrs: { disabled: true } });
    this.confirmButton.classList.add("button-danger");
    this.confirm = el("div", { className: "erase-confirm notice notice-warning", attrs: { hidden: true } }, [
      el("p", {}, [el("strong", { i18n: "eraseFinalTitle" })]),
      el("label", { className: "check" }, [this.confirmBox, el("span", { i18n: "eraseFinalCheck" })]),
      el("div", { className: "toolbar" }, [this.confirmButton, button("eraseAbort", () => this.reset())]),
    ]);
    this.previewed = null;
    this.kind.addEventListener("change", () => this.syncKind());
    for (const input of [this.user, this.source, this.document, this.match]) input.addEventListener("input", () => this.reset(false));
    this.element = el("section", { className: "admin-section", attrs: { "data-section": "erase" } }, [
      sectionHead("eraseTitle"),
      el("p", { className: "section-intro", i18n: "eraseIntro" }),
      this.form,
      this.result,
      this.confirm,
    ]);
    this.syncKind();
  }

  load() {}

  syncKind() {
    const kind = this.kind.value;
    this.userField.hidden = kind !== "user";
    this.sourceField.hidden = kind !== "source";
    this.documentField.hidden = kind !== "source";
    this.matchField.hidden = kind !== "match";
    this.reset();
  }

  body(dryRun) {
    const kind = this.kind.value;
    const body = { dry_run: dryRun };
    if (kind === "user") body.user = this.user.value.trim();
    else if (kind === "source") {
      body.source = this.source.value.trim();
      if (this.document.value.trim()) body.document = this.document.value.trim();
    } else body.match = this.match.value.trim();
    return body;
  }

  reset(clearResult = true) {
    this.previewed = null;
    this.confirm.hidden = true;
    this.confirmBox.checked = false;
    this.syncConfirm();
    if (clearResult) this.result.replaceChildren();
  }

  syncConfirm() {
    this.confirmButton.disabled = !(this.previewed && this.confirmBox.checked);
  }

  async preview() {
    const body = this.body(true);
    this.reset();
    this.previewButton.disabled = true;
    try {
      const report = await admin.erase(body);
      this.previewed = JSON.stringify({ ...body, dry_run: false });
      this.show(report);
      this.confirm.hidden = false;
    } catch (exc) {
      this.result.replaceChildren(problem(exc));
    } finally {
      this.previewButton.disabled = false;
    }
  }

  async erase() {
    if (!this.previewed) return;
    const body = JSON.parse(this.previewed);
    this.confirmButton.disabled = true;
    try {
      const report = await admin.erase(body);
      this.reset();
      this.show(report);
    } catch (exc) {
      this.reset();
      this.result.replaceChildren(problem(exc));
    }
  }

  show(report) {
    const rows = [
      ["eraseDocuments", report.documents.length],
      ["colChunks", report.chunks],
      ["eraseConversations", report.conversations],
      ["eraseConversationTexts", report.conversation_texts],
      ["eraseAuditTexts", report.audit_texts],
      ["eraseApiKeys", report.api_keys],
    ].map(([key, value]) => el("div", { className: "figure" }, [el("dt", { i18n: key }), el("dd", { text: value === null || value === undefined ? "–" : formatNumber(value) })]));
    const blocks = [
      el("p", {}, [el("strong", { i18n: report.dry_run ? "eraseWouldErase" : "eraseErased" })]),
      el("dl", { className: "figures" }, rows),
    ];
    if (report.documents.length) {
      blocks.push(el("ul", { className: "erase-documents" }, report.documents.map((d) => el("li", {}, [el("code", { text: `${d.source}/${d.source_id}` }), ` (${formatNumber(d.chunks)})`]))));
    }
    if (report.audit_seq) blocks.push(el("p", {}, [el("span", { i18n: "eraseAuditSeq" }), " ", el("code", { text: String(report.audit_seq) })]));
    for (const note of report.notes) blocks.push(el("p", { className: "cell-sub", text: note }));
    const box = el("div", { className: `notice ${report.dry_run ? "notice-info" : "notice-success"}`, attrs: { "data-dry-run": String(report.dry_run) } }, blocks);
    this.result.replaceChildren(box);
  }
}

// --- API keys ---

class KeysSection {
  constructor() {
    this.user = el("input", { attrs: { type: "text", name: "user", maxlength: "200", required: true, autocomplete: "off" } });
    this.role = select(ROLES.map((r) => [r, `role_${r}`]), { name: "role" });
    this.groups = el("input", { attrs: { type: "text", name: "groups", autocomplete: "off" } });
    this.form = el("form", { className: "key-form", on: { submit: (e) => { e.preventDefault(); this.create(); } } }, [
      field("keyUser", this.user),
      field("keyRole", this.role),
      field("keyGroups", this.groups, "keyGroupsHint"),
      el("div", { className: "filters-actions" }, [el("button", { className: "button button-primary button-small", attrs: { type: "submit" } }, [el("span", { i18n: "keyCreate" })])]),
    ]);
    this.secret = el("div", { className: "key-secret", attrs: { hidden: true } });
    this.list = el("div", { className: "keys-table" });
    this.problem = el("div");
    this.element = el("section", { className: "admin-section", attrs: { "data-section": "keys" } }, [
      sectionHead("keysTitle", button("refresh", () => this.load())),
      this.problem,
      this.form,
      this.secret,
      this.list,
    ]);
  }

  async load() {
    this.problem.replaceChildren();
    let body;
    try {
      body = await admin.keys();
    } catch (exc) {
      this.list.replaceChildren();
      this.form.hidden = exc && (exc.status === 404 || exc.status === 405 || exc.status === 403);
      this.problem.replaceChildren(problem(exc, { notAvailable: true }));
      return;
    }
    this.form.hidden = false;
    const keys = Array.isArray(body) ? body : body.keys || [];
    this.render(keys);
    this.element.dataset.loaded = "true";
  }

  render(keys) {
    if (!keys.length) {
      this.list.replaceChildren(el("p", { className: "empty", i18n: "keysEmpty" }));
      return;
    }
    const rows = keys.map((k) => {
      const revoked = Boolean(k.revoked);
      const actions = el("td", { className: "key-actions" });
      if (!revoked) {
        const revoke = button("keyRevoke", () => {
          if (revoke.dataset.armed !== "true") {
            revoke.dataset.armed = "true";
            setText(revoke.querySelector("span"), "keyRevokeConfirm");
            return;
          }
          this.revoke(k.key_id, revoke);
        });
        actions.append(revoke);
      }
      return el("tr", { attrs: { "data-key-id": k.key_id, "data-revoked": String(revoked) } }, [
        el("td", {}, [el("code", { text: k.key_id })]),
        cell(k.user_id),
        cell(t(`role_${k.role}`)),
        cell((k.groups || []).join(", ") || "–"),
        cell(formatTime(k.created)),
        el("td", { className: "key-status" }, [revoked ? el("span", { className: "revoked", i18n: "keyRevoked" }) : el("span", { className: "ok-text", i18n: "keyActive" })]),
        actions,
      ]);
    });
    this.list.replaceChildren(table(["colKeyId", "colUser", "colRole", "colGroups", "colCreated", "colStatus", "colActions"], rows));
  }

  async create() {
    const user = this.user.value.trim();
    if (!user) {
      this.user.focus();
      return;
    }
    const groups = this.groups.value.split(/[\s,]+/).filter(Boolean);
    let created;
    try {
      created = await admin.createKey({ user, role: this.role.value, groups });
    } catch (exc) {
      this.secret.hidden = false;
      this.secret.replaceChildren(problem(exc, { notAvailable: true }));
      return;
    }
    const secret = created.secret || "";
    const info = created.key || {};
    const status = el("span", { className: "inline-status", attrs: { role: "status", "aria-live": "polite" } });
    const copy = button("keyCopy", async () => setText(status, (await copyText(secret)) ? "keyCopied" : "copyFailed"), { iconName: "copy" });
    this.secret.hidden = false;
    this.secret.replaceChildren(
      el("div", { className: "notice notice-warning" }, [
        el("p", {}, [el("strong", { i18n: "keySecretOnce" })]),
        el("p", { className: "secret-line" }, [el("code", { className: "secret-value", text: secret }), copy, status]),
        el("p", { className: "cell-sub" }, [el("span", { i18n: "keyFor" }), " ", el("code", { className: "secret-key-id", text: info.key_id ?? "" }), ` · ${info.user_id ?? user} · ${t(`role_${info.role ?? this.role.value}`)}`]),
        button("keySecretHide", () => {
          this.secret.hidden = true;
          this.secret.replaceChildren();
        }),
      ]),
    );
    this.user.value = "";
    this.groups.value = "";
    await this.load();
  }

  async revoke(keyId, trigger) {
    trigger.disabled = true;
    try {
      await admin.revokeKey(keyId);
    } catch (exc) {
      this.problem.replaceChildren(problem(exc));
      trigger.disabled = false;
      return;
    }
    await this.load();
  }
}

// --- the console ---

class AdminConsole {
  constructor(container) {
    this.container = container;
    this.sections = {
      sources: new SourcesSection(),
      dashboard: new DashboardSection(),
      candidates: new CandidatesSection(),
      audit: new AuditSection(),
      erase: new EraseSection(),
      keys: new KeysSection(),
    };
    this.tabs = el(
      "nav",
      { className: "subnav", ariaLabel: "adminSections" },
      SECTIONS.map((name) => el("a", { className: "subnav-link", i18n: `adminTab_${name}`, attrs: { href: `#admin/${name}`, "data-section-link": name } })),
    );
    this.heading = el("h1", { className: "view-title", i18n: "adminTitle", attrs: { id: "admin-title", tabindex: "-1" } });
    container.replaceChildren(
      el("div", { className: "view-head" }, [this.heading]),
      this.tabs,
      ...SECTIONS.map((name) => this.sections[name].element),
    );
    container.setAttribute("aria-labelledby", "admin-title");
    this.loaded = new Set();
    document.addEventListener("lotse:language", () => this.sections.dashboard.relabel());
  }

  show(sub) {
    const name = SECTIONS.includes(sub) ? sub : "sources";
    for (const link of this.tabs.querySelectorAll("[data-section-link]")) {
      if (link.dataset.sectionLink === name) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    for (const [key, section] of Object.entries(this.sections)) section.element.hidden = key !== name;
    this.container.dataset.currentSection = name;
    // every visit shows fresh figures (a reindex in progress keeps polling meanwhile)
    this.sections[name].load();
  }
}

let adminConsole = null;

export const adminView = {
  mount(container, sub) {
    adminConsole = new AdminConsole(container);
    adminConsole.show(sub);
  },
  show(sub) {
    if (adminConsole) adminConsole.show(sub);
  },
};

// Building elements without HTML strings: every text goes in through textContent.

import { t } from "./i18n.js";

/**
 * Create an element. ``options``: className, text (set as textContent), i18n (a string key:
 * translated now and again on every language switch), ariaLabel (a string key), attrs (fixed
 * attribute names chosen by this code), on ({event: handler}).
 */
export function el(tag, options = {}, children = []) {
  const node = document.createElement(tag);
  if (options.className) node.className = options.className;
  if (options.i18n) {
    node.dataset.i18n = options.i18n;
    node.textContent = t(options.i18n);
  } else if (options.text !== undefined) {
    node.textContent = String(options.text);
  }
  if (options.ariaLabel) {
    node.dataset.i18nAriaLabel = options.ariaLabel;
    node.setAttribute("aria-label", t(options.ariaLabel));
  }
  for (const [name, value] of Object.entries(options.attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const [event, handler] of Object.entries(options.on || {})) {
    node.addEventListener(event, handler);
  }
  node.append(...children);
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";

// Icon outlines (24x24, stroked), drawn by the page itself.
const ICONS = {
  copy: ["M9 9h10v10H9z", "M5 15V5h10"],
  up: [
    "M7 11v9H4v-9z",
    "M7 11l4-7a2 2 0 0 1 3 2l-1 4h5a2 2 0 0 1 2 2.3l-1.2 6A2 2 0 0 1 16.8 20H7",
  ],
  down: [
    "M7 13V4H4v9z",
    "M7 13l4 7a2 2 0 0 0 3-2l-1-4h5a2 2 0 0 0 2-2.3l-1.2-6A2 2 0 0 0 16.8 4H7",
  ],
  ticket: ["M4 7h16v4a2 2 0 0 0 0 4v4H4v-4a2 2 0 0 0 0-4z", "M14 7v12"],
  plus: ["M12 5v14", "M5 12h14"],
  trash: ["M5 7h14", "M10 7V4h4v3", "M7 7l1 13h8l1-13"],
  send: ["M4 12l16-8-6 16-3-7z", "M11 13l9-9"],
  stop: ["M7 7h10v10H7z"],
  doc: ["M6 3h9l4 4v14H6z", "M14 3v5h5", "M9 13h7", "M9 17h5"],
};

/** An inline SVG icon, hidden from assistive technology (its button carries the label). */
export function icon(name) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", "icon");
  for (const d of ICONS[name] || []) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

/** Copy text to the clipboard; falls back to a hidden textarea where the Clipboard API is
 *  missing (plain http on an intranet host is not a secure context). */
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // fall through to the textarea
    }
  }
  const area = el("textarea", { className: "copy-buffer", attrs: { readonly: true, "aria-hidden": "true" } });
  area.value = text;
  document.body.append(area);
  const active = document.activeElement;
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  if (active && typeof active.focus === "function") active.focus();
  return ok;
}

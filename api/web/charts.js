// Small charts drawn as inline SVG with DOM calls (no chart library, no HTML strings): colours
// come from CSS classes, every label is set as text. Each chart also carries a plain table of
// its numbers for screen readers (and for anyone who prefers figures).

import { el } from "./dom.js";
import { t } from "./i18n.js";

const SVG_NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, children = []) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  for (const child of children) node.append(child);
  return node;
}

function svgText(text, attrs) {
  const node = svg("text", attrs);
  node.textContent = String(text);
  return node;
}

function tooltip(text) {
  const node = svg("title");
  node.textContent = text;
  return node;
}

/** A rounded-up axis maximum with about four ticks. */
function niceMax(value) {
  if (value <= 4) return 4;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    const max = Math.ceil(value / (step * magnitude)) * step * magnitude;
    if (max / (step * magnitude) <= 5) return max;
  }
  return value;
}

function dataTable(captionKey, columns, rows) {
  return el("table", { className: "visually-hidden chart-table" }, [
    el("caption", { i18n: captionKey }),
    el("thead", {}, [el("tr", {}, columns.map((c) => el("th", { i18n: c, attrs: { scope: "col" } })))]),
    el("tbody", {}, rows.map((row) => el("tr", {}, row.map((cell) => el("td", { text: cell }))))),
  ]);
}

function legend(series, totals, format) {
  return el(
    "ul",
    { className: "chart-legend" },
    series.map((s, i) =>
      el("li", {}, [
        el("span", { className: `legend-swatch ${s.className}`, attrs: { "aria-hidden": "true" } }),
        el("span", { i18n: s.labelKey }),
        totals ? el("span", { className: "legend-value", text: format(totals[i]) }) : "",
      ]),
    ),
  );
}

/**
 * Stacked bars per day. ``rows``: [{label, values: [n per series]}]; ``series``:
 * [{labelKey, className}]. Returns a <figure>.
 */
export function stackedBars({ titleKey, rows, series, format = String }) {
  const width = 640;
  const height = 220;
  const pad = { left: 36, right: 8, top: 10, bottom: 28 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const totals = rows.map((r) => r.values.reduce((a, b) => a + b, 0));
  const max = niceMax(Math.max(0, ...totals));
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "chart chart-bars",
    role: "img",
    "aria-hidden": "true",
    focusable: "false",
  });
  for (let k = 0; k <= 4; k += 1) {
    const value = (max * k) / 4;
    const y = pad.top + plotH - (plotH * k) / 4;
    chart.append(
      svg("line", { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: "chart-grid" }),
      svgText(format(value), { x: pad.left - 6, y: y + 4, class: "chart-tick", "text-anchor": "end" }),
    );
  }
  const slot = rows.length ? plotW / rows.length : plotW;
  const barW = Math.max(2, Math.min(28, slot * 0.7));
  const labelEvery = Math.max(1, Math.ceil(rows.length / 10));
  rows.forEach((row, i) => {
    const x = pad.left + slot * i + (slot - barW) / 2;
    let y = pad.top + plotH;
    const group = svg("g", { class: "chart-bar", "data-label": row.label, "data-total": totals[i] });
    row.values.forEach((value, s) => {
      const h = max ? (plotH * value) / max : 0;
      y -= h;
      group.append(
        svg("rect", { x, y, width: barW, height: Math.max(0, h), class: `chart-part ${series[s].className}` }, [
          tooltip(`${row.label}: ${t(series[s].labelKey)} ${format(value)}`),
        ]),
      );
    });
    chart.append(group);
    if (i % labelEvery === 0 || i === rows.length - 1) {
      chart.append(svgText(row.label, { x: x + barW / 2, y: height - 8, class: "chart-tick", "text-anchor": "middle" }));
    }
  });
  chart.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: pad.top + plotH, y2: pad.top + plotH, class: "chart-axis" }));
  const sums = series.map((_, s) => rows.reduce((a, r) => a + r.values[s], 0));
  return el("figure", { className: "chart-figure" }, [
    el("figcaption", { className: "chart-title", i18n: titleKey }),
    chart,
    legend(series, sums, format),
    dataTable(
      titleKey,
      ["chartDay", ...series.map((s) => s.labelKey)],
      rows.map((r) => [r.label, ...r.values.map(format)]),
    ),
  ]);
}

/** A ring showing one share (0..1) with its figure in the middle; null shows a dash. */
export function ring({ titleKey, share, text, noteKey, className = "series-a" }) {
  const r = 42;
  const circumference = 2 * Math.PI * r;
  const filled = share === null || share === undefined ? 0 : Math.max(0, Math.min(1, share));
  const chart = svg("svg", { viewBox: "0 0 100 100", class: "chart chart-ring", "aria-hidden": "true", focusable: "false" }, [
    svg("circle", { cx: 50, cy: 50, r, class: "ring-track" }),
    svg("circle", {
      cx: 50,
      cy: 50,
      r,
      class: `ring-value ${className}`,
      "stroke-dasharray": `${(filled * circumference).toFixed(2)} ${circumference.toFixed(2)}`,
      transform: "rotate(-90 50 50)",
    }),
    svgText(text, { x: 50, y: 56, "text-anchor": "middle", class: "ring-text" }),
  ]);
  const figure = el("figure", { className: "chart-figure chart-small" }, [
    el("figcaption", { className: "chart-title", i18n: titleKey }),
    chart,
    el("p", { className: "visually-hidden", text }),
  ]);
  if (noteKey) figure.append(el("p", { className: "chart-note", i18n: noteKey }));
  return figure;
}

/** One horizontal bar split into parts: [{value, labelKey, className}]. */
export function splitBar({ titleKey, parts, format = String }) {
  const total = parts.reduce((a, p) => a + p.value, 0);
  const chart = svg("svg", { viewBox: "0 0 300 24", class: "chart chart-split", "aria-hidden": "true", focusable: "false", preserveAspectRatio: "none" });
  let x = 0;
  if (!total) chart.append(svg("rect", { x: 0, y: 0, width: 300, height: 24, class: "ring-track-fill" }));
  for (const part of parts) {
    const w = total ? (300 * part.value) / total : 0;
    chart.append(svg("rect", { x, y: 0, width: w, height: 24, class: `chart-part ${part.className}` }, [tooltip(`${t(part.labelKey)}: ${format(part.value)}`)]));
    x += w;
  }
  return el("figure", { className: "chart-figure chart-small" }, [
    el("figcaption", { className: "chart-title", i18n: titleKey }),
    chart,
    legend(parts, parts.map((p) => p.value), format),
  ]);
}

/** Horizontal bars, one per row: [{labelKey, value (null: no data), className}]. */
export function barList({ titleKey, rows, format = String }) {
  const max = Math.max(0, ...rows.map((r) => r.value || 0));
  const list = el(
    "ul",
    { className: "bar-list" },
    rows.map((row) => {
      const bar = svg("svg", { viewBox: "0 0 200 14", class: "chart chart-hbar", "aria-hidden": "true", focusable: "false", preserveAspectRatio: "none" }, [
        svg("rect", { x: 0, y: 0, width: 200, height: 14, class: "ring-track-fill" }),
        svg("rect", { x: 0, y: 0, width: max && row.value ? (200 * row.value) / max : 0, height: 14, class: `chart-part ${row.className}` }),
      ]);
      return el("li", { className: "bar-row" }, [
        el("span", { className: "bar-label", i18n: row.labelKey }),
        bar,
        el("span", { className: "bar-value", text: format(row.value) }),
      ]);
    }),
  );
  return el("figure", { className: "chart-figure chart-small" }, [el("figcaption", { className: "chart-title", i18n: titleKey }), list]);
}

/** A 0..1 confidence as a small bar with its percentage (agent workspace triage). */
export function confidenceBar(confidence, text) {
  const value = Math.max(0, Math.min(1, Number(confidence) || 0));
  const level = value >= 0.75 ? "high" : value >= 0.5 ? "medium" : "low";
  return el("span", { className: `confidence confidence-${level}`, attrs: { "data-confidence": value.toFixed(2) } }, [
    svg("svg", { viewBox: "0 0 100 8", class: "chart confidence-bar", "aria-hidden": "true", focusable: "false", preserveAspectRatio: "none" }, [
      svg("rect", { x: 0, y: 0, width: 100, height: 8, class: "ring-track-fill" }),
      svg("rect", { x: 0, y: 0, width: 100 * value, height: 8, class: "confidence-fill" }),
    ]),
    el("span", { className: "confidence-text", text }),
  ]);
}

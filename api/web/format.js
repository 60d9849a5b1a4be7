// Numbers, percentages, durations and times in the page's language (Intl, no library).
// Every result is plain text for textContent.

import { language } from "./i18n.js";

const locale = () => (language() === "de" ? "de-DE" : "en-GB");

export function formatNumber(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "–";
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(Number(value));
}

/** 0..1 as a percentage ("42 %" / "42%"); null as a dash. */
export function formatShare(value, digits = 0) {
  if (value === null || value === undefined) return "–";
  return new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: digits }).format(Number(value));
}

/** 0..100 as a percentage. */
export function formatPercent(value, digits = 0) {
  return formatShare(Number(value) / 100, digits);
}

export function formatMs(value) {
  if (value === null || value === undefined) return "–";
  if (value >= 1000) return `${formatNumber(value / 1000, 1)} s`;
  return `${formatNumber(value, 0)} ms`;
}

export function formatSeconds(value) {
  if (value === null || value === undefined) return "–";
  const s = Math.max(0, Math.round(Number(value)));
  if (s < 60) return `${s} s`;
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

export function formatTime(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "medium" }).format(date);
}

/** "2025-03-01" as a short day label ("01.03." / "1 Mar"). */
export function formatDay(day) {
  const date = new Date(`${day}T00:00:00Z`);
  if (Number.isNaN(date.getTime())) return String(day);
  return new Intl.DateTimeFormat(locale(), { day: "numeric", month: "short", timeZone: "UTC" }).format(date);
}

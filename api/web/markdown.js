// A tiny, safe Markdown subset rendered with DOM APIs only (createElement, textContent).
// Text from the model, a document or the server is never parsed as HTML: "<script>" stays the
// seven characters "<script>". Supported: paragraphs (single newlines become line breaks),
// bullet and numbered lists, fenced code blocks, "#" headings (shown as bold lines), **bold**,
// *emphasis*, `inline code`, and [links](url) — a link becomes clickable only when it is http(s)
// and its origin is allowed (the page's own origin by default); otherwise it is plain text.
// Images are never rendered: ![alt](url) is shown as the literal text.

const LIST_ITEM = /^\s{0,3}(?:([-*+])|(\d{1,9})[.)])\s+(.*)$/;
const FENCE = /^\s{0,3}(`{3,}|~{3,})/;
const HEADING = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/;
const INLINE = new RegExp(
  [
    "(`+)([^`]|[^`][\\s\\S]*?[^`])\\1(?!`)", // 1,2: code
    "!\\[([^\\]\\n]*)\\]\\(([^)\\n]*)\\)", // 3,4: image (shown as text)
    "\\[([^\\]\\n]+)\\]\\(\\s*([^\\s)]+)(?:\\s+\"[^\"\\n]*\")?\\s*\\)", // 5,6: link
    "\\*\\*(?=\\S)([\\s\\S]*?\\S)\\*\\*", // 7: bold
    "(?<![\\p{L}\\p{N}_])__(?=\\S)([\\s\\S]*?\\S)__(?![\\p{L}\\p{N}_])", // 8: bold, not inside words
    "\\*(?=[^\\s*])([^*\\n]*?[^\\s*])\\*", // 9: emphasis
  ].join("|"),
  "gu",
);

/** Whether ``href`` may become a link: http(s) and an allowed origin. Returns the URL or null. */
export function safeLink(href, allowedOrigins) {
  let url;
  try {
    url = new URL(href, window.location.href);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  if (url.username || url.password) return null;
  const allowed = new Set([window.location.origin, ...allowedOrigins]);
  return allowed.has(url.origin) ? url : null;
}

function appendInline(parent, text, options, depth = 0) {
  if (depth > 4) {
    parent.append(text);
    return;
  }
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) parent.append(text.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[2] !== undefined) {
      const code = document.createElement("code");
      code.textContent = m[2];
      parent.append(code);
    } else if (m[3] !== undefined) {
      parent.append(m[0]); // an image: never loaded, shown as its Markdown text
    } else if (m[5] !== undefined) {
      const url = safeLink(m[6], options.allowedOrigins);
      if (url) {
        const a = document.createElement("a");
        a.href = url.href;
        a.rel = "noopener noreferrer";
        a.target = "_blank";
        a.textContent = m[5];
        parent.append(a);
      } else {
        parent.append(`${m[5]} (${m[6]})`);
      }
    } else if (m[7] !== undefined || m[8] !== undefined) {
      const strong = document.createElement("strong");
      appendInline(strong, m[7] ?? m[8], options, depth + 1);
      parent.append(strong);
    } else if (m[9] !== undefined) {
      const em = document.createElement("em");
      appendInline(em, m[9], options, depth + 1);
      parent.append(em);
    }
  }
  if (last < text.length) parent.append(text.slice(last));
}

function appendLines(parent, lines, options) {
  lines.forEach((line, i) => {
    if (i > 0) parent.append(document.createElement("br"));
    appendInline(parent, line, options);
  });
}

/** Replace the content of ``target`` with ``text`` rendered as the safe Markdown subset. */
export function renderMarkdown(target, text, { allowedOrigins = [] } = {}) {
  const options = { allowedOrigins };
  const out = document.createDocumentFragment();
  const lines = String(text).replace(/\r\n?/g, "\n").split("\n");
  let paragraph = [];
  let list = null; // {element, ordered, items: [li, lines[]]}

  const flushParagraph = () => {
    if (!paragraph.length) return;
    const p = document.createElement("p");
    appendLines(p, paragraph, options);
    out.append(p);
    paragraph = [];
  };
  const flushList = () => {
    if (!list) return;
    for (const [li, itemLines] of list.items) appendLines(li, itemLines, options);
    out.append(list.element);
    list = null;
  };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = FENCE.exec(line);
    if (fence) {
      flushParagraph();
      flushList();
      const body = [];
      i++;
      while (i < lines.length && !lines[i].trimStart().startsWith(fence[1])) body.push(lines[i++]);
      const pre = document.createElement("pre");
      const code = document.createElement("code");
      code.textContent = body.join("\n");
      pre.append(code);
      out.append(pre);
      continue;
    }
    if (!line.trim()) {
      flushParagraph();
      flushList();
      continue;
    }
    const item = LIST_ITEM.exec(line);
    if (item) {
      flushParagraph();
      const ordered = item[2] !== undefined;
      if (!list || list.ordered !== ordered) {
        flushList();
        const element = document.createElement(ordered ? "ol" : "ul");
        const start = ordered ? Number.parseInt(item[2], 10) : 1;
        if (ordered && start !== 1) element.start = start;
        list = { element, ordered, items: [] };
      }
      const li = document.createElement("li");
      list.element.append(li);
      list.items.push([li, [item[3]]]);
      continue;
    }
    if (list && /^\s+\S/.test(line)) {
      list.items[list.items.length - 1][1].push(line.trim()); // continuation of the last item
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      flushParagraph();
      flushList();
      const p = document.createElement("p");
      p.className = "md-heading";
      const strong = document.createElement("strong");
      appendInline(strong, heading[1], options);
      p.append(strong);
      out.append(p);
      continue;
    }
    flushList();
    paragraph.push(line);
  }
  flushParagraph();
  flushList();
  target.replaceChildren(out);
}

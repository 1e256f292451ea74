// A safe subset of Markdown, rendered into DOM nodes: text is only ever set
// as text, so nothing in a message can become markup or run a script.
// Blocks: ``` code blocks ```, > quotes, - or 1. lists, paragraphs.
// Inline: `code`, **bold**, *italic* or _italic_, ~~strike~~,
// [text](https://…) and bare http(s) links, @mentions.

import { h } from './dom.js';

const SAFE_SCHEMES = ['http:', 'https:', 'mailto:'];

/**
 * The URL if it is absolute and of a safe scheme, else null.
 * @param {string} text
 * @returns {string|null}
 */
export function safeUrl(text) {
  try {
    const url = new URL(text);
    return SAFE_SCHEMES.includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

function link(href, label) {
  return h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, label);
}

// Inline rules, tried in order at each position; the earliest match wins.
const INLINE = [
  { re: /`([^`\n]+)`/, make: (m) => h('code', {}, m[1]) },
  { re: /\*\*([^*\n]+)\*\*/, make: (m, inner) => h('strong', {}, ...inner(m[1])) },
  { re: /~~([^~\n]+)~~/, make: (m, inner) => h('s', {}, ...inner(m[1])) },
  { re: /(?<![\w*])\*([^*\n]+)\*(?!\w)/, make: (m, inner) => h('em', {}, ...inner(m[1])) },
  { re: /(?<![\w_])_([^_\n]+)_(?![\w])/, make: (m, inner) => h('em', {}, ...inner(m[1])) },
  {
    re: /\[([^\]\n]+)\]\(([^)\s]+)\)/,
    make: (m) => {
      const href = safeUrl(m[2]);
      return href ? link(href, m[1]) : document.createTextNode(m[0]);
    },
  },
  {
    re: /\bhttps?:\/\/[^\s<>()]+[^\s<>().,;:!?'"]/,
    make: (m) => {
      const href = safeUrl(m[0]);
      return href ? link(href, m[0]) : document.createTextNode(m[0]);
    },
  },
  {
    re: /(?<![\w.+%-])@([A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9_]|[A-Za-z0-9]{2,})/,
    make: (m) => h('span', { class: 'mention', 'data-user': m[1] }, m[0]),
  },
];

/**
 * Inline nodes of one line of text.
 * @param {string} text
 * @returns {Node[]}
 */
export function inline(text) {
  const out = [];
  let rest = text;
  while (rest.length > 0) {
    let best = null;
    for (const rule of INLINE) {
      const m = rule.re.exec(rest);
      if (m && (best === null || m.index < best.m.index)) best = { m, rule };
    }
    if (!best) {
      out.push(document.createTextNode(rest));
      break;
    }
    if (best.m.index > 0) out.push(document.createTextNode(rest.slice(0, best.m.index)));
    out.push(best.rule.make(best.m, inline));
    rest = rest.slice(best.m.index + best.m[0].length);
  }
  return out;
}

/**
 * The blocks of a message.
 * @param {string} source
 * @returns {DocumentFragment}
 */
export function render(source) {
  const fragment = document.createDocumentFragment();
  const lines = source.replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.startsWith('```')) {
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].startsWith('```')) body.push(lines[i++]);
      i += 1;
      fragment.appendChild(h('pre', {}, h('code', {}, body.join('\n'))));
    } else if (line.startsWith('>')) {
      const quote = h('blockquote');
      while (i < lines.length && lines[i].startsWith('>')) {
        quote.appendChild(h('p', {}, ...inline(lines[i++].replace(/^>\s?/, ''))));
      }
      fragment.appendChild(quote);
    } else if (/^\s*([-*]|\d+\.)\s+/.test(line)) {
      const ordered = /^\s*\d+\./.test(line);
      const list = h(ordered ? 'ol' : 'ul');
      while (i < lines.length && /^\s*([-*]|\d+\.)\s+/.test(lines[i])) {
        list.appendChild(h('li', {}, ...inline(lines[i++].replace(/^\s*([-*]|\d+\.)\s+/, ''))));
      }
      fragment.appendChild(list);
    } else if (line.trim() === '') {
      i += 1;
    } else {
      const para = [];
      while (i < lines.length && lines[i].trim() !== '' && !/^(```|>|\s*([-*]|\d+\.)\s)/.test(lines[i])) {
        para.push(lines[i++]);
      }
      const p = h('p');
      para.forEach((text, n) => {
        if (n > 0) p.appendChild(h('br'));
        inline(text).forEach((node) => p.appendChild(node));
      });
      fragment.appendChild(p);
    }
  }
  return fragment;
}

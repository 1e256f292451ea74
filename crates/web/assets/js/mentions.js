// `@` autocomplete for a text box: members whose name or username starts
// with what follows the `@`, picked with the arrows and Enter or Tab.

import { h, replace } from './dom.js';

/** Most suggestions shown at once. */
const SHOWN = 6;

/**
 * Suggest members for the `@word` before the caret of `box`.
 * @param {HTMLTextAreaElement} box
 * @param {() => Array<{user_id: string, username: string, display_name: string}>} people
 * @returns {{list: HTMLElement, onKey: (event: KeyboardEvent) => boolean}} the
 *   list to place near the box, and a key handler that answers whether it
 *   took the key
 */
export function mentionAutocomplete(box, people) {
  const list = h('ul', { class: 'mention-list', role: 'listbox', id: `mentions-${Math.random().toString(36).slice(2)}`, hidden: true, 'aria-label': 'People to mention' });
  let matches = [];
  let chosen = 0;

  /** The `@word` being typed, or null. */
  const typed = () => {
    const before = box.value.slice(0, box.selectionStart);
    const found = before.match(/(?:^|\s)@([\w.-]*)$/);
    return found ? { query: found[1].toLowerCase(), start: before.length - found[1].length - 1 } : null;
  };

  const close = () => {
    matches = [];
    list.hidden = true;
    box.removeAttribute('aria-activedescendant');
  };

  const draw = () => {
    replace(
      list,
      ...matches.map((m, i) =>
        h(
          'li',
          {
            role: 'option',
            id: `${list.id}-${i}`,
            'aria-selected': i === chosen ? 'true' : 'false',
            'data-username': m.username,
            onmousedown: (event) => {
              event.preventDefault();
              chosen = i;
              pick();
            },
          },
          h('strong', {}, m.display_name),
          ` @${m.username}`,
        ),
      ),
    );
    list.hidden = matches.length === 0;
    if (matches.length > 0) box.setAttribute('aria-activedescendant', `${list.id}-${chosen}`);
  };

  const update = () => {
    const at = typed();
    if (!at) return close();
    matches = people()
      .filter((m) => m.username.toLowerCase().startsWith(at.query) || m.display_name.toLowerCase().split(/\s+/).some((w) => w.startsWith(at.query)))
      .slice(0, SHOWN);
    chosen = 0;
    draw();
  };

  const pick = () => {
    const at = typed();
    const person = matches[chosen];
    if (!at || !person) return close();
    const rest = box.value.slice(box.selectionStart);
    const inserted = `@${person.username} `;
    box.value = box.value.slice(0, at.start) + inserted + rest;
    const caret = at.start + inserted.length;
    box.setSelectionRange(caret, caret);
    box.dispatchEvent(new Event('input'));
    close();
  };

  box.setAttribute('aria-autocomplete', 'list');
  box.setAttribute('aria-controls', list.id);
  box.addEventListener('input', update);
  box.addEventListener('blur', () => setTimeout(close, 100));

  const onKey = (event) => {
    if (matches.length === 0) return false;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      chosen = (chosen + (event.key === 'ArrowDown' ? 1 : matches.length - 1)) % matches.length;
      draw();
    } else if ((event.key === 'Enter' && !event.shiftKey) || event.key === 'Tab') {
      pick();
    } else if (event.key === 'Escape') {
      close();
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  };
  return { list, onKey };
}

// Modal dialogs.

import { h } from './dom.js';

/**
 * A modal dialog; Escape or its close button removes it.
 * @param {string} title
 * @param {Node[]} content
 * @param {() => void} [onClose]
 * @returns {HTMLElement}
 */
export function openDialog(title, content, onClose) {
  const previous = /** @type {HTMLElement|null} */ (document.activeElement);
  const slug = title.toLowerCase().replace(/\W+/g, '-');
  const close = () => {
    dialog.remove();
    previous?.focus();
    onClose?.();
  };
  const dialog = h(
    'div',
    { class: 'modal', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': `${slug}-dialog-title` },
    h(
      'div',
      { class: 'modal-box' },
      h(
        'header',
        {},
        h('h2', { id: `${slug}-dialog-title` }, title),
        h('button', { type: 'button', class: 'close-dialog', 'aria-label': `Close ${title.toLowerCase()}`, onclick: close }, '×'),
      ),
      ...content,
    ),
  );
  dialog.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') close();
  });
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog) close();
  });
  document.body.appendChild(dialog);
  /** @type {HTMLElement|null} */ (dialog.querySelector('input, select, button'))?.focus();
  return dialog;
}

// A thread in a side pane, with its own composer.

import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { mentionAutocomplete } from '../mentions.js';

/** Methods mixed into the workspace view (`this` is the view). */
export const threadMethods = {
  /**
   * The thread of `parentId` in a side pane, with its own composer.
   * @param {string} parentId
   */
  async openThread(parentId) {
    // The thread takes the side pane.
    if (this.search) this.closeSearch();
    const page = await api.get(`/messages/${parentId}/replies?limit=200`);
    this.learnAuthors(page);
    this.thread = { parentId, replies: new Map(page.messages.map((m) => [m.id, m])) };
    // The thread has an address of its own (a link to it opens it again).
    history.replaceState(null, '', `/w/${this.workspaceId}/c/${this.channelId}/t/${parentId}`);
    const box = h('textarea', { rows: 1, 'aria-label': 'Reply', placeholder: 'Reply in the thread' });
    const mentions = mentionAutocomplete(box, () => this.currentMembers());
    const alsoSend = h('input', { type: 'checkbox', name: 'broadcast' });
    box.addEventListener('keydown', async (event) => {
      if (mentions.onKey(event)) return;
      if (event.key === 'Escape') this.closeThread();
      if (event.key !== 'Enter' || event.shiftKey || event.isComposing) return;
      event.preventDefault();
      const content = box.value;
      if (!content.trim()) return;
      box.value = '';
      try {
        const saved = await api.post(`/channels/${this.channelId}/messages`, {
          content,
          thread_id: parentId,
          broadcast: alsoSend.checked,
          client_msg_id: crypto.randomUUID(),
        });
        alsoSend.checked = false;
        if (this.thread && this.thread.parentId === parentId) {
          this.thread.replies.set(saved.id, saved);
          this.drawThread();
        }
      } catch (error) {
        box.value = content;
        this.notice(api.describe(error));
      }
    });
    this.threadList = h('ol', { class: 'messages thread-replies', 'aria-label': 'Replies' });
    this.threadPane = h(
      'aside',
      { class: 'thread', 'aria-label': 'Thread' },
      h(
        'header',
        {},
        h('h2', {}, 'Thread'),
        h('button', { type: 'button', class: 'close-thread', 'aria-label': 'Close the thread', onclick: () => this.closeThread() }, '×'),
      ),
      this.threadList,
      h(
        'form',
        { class: 'composer', onsubmit: (event) => event.preventDefault() },
        box,
        h('label', { class: 'also-send' }, alsoSend, ' Also send to the channel'),
        mentions.list,
      ),
    );
    const shell = this.root.querySelector('.shell');
    shell.querySelector('aside.thread')?.remove();
    shell.appendChild(this.threadPane);
    shell.classList.add('with-thread');
    this.drawThread();
    box.focus();
  },

  drawThread() {
    if (!this.thread) return;
    const parent = this.messages.get(this.thread.parentId);
    const replies = [...this.thread.replies.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
    replace(
      this.threadList,
      parent && this.messageItem({ ...parent, reply_count: 0 }, false),
      ...replies.map((m) => this.messageItem({ ...m, reply_count: 0, inThread: true }, false)),
    );
  },

  closeThread() {
    this.thread = null;
    if (location.pathname.includes('/t/')) history.replaceState(null, '', `/w/${this.workspaceId}/c/${this.channelId}`);
    this.threadPane?.remove();
    this.root.querySelector('.shell')?.classList.remove('with-thread');
    this.composer.querySelector('textarea').focus();
  },
};

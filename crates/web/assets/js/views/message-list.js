// The message list: drawing (again only what changed), avatars, reactions
// and their picker, editing, pins and deleting.

import * as api from '../api.js';
import { h, reconcile } from '../dom.js';
import { EMOJI, QUICK_REACTIONS, emoji } from '../emoji.js';
import { render } from '../markdown.js';
import { dayLabel, shortTime } from '../time.js';
import { openDialog } from '../dialog.js';

/** Methods mixed into the workspace view (`this` is the view). */
export const messageMethods = {
  draw() {
    const ordered = [...this.messages.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
    const items = [];
    const rendered = new Map();
    const days = new Map();
    let lastDay = null;
    let lastAuthor = null;
    let divided = false;
    for (const message of ordered) {
      const day = dayLabel(message.created_at);
      if (day !== lastDay) {
        const separator = this.rendered.days.get(day) || h('li', { class: 'day' }, day);
        days.set(day, separator);
        items.push(separator);
        lastDay = day;
        lastAuthor = null;
      }
      const unseen =
        this.readMarker !== null &&
        !message.pending &&
        message.id > this.readMarker &&
        message.id <= this.openedNewest &&
        message.user_id !== this.user.id;
      if (unseen && !divided) {
        items.push(this.divider);
        divided = true;
        lastAuthor = null;
      }
      // A notice (someone joined, a new topic) stands alone.
      const notice = message.message_type === 'system';
      const grouped = !notice && lastAuthor === message.user_id;
      lastAuthor = notice ? null : message.user_id;
      // A message is drawn again only when something shown of it changed.
      const look = this.looks(message, grouped);
      const known = this.rendered.messages.get(message.id);
      const node = known && known.look === look ? known.node : this.messageItem(message, grouped);
      rendered.set(message.id, { look, node });
      items.push(node);
    }
    this.rendered = { messages: rendered, days };
    const atBottom = this.atBottom();
    const editing = this.list.contains(document.activeElement) && document.activeElement.closest('.editor');
    reconcile(this.list, items);
    if (atBottom) this.scroller.scrollTop = this.scroller.scrollHeight;
    if (editing) {
      const box = this.list.querySelector('.editor textarea');
      if (box) {
        box.focus();
        box.setSelectionRange(box.value.length, box.value.length);
      }
    }
    this.drawJump();
  },

  /** Everything of a message its list item shows, as one string. */
  looks(message, grouped) {
    return JSON.stringify([
      message.content,
      message.edited_at,
      message.is_deleted,
      message.is_pinned,
      message.reply_count,
      message.reactions,
      this.fileLooks(message),
      message.pending,
      message.failed,
      message.ephemeral,
      grouped,
      this.editing === message.id,
      this.names.get(message.user_id),
      this.avatars.get(message.user_id),
    ]);
  },

  /** A person's picture, or their initial on a colour of their own. */
  avatar(userId, name) {
    const url = this.avatars.get(userId);
    if (url && /^https:\/\//.test(url)) return h('img', { class: 'avatar', src: url, alt: '', referrerpolicy: 'no-referrer' });
    let hue = 0;
    for (const c of userId) hue = (hue * 31 + c.charCodeAt(0)) % 360;
    const initial = h('span', { class: 'avatar initial', 'aria-hidden': 'true' }, (name.trim()[0] || '?').toUpperCase());
    // Through the CSSOM: the policy allows no style attributes.
    initial.style.setProperty('--hue', String(hue));
    return initial;
  },

  /** What a reply also sent to the channel says where it shows. */
  broadcastNote(message) {
    if (message.inThread) return h('p', { class: 'broadcast-note' }, 'Also sent to the channel');
    return h(
      'button',
      { type: 'button', class: 'broadcast-note', onclick: () => this.openThread(message.thread_id) },
      'Replied to a thread',
    );
  },

  /** A notice Confab wrote: who joined or left, a new topic or purpose. */
  noticeItem(message, name) {
    return h(
      'li',
      { class: 'message notice', 'data-id': message.id },
      h(
        'p',
        {},
        h('span', { class: 'author' }, name),
        ` ${message.content} `,
        h('time', { datetime: message.created_at }, shortTime(message.created_at)),
      ),
    );
  },

  messageItem(message, grouped) {
    const name = this.names.get(message.user_id) || (message.ephemeral ? 'Confab' : 'Someone');
    if (message.message_type === 'system' && !message.is_deleted) return this.noticeItem(message, name);
    const body = message.is_deleted
      ? h('p', { class: 'deleted' }, 'This message was deleted.')
      : h('div', { class: 'body' }, render(message.content));
    return h(
      'li',
      {
        class: `message${grouped ? ' grouped' : ''}${message.pending ? ' pending' : ''}${message.ephemeral ? ' ephemeral' : ''}`,
        'data-id': message.id,
      },
      !grouped && this.avatar(message.user_id, name),
      !grouped &&
        h(
          'p',
          { class: 'meta' },
          h('span', { class: 'author' }, name),
          ' ',
          h('time', { datetime: message.created_at }, shortTime(message.created_at)),
        ),
      message.is_pinned && !message.is_deleted && h('p', { class: 'pinned-mark' }, '\u{1F4CC} Pinned'),
      this.editing === message.id ? this.editor(message) : body,
      !message.is_deleted && this.attachments(message),
      message.edited_at && !message.is_deleted && h('span', { class: 'edited' }, '(edited)'),
      message.broadcast && message.thread_id && !message.is_deleted && this.broadcastNote(message),
      message.reply_count > 0 &&
        h(
          'button',
          { type: 'button', class: 'replies', onclick: () => this.openThread(message.id) },
          message.reply_count === 1 ? '1 reply' : `${message.reply_count} replies`,
        ),
      !message.is_deleted && (message.reactions || []).length > 0 && this.reactionBar(message),
      message.ephemeral && h('p', { class: 'ephemeral-note' }, 'Only visible to you'),
      !message.is_deleted && !message.pending && !message.ephemeral && this.toolbar(message),
      message.failed &&
        h(
          'p',
          { class: 'failed', role: 'alert' },
          `Not sent: ${message.failed} `,
          h('button', { type: 'button', onclick: () => this.send(message.content, message.client_msg_id, message.files || []) }, 'Retry'),
        ),
    );
  },

  reactionBar(message) {
    return h(
      'div',
      { class: 'reactions' },
      ...message.reactions.map((r) => {
        const mine = r.users.includes(this.user.id);
        return h(
          'button',
          {
            type: 'button',
            class: `reaction${mine ? ' mine' : ''}`,
            'aria-pressed': mine ? 'true' : 'false',
            'aria-label': `${r.name}: ${r.count}`,
            'data-emoji': r.name,
            onclick: () => this.react(message, r.name, mine),
          },
          `${emoji(r.name)} ${r.count}`,
        );
      }),
    );
  },

  toolbar(message) {
    const own = message.user_id === this.user.id;
    return h(
      'div',
      { class: 'actions', role: 'toolbar', 'aria-label': 'Message actions' },
      ...QUICK_REACTIONS.map((name) =>
        h(
          'button',
          {
            type: 'button',
            class: 'react',
            'data-emoji': name,
            'aria-label': `React with ${name}`,
            onclick: () => this.react(message, name, this.reacted(message, name)),
          },
          emoji(name),
        ),
      ),
      h(
        'button',
        { type: 'button', class: 'more-reactions', 'aria-label': 'More reactions', onclick: () => this.showEmojiPicker(message) },
        '\u{1F642}+',
      ),
      h('button', { type: 'button', class: 'reply', onclick: () => this.openThread(message.id) }, 'Reply'),
      h(
        'button',
        { type: 'button', class: 'pin', onclick: () => this.pin(message) },
        message.is_pinned ? 'Unpin' : 'Pin',
      ),
      own && h('button', { type: 'button', class: 'edit', onclick: () => this.startEdit(message.id) }, 'Edit'),
      own && h('button', { type: 'button', class: 'delete', onclick: () => this.remove(message) }, 'Delete'),
    );
  },

  /** The common reactions, and a box to type any other name. */
  showEmojiPicker(message) {
    const react = (name) => {
      dialog.remove();
      this.react(message, name, this.reacted(message, name));
    };
    const typed = h('input', { id: 'emoji-name', name: 'emoji', required: true, maxlength: 64, pattern: '[a-z0-9_+\\-]+', placeholder: 'party_parrot' });
    const form = h(
      'form',
      { class: 'emoji-name' },
      h('label', { for: 'emoji-name' }, 'Or type a name'),
      typed,
      h('button', { type: 'submit' }, 'React'),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      react(typed.value.trim().replace(/^:|:$/g, ''));
    });
    const grid = h(
      'div',
      { class: 'emoji-grid', role: 'group', 'aria-label': 'Common reactions' },
      ...Object.keys(EMOJI).map((name) =>
        h('button', { type: 'button', class: 'emoji-choice', 'data-emoji': name, title: name, 'aria-label': name, onclick: () => react(name) }, EMOJI[name]),
      ),
    );
    const dialog = openDialog('Add a reaction', [grid, form]);
  },

  reacted(message, name) {
    return (message.reactions || []).some((r) => r.name === name && r.users.includes(this.user.id));
  },

  async react(message, name, undo) {
    try {
      if (undo) await api.del(`/messages/${message.id}/reactions/${encodeURIComponent(name)}`);
      else await api.post(`/messages/${message.id}/reactions`, { emoji: name });
    } catch (error) {
      this.notice(api.describe(error));
    }
  },

  startEdit(id) {
    this.editing = id;
    this.draw();
    const box = this.list.querySelector('.editor textarea');
    if (box) {
      box.focus();
      box.setSelectionRange(box.value.length, box.value.length);
    }
  },

  editor(message) {
    const box = h('textarea', { 'aria-label': 'Edit message', rows: 2 });
    // The list is redrawn as events arrive: the draft survives it.
    box.value = this.editDraft ?? message.content;
    box.addEventListener('input', () => {
      this.editDraft = box.value;
    });
    const stop = () => {
      this.editing = null;
      this.editDraft = null;
      this.draw();
      this.composer.querySelector('textarea').focus();
    };
    box.addEventListener('keydown', async (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        stop();
      } else if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        const content = box.value;
        if (!content.trim() || content === message.content) return stop();
        try {
          const saved = await api.patch(`/messages/${message.id}`, { content });
          this.messages.set(saved.id, saved);
          stop();
        } catch (error) {
          this.notice(api.describe(error));
        }
      }
    });
    return h('div', { class: 'editor' }, box, h('p', { class: 'hint' }, 'Enter saves, Escape cancels'));
  },

  async pin(message) {
    try {
      if (message.is_pinned) await api.del(`/messages/${message.id}/pin`);
      else await api.post(`/messages/${message.id}/pin`);
    } catch (error) {
      this.notice(api.describe(error));
    }
  },

  /** The pinned messages of the channel, under its header. */
  async showPins() {
    const { messages } = await api.get(`/channels/${this.channelId}/pins`);
    const list = h(
      'div',
      { class: 'pins', role: 'region', 'aria-label': 'Pinned messages' },
      h('h2', {}, 'Pinned'),
      messages.length === 0
        ? h('p', {}, 'Nothing is pinned in this channel.')
        : h(
            'ol',
            {},
            ...messages.map((m) =>
              h('li', {}, h('span', { class: 'author' }, this.names.get(m.user_id) || 'Someone'), ': ', render(m.content)),
            ),
          ),
    );
    this.header.querySelector('.pins')?.remove();
    this.header.appendChild(list);
  },

  async remove(message) {
    if (!window.confirm('Delete this message? This cannot be undone.')) return;
    try {
      await api.del(`/messages/${message.id}`);
      this.messages.set(message.id, { ...message, is_deleted: true, content: '' });
      this.draw();
    } catch (error) {
      this.notice(api.describe(error));
    }
  },
};

// Presence (dots, one's own status) and typing indicators.

import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { openDialog } from '../dialog.js';

/** Methods mixed into the workspace view (`this` is the view). */
export const presenceMethods = {
  /** @param {string} userId @returns {'online'|'away'|'offline'} */
  presenceOf(userId) {
    const known = this.presence.get(userId);
    return known ? known.status : 'offline';
  },

  /** The presence of the members, in pages of the API's size. */
  async loadPresence() {
    const ids = [...new Set([this.user.id, ...this.members.map((m) => m.user_id)])];
    for (let i = 0; i < ids.length; i += 500) {
      try {
        const { presence } = await api.get(`/workspaces/${this.workspaceId}/presence?user_ids=${ids.slice(i, i + 500).join(',')}`);
        for (const p of presence) this.presence.set(p.user_id, p);
      } catch {
        // Presence is a nicety: the chat works without it.
      }
    }
  },

  /** The caller's own presence in the top bar. */
  drawStatus() {
    const mine = this.presence.get(this.user.id);
    const status = mine && mine.status === 'away' ? 'away' : 'online';
    replace(
      this.statusButton,
      h('span', { class: `presence-dot ${status}`, 'aria-hidden': 'true' }),
      ` ${this.user.display_name}`,
      mine && mine.custom_status ? h('span', { class: 'custom-status' }, ` · ${mine.custom_status}`) : null,
    );
    this.statusButton.setAttribute('aria-label', `Your status: ${status}${mine && mine.custom_status ? `, ${mine.custom_status}` : ''}. Change it`);
  },

  /** Set away or online, and a status text. */
  showStatus() {
    const mine = this.presence.get(this.user.id) || {};
    const status = h('p', { class: 'form-status', role: 'status' });
    const form = h(
      'form',
      { class: 'status-form' },
      h(
        'fieldset',
        {},
        h('legend', {}, 'You are'),
        ...['online', 'away'].map((value) =>
          h(
            'label',
            { class: 'check' },
            h('input', { type: 'radio', name: 'status', value, checked: (mine.status === 'away' ? 'away' : 'online') === value }),
            ` ${value === 'online' ? 'Active' : 'Away'}`,
          ),
        ),
      ),
      h('label', { for: 'custom-status' }, 'Status text'),
      h('input', { id: 'custom-status', name: 'custom_status', maxlength: 100, value: mine.custom_status || '', placeholder: 'In a meeting' }),
      h('button', { type: 'submit', class: 'primary' }, 'Save'),
      status,
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const values = Object.fromEntries(new FormData(form));
      try {
        const saved = await api.call('PUT', `/workspaces/${this.workspaceId}/presence`, {
          status: values.status,
          custom_status: values.custom_status || null,
        });
        this.presence.set(this.user.id, saved);
        this.drawStatus();
        dialog.remove();
        this.statusButton.focus();
      } catch (error) {
        status.textContent = api.describe(error);
      }
    });
    const dialog = openDialog('Your status', [form]);
  },

  /** Tell the channel the user is typing (at most every 3 seconds). */
  signalTyping() {
    const now = Date.now();
    if (this.typingSent && now - this.typingSent < 3000) return;
    this.typingSent = now;
    api.post(`/channels/${this.channelId}/typing`).catch(() => {});
  },

  showTyping(userId) {
    if (userId === this.user.id) return;
    this.typing = this.typing || new Map();
    clearTimeout(this.typing.get(userId));
    this.typing.set(
      userId,
      setTimeout(() => {
        this.typing.delete(userId);
        this.drawTyping();
      }, 6000),
    );
    this.drawTyping();
  },

  drawTyping() {
    const names = [...(this.typing || new Map()).keys()].map((id) => this.names.get(id) || 'Someone');
    this.typingLine.textContent =
      names.length === 0 ? '' : `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…`;
  },
};

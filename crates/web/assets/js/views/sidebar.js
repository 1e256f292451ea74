// The sidebar: channels and conversations with their unread counts, the
// people picker, new and browsed channels, and the quick switcher.

import * as api from '../api.js';
import { h, replace } from '../dom.js';

/** Methods mixed into the workspace view (`this` is the view). */
export const sidebarMethods = {
  /** A dialog to jump to a channel or a person by typing part of a name. */
  showSwitcher() {
    if (this.switcher) return;
    const input = h('input', {
      type: 'search',
      class: 'switcher-input',
      'aria-label': 'Jump to a channel or a person',
      placeholder: 'Jump to…',
      autocomplete: 'off',
    });
    const results = h('ul', { class: 'switcher-results', role: 'listbox', 'aria-label': 'Matches' });
    const close = () => {
      dialog.remove();
      this.switcher = null;
      this.composer.querySelector('textarea').focus();
    };
    const go = async (target) => {
      close();
      try {
        this.navigate(`/w/${this.workspaceId}/c/${await target.channelId()}`);
      } catch (error) {
        this.notice(api.describe(error));
      }
    };
    const matches = () => {
      const query = input.value.trim().toLowerCase();
      return this.switchTargets()
        .filter((t) => t.search.includes(query))
        .slice(0, 8);
    };
    const draw = () => {
      replace(
        results,
        ...matches().map((t, i) =>
          h(
            'li',
            { role: 'option', 'aria-selected': i === 0 ? 'true' : 'false', 'data-kind': t.kind },
            h('button', { type: 'button', class: 'switch-target', onclick: () => go(t) }, t.label),
          ),
        ),
      );
    };
    input.addEventListener('input', draw);
    this.loadMembers().then(draw);
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') close();
      if (event.key === 'Enter') {
        event.preventDefault();
        const first = matches()[0];
        if (first) go(first);
      }
    });
    const dialog = h(
      'div',
      { class: 'switcher', role: 'dialog', 'aria-modal': 'true', 'aria-label': 'Quick switcher' },
      input,
      results,
    );
    dialog.addEventListener('click', (event) => {
      if (event.target === dialog) close();
    });
    this.switcher = dialog;
    document.body.appendChild(dialog);
    draw();
    input.focus();
  },

  /**
   * What the switcher can open: the channels and conversations one is in,
   * then people (their direct conversation, started when new).
   * @returns {Array<{kind: string, label: string, search: string, channelId: () => Promise<string>}>}
   */
  switchTargets() {
    const channels = this.channels
      .filter((c) => !c.is_archived)
      .map((c) => {
        const label = this.title(c);
        return { kind: 'channel', label, search: label.toLowerCase(), channelId: async () => c.id };
      });
    const people = (this.members || [])
      .filter((m) => m.user_id !== this.user.id)
      .map((m) => ({
        kind: 'person',
        label: `@${m.username} (${m.display_name})`,
        search: `${m.username} ${m.display_name}`.toLowerCase(),
        channelId: async () => {
          const channel = await api.post(`/workspaces/${this.workspaceId}/conversations`, { users: [m.user_id] });
          if (!this.channels.some((c) => c.id === channel.id)) await this.reloadChannels();
          return channel.id;
        },
      }));
    return [...channels, ...people];
  },

  drawSidebar() {
    const item = (c) => {
      const counts = this.unread.get(c.id) || { unread: 0, mentions: 0 };
      const label = c.channel_type === 'public' || c.channel_type === 'private' ? `# ${c.name}` : this.conversationLabel(c);
      const other = c.channel_type === 'direct' && (this.convoMembers?.get(c.id) || []).find((id) => id !== this.user.id);
      const presence = other ? this.presenceOf(other) : null;
      return h(
        'li',
        { class: c.id === this.channelId ? 'active' : '' },
        h(
          'a',
          {
            href: `/w/${this.workspaceId}/c/${c.id}`,
            'data-route': '',
            'aria-current': c.id === this.channelId ? 'page' : undefined,
            class: counts.unread > 0 ? 'unread' : '',
          },
          presence && h('span', { class: `presence-dot ${presence}`, role: 'img', 'aria-label': presence, 'data-presence': presence }),
          presence && ' ',
          label,
          c.is_archived && h('span', { class: 'archived-mark' }, ' (archived)'),
          counts.mentions > 0 && h('span', { class: 'badge mention', title: 'Mentions' }, String(counts.mentions)),
          counts.unread > 0 && counts.mentions === 0 && h('span', { class: 'badge', title: 'Unread' }, String(counts.unread)),
        ),
      );
    };
    // Archived channels stay out of the way, unless open.
    const shown = this.channels.filter((c) => !c.is_archived || c.id === this.channelId);
    const channels = shown.filter((c) => c.channel_type === 'public' || c.channel_type === 'private');
    const conversations = shown
      .filter((c) => !channels.includes(c))
      .map((c) => ({ c, label: this.conversationLabel(c) }))
      .sort((a, b) => a.label.localeCompare(b.label))
      .map(({ c }) => c);
    replace(
      this.sidebar,
      h('h2', {}, 'Channels'),
      h('ul', {}, ...channels.sort((a, b) => a.name.localeCompare(b.name)).map(item)),
      h(
        'p',
        { class: 'side-actions' },
        h('button', { type: 'button', class: 'add-channel', onclick: () => this.showNewChannel() }, '+ Add a channel'),
        h('button', { type: 'button', class: 'browse-channels', onclick: () => this.showBrowse() }, 'Browse channels'),
      ),
      h('h2', {}, 'Direct messages'),
      h('ul', {}, ...conversations.map(item)),
      h(
        'p',
        { class: 'side-actions' },
        h('button', { type: 'button', class: 'new-message', onclick: () => this.showPeople() }, '+ New message'),
      ),
      this.panel || null,
    );
  },

  /**
   * The people of a direct or group conversation other than the caller.
   * @param {any} channel
   */
  conversationLabel(channel) {
    this.convoMembers = this.convoMembers || new Map();
    const known = this.convoMembers.get(channel.id);
    if (!known) {
      this.convoMembers.set(channel.id, []);
      api
        .get(`/channels/${channel.id}/members?limit=200`)
        .then((page) => {
          this.convoMembers.set(channel.id, page.members.map((m) => m.user_id));
          for (const m of page.members) if (m.display_name) this.names.set(m.user_id, m.display_name);
          this.drawSidebar();
          if (channel.id === this.channelId) this.drawHeader();
        })
        .catch(() => {});
      return channel.display_name || 'Conversation';
    }
    const others = known.filter((id) => id !== this.user.id).map((id) => this.names.get(id) || 'Someone');
    return others.length > 0 ? others.join(', ') : channel.display_name || 'Conversation';
  },

  /** Pick one person (a direct conversation) or several (a group). */
  async showPeople() {
    await this.loadMembers();
    const chosen = new Set();
    const filter = h('input', { type: 'search', class: 'people-filter', 'aria-label': 'Find people', placeholder: 'Find people' });
    const list = h('ul', { class: 'people' });
    const status = h('p', { class: 'form-error', role: 'alert' });
    const start = h('button', { type: 'submit', class: 'primary start-conversation', disabled: true }, 'Start');
    const draw = () => {
      const query = filter.value.trim().toLowerCase();
      replace(
        list,
        ...this.members
          .filter((m) => m.user_id !== this.user.id)
          .filter((m) => chosen.has(m.user_id) || `${m.display_name} ${m.username}`.toLowerCase().includes(query))
          .slice(0, 50)
          .map((m) =>
            h(
              'li',
              {},
              h(
                'label',
                { class: 'check' },
                h('input', {
                  type: 'checkbox',
                  class: 'person',
                  'data-username': m.username,
                  checked: chosen.has(m.user_id),
                  onchange: (event) => {
                    if (event.target.checked) chosen.add(m.user_id);
                    else chosen.delete(m.user_id);
                    start.disabled = chosen.size === 0;
                    start.textContent = chosen.size > 1 ? `Start a group of ${chosen.size + 1}` : 'Start';
                  },
                }),
                ` ${m.display_name} (@${m.username})`,
              ),
            ),
          ),
      );
    };
    filter.addEventListener('input', draw);
    const form = h('form', { class: 'side-panel', 'aria-label': 'New conversation' }, filter, list, start, status);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      try {
        const channel = await api.post(`/workspaces/${this.workspaceId}/conversations`, { users: [...chosen] });
        this.panel = null;
        await this.reloadChannels();
        this.navigate(`/w/${this.workspaceId}/c/${channel.id}`);
      } catch (error) {
        status.textContent = api.describe(error);
      }
    });
    this.panel = form;
    this.drawSidebar();
    draw();
    filter.focus();
  },

  /** A form in the sidebar to create a channel. */
  showNewChannel() {
    const status = h('p', { class: 'form-error', role: 'alert' });
    const form = h(
      'form',
      { class: 'side-panel', 'aria-label': 'New channel' },
      h('label', { for: 'channel-name' }, 'Name (lowercase, no spaces)'),
      h('input', { id: 'channel-name', name: 'name', required: true, maxlength: 80, pattern: '[a-z0-9_-]+' }),
      h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'private' }), ' Private'),
      h('button', { type: 'submit', class: 'primary' }, 'Create'),
      status,
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      try {
        const created = await api.post(`/workspaces/${this.workspaceId}/channels`, {
          name: data.get('name'),
          private: data.get('private') === 'on',
        });
        this.panel = null;
        await this.reloadChannels();
        this.navigate(`/w/${this.workspaceId}/c/${created.id}`);
      } catch (error) {
        status.textContent = api.describe(error);
      }
    });
    this.panel = form;
    this.drawSidebar();
    form.querySelector('input').focus();
  },

  /** Public channels one is not in, to join. */
  async showBrowse() {
    const page = await api.get(`/workspaces/${this.workspaceId}/channels/browse?limit=200`);
    const mine = new Set(this.channels.map((c) => c.id));
    const others = page.channels.filter((c) => !mine.has(c.id));
    this.panel = h(
      'div',
      { class: 'side-panel', role: 'region', 'aria-label': 'Browse channels' },
      others.length === 0
        ? h('p', {}, 'You are in every public channel.')
        : h(
            'ul',
            {},
            ...others.map((c) =>
              h(
                'li',
                {},
                `# ${c.name} `,
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'join',
                    'data-channel': c.name,
                    onclick: async () => {
                      await api.post(`/channels/${c.id}/join`);
                      this.panel = null;
                      await this.reloadChannels();
                      this.navigate(`/w/${this.workspaceId}/c/${c.id}`);
                    },
                  },
                  'Join',
                ),
              ),
            ),
          ),
    );
    this.drawSidebar();
  },
};

// The chat: workspaces, the channel sidebar with unread counts, the message
// view with history paged upward, and the composer; kept live by the
// gateway.

import * as api from '../api.js';
import { h, reconcile, replace } from '../dom.js';
import { render } from '../markdown.js';
import { mentionAutocomplete } from '../mentions.js';
import { Gateway } from '../socket.js';
import { dayLabel, shortTime } from '../time.js';
import { showMembers, showWorkspaceSettings, openDialog } from './admin.js';
import { showChannelDetails } from './channel-details.js';

/** The common reactions, by the names the API uses. */
const EMOJI = {
  thumbsup: '\u{1F44D}',
  thumbsdown: '\u{1F44E}',
  heart: '\u{2764}\u{FE0F}',
  tada: '\u{1F389}',
  eyes: '\u{1F440}',
  joy: '\u{1F602}',
  smile: '\u{1F604}',
  slightly_smiling_face: '\u{1F642}',
  thinking_face: '\u{1F914}',
  white_check_mark: '\u{2705}',
  x: '\u{274C}',
  fire: '\u{1F525}',
  rocket: '\u{1F680}',
  pray: '\u{1F64F}',
  clap: '\u{1F44F}',
  raised_hands: '\u{1F64C}',
  wave: '\u{1F44B}',
  ok_hand: '\u{1F44C}',
  muscle: '\u{1F4AA}',
  sob: '\u{1F62D}',
  sweat_smile: '\u{1F605}',
  sunglasses: '\u{1F60E}',
  star: '\u{2B50}',
  warning: '\u{26A0}\u{FE0F}',
  bulb: '\u{1F4A1}',
  coffee: '\u{2615}',
  '100': '\u{1F4AF}',
  heavy_plus_sign: '\u{2795}',
};
const QUICK_REACTIONS = ['thumbsup', 'heart', 'tada', 'eyes'];
/**
 * Most messages of a channel kept loaded: older ones are dropped as newer
 * arrive (and newer ones while reading far back), so that a long session
 * keeps a bounded page.
 */
const MAX_LOADED = 300;
/** Messages asked for per page. */
const PAGE = 50;

/**
 * The unsent text of a channel, kept in this browser.
 * @param {string} channelId
 * @returns {string}
 */
function loadDraft(channelId) {
  try {
    return localStorage.getItem(`confab.draft.${channelId}`) || '';
  } catch {
    return '';
  }
}

/**
 * Keep (or, when empty, forget) the unsent text of a channel.
 * @param {string} channelId
 * @param {string} text
 */
function saveDraft(channelId, text) {
  try {
    if (text) localStorage.setItem(`confab.draft.${channelId}`, text);
    else localStorage.removeItem(`confab.draft.${channelId}`);
  } catch {
    // Storage may be full or off: the draft is simply not kept.
  }
}

/**
 * An emoji name as shown: the character when known, else `:name:`.
 * @param {string} name
 */
function emoji(name) {
  return EMOJI[name] || `:${name}:`;
}

/**
 * The list of the caller's workspaces, with a form to create one.
 * @param {HTMLElement} root
 * @param {(path: string) => void} navigate
 */
export async function showHome(root, navigate) {
  const { workspaces } = await api.get('/workspaces');
  const status = h('p', { class: 'form-error', role: 'alert' });
  const form = h(
    'form',
    { class: 'inline-form' },
    h('label', { for: 'new-workspace' }, 'New workspace'),
    h('input', { id: 'new-workspace', name: 'name', required: true, maxlength: 200 }),
    h('button', { type: 'submit', class: 'primary' }, 'Create'),
    status,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const created = await api.post('/workspaces', { name: new FormData(form).get('name') });
      navigate(`/w/${created.workspace.id}`);
    } catch (error) {
      status.textContent = api.describe(error);
    }
  });
  replace(
    root,
    h(
      'main',
      { class: 'home' },
      h('h1', {}, 'Your workspaces'),
      workspaces.length === 0
        ? h('p', {}, 'You are in no workspace yet: create one, or open an invitation link.')
        : h(
            'ul',
            { class: 'workspace-list' },
            ...workspaces.map((w) =>
              h('li', {}, h('a', { href: `/w/${w.workspace.id}`, 'data-route': '' }, w.workspace.name)),
            ),
          ),
      form,
    ),
  );
}

/** The state of the open workspace view. */
class WorkspaceView {
  constructor(root, user, workspaceId, navigate) {
    this.root = root;
    this.user = user;
    this.workspaceId = workspaceId;
    this.navigate = navigate;
    this.channels = [];
    this.unread = new Map();
    /** @type {Map<string, string>} user id to display name */
    this.names = new Map([[user.id, user.display_name]]);
    this.channelId = null;
    /** @type {Map<string, any>} the open channel's messages by id */
    this.messages = new Map();
    this.older = null;
    /** @type {string|null} the newest loaded id when newer ones are not loaded */
    this.newer = null;
    /** @type {string|null} the read marker when the channel opened, when it had unread */
    this.readMarker = null;
    /** The list items drawn last, reused while they look the same. */
    this.rendered = { messages: new Map(), days: new Map() };
    this.divider = h('li', { class: 'new-divider', role: 'separator' }, h('span', {}, 'New messages'));
    /** @type {Map<string, string>} user id to avatar URL */
    this.avatars = new Map();
    /** @type {Map<string, any>} user id to presence */
    this.presence = new Map();
    this.gateway = new Gateway((event) => this.onEvent(event), (state) => this.onSocket(state));
  }

  async open(channelId) {
    const [{ workspace, membership }, { channels }] = await Promise.all([
      api.get(`/workspaces/${this.workspaceId}`),
      api.get(`/workspaces/${this.workspaceId}/channels`),
    ]);
    this.workspace = workspace;
    this.membership = membership;
    this.channels = channels.map((c) => c.channel);
    this.layout();
    await this.loadMembers();
    await this.loadPresence();
    this.gateway.start();
    this.keys = (event) => this.onKey(event);
    document.addEventListener('keydown', this.keys);
    await this.refreshUnread();
    const general = this.channels.find((c) => c.is_general) || this.channels[0];
    const chosen = this.channels.find((c) => c.id === channelId) || general;
    if (chosen) await this.showChannel(chosen.id);
  }

  /** Ctrl/Cmd+K opens the switcher; Alt+Up/Down moves through channels. */
  onKey(event) {
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 'k') {
      event.preventDefault();
      this.showSwitcher();
    } else if (event.altKey && (event.key === 'ArrowUp' || event.key === 'ArrowDown')) {
      event.preventDefault();
      const order = [...this.sidebar.querySelectorAll('a[href*="/c/"]')].map((a) => a.getAttribute('href'));
      const here = order.findIndex((href) => href.endsWith(`/c/${this.channelId}`));
      const next = order[(here + (event.key === 'ArrowDown' ? 1 : order.length - 1)) % order.length];
      if (next) this.navigate(next);
    }
  }

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
  }

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
  }

  layout() {
    this.sidebar = h('nav', { class: 'sidebar', 'aria-label': 'Channels' });
    this.header = h('header', { class: 'channel-header' });
    this.list = h('ol', { class: 'messages', 'aria-label': 'Messages', 'aria-live': 'polite' });
    this.scroller = h('div', { class: 'scroller' }, this.list);
    this.scroller.addEventListener('scroll', () => {
      if (this.scroller.scrollTop < 40 && this.older) this.loadOlder();
      const fromBottom = this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight;
      if (fromBottom < 200 && this.newer) this.loadNewer();
      this.drawJump();
    });
    this.jump = h('button', { type: 'button', class: 'jump-newest', hidden: true, onclick: () => this.jumpToNewest() }, 'Jump to newest ↓');
    this.connection = h('p', { class: 'connection', role: 'status' });
    this.composer = this.makeComposer();
    const top = h(
      'header',
      { class: 'top' },
      h('a', { href: '/', 'data-route': '', class: 'brand' }, 'Confab'),
      h('span', { class: 'workspace-name' }, this.workspace.name),
      h('input', {
        class: 'search',
        type: 'search',
        placeholder: 'Search',
        disabled: true,
        title: 'Search is not available yet',
        'aria-label': 'Search (not available yet)',
      }),
      (this.statusButton = h('button', { type: 'button', class: 'my-status', onclick: () => this.showStatus() })),
      h('button', { type: 'button', class: 'show-members', onclick: () => showMembers(this.context()) }, 'Members'),
      this.isAdmin() &&
        h('button', { type: 'button', class: 'workspace-settings-button', onclick: () => showWorkspaceSettings(this.context()) }, 'Settings'),
      h('a', { href: '/settings', 'data-route': '', class: 'account' }, 'Account'),
      h('button', { type: 'button', onclick: () => this.logOut() }, 'Log out'),
    );
    this.drawStatus();
    this.typingLine = h('p', { class: 'typing', 'aria-live': 'polite' });
    const main = h(
      'main',
      { class: 'channel' },
      this.header,
      this.connection,
      this.scroller,
      this.jump,
      h('div', { class: 'bottom' }, this.typingLine, this.composer),
    );
    replace(this.root, h('div', { class: 'shell' }, top, this.sidebar, main));
    this.drawSidebar();
  }

  isAdmin() {
    return this.membership.role === 'owner' || this.membership.role === 'admin';
  }

  /** What the members and settings dialogs need of this view. */
  context() {
    return {
      workspace: this.workspace,
      membership: this.membership,
      user: this.user,
      presenceOf: (id) => this.presenceOf(id),
      onWorkspace: (workspace) => {
        this.workspace = workspace;
        this.root.querySelector('.workspace-name').textContent = workspace.name;
      },
    };
  }

  /** @param {string} userId @returns {'online'|'away'|'offline'} */
  presenceOf(userId) {
    const known = this.presence.get(userId);
    return known ? known.status : 'offline';
  }

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
  }

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
  }

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
  }

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
    const conversations = shown.filter((c) => !channels.includes(c));
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
  }

  /** The active members, for names and the people picker (guests may not list them). */
  async loadMembers() {
    try {
      const page = await api.get(`/workspaces/${this.workspaceId}/members?limit=200&status=active`);
      this.members = page.members;
      this.membersLoadedAt = Date.now();
      for (const m of page.members) {
        this.names.set(m.user_id, m.display_name);
        if (m.avatar_url) this.avatars.set(m.user_id, m.avatar_url);
      }
    } catch {
      this.members = [];
    }
  }

  /**
   * The members as known now; read again in the background when the list
   * is older than half a minute (people join while the page is open).
   */
  currentMembers() {
    if (Date.now() - (this.membersLoadedAt || 0) > 30_000) {
      this.membersLoadedAt = Date.now();
      this.loadMembers();
    }
    return this.members || [];
  }

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
  }

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
  }

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
  }

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
  }

  drawHeader() {
    const channel = this.channels.find((c) => c.id === this.channelId);
    replace(
      this.header,
      h('h1', {}, channel ? this.title(channel) : 'Channel'),
      h('button', { type: 'button', class: 'show-pins', onclick: () => this.showPins() }, 'Pinned'),
      channel &&
        h('button', { type: 'button', class: 'channel-details', onclick: () => this.showDetails(channel) }, 'Details'),
      channel && channel.topic && h('p', { class: 'topic' }, channel.topic),
    );
    const archived = Boolean(channel && channel.is_archived);
    const box = this.composer.querySelector('textarea');
    box.disabled = archived;
    box.placeholder = archived ? 'This channel is archived: it can be read, not written to.' : 'Write a message';
  }

  showDetails(channel) {
    showChannelDetails({
      channel,
      members: this.members,
      nameOf: (id) => this.names.get(id) || 'Someone',
      onChanged: (changed) => this.channelChanged(changed),
      onLeft: async () => {
        await this.reloadChannels();
        const general = this.channels.find((c) => c.is_general) || this.channels[0];
        if (general) this.navigate(`/w/${this.workspaceId}/c/${general.id}`);
      },
    });
  }

  /** A channel's new state (from an answer or an event). */
  channelChanged(channel) {
    const at = this.channels.findIndex((c) => c.id === channel.id);
    if (at >= 0) this.channels[at] = channel;
    this.drawSidebar();
    if (channel.id === this.channelId) this.drawHeader();
  }

  /** How a channel is named in its header. */
  title(channel) {
    return channel.channel_type === 'public' || channel.channel_type === 'private'
      ? `# ${channel.name}`
      : this.conversationLabel(channel);
  }

  async refreshUnread() {
    const { channels } = await api.get(`/workspaces/${this.workspaceId}/unread`);
    this.unread = new Map(channels.map((c) => [c.channel_id, c]));
    if (this.channelId) this.unread.delete(this.channelId);
    this.drawSidebar();
  }

  async showChannel(channelId) {
    if (this.thread) this.closeThread();
    this.channelId = channelId;
    // The composer belongs to the channel from the first moment.
    const box = this.composer.querySelector('textarea');
    box.value = loadDraft(channelId);
    this.drawHeader();
    this.messages = new Map();
    this.newer = null;
    replace(this.list);
    const [page, readState] = await Promise.all([
      api.get(`/channels/${channelId}/messages?limit=${PAGE}`),
      api.get(`/channels/${channelId}/read-state`).catch(() => null),
    ]);
    if (this.channelId !== channelId) return;
    // The divider stays where the marker was when the channel opened.
    this.readMarker = readState && readState.unread > 0 ? readState.last_read_message_id || '' : null;
    this.take(page);
    this.openedNewest = this.loadedIds().pop() || '';
    this.draw();
    const divider = this.list.querySelector('.new-divider');
    if (divider) divider.scrollIntoView({ block: 'center' });
    else this.scroller.scrollTop = this.scroller.scrollHeight;
    this.markRead();
    this.drawSidebar();
    box.focus();
    // For the benchmark (User Timing): the frame after the list is drawn.
    requestAnimationFrame(() => setTimeout(() => performance.mark('confab:channel-painted'), 0));
  }

  take(page) {
    this.learnAuthors(page);
    for (const message of page.messages) this.messages.set(message.id, message);
    this.older = page.next_cursor || null;
  }

  /** Names and pictures of the authors of a page of messages. */
  learnAuthors(page) {
    for (const author of page.authors || []) {
      this.names.set(author.user_id, author.display_name);
      if (author.avatar_url) this.avatars.set(author.user_id, author.avatar_url);
    }
  }

  /** Loaded message ids, oldest first (not the pending ones). */
  loadedIds() {
    return [...this.messages.keys()].filter((id) => !id.startsWith('pending')).sort();
  }

  /** Drop the oldest (or newest) loaded messages beyond the bound. */
  trim(dropNewest) {
    const ids = this.loadedIds();
    const extra = ids.length - MAX_LOADED;
    if (extra <= 0) return;
    const dropped = dropNewest ? ids.slice(ids.length - extra) : ids.slice(0, extra);
    for (const id of dropped) this.messages.delete(id);
    if (dropNewest) this.newer = ids[ids.length - extra - 1];
    else this.older = ids[extra];
  }

  async loadOlder() {
    const before = this.older;
    this.older = null;
    const height = this.scroller.scrollHeight;
    const page = await api.get(`/channels/${this.channelId}/messages?limit=${PAGE}&before=${before}`);
    this.take(page);
    this.trim(true);
    this.draw();
    this.scroller.scrollTop = this.scroller.scrollHeight - height;
  }

  /** The next page toward the newest, when reading far back. */
  async loadNewer() {
    const after = this.newer;
    if (!after || this.loadingNewer) return;
    this.loadingNewer = true;
    try {
      const page = await api.get(`/channels/${this.channelId}/messages?limit=${PAGE}&after=${after}`);
      this.learnAuthors(page);
      for (const message of page.messages) this.messages.set(message.id, message);
      const ids = page.messages.map((m) => m.id).sort();
      this.newer = page.messages.length < PAGE ? null : ids[ids.length - 1];
      const top = this.scroller.scrollTop;
      const first = this.list.querySelector('.message');
      const offset = first ? first.offsetTop : 0;
      this.trim(false);
      this.draw();
      const kept = first && first.dataset.id && this.list.querySelector(`[data-id="${first.dataset.id}"]`);
      this.scroller.scrollTop = kept ? top + kept.offsetTop - offset : top;
    } finally {
      this.loadingNewer = false;
    }
  }

  /** Show the newest messages (loading them again when far back). */
  async jumpToNewest() {
    if (this.newer) {
      const page = await api.get(`/channels/${this.channelId}/messages?limit=${PAGE}`);
      this.messages = new Map();
      this.newer = null;
      this.take(page);
      this.draw();
    }
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.drawJump();
  }

  /** Whether the newest message is in view. */
  atBottom() {
    return !this.newer && this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < 60;
  }

  drawJump() {
    this.jump.hidden = this.atBottom();
  }

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
      const grouped = lastAuthor === message.user_id;
      lastAuthor = message.user_id;
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
  }

  /** Everything of a message its list item shows, as one string. */
  looks(message, grouped) {
    return JSON.stringify([
      message.content,
      message.edited_at,
      message.is_deleted,
      message.is_pinned,
      message.reply_count,
      message.reactions,
      message.pending,
      message.failed,
      grouped,
      this.editing === message.id,
      this.names.get(message.user_id),
      this.avatars.get(message.user_id),
    ]);
  }

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
  }

  messageItem(message, grouped) {
    const name = this.names.get(message.user_id) || 'Someone';
    const body = message.is_deleted
      ? h('p', { class: 'deleted' }, 'This message was deleted.')
      : h('div', { class: 'body' }, render(message.content));
    return h(
      'li',
      { class: `message${grouped ? ' grouped' : ''}${message.pending ? ' pending' : ''}`, 'data-id': message.id },
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
      message.edited_at && !message.is_deleted && h('span', { class: 'edited' }, '(edited)'),
      message.reply_count > 0 &&
        h(
          'button',
          { type: 'button', class: 'replies', onclick: () => this.openThread(message.id) },
          message.reply_count === 1 ? '1 reply' : `${message.reply_count} replies`,
        ),
      !message.is_deleted && (message.reactions || []).length > 0 && this.reactionBar(message),
      !message.is_deleted && !message.pending && this.toolbar(message),
      message.failed &&
        h(
          'p',
          { class: 'failed', role: 'alert' },
          `Not sent: ${message.failed} `,
          h('button', { type: 'button', onclick: () => this.send(message.content, message.client_msg_id) }, 'Retry'),
        ),
    );
  }

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
  }

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
  }

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
  }

  reacted(message, name) {
    return (message.reactions || []).some((r) => r.name === name && r.users.includes(this.user.id));
  }

  async react(message, name, undo) {
    try {
      if (undo) await api.del(`/messages/${message.id}/reactions/${encodeURIComponent(name)}`);
      else await api.post(`/messages/${message.id}/reactions`, { emoji: name });
    } catch (error) {
      this.notice(api.describe(error));
    }
  }

  startEdit(id) {
    this.editing = id;
    this.draw();
    const box = this.list.querySelector('.editor textarea');
    if (box) {
      box.focus();
      box.setSelectionRange(box.value.length, box.value.length);
    }
  }

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
  }

  async pin(message) {
    try {
      if (message.is_pinned) await api.del(`/messages/${message.id}/pin`);
      else await api.post(`/messages/${message.id}/pin`);
    } catch (error) {
      this.notice(api.describe(error));
    }
  }

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
  }

  async remove(message) {
    if (!window.confirm('Delete this message? This cannot be undone.')) return;
    try {
      await api.del(`/messages/${message.id}`);
      this.messages.set(message.id, { ...message, is_deleted: true, content: '' });
      this.draw();
    } catch (error) {
      this.notice(api.describe(error));
    }
  }

  /** @param {string} text shown under the channel header for a while */
  notice(text) {
    this.connection.textContent = text;
    setTimeout(() => {
      if (this.connection.textContent === text) this.connection.textContent = '';
    }, 6000);
  }

  makeComposer() {
    const box = h('textarea', {
      name: 'content',
      rows: 1,
      'aria-label': 'Message',
      placeholder: 'Write a message',
    });
    box.addEventListener('input', () => {
      this.signalTyping();
      saveDraft(this.channelId, box.value);
    });
    const mentions = mentionAutocomplete(box, () => this.currentMembers());
    box.addEventListener('keydown', (event) => {
      if (mentions.onKey(event)) return;
      if (event.key === 'ArrowUp' && box.value === '') {
        const mine = [...this.messages.values()]
          .filter((m) => m.user_id === this.user.id && !m.is_deleted && !m.pending)
          .sort((a, b) => (a.id < b.id ? -1 : 1))
          .pop();
        if (mine) {
          event.preventDefault();
          this.startEdit(mine.id);
        }
        return;
      }
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        const text = box.value;
        if (text.trim()) {
          box.value = '';
          saveDraft(this.channelId, '');
          this.send(text);
        }
      }
    });
    return h(
      'form',
      { class: 'composer', onsubmit: (event) => event.preventDefault() },
      h('button', {
        type: 'button',
        class: 'attach',
        disabled: true,
        title: 'Attaching files is not available yet',
        'aria-label': 'Attach a file (not available yet)',
      }, '+'),
      box,
      mentions.list,
    );
  }

  /**
   * Show the message at once, then as the server saved it.
   * @param {string} content
   * @param {string} [clientId] the id of an earlier attempt, to retry it
   */
  async send(content, clientId = crypto.randomUUID()) {
    const channelId = this.channelId;
    // The next keystroke starts a new message: say so at once.
    this.typingSent = 0;
    const pendingId = `pending-${clientId}`;
    this.messages.set(pendingId, {
      id: `~${pendingId}`,
      user_id: this.user.id,
      content,
      client_msg_id: clientId,
      created_at: new Date().toISOString(),
      pending: true,
    });
    // The request leaves before the drawing starts.
    const request = api.post(`/channels/${channelId}/messages`, { content, client_msg_id: clientId });
    this.draw();
    try {
      const saved = await request;
      if (this.channelId !== channelId) return;
      this.messages.delete(pendingId);
      this.messages.set(saved.id, saved);
      this.markRead(saved.id);
    } catch (error) {
      const failed = this.messages.get(pendingId);
      if (failed) failed.failed = api.describe(error);
    }
    this.draw();
  }

  /**
   * The thread of `parentId` in a side pane, with its own composer.
   * @param {string} parentId
   */
  async openThread(parentId) {
    const page = await api.get(`/messages/${parentId}/replies?limit=200`);
    this.learnAuthors(page);
    this.thread = { parentId, replies: new Map(page.messages.map((m) => [m.id, m])) };
    const box = h('textarea', { rows: 1, 'aria-label': 'Reply', placeholder: 'Reply in the thread' });
    const mentions = mentionAutocomplete(box, () => this.currentMembers());
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
          client_msg_id: crypto.randomUUID(),
        });
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
      h('form', { class: 'composer', onsubmit: (event) => event.preventDefault() }, box, mentions.list),
    );
    const shell = this.root.querySelector('.shell');
    shell.querySelector('aside.thread')?.remove();
    shell.appendChild(this.threadPane);
    shell.classList.add('with-thread');
    this.drawThread();
    box.focus();
  }

  drawThread() {
    if (!this.thread) return;
    const parent = this.messages.get(this.thread.parentId);
    const replies = [...this.thread.replies.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
    replace(
      this.threadList,
      parent && this.messageItem({ ...parent, reply_count: 0 }, false),
      ...replies.map((m) => this.messageItem({ ...m, reply_count: 0 }, false)),
    );
  }

  closeThread() {
    this.thread = null;
    this.threadPane?.remove();
    this.root.querySelector('.shell')?.classList.remove('with-thread');
    this.composer.querySelector('textarea').focus();
  }

  /** Tell the channel the user is typing (at most every 3 seconds). */
  signalTyping() {
    const now = Date.now();
    if (this.typingSent && now - this.typingSent < 3000) return;
    this.typingSent = now;
    api.post(`/channels/${this.channelId}/typing`).catch(() => {});
  }

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
  }

  drawTyping() {
    const names = [...(this.typing || new Map()).keys()].map((id) => this.names.get(id) || 'Someone');
    this.typingLine.textContent =
      names.length === 0 ? '' : `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…`;
  }

  markRead(messageId) {
    const newest = messageId || [...this.messages.keys()].filter((id) => !id.startsWith('pending')).sort().pop();
    this.unread.delete(this.channelId);
    if (newest) api.post(`/channels/${this.channelId}/read`, { message_id: newest }).catch(() => {});
  }

  onEvent(event) {
    if (this.applyWorkspaceEvent(event)) return;
    if (event.channel_id === this.channelId && this.applyChange(event)) {
      this.draw();
      return;
    }
    const message = event.message;
    if (event.type === 'thread_reply' && this.messages.has(event.parent_id)) {
      this.messages.get(event.parent_id).reply_count = event.reply_count;
      if (this.thread && this.thread.parentId === event.parent_id) {
        this.thread.replies.set(event.message.id, event.message);
        if (!this.names.has(event.message.user_id)) this.learnNames();
        this.drawThread();
      }
      this.draw();
      return;
    }
    if (!message || !message.channel_id) {
      if (event.type === 'member_joined' || event.type === 'member_left' || event.type === 'channel_created') {
        this.reloadChannels();
      }
      return;
    }
    if (message.channel_id !== this.channelId) {
      if (event.type === 'message_created' && message.user_id !== this.user.id && !message.thread_id) {
        this.refreshUnread();
      }
      return;
    }
    if (message.thread_id) return;
    // Reading far back, the newest are not loaded: the jump button says so.
    if (this.newer && !this.messages.has(message.id)) {
      this.drawJump();
      return;
    }
    for (const [key, shown] of this.messages) {
      if (shown.pending && shown.client_msg_id && shown.client_msg_id === message.client_msg_id) {
        this.messages.delete(key);
      }
    }
    this.messages.set(message.id, message);
    if (this.typing && this.typing.has(message.user_id)) {
      clearTimeout(this.typing.get(message.user_id));
      this.typing.delete(message.user_id);
      this.drawTyping();
    }
    if (!this.names.has(message.user_id)) this.learnNames();
    if (this.atBottom()) this.trim(false);
    this.draw();
    if (event.type === 'message_created' && document.visibilityState === 'visible') this.markRead(message.id);
  }

  /**
   * Apply an event about the workspace, its channels or its people.
   * Whether it was one.
   */
  applyWorkspaceEvent(event) {
    switch (event.type) {
      case 'presence':
        if (event.workspace_id !== this.workspaceId) return true;
        this.presence.set(event.user_id, { user_id: event.user_id, ...event.presence });
        if (event.user_id === this.user.id) this.drawStatus();
        this.drawSidebar();
        return true;
      case 'channel_updated':
      case 'channel_archived':
      case 'channel_unarchived':
        this.channelChanged(event.channel);
        return true;
      case 'read_marker':
        // Read on another device: the badge follows.
        this.unread.delete(event.channel_id);
        this.drawSidebar();
        return true;
      case 'access_changed':
        if (event.workspace_id === this.workspaceId) this.reloadMembership();
        return true;
      case 'resync_required':
        this.resync();
        return true;
      default:
        return false;
    }
  }

  /** The caller's role changed, or they were removed: read it again. */
  async reloadMembership() {
    try {
      const { workspace, membership } = await api.get(`/workspaces/${this.workspaceId}`);
      const wasAdmin = this.isAdmin();
      this.workspace = workspace;
      this.membership = membership;
      if (wasAdmin !== this.isAdmin()) {
        this.layout();
        await this.showChannel(this.channelId);
      }
    } catch {
      this.close();
      this.navigate('/');
    }
  }

  /** Too much was missed to replay: read the state again. */
  async resync() {
    await Promise.all([this.reloadChannels(), this.refreshUnread()]);
    if (this.channelId) await this.showChannel(this.channelId);
  }

  /**
   * Apply an event that names a message of the open channel without
   * carrying it. Whether it was one.
   */
  applyChange(event) {
    if (event.type === 'typing') {
      this.showTyping(event.user_id);
      return false;
    }
    const message = this.messages.get(event.message_id);
    if (!message) return false;
    switch (event.type) {
      case 'message_deleted':
        message.is_deleted = true;
        message.content = '';
        return true;
      case 'reaction_added':
      case 'reaction_removed': {
        const reactions = (message.reactions || []).map((r) => ({ ...r, users: [...r.users] }));
        let entry = reactions.find((r) => r.name === event.emoji);
        if (event.type === 'reaction_added') {
          if (!entry) {
            entry = { name: event.emoji, users: [], count: 0 };
            reactions.push(entry);
          }
          if (!entry.users.includes(event.user_id)) entry.users.push(event.user_id);
        } else if (entry) {
          entry.users = entry.users.filter((u) => u !== event.user_id);
        }
        for (const r of reactions) r.count = r.users.length;
        message.reactions = reactions.filter((r) => r.count > 0);
        return true;
      }
      case 'message_pinned':
      case 'message_unpinned':
        message.is_pinned = event.type === 'message_pinned';
        return true;
      default:
        return false;
    }
  }

  async learnNames() {
    const page = await api.get(`/channels/${this.channelId}/messages?limit=50`);
    this.learnAuthors(page);
    this.draw();
  }

  async reloadChannels() {
    const { channels } = await api.get(`/workspaces/${this.workspaceId}/channels`);
    this.channels = channels.map((c) => c.channel);
    this.drawSidebar();
  }

  onSocket(state) {
    if (state === 'ended') {
      this.navigate('/login');
      return;
    }
    this.connection.textContent = state === 'offline' ? 'Reconnecting…' : '';
  }

  async logOut() {
    this.close();
    await api.post('/auth/logout').catch(() => {});
    this.navigate('/login');
  }

  close() {
    this.gateway.stop();
    document.removeEventListener('keydown', this.keys);
  }
}

let current = null;

/**
 * Open (or move within) a workspace.
 * @param {HTMLElement} root
 * @param {any} user
 * @param {string} workspaceId
 * @param {string|null} channelId
 * @param {(path: string) => void} navigate
 */
export async function showWorkspace(root, user, workspaceId, channelId, navigate) {
  if (current && current.workspaceId === workspaceId && root.contains(current.list)) {
    if (channelId && channelId !== current.channelId) await current.showChannel(channelId);
    return;
  }
  if (current) current.close();
  current = new WorkspaceView(root, user, workspaceId, navigate);
  await current.open(channelId);
}

/** Leave the workspace view (its socket closes). */
export function closeWorkspace() {
  if (current) current.close();
  current = null;
}

// The chat: workspaces, the channel sidebar with unread counts, the message
// view with history paged upward, and the composer; kept live by the
// gateway.

import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { mentionAutocomplete } from '../mentions.js';
import { Gateway } from '../socket.js';
import { showMembers, showWorkspaceSettings } from './admin.js';
import { showChannelDetails } from './channel-details.js';
import { fileMethods } from './files.js';
import { messageMethods } from './message-list.js';
import { presenceMethods } from './presence.js';
import { searchMethods } from './search.js';
import { sidebarMethods } from './sidebar.js';
import { threadMethods } from './thread.js';

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

/** The state of the open workspace view; its methods are spread over this
 * module and the ones it mixes in below. */
export class WorkspaceView {
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

  async open(channelId, aroundId = null) {
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
    if (chosen) await this.showChannel(chosen.id, chosen.id === channelId ? aroundId : null);
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
      (this.searchBox = h('input', {
        class: 'search',
        type: 'search',
        placeholder: 'Search messages',
        'aria-label': 'Search messages',
        title: 'Words, "phrases", -not, from:@someone, in:#channel, before:/after:/on: dates, has:link, is:thread',
        onkeydown: (event) => {
          if (event.key === 'Enter') {
            event.preventDefault();
            this.runSearch(event.target.value);
          } else if (event.key === 'Escape') {
            this.closeSearch();
          }
        },
      })),
      (this.statusButton = h('button', { type: 'button', class: 'my-status', onclick: () => this.showStatus() })),
      h('button', { type: 'button', class: 'show-members', onclick: () => showMembers(this.context()) }, 'Members'),
      this.isAdmin() &&
        h('button', { type: 'button', class: 'workspace-settings-button', onclick: () => showWorkspaceSettings(this.context()) }, 'Settings'),
      h(
        'button',
        {
          type: 'button',
          class: 'integrations-button',
          // Loaded on first use: most people never open it.
          onclick: async () => (await import('./integrations.js')).showIntegrations(this.context()),
        },
        'Integrations',
      ),
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
      h('div', { class: 'bottom' }, this.typingLine, this.tray, this.composer),
    );
    this.acceptDrops(main);
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

  drawHeader() {
    const channel = this.channels.find((c) => c.id === this.channelId);
    replace(
      this.header,
      h('h1', {}, channel ? this.title(channel) : 'Channel'),
      h('button', { type: 'button', class: 'show-pins', onclick: () => this.showPins() }, 'Pinned'),
      h('button', { type: 'button', class: 'show-files', onclick: () => this.showFiles() }, 'Files'),
      channel &&
        h('button', { type: 'button', class: 'channel-details', onclick: () => this.showDetails(channel) }, 'Details'),
      channel && channel.topic && h('p', { class: 'topic' }, channel.topic),
    );
    const archived = Boolean(channel && channel.is_archived);
    const box = this.composer.querySelector('textarea');
    box.disabled = archived;
    this.composer.querySelector('.attach').disabled = archived;
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

  /**
   * Show a channel: its newest messages, or those around `aroundId` (a
   * search result), marked.
   * @param {string} channelId
   * @param {string|null} [aroundId]
   */
  async showChannel(channelId, aroundId = null) {
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
      api.get(`/channels/${channelId}/messages?limit=${PAGE}${aroundId ? `&around=${aroundId}` : ''}`),
      api.get(`/channels/${channelId}/read-state`).catch(() => null),
    ]);
    if (this.channelId !== channelId) return;
    // The divider stays where the marker was when the channel opened.
    this.readMarker = readState && readState.unread > 0 ? readState.last_read_message_id || '' : null;
    this.take(page);
    this.openedNewest = this.loadedIds().pop() || '';
    if (aroundId) {
      // Older and newer pages load as one scrolls from here.
      const ids = this.loadedIds();
      this.older = ids[0] || null;
      this.newer = ids[ids.length - 1] || null;
      this.readMarker = null;
    }
    this.draw();
    const found = aroundId && this.list.querySelector(`[data-id="${aroundId}"]`);
    const divider = this.list.querySelector('.new-divider');
    if (found) {
      found.classList.add('found');
      found.scrollIntoView({ block: 'center' });
    } else if (divider) {
      divider.scrollIntoView({ block: 'center' });
    } else {
      this.scroller.scrollTop = this.scroller.scrollHeight;
    }
    if (!aroundId) this.markRead();
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
    return [...this.messages.keys()].filter((id) => !isLocal(id)).sort();
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
    this.acceptPastes(box);
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
        if (this.uploading()) {
          this.notice('Wait until the files have uploaded.');
          return;
        }
        const text = box.value;
        const files = text.trim() || this.uploads.some((u) => u.file) ? this.takeUploads() : [];
        if (text.trim() || files.length > 0) {
          box.value = '';
          saveDraft(this.channelId, '');
          this.send(text, undefined, files);
        }
      }
    });
    const attach = this.makeAttachments();
    return h(
      'form',
      { class: 'composer', onsubmit: (event) => event.preventDefault() },
      attach.button,
      attach.picker,
      box,
      mentions.list,
    );
  }

  /**
   * Show the message at once, then as the server saved it.
   * @param {string} content
   * @param {string} [clientId] the id of an earlier attempt, to retry it
   * @param {any[]} [files] uploaded files the message carries
   */
  async send(content, clientId = crypto.randomUUID(), files = []) {
    const command = content.match(/^(\/[a-z0-9_-]{1,31})(?:\s+([\s\S]*))?$/i);
    if (command && files.length === 0) return this.runCommand(command[1].toLowerCase(), command[2] || '');
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
      files,
      pending: true,
    });
    // The request leaves before the drawing starts.
    const body = { content, client_msg_id: clientId };
    if (files.length > 0) body.file_ids = files.map((f) => f.id);
    const request = api.post(`/channels/${channelId}/messages`, body);
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
   * Run a slash command: its answer for the caller alone shows here; one
   * for the channel arrives as a message.
   * @param {string} command
   * @param {string} text
   */
  async runCommand(command, text) {
    const channelId = this.channelId;
    try {
      const answer = await api.post(`/channels/${channelId}/commands`, { command, text });
      if (answer.response_type === 'ephemeral' || answer.response_type === 'failed') {
        this.showEphemeral(channelId, answer.text || '', null);
      }
    } catch (error) {
      this.showEphemeral(channelId, `${command}: ${api.describe(error)}`, null);
    }
  }

  /**
   * Show a message only this person sees, until the channel is left.
   * @param {string} channelId
   * @param {string} text
   * @param {string|null} userId who it is from (a bot), if known
   */
  showEphemeral(channelId, text, userId) {
    if (channelId !== this.channelId) return;
    const key = `ephemeral-${crypto.randomUUID()}`;
    this.messages.set(key, {
      id: `~${key}`,
      user_id: userId || 'confab',
      content: text,
      created_at: new Date().toISOString(),
      ephemeral: true,
    });
    this.draw();
  }

  markRead(messageId) {
    const newest = messageId || [...this.messages.keys()].filter((id) => !isLocal(id)).sort().pop();
    this.unread.delete(this.channelId);
    if (newest) api.post(`/channels/${this.channelId}/read`, { message_id: newest }).catch(() => {});
  }

  onEvent(event) {
    if (event.type === 'ephemeral') {
      this.showEphemeral(event.channel_id, event.text, event.user_id);
      return;
    }
    if (this.applyWorkspaceEvent(event) || this.applyFileEvent(event)) return;
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
      if (!message.broadcast) return;
    }
    if (!message || !message.channel_id) {
      if (event.type === 'member_joined' || event.type === 'member_left' || event.type === 'channel_created') {
        this.reloadChannels();
      }
      return;
    }
    if (message.channel_id !== this.channelId) {
      if (isNewInChannel(event) && message.user_id !== this.user.id) this.refreshUnread();
      return;
    }
    if (message.thread_id && !message.broadcast) return;
    // Reading far back, the newest are not loaded: the jump button says so.
    if (this.newer && !this.messages.has(message.id)) {
      this.drawJump();
      return;
    }
    for (const [key, shown] of this.messages) {
      if (shown.pending && shown.client_msg_id && shown.client_msg_id === message.client_msg_id) {
        if (!message.files && shown.files && shown.files.length > 0) message.files = shown.files;
        this.messages.delete(key);
      }
    }
    // Events carry no files: those come after, as `file_shared`.
    const known = this.messages.get(message.id);
    if (known && known.files && !message.files) message.files = known.files;
    this.messages.set(message.id, message);
    if (this.typing && this.typing.has(message.user_id)) {
      clearTimeout(this.typing.get(message.user_id));
      this.typing.delete(message.user_id);
      this.drawTyping();
    }
    if (!this.names.has(message.user_id)) this.learnNames();
    if (this.atBottom()) this.trim(false);
    this.draw();
    if (isNewInChannel(event) && document.visibilityState === 'visible') this.markRead(message.id);
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

Object.assign(
  WorkspaceView.prototype,
  sidebarMethods,
  messageMethods,
  fileMethods,
  threadMethods,
  presenceMethods,
  searchMethods,
);

let current = null;

/**
 * Whether a key of the message map is this client's own (a message being
 * sent, or one only this person sees), not one the server keeps.
 * @param {string} key
 */
function isLocal(key) {
  return key.startsWith('pending') || key.startsWith('ephemeral');
}

/**
 * Whether an event brings a new message to its channel's history: a
 * top-level post or a reply also sent to the channel.
 * @param {any} event
 */
function isNewInChannel(event) {
  if (event.type === 'message_created') return !event.message.thread_id;
  return event.type === 'thread_reply' && Boolean(event.message.broadcast);
}

/**
 * Open (or move within) a workspace.
 * @param {HTMLElement} root
 * @param {any} user
 * @param {string} workspaceId
 * @param {string|null} channelId
 * @param {string|null} threadId a thread to open beside the channel
 * @param {(path: string) => void} navigate
 * @param {string|null} [messageId] a message to show the channel around
 */
export async function showWorkspace(root, user, workspaceId, channelId, threadId, navigate, messageId = null) {
  if (current && current.workspaceId === workspaceId && root.contains(current.list)) {
    if (channelId && (channelId !== current.channelId || messageId)) await current.showChannel(channelId, messageId);
  } else {
    if (current) current.close();
    current = new WorkspaceView(root, user, workspaceId, navigate);
    await current.open(channelId, messageId);
  }
  if (threadId && (!current.thread || current.thread.parentId !== threadId)) await current.openThread(threadId);
}

/** Leave the workspace view (its socket closes). */
export function closeWorkspace() {
  if (current) current.close();
  current = null;
}

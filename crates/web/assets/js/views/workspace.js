// The chat: workspaces, the channel sidebar with unread counts, the message
// view with history paged upward, and the composer; kept live by the
// gateway.

import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { render } from '../markdown.js';
import { Gateway } from '../socket.js';
import { dayLabel, shortTime } from '../time.js';

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
    this.gateway = new Gateway((event) => this.onEvent(event), (state) => this.onSocket(state));
  }

  async open(channelId) {
    const [{ workspace }, { channels }] = await Promise.all([
      api.get(`/workspaces/${this.workspaceId}`),
      api.get(`/workspaces/${this.workspaceId}/channels`),
    ]);
    this.workspace = workspace;
    this.channels = channels.map((c) => c.channel);
    this.layout();
    this.gateway.start();
    await this.refreshUnread();
    const general = this.channels.find((c) => c.is_general) || this.channels[0];
    const chosen = this.channels.find((c) => c.id === channelId) || general;
    if (chosen) await this.showChannel(chosen.id);
  }

  layout() {
    this.sidebar = h('nav', { class: 'sidebar', 'aria-label': 'Channels' });
    this.header = h('header', { class: 'channel-header' });
    this.list = h('ol', { class: 'messages', 'aria-label': 'Messages', 'aria-live': 'polite' });
    this.scroller = h('div', { class: 'scroller' }, this.list);
    this.scroller.addEventListener('scroll', () => {
      if (this.scroller.scrollTop < 40 && this.older) this.loadOlder();
    });
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
      h('span', { class: 'me' }, this.user.display_name),
      h('button', { type: 'button', onclick: () => this.logOut() }, 'Log out'),
    );
    const main = h('main', { class: 'channel' }, this.header, this.connection, this.scroller, this.composer);
    replace(this.root, h('div', { class: 'shell' }, top, this.sidebar, main));
    this.drawSidebar();
  }

  drawSidebar() {
    const item = (c) => {
      const counts = this.unread.get(c.id) || { unread: 0, mentions: 0 };
      const label = c.channel_type === 'public' || c.channel_type === 'private' ? `# ${c.name}` : c.display_name || c.name;
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
          label,
          counts.mentions > 0 && h('span', { class: 'badge mention', title: 'Mentions' }, String(counts.mentions)),
          counts.unread > 0 && counts.mentions === 0 && h('span', { class: 'badge', title: 'Unread' }, String(counts.unread)),
        ),
      );
    };
    const channels = this.channels.filter((c) => c.channel_type === 'public' || c.channel_type === 'private');
    const conversations = this.channels.filter((c) => !channels.includes(c));
    replace(
      this.sidebar,
      h('h2', {}, 'Channels'),
      h('ul', {}, ...channels.sort((a, b) => a.name.localeCompare(b.name)).map(item)),
      conversations.length > 0 && h('h2', {}, 'Direct messages'),
      conversations.length > 0 && h('ul', {}, ...conversations.map(item)),
    );
  }

  async refreshUnread() {
    const { channels } = await api.get(`/workspaces/${this.workspaceId}/unread`);
    this.unread = new Map(channels.map((c) => [c.channel_id, c]));
    this.drawSidebar();
  }

  async showChannel(channelId) {
    this.channelId = channelId;
    const channel = this.channels.find((c) => c.id === channelId);
    replace(
      this.header,
      h('h1', {}, channel ? `# ${channel.name}` : 'Channel'),
      channel && channel.topic && h('p', { class: 'topic' }, channel.topic),
    );
    this.messages = new Map();
    replace(this.list);
    const page = await api.get(`/channels/${channelId}/messages?limit=50`);
    this.take(page);
    this.draw();
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.markRead();
    this.drawSidebar();
    this.composer.querySelector('textarea').focus();
  }

  take(page) {
    for (const author of page.authors || []) this.names.set(author.user_id, author.display_name);
    for (const message of page.messages) this.messages.set(message.id, message);
    this.older = page.next_cursor || null;
  }

  async loadOlder() {
    const before = this.older;
    this.older = null;
    const height = this.scroller.scrollHeight;
    const page = await api.get(`/channels/${this.channelId}/messages?limit=50&before=${before}`);
    this.take(page);
    this.draw();
    this.scroller.scrollTop = this.scroller.scrollHeight - height;
  }

  draw() {
    const ordered = [...this.messages.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
    const items = [];
    let lastDay = null;
    let lastAuthor = null;
    for (const message of ordered) {
      const day = dayLabel(message.created_at);
      if (day !== lastDay) {
        items.push(h('li', { class: 'day', role: 'separator' }, day));
        lastDay = day;
        lastAuthor = null;
      }
      const grouped = lastAuthor === message.user_id;
      lastAuthor = message.user_id;
      items.push(this.messageItem(message, grouped));
    }
    const atBottom = this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < 60;
    replace(this.list, ...items);
    if (atBottom) this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  messageItem(message, grouped) {
    const name = this.names.get(message.user_id) || 'Someone';
    const body = message.is_deleted
      ? h('p', { class: 'deleted' }, 'This message was deleted.')
      : h('div', { class: 'body' }, render(message.content));
    return h(
      'li',
      { class: `message${grouped ? ' grouped' : ''}${message.pending ? ' pending' : ''}`, 'data-id': message.id },
      !grouped &&
        h(
          'p',
          { class: 'meta' },
          h('span', { class: 'author' }, name),
          ' ',
          h('time', { datetime: message.created_at }, shortTime(message.created_at)),
        ),
      body,
      message.edited_at && !message.is_deleted && h('span', { class: 'edited' }, '(edited)'),
      message.reply_count > 0 && h('span', { class: 'replies' }, `${message.reply_count} replies`),
      message.failed &&
        h(
          'p',
          { class: 'failed', role: 'alert' },
          `Not sent: ${message.failed} `,
          h('button', { type: 'button', onclick: () => this.send(message.content, message.client_msg_id) }, 'Retry'),
        ),
    );
  }

  makeComposer() {
    const box = h('textarea', {
      name: 'content',
      rows: 1,
      'aria-label': 'Message',
      placeholder: 'Write a message',
    });
    box.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        const text = box.value;
        if (text.trim()) {
          box.value = '';
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
    );
  }

  /**
   * Show the message at once, then as the server saved it.
   * @param {string} content
   * @param {string} [clientId] the id of an earlier attempt, to retry it
   */
  async send(content, clientId = crypto.randomUUID()) {
    const channelId = this.channelId;
    const pendingId = `pending-${clientId}`;
    this.messages.set(pendingId, {
      id: `~${pendingId}`,
      user_id: this.user.id,
      content,
      client_msg_id: clientId,
      created_at: new Date().toISOString(),
      pending: true,
    });
    this.draw();
    try {
      const saved = await api.post(`/channels/${channelId}/messages`, { content, client_msg_id: clientId });
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

  markRead(messageId) {
    const newest = messageId || [...this.messages.keys()].filter((id) => !id.startsWith('pending')).sort().pop();
    this.unread.delete(this.channelId);
    if (newest) api.post(`/channels/${this.channelId}/read`, { message_id: newest }).catch(() => {});
  }

  onEvent(event) {
    const message = event.message;
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
    for (const [key, shown] of this.messages) {
      if (shown.pending && shown.client_msg_id && shown.client_msg_id === message.client_msg_id) {
        this.messages.delete(key);
      }
    }
    this.messages.set(message.id, message);
    if (!this.names.has(message.user_id)) this.learnNames();
    this.draw();
    if (event.type === 'message_created' && document.visibilityState === 'visible') this.markRead(message.id);
  }

  async learnNames() {
    const page = await api.get(`/channels/${this.channelId}/messages?limit=50`);
    for (const author of page.authors || []) this.names.set(author.user_id, author.display_name);
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
    this.gateway.stop();
    await api.post('/auth/logout').catch(() => {});
    this.navigate('/login');
  }

  close() {
    this.gateway.stop();
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

// Integrations and API tokens for the Slack-compatible Web API: admins add
// and remove bots, incoming and outgoing webhooks and slash commands, and
// say where a bot's events go; everyone makes and revokes tokens of their
// own. Secrets are shown once, when made.
// Loaded on first use.

import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { openDialog } from '../dialog.js';

/** The scopes offered when making a bot or a token (`groups:*` and the like
 * stand for each scope of the family). */
const SCOPES = 'chat:write, channels:read, channels:history, channels:join, users:read, reactions:write';

/**
 * A labelled input.
 * @param {string} id
 * @param {string} label
 * @param {Record<string, any>} attrs
 */
function field(id, label, attrs) {
  return h('p', { class: 'field' }, h('label', { for: id }, label), h('input', { id, ...attrs }));
}

/**
 * A labelled choice among `options` ([value, text] pairs).
 * @param {string} id
 * @param {string} label
 * @param {string} name
 * @param {[string, string][]} options
 */
function choice(id, label, name, options) {
  const select = h('select', { id, name, required: true }, ...options.map(([value, text]) => h('option', { value }, text)));
  return h('p', { class: 'field' }, h('label', { for: id }, label), select);
}

/** The events a bot may be sent. */
const EVENTS = 'message, app_mention';

/**
 * A secret shown once, with a button that copies it.
 * @param {string} label
 * @param {string} secret
 */
function shownOnce(label, secret) {
  return h(
    'div',
    { class: 'secret-once' },
    h('p', {}, `${label} (shown once: keep it now)`),
    h('code', { class: 'secret' }, secret),
    h('button', { type: 'button', onclick: () => navigator.clipboard?.writeText(secret) }, 'Copy'),
  );
}

/**
 * A form that calls `submit` with its values and shows what it answers.
 * @param {string} title
 * @param {Node[]} fields
 * @param {string} action
 * @param {(values: Record<string, string>) => Promise<Node[]>} submit
 */
function form(title, fields, action, submit) {
  const out = h('div', { class: 'form-status', role: 'status' });
  const slug = title.toLowerCase().replace(/\W+/g, '-');
  const box = /** @type {HTMLFormElement} */ (
    h('form', { class: `integration-form ${slug}`, 'aria-labelledby': `${slug}-title` }, h('h3', { id: `${slug}-title` }, title), ...fields, h('button', { type: 'submit', class: 'primary' }, action), out)
  );
  box.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      replace(out, ...(await submit(/** @type {Record<string, string>} */ (Object.fromEntries(new FormData(box))))));
      box.reset();
      out.scrollIntoView({ block: 'nearest' });
    } catch (error) {
      replace(out, h('p', { class: 'form-error' }, api.describe(error)));
    }
  });
  return box;
}

/** @param {string} text */
function scopes(text) {
  return text.split(/[\s,]+/).filter(Boolean);
}

/**
 * The workspace's integrations (admins), with a form to add each kind.
 * @param {string} workspaceId
 */
async function adminPart(workspaceId) {
  const list = h('ul', { class: 'integration-list' });
  const mine = await api.get(`/workspaces/${workspaceId}/channels`);
  const channels = mine.channels
    .map((c) => c.channel)
    .filter((c) => c.channel_type === 'public' || c.channel_type === 'private')
    .map((c) => /** @type {[string, string]} */ ([c.id, `#${c.name}`]));
  const botChoice = choice('events-bot', 'Bot', 'bot', []);
  const draw = async () => {
    const integrations = await api.get(`/workspaces/${workspaceId}/integrations`);
    const bots = integrations.filter((i) => i.type === 'bot' && i.status === 'active');
    replace(
      /** @type {HTMLElement} */ (botChoice.querySelector('select')),
      ...bots.map((b) => h('option', { value: b.id }, b.event_url ? `${b.name} (events to ${b.event_url})` : b.name)),
    );
    replace(
      list,
      ...integrations.map((i) =>
        h(
          'li',
          { 'data-integration': i.id },
          h('strong', {}, i.name),
          ` ${i.type.replace('_', ' ')} · ${i.status}`,
          i.event_url && ` · events to ${i.event_url}`,
          i.last_error && h('span', { class: 'form-error' }, ` · ${i.last_error}`),
          i.status !== 'revoked' &&
            h(
              'button',
              {
                type: 'button',
                class: 'revoke',
                'aria-label': `Remove ${i.name}`,
                onclick: async () => {
                  await api.del(`/integrations/${i.id}`);
                  await draw();
                },
              },
              'Remove',
            ),
        ),
      ),
    );
    if (integrations.length === 0) replace(list, h('li', {}, 'None yet.'));
  };
  await draw();
  const install = async (body) => {
    const made = await api.post(`/workspaces/${workspaceId}/integrations`, body);
    await draw();
    return [
      made.token && shownOnce('Bot token', made.token),
      made.url && shownOnce('Webhook URL', made.url),
      made.verification_token && shownOnce('Verification token', made.verification_token),
      made.signing_secret && shownOnce('Signing secret', made.signing_secret),
    ].filter(Boolean);
  };
  return h(
    'section',
    { class: 'integrations-admin', 'aria-labelledby': 'integrations-admin-title' },
    h('h2', { id: 'integrations-admin-title' }, 'Installed in this workspace'),
    list,
    form(
      'Add a bot',
      [field('bot-name', 'Name', { name: 'name', required: true, maxlength: 80 }), field('bot-scopes', 'Scopes', { name: 'scopes', value: SCOPES })],
      'Add the bot',
      (v) => install({ type: 'bot', name: v.name, scopes: scopes(v.scopes) }),
    ),
    form(
      'Send a bot\u2019s events',
      [
        botChoice,
        field('events-url', 'Request URL (it must answer Slack\u2019s url_verification)', { name: 'url', type: 'url', required: true }),
        field('events-kinds', 'Events', { name: 'events', value: EVENTS }),
      ],
      'Send them there',
      async (v) => {
        await api.put(`/integrations/${v.bot}/events`, { url: v.url, events: scopes(v.events) });
        await draw();
        return [h('p', {}, `Events go to ${v.url}.`)];
      },
    ),
    form(
      'Add an incoming webhook',
      [field('hook-name', 'Name', { name: 'name', required: true, maxlength: 80 }), choice('hook-channel', 'Posts in', 'channel_id', channels)],
      'Add the webhook',
      (v) => install({ type: 'incoming_webhook', name: v.name, channel_id: v.channel_id }),
    ),
    form(
      'Add an outgoing webhook',
      [
        field('outgoing-name', 'Name', { name: 'name', required: true, maxlength: 80 }),
        choice('outgoing-channel', 'Listens in', 'channel_id', channels),
        field('outgoing-url', 'URL it calls', { name: 'url', type: 'url', required: true }),
        field('outgoing-words', 'Trigger words (none: every message)', { name: 'trigger_words' }),
      ],
      'Add the webhook',
      (v) => install({ type: 'outgoing_webhook', name: v.name, channel_id: v.channel_id, url: v.url, trigger_words: scopes(v.trigger_words || '') }),
    ),
    form(
      'Add a slash command',
      [
        field('command-name', 'Name', { name: 'name', required: true, maxlength: 80 }),
        field('command-command', 'Command', { name: 'command', required: true, placeholder: '/deploy', pattern: '/[a-z0-9_-]{1,31}' }),
        field('command-url', 'URL it calls', { name: 'url', type: 'url', required: true }),
      ],
      'Add the command',
      (v) => install({ type: 'slash_command', name: v.name, command: v.command, url: v.url }),
    ),
  );
}

/**
 * The caller's own tokens, with a form to make one.
 * @param {string} workspaceId
 */
async function tokensPart(workspaceId) {
  const list = h('ul', { class: 'token-list' });
  const draw = async () => {
    const tokens = await api.get(`/workspaces/${workspaceId}/tokens`);
    replace(
      list,
      ...tokens.map((t) =>
        h(
          'li',
          { 'data-token': t.id },
          h('strong', {}, t.label),
          ` ${t.scopes.join(', ')}`,
          t.revoked_at
            ? ' · revoked'
            : h(
                'button',
                {
                  type: 'button',
                  class: 'revoke',
                  'aria-label': `Revoke the token ${t.label}`,
                  onclick: async () => {
                    await api.del(`/tokens/${t.id}`);
                    await draw();
                  },
                },
                'Revoke',
              ),
        ),
      ),
    );
    if (tokens.length === 0) replace(list, h('li', {}, 'None yet.'));
  };
  await draw();
  return h(
    'section',
    { class: 'tokens', 'aria-labelledby': 'tokens-title' },
    h('h2', { id: 'tokens-title' }, 'Your API tokens'),
    h('p', {}, 'For your own scripts, with Slack\u2019s SDKs: they act as you, in this workspace only.'),
    list,
    form(
      'Make a token',
      [field('token-label', 'What it is for', { name: 'label', required: true, maxlength: 100 }), field('token-scopes', 'Scopes', { name: 'scopes', value: SCOPES })],
      'Make the token',
      async (v) => {
        const made = await api.post(`/workspaces/${workspaceId}/tokens`, { label: v.label, scopes: scopes(v.scopes) });
        await draw();
        return [shownOnce('Your token', made.secret)];
      },
    ),
  );
}

/**
 * The integrations dialog.
 * @param {{workspace: any, membership: any}} context
 */
export async function showIntegrations(context) {
  const { workspace, membership } = context;
  const admin = membership.role === 'owner' || membership.role === 'admin';
  const parts = [await tokensPart(workspace.id)];
  if (admin) parts.unshift(await adminPart(workspace.id));
  openDialog('Integrations', [h('div', { class: 'integrations' }, ...parts)]);
}

// The workspace's people and settings: members with their roles (changed,
// deactivated and reactivated by admins), invitations, and the settings
// the API allows.

import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { openDialog } from '../dialog.js';

const ROLES = ['owner', 'admin', 'member', 'guest'];

/**
 * @typedef {object} WorkspaceContext
 * @property {any} workspace
 * @property {any} membership the caller's
 * @property {any} user the caller
 * @property {(userId: string) => string} presenceOf online, away or offline
 * @property {(workspace: any) => void} onWorkspace after the settings change
 */

/** Every member of `status`, page after page. */
async function allMembers(workspaceId, status) {
  const members = [];
  let cursor = '';
  do {
    const page = await api.get(`/workspaces/${workspaceId}/members?limit=200&status=${status}${cursor ? `&cursor=${cursor}` : ''}`);
    members.push(...page.members);
    cursor = page.next_cursor || '';
  } while (cursor);
  return members;
}

/**
 * The members dialog.
 * @param {WorkspaceContext} context
 */
export async function showMembers(context) {
  const { workspace, membership } = context;
  const admin = membership.role === 'owner' || membership.role === 'admin';
  const list = h('ul', { class: 'member-list' });
  const status = h('p', { class: 'form-status', role: 'status' });
  const draw = async () => {
    const [active, deactivated] = await Promise.all([
      allMembers(workspace.id, 'active'),
      admin ? allMembers(workspace.id, 'deactivated') : Promise.resolve([]),
    ]);
    replace(list, ...[...active, ...deactivated].map((m) => memberRow(m)));
  };
  const act = async (work, done) => {
    try {
      await work();
      status.textContent = done;
      await draw();
    } catch (error) {
      status.textContent = api.describe(error);
    }
  };
  const memberRow = (m) => {
    const presence = m.status === 'active' ? context.presenceOf(m.user_id) : 'offline';
    const itsMe = m.user_id === context.user.id;
    const manage = admin && !itsMe && m.role !== 'owner';
    const roleLabel = `Role of ${m.display_name}`;
    return h(
      'li',
      { 'data-username': m.username, class: m.status === 'active' ? '' : 'deactivated' },
      h('span', { class: `presence-dot ${presence}`, title: presence, 'aria-label': presence, role: 'img' }),
      h('span', { class: 'member-name' }, m.display_name, h('span', { class: 'username' }, ` @${m.username}`)),
      manage && m.status === 'active'
        ? h(
            'select',
            {
              class: 'role',
              'aria-label': roleLabel,
              onchange: (event) =>
                act(() => api.patch(`/workspaces/${workspace.id}/members/${m.user_id}`, { role: event.target.value }), `${m.display_name} is now ${event.target.value}.`),
            },
            ...ROLES.filter((r) => r !== 'owner' || membership.role === 'owner').map((r) => h('option', { value: r, selected: r === m.role }, r)),
          )
        : h('span', { class: 'role' }, m.status === 'active' ? m.role : `${m.role}, deactivated`),
      manage &&
        h(
          'button',
          {
            type: 'button',
            class: m.status === 'active' ? 'deactivate' : 'reactivate',
            onclick: () =>
              m.status === 'active'
                ? act(() => api.post(`/workspaces/${workspace.id}/members/${m.user_id}/deactivate`), `${m.display_name} is deactivated.`)
                : act(() => api.post(`/workspaces/${workspace.id}/members/${m.user_id}/reactivate`), `${m.display_name} is back.`),
          },
          m.status === 'active' ? 'Deactivate' : 'Reactivate',
        ),
    );
  };
  await draw();
  openDialog('Members', [status, list, membership.role === 'guest' ? null : inviteForm(workspace.id, admin)].filter(Boolean));
}

/** Invite by e-mail, or make a link to share. */
function inviteForm(workspaceId, admin) {
  const result = h('p', { class: 'form-status invite-result', role: 'status' });
  const form = h(
    'form',
    { class: 'invite-form', 'aria-labelledby': 'invite-title' },
    h('h3', { id: 'invite-title' }, 'Invite people'),
    h('label', { for: 'invite-email' }, 'E-mail address (leave empty for a link to share)'),
    h('input', { id: 'invite-email', name: 'email', type: 'email', autocomplete: 'off' }),
    h('label', { for: 'invite-role' }, 'As'),
    h(
      'select',
      { id: 'invite-role', name: 'role' },
      ...(admin ? ['member', 'guest', 'admin'] : ['member', 'guest']).map((r) => h('option', { value: r }, r)),
    ),
    h('button', { type: 'submit', class: 'primary' }, 'Invite'),
    result,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form));
    const body = values.email ? { email: values.email, role: values.role } : { role: values.role };
    try {
      const invitation = await api.post(`/workspaces/${workspaceId}/invitations`, body);
      const link = `${location.origin}/invite/${invitation.token}`;
      let said = 'Share this link: ';
      if (values.email) {
        said = invitation.mailed
          ? `Invitation sent to ${values.email}. Its link, to share another way: `
          : `The mail to ${values.email} could not be sent: share this link instead: `;
      }
      replace(result, said, h('input', { class: 'invite-link', readonly: true, value: link, 'aria-label': 'Invitation link' }));
    } catch (error) {
      replace(result, api.describe(error));
    }
  });
  return form;
}

/**
 * The workspace settings dialog (admins; the owner also sets the
 * two-factor rule).
 * @param {WorkspaceContext} context
 */
export function showWorkspaceSettings(context) {
  const { workspace, membership } = context;
  const status = h('p', { class: 'form-status', role: 'status' });
  const retention = workspace.settings && workspace.settings.retention_days;
  const form = h(
    'form',
    { class: 'workspace-settings' },
    h('label', { for: 'ws-name' }, 'Name'),
    h('input', { id: 'ws-name', name: 'name', required: true, maxlength: 200, value: workspace.name }),
    h('label', { for: 'ws-description' }, 'Description'),
    h('textarea', { id: 'ws-description', name: 'description', rows: 2, maxlength: 2000 }, workspace.description || ''),
    h('label', { for: 'ws-retention' }, 'Keep messages for (days; empty keeps them forever)'),
    h('input', { id: 'ws-retention', name: 'retention_days', type: 'number', min: 1, max: 36500, value: retention ?? '' }),
    membership.role === 'owner' &&
      h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'require_2fa', checked: workspace.require_2fa }), ' Members must use two-factor login'),
    h('button', { type: 'submit', class: 'primary' }, 'Save'),
    status,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form));
    const settings = { ...(workspace.settings || {}) };
    if (values.retention_days) settings.retention_days = Number(values.retention_days);
    else delete settings.retention_days;
    const body = { name: values.name, description: values.description || null, settings };
    if (membership.role === 'owner') body.require_2fa = values.require_2fa === 'on';
    try {
      const saved = await api.patch(`/workspaces/${workspace.id}`, body);
      context.onWorkspace(saved.workspace);
      status.textContent = 'Saved.';
    } catch (error) {
      status.textContent = api.describe(error);
    }
  });
  openDialog('Workspace settings', [form]);
}

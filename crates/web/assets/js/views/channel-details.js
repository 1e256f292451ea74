// A channel's details: topic and purpose, its members (and adding people
// to it), leaving, archiving and unarchiving.

import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { openDialog } from '../dialog.js';

/**
 * @typedef {object} ChannelContext
 * @property {any} channel
 * @property {any[]} members the workspace's active members
 * @property {(userId: string) => string} nameOf
 * @property {(channel: any) => void} onChanged after an update
 * @property {() => void} onLeft after leaving
 */

const isConversation = (channel) => channel.channel_type === 'direct' || channel.channel_type === 'group';

/**
 * The details dialog of a channel.
 * @param {ChannelContext} context
 */
export async function showChannelDetails(context) {
  let { channel } = context;
  const status = h('p', { class: 'form-status', role: 'status' });
  const act = async (work, done) => {
    try {
      const answer = await work();
      status.textContent = done;
      return answer;
    } catch (error) {
      status.textContent = api.describe(error);
      return null;
    }
  };
  const about = h(
    'form',
    { class: 'channel-about' },
    h('label', { for: 'channel-topic' }, 'Topic'),
    h('input', { id: 'channel-topic', name: 'topic', maxlength: 250, value: channel.topic || '', disabled: channel.is_archived }),
    h('label', { for: 'channel-purpose' }, 'Purpose'),
    h('input', { id: 'channel-purpose', name: 'purpose', maxlength: 250, value: channel.purpose || '', disabled: channel.is_archived }),
    !channel.is_archived && h('button', { type: 'submit', class: 'primary' }, 'Save'),
  );
  about.addEventListener('submit', async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(about));
    const saved = await act(
      () => api.patch(`/channels/${channel.id}`, { topic: values.topic || null, purpose: values.purpose || null }),
      'Saved.',
    );
    if (saved) {
      channel = saved;
      context.onChanged(saved);
    }
  });
  const memberList = h('ul', { class: 'channel-members' });
  const drawMembers = async () => {
    const page = await api.get(`/channels/${channel.id}/members?limit=200`);
    replace(memberList, ...page.members.map((m) => h('li', {}, m.display_name || context.nameOf(m.user_id))));
    return page.members.map((m) => m.user_id);
  };
  const inChannel = new Set(await drawMembers());
  const add = h(
    'form',
    { class: 'add-people' },
    h('label', { for: 'add-person' }, 'Add someone'),
    h(
      'select',
      { id: 'add-person', name: 'user' },
      ...context.members
        .filter((m) => !inChannel.has(m.user_id))
        .map((m) => h('option', { value: m.user_id }, `${m.display_name} (@${m.username})`)),
    ),
    h('button', { type: 'submit' }, 'Add'),
  );
  add.addEventListener('submit', async (event) => {
    event.preventDefault();
    const user = new FormData(add).get('user');
    if (!user) return;
    await act(() => api.post(`/channels/${channel.id}/members`, { user_id: user }), 'Added.');
    await drawMembers();
  });
  const conversation = isConversation(channel);
  const leave = h(
    'button',
    {
      type: 'button',
      class: 'leave-channel',
      onclick: async () => {
        const left = await act(() => api.post(`/channels/${channel.id}/leave`).then(() => true), '');
        if (left) {
          dialog.remove();
          context.onLeft();
        }
      },
    },
    'Leave',
  );
  const archive = h(
    'button',
    {
      type: 'button',
      class: channel.is_archived ? 'unarchive-channel' : 'archive-channel',
      onclick: async () => {
        const verb = channel.is_archived ? 'unarchive' : 'archive';
        const saved = await act(() => api.post(`/channels/${channel.id}/${verb}`), `${verb === 'archive' ? 'Archived' : 'Unarchived'}.`);
        if (saved) {
          dialog.remove();
          context.onChanged(saved);
        }
      },
    },
    channel.is_archived ? 'Unarchive' : 'Archive',
  );
  const dialog = openDialog('Channel details', [
    status,
    !conversation && about,
    h('h3', {}, 'Members'),
    memberList,
    channel.channel_type === 'private' && !channel.is_archived && add,
    h(
      'p',
      { class: 'dialog-actions' },
      !channel.is_general && channel.channel_type !== 'direct' && leave,
      !channel.is_general && !conversation && archive,
    ),
  ].filter(Boolean));
}

// Slack's Node SDK (@slack/web-api) against a Confab server: its calls,
// its `paginate` iterator, files.uploadV2 and its rate-limit error. Run by
// the `slack_sdks` test, which starts the server and passes its address and
// tokens in the environment. Exits non-zero on the first difference.
'use strict';

const assert = require('node:assert/strict');
const { WebClient } = require('@slack/web-api');

const options = { slackApiUrl: process.env.CONFAB_API, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true };
const bot = new WebClient(process.env.CONFAB_BOT_TOKEN, options);
const person = new WebClient(process.env.CONFAB_USER_TOKEN, options);
const narrow = new WebClient(process.env.CONFAB_NARROW_TOKEN, options);

async function fails(code, call) {
  try {
    await call();
  } catch (error) {
    assert.equal(error.data && error.data.error, code, String(error));
    return error.data;
  }
  throw new Error(`expected ${code}`);
}

async function all(client, method, args, key) {
  const items = [];
  for await (const page of client.paginate(method, args)) items.push(...page[key]);
  return items;
}

async function main() {
  const me = await bot.auth.test();
  assert.ok(me.user_id.startsWith('U') && me.bot_id.startsWith('B'));
  const owner = await person.auth.test();
  await fails('invalid_auth', () => new WebClient('xoxp-not-a-token', options).auth.test());

  await person.conversations.create({ name: 'node-room' });
  const channels = await all(person, 'conversations.list', { limit: 1 }, 'channels');
  assert.deepEqual(channels.map((c) => c.name).sort(), ['general', 'node-room']);
  const general = channels.find((c) => c.name === 'general').id;

  await fails('not_in_channel', () => bot.chat.postMessage({ channel: general, text: 'hi' }));
  await bot.conversations.join({ channel: general });
  const stamps = [];
  for (let i = 0; i < 5; i += 1) stamps.push((await bot.chat.postMessage({ channel: general, text: `node ${i}` })).ts);
  const history = await all(bot, 'conversations.history', { channel: general, limit: 2 }, 'messages');
  // Before them, the channel says who joined (the bot, the webhook's bot).
  assert.deepEqual(history.filter((m) => m.subtype !== 'channel_join').map((m) => m.ts), [...stamps].reverse());
  assert.deepEqual(history.slice(stamps.length).map((m) => m.subtype), ['channel_join', 'channel_join']);

  const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '*node blocks*' } }];
  const posted = await bot.chat.postMessage({ channel: general, blocks, text: 'node blocks' });
  assert.deepEqual(posted.message.blocks, blocks);
  await bot.chat.postMessage({ channel: general, thread_ts: stamps[0], text: 'node reply' });
  const thread = await bot.conversations.replies({ channel: general, ts: stamps[0] });
  assert.deepEqual(thread.messages.map((m) => m.text), ['node 0', 'node reply']);
  const updated = await bot.chat.update({ channel: general, ts: stamps[1], text: 'node edited' });
  assert.equal(updated.message.text, 'node edited');
  await bot.chat.delete({ channel: general, ts: stamps[2] });

  await bot.reactions.add({ channel: general, timestamp: stamps[3], name: 'eyes' });
  await fails('already_reacted', () => bot.reactions.add({ channel: general, timestamp: stamps[3], name: 'eyes' }));
  await bot.pins.add({ channel: general, timestamp: stamps[4] });
  assert.equal((await bot.pins.list({ channel: general })).items.length, 1);

  const people = await all(bot, 'users.list', { limit: 1 }, 'members');
  assert.ok(people.some((u) => u.id === owner.user_id));
  assert.equal((await bot.users.info({ user: me.user_id })).user.is_bot, true);

  const uploaded = await bot.filesUploadV2({
    channel_id: general,
    content: 'node file content',
    filename: 'node.txt',
    title: 'Node',
    initial_comment: 'from node',
  });
  const file = uploaded.files[0].files[0];
  assert.ok(file.id.startsWith('F'));
  assert.equal((await bot.files.info({ file: file.id })).file.name, 'node.txt');

  const denied = await fails('missing_scope', () => narrow.conversations.history({ channel: general }));
  assert.equal(denied.needed, 'channels:history');
  await fails('channel_not_found', () => bot.chat.postMessage({ channel: 'C024BE91L', text: 'x' }));

  let limited = null;
  for (let i = 0; i < 100 && !limited; i += 1) {
    try {
      await person.chat.postMessage({ channel: general, text: `node flood ${i}` });
    } catch (error) {
      limited = error;
    }
  }
  assert.ok(limited, 'never rate limited');
  assert.equal(limited.code, 'slack_webapi_rate_limited_error', String(limited));
  assert.ok(limited.retryAfter >= 1);

  assert.equal((await bot.auth.revoke()).revoked, true);
  await fails('token_revoked', () => bot.auth.test());
  console.log('@slack/web-api: every check passed');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

"""Slack's Python SDK (slack_sdk) against a Confab server: every Web API
method Confab answers, through the SDK's own calls, pagination iterators and
files v2 upload, the rate-limit retry handler and request signatures. Run by the `slack_sdks` test, which starts the server and
passes its address and tokens in the environment. Exits non-zero on the
first difference."""

import http.server
import json
import os
import queue
import threading
import time
import urllib.error
import urllib.request

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

API = os.environ["CONFAB_API"]
bot = WebClient(token=os.environ["CONFAB_BOT_TOKEN"], base_url=API)
person = WebClient(token=os.environ["CONFAB_USER_TOKEN"], base_url=API)
narrow = WebClient(token=os.environ["CONFAB_NARROW_TOKEN"], base_url=API)
OWNER_EMAIL = os.environ["CONFAB_OWNER_EMAIL"]


def fails(code, call, **kwargs):
    """The call is refused with Slack error `code`; its response."""
    try:
        call(**kwargs)
    except SlackApiError as refused:
        assert refused.response["error"] == code, (code, refused.response.data)
        return refused.response
    raise AssertionError(f"expected {code} from {call.__name__}")


# api.test and auth.test
assert bot.api_test(foo="bar")["args"]["foo"] == "bar"
me = bot.auth_test()
assert me["user_id"].startswith("U") and me["bot_id"].startswith("B"), me.data
owner = person.auth_test()
assert owner["team_id"] == me["team_id"]
fails("invalid_auth", WebClient(token="xoxb-not-a-token", base_url=API).auth_test)

# Channels, listed through the SDK's cursor iterator one at a time.
room = person.conversations_create(name="sdk-room")["channel"]["id"]
listed = [
    c["name"]
    for page in person.conversations_list(limit=1, types="public_channel")
    for c in page["channels"]
]
assert sorted(listed) == ["general", "sdk-room"], listed
general = next(
    c["id"] for c in person.conversations_list()["channels"] if c["name"] == "general"
)

# A bot posts only where it was added.
fails("not_in_channel", bot.chat_postMessage, channel=general, text="hi")
assert bot.conversations_join(channel=general)["channel"]["id"] == general
stamps = [bot.chat_postMessage(channel=general, text=f"sdk {i}")["ts"] for i in range(5)]
assert stamps == sorted(stamps) and len(set(stamps)) == 5, stamps
seen = [
    (m["ts"], m.get("subtype"))
    for page in bot.conversations_history(channel=general, limit=2)
    for m in page["messages"]
]
# Before them, the channel says who joined (the bot, the webhook's bot).
assert [ts for ts, sub in seen if sub != "channel_join"] == list(reversed(stamps)), seen
assert [sub for _, sub in seen[len(stamps):]] == ["channel_join", "channel_join"], seen

blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*sdk blocks*"}}]
posted = bot.chat_postMessage(channel=general, blocks=blocks, text="sdk blocks")
assert posted["message"]["blocks"] == blocks, posted.data
assert posted["message"]["subtype"] == "bot_message"

for i in range(3):
    bot.chat_postMessage(channel=general, thread_ts=stamps[0], text=f"reply {i}")
thread = [
    m["text"]
    for page in bot.conversations_replies(channel=general, ts=stamps[0], limit=2)
    for m in page["messages"]
]
assert thread == ["sdk 0", "reply 0", "reply 1", "reply 2"], thread
# A reply also sent to the channel is in the history too.
loud = bot.chat_postMessage(channel=general, thread_ts=stamps[0], text="to all", reply_broadcast=True)
assert loud["message"]["subtype"] == "thread_broadcast", loud.data
top = bot.conversations_history(channel=general, limit=1)["messages"][0]
assert (top["ts"], top["thread_ts"], top["subtype"]) == (loud["ts"], stamps[0], "thread_broadcast"), top

updated = bot.chat_update(channel=general, ts=stamps[1], text="sdk edited")
assert updated["text"] == "sdk edited" and "edited" in updated["message"]
link = bot.chat_getPermalink(channel=general, message_ts=stamps[1])["permalink"]
assert "/m/" in link, link
bot.chat_delete(channel=general, ts=stamps[2])
fails("message_not_found", bot.chat_update, channel=general, ts=stamps[2], text="x")
bot.chat_meMessage(channel=general, text="waves")

# Reactions and pins.
bot.reactions_add(channel=general, timestamp=stamps[3], name="tada")
fails("already_reacted", bot.reactions_add, channel=general, timestamp=stamps[3], name="tada")
got = bot.reactions_get(channel=general, timestamp=stamps[3])["message"]["reactions"]
assert got == [{"name": "tada", "users": [me["user_id"]], "count": 1}], got
bot.reactions_remove(channel=general, timestamp=stamps[3], name="tada")
fails("no_reaction", bot.reactions_remove, channel=general, timestamp=stamps[3], name="tada")
# What the bot reacted to, latest first, through the SDK's cursor iterator;
# others list it by naming the bot.
bot.reactions_add(channel=general, timestamp=stamps[1], name="eyes")
bot.reactions_add(channel=general, timestamp=stamps[4], name="eyes")
listed = [i["message"]["ts"] for page in bot.reactions_list(limit=1) for i in page["items"]]
assert listed == [stamps[4], stamps[1]], listed
named = person.reactions_list(user=me["user_id"])["items"]
assert [(i["channel"], i["message"]["ts"]) for i in named] == [(general, stamps[4]), (general, stamps[1])]
bot.pins_add(channel=general, timestamp=stamps[4])
fails("already_pinned", bot.pins_add, channel=general, timestamp=stamps[4])
assert [i["message"]["ts"] for i in bot.pins_list(channel=general)["items"]] == [stamps[4]]
bot.pins_remove(channel=general, timestamp=stamps[4])
fails("no_pin", bot.pins_remove, channel=general, timestamp=stamps[4])

# People.
people = [u for page in bot.users_list(limit=1) for u in page["members"]]
assert {me["user_id"], owner["user_id"]} <= {u["id"] for u in people}, people
assert bot.users_info(user=me["user_id"])["user"]["is_bot"] is True
assert person.users_lookupByEmail(email=OWNER_EMAIL)["user"]["id"] == owner["user_id"]
fails("users_not_found", person.users_lookupByEmail, email="nobody@example.test")
person.users_profile_set(profile={"title": "SDK tester"})
assert person.users_profile_get()["profile"]["title"] == "SDK tester"
person.users_setPresence(presence="away")
assert person.users_getPresence(user=owner["user_id"])["presence"] == "away"
assert bot.team_info()["team"]["id"] == me["team_id"]
assert bot.emoji_list()["emoji"] == {}

# Managing a channel with a person's token.
person.conversations_setTopic(channel=room, topic="the topic")
person.conversations_setPurpose(channel=room, purpose="the purpose")
renamed = person.conversations_rename(channel=room, name="sdk-renamed")["channel"]
assert renamed["name"] == "sdk-renamed" and renamed["topic"]["value"] == "the topic"
person.conversations_invite(channel=room, users=me["user_id"])
members = [m for page in person.conversations_members(channel=room, limit=1) for m in page["members"]]
assert sorted(members) == sorted([owner["user_id"], me["user_id"]]), members
person.conversations_kick(channel=room, user=me["user_id"])
# The channel tells what happened in it, in Slack's subtypes.
told = [
    (m["subtype"], m["text"])
    for m in person.conversations_history(channel=room)["messages"]
]
assert told == [
    ("channel_leave", f"<@{me['user_id']}> has left the channel"),
    ("channel_join", f"<@{me['user_id']}> has joined the channel"),
    ("channel_purpose", f"<@{owner['user_id']}> set the channel purpose: the purpose"),
    ("channel_topic", f"<@{owner['user_id']}> set the channel topic: the topic"),
], told
info = person.conversations_info(channel=room)["channel"]
assert info["is_member"] is True and info["purpose"]["value"] == "the purpose"
person.conversations_archive(channel=room)
fails("is_archived", person.chat_postMessage, channel=room, text="too late")
person.conversations_unarchive(channel=room)
direct = person.conversations_open(users=me["user_id"])["channel"]["id"]
assert direct.startswith("D"), direct
person.chat_postMessage(channel=direct, text="just us")
person.conversations_mark(channel=general, ts=stamps[4])

# Files v2: upload URL, raw bytes, completion shared in a channel.
uploaded = bot.files_upload_v2(
    channel=general,
    content="quarterly numbers in a text file",
    filename="notes.txt",
    title="Notes",
    initial_comment="the notes",
)
file_id = uploaded["file"]["id"]
assert file_id.startswith("F") and uploaded["file"]["name"] == "notes.txt", uploaded.data
assert bot.files_info(file=file_id)["file"]["size"] == len("quarterly numbers in a text file")
shared = bot.conversations_history(channel=general, limit=1)["messages"][0]
assert shared["text"] == "the notes" and shared["subtype"] == "file_share", shared
assert [f["id"] for f in shared["files"]] == [file_id], shared
assert [f["id"] for f in bot.files_list(channel=general)["files"]] == [file_id]


def download(url, token):
    """The bytes at `url` fetched with `token`, as bots fetch url_private."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request) as answer:
        return answer.read()


private = uploaded["file"]["url_private"]
assert download(private, os.environ["CONFAB_BOT_TOKEN"]) == b"quarterly numbers in a text file"
try:
    download(private, os.environ["CONFAB_NARROW_TOKEN"])
    raise AssertionError("a token without files:read downloaded a file")
except urllib.error.HTTPError as refused:
    assert refused.code == 403, refused.code

# Search acts as a person; the index catches up within seconds.
fails("not_allowed_token_type", bot.search_messages, query="sdk")
deadline = time.time() + 20
while True:
    found = person.search_messages(query="edited")["messages"]
    if found["total"] >= 1:
        break
    assert time.time() < deadline, found
    time.sleep(0.2)
assert found["matches"][0]["ts"] == stamps[1], found
while person.search_files(query="notes")["files"]["total"] < 1:
    assert time.time() < deadline
    time.sleep(0.2)
both = person.search_all(query="notes")
assert "messages" in both and "files" in both
bot.files_delete(file=file_id)
fails("file_not_found", bot.files_info, file=file_id)

# Scopes and bad input.
refused = fails("missing_scope", narrow.conversations_history, channel=general)
assert refused["needed"] == "channels:history", refused.data
fails("channel_not_found", bot.chat_postMessage, channel="C024BE91L", text="x")
fails("invalid_ts", bot.chat_update, channel=general, ts="not-a-ts", text="x")
assert bot.chat_postEphemeral(channel=general, user=owner["user_id"], text="only you")["message_ts"]
fails("user_not_in_channel", bot.chat_postEphemeral, channel=general, user="U024BE7LH", text="x")

# The message rate limit is a 429 with Retry-After, as Slack's.
for i in range(100):
    try:
        person.chat_postMessage(channel=general, text=f"flood {i}")
    except SlackApiError as limited:
        assert limited.response.status_code == 429, limited.response.status_code
        assert limited.response["error"] == "ratelimited"
        assert int(limited.response.headers["Retry-After"]) >= 1
        break
else:
    raise AssertionError("never rate limited")


class CountedRetries(RateLimitErrorRetryHandler):
    """The SDK's rate-limit handler, counting the retries it makes."""

    retries = 0

    def prepare_for_next_attempt(self, **kwargs):
        CountedRetries.retries += 1
        super().prepare_for_next_attempt(**kwargs)


# The SDK's retry handler waits as long as Retry-After says; the retry
# goes through.
patient = WebClient(
    token=os.environ["CONFAB_USER_TOKEN"],
    base_url=API,
    retry_handlers=[CountedRetries(max_retry_count=1)],
)
assert patient.chat_postMessage(channel=general, text="after the wait")["ok"]
assert CountedRetries.retries == 1, CountedRetries.retries

# Events reach a request URL signed as Slack signs them: the SDK's
# SignatureVerifier accepts them, and refuses a body changed on the way.
verifier = SignatureVerifier(os.environ["CONFAB_SIGNING_SECRET"])
received = queue.Queue()


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {k.lower(): v for k, v in self.headers.items()}
        payload = json.loads(body)
        answer = json.dumps({"challenge": payload.get("challenge", "")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        received.put((body, headers, payload))

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()
request = urllib.request.Request(
    f"{os.environ['CONFAB_REST']}/integrations/{os.environ['CONFAB_BOT_INTEGRATION']}/events",
    data=json.dumps({"url": f"http://127.0.0.1:{server.server_port}/events", "events": ["message"]}).encode(),
    headers={"Authorization": f"Bearer {os.environ['CONFAB_SESSION']}", "Content-Type": "application/json"},
    method="PUT",
)
urllib.request.urlopen(request).read()
person.chat_postMessage(channel=general, text="heard by the receiver")
deadline = time.time() + 30
while True:
    body, headers, payload = received.get(timeout=max(deadline - time.time(), 0.1))
    if payload.get("type") == "event_callback" and payload["event"]["text"] == "heard by the receiver":
        break
stamp, signature = headers["x-slack-request-timestamp"], headers["x-slack-signature"]
assert verifier.is_valid(body=body, timestamp=stamp, signature=signature)
assert verifier.is_valid_request(body, headers)
assert not verifier.is_valid(body=body.replace(b"receiver", b"intruder"), timestamp=stamp, signature=signature)
server.shutdown()

# Incoming webhooks through the SDK's WebhookClient.
hook = WebhookClient(os.environ["CONFAB_WEBHOOK_URL"])
sent = hook.send(text="from the webhook client", blocks=blocks)
assert (sent.status_code, sent.body) == (200, "ok"), (sent.status_code, sent.body)
last = bot.conversations_history(channel=general, limit=1)["messages"][0]
assert last["text"] == "from the webhook client" and last["blocks"] == blocks, last
refused = WebhookClient(os.environ["CONFAB_WEBHOOK_URL"] + "x").send(text="x")
assert (refused.status_code, refused.body) == (404, "no_service")

# Revoking: the token stops working at once.
assert bot.auth_revoke()["revoked"] is True
fails("token_revoked", bot.auth_test)
print("slack_sdk: every check passed")

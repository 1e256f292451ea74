//! The Slack-compatible Web API over HTTP: bots and personal tokens, the
//! argument encodings Slack's clients use, Slack's ids, stamps, errors and
//! pagination, and who may see what through a token.

use reqwest::StatusCode;
use serde_json::{json, Value};

use confab_core::id::{ChannelId, UserId};
use confab_core::slack::{encode, SlackKind};

use crate::app::{test_options, TestApp};
use crate::receiver::{Answer, Received, Receiver};

/// The Web API cases, one test each, run through `$harness`.
#[macro_export]
macro_rules! slack_conformance {
    ($harness:path $(, #[$attr:meta])*) => {
        $crate::__conformance_cases!(slack_suite, 2, $harness, [$(#[$attr])*],
            bots_post_read_and_page_like_slack_clients_expect,
            tokens_are_checked_scoped_and_revocable,
            bad_web_api_input_gets_slack_errors_and_changes_nothing,
            incoming_webhooks_post_into_their_channel_until_removed,
            events_reach_bots_signed_in_order_and_retried,
            slash_commands_call_their_url_and_answer_as_it_says,
            outgoing_webhooks_call_on_their_words_and_post_the_answer,
        );
    };
}

/// A workspace with its owner's session, a bot installed with `scopes`
/// and its token.
struct World {
    owner: String,
    workspace: String,
    general: String,
    bot_token: String,
    bot_user: String,
    /// The bot's integration, and the secret its events are signed with.
    integration: String,
    signing_secret: String,
}

async fn world(app: &TestApp, scopes: &[&str]) -> World {
    let owner = app.user("owner").await;
    let workspace = app.workspace(&owner, "Acme").await;
    let general = app.general_channel(&owner, &workspace).await;
    let installed = app
        .post(
            &format!("/api/v1/workspaces/{workspace}/integrations"),
            Some(&owner),
            json!({"type": "bot", "name": "Deploy Bot", "scopes": scopes}),
        )
        .await;
    assert_eq!(installed.status, StatusCode::CREATED, "{installed:?}");
    let bot_token = installed.body["token"].as_str().unwrap().to_owned();
    assert!(bot_token.starts_with("xoxb-"));
    let bot_user = installed.body["integration"]["bot_user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    World {
        owner,
        workspace,
        general,
        bot_token,
        bot_user,
        integration: installed.body["integration"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        signing_secret: installed.body["signing_secret"]
            .as_str()
            .unwrap()
            .to_owned(),
    }
}

/// Call a Web API method with a JSON body and a bearer token.
async fn slack(app: &TestApp, method: &str, token: &str, args: Value) -> Value {
    let reply = app.post(&format!("/api/{method}"), Some(token), args).await;
    assert_eq!(reply.status, StatusCode::OK, "{method}: {reply:?}");
    reply.body
}

fn ok(answer: &Value) {
    assert_eq!(answer["ok"], json!(true), "{answer}");
}

fn error(answer: &Value) -> &str {
    assert_eq!(answer["ok"], json!(false), "{answer}");
    answer["error"].as_str().unwrap()
}

/// The Slack id of the channel named `name`, as `token` lists it.
async fn slack_channel(app: &TestApp, token: &str, name: &str) -> String {
    let listed = slack(app, "conversations.list", token, json!({})).await;
    ok(&listed);
    listed["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == json!(name))
        .unwrap_or_else(|| panic!("{name} in {listed}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub async fn bots_post_read_and_page_like_slack_clients_expect(app: TestApp) {
    let w = world(
        &app,
        &[
            "chat:write",
            "channels:read",
            "channels:history",
            "channels:join",
            "reactions:*",
            "pins:*",
            "users:read",
            "team:read",
        ],
    )
    .await;
    let bot = &w.bot_token;
    let who = slack(&app, "auth.test", bot, json!({})).await;
    ok(&who);
    assert!(who["user_id"].as_str().unwrap().starts_with('U'));
    assert!(who["team_id"].as_str().unwrap().starts_with('T'));
    assert!(who["bot_id"].as_str().unwrap().starts_with('B'));
    let general = slack_channel(&app, bot, "general").await;
    assert!(general.starts_with('C'), "{general}");

    // A bot reads and posts only where it was added.
    let history = slack(
        &app,
        "conversations.history",
        bot,
        json!({"channel": general}),
    )
    .await;
    assert_eq!(error(&history), "not_in_channel");
    let refused = slack(
        &app,
        "chat.postMessage",
        bot,
        json!({"channel": general, "text": "hi"}),
    )
    .await;
    assert_eq!(error(&refused), "not_in_channel");
    ok(&slack(&app, "conversations.join", bot, json!({"channel": general})).await);

    // Posts: each stamp is unique, increasing, and finds its message.
    let mut stamps = Vec::new();
    for i in 0..7 {
        let posted = slack(
            &app,
            "chat.postMessage",
            bot,
            json!({"channel": general, "text": format!("deploy {i}")}),
        )
        .await;
        ok(&posted);
        assert_eq!(posted["channel"], json!(general));
        assert_eq!(posted["message"]["text"], json!(format!("deploy {i}")));
        assert_eq!(posted["message"]["subtype"], json!("bot_message"));
        assert_eq!(posted["message"]["ts"], posted["ts"]);
        stamps.push(posted["ts"].as_str().unwrap().to_owned());
    }
    let as_number = |ts: &str| ts.replace('.', "").parse::<u64>().unwrap();
    assert!(
        stamps
            .windows(2)
            .all(|p| as_number(&p[0]) < as_number(&p[1])),
        "{stamps:?}"
    );
    assert!(stamps
        .iter()
        .all(|ts| ts.len() == 17 && ts.as_bytes()[10] == b'.'));

    // History: newest first, paged with the cursor, `has_more` exact.
    let mut seen = Vec::new();
    let mut joined = json!(null);
    let mut cursor = String::new();
    loop {
        let page = slack(
            &app,
            "conversations.history",
            bot,
            json!({"channel": general, "limit": 3, "cursor": cursor}),
        )
        .await;
        ok(&page);
        for m in page["messages"].as_array().unwrap() {
            seen.push(m["ts"].as_str().unwrap().to_owned());
            joined = m.clone();
        }
        cursor = page["response_metadata"]["next_cursor"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(page["has_more"], json!(!cursor.is_empty()));
        if cursor.is_empty() {
            break;
        }
    }
    let mut newest_first = stamps.clone();
    newest_first.reverse();
    // The oldest says the bot joined, as Slack writes it.
    assert_eq!(joined["subtype"], json!("channel_join"), "{joined}");
    assert_eq!(
        joined["text"],
        json!(format!(
            "<@{}> has joined the channel",
            who["user_id"].as_str().unwrap()
        ))
    );
    assert_eq!(seen[..seen.len() - 1], newest_first[..]);
    // `latest` and `oldest` bound by stamp; `inclusive` keeps the ends.
    let window = slack(
        &app,
        "conversations.history",
        bot,
        json!({"channel": general, "latest": stamps[5], "oldest": stamps[2]}),
    )
    .await;
    let texts: Vec<&str> = window["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["deploy 4", "deploy 3"]);
    let window = slack(
        &app,
        "conversations.history",
        bot,
        json!({"channel": general, "latest": stamps[5], "oldest": stamps[2], "inclusive": "1"}),
    )
    .await;
    assert_eq!(window["messages"].as_array().unwrap().len(), 4);

    // Threads: replies under the parent's stamp, parent first.
    let parent = &stamps[0];
    for i in 0..3 {
        let reply = slack(
            &app,
            "chat.postMessage",
            bot,
            json!({"channel": general, "text": format!("step {i}"), "thread_ts": parent}),
        )
        .await;
        ok(&reply);
        assert_eq!(reply["message"]["thread_ts"], json!(parent));
    }
    let thread = slack(
        &app,
        "conversations.replies",
        bot,
        json!({"channel": general, "ts": parent}),
    )
    .await;
    ok(&thread);
    let texts: Vec<&str> = thread["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["deploy 0", "step 0", "step 1", "step 2"]);
    assert_eq!(thread["messages"][0]["reply_count"], json!(3));
    assert_eq!(
        thread["messages"][0]["reply_users"],
        json!([who["user_id"]])
    );
    assert_eq!(
        thread["messages"][0]["latest_reply"],
        thread["messages"][3]["ts"]
    );
    assert_eq!(thread["messages"][1]["parent_user_id"], who["user_id"]);
    // A reply also sent to the channel: in the thread and in the history.
    let loud = slack(
        &app,
        "chat.postMessage",
        bot,
        json!({"channel": general, "text": "shipped", "thread_ts": parent, "reply_broadcast": true}),
    )
    .await;
    ok(&loud);
    assert_eq!(loud["message"]["subtype"], json!("thread_broadcast"));
    let latest = slack(
        &app,
        "conversations.history",
        bot,
        json!({"channel": general, "limit": 2}),
    )
    .await;
    ok(&latest);
    let top = &latest["messages"][0];
    assert_eq!(top["ts"], loud["ts"]);
    assert_eq!(top["subtype"], json!("thread_broadcast"));
    assert_eq!(top["thread_ts"], json!(parent));
    assert_eq!(top["parent_user_id"], who["user_id"]);
    // The parent, further back, says who replied and when last.
    let back = slack(
        &app,
        "conversations.history",
        bot,
        json!({"channel": general, "latest": stamps[1]}),
    )
    .await;
    let head = &back["messages"][0];
    assert_eq!(head["ts"], json!(parent));
    assert_eq!(head["reply_count"], json!(4));
    assert_eq!(head["reply_users"], json!([who["user_id"]]));
    assert_eq!(head["reply_users_count"], json!(1));
    assert_eq!(head["latest_reply"], loud["ts"]);
    assert_eq!(latest["messages"][1]["ts"], json!(stamps[6]));
    let thread = slack(
        &app,
        "conversations.replies",
        bot,
        json!({"channel": general, "ts": parent}),
    )
    .await;
    assert_eq!(thread["messages"][0]["reply_count"], json!(4));
    assert_eq!(thread["messages"][4]["ts"], loud["ts"]);
    // A page shorter than the thread still says who replied and when last.
    let first_page = slack(
        &app,
        "conversations.replies",
        bot,
        json!({"channel": general, "ts": parent, "limit": 2}),
    )
    .await;
    assert_eq!(first_page["has_more"], json!(true));
    assert_eq!(
        first_page["messages"][0]["reply_users"],
        json!([who["user_id"]])
    );
    assert_eq!(first_page["messages"][0]["reply_users_count"], json!(1));
    assert_eq!(first_page["messages"][0]["latest_reply"], loud["ts"]);

    // Update, react, pin, delete: Slack's answers, and its "already" errors.
    let updated = slack(
        &app,
        "chat.update",
        bot,
        json!({"channel": general, "ts": stamps[6], "text": "deployed"}),
    )
    .await;
    ok(&updated);
    assert_eq!(updated["message"]["text"], json!("deployed"));
    assert!(updated["message"]["edited"]["ts"].is_string());
    ok(&slack(
        &app,
        "reactions.add",
        bot,
        json!({"channel": general, "timestamp": stamps[6], "name": "rocket"}),
    )
    .await);
    let again = slack(
        &app,
        "reactions.add",
        bot,
        json!({"channel": general, "timestamp": stamps[6], "name": "rocket"}),
    )
    .await;
    assert_eq!(error(&again), "already_reacted");
    let got = slack(
        &app,
        "reactions.get",
        bot,
        json!({"channel": general, "timestamp": stamps[6]}),
    )
    .await;
    assert_eq!(
        got["message"]["reactions"],
        json!([{"name": "rocket", "users": [who["user_id"]], "count": 1}])
    );
    let listed = slack(&app, "reactions.list", bot, json!({})).await;
    ok(&listed);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["items"][0]["type"], json!("message"));
    assert_eq!(listed["items"][0]["channel"], json!(general));
    assert_eq!(listed["items"][0]["message"]["ts"], json!(stamps[6]));
    assert_eq!(listed["response_metadata"]["next_cursor"], json!(""));
    let bad_cursor = slack(&app, "reactions.list", bot, json!({"cursor": "bmV4dDp4"})).await;
    assert_eq!(error(&bad_cursor), "invalid_cursor");
    let none = slack(
        &app,
        "reactions.remove",
        bot,
        json!({"channel": general, "timestamp": stamps[5], "name": "rocket"}),
    )
    .await;
    assert_eq!(error(&none), "no_reaction");
    ok(&slack(
        &app,
        "pins.add",
        bot,
        json!({"channel": general, "timestamp": stamps[6]}),
    )
    .await);
    assert_eq!(
        error(
            &slack(
                &app,
                "pins.add",
                bot,
                json!({"channel": general, "timestamp": stamps[6]})
            )
            .await
        ),
        "already_pinned"
    );
    let pins = slack(&app, "pins.list", bot, json!({"channel": general})).await;
    assert_eq!(pins["items"][0]["message"]["ts"], json!(stamps[6]));
    ok(&slack(
        &app,
        "chat.delete",
        bot,
        json!({"channel": general, "ts": stamps[1]}),
    )
    .await);
    let gone = slack(
        &app,
        "chat.update",
        bot,
        json!({"channel": general, "ts": stamps[1], "text": "x"}),
    )
    .await;
    assert_eq!(error(&gone), "message_not_found");

    // The owner's message is the bot's to read but not to change.
    let mine = app
        .post(
            &format!("/api/v1/channels/{}/messages", w.general),
            Some(&w.owner),
            json!({"content": "hello <@bot> and @here"}),
        )
        .await;
    assert_eq!(mine.status, StatusCode::CREATED, "{mine:?}");
    let latest = slack(
        &app,
        "conversations.history",
        bot,
        json!({"channel": general, "limit": 1}),
    )
    .await;
    let owner_ts = latest["messages"][0]["ts"].as_str().unwrap().to_owned();
    assert_eq!(
        latest["messages"][0]["text"],
        json!("hello <@bot> and @here")
    );
    let cant = slack(
        &app,
        "chat.update",
        bot,
        json!({"channel": general, "ts": owner_ts, "text": "mine now"}),
    )
    .await;
    assert_eq!(error(&cant), "cant_update_message");
    let cant = slack(
        &app,
        "chat.delete",
        bot,
        json!({"channel": general, "ts": owner_ts}),
    )
    .await;
    assert_eq!(error(&cant), "cant_delete_message");

    // A permalink opens the message in the web client.
    let link = slack(
        &app,
        "chat.getPermalink",
        bot,
        json!({"channel": general, "message_ts": stamps[6]}),
    )
    .await;
    ok(&link);
    let permalink = link["permalink"].as_str().unwrap();
    assert!(
        permalink.contains(&format!("/w/{}/c/{}/m/", w.workspace, w.general)),
        "{permalink}"
    );

    // Mentions written as Slack writes them reach the person.
    let owner_id = who_is(&app, &w.owner).await;
    let mention = slack(
        &app,
        "chat.postMessage",
        bot,
        json!({"channel": general, "text": format!("ping <@{owner_id}>")}),
    )
    .await;
    ok(&mention);
    let unread = app
        .get(
            &format!("/api/v1/workspaces/{}/unread", w.workspace),
            &w.owner,
        )
        .await;
    assert_eq!(unread.status, StatusCode::OK, "{unread:?}");
    let general_state = unread.body["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel_id"] == json!(w.general))
        .cloned()
        .unwrap();
    assert_eq!(general_state["mentions"], json!(1), "{general_state}");

    // People and the team, in Slack's shapes.
    let users = slack(&app, "users.list", bot, json!({})).await;
    let names: Vec<&str> = users["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"owner"), "{users}");
    assert!(users["members"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["profile"].get("email").is_none()));
    let me = slack(&app, "users.info", bot, json!({"user": who["user_id"]})).await;
    assert_eq!(me["user"]["is_bot"], json!(true));
    assert_eq!(me["user"]["id"], json!(slack_user(&w.bot_user)));
    let team = slack(&app, "team.info", bot, json!({})).await;
    assert_eq!(team["team"]["name"], json!("Acme"));
    assert_eq!(team["team"]["id"], who["team_id"]);
}

/// The Slack id of the user with Confab id `id`.
fn slack_user(id: &str) -> String {
    encode(SlackKind::User, id.parse::<UserId>().unwrap().0)
}

/// The Slack id of `token`'s user, from a personal token made for it.
async fn who_is(app: &TestApp, session: &str) -> String {
    let workspaces = app.get("/api/v1/workspaces", session).await;
    let workspace = workspaces.body["workspaces"][0]["workspace"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let made = app
        .post(
            &format!("/api/v1/workspaces/{workspace}/tokens"),
            Some(session),
            json!({"label": "whoami", "scopes": ["team:read"]}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    let token = made.body["secret"].as_str().unwrap().to_owned();
    let who = slack(app, "auth.test", &token, json!({})).await;
    who["user_id"].as_str().unwrap().to_owned()
}

pub async fn tokens_are_checked_scoped_and_revocable(app: TestApp) {
    let w = world(&app, &["chat:write", "channels:read"]).await;
    let general = slack_channel(&app, &w.bot_token, "general").await;

    // No token, a made-up one, and the `token` argument instead of a header.
    let anonymous = app.post("/api/auth.test", None, json!({})).await;
    assert_eq!(error(&anonymous.body), "not_authed");
    assert_eq!(
        error(&slack(&app, "auth.test", "xoxb-nothing", json!({})).await),
        "invalid_auth"
    );
    let session_token = slack(&app, "auth.test", &w.owner, json!({})).await;
    assert_eq!(error(&session_token), "invalid_auth");
    let form = reqwest::Client::new()
        .post(format!("{}/api/auth.test", app.base))
        .form(&[("token", w.bot_token.as_str())])
        .send()
        .await
        .unwrap();
    ok(&form.json::<Value>().await.unwrap());

    // A missing scope names what was needed and what the token has.
    let denied = slack(
        &app,
        "conversations.history",
        &w.bot_token,
        json!({"channel": general}),
    )
    .await;
    assert_eq!(error(&denied), "missing_scope");
    assert_eq!(denied["needed"], json!("channels:history"));
    assert_eq!(denied["provided"], json!("chat:write,channels:read"));
    assert_eq!(
        error(&slack(&app, "users.list", &w.bot_token, json!({})).await),
        "missing_scope"
    );

    // A private channel the bot is not in does not exist for it; neither
    // does another workspace's channel, even for its owner's own token.
    let secret = app
        .post(
            &format!("/api/v1/workspaces/{}/channels", w.workspace),
            Some(&w.owner),
            json!({"name": "secret", "private": true}),
        )
        .await;
    assert_eq!(secret.status, StatusCode::CREATED, "{secret:?}");
    let listed = slack(&app, "conversations.list", &w.bot_token, json!({})).await;
    assert!(!listed.to_string().contains("secret"), "{listed}");
    let other = app.workspace(&w.owner, "Elsewhere").await;
    let other_general = app.general_channel(&w.owner, &other).await;
    let made = app
        .post(
            &format!("/api/v1/workspaces/{}/tokens", w.workspace),
            Some(&w.owner),
            json!({"label": "script", "scopes": ["channels:*", "groups:*", "chat:write"]}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    let personal = made.body["secret"].as_str().unwrap().to_owned();
    assert!(personal.starts_with("xoxp-"));
    let token_id = made.body["token"]["id"].as_str().unwrap().to_owned();
    let mine = slack(
        &app,
        "conversations.list",
        &personal,
        json!({"types": "private_channel"}),
    )
    .await;
    assert_eq!(mine["channels"].as_array().unwrap().len(), 1, "{mine}");
    let foreign = encode(
        SlackKind::Channel,
        other_general.parse::<ChannelId>().unwrap().0,
    );
    let crossed = slack(
        &app,
        "conversations.history",
        &personal,
        json!({"channel": foreign}),
    )
    .await;
    assert_eq!(error(&crossed), "channel_not_found");
    let crossed = slack(
        &app,
        "chat.postMessage",
        &personal,
        json!({"channel": foreign, "text": "x"}),
    )
    .await;
    assert_eq!(error(&crossed), "channel_not_found");

    // Revoked tokens and deactivated people are told so.
    let revoked = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/tokens/{token_id}"),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{revoked:?}");
    assert_eq!(
        error(&slack(&app, "auth.test", &personal, json!({})).await),
        "token_revoked"
    );
    let bye = slack(&app, "auth.revoke", &w.bot_token, json!({})).await;
    assert_eq!(bye["revoked"], json!(true));
    assert_eq!(
        error(&slack(&app, "auth.test", &w.bot_token, json!({})).await),
        "token_revoked"
    );

    let member = app.user("member").await;
    app.join(&w.owner, &w.workspace, &member, "member").await;
    let made = app
        .post(
            &format!("/api/v1/workspaces/{}/tokens", w.workspace),
            Some(&member),
            json!({"label": "mine", "scopes": ["chat:write"]}),
        )
        .await;
    let member_token = made.body["secret"].as_str().unwrap().to_owned();
    ok(&slack(&app, "auth.test", &member_token, json!({})).await);
    let member_id = app.user_id(&member).await;
    let off = app
        .post(
            &format!(
                "/api/v1/workspaces/{}/members/{member_id}/deactivate",
                w.workspace
            ),
            Some(&w.owner),
            json!({}),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK, "{off:?}");
    assert_eq!(
        error(&slack(&app, "auth.test", &member_token, json!({})).await),
        "account_inactive"
    );

    // Only admins install; a removed bot's token stops at once.
    let refused = app
        .post(
            &format!("/api/v1/workspaces/{}/integrations", w.workspace),
            Some(&w.owner),
            json!({"type": "bot", "name": "x", "scopes": ["admin"]}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{refused:?}");
    let second = world_bot(&app, &w, &["chat:write"]).await;
    let listed = app
        .get(
            &format!("/api/v1/workspaces/{}/integrations", w.workspace),
            &w.owner,
        )
        .await;
    assert_eq!(listed.body.as_array().unwrap().len(), 2, "{listed:?}");
    assert!(!listed.body.to_string().contains("xoxb-"));
    let integration = listed.body[1]["id"].as_str().unwrap().to_owned();
    let removed = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/integrations/{integration}"),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{removed:?}");
    assert_eq!(
        error(&slack(&app, "auth.test", &second, json!({})).await),
        "token_revoked"
    );
}

async fn world_bot(app: &TestApp, w: &World, scopes: &[&str]) -> String {
    let installed = app
        .post(
            &format!("/api/v1/workspaces/{}/integrations", w.workspace),
            Some(&w.owner),
            json!({"type": "bot", "name": "Second", "scopes": scopes}),
        )
        .await;
    assert_eq!(installed.status, StatusCode::CREATED, "{installed:?}");
    installed.body["token"].as_str().unwrap().to_owned()
}

pub async fn bad_web_api_input_gets_slack_errors_and_changes_nothing(app: TestApp) {
    let w = world(
        &app,
        &[
            "chat:write",
            "channels:read",
            "channels:history",
            "channels:join",
        ],
    )
    .await;
    let bot = &w.bot_token;
    let general = slack_channel(&app, bot, "general").await;
    ok(&slack(&app, "conversations.join", bot, json!({"channel": general})).await);

    assert_eq!(
        error(&slack(&app, "chat.postMessagez", bot, json!({})).await),
        "unknown_method"
    );
    assert_eq!(
        error(&slack(&app, "chat.postMessage", bot, json!({"channel": general})).await),
        "no_text"
    );
    assert_eq!(
        error(
            &slack(
                &app,
                "chat.postMessage",
                bot,
                json!({"channel": "C024BE91L", "text": "x"})
            )
            .await
        ),
        "channel_not_found"
    );
    assert_eq!(
        error(
            &slack(
                &app,
                "chat.postMessage",
                bot,
                json!({"channel": general, "text": "x".repeat(40_001)})
            )
            .await
        ),
        "msg_too_long"
    );
    assert_eq!(
        error(
            &slack(
                &app,
                "chat.postMessage",
                bot,
                json!({"channel": general, "blocks": "[{not json"})
            )
            .await
        ),
        "invalid_blocks"
    );
    let huge = json!([{"type": "section", "text": {"type": "mrkdwn", "text": "y".repeat(70_000)}}]);
    assert_eq!(
        error(
            &slack(
                &app,
                "chat.postMessage",
                bot,
                json!({"channel": general, "text": "x", "blocks": huge})
            )
            .await
        ),
        "invalid_blocks"
    );
    assert_eq!(
        error(
            &slack(
                &app,
                "chat.update",
                bot,
                json!({"channel": general, "ts": "yesterday", "text": "x"})
            )
            .await
        ),
        "invalid_ts"
    );
    assert_eq!(
        error(
            &slack(
                &app,
                "conversations.history",
                bot,
                json!({"channel": general, "cursor": "!!"})
            )
            .await
        ),
        "invalid_cursor"
    );
    assert_eq!(
        error(&slack(&app, "reactions.list", bot, json!({})).await),
        "missing_scope"
    );
    let bad_json = app
        .http
        .post(format!("{}/api/chat.postMessage", app.base))
        .bearer_auth(bot)
        .header("content-type", "application/json; charset=utf-8")
        .body("{\"channel\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error(&bad_json.json::<Value>().await.unwrap()),
        "invalid_json"
    );
    let get_write = app
        .call(
            reqwest::Method::GET,
            &format!("/api/chat.postMessage?channel={general}&text=x"),
            Some(bot),
            None,
        )
        .await;
    assert_eq!(error(&get_write.body), "invalid_arguments");

    // Nothing above posted anything.
    let history = slack(
        &app,
        "conversations.history",
        bot,
        json!({"channel": general}),
    )
    .await;
    assert_eq!(posts(&history), Vec::<Value>::new(), "{history}");

    // Blocks come back as given, from a form as JSON text or a JSON body.
    let blocks = json!([{"type": "section", "text": {"type": "mrkdwn", "text": "*built*"}}]);
    let form = app
        .http
        .post(format!("{}/api/chat.postMessage", app.base))
        .bearer_auth(bot)
        .form(&[
            ("channel", general.as_str()),
            ("blocks", &blocks.to_string()),
        ])
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    ok(&form);
    assert_eq!(form["message"]["blocks"], blocks);
    assert_eq!(form["message"]["text"], json!("*built*"));
    let echoed = app
        .call(reqwest::Method::GET, "/api/api.test?foo=bar", None, None)
        .await;
    assert_eq!(echoed.body, json!({"ok": true, "args": {"foo": "bar"}}));
}

/// POST to an incoming webhook URL; its status and plain-text answer.
async fn hook(body: reqwest::RequestBuilder) -> (StatusCode, String) {
    let response = body.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

pub async fn incoming_webhooks_post_into_their_channel_until_removed(app: TestApp) {
    let w = world(
        &app,
        &["channels:read", "channels:history", "channels:join"],
    )
    .await;
    let member = app.user("member").await;
    app.join(&w.owner, &w.workspace, &member, "member").await;
    let install = |token: String, channel: String| {
        let app = &app;
        let workspace = w.workspace.clone();
        async move {
            app.post(
                &format!("/api/v1/workspaces/{workspace}/integrations"),
                Some(&token),
                json!({"type": "incoming_webhook", "name": "Alerts", "channel_id": channel}),
            )
            .await
        }
    };
    let refused = install(member.clone(), w.general.clone()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    let installed = install(w.owner.clone(), w.general.clone()).await;
    assert_eq!(installed.status, StatusCode::CREATED, "{installed:?}");
    assert!(installed.body.get("token").is_none());
    let url = installed.body["url"].as_str().unwrap().to_owned();
    let integration = installed.body["integration"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(url.contains(&format!("/hooks/{integration}/")), "{url}");
    let path = &url[url.find("/hooks/").unwrap()..];
    let endpoint = format!("{}{path}", app.base);

    // JSON, a `payload=` form, blocks alone, and a reply in a thread.
    let (status, text) = hook(
        app.http
            .post(&endpoint)
            .json(&json!({"text": "deploy ok", "username": "CI", "icon_emoji": ":rocket:"})),
    )
    .await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "ok"));
    let payload = json!({"text": "from a form"}).to_string();
    let (status, text) = hook(app.http.post(&endpoint).form(&[("payload", payload)])).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "ok"));
    let blocks = json!([{"type": "section", "text": {"type": "mrkdwn", "text": "*blocks only*"}}]);
    let (status, _) = hook(app.http.post(&endpoint).json(&json!({"blocks": blocks}))).await;
    assert_eq!(status, StatusCode::OK);
    let general = slack_channel(&app, &w.bot_token, "general").await;
    ok(&slack(
        &app,
        "conversations.join",
        &w.bot_token,
        json!({"channel": general}),
    )
    .await);
    let history = slack(
        &app,
        "conversations.history",
        &w.bot_token,
        json!({"channel": general}),
    )
    .await;
    let messages = posts(&history);
    let texts: Vec<&str> = messages
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["*blocks only*", "from a form", "deploy ok"]);
    assert_eq!(messages[2]["username"], json!("CI"));
    assert_eq!(messages[2]["icons"], json!({"emoji": ":rocket:"}));
    assert_eq!(messages[2]["subtype"], json!("bot_message"));
    assert_eq!(messages[0]["blocks"], blocks);
    let parent = messages[2]["ts"].as_str().unwrap().to_owned();
    let (status, _) = hook(
        app.http
            .post(&endpoint)
            .json(&json!({"text": "in the thread", "thread_ts": parent})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let thread = slack(
        &app,
        "conversations.replies",
        &w.bot_token,
        json!({"channel": general, "ts": parent}),
    )
    .await;
    assert_eq!(thread["messages"][1]["text"], json!("in the thread"));

    // Slack's plain-text refusals, none of which posts anything.
    let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (
            app.http.post(&endpoint).json(&json!({"text": ""})),
            StatusCode::BAD_REQUEST,
            "no_text",
        ),
        (
            app.http
                .post(&endpoint)
                .header("content-type", "application/json")
                .body("{\"text\": "),
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
        (
            app.http.post(&endpoint).form(&[("payload", "not json")]),
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
        (
            app.http
                .post(&endpoint)
                .json(&json!({"text": "x", "thread_ts": "never"})),
            StatusCode::BAD_REQUEST,
            "invalid_thread_ts",
        ),
        (
            app.http
                .post(format!("{endpoint}x"))
                .json(&json!({"text": "x"})),
            StatusCode::NOT_FOUND,
            "no_service",
        ),
        (
            app.http
                .post(format!("{}/hooks/{}/{}", app.base, uuid_like(), "secret"))
                .json(&json!({"text": "x"})),
            StatusCode::NOT_FOUND,
            "no_service",
        ),
    ];
    for (request, expected, code) in cases {
        let (status, text) = hook(request).await;
        assert_eq!((status, text.as_str()), (expected, code));
    }
    // A hook on an archived channel is gone for now (410).
    let room = app
        .post(
            &format!("/api/v1/workspaces/{}/channels", w.workspace),
            Some(&w.owner),
            json!({"name": "alerts"}),
        )
        .await;
    assert_eq!(room.status, StatusCode::CREATED, "{room:?}");
    let room = room.body["id"].as_str().unwrap().to_owned();
    let second = install(w.owner.clone(), room.clone()).await;
    let second_url = second.body["url"].as_str().unwrap().to_owned();
    let second_endpoint = format!(
        "{}{}",
        app.base,
        &second_url[second_url.find("/hooks/").unwrap()..]
    );
    let done = app
        .post(
            &format!("/api/v1/channels/{room}/archive"),
            Some(&w.owner),
            json!({}),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{done:?}");
    let (status, text) = hook(app.http.post(&second_endpoint).json(&json!({"text": "x"}))).await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::GONE, "channel_is_archived")
    );
    let history = slack(
        &app,
        "conversations.history",
        &w.bot_token,
        json!({"channel": general}),
    )
    .await;
    assert_eq!(posts(&history).len(), 3, "{history}");
    let in_room = app
        .get(&format!("/api/v1/channels/{room}/messages"), &w.owner)
        .await;
    let room_posts = in_room.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["message_type"] != "system")
        .count();
    assert_eq!(
        room_posts, 0,
        "nothing reached the archived channel: {in_room:?}"
    );

    // Removed: the URL answers no_service.
    let removed = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/integrations/{integration}"),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{removed:?}");
    let (status, text) = hook(app.http.post(&endpoint).json(&json!({"text": "after"}))).await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::NOT_FOUND, "no_service")
    );
}

/// An id that names no integration.
fn uuid_like() -> String {
    ChannelId::new().to_string()
}

/// Every request `receiver` got is signed with `secret` as Slack signs.
fn assert_signed(received: &[Received], secret: &str) {
    for request in received {
        let timestamp: i64 = request.headers["x-slack-request-timestamp"]
            .parse()
            .unwrap();
        assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 60);
        assert_eq!(
            request.headers["x-slack-signature"],
            confab_service::slack_signature(secret, timestamp, &request.raw),
            "{:?}",
            request.body
        );
    }
}

async fn subscribe(app: &TestApp, w: &World, url: &str, events: &[&str]) -> crate::app::Reply {
    app.call(
        reqwest::Method::PUT,
        &format!("/api/v1/integrations/{}/events", w.integration),
        Some(&w.owner),
        Some(json!({"url": url, "events": events})),
    )
    .await
}

pub async fn events_reach_bots_signed_in_order_and_retried(app: TestApp) {
    let policy = confab_service::Policy {
        events: confab_service::EventPolicy {
            timeout: std::time::Duration::from_millis(400),
            retry_delays: vec![std::time::Duration::from_millis(50); 2],
            failures_to_disable: 2,
        },
        ..Default::default()
    };
    let app = app.restart(policy, test_options()).await;
    let w = world(
        &app,
        &[
            "chat:write",
            "channels:read",
            "channels:join",
            "reactions:write",
        ],
    )
    .await;
    let events = [
        "message",
        "app_mention",
        "reaction_added",
        "member_joined_channel",
        "channel_created",
    ];

    // Inside addresses and URLs that do not answer the challenge are refused.
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9/events",
        "ftp://example.com/x",
    ] {
        let refused = subscribe(&app, &w, url, &events).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{url}: {refused:?}"
        );
        assert_eq!(refused.body["error"]["field"], json!("url"));
    }
    let deaf = Receiver::start(Vec::new()).await;
    let wrong = subscribe(
        &app,
        &w,
        &deaf.url.replace("/events", "/elsewhere"),
        &events,
    )
    .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{wrong:?}");

    // The first event fails with a 500, then times out, then arrives.
    let receiver = Receiver::start(vec![
        Answer::Status(500),
        Answer::Slow(std::time::Duration::from_millis(900)),
    ])
    .await;
    let subscribed = subscribe(&app, &w, &receiver.url, &events).await;
    assert_eq!(subscribed.status, StatusCode::OK, "{subscribed:?}");
    assert_eq!(subscribed.body["event_url"], json!(receiver.url));
    let checks = receiver.received();
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].body["type"], json!("url_verification"));

    let general = slack_channel(&app, &w.bot_token, "general").await;
    ok(&slack(
        &app,
        "conversations.join",
        &w.bot_token,
        json!({"channel": general}),
    )
    .await);
    let bot = who_is_bot(&app, &w).await;
    let said = app
        .post(
            &format!("/api/v1/channels/{}/messages", w.general),
            Some(&w.owner),
            json!({"content": format!("deploy please <@{bot}>")}),
        )
        .await;
    assert_eq!(said.status, StatusCode::CREATED, "{said:?}");
    let message_id = said.body["id"].as_str().unwrap().to_owned();
    let reacted = app
        .post(
            &format!("/api/v1/messages/{message_id}/reactions"),
            Some(&w.owner),
            json!({"emoji": "eyes"}),
        )
        .await;
    assert!(reacted.status.is_success(), "{reacted:?}");
    let made = app
        .post(
            &format!("/api/v1/workspaces/{}/channels", w.workspace),
            Some(&w.owner),
            json!({"name": "launches"}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");

    let kinds_of = |seen: &[Received]| -> Vec<String> {
        let mut firsts: Vec<String> = Vec::new();
        let mut ids: Vec<&str> = Vec::new();
        for r in seen.iter().filter(|r| r.body["type"] == "event_callback") {
            let id = r.body["event_id"].as_str().unwrap();
            if !ids.contains(&id) {
                ids.push(id);
                let event = &r.body["event"];
                let kind = event["type"].as_str().unwrap();
                firsts.push(match event["subtype"].as_str() {
                    Some(subtype) => format!("{kind}/{subtype}"),
                    None => kind.to_owned(),
                });
            }
        }
        firsts
    };
    let seen = receiver
        .wait_for("six events, the first three times", |seen| {
            let callbacks = seen
                .iter()
                .filter(|r| r.body["type"] == "event_callback")
                .count();
            kinds_of(seen).len() == 6 && callbacks == 8
        })
        .await;
    // In the order they happened; the join also tells of itself in the
    // channel, as Slack's `channel_join` message.
    assert_eq!(
        kinds_of(&seen),
        [
            "member_joined_channel",
            "message/channel_join",
            "message",
            "app_mention",
            "reaction_added",
            "channel_created"
        ]
    );
    assert_signed(&seen, &w.signing_secret);
    let callbacks: Vec<&Received> = seen
        .iter()
        .filter(|r| r.body["type"] == "event_callback")
        .collect();
    // The first reception got a 500 and the second timed out: each such
    // event came again, numbered, with the reason.
    let mut reasons = Vec::new();
    for (at, request) in callbacks.iter().enumerate() {
        let earlier = callbacks[..at]
            .iter()
            .filter(|r| r.body["event_id"] == request.body["event_id"])
            .count();
        match earlier {
            0 => assert!(!request.headers.contains_key("x-slack-retry-num")),
            n => {
                assert_eq!(request.headers["x-slack-retry-num"], n.to_string());
                reasons.push(request.headers["x-slack-retry-reason"].clone());
            }
        }
    }
    reasons.sort();
    assert_eq!(reasons, ["http_error", "http_timeout"]);
    // The envelope and the events, as Slack's.
    let message = callbacks
        .iter()
        .find(|r| r.body["event"]["type"] == "message" && r.body["event"]["subtype"].is_null())
        .unwrap();
    let envelope = &message.body;
    assert_eq!(envelope["authorizations"][0]["user_id"], json!(bot));
    assert_eq!(envelope["authorizations"][0]["is_bot"], json!(true));
    assert!(envelope["team_id"].as_str().unwrap().starts_with('T'));
    assert!(envelope["api_app_id"].as_str().unwrap().starts_with('A'));
    assert!(envelope["event_id"].as_str().unwrap().starts_with("Ev"));
    assert_eq!(envelope["event"]["channel"], json!(general));
    assert_eq!(envelope["event"]["channel_type"], json!("channel"));
    assert_eq!(
        envelope["event"]["text"],
        json!(format!("deploy please <@{bot}>"))
    );
    let reaction = callbacks
        .iter()
        .find(|r| r.body["event"]["type"] == "reaction_added")
        .unwrap();
    assert_eq!(reaction.body["event"]["reaction"], json!("eyes"));
    assert_eq!(
        reaction.body["event"]["item"]["ts"],
        envelope["event"]["ts"]
    );

    // Each delivered once, as far as Confab knows: one acknowledgement each.
    let deliveries = app
        .get(
            &format!("/api/v1/integrations/{}/deliveries", w.integration),
            &w.owner,
        )
        .await;
    let listed = deliveries.body.as_array().unwrap();
    assert_eq!(listed.len(), 6, "{deliveries:?}");
    assert!(
        listed.iter().all(|d| d["status"] == "delivered"),
        "{deliveries:?}"
    );
    let attempts: i64 = listed.iter().map(|d| d["attempts"].as_i64().unwrap()).sum();
    assert_eq!(attempts, 8);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        receiver.events().len(),
        8,
        "nothing is sent again once acknowledged"
    );

    // A URL that keeps failing turns the bot's events off, with its error.
    let broken = Receiver::start(vec![Answer::Status(503); 6]).await;
    assert_eq!(
        subscribe(&app, &w, &broken.url, &["message"]).await.status,
        StatusCode::OK
    );
    for text in ["one", "two"] {
        let said = app
            .post(
                &format!("/api/v1/channels/{}/messages", w.general),
                Some(&w.owner),
                json!({"content": text}),
            )
            .await;
        assert_eq!(said.status, StatusCode::CREATED);
    }
    broken
        .wait_for("two events, three times each", |seen| {
            seen.iter()
                .filter(|r| r.body["type"] == "event_callback")
                .count()
                == 6
        })
        .await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let disabled = loop {
        let listed = app
            .get(
                &format!("/api/v1/workspaces/{}/integrations", w.workspace),
                &w.owner,
            )
            .await;
        let bot_view = listed
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == json!(w.integration))
            .cloned()
            .unwrap();
        if bot_view["status"] == "events_disabled" {
            break bot_view;
        }
        assert!(tokio::time::Instant::now() < deadline, "{bot_view}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(
        disabled["last_error"].as_str().unwrap().contains("503"),
        "{disabled}"
    );
    let said = app
        .post(
            &format!("/api/v1/channels/{}/messages", w.general),
            Some(&w.owner),
            json!({"content": "three"}),
        )
        .await;
    assert_eq!(said.status, StatusCode::CREATED);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(broken.events().len(), 6, "no more events once turned off");
    // The bot's token still works; setting the URL again turns events on.
    ok(&slack(&app, "auth.test", &w.bot_token, json!({})).await);
    let again = subscribe(&app, &w, &receiver.url, &["message"]).await;
    assert_eq!(again.body["status"], json!("active"), "{again:?}");
}

/// The Slack id of the world's bot.
async fn who_is_bot(app: &TestApp, w: &World) -> String {
    let who = slack(app, "auth.test", &w.bot_token, json!({})).await;
    who["user_id"].as_str().unwrap().to_owned()
}

pub async fn slash_commands_call_their_url_and_answer_as_it_says(app: TestApp) {
    let w = world(
        &app,
        &["channels:read", "channels:history", "channels:join"],
    )
    .await;
    let receiver = Receiver::start(Vec::new()).await;
    let installs = format!("/api/v1/workspaces/{}/integrations", w.workspace);
    let install = |command: &str| {
        let body = json!({"type": "slash_command", "name": "Deploy", "command": command, "url": receiver.command_url()});
        app.post(&installs, Some(&w.owner), body)
    };
    let installed = install("/Deploy").await;
    assert_eq!(installed.status, StatusCode::CREATED, "{installed:?}");
    assert!(installed.body.get("token").is_none());
    let secret = installed.body["signing_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(install("/deploy").await.status, StatusCode::CONFLICT);
    assert_eq!(install("deploy").await.status, StatusCode::BAD_REQUEST);
    let commands = format!("/api/v1/channels/{}/commands", w.general);
    let run = |command: &str, text: &str| {
        app.post(
            &commands,
            Some(&w.owner),
            json!({"command": command, "text": text}),
        )
    };

    // An ephemeral answer comes back to the caller alone; nothing is posted.
    receiver.plan(vec![Answer::Json(
        json!({"response_type": "ephemeral", "text": "Deploying prod"}),
    )]);
    let answered = run("/deploy", "prod now").await;
    assert_eq!(answered.status, StatusCode::OK, "{answered:?}");
    assert_eq!(answered.body["response_type"], json!("ephemeral"));
    assert_eq!(answered.body["text"], json!("Deploying prod"));
    let calls = receiver.received();
    assert_eq!(calls.len(), 1);
    let form = &calls[0].body;
    assert_eq!(form["command"], json!("/deploy"));
    assert_eq!(form["text"], json!("prod now"));
    assert_eq!(form["user_name"], json!("owner"));
    assert!(form["user_id"].as_str().unwrap().starts_with('U'));
    assert!(form["channel_id"].as_str().unwrap().starts_with('C'));
    assert_eq!(form["channel_name"], json!("general"));
    assert!(form["trigger_id"].as_str().unwrap().len() >= 16);
    assert_eq!(
        calls[0].headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_signed(&calls, &secret);
    let general = slack_channel(&app, &w.bot_token, "general").await;
    ok(&slack(
        &app,
        "conversations.join",
        &w.bot_token,
        json!({"channel": general}),
    )
    .await);
    let history = slack(
        &app,
        "conversations.history",
        &w.bot_token,
        json!({"channel": general}),
    )
    .await;
    assert_eq!(posts(&history), Vec::<Value>::new(), "{history}");

    // In the channel: posted as the command's bot.
    receiver.plan(vec![Answer::Json(
        json!({"response_type": "in_channel", "text": "Deployed!"}),
    )]);
    let answered = run("/deploy", "").await;
    assert_eq!(
        answered.body["response_type"],
        json!("in_channel"),
        "{answered:?}"
    );
    assert_eq!(answered.body["message"]["content"], json!("Deployed!"));
    let history = slack(
        &app,
        "conversations.history",
        &w.bot_token,
        json!({"channel": general}),
    )
    .await;
    assert_eq!(history["messages"][0]["text"], json!("Deployed!"));
    assert_eq!(history["messages"][0]["subtype"], json!("bot_message"));

    // The response URL takes later answers.
    let response_url = receiver.received()[1].body["response_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = &response_url[response_url.find("/commands/respond/").unwrap()..];
    let later = app
        .http
        .post(format!("{}{path}", app.base))
        .json(&json!({"response_type": "in_channel", "text": "Rolled out to 100%"}))
        .send()
        .await
        .unwrap();
    assert_eq!(later.status(), StatusCode::OK);
    assert_eq!(later.json::<Value>().await.unwrap(), json!({"ok": true}));
    let history = slack(
        &app,
        "conversations.history",
        &w.bot_token,
        json!({"channel": general}),
    )
    .await;
    assert_eq!(history["messages"][0]["text"], json!("Rolled out to 100%"));
    let ephemeral = app
        .http
        .post(format!("{}{path}", app.base))
        .body("just for you")
        .send()
        .await
        .unwrap();
    assert_eq!(ephemeral.status(), StatusCode::OK);
    let forged = app
        .http
        .post(format!(
            "{}/commands/respond/{}x",
            app.base,
            &path["/commands/respond/".len()..]
        ))
        .json(&json!({"text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);
    let empty = app
        .http
        .post(format!("{}{path}", app.base))
        .json(&json!({"text": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);

    // A failing URL is told to the caller; unknown commands are not found.
    receiver.plan(vec![Answer::Status(500)]);
    let failed = run("/deploy", "again").await;
    assert_eq!(failed.body["response_type"], json!("failed"), "{failed:?}");
    assert!(failed.body["text"].as_str().unwrap().contains("500"));
    assert_eq!(run("/nothing", "").await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        run("not a command", "").await.status,
        StatusCode::BAD_REQUEST
    );
    let outsider = app.user("outsider").await;
    let foreign = app
        .post(
            &format!("/api/v1/channels/{}/commands", w.general),
            Some(&outsider),
            json!({"command": "/deploy"}),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let history = slack(
        &app,
        "conversations.history",
        &w.bot_token,
        json!({"channel": general}),
    )
    .await;
    assert_eq!(posts(&history).len(), 2, "{history}");
}

/// The messages of a history answer but the notices of who joined or left
/// and of new topics.
fn posts(history: &Value) -> Vec<Value> {
    history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            !m["subtype"]
                .as_str()
                .is_some_and(|s| s.starts_with("channel_"))
        })
        .cloned()
        .collect()
}

pub async fn outgoing_webhooks_call_on_their_words_and_post_the_answer(app: TestApp) {
    let w = world(
        &app,
        &["channels:read", "channels:history", "channels:join"],
    )
    .await;
    // The answer starts with a trigger word: were bots' messages to call
    // hooks, posting it would call the hook again.
    let receiver = Receiver::start(vec![Answer::Json(json!({"text": "deploy done"}))]).await;
    let installed = app
        .post(
            &format!("/api/v1/workspaces/{}/integrations", w.workspace),
            Some(&w.owner),
            json!({"type": "outgoing_webhook", "name": "Deployer", "channel_id": w.general,
                   "url": receiver.command_url(), "trigger_words": ["deploy", "ship"]}),
        )
        .await;
    assert_eq!(installed.status, StatusCode::CREATED, "{installed:?}");
    let token = installed.body["verification_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret = installed.body["signing_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(installed.body.get("token").is_none());
    let listed = app
        .get(
            &format!("/api/v1/workspaces/{}/integrations", w.workspace),
            &w.owner,
        )
        .await;
    assert!(
        !listed.body.to_string().contains(&token),
        "the token is never shown again"
    );

    let messages = format!("/api/v1/channels/{}/messages", w.general);
    let say = |text: &'static str| app.post(&messages, Some(&w.owner), json!({"content": text}));
    assert_eq!(say("hello there").await.status, StatusCode::CREATED);
    assert_eq!(say("deploy prod please").await.status, StatusCode::CREATED);
    let calls = receiver.wait_for("one call", |seen| !seen.is_empty()).await;
    let form = &calls[0].body;
    assert_eq!(form["token"], json!(token));
    assert_eq!(form["trigger_word"], json!("deploy"));
    assert_eq!(form["text"], json!("deploy prod please"));
    assert_eq!(form["channel_name"], json!("general"));
    assert!(form["timestamp"].as_str().unwrap().contains('.'));
    assert_signed(&calls, &secret);

    // The answer is posted as the hook's bot, and calls nothing again.
    let general = slack_channel(&app, &w.bot_token, "general").await;
    ok(&slack(
        &app,
        "conversations.join",
        &w.bot_token,
        json!({"channel": general}),
    )
    .await);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let history = slack(
            &app,
            "conversations.history",
            &w.bot_token,
            json!({"channel": general, "limit": 3}),
        )
        .await;
        let answer = posts(&history)
            .into_iter()
            .find(|m| m["text"] == json!("deploy done"));
        if let Some(answer) = answer {
            assert_eq!(answer["subtype"], json!("bot_message"));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{history}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(say("ship it").await.status, StatusCode::CREATED);
    receiver
        .wait_for("a second call", |seen| seen.len() == 2)
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let calls = receiver.received();
    assert_eq!(calls.len(), 2, "only the messages with a trigger word call");
    assert_eq!(calls[1].body["trigger_word"], json!("ship"));
}

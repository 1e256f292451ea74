//! The authorization matrix, generated from the served OpenAPI document
//! (which the router builds from the handlers themselves): every operation
//! is called by every kind of caller (anonymous, outsider, deactivated
//! member, guest, member, admin, owner) on a private channel's resources, on
//! another workspace's resources, and with another workspace's ids inside
//! one's own workspace. A route without an entry in [`access_of`] fails the
//! test, so a new route is covered the day it is added.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::app::{Reply, TestApp};

/// Who may call an operation on resources of their own workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No workspace resource in the path: only the session is checked.
    Account,
    /// Any active member of the workspace, guests included.
    WorkspaceMember,
    /// Active members who are not guests.
    FullMember,
    /// Workspace admins and owners.
    Admin,
    /// Members of the channel (here a private channel only its owner is in).
    ChannelMember,
}

/// The rule for each operation, by `METHOD /path` as the document names it.
pub fn access_of(operation: &str) -> Option<Access> {
    use Access::*;
    Some(match operation {
        "POST /auth/signup" | "POST /auth/login" | "POST /auth/login/mfa" => Account,
        "POST /auth/logout" | "POST /auth/logout-all" => Account,
        "GET /me" | "PATCH /me" | "DELETE /me" | "POST /me/password" | "GET /me/sessions" => {
            Account
        }
        "POST /me/mfa/enroll" | "POST /me/mfa/confirm" | "POST /me/mfa/disable" => Account,
        "DELETE /me/sessions/{session}" => Account,
        // Anyone holding a public link; no workspace in the path.
        "GET /public/files/{token}" => Account,
        // An upload's id names its uploader, who alone may use it.
        "PUT /uploads/{upload}" | "POST /uploads/{upload}/complete" => Account,
        "POST /auth/verify-email" | "POST /me/email/verification" => Account,
        "POST /auth/password-reset/request" | "POST /auth/password-reset" => Account,
        "GET /workspaces" | "POST /workspaces" | "POST /invitations/accept" | "GET /ws" => Account,
        "GET /workspaces/{workspace}"
        | "GET /workspaces/{workspace}/channels"
        | "POST /workspaces/{workspace}/leave"
        | "GET /workspaces/{workspace}/presence"
        | "PUT /workspaces/{workspace}/presence"
        | "GET /workspaces/{workspace}/unread"
        | "GET /workspaces/{workspace}/search/messages"
        | "GET /workspaces/{workspace}/search/files"
        | "GET /workspaces/{workspace}/files"
        | "POST /workspaces/{workspace}/files"
        | "POST /workspaces/{workspace}/uploads"
        | "GET /workspaces/{workspace}/tokens"
        | "POST /workspaces/{workspace}/tokens"
        | "POST /workspaces/{workspace}/conversations" => WorkspaceMember,
        "GET /workspaces/{workspace}/members"
        | "GET /workspaces/{workspace}/search/people"
        | "POST /workspaces/{workspace}/channels"
        | "GET /workspaces/{workspace}/channels/browse"
        // Members invite members and guests (admins anyone).
        | "POST /workspaces/{workspace}/invitations" => FullMember,
        "PATCH /workspaces/{workspace}"
        | "GET /workspaces/{workspace}/invitations"
        | "DELETE /workspaces/{workspace}/invitations/{invitation}"
        | "PATCH /workspaces/{workspace}/members/{user}"
        | "POST /workspaces/{workspace}/members/{user}/deactivate"
        | "POST /workspaces/{workspace}/members/{user}/reactivate"
        | "GET /workspaces/{workspace}/integrations"
        | "POST /workspaces/{workspace}/integrations"
        | "DELETE /integrations/{integration}"
        | "PUT /integrations/{integration}/events"
        | "GET /integrations/{integration}/deliveries" => Admin,
        // The owner's own API token: like the private channel, nobody
        // else knows it exists.
        "DELETE /tokens/{token}" => ChannelMember,
        // A file shared only in the private channel.
        op if op.contains("{channel}") || op.contains("{message}") || op.contains("{file}") => {
            ChannelMember
        }
        _ => return None,
    })
}

/// The people of one workspace, the private channel only its owner is in
/// (with a pinned, reacted message), an invitation, and a second workspace
/// of someone else with the same things.
struct World {
    tokens: BTreeMap<Caller, String>,
    /// The other workspace's owner.
    foreigner: String,
    own: Ids,
    foreign: Ids,
}

/// Ids that fill an operation's path and body.
#[derive(Clone, Debug)]
struct Ids {
    /// An installed bot, and a personal API token of the owner's.
    integration: String,
    token: String,
    workspace: String,
    channel: String,
    message: String,
    /// A member of the workspace and of the private channel who never calls
    /// anything: the one whose membership operations act on.
    user: String,
    /// A member of the workspace who is not in the private channel, whom
    /// operations add to it.
    outside_user: String,
    /// The deactivated member, whom reactivation needs.
    deactivated: String,
    invitation: String,
    /// A file of the owner's, shared in the private channel by its message.
    file: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Caller {
    Anonymous,
    Outsider,
    Deactivated,
    Guest,
    Member,
    Admin,
    Owner,
}

const PEOPLE: [Caller; 6] = [
    Caller::Outsider,
    Caller::Deactivated,
    Caller::Guest,
    Caller::Member,
    Caller::Admin,
    Caller::Owner,
];

/// The people, signed up once: workspaces are made anew for each operation.
struct People {
    tokens: BTreeMap<Caller, String>,
    ids: BTreeMap<Caller, String>,
    foreigner: String,
    foreign_member: String,
    foreign_member_id: String,
    /// The member of each private channel besides its owner.
    insider: String,
    insider_id: String,
}

async fn sign_up_people(app: &TestApp) -> People {
    let mut tokens = BTreeMap::new();
    let mut ids = BTreeMap::new();
    for (caller, name) in PEOPLE
        .iter()
        .zip(["ozzy", "dee", "gil", "meg", "ada", "own"])
    {
        let token = app.user(&format!("matrix-{name}")).await;
        ids.insert(*caller, app.user_id(&token).await);
        tokens.insert(*caller, token);
    }
    let foreigner = app.user("matrix-far").await;
    let foreign_member = app.user("matrix-farm").await;
    let insider = app.user("matrix-pat").await;
    People {
        insider_id: app.user_id(&insider).await,
        insider,
        foreign_member_id: app.user_id(&foreign_member).await,
        tokens,
        ids,
        foreigner,
        foreign_member,
    }
}

fn id_in(reply: &Reply, pointer: &str) -> String {
    reply
        .body
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {pointer} in {reply:?}"))
        .to_owned()
}

async fn ok(reply: Reply, expected: StatusCode) -> Reply {
    assert_eq!(reply.status, expected, "{reply:?}");
    reply
}

/// The ids a world's workspace is made of.
struct Secret {
    integration: String,
    token: String,
    workspace: String,
    channel: String,
    message: String,
    invitation: String,
    file: String,
}

/// A workspace of `owner` with `members` (token, role) and a private
/// channel of the owner and `insider` holding one pinned message with a
/// reaction and a file.
async fn workspace_with_secret(
    app: &TestApp,
    owner: &str,
    members: &[(&str, &str)],
    insider: (&str, &str),
    round: usize,
) -> Secret {
    let ws = app.workspace(owner, &format!("Matrix {round}")).await;
    let image = crate::files_suite::png_image(2, 2);
    let file = crate::files_suite::upload(app, owner, &ws, "secret.png", "image/png", &image).await;
    let file = id_in(&ok(file, StatusCode::CREATED).await, "/id");
    // Processed, so that its thumbnail exists.
    crate::files_suite::processed(app, owner, &file).await;
    for (token, role) in members {
        app.join(owner, &ws, token, role).await;
    }
    let channel = ok(
        app.post(
            &format!("/api/v1/workspaces/{ws}/channels"),
            Some(owner),
            json!({"name": format!("secret-{round}"), "private": true}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let channel = id_in(&channel, "/id");
    app.join(owner, &ws, insider.0, "member").await;
    app.add_to_channel(owner, &channel, insider.1).await;
    let message = ok(
        app.post(
            &format!("/api/v1/channels/{channel}/messages"),
            Some(owner),
            json!({"content": "the secret", "file_ids": [file]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let message = id_in(&message, "/id");
    ok(
        app.post(
            &format!("/api/v1/messages/{message}/reactions"),
            Some(owner),
            json!({"emoji": "tada"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    ok(
        app.post(
            &format!("/api/v1/messages/{message}/pin"),
            Some(owner),
            json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let invitation = ok(
        app.post(
            &format!("/api/v1/workspaces/{ws}/invitations"),
            Some(owner),
            json!({"role": "member", "email": format!("invited-{round}@example.test")}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let invitation = id_in(&invitation, "/invitation/id");
    let integration = ok(
        app.post(
            &format!("/api/v1/workspaces/{ws}/integrations"),
            Some(owner),
            json!({"type": "bot", "name": "Matrix", "scopes": ["chat:write"]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    ok(
        app.post(
            &format!("/api/v1/workspaces/{ws}/integrations"),
            Some(owner),
            json!({"type": "slash_command", "name": "Matrix command", "command": "/matrix", "url": "http://127.0.0.1:9/command"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let token = ok(
        app.post(
            &format!("/api/v1/workspaces/{ws}/tokens"),
            Some(owner),
            json!({"label": "matrix", "scopes": ["chat:write"]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    Secret {
        integration: id_in(&integration, "/integration/id"),
        token: id_in(&token, "/token/id"),
        workspace: ws,
        channel,
        message,
        invitation,
        file,
    }
}

async fn build_world(app: &TestApp, people: &People, round: usize) -> World {
    let t = &people.tokens;
    let members = [
        (t[&Caller::Deactivated].as_str(), "member"),
        (t[&Caller::Guest].as_str(), "guest"),
        (t[&Caller::Member].as_str(), "member"),
        (t[&Caller::Admin].as_str(), "admin"),
    ];
    let owner = &t[&Caller::Owner];
    let insider = (people.insider.as_str(), people.insider_id.as_str());
    let secret = workspace_with_secret(app, owner, &members, insider, round).await;
    let workspace = secret.workspace;
    let deactivated = people.ids[&Caller::Deactivated].clone();
    ok(
        app.post(
            &format!("/api/v1/workspaces/{workspace}/members/{deactivated}/deactivate"),
            Some(owner),
            json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let own = Ids {
        integration: secret.integration,
        token: secret.token,
        workspace,
        channel: secret.channel,
        message: secret.message,
        user: people.insider_id.clone(),
        outside_user: people.ids[&Caller::Member].clone(),
        deactivated,
        invitation: secret.invitation,
        file: secret.file,
    };
    let secret = workspace_with_secret(
        app,
        &people.foreigner,
        &[],
        (&people.foreign_member, &people.foreign_member_id),
        round,
    )
    .await;
    let foreign = Ids {
        integration: secret.integration,
        token: secret.token,
        workspace: secret.workspace,
        channel: secret.channel,
        message: secret.message,
        user: people.foreign_member_id.clone(),
        outside_user: people.foreign_member_id.clone(),
        deactivated: people.foreign_member_id.clone(),
        invitation: secret.invitation,
        file: secret.file,
    };
    World {
        tokens: people.tokens.clone(),
        foreigner: people.foreigner.clone(),
        own,
        foreign,
    }
}

/// One operation of the document.
#[derive(Clone, Debug)]
struct Operation {
    method: Method,
    path: String,
    /// Whether the document says it needs no session.
    public: bool,
}

impl Operation {
    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

fn operations(document: &Value) -> Vec<Operation> {
    let mut found = Vec::new();
    for (path, methods) in document["paths"].as_object().expect("paths") {
        for (method, operation) in methods.as_object().expect("methods") {
            let public = operation["security"].as_array().is_some_and(|s| {
                s.iter()
                    .any(|r| r.as_object().is_some_and(|r| r.is_empty()))
            });
            found.push(Operation {
                method: method.to_uppercase().parse().expect("method"),
                path: path.clone(),
                public,
            });
        }
    }
    found
}

/// The path with its parameters filled from `ids`; `{user}` of the
/// reactivation is the deactivated member, the emoji is the one reacted.
fn fill(op: &Operation, ids: &Ids) -> String {
    let user = if op.path.ends_with("/reactivate") {
        &ids.deactivated
    } else {
        &ids.user
    };
    let path = op
        .path
        .replace("{workspace}", &ids.workspace)
        .replace("{channel}", &ids.channel)
        .replace("{message}", &ids.message)
        .replace("{user}", user)
        .replace("{invitation}", &ids.invitation)
        .replace("{file}", &ids.file)
        .replace("{integration}", &ids.integration)
        .replace("{token}", &ids.token)
        .replace("{emoji}", "tada");
    let query = if op.path.ends_with("/presence") && op.method == Method::GET {
        format!("?user_ids={}", ids.user)
    } else if op.path.contains("/search/") {
        "?q=anything".to_owned()
    } else {
        String::new()
    };
    format!("/api/v1{path}{query}")
}

/// A valid body for the operation, naming `ids` where it names anything.
fn body_for(op: &Operation, ids: &Ids) -> Option<Value> {
    if matches!(op.method, Method::GET | Method::DELETE) {
        return None;
    }
    Some(match op.name().as_str() {
        "PATCH /channels/{channel}" => json!({"topic": "a new topic"}),
        "POST /channels/{channel}/members" => json!({"user_id": ids.outside_user}),
        "PATCH /channels/{channel}/members/{user}" => json!({"role": "member"}),
        "POST /channels/{channel}/messages" => json!({"content": "hello"}),
        "POST /channels/{channel}/commands" => json!({"command": "/matrix", "text": "hi"}),
        "PUT /integrations/{integration}/events" => json!({"url": null}),
        "POST /channels/{channel}/read" => json!({"message_id": ids.message}),
        "PATCH /messages/{message}" => json!({"content": "changed"}),
        "POST /messages/{message}/reactions" => json!({"emoji": "eyes"}),
        "PATCH /workspaces/{workspace}" => json!({"description": "changed"}),
        "POST /workspaces/{workspace}/channels" => json!({"name": "fresh"}),
        "POST /workspaces/{workspace}/conversations" => json!({"users": [ids.user]}),
        "POST /workspaces/{workspace}/invitations" => json!({"role": "member"}),
        "PATCH /workspaces/{workspace}/members/{user}" => json!({"title": "changed"}),
        "PUT /workspaces/{workspace}/presence" => json!({"status": "away"}),
        "POST /workspaces/{workspace}/uploads" => json!({"filename": "notes.txt", "length": 5}),
        "POST /workspaces/{workspace}/integrations" => {
            json!({"type": "bot", "name": "Matrix bot", "scopes": ["chat:write"]})
        }
        "POST /workspaces/{workspace}/tokens" => {
            json!({"label": "matrix", "scopes": ["chat:write"]})
        }
        _ => json!({}),
    })
}

/// What the owner can read of the private resources, to prove a refused
/// call changed nothing.
async fn snapshot(app: &TestApp, ids: &Ids, owner: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    for path in [
        format!("/api/v1/messages/{}", ids.message),
        format!("/api/v1/channels/{}", ids.channel),
        format!("/api/v1/channels/{}/members", ids.channel),
        format!("/api/v1/workspaces/{}/members", ids.workspace),
        format!("/api/v1/workspaces/{}/invitations", ids.workspace),
        format!("/api/v1/workspaces/{}", ids.workspace),
        format!("/api/v1/files/{}", ids.file),
    ] {
        let reply = app.get(&path, owner).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {reply:?}");
        seen.push(without_volatile(reply.body));
    }
    seen
}

/// Drops fields that change by reading (activity times, presence).
fn without_volatile(mut value: Value) -> Value {
    if let Some(object) = value.as_object_mut() {
        object.remove("last_active_at");
        object.remove("last_seen_at");
        for nested in object.values_mut() {
            *nested = without_volatile(nested.take());
        }
    } else if let Some(list) = value.as_array_mut() {
        for item in list {
            *item = without_volatile(item.take());
        }
    }
    value
}

/// One call's outcome against what the matrix expects.
#[derive(Debug)]
struct Mismatch {
    operation: String,
    caller: Caller,
    target: &'static str,
    expected: String,
    got: Reply,
}

fn denied_status(access: Access, caller: Caller) -> Option<StatusCode> {
    use Caller::*;
    match (access, caller) {
        (_, Anonymous) => Some(StatusCode::UNAUTHORIZED),
        (Access::Account, _) => None,
        (_, Outsider | Deactivated) => Some(StatusCode::NOT_FOUND),
        (Access::ChannelMember, Owner) => None,
        (Access::ChannelMember, _) => Some(StatusCode::NOT_FOUND),
        (Access::FullMember, Guest) => Some(StatusCode::FORBIDDEN),
        (Access::Admin, Guest | Member) => Some(StatusCode::FORBIDDEN),
        _ => None,
    }
}

/// Calls that touch the people's own accounts are left to their own tests:
/// the matrix checks only that they need a session.
fn touches_the_account(op: &Operation) -> bool {
    access_of(&op.name()) == Some(Access::Account)
}

/// Run the whole matrix; panics listing every call that broke its rule.
pub async fn every_route_checks_who_may_call_it(app: TestApp) {
    let document = app
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(document.status, StatusCode::OK);
    let operations = operations(&document.body);
    assert!(operations.len() >= 60, "{} operations", operations.len());
    let unclassified: Vec<String> = operations
        .iter()
        .map(Operation::name)
        .filter(|name| access_of(name).is_none())
        .collect();
    assert!(
        unclassified.is_empty(),
        "routes missing from the authorization matrix: {unclassified:?}"
    );

    let mut mismatches = Vec::new();
    for op in operations.iter().filter(|op| !op.public) {
        let reply = app
            .call(
                op.method.clone(),
                &format!("/api/v1{}", op.path),
                None,
                None,
            )
            .await;
        if reply.status != StatusCode::UNAUTHORIZED {
            mismatches.push(Mismatch {
                operation: op.name(),
                caller: Caller::Anonymous,
                target: "none",
                expected: "401".into(),
                got: reply,
            });
        }
    }

    let people = sign_up_people(&app).await;
    for (round, op) in operations
        .iter()
        .filter(|op| !touches_the_account(op))
        .enumerate()
    {
        let world = build_world(&app, &people, round).await;
        check_operation(&app, &world, op, &mut mismatches).await;
    }
    assert!(
        mismatches.is_empty(),
        "{} calls broke the authorization matrix:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .map(|m| format!(
                "{} as {:?} on {}: expected {}, got {} {}",
                m.operation, m.caller, m.target, m.expected, m.got.status, m.got.body
            ))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

async fn check_operation(app: &TestApp, world: &World, op: &Operation, out: &mut Vec<Mismatch>) {
    let access = access_of(&op.name()).expect("classified");
    let owner = world.tokens[&Caller::Owner].clone();
    let before = snapshot(app, &world.own, &owner).await;

    // Another workspace's ids: nobody here may touch them.
    let foreign_before = snapshot(app, &world.foreign, &world.foreigner).await;
    for caller in PEOPLE {
        let reply = call(app, op, &world.foreign, Some(&world.tokens[&caller])).await;
        if reply.status != StatusCode::NOT_FOUND {
            out.push(mismatch(op, caller, "the other workspace", "404", reply));
        }
    }
    if snapshot(app, &world.foreign, &world.foreigner).await != foreign_before {
        out.push(changed(op, "the other workspace"));
    }

    // The other workspace's ids inside one's own workspace or channel: in
    // the path after the first id, or in the body.
    let inner_path_id = op.path.contains("{user}") || op.path.contains("{invitation}");
    let body_foreign = body_for(op, &world.foreign) != body_for(op, &world.own);
    if inner_path_id || body_foreign {
        let mixed = Ids {
            workspace: world.own.workspace.clone(),
            channel: world.own.channel.clone(),
            message: world.own.message.clone(),
            ..world.foreign.clone()
        };
        let unknown = Ids {
            user: uuid::Uuid::now_v7().to_string(),
            outside_user: uuid::Uuid::now_v7().to_string(),
            deactivated: uuid::Uuid::now_v7().to_string(),
            invitation: uuid::Uuid::now_v7().to_string(),
            ..mixed.clone()
        };
        let unknown_body = Ids {
            message: uuid::Uuid::now_v7().to_string(),
            ..unknown.clone()
        };
        let (path_foreign, path_unknown) = if inner_path_id {
            (&mixed, &unknown)
        } else {
            (&world.own, &world.own)
        };
        let foreign = call_parts(app, op, path_foreign, &world.foreign, &owner).await;
        let absent = call_parts(app, op, path_unknown, &unknown_body, &owner).await;
        // Refused exactly as an id that does not exist: nothing to learn.
        let refused = [StatusCode::NOT_FOUND, StatusCode::BAD_REQUEST];
        if !refused.contains(&foreign.status)
            || (foreign.status, &foreign.body) != (absent.status, &absent.body)
        {
            let expected = format!(
                "the answer to an unknown id, {} {}",
                absent.status, absent.body
            );
            out.push(mismatch(
                op,
                Caller::Owner,
                "a foreign id inside",
                &expected,
                foreign,
            ));
        }
    }

    // One's own workspace, from the least to the most trusted caller; the
    // refused ones first, so nothing they could have changed is hidden.
    let mut allowed = Vec::new();
    for caller in PEOPLE {
        match denied_status(access, caller) {
            Some(expected) => {
                let reply = call(app, op, &world.own, Some(&world.tokens[&caller])).await;
                if reply.status != expected {
                    out.push(mismatch(
                        op,
                        caller,
                        "its own workspace",
                        expected.as_str(),
                        reply,
                    ));
                }
            }
            None => allowed.push(caller),
        }
    }
    if snapshot(app, &world.own, &owner).await != before {
        out.push(changed(op, "its own workspace"));
    }
    for caller in allowed {
        let reply = call(app, op, &world.own, Some(&world.tokens[&caller])).await;
        let refused = [
            StatusCode::UNAUTHORIZED,
            StatusCode::FORBIDDEN,
            StatusCode::NOT_FOUND,
        ];
        if refused.contains(&reply.status) || reply.status.is_server_error() {
            out.push(mismatch(op, caller, "its own workspace", "allowed", reply));
        }
    }
}

/// A refused call that changed what it was refused.
fn changed(op: &Operation, target: &'static str) -> Mismatch {
    Mismatch {
        operation: op.name(),
        caller: Caller::Anonymous,
        target,
        expected: "refused calls to change nothing".into(),
        got: Reply {
            status: StatusCode::OK,
            headers: Default::default(),
            body: json!("something changed"),
        },
    }
}

fn mismatch(
    op: &Operation,
    caller: Caller,
    target: &'static str,
    expected: &str,
    got: Reply,
) -> Mismatch {
    Mismatch {
        operation: op.name(),
        caller,
        target,
        expected: expected.into(),
        got,
    }
}

/// A call with the path filled from `path_ids` and the body from `body_ids`.
async fn call_parts(
    app: &TestApp,
    op: &Operation,
    path_ids: &Ids,
    body_ids: &Ids,
    token: &str,
) -> Reply {
    app.call(
        op.method.clone(),
        &fill(op, path_ids),
        Some(token),
        body_for(op, body_ids),
    )
    .await
}

async fn call(app: &TestApp, op: &Operation, ids: &Ids, token: Option<&str>) -> Reply {
    app.call(op.method.clone(), &fill(op, ids), token, body_for(op, ids))
        .await
}

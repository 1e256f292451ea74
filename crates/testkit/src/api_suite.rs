//! End-to-end suite of the accounts and workspaces API, spoken over HTTP to
//! a real server. Every backend runs every case through
//! [`api_conformance!`](crate::api_conformance).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::app::{totp_code, TestApp};
use crate::fixtures::{within_one_minute_window, within_window};

/// One `#[tokio::test]` per case, each through `$harness`.
#[macro_export]
macro_rules! api_conformance {
    ($harness:path $(, #[$attr:meta])*) => {
        $crate::__conformance_cases!(api_suite, 2, $harness, [$(#[$attr])*],
            the_whole_account_and_workspace_journey_works,
            every_route_refuses_outsiders_guests_deactivated_and_anonymous,
            bad_input_gets_a_clear_error_and_changes_nothing,
            login_does_not_reveal_accounts_and_is_rate_limited,
            sign_up_checks_the_username_first_and_is_rate_limited,
            password_resets_by_mail_work_once_and_reveal_no_accounts,
            login_limits_count_every_spelling_of_an_address_together,
            sessions_end_on_logout_password_change_and_deactivation,
            mfa_codes_are_single_use_and_failures_lock,
            parallel_wrong_codes_evaluate_no_more_than_allowed,
            workspaces_requiring_2fa_refuse_members_without_it,
            member_rules_protect_owners_and_limits,
            the_openapi_document_matches_the_routes,
            channels_are_created_listed_browsed_and_changed,
            archived_and_general_channels_have_their_rules,
            conversations_are_one_per_set_of_people,
            private_channels_and_conversations_are_invisible_to_outsiders,
            channel_membership_is_managed_by_its_rules,
            channels_tell_who_joined_left_and_set_the_topic,
            messages_are_posted_paged_edited_and_deleted,
            threads_reactions_and_pins_work,
            message_routes_refuse_outsiders_and_bad_input,
            concurrent_posts_retries_and_replies_are_exact,
            unread_and_mention_counts_follow_the_read_marker,
            cookie_changes_must_come_from_this_server,
            read_positions_of_others_stay_private,
            direct_conversations_cannot_be_left_and_groups_reopen_whole,
            guests_see_presence_only_of_people_they_share_a_channel_with,
            archived_channels_take_only_removals_and_role_changes,
            query_string_errors_have_the_one_error_shape,
            mfa_changes_need_the_password_and_end_other_sessions,
            edit_history_has_its_own_endpoint,
            invitations_are_single_use_and_let_leavers_back,
            email_invitations_need_a_verified_address,
            reactivation_respects_the_member_limit,
        );
        $crate::search_conformance!($harness $(, #[$attr])*);
        $crate::slack_conformance!($harness $(, #[$attr])*);
    };
}

/// The password of `token`'s user, as [`TestApp::sign_up`] chose it.
pub(crate) async fn password_of(app: &TestApp, token: &str) -> String {
    let me = app.get("/api/v1/me", token).await;
    format!("{}-password", me.body["username"].as_str().unwrap())
}

/// Enroll and confirm MFA: the secret, and the code the confirmation used.
pub(crate) async fn enroll_mfa(app: &TestApp, token: &str) -> (String, String) {
    let enrolled = app
        .post(
            "/api/v1/me/mfa/enroll",
            Some(token),
            json!({ "password": password_of(app, token).await }),
        )
        .await;
    assert_eq!(enrolled.status, StatusCode::OK, "{enrolled:?}");
    let secret = enrolled.body["secret"].as_str().unwrap().to_owned();
    assert!(enrolled.body["otpauth_uri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    let code = totp_code(&secret, 0);
    let confirmed = app
        .post(
            "/api/v1/me/mfa/confirm",
            Some(token),
            json!({ "code": code }),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{confirmed:?}");
    (secret, code)
}

pub async fn the_whole_account_and_workspace_journey_works(app: TestApp) {
    app.sign_up("ada").await;
    app.sign_up("bob").await;
    let ada = app.log_in("ada").await;
    let me = app.get("/api/v1/me", &ada).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["username"], "ada");
    assert!(me.body["last_login_at"].is_string());
    assert!(me.body.get("password_hash").is_none() && me.body.get("mfa_secret").is_none());

    // MFA: enroll, then a login needs the second step.
    let (secret, _) = enroll_mfa(&app, &ada).await;
    assert_eq!(app.get("/api/v1/me", &ada).await.body["mfa_enabled"], true);
    let first = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "ada@example.test", "password": "ada-password"}),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body["mfa_required"], true);
    assert!(first.body.get("token").is_none());
    let challenge = first.body["challenge_token"].as_str().unwrap();
    let second = app
        .post(
            "/api/v1/auth/login/mfa",
            None,
            json!({"challenge_token": challenge, "code": totp_code(&secret, 1)}),
        )
        .await;
    assert_eq!(second.status, StatusCode::OK, "{second:?}");
    let ada = second.body["token"].as_str().unwrap().to_owned();
    let cookie = second.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.starts_with("confab_session="));

    // Workspace with its general channel.
    let created = app
        .post(
            "/api/v1/workspaces",
            Some(&ada),
            json!({"name": "Analytical Engines", "domain": "engines"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    assert_eq!(created.body["membership"]["role"], "owner");
    assert_eq!(created.body["general_channel"]["name"], "general");
    assert_eq!(created.body["general_channel"]["is_general"], true);
    let ws = created.body["workspace"]["id"].as_str().unwrap().to_owned();
    let updated = app
        .patch(
            &format!("/api/v1/workspaces/{ws}"),
            &ada,
            json!({"description": "Difference and analytical", "settings": {"retention_days": 90}}),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{updated:?}");
    assert_eq!(updated.body["workspace"]["settings"]["retention_days"], 90);

    // Invite Bob by e-mail; he accepts.
    let invite = app
        .post(
            &format!("/api/v1/workspaces/{ws}/invitations"),
            Some(&ada),
            json!({"email": "bob@example.test", "role": "member"}),
        )
        .await;
    assert_eq!(invite.status, StatusCode::CREATED, "{invite:?}");
    assert_eq!(invite.body["invitation"]["max_uses"], 1);
    let invitation_token = invite.body["token"].as_str().unwrap().to_owned();
    let bob = app.log_in("bob").await;
    app.verify_email("bob").await;
    let accepted = app
        .post(
            "/api/v1/invitations/accept",
            Some(&bob),
            json!({"token": invitation_token}),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{accepted:?}");
    assert_eq!(accepted.body["membership"]["role"], "member");
    let bob_id = app.user_id(&bob).await;
    let listed = app.get("/api/v1/workspaces", &bob).await;
    assert_eq!(listed.body["workspaces"].as_array().unwrap().len(), 1);
    let members = app
        .get(&format!("/api/v1/workspaces/{ws}/members"), &bob)
        .await;
    assert_eq!(members.status, StatusCode::OK);
    assert_eq!(members.body["members"].as_array().unwrap().len(), 2);
    // Each with the public part of the account, for the names people see.
    let bob_entry = members.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user_id"] == json!(bob_id))
        .unwrap()
        .clone();
    assert_eq!(bob_entry["username"], "bob");
    assert_eq!(bob_entry["display_name"], "bob display");
    assert_eq!(bob_entry["role"], "member");
    assert!(bob_entry.get("email").is_none());

    // Roles: Bob becomes admin, then guest.
    for role in ["admin", "guest"] {
        let changed = app
            .patch(
                &format!("/api/v1/workspaces/{ws}/members/{bob_id}"),
                &ada,
                json!({"role": role, "title": "Engineer"}),
            )
            .await;
        assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
        assert_eq!(changed.body["role"], role);
        assert_eq!(changed.body["title"], "Engineer");
    }
    let guests = app
        .get(&format!("/api/v1/workspaces/{ws}/members?role=guest"), &ada)
        .await;
    assert_eq!(guests.body["members"].as_array().unwrap().len(), 1);

    // Deactivated, Bob no longer sees the workspace; reactivated, he does.
    let deactivated = app
        .post(
            &format!("/api/v1/workspaces/{ws}/members/{bob_id}/deactivate"),
            Some(&ada),
            json!({}),
        )
        .await;
    assert_eq!(deactivated.status, StatusCode::OK);
    assert_eq!(deactivated.body["status"], "deactivated");
    assert_eq!(
        app.get(&format!("/api/v1/workspaces/{ws}"), &bob)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert!(app.get("/api/v1/workspaces", &bob).await.body["workspaces"]
        .as_array()
        .unwrap()
        .is_empty());
    let reactivated = app
        .post(
            &format!("/api/v1/workspaces/{ws}/members/{bob_id}/reactivate"),
            Some(&ada),
            json!({}),
        )
        .await;
    assert_eq!(reactivated.body["status"], "active");
    assert_eq!(
        app.get(&format!("/api/v1/workspaces/{ws}"), &bob)
            .await
            .status,
        StatusCode::OK
    );

    // An e-mail invitation is for its address only (single use is checked
    // in `invitations_are_single_use_and_let_leavers_back`).
    let carol = app.user("carol").await;
    let foreign = app
        .post(
            "/api/v1/invitations/accept",
            Some(&carol),
            json!({"token": invitation_token}),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{foreign:?}");
}

/// The routes of one workspace, with the body each is called with.
fn workspace_routes(ws: &str, member: &str, invitation: &str) -> Vec<(Method, String, Value)> {
    vec![
        (Method::GET, format!("/api/v1/workspaces/{ws}"), Value::Null),
        (
            Method::PATCH,
            format!("/api/v1/workspaces/{ws}"),
            json!({"name": "Renamed"}),
        ),
        (
            Method::GET,
            format!("/api/v1/workspaces/{ws}/members"),
            Value::Null,
        ),
        (
            Method::PATCH,
            format!("/api/v1/workspaces/{ws}/members/{member}"),
            json!({"title": "X"}),
        ),
        (
            Method::POST,
            format!("/api/v1/workspaces/{ws}/members/{member}/deactivate"),
            json!({}),
        ),
        (
            Method::POST,
            format!("/api/v1/workspaces/{ws}/members/{member}/reactivate"),
            json!({}),
        ),
        (
            Method::GET,
            format!("/api/v1/workspaces/{ws}/invitations"),
            Value::Null,
        ),
        (
            Method::POST,
            format!("/api/v1/workspaces/{ws}/invitations"),
            json!({"role": "member"}),
        ),
        (
            Method::DELETE,
            format!("/api/v1/workspaces/{ws}/invitations/{invitation}"),
            Value::Null,
        ),
    ]
}

pub async fn every_route_refuses_outsiders_guests_deactivated_and_anonymous(app: TestApp) {
    let owner = app.user("owner").await;
    let ws = app.workspace(&owner, "Secret Garden").await;
    let member = app.user("member").await;
    app.join(&owner, &ws, &member, "member").await;
    let member_id = app.user_id(&member).await;
    let guest = app.user("guest").await;
    app.join(&owner, &ws, &guest, "guest").await;
    let gone = app.user("gone").await;
    app.join(&owner, &ws, &gone, "member").await;
    let gone_id = app.user_id(&gone).await;
    let deactivate = app
        .post(
            &format!("/api/v1/workspaces/{ws}/members/{gone_id}/deactivate"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert_eq!(deactivate.status, StatusCode::OK);
    let outsider = app.user("outsider").await;
    app.workspace(&outsider, "Elsewhere").await;
    let invitation = app
        .post(
            &format!("/api/v1/workspaces/{ws}/invitations"),
            Some(&owner),
            json!({}),
        )
        .await
        .body["invitation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let routes = workspace_routes(&ws, &member_id, &invitation);
    // Documented answers: anonymous 401, outsider and deactivated 404 (the
    // workspace does not exist for them), guest 200 for reading the
    // workspace and 403 for everything else.
    for (method, path, body) in &routes {
        let body = (!body.is_null()).then(|| body.clone());
        let anonymous = app.call(method.clone(), path, None, body.clone()).await;
        assert_eq!(
            anonymous.status,
            StatusCode::UNAUTHORIZED,
            "anonymous {method} {path}"
        );
        for (who, token) in [("outsider", &outsider), ("deactivated", &gone)] {
            let reply = app
                .call(method.clone(), path, Some(token), body.clone())
                .await;
            assert_eq!(
                reply.status,
                StatusCode::NOT_FOUND,
                "{who} {method} {path}: {reply:?}"
            );
            let text = reply.body.to_string();
            assert!(
                !text.contains("Secret Garden") && !text.contains(&member_id),
                "{who} saw data: {text}"
            );
        }
        let as_guest = app
            .call(method.clone(), path, Some(&guest), body.clone())
            .await;
        let expected = if *method == Method::GET && path.ends_with(&ws) {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(
            as_guest.status, expected,
            "guest {method} {path}: {as_guest:?}"
        );
    }
    // A forged or malformed token is anonymous.
    for token in ["forged", &"A".repeat(43)] {
        let reply = app.get(&format!("/api/v1/workspaces/{ws}"), token).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    // Nothing changed.
    let ws_now = app.get(&format!("/api/v1/workspaces/{ws}"), &owner).await;
    assert_eq!(ws_now.body["workspace"]["name"], "Secret Garden");
    let member_now = app
        .get(&format!("/api/v1/workspaces/{ws}/members"), &owner)
        .await;
    let members = member_now.body["members"].as_array().unwrap();
    assert!(members.iter().all(|m| m["title"].is_null()));
    assert!(members
        .iter()
        .any(|m| m["user_id"] == member_id.as_str() && m["status"] == "active"));
}

pub async fn bad_input_gets_a_clear_error_and_changes_nothing(app: TestApp) {
    let owner = app.user("owner").await;
    let ws = app.workspace(&owner, "Tidy").await;
    let url = |path: &str| format!("{}{path}", app.base);

    // Oversized body.
    let huge = json!({"name": "x".repeat(300_000)});
    let reply = TestApp::reply(
        app.http
            .post(url("/api/v1/workspaces"))
            .bearer_auth(&owner)
            .json(&huge)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{reply:?}");
    assert_eq!(reply.code(), "too_large");

    // Malformed JSON, invalid UTF-8, wrong content type.
    for (body, content_type) in [
        (b"{\"name\": ".to_vec(), "application/json"),
        (
            vec![b'{', b'"', b'n', b'"', b':', b'"', 0xff, 0xfe, b'"', b'}'],
            "application/json",
        ),
        (b"name=x".to_vec(), "application/x-www-form-urlencoded"),
    ] {
        let reply = TestApp::reply(
            app.http
                .post(url("/api/v1/workspaces"))
                .bearer_auth(&owner)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
        assert_eq!(reply.code(), "invalid");
    }

    // Missing and unknown fields, invalid values.
    for body in [
        json!({}),
        json!({"name": "A", "colour": "red"}),
        json!({"name": "   "}),
        json!({"name": "A", "domain": "-bad-"}),
    ] {
        let reply = app
            .post("/api/v1/workspaces", Some(&owner), body.clone())
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {reply:?}");
    }
    let reply = app
        .patch(
            &format!("/api/v1/workspaces/{ws}"),
            &owner,
            json!({"settings": {"retention_days": -3}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"]["field"], "settings.retention_days");
    let reply = app
        .post(
            "/api/v1/auth/signup",
            None,
            json!({"email": "not-an-email", "username": "x y", "display_name": "", "password": "short"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"]["field"], "email");

    // Foreign and malformed ids are simply not found.
    let other = app.user("other").await;
    let foreign = app.workspace(&other, "Foreign").await;
    for path in [
        format!("/api/v1/workspaces/{foreign}"),
        "/api/v1/workspaces/not-a-uuid".to_owned(),
        format!("/api/v1/workspaces/{}", uuid::Uuid::now_v7()),
    ] {
        assert_eq!(
            app.get(&path, &owner).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let reply = app
        .patch(
            &format!(
                "/api/v1/workspaces/{ws}/members/{}",
                app.user_id(&other).await
            ),
            &owner,
            json!({"title": "Spy"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = app
        .get(
            &format!("/api/v1/workspaces/{ws}/members?cursor=%%%"),
            &owner,
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"]["field"], "cursor");

    // A revoked invitation.
    let invite = app
        .post(
            &format!("/api/v1/workspaces/{ws}/invitations"),
            Some(&owner),
            json!({"expires_in_days": 1}),
        )
        .await;
    let token = invite.body["token"].as_str().unwrap().to_owned();
    let invitation_id: confab_core::id::InvitationId = invite.body["invitation"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let joiner = app.user("joiner").await;
    let revoke = app
        .call(
            Method::DELETE,
            &format!("/api/v1/workspaces/{ws}/invitations/{invitation_id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(revoke.status, StatusCode::OK);
    let refused = app
        .post(
            "/api/v1/invitations/accept",
            Some(&joiner),
            json!({"token": token}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{refused:?}");
    assert_eq!(refused.body["error"]["field"], "invitation");
    // An expired one, not revoked.
    let mut expired = confab_core::model::Invitation {
        id: confab_core::id::InvitationId::new(),
        workspace_id: ws.parse().unwrap(),
        token_hash: "0".repeat(64),
        email: None,
        role: confab_core::model::WorkspaceRole::Member,
        max_uses: None,
        use_count: 0,
        expires_at: confab_core::time::now() - chrono::Duration::hours(1),
        revoked_at: None,
        created_by: app.user_id(&owner).await.parse().unwrap(),
        created_at: confab_core::time::now() - chrono::Duration::days(2),
    };
    // Store an expired invitation whose token we know.
    let known_token = "B".repeat(43);
    expired.token_hash = confab_service::hash_token(&known_token);
    app.stores
        .workspaces
        .create_invitation(&expired)
        .await
        .unwrap();
    let refused = app
        .post(
            "/api/v1/invitations/accept",
            Some(&joiner),
            json!({"token": known_token}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{refused:?}");
    assert_eq!(refused.body["error"]["field"], "invitation");
    assert!(
        app.get("/api/v1/workspaces", &joiner).await.body["workspaces"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Oversized headers.
    let reply = TestApp::reply(
        app.http
            .get(url("/api/v1/me"))
            .bearer_auth(&owner)
            .header("x-padding", "p".repeat(20_000))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);

    // After all that, the workspace is as it was.
    let now = app.get(&format!("/api/v1/workspaces/{ws}"), &owner).await;
    assert_eq!(now.body["workspace"]["name"], "Tidy");
    assert_eq!(now.body["workspace"]["settings"], json!({}));
    assert_eq!(
        app.get("/api/v1/workspaces", &owner).await.body["workspaces"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

pub async fn login_does_not_reveal_accounts_and_is_rate_limited(app: TestApp) {
    app.sign_up("dora").await;
    // Signing up again with the same address looks the same as a new account.
    let again = app
        .post(
            "/api/v1/auth/signup",
            None,
            json!({"email": "DORA@example.test", "username": "dora2", "display_name": "D", "password": "another-password"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    // Every attempt from here on must count in one per-minute window.
    within_one_minute_window(std::time::Duration::from_secs(15)).await;
    let wrong_password = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "dora@example.test", "password": "nope-nope"}),
        )
        .await;
    let no_account = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "nobody@example.test", "password": "nope-nope"}),
        )
        .await;
    assert_eq!(wrong_password.status, StatusCode::UNAUTHORIZED);
    assert_eq!(no_account.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_password.body, no_account.body);
    // The original password still works; the second sign-up changed nothing.
    app.log_in("dora").await;

    // Per-account limit: the default allows 10 attempts a minute.
    let mut limited = None;
    for _ in 0..12 {
        let reply = app
            .post(
                "/api/v1/auth/login",
                None,
                json!({"email": "dora@example.test", "password": "wrong-wrong"}),
            )
            .await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(reply);
            break;
        }
    }
    let limited = limited.expect("login attempts are limited");
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(limited.code(), "rate_limited");
}

fn sign_up_body(username: &str, email: &str) -> Value {
    json!({"email": email, "username": username, "display_name": username,
           "password": "some-password"})
}

pub async fn password_resets_by_mail_work_once_and_reveal_no_accounts(app: TestApp) {
    within_window(
        std::time::Duration::from_secs(3600),
        std::time::Duration::from_secs(60),
    )
    .await;
    let session = app.user("rhea").await;
    let ask = |email: &str| {
        app.post(
            "/api/v1/auth/password-reset/request",
            None,
            json!({ "email": email }),
        )
    };
    let known = ask("rhea@example.test").await;
    let unknown = ask("nobody@example.test").await;
    assert_eq!(known.status, StatusCode::ACCEPTED, "{known:?}");
    assert_eq!((unknown.status, &unknown.body), (known.status, &known.body));
    assert_eq!(ask("not an address").await.status, StatusCode::BAD_REQUEST);
    // The mail goes after the answer.
    let mut code = None;
    for _ in 0..100 {
        code = app.reset_code("rhea@example.test");
        if code.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let code = code.expect("a reset mail");
    assert!(app.mails_to("nobody@example.test").is_empty());

    let reset = |token: &str, password: &str| {
        app.post(
            "/api/v1/auth/password-reset",
            None,
            json!({ "token": token, "password": password }),
        )
    };
    assert_eq!(
        reset("not-a-token", "rhea-new-password").await.status,
        StatusCode::NOT_FOUND
    );
    // A password refused leaves the link usable.
    let short = reset(&code, "short").await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST, "{short:?}");
    assert_eq!(short.body["error"]["field"], "password");
    let done = reset(&code, "rhea-new-password").await;
    assert_eq!(done.status, StatusCode::OK, "{done:?}");
    assert_eq!(done.body["username"], "rhea");
    assert_eq!(
        reset(&code, "rhea-third-password").await.status,
        StatusCode::NOT_FOUND
    );
    // Every session ended; only the new password logs in.
    assert_eq!(
        app.get("/api/v1/me", &session).await.status,
        StatusCode::UNAUTHORIZED
    );
    let log_in = |password: &str| {
        app.post(
            "/api/v1/auth/login",
            None,
            json!({"email": "rhea@example.test", "password": password}),
        )
    };
    assert_eq!(
        log_in("rhea-password").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(log_in("rhea-new-password").await.status, StatusCode::OK);
    // Three requests an hour for one address.
    assert_eq!(ask("rhea@example.test").await.status, StatusCode::ACCEPTED);
    assert_eq!(ask("rhea@example.test").await.status, StatusCode::ACCEPTED);
    let refused = ask("Rhea@Example.test").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{refused:?}");
}

pub async fn sign_up_checks_the_username_first_and_is_rate_limited(app: TestApp) {
    within_window(
        std::time::Duration::from_secs(3600),
        std::time::Duration::from_secs(60),
    )
    .await;
    app.sign_up("hana").await;
    // A known username answers the same whether or not the address is
    // registered, on every database.
    let registered = app
        .post(
            "/api/v1/auth/signup",
            None,
            sign_up_body("hana", "hana@example.test"),
        )
        .await;
    let unregistered = app
        .post(
            "/api/v1/auth/signup",
            None,
            sign_up_body("HANA", "candidate@example.test"),
        )
        .await;
    assert_eq!(registered.status, StatusCode::CONFLICT, "{registered:?}");
    assert_eq!(registered.body, unregistered.body);
    assert_eq!(registered.body["error"]["field"], "username");
    // Twenty sign-ups an hour from one address (three were made above).
    for i in 3..20 {
        let reply = app
            .post(
                "/api/v1/auth/signup",
                None,
                sign_up_body(&format!("hana{i}"), &format!("hana{i}@example.test")),
            )
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "sign-up {i}: {reply:?}");
    }
    let refused = app
        .post(
            "/api/v1/auth/signup",
            None,
            sign_up_body("hana20", "hana20@example.test"),
        )
        .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{refused:?}");
    assert!(refused.headers.contains_key("retry-after"));
    // Bad input is answered before the limit is counted or a hash computed.
    let bad = app
        .post(
            "/api/v1/auth/signup",
            None,
            sign_up_body("x", "not-an-address"),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{bad:?}");
}

pub async fn login_limits_count_every_spelling_of_an_address_together(app: TestApp) {
    app.sign_up("ivo").await;
    within_one_minute_window(std::time::Duration::from_secs(20)).await;
    let spellings = [
        "ivo@example.test",
        " ivo@example.test",
        "IVO@example.test ",
        "Ivo@Example.Test",
    ];
    for attempt in 0..10 {
        let reply = app
            .post(
                "/api/v1/auth/login",
                None,
                json!({"email": spellings[attempt % 4], "password": "wrong-wrong"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let limited = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": " IVO@EXAMPLE.TEST", "password": "ivo-password"}),
        )
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{limited:?}");
    // An address too long to exist is refused like a wrong password.
    let huge = format!("{}@example.test", "a".repeat(250_000));
    let reply = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": huge, "password": "whatever"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
}

pub async fn sessions_end_on_logout_password_change_and_deactivation(app: TestApp) {
    app.sign_up("eve").await;
    let first = app.log_in("eve").await;
    let second = app.log_in("eve").await;
    let third = app.log_in("eve").await;
    let sessions = app.get("/api/v1/me/sessions", &first).await;
    assert_eq!(sessions.body["sessions"].as_array().unwrap().len(), 3);

    // Cookie authentication works like the bearer token.
    let by_cookie = TestApp::reply(
        app.http
            .get(format!("{}/api/v1/me", app.base))
            .header("cookie", format!("theme=dark; confab_session={second}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(by_cookie.status, StatusCode::OK);

    let out = app
        .post("/api/v1/auth/logout", Some(&first), json!({}))
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/v1/me", &first).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get("/api/v1/me", &second).await.status, StatusCode::OK);

    // One session is revoked by its handle from another; only it ends. The
    // handle is not the stored hash of the token, and names nothing for
    // anyone else.
    let fourth = app.log_in("eve").await;
    let listed = app.get("/api/v1/me/sessions", &second).await;
    let handles: Vec<(String, bool)> = listed.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                s["current"] == json!(true),
            )
        })
        .collect();
    assert_eq!(handles.len(), 3, "{:?}", listed.body);
    let fourth_handle = {
        let mine = app.get("/api/v1/me/sessions", &fourth).await;
        let current = mine.body["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["current"] == json!(true))
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        current
    };
    assert_ne!(fourth_handle, confab_service::hash_token(&fourth));
    assert!(handles
        .iter()
        .any(|(h, current)| *h == fourth_handle && !current));
    app.sign_up("mallory").await;
    let mallory = app.log_in("mallory").await;
    let path = format!("/api/v1/me/sessions/{fourth_handle}");
    let foreign = app.call(Method::DELETE, &path, Some(&mallory), None).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/me", &fourth).await.status, StatusCode::OK);
    let revoked = app.call(Method::DELETE, &path, Some(&second), None).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/v1/me", &fourth).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get("/api/v1/me", &second).await.status, StatusCode::OK);
    let again = app.call(Method::DELETE, &path, Some(&second), None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    // Changing the password ends every other session.
    let wrong = app
        .post(
            "/api/v1/me/password",
            Some(&second),
            json!({"current_password": "not-it-at-all", "new_password": "eve-new-password"}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    let changed = app
        .post(
            "/api/v1/me/password",
            Some(&second),
            json!({"current_password": "eve-password", "new_password": "eve-new-password"}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/v1/me", &third).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get("/api/v1/me", &second).await.status, StatusCode::OK);
    let old = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "eve@example.test", "password": "eve-password"}),
        )
        .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let fresh = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "eve@example.test", "password": "eve-new-password"}),
        )
        .await;
    let fresh = fresh.body["token"].as_str().unwrap().to_owned();

    // Logout everywhere.
    let all = app
        .post("/api/v1/auth/logout-all", Some(&fresh), json!({}))
        .await;
    assert_eq!(all.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/v1/me", &second).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/api/v1/me", &fresh).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Deactivating the account ends its sessions and refuses new logins.
    let token = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "eve@example.test", "password": "eve-new-password"}),
        )
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let gone = app
        .call(
            Method::DELETE,
            "/api/v1/me",
            Some(&token),
            Some(json!({"password": "eve-new-password"})),
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/v1/me", &token).await.status,
        StatusCode::UNAUTHORIZED
    );
    let refused = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "eve@example.test", "password": "eve-new-password"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
}

/// A six-digit code that is none of the account's codes for the steps
/// around now.
fn wrong_code(secret: &str) -> String {
    let right: Vec<String> = (-2..=2).map(|s| totp_code(secret, s)).collect();
    (0..)
        .map(|n| format!("{n:06}"))
        .find(|c| !right.contains(c))
        .unwrap()
}

pub async fn parallel_wrong_codes_evaluate_no_more_than_allowed(app: TestApp) {
    let token = app.user("gil").await;
    let (secret, _) = enroll_mfa(&app, &token).await;
    let login = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "gil@example.test", "password": "gil-password"}),
        )
        .await;
    let challenge = login.body["challenge_token"].as_str().unwrap().to_owned();
    let wrong = wrong_code(&secret);
    let guesses = (0..200).map(|_| {
        app.post(
            "/api/v1/auth/login/mfa",
            None,
            json!({"challenge_token": challenge, "code": wrong}),
        )
    });
    let replies = futures::future::join_all(guesses).await;
    let count = |status: StatusCode| replies.iter().filter(|r| r.status == status).count();
    // Five codes are evaluated (and refused); every other guess is refused
    // before its code is looked at.
    assert_eq!(count(StatusCode::BAD_REQUEST), 5, "{:?}", replies[0]);
    assert_eq!(count(StatusCode::TOO_MANY_REQUESTS), 195);
    let right = app
        .post(
            "/api/v1/auth/login/mfa",
            None,
            json!({"challenge_token": challenge, "code": totp_code(&secret, 0)}),
        )
        .await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS, "{right:?}");
}

pub async fn mfa_codes_are_single_use_and_failures_lock(app: TestApp) {
    let token = app.user("fay").await;
    let (secret, confirmation) = enroll_mfa(&app, &token).await;
    let login = || async {
        app.post(
            "/api/v1/auth/login",
            None,
            json!({"email": "fay@example.test", "password": "fay-password"}),
        )
        .await
        .body["challenge_token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // The confirmation used its step; replaying its code fails.
    let challenge = login().await;
    let replay = app
        .post(
            "/api/v1/auth/login/mfa",
            None,
            json!({"challenge_token": challenge, "code": confirmation}),
        )
        .await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "{replay:?}");
    assert_eq!(replay.body["error"]["field"], "code");
    // A code two steps away is outside the window.
    let far = app
        .post(
            "/api/v1/auth/login/mfa",
            None,
            json!({"challenge_token": challenge, "code": totp_code(&secret, 3)}),
        )
        .await;
    assert_eq!(far.status, StatusCode::BAD_REQUEST);
    // Disabling needs a fresh code too; wrong ones count against the account.
    let wrong = app
        .post(
            "/api/v1/me/mfa/disable",
            Some(&token),
            json!({"code": "000000"}),
        )
        .await;
    assert!(matches!(wrong.status, StatusCode::BAD_REQUEST), "{wrong:?}");
    let mut locked = false;
    for _ in 0..5 {
        let reply = app
            .post(
                "/api/v1/auth/login/mfa",
                None,
                json!({"challenge_token": challenge, "code": "123456"}),
            )
            .await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            locked = true;
            assert!(reply.headers.contains_key("retry-after"));
            break;
        }
    }
    assert!(locked, "failed codes lock the account's second factor");
    // While locked, even a correct code is refused, on every path.
    let good = app
        .post(
            "/api/v1/auth/login/mfa",
            None,
            json!({"challenge_token": challenge, "code": totp_code(&secret, 1)}),
        )
        .await;
    assert_eq!(good.status, StatusCode::TOO_MANY_REQUESTS);
    let disable = app
        .post(
            "/api/v1/me/mfa/disable",
            Some(&token),
            json!({"code": totp_code(&secret, 1)}),
        )
        .await;
    assert_eq!(disable.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        app.get("/api/v1/me", &token).await.body["mfa_enabled"],
        true
    );
    // A forged challenge is refused.
    let forged = app
        .post(
            "/api/v1/auth/login/mfa",
            None,
            json!({"challenge_token": "C".repeat(43), "code": "123456"}),
        )
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
}

pub async fn workspaces_requiring_2fa_refuse_members_without_it(app: TestApp) {
    let owner = app.user("gail").await;
    let ws = app.workspace(&owner, "Vault").await;
    let member = app.user("hugo").await;
    app.join(&owner, &ws, &member, "member").await;
    let early = app
        .patch(
            &format!("/api/v1/workspaces/{ws}"),
            &owner,
            json!({"require_2fa": true}),
        )
        .await;
    assert_eq!(
        early.status,
        StatusCode::BAD_REQUEST,
        "the owner must enroll first"
    );
    enroll_mfa(&app, &owner).await;
    let on = app
        .patch(
            &format!("/api/v1/workspaces/{ws}"),
            &owner,
            json!({"require_2fa": true}),
        )
        .await;
    assert_eq!(on.status, StatusCode::OK, "{on:?}");
    let refused = app.get(&format!("/api/v1/workspaces/{ws}"), &member).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("two-factor"));
    enroll_mfa(&app, &member).await;
    assert_eq!(
        app.get(&format!("/api/v1/workspaces/{ws}"), &member)
            .await
            .status,
        StatusCode::OK
    );
}

pub async fn member_rules_protect_owners_and_limits(app: TestApp) {
    let owner = app.user("ivan").await;
    let ws = app.workspace(&owner, "Rules").await;
    let owner_id = app.user_id(&owner).await;
    let admin = app.user("jane").await;
    app.join(&owner, &ws, &admin, "admin").await;

    // The last owner cannot leave or be demoted; admins cannot touch owners.
    let leave = app
        .post(
            &format!("/api/v1/workspaces/{ws}/leave"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert_eq!(leave.status, StatusCode::CONFLICT);
    let demote = app
        .patch(
            &format!("/api/v1/workspaces/{ws}/members/{owner_id}"),
            &owner,
            json!({"role": "member"}),
        )
        .await;
    assert_eq!(demote.status, StatusCode::CONFLICT);
    let by_admin = app
        .post(
            &format!("/api/v1/workspaces/{ws}/members/{owner_id}/deactivate"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(by_admin.status, StatusCode::FORBIDDEN);
    let promote = app
        .patch(
            &format!(
                "/api/v1/workspaces/{ws}/members/{}",
                app.user_id(&admin).await
            ),
            &admin,
            json!({"role": "owner"}),
        )
        .await;
    assert_eq!(promote.status, StatusCode::FORBIDDEN);
    let admin_invites_owner = app
        .post(
            &format!("/api/v1/workspaces/{ws}/invitations"),
            Some(&admin),
            json!({"role": "owner"}),
        )
        .await;
    assert_eq!(admin_invites_owner.status, StatusCode::FORBIDDEN);

    // max_members: two members already; a limit of three admits one more.
    let limit = app
        .patch(
            &format!("/api/v1/workspaces/{ws}"),
            &owner,
            json!({"max_members": 3}),
        )
        .await;
    assert_eq!(limit.status, StatusCode::OK);
    let link = app
        .post(
            &format!("/api/v1/workspaces/{ws}/invitations"),
            Some(&owner),
            json!({"max_uses": 5}),
        )
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let third = app.user("kim").await;
    let fourth = app.user("lee").await;
    let ok = app
        .post(
            "/api/v1/invitations/accept",
            Some(&third),
            json!({"token": link}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    let full = app
        .post(
            "/api/v1/invitations/accept",
            Some(&fourth),
            json!({"token": link}),
        )
        .await;
    assert_eq!(full.status, StatusCode::CONFLICT);
    assert_eq!(full.body["error"]["field"], "max_members");

    // Admins may not change billing; owners may.
    let billing = app
        .patch(
            &format!("/api/v1/workspaces/{ws}"),
            &admin,
            json!({"plan_type": "enterprise"}),
        )
        .await;
    assert_eq!(billing.status, StatusCode::FORBIDDEN);

    // A member may leave; afterwards the workspace is gone for them.
    let leave = app
        .post(
            &format!("/api/v1/workspaces/{ws}/leave"),
            Some(&third),
            json!({}),
        )
        .await;
    assert_eq!(leave.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/api/v1/workspaces/{ws}"), &third)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

pub async fn the_openapi_document_matches_the_routes(app: TestApp) {
    let doc = app
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc.body["servers"][0]["url"], "/api/v1");
    let paths = doc.body["paths"].as_object().unwrap();
    for expected in [
        "/auth/login",
        "/me",
        "/workspaces/{workspace}/members",
        "/invitations/accept",
        "/ws",
    ] {
        assert!(paths.contains_key(expected), "{expected} is documented");
    }
    assert!(doc.body["components"]["schemas"]["ErrorBody"].is_object());
    let params = &doc.body["paths"]["/workspaces/{workspace}/members"]["get"]["parameters"];
    let cursor = params
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "cursor")
        .unwrap();
    assert_eq!(cursor["in"], "query");
    // Every documented operation is served: called without a session it is
    // refused (401), its input is (400) or, for a public read, what it
    // names is not found (404, the same as an unknown id).
    let id = uuid::Uuid::now_v7().to_string();
    let mut operations = 0;
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let concrete = path
                .replace("{workspace}", &id)
                .replace("{user}", &id)
                .replace("{invitation}", &id)
                .replace("{channel}", &id)
                .replace("{message}", &id)
                .replace("{emoji}", "smile");
            let reply = app
                .call(
                    method.clone(),
                    &format!("/api/v1{concrete}"),
                    None,
                    Some(json!({})),
                )
                .await;
            let public = operation["security"] == json!([{}]);
            // A public read names what it reads: an unknown one is not found.
            let expected = match (public, method == Method::GET) {
                (true, true) => StatusCode::NOT_FOUND,
                (true, false) => StatusCode::BAD_REQUEST,
                (false, _) => StatusCode::UNAUTHORIZED,
            };
            assert_eq!(reply.status, expected, "{method} {path}: {reply:?}");
            operations += 1;
        }
    }
    assert!(operations >= 24, "{operations} operations documented");
}

/// A workspace with an owner, a member and a guest; their tokens and ids.
pub(crate) struct Team {
    pub ws: String,
    pub owner: String,
    pub member: String,
    pub member_id: String,
    pub guest: String,
    pub guest_id: String,
}

pub(crate) async fn team(app: &TestApp) -> Team {
    let owner = app.user("olga").await;
    let ws = app.workspace(&owner, "Team").await;
    let member = app.user("mark").await;
    app.join(&owner, &ws, &member, "member").await;
    let guest = app.user("gus").await;
    app.join(&owner, &ws, &guest, "guest").await;
    Team {
        member_id: app.user_id(&member).await,
        guest_id: app.user_id(&guest).await,
        ws,
        owner,
        member,
        guest,
    }
}

pub(crate) async fn new_channel(app: &TestApp, token: &str, ws: &str, body: Value) -> String {
    let reply = app
        .post(
            &format!("/api/v1/workspaces/{ws}/channels"),
            Some(token),
            body,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    reply.body["id"].as_str().unwrap().to_owned()
}

fn names(reply: &crate::app::Reply, list: &str) -> Vec<String> {
    reply.body[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c.get("channel").unwrap_or(c)["name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

pub async fn channels_are_created_listed_browsed_and_changed(app: TestApp) {
    let t = team(&app).await;
    let dev = new_channel(
        &app,
        &t.member,
        &t.ws,
        json!({"name": "dev", "topic": "builds"}),
    )
    .await;
    let _secret = new_channel(
        &app,
        &t.owner,
        &t.ws,
        json!({"name": "secret", "private": true}),
    )
    .await;
    for bad in ["Dev Team", "", "a.b", &"x".repeat(81)] {
        let reply = app
            .post(
                &format!("/api/v1/workspaces/{}/channels", t.ws),
                Some(&t.member),
                json!({"name": bad}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let clash = app
        .post(
            &format!("/api/v1/workspaces/{}/channels", t.ws),
            Some(&t.owner),
            json!({"name": "dev"}),
        )
        .await;
    assert_eq!(clash.status, StatusCode::CONFLICT);
    assert_eq!(clash.body["error"]["field"], "name");
    let by_guest = app
        .post(
            &format!("/api/v1/workspaces/{}/channels", t.ws),
            Some(&t.guest),
            json!({"name": "mine"}),
        )
        .await;
    assert_eq!(by_guest.status, StatusCode::FORBIDDEN);

    let mine = app
        .get(&format!("/api/v1/workspaces/{}/channels", t.ws), &t.member)
        .await;
    assert_eq!(names(&mine, "channels"), ["dev", "general"]);
    let browse = app
        .get(
            &format!("/api/v1/workspaces/{}/channels/browse?limit=1", t.ws),
            &t.member,
        )
        .await;
    assert_eq!(names(&browse, "channels"), ["dev"]);
    let cursor = browse.body["next_cursor"].as_str().unwrap();
    let rest = app
        .get(
            &format!(
                "/api/v1/workspaces/{}/channels/browse?cursor={cursor}",
                t.ws
            ),
            &t.member,
        )
        .await;
    assert_eq!(
        names(&rest, "channels"),
        ["general"],
        "private channels are not browsable"
    );

    // Any member sets the topic; only admins rename.
    let owner_joins = app
        .post(
            &format!("/api/v1/channels/{dev}/join"),
            Some(&t.owner),
            json!({}),
        )
        .await;
    assert_eq!(owner_joins.status, StatusCode::OK);
    let topic = app
        .patch(
            &format!("/api/v1/channels/{dev}"),
            &t.owner,
            json!({"topic": "releases"}),
        )
        .await;
    assert_eq!(topic.status, StatusCode::OK);
    assert_eq!(topic.body["topic"], "releases");
    let renamed = app
        .patch(
            &format!("/api/v1/channels/{dev}"),
            &t.member,
            json!({"name": "development", "allow_threads": false}),
        )
        .await;
    assert_eq!(
        renamed.status,
        StatusCode::OK,
        "the creator is the channel's admin: {renamed:?}"
    );
    assert_eq!(renamed.body["allow_threads"], false);
    let other = app.user("otto").await;
    app.join(&t.owner, &t.ws, &other, "member").await;
    app.post(
        &format!("/api/v1/channels/{dev}/join"),
        Some(&other),
        json!({}),
    )
    .await;
    let refused = app
        .patch(
            &format!("/api/v1/channels/{dev}"),
            &other,
            json!({"name": "mine"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let read = app.get(&format!("/api/v1/channels/{dev}"), &other).await;
    assert_eq!(read.body["channel"]["name"], "development");
    assert_eq!(read.body["membership"]["role"], "member");
}

pub async fn archived_and_general_channels_have_their_rules(app: TestApp) {
    let t = team(&app).await;
    let general = app
        .get(&format!("/api/v1/workspaces/{}/channels", t.ws), &t.member)
        .await
        .body["channels"][0]["channel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let leave_general = app
        .post(
            &format!("/api/v1/channels/{general}/leave"),
            Some(&t.member),
            json!({}),
        )
        .await;
    assert_eq!(leave_general.status, StatusCode::BAD_REQUEST);
    let archive_general = app
        .post(
            &format!("/api/v1/channels/{general}/archive"),
            Some(&t.owner),
            json!({}),
        )
        .await;
    assert_eq!(archive_general.status, StatusCode::BAD_REQUEST);

    let ops = new_channel(&app, &t.owner, &t.ws, json!({"name": "ops"})).await;
    let by_member = app
        .post(
            &format!("/api/v1/channels/{ops}/archive"),
            Some(&t.member),
            json!({}),
        )
        .await;
    assert_eq!(by_member.status, StatusCode::FORBIDDEN);
    let archived = app
        .post(
            &format!("/api/v1/channels/{ops}/archive"),
            Some(&t.owner),
            json!({}),
        )
        .await;
    assert_eq!(archived.status, StatusCode::OK);
    assert_eq!(archived.body["is_archived"], true);
    assert!(archived.body["archived_at"].is_string());
    // Read-only now.
    let topic = app
        .patch(
            &format!("/api/v1/channels/{ops}"),
            &t.owner,
            json!({"topic": "x"}),
        )
        .await;
    assert_eq!(topic.status, StatusCode::CONFLICT);
    let join = app
        .post(
            &format!("/api/v1/channels/{ops}/join"),
            Some(&t.member),
            json!({}),
        )
        .await;
    assert_eq!(join.status, StatusCode::CONFLICT);
    assert_eq!(
        app.get(&format!("/api/v1/channels/{ops}"), &t.member)
            .await
            .status,
        StatusCode::OK
    );
    let back = app
        .post(
            &format!("/api/v1/channels/{ops}/unarchive"),
            Some(&t.owner),
            json!({}),
        )
        .await;
    assert_eq!(back.body["is_archived"], false);
    let join = app
        .post(
            &format!("/api/v1/channels/{ops}/join"),
            Some(&t.member),
            json!({}),
        )
        .await;
    assert_eq!(join.status, StatusCode::OK);
}

pub async fn conversations_are_one_per_set_of_people(app: TestApp) {
    let t = team(&app).await;
    let owner_id = app.user_id(&t.owner).await;
    let open = |token: String, users: Vec<String>| {
        let app = &app;
        let ws = t.ws.clone();
        async move {
            app.post(
                &format!("/api/v1/workspaces/{ws}/conversations"),
                Some(&token),
                json!({"users": users}),
            )
            .await
        }
    };
    let first = open(t.owner.clone(), vec![t.member_id.clone()]).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    assert_eq!(first.body["channel_type"], "direct");
    let again = open(t.member.clone(), vec![owner_id.clone()]).await;
    assert_eq!(
        again.body["id"], first.body["id"],
        "found again from either side"
    );
    let group = open(
        t.owner.clone(),
        vec![t.member_id.clone(), t.guest_id.clone()],
    )
    .await;
    assert_eq!(group.body["channel_type"], "group");
    assert_ne!(group.body["id"], first.body["id"]);
    let same_group = open(
        t.guest.clone(),
        vec![t.member_id.clone(), owner_id.clone(), t.member_id.clone()],
    )
    .await;
    assert_eq!(same_group.body["id"], group.body["id"]);
    let stranger = app.user("stan").await;
    let stranger_id = app.user_id(&stranger).await;
    let refused = open(t.owner.clone(), vec![stranger_id]).await;
    assert_eq!(
        refused.status,
        StatusCode::NOT_FOUND,
        "only members of the workspace"
    );
    let empty = open(t.owner.clone(), vec![]).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    let dm = first.body["id"].as_str().unwrap();
    let archive = app
        .post(
            &format!("/api/v1/channels/{dm}/archive"),
            Some(&t.owner),
            json!({}),
        )
        .await;
    assert_eq!(archive.status, StatusCode::BAD_REQUEST);
    let mine = app
        .get(&format!("/api/v1/workspaces/{}/channels", t.ws), &t.member)
        .await;
    assert_eq!(
        mine.body["channels"].as_array().unwrap().len(),
        3,
        "general, the DM and the group"
    );
}

pub async fn private_channels_and_conversations_are_invisible_to_outsiders(app: TestApp) {
    let t = team(&app).await;
    let private = new_channel(
        &app,
        &t.member,
        &t.ws,
        json!({"name": "hush", "private": true}),
    )
    .await;
    let public = new_channel(&app, &t.member, &t.ws, json!({"name": "open"})).await;
    let dm = app
        .post(
            &format!("/api/v1/workspaces/{}/conversations", t.ws),
            Some(&t.member),
            json!({"users": [t.guest_id]}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let outsider = app.user("olaf").await;
    app.workspace(&outsider, "Other").await;
    for channel in [&private, &dm] {
        // The workspace owner is not in them: not found, like for anyone outside.
        for token in [&t.owner, &outsider] {
            for path in [
                format!("/api/v1/channels/{channel}"),
                format!("/api/v1/channels/{channel}/members"),
            ] {
                let reply = app.get(&path, token).await;
                assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
                assert!(!reply.body.to_string().contains("hush"));
            }
            let join = app
                .post(
                    &format!("/api/v1/channels/{channel}/join"),
                    Some(token),
                    json!({}),
                )
                .await;
            assert_eq!(join.status, StatusCode::NOT_FOUND);
        }
    }
    // Guests see only what they were added to.
    assert_eq!(
        app.get(&format!("/api/v1/channels/{public}"), &t.guest)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/api/v1/channels/{dm}"), &t.guest)
            .await
            .status,
        StatusCode::OK
    );
    let browse = app
        .get(
            &format!("/api/v1/workspaces/{}/channels/browse", t.ws),
            &t.guest,
        )
        .await;
    assert_eq!(browse.status, StatusCode::FORBIDDEN);
    let added = app
        .post(
            &format!("/api/v1/channels/{public}/members"),
            Some(&t.member),
            json!({"user_id": t.guest_id}),
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{added:?}");
    assert_eq!(
        app.get(&format!("/api/v1/channels/{public}"), &t.guest)
            .await
            .status,
        StatusCode::OK
    );
    // Removed from the private channel: access ends at once.
    let friend = app.user("fred").await;
    app.join(&t.owner, &t.ws, &friend, "member").await;
    let friend_id = app.user_id(&friend).await;
    app.add_to_channel(&t.member, &private, &friend_id).await;
    assert_eq!(
        app.get(&format!("/api/v1/channels/{private}"), &friend)
            .await
            .status,
        StatusCode::OK
    );
    let removed = app
        .call(
            Method::DELETE,
            &format!("/api/v1/channels/{private}/members/{friend_id}"),
            Some(&t.member),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/api/v1/channels/{private}"), &friend)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

pub async fn channel_membership_is_managed_by_its_rules(app: TestApp) {
    let t = team(&app).await;
    let room = new_channel(&app, &t.owner, &t.ws, json!({"name": "room"})).await;
    let joined = app
        .post(
            &format!("/api/v1/channels/{room}/join"),
            Some(&t.member),
            json!({}),
        )
        .await;
    assert_eq!(joined.body["role"], "member");
    // Notification level: one's own only.
    let mine = app
        .patch(
            &format!("/api/v1/channels/{room}/members/{}", t.member_id),
            &t.member,
            json!({"notification_level": "mentions"}),
        )
        .await;
    assert_eq!(mine.status, StatusCode::OK);
    assert_eq!(mine.body["notification_level"], "mentions");
    let owner_id = app.user_id(&t.owner).await;
    let theirs = app
        .patch(
            &format!("/api/v1/channels/{room}/members/{owner_id}"),
            &t.member,
            json!({"notification_level": "none"}),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::FORBIDDEN);
    // Roles: admins only.
    let promote = app
        .patch(
            &format!("/api/v1/channels/{room}/members/{}", t.member_id),
            &t.member,
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(promote.status, StatusCode::FORBIDDEN);
    let promote = app
        .patch(
            &format!("/api/v1/channels/{room}/members/{}", t.member_id),
            &t.owner,
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(promote.body["role"], "admin");
    // Members listed with a cursor.
    let page = app
        .get(
            &format!("/api/v1/channels/{room}/members?limit=1"),
            &t.member,
        )
        .await;
    assert_eq!(page.body["members"].as_array().unwrap().len(), 1);
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let rest = app
        .get(
            &format!("/api/v1/channels/{room}/members?cursor={cursor}"),
            &t.member,
        )
        .await;
    assert_eq!(rest.body["members"].as_array().unwrap().len(), 1);
    assert!(rest.body["next_cursor"].is_null());
    // Leave and come back.
    let left = app
        .post(
            &format!("/api/v1/channels/{room}/leave"),
            Some(&t.member),
            json!({}),
        )
        .await;
    assert_eq!(left.status, StatusCode::NO_CONTENT);
    let twice = app
        .post(
            &format!("/api/v1/channels/{room}/leave"),
            Some(&t.member),
            json!({}),
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    // Guests cannot add people; removing someone not there is not found.
    let by_guest = app
        .post(
            &format!("/api/v1/channels/{room}/members"),
            Some(&t.guest),
            json!({"user_id": t.member_id}),
        )
        .await;
    assert_eq!(
        by_guest.status,
        StatusCode::NOT_FOUND,
        "the guest cannot see the channel"
    );
    let absent = app
        .call(
            Method::DELETE,
            &format!("/api/v1/channels/{room}/members/{}", t.guest_id),
            Some(&t.owner),
            None,
        )
        .await;
    assert_eq!(absent.status, StatusCode::NOT_FOUND);
}

pub(crate) async fn general_of(app: &TestApp, token: &str, ws: &str) -> String {
    let list = app
        .get(&format!("/api/v1/workspaces/{ws}/channels"), token)
        .await;
    list.body["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"]["is_general"] == true)
        .unwrap()["channel"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) async fn say(
    app: &TestApp,
    token: &str,
    channel: &str,
    body: Value,
) -> crate::app::Reply {
    app.post(
        &format!("/api/v1/channels/{channel}/messages"),
        Some(token),
        body,
    )
    .await
}

fn ids(reply: &crate::app::Reply) -> Vec<String> {
    reply.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

pub async fn channels_tell_who_joined_left_and_set_the_topic(app: TestApp) {
    let t = team(&app).await;
    let room = new_channel(&app, &t.owner, &t.ws, json!({"name": "room"})).await;
    let joined = app
        .post(
            &format!("/api/v1/channels/{room}/join"),
            Some(&t.member),
            json!({}),
        )
        .await;
    assert_eq!(joined.status, StatusCode::OK, "{joined:?}");
    let topic = app
        .patch(
            &format!("/api/v1/channels/{room}"),
            &t.member,
            json!({"topic": "launch day"}),
        )
        .await;
    assert_eq!(topic.status, StatusCode::OK, "{topic:?}");
    // Setting the same topic again says nothing new.
    let again = app
        .patch(
            &format!("/api/v1/channels/{room}"),
            &t.member,
            json!({"topic": "launch day"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{again:?}");
    say(&app, &t.owner, &room, json!({"content": "welcome"})).await;
    let left = app
        .post(
            &format!("/api/v1/channels/{room}/leave"),
            Some(&t.member),
            json!({}),
        )
        .await;
    assert_eq!(left.status, StatusCode::NO_CONTENT);
    let history = app
        .get(&format!("/api/v1/channels/{room}/messages"), &t.owner)
        .await;
    let seen: Vec<(String, String, String)> = history.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["message_type"].as_str().unwrap().to_owned(),
                m["content"].as_str().unwrap().to_owned(),
                m["formatted_content"]["subtype"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    let notice = |content: &str, subtype: &str| ("system".into(), content.into(), subtype.into());
    assert_eq!(
        seen,
        vec![
            notice("has left the channel", "channel_leave"),
            ("text".into(), "welcome".into(), String::new()),
            notice("set the channel topic: launch day", "channel_topic"),
            notice("has joined the channel", "channel_join"),
        ]
    );
    let messages = history.body["messages"].as_array().unwrap();
    assert!(messages
        .iter()
        .filter(|m| m["message_type"] == "system")
        .all(|m| m["user_id"] == json!(t.member_id)));
    // A notice is no one's to rewrite, and counts as nothing unread.
    let joined_notice = messages[3]["id"].as_str().unwrap();
    let rejoined = app
        .post(
            &format!("/api/v1/channels/{room}/join"),
            Some(&t.member),
            json!({}),
        )
        .await;
    assert_eq!(rejoined.status, StatusCode::OK, "{rejoined:?}");
    let edit = app
        .patch(
            &format!("/api/v1/messages/{joined_notice}"),
            &t.member,
            json!({"content": "was never here"}),
        )
        .await;
    assert_eq!(edit.status, StatusCode::FORBIDDEN, "{edit:?}");
    let state = app
        .get(&format!("/api/v1/channels/{room}/read-state"), &t.member)
        .await;
    assert_eq!(state.body["unread"].as_i64(), Some(1), "only the welcome");
    // The owner sees the member's notices, none of them unread.
    let owner_state = app
        .get(&format!("/api/v1/channels/{room}/read-state"), &t.owner)
        .await;
    assert_eq!(
        owner_state.body["unread"].as_i64(),
        Some(0),
        "{owner_state:?}"
    );
}

pub async fn messages_are_posted_paged_edited_and_deleted(app: TestApp) {
    let t = team(&app).await;
    let general = general_of(&app, &t.owner, &t.ws).await;
    let first = say(
        &app,
        &t.member,
        &general,
        json!({"content": "hello", "client_msg_id": "c-1"}),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    assert_eq!(first.body["content"], "hello");
    let retry = say(
        &app,
        &t.member,
        &general,
        json!({"content": "hello again?", "client_msg_id": "c-1"}),
    )
    .await;
    assert_eq!(retry.status, StatusCode::OK);
    assert_eq!(retry.body["id"], first.body["id"]);
    assert_eq!(retry.body["content"], "hello");

    let mut posted = vec![first.body["id"].as_str().unwrap().to_owned()];
    for i in 0..6 {
        // A millisecond apart, so that times taken from the messages (which
        // carry their id's millisecond) tell them apart.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        let reply = say(
            &app,
            &t.owner,
            &general,
            json!({"content": format!("m{i}"), "formatted_content": {"blocks": []}}),
        )
        .await;
        posted.push(reply.body["id"].as_str().unwrap().to_owned());
    }
    let newest_first: Vec<String> = posted.iter().rev().cloned().collect();
    let page1 = app
        .get(
            &format!("/api/v1/channels/{general}/messages?limit=4"),
            &t.member,
        )
        .await;
    assert_eq!(ids(&page1), newest_first[..4]);
    let cursor = page1.body["next_cursor"].as_str().unwrap();
    let page2 = app
        .get(
            &format!("/api/v1/channels/{general}/messages?limit=4&before={cursor}"),
            &t.member,
        )
        .await;
    assert_eq!(ids(&page2), newest_first[4..]);
    assert_eq!(page2.body["authors"].as_array().unwrap().len(), 2);
    assert!(page2.body["next_cursor"].is_null());
    let after = app
        .get(
            &format!(
                "/api/v1/channels/{general}/messages?limit=2&after={}",
                posted[1]
            ),
            &t.member,
        )
        .await;
    assert_eq!(ids(&after), [posted[3].clone(), posted[2].clone()]);

    // Around a message, and jumps to a time.
    let around = app
        .get(
            &format!(
                "/api/v1/channels/{general}/messages?limit=3&around={}",
                posted[3]
            ),
            &t.member,
        )
        .await;
    assert_eq!(
        ids(&around),
        [posted[4].clone(), posted[3].clone(), posted[2].clone()]
    );
    let at = app
        .get(&format!("/api/v1/messages/{}", posted[3]), &t.member)
        .await
        .body["created_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let encoded = at.replace('+', "%2B");
    let since = app
        .get(
            &format!("/api/v1/channels/{general}/messages?limit=2&since={encoded}"),
            &t.member,
        )
        .await;
    assert_eq!(
        ids(&since),
        [posted[4].clone(), posted[3].clone()],
        "{since:?}"
    );
    let until = app
        .get(
            &format!("/api/v1/channels/{general}/messages?limit=2&until={encoded}"),
            &t.member,
        )
        .await;
    assert_eq!(ids(&until), [posted[2].clone(), posted[1].clone()]);
    for bad in [
        "since=yesterday",
        &format!("before={}&after={}", posted[1], posted[2]),
    ] {
        let reply = app
            .get(
                &format!("/api/v1/channels/{general}/messages?{bad}"),
                &t.member,
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
    }

    // Edits: the author only.
    let m = &posted[0];
    let edited = app
        .patch(
            &format!("/api/v1/messages/{m}"),
            &t.member,
            json!({"content": "hello, world"}),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK);
    assert_eq!(edited.body["edit_count"], 1);
    assert!(edited.body["edited_at"].is_string());
    let by_other = app
        .patch(
            &format!("/api/v1/messages/{m}"),
            &t.owner,
            json!({"content": "hijack"}),
        )
        .await;
    assert_eq!(by_other.status, StatusCode::FORBIDDEN);
    // Deletes: the author or an admin; content is gone for everyone.
    let other = app.user("olive").await;
    app.join(&t.owner, &t.ws, &other, "member").await;
    let refused = app
        .call(
            Method::DELETE,
            &format!("/api/v1/messages/{m}"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/api/v1/messages/{m}"),
            Some(&t.owner),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = app.get(&format!("/api/v1/messages/{m}"), &t.member).await;
    assert_eq!(gone.body["is_deleted"], true);
    assert_eq!(gone.body["content"], "");
    let history = app
        .get(&format!("/api/v1/channels/{general}/messages"), &t.member)
        .await;
    assert!(!ids(&history).contains(m));
    let edit_deleted = app
        .patch(
            &format!("/api/v1/messages/{m}"),
            &t.member,
            json!({"content": "back"}),
        )
        .await;
    assert_eq!(edit_deleted.status, StatusCode::NOT_FOUND);

    // Read markers move forward only.
    let read = app
        .post(
            &format!("/api/v1/channels/{general}/read"),
            Some(&t.member),
            json!({"message_id": posted[5]}),
        )
        .await;
    assert_eq!(read.body["moved"], true);
    let back = app
        .post(
            &format!("/api/v1/channels/{general}/read"),
            Some(&t.member),
            json!({"message_id": posted[2]}),
        )
        .await;
    assert_eq!(back.body["moved"], false);
}

pub async fn threads_reactions_and_pins_work(app: TestApp) {
    let t = team(&app).await;
    let general = general_of(&app, &t.owner, &t.ws).await;
    let parent = say(
        &app,
        &t.owner,
        &general,
        json!({"content": "thread starter"}),
    )
    .await
    .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut replies = Vec::new();
    for i in 0..3 {
        let reply = say(
            &app,
            &t.member,
            &general,
            json!({"content": format!("r{i}"), "thread_id": parent}),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        replies.push(reply.body["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        app.get(&format!("/api/v1/messages/{parent}"), &t.member)
            .await
            .body["reply_count"],
        3
    );
    let listed = app
        .get(
            &format!("/api/v1/messages/{parent}/replies?limit=2"),
            &t.member,
        )
        .await;
    assert_eq!(ids(&listed), replies[..2]);
    let more = app
        .get(
            &format!(
                "/api/v1/messages/{parent}/replies?after={}",
                listed.body["next_cursor"].as_str().unwrap()
            ),
            &t.member,
        )
        .await;
    assert_eq!(ids(&more), replies[2..]);
    let nested = say(
        &app,
        &t.member,
        &general,
        json!({"content": "deeper", "thread_id": replies[0]}),
    )
    .await;
    assert_eq!(nested.status, StatusCode::BAD_REQUEST);
    let top = app
        .get(&format!("/api/v1/channels/{general}/messages"), &t.member)
        .await;
    assert_eq!(
        ids(&top),
        std::slice::from_ref(&parent),
        "replies stay in their thread"
    );

    // Reactions.
    for (token, emoji) in [
        (&t.owner, "thumbsup"),
        (&t.member, "thumbsup"),
        (&t.member, ":tada:"),
    ] {
        let reply = app
            .post(
                &format!("/api/v1/messages/{parent}/reactions"),
                Some(token),
                json!({"emoji": emoji}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    }
    let twice = app
        .post(
            &format!("/api/v1/messages/{parent}/reactions"),
            Some(&t.owner),
            json!({"emoji": "thumbsup"}),
        )
        .await;
    assert_eq!(twice.status, StatusCode::OK);
    let list = app
        .get(&format!("/api/v1/messages/{parent}/reactions"), &t.member)
        .await;
    assert_eq!(list.status, StatusCode::OK);
    let by_guest = app
        .get(&format!("/api/v1/messages/{parent}/reactions"), &t.guest)
        .await;
    assert_eq!(
        by_guest.status,
        StatusCode::NOT_FOUND,
        "guests do not join general"
    );
    let reactions = list.body["reactions"].as_array().unwrap();
    let thumbs = reactions.iter().find(|r| r["name"] == "thumbsup").unwrap();
    assert_eq!(thumbs["count"], 2);
    let removed = app
        .call(
            Method::DELETE,
            &format!("/api/v1/messages/{parent}/reactions/tada"),
            Some(&t.member),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK);
    assert_eq!(removed.body["reactions"].as_array().unwrap().len(), 1);
    let spaced = app
        .post(
            &format!("/api/v1/messages/{parent}/reactions"),
            Some(&t.owner),
            json!({"emoji": "thumbs up"}),
        )
        .await;
    assert_eq!(spaced.status, StatusCode::BAD_REQUEST);

    // Pins.
    let pinned = app
        .post(
            &format!("/api/v1/messages/{}/pin", replies[1]),
            Some(&t.member),
            json!({}),
        )
        .await;
    assert_eq!(pinned.body["is_pinned"], true);
    app.post(
        &format!("/api/v1/messages/{parent}/pin"),
        Some(&t.owner),
        json!({}),
    )
    .await;
    let pins = app
        .get(&format!("/api/v1/channels/{general}/pins"), &t.member)
        .await;
    assert_eq!(ids(&pins), [parent.clone(), replies[1].clone()]);
    let unpinned = app
        .call(
            Method::DELETE,
            &format!("/api/v1/messages/{parent}/pin"),
            Some(&t.owner),
            None,
        )
        .await;
    assert_eq!(unpinned.body["is_pinned"], false);

    // Threads can be turned off per channel.
    let quiet = new_channel(&app, &t.owner, &t.ws, json!({"name": "quiet"})).await;
    app.patch(
        &format!("/api/v1/channels/{quiet}"),
        &t.owner,
        json!({"allow_threads": false}),
    )
    .await;
    let top = say(
        &app,
        &t.owner,
        &quiet,
        json!({"content": "no threads here"}),
    )
    .await
    .body["id"]
        .clone();
    let refused = say(
        &app,
        &t.owner,
        &quiet,
        json!({"content": "reply", "thread_id": top}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
}

pub async fn message_routes_refuse_outsiders_and_bad_input(app: TestApp) {
    let t = team(&app).await;
    let private = new_channel(
        &app,
        &t.member,
        &t.ws,
        json!({"name": "inner", "private": true}),
    )
    .await;
    let secret = say(&app, &t.member, &private, json!({"content": "the plan"}))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let outsider = app.user("oscar").await;
    for token in [&t.owner, &t.guest, &outsider] {
        for path in [
            format!("/api/v1/channels/{private}/messages"),
            format!("/api/v1/channels/{private}/pins"),
            format!("/api/v1/messages/{secret}"),
            format!("/api/v1/messages/{secret}/replies"),
            format!("/api/v1/messages/{secret}/reactions"),
        ] {
            let reply = app.get(&path, token).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
            assert!(!reply.body.to_string().contains("the plan"));
        }
        let read = app
            .post(
                &format!("/api/v1/channels/{private}/read"),
                Some(token),
                json!({"message_id": secret}),
            )
            .await;
        assert_eq!(read.status, StatusCode::NOT_FOUND);
        let post = say(&app, token, &private, json!({"content": "let me in"})).await;
        assert_eq!(post.status, StatusCode::NOT_FOUND);
    }
    // A public channel can be read by any member, but only its members post.
    let public = new_channel(&app, &t.member, &t.ws, json!({"name": "lobby"})).await;
    say(&app, &t.member, &public, json!({"content": "welcome"})).await;
    assert_eq!(
        app.get(&format!("/api/v1/channels/{public}/messages"), &t.owner)
            .await
            .status,
        StatusCode::OK
    );
    let not_joined = say(&app, &t.owner, &public, json!({"content": "hi"})).await;
    assert_eq!(not_joined.status, StatusCode::FORBIDDEN);

    // Bad input: each a clear 4xx, and nothing is posted.
    let general = general_of(&app, &t.owner, &t.ws).await;
    let elsewhere = say(
        &app,
        &t.member,
        &public,
        json!({"content": "cursor elsewhere"}),
    )
    .await
    .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (body, status) in [
        (json!({"content": ""}), StatusCode::BAD_REQUEST),
        (json!({"content": "   "}), StatusCode::BAD_REQUEST),
        (
            json!({"content": "x".repeat(40_001)}),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            json!({"content": "x", "formatted_content": "not json structure"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"content": "x", "thread_id": elsewhere}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"content": "x", "thread_id": "not-an-id"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"content": "x", "client_msg_id": "k".repeat(101)}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let reply = say(&app, &t.owner, &general, body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {reply:?}");
    }
    let cursor = app
        .get(
            &format!("/api/v1/channels/{general}/messages?before={elsewhere}"),
            &t.owner,
        )
        .await;
    assert_eq!(cursor.status, StatusCode::BAD_REQUEST);
    assert_eq!(cursor.body["error"]["field"], "cursor");
    let history = app
        .get(&format!("/api/v1/channels/{general}/messages"), &t.owner)
        .await;
    assert!(ids(&history).is_empty(), "nothing was posted");

    // Archived channels refuse writes; a removed member loses access at once.
    let friend = app.user("fiona").await;
    app.join(&t.owner, &t.ws, &friend, "member").await;
    let friend_id = app.user_id(&friend).await;
    app.add_to_channel(&t.member, &private, &friend_id).await;
    assert_eq!(
        app.get(&format!("/api/v1/messages/{secret}"), &friend)
            .await
            .status,
        StatusCode::OK
    );
    app.call(
        Method::DELETE,
        &format!("/api/v1/channels/{private}/members/{friend_id}"),
        Some(&t.member),
        None,
    )
    .await;
    assert_eq!(
        app.get(&format!("/api/v1/messages/{secret}"), &friend)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    app.post(
        &format!("/api/v1/channels/{private}/archive"),
        Some(&t.member),
        json!({}),
    )
    .await;
    let archived = say(&app, &t.member, &private, json!({"content": "still here?"})).await;
    assert_eq!(archived.status, StatusCode::CONFLICT);
}

pub async fn concurrent_posts_retries_and_replies_are_exact(app: TestApp) {
    let t = team(&app).await;
    let general = general_of(&app, &t.owner, &t.ws).await;
    // 50 parallel retries of one client_msg_id: one message.
    let retries = (0..50).map(|i| {
        say(
            &app,
            &t.member,
            &general,
            json!({"content": format!("try {i}"), "client_msg_id": "once"}),
        )
    });
    let results = futures::future::join_all(retries).await;
    let created = results
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1);
    let distinct: std::collections::HashSet<&Value> =
        results.iter().map(|r| &r.body["id"]).collect();
    assert_eq!(distinct.len(), 1);
    // 100 parallel replies: reply_count 100.
    let parent = results[0].body["id"].as_str().unwrap().to_owned();
    let replies = (0..100).map(|i| {
        say(
            &app,
            &t.owner,
            &general,
            json!({"content": format!("reply {i}"), "thread_id": parent}),
        )
    });
    for reply in futures::future::join_all(replies).await {
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    }
    assert_eq!(
        app.get(&format!("/api/v1/messages/{parent}"), &t.owner)
            .await
            .body["reply_count"],
        100
    );
    // 100 parallel posts: each in history exactly once, in the order of their ids.
    let room = new_channel(&app, &t.owner, &t.ws, json!({"name": "busy"})).await;
    let posts = (0..100).map(|i| {
        say(
            &app,
            &t.owner,
            &room,
            json!({"content": format!("post {i}")}),
        )
    });
    let mut posted: Vec<String> = futures::future::join_all(posts)
        .await
        .into_iter()
        .map(|r| r.body["id"].as_str().unwrap().to_owned())
        .collect();
    posted.sort();
    posted.reverse();
    let history = app
        .get(
            &format!("/api/v1/channels/{room}/messages?limit=200"),
            &t.owner,
        )
        .await;
    assert_eq!(ids(&history), posted);
}

pub async fn unread_and_mention_counts_follow_the_read_marker(app: TestApp) {
    let t = team(&app).await;
    let general = general_of(&app, &t.owner, &t.ws).await;
    say(&app, &t.owner, &general, json!({"content": "morning"})).await;
    say(
        &app,
        &t.owner,
        &general,
        json!({"content": "@mark can you look?"}),
    )
    .await;
    let last = say(
        &app,
        &t.owner,
        &general,
        json!({"content": "@here standup"}),
    )
    .await
    .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    say(&app, &t.member, &general, json!({"content": "on it @olga"})).await;
    let state = app
        .get(&format!("/api/v1/channels/{general}/read-state"), &t.member)
        .await;
    assert_eq!(state.status, StatusCode::OK, "{state:?}");
    assert_eq!(
        (
            state.body["unread"].as_i64(),
            state.body["mentions"].as_i64()
        ),
        (Some(3), Some(2))
    );
    let summary = app
        .get(&format!("/api/v1/workspaces/{}/unread", t.ws), &t.member)
        .await;
    assert_eq!(summary.body["total_unread"], 3);
    assert_eq!(summary.body["total_mentions"], 2);
    let owner_state = app
        .get(&format!("/api/v1/channels/{general}/read-state"), &t.owner)
        .await;
    assert_eq!(
        (
            owner_state.body["unread"].as_i64(),
            owner_state.body["mentions"].as_i64()
        ),
        (Some(1), Some(1))
    );
    let read = app
        .post(
            &format!("/api/v1/channels/{general}/read"),
            Some(&t.member),
            json!({"message_id": last}),
        )
        .await;
    assert_eq!(read.body["moved"], true, "{read:?}");
    let state = app
        .get(&format!("/api/v1/channels/{general}/read-state"), &t.member)
        .await;
    assert_eq!(
        (
            state.body["unread"].as_i64(),
            state.body["mentions"].as_i64()
        ),
        (Some(0), Some(0))
    );
    // Read state of a channel one cannot see is not found.
    let private = new_channel(
        &app,
        &t.owner,
        &t.ws,
        json!({"name": "own", "private": true}),
    )
    .await;
    let hidden = app
        .get(&format!("/api/v1/channels/{private}/read-state"), &t.member)
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
}

/// A request with a JSON body and exactly these headers (no bearer token).
async fn by_headers(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> crate::app::Reply {
    let mut request = app
        .http
        .request(method, format!("{}{path}", app.base))
        .json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    TestApp::reply(request.send().await.unwrap()).await
}

pub async fn cookie_changes_must_come_from_this_server(app: TestApp) {
    let t = team(&app).await;
    let general = general_of(&app, &t.owner, &t.ws).await;
    let cookie = format!("confab_session={}", t.member);
    let messages = format!("/api/v1/channels/{general}/messages");
    let post = |extra: &[(&'static str, &'static str)]| {
        let mut headers = vec![("cookie", cookie.as_str())];
        headers.extend_from_slice(extra);
        let (app, messages) = (&app, messages.clone());
        async move {
            by_headers(
                app,
                Method::POST,
                &messages,
                &headers,
                json!({"content": "by cookie"}),
            )
            .await
        }
    };
    // No origin at all, a sibling subdomain, a look-alike host, a same-site
    // fetch: refused.
    for extra in [
        &[][..],
        &[("origin", "https://evil.example.test")][..],
        &[("origin", "https://chat.example.test.evil.test")][..],
        &[("sec-fetch-site", "same-site")][..],
    ] {
        let refused = post(extra).await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{extra:?}: {refused:?}"
        );
    }
    // This server's own pages: accepted.
    let by_origin = post(&[("origin", crate::app::PUBLIC_URL)]).await;
    assert_eq!(by_origin.status, StatusCode::CREATED, "{by_origin:?}");
    let by_fetch_site = post(&[("sec-fetch-site", "same-origin")]).await;
    assert_eq!(
        by_fetch_site.status,
        StatusCode::CREATED,
        "{by_fetch_site:?}"
    );
    // Reading by cookie needs no origin; a bearer token needs none to write.
    let read = app
        .http
        .get(format!("{}{messages}", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let bearer = say(&app, &t.member, &general, json!({"content": "by token"})).await;
    assert_eq!(bearer.status, StatusCode::CREATED);
    // Two messages were posted by cookie, one by token; nothing else.
    let history = app.get(&messages, &t.owner).await;
    assert_eq!(history.body["messages"].as_array().unwrap().len(), 3);
    // A body-less change (logout) by cookie without an origin changes nothing.
    let logout = by_headers(
        &app,
        Method::POST,
        "/api/v1/auth/logout",
        &[("cookie", &cookie)],
        json!({}),
    )
    .await;
    assert_eq!(logout.status, StatusCode::FORBIDDEN, "{logout:?}");
    assert_eq!(
        app.get("/api/v1/me", &t.member).await.status,
        StatusCode::OK
    );
}

pub async fn read_positions_of_others_stay_private(app: TestApp) {
    let t = team(&app).await;
    let general = general_of(&app, &t.owner, &t.ws).await;
    let posted = say(&app, &t.owner, &general, json!({"content": "read me"})).await;
    let id = posted.body["id"].as_str().unwrap().to_owned();
    for token in [&t.owner, &t.member] {
        let read = app
            .post(
                &format!("/api/v1/channels/{general}/read"),
                Some(token),
                json!({"message_id": id}),
            )
            .await;
        assert!(read.status.is_success(), "{read:?}");
    }
    let members = app
        .get(&format!("/api/v1/channels/{general}/members"), &t.member)
        .await;
    assert_eq!(members.status, StatusCode::OK);
    let list = members.body["members"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    for member in list {
        let expected = if member["user_id"] == json!(t.member_id) {
            json!(id)
        } else {
            Value::Null
        };
        assert_eq!(member["last_read_message_id"], expected, "{member}");
    }
}

pub async fn direct_conversations_cannot_be_left_and_groups_reopen_whole(app: TestApp) {
    let t = team(&app).await;
    let owner_id = app.user_id(&t.owner).await;
    let path = format!("/api/v1/workspaces/{}/conversations", t.ws);
    let open = |token: &str, users: Vec<&str>| {
        let (token, body, path) = (token.to_owned(), json!({ "users": users }), &path);
        let app = &app;
        async move { app.post(path, Some(&token), body).await }
    };
    let leave = |channel: &str, token: &str| {
        let (path, token, app) = (
            format!("/api/v1/channels/{channel}/leave"),
            token.to_owned(),
            &app,
        );
        async move { app.post(&path, Some(&token), json!({})).await }
    };
    let direct = open(&t.owner, vec![&t.member_id]).await;
    let direct_id = direct.body["id"].as_str().unwrap().to_owned();
    let refused = leave(&direct_id, &t.member).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{refused:?}");
    let said = say(
        &app,
        &t.owner,
        &direct_id,
        json!({"content": "still here?"}),
    )
    .await;
    assert_eq!(said.status, StatusCode::CREATED);
    assert_eq!(
        app.get(&format!("/api/v1/channels/{direct_id}/messages"), &t.member)
            .await
            .status,
        StatusCode::OK
    );

    let group = open(&t.owner, vec![&t.member_id, &t.guest_id]).await;
    let group_id = group.body["id"].as_str().unwrap().to_owned();
    let left = leave(&group_id, &t.guest).await;
    assert_eq!(left.status, StatusCode::NO_CONTENT, "{left:?}");
    let history = format!("/api/v1/channels/{group_id}/messages");
    assert_eq!(
        app.get(&history, &t.guest).await.status,
        StatusCode::NOT_FOUND
    );
    // Reopening the same set of people brings the guest back.
    let reopened = open(&t.member, vec![&owner_id, &t.guest_id]).await;
    assert_eq!(reopened.body["id"], json!(group_id));
    assert_eq!(app.get(&history, &t.guest).await.status, StatusCode::OK);
}

/// Set `token`'s presence in `workspace` to `status`; asserts it worked.
pub(crate) async fn set_presence(app: &TestApp, token: &str, workspace: &str, status: &str) {
    let set = app
        .call(
            Method::PUT,
            &format!("/api/v1/workspaces/{workspace}/presence"),
            Some(token),
            Some(json!({ "status": status })),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{set:?}");
}

pub async fn guests_see_presence_only_of_people_they_share_a_channel_with(app: TestApp) {
    let t = team(&app).await;
    let owner_id = app.user_id(&t.owner).await;
    for token in [&t.owner, &t.member] {
        set_presence(&app, token, &t.ws, "away").await;
    }
    let path = format!(
        "/api/v1/workspaces/{}/presence?user_ids={owner_id},{}",
        t.ws, t.member_id
    );
    let ask = |token: &str| {
        let (token, path, app) = (token.to_owned(), &path, &app);
        async move { app.get(path, &token).await }
    };
    let statuses = |reply: crate::app::Reply| -> Vec<Value> {
        reply.body["presence"]
            .as_array()
            .unwrap_or_else(|| panic!("{reply:?}"))
            .iter()
            .map(|p| p["status"].clone())
            .collect()
    };
    assert_eq!(
        statuses(ask(&t.member).await),
        [json!("away"), json!("away")]
    );
    // The guest shares no channel yet: nobody's presence.
    assert_eq!(
        statuses(ask(&t.guest).await),
        [json!("offline"), json!("offline")]
    );
    let room = new_channel(
        &app,
        &t.owner,
        &t.ws,
        json!({"name": "room", "private": true}),
    )
    .await;
    app.add_to_channel(&t.owner, &room, &t.guest_id).await;
    assert_eq!(
        statuses(ask(&t.guest).await),
        [json!("away"), json!("offline")]
    );
}

pub async fn archived_channels_take_only_removals_and_role_changes(app: TestApp) {
    let t = team(&app).await;
    let ops = new_channel(&app, &t.owner, &t.ws, json!({"name": "ops"})).await;
    app.add_to_channel(&t.owner, &ops, &t.member_id).await;
    let archived = app
        .post(
            &format!("/api/v1/channels/{ops}/archive"),
            Some(&t.owner),
            json!({}),
        )
        .await;
    assert!(archived.status.is_success(), "{archived:?}");
    let typing = app
        .post(
            &format!("/api/v1/channels/{ops}/typing"),
            Some(&t.owner),
            json!({}),
        )
        .await;
    assert_eq!(typing.status, StatusCode::CONFLICT, "{typing:?}");
    // What remains: removing people and changing roles; not settings.
    let owner_id = app.user_id(&t.owner).await;
    let muted = app
        .patch(
            &format!("/api/v1/channels/{ops}/members/{owner_id}"),
            &t.owner,
            json!({"notification_level": "none"}),
        )
        .await;
    assert_eq!(muted.status, StatusCode::CONFLICT, "{muted:?}");
    let promoted = app
        .patch(
            &format!("/api/v1/channels/{ops}/members/{}", t.member_id),
            &t.owner,
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(promoted.status, StatusCode::OK, "{promoted:?}");
    assert_eq!(promoted.body["role"], "admin");
    let removed = app
        .call(
            Method::DELETE,
            &format!("/api/v1/channels/{ops}/members/{}", t.member_id),
            Some(&t.owner),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{removed:?}");
}

pub async fn query_string_errors_have_the_one_error_shape(app: TestApp) {
    let t = team(&app).await;
    let general = general_of(&app, &t.owner, &t.ws).await;
    for path in [
        format!("/api/v1/workspaces/{}/presence", t.ws),
        "/api/v1/ws?cursor=1&cursor=2".to_owned(),
        format!("/api/v1/channels/{general}/messages?limit=many"),
        format!("/api/v1/workspaces/{}/members?limit=-1", t.ws),
    ] {
        let reply = app.get(&path, &t.owner).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path}: {reply:?}");
        assert_eq!(reply.code(), "invalid", "{path}: {reply:?}");
        assert_eq!(reply.body["error"]["field"], "query", "{path}: {reply:?}");
    }
}

/// Invite `email` to `ws` as `by`; the invitation's token.
async fn invite(app: &TestApp, by: &str, ws: &str, body: Value) -> String {
    let invite = app
        .post(
            &format!("/api/v1/workspaces/{ws}/invitations"),
            Some(by),
            body,
        )
        .await;
    assert_eq!(invite.status, StatusCode::CREATED, "{invite:?}");
    invite.body["token"].as_str().unwrap().to_owned()
}

async fn accept(app: &TestApp, token: &str, invitation: &str) -> crate::app::Reply {
    app.post(
        "/api/v1/invitations/accept",
        Some(token),
        json!({ "token": invitation }),
    )
    .await
}

pub async fn invitations_are_single_use_and_let_leavers_back(app: TestApp) {
    let owner = app.user("opal").await;
    let ws = app.workspace(&owner, "Comeback").await;
    let dan = app.user("dan").await;
    app.verify_email("dan").await;
    let first = invite(&app, &owner, &ws, json!({"email": "dan@example.test"})).await;
    assert_eq!(accept(&app, &dan, &first).await.status, StatusCode::OK);
    let left = app
        .post(
            &format!("/api/v1/workspaces/{ws}/leave"),
            Some(&dan),
            json!({}),
        )
        .await;
    assert_eq!(left.status, StatusCode::NO_CONTENT, "{left:?}");
    // The same address, no longer a member: the used invitation is refused
    // for being used, nothing else.
    let reused = accept(&app, &dan, &first).await;
    assert_eq!(reused.status, StatusCode::CONFLICT, "{reused:?}");
    assert_eq!(reused.body["error"]["field"], "invitation");
    // A new invitation brings someone who left back.
    let second = invite(&app, &owner, &ws, json!({"email": "dan@example.test"})).await;
    let back = accept(&app, &dan, &second).await;
    assert_eq!(back.status, StatusCode::OK, "{back:?}");
    assert_eq!(back.body["membership"]["status"], "active");
    let workspace = format!("/api/v1/workspaces/{ws}");
    assert_eq!(app.get(&workspace, &dan).await.status, StatusCode::OK);
    // Someone an admin deactivated does not come back by invitation.
    let dan_id = app.user_id(&dan).await;
    let deactivated = app
        .post(
            &format!("{workspace}/members/{dan_id}/deactivate"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert_eq!(deactivated.status, StatusCode::OK, "{deactivated:?}");
    let link = invite(&app, &owner, &ws, json!({"max_uses": 5})).await;
    let refused = accept(&app, &dan, &link).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{refused:?}");
    assert_eq!(refused.body["error"]["field"], "user_id");
    assert_eq!(
        app.get(&workspace, &dan).await.status,
        StatusCode::NOT_FOUND
    );
    // Three invitations, listed newest first a page at a time.
    let mut seen = Vec::new();
    let mut path = format!("{workspace}/invitations?limit=2");
    loop {
        let page = app.get(&path, &owner).await;
        assert_eq!(page.status, StatusCode::OK, "{page:?}");
        for invitation in page.body["invitations"].as_array().unwrap() {
            seen.push(invitation["id"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("{workspace}/invitations?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 3);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "{seen:?}");
}

pub async fn reactivation_respects_the_member_limit(app: TestApp) {
    let owner = app.user("rhea").await;
    let ws = app.workspace(&owner, "Small").await;
    let workspace = format!("/api/v1/workspaces/{ws}");
    let limit = app
        .patch(&workspace, &owner, json!({"max_members": 2}))
        .await;
    assert_eq!(limit.status, StatusCode::OK, "{limit:?}");
    let link = invite(&app, &owner, &ws, json!({"max_uses": 5})).await;
    let (sam, tia) = (app.user("sam").await, app.user("tia").await);
    assert_eq!(accept(&app, &sam, &link).await.status, StatusCode::OK);
    let sam_id = app.user_id(&sam).await;
    let member = format!("{workspace}/members/{sam_id}");
    let off = app
        .post(&format!("{member}/deactivate"), Some(&owner), json!({}))
        .await;
    assert_eq!(off.status, StatusCode::OK, "{off:?}");
    // Sam's place is taken; bringing Sam back would pass the limit.
    assert_eq!(accept(&app, &tia, &link).await.status, StatusCode::OK);
    let back = app
        .post(&format!("{member}/reactivate"), Some(&owner), json!({}))
        .await;
    assert_eq!(back.status, StatusCode::CONFLICT, "{back:?}");
    assert_eq!(back.body["error"]["field"], "max_members");
    assert_eq!(
        app.get(&workspace, &sam).await.status,
        StatusCode::NOT_FOUND
    );
}

pub async fn mfa_changes_need_the_password_and_end_other_sessions(app: TestApp) {
    // The codes below are chosen relative to the current 30-second step
    // (one is the step before); a step boundary crossed midway would make
    // that one the code already used to enroll. So all of it runs in one
    // step.
    within_window(
        std::time::Duration::from_secs(30),
        std::time::Duration::from_secs(20),
    )
    .await;
    let first = app.user("uma").await;
    let second = app.log_in("uma").await;
    let wrong = app
        .post(
            "/api/v1/me/mfa/enroll",
            Some(&first),
            json!({"password": "not-her-password"}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{wrong:?}");
    assert_eq!(wrong.body["error"]["field"], "password");
    let missing = app
        .post("/api/v1/me/mfa/enroll", Some(&first), json!({}))
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST, "{missing:?}");
    // Turning MFA on ends every other session; the one that did it stays.
    let (secret, _) = enroll_mfa(&app, &first).await;
    // The seed is sealed at rest.
    let uma_id = app.user_id(&first).await.parse().unwrap();
    let stored = app.stores.users.get_user(uma_id).await.unwrap().unwrap();
    let stored = stored.mfa_secret.unwrap();
    assert!(
        stored.starts_with("v1:") && !stored.contains(&secret),
        "{stored}"
    );
    assert_eq!(
        app.get("/api/v1/me", &second).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get("/api/v1/me", &first).await.status, StatusCode::OK);
    let challenge_with = |password: &'static str| {
        let app = &app;
        async move {
            app.post(
                "/api/v1/auth/login",
                None,
                json!({"email": "uma@example.test", "password": password}),
            )
            .await
            .body["challenge_token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    // A login half done with the old password dies with it.
    let pending = challenge_with("uma-password").await;
    let changed = app
        .post(
            "/api/v1/me/password",
            Some(&first),
            json!({"current_password": "uma-password", "new_password": "uma-new-password"}),
        )
        .await;
    assert!(changed.status.is_success(), "{changed:?}");
    let stale = app
        .post(
            "/api/v1/auth/login/mfa",
            None,
            json!({"challenge_token": pending, "code": totp_code(&secret, 1)}),
        )
        .await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED, "{stale:?}");
    // Turning MFA off ends every other session too.
    let challenge = challenge_with("uma-new-password").await;
    let third = app
        .post(
            "/api/v1/auth/login/mfa",
            None,
            json!({"challenge_token": challenge, "code": totp_code(&secret, 1)}),
        )
        .await;
    assert_eq!(third.status, StatusCode::OK, "{third:?}");
    let third = third.body["token"].as_str().unwrap().to_owned();
    let off = app
        .post(
            "/api/v1/me/mfa/disable",
            Some(&first),
            json!({"code": totp_code(&secret, -1)}),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK, "{off:?}");
    assert_eq!(
        app.get("/api/v1/me", &third).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get("/api/v1/me", &first).await.status, StatusCode::OK);
}

pub async fn edit_history_has_its_own_endpoint(app: TestApp) {
    let t = team(&app).await;
    let general = general_of(&app, &t.owner, &t.ws).await;
    let posted = say(&app, &t.member, &general, json!({"content": "v0"})).await;
    let id = posted.body["id"].as_str().unwrap().to_owned();
    for i in 1..=3 {
        let edited = app
            .patch(
                &format!("/api/v1/messages/{id}"),
                &t.member,
                json!({ "content": format!("v{i}") }),
            )
            .await;
        assert_eq!(edited.status, StatusCode::OK, "{edited:?}");
        assert_eq!(edited.body["edit_count"], i);
    }
    let message = app.get(&format!("/api/v1/messages/{id}"), &t.owner).await;
    assert_eq!(message.body["edit_count"], 3);
    assert!(message.body.get("edit_history").is_none());
    let history = app
        .get(&format!("/api/v1/messages/{id}/history"), &t.owner)
        .await;
    assert_eq!(history.status, StatusCode::OK, "{history:?}");
    let contents: Vec<&str> = history.body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["v0", "v1", "v2"]);
    // Who cannot see the message cannot see its history.
    let outsider = app.user("ozzy").await;
    let hidden = app
        .get(&format!("/api/v1/messages/{id}/history"), &outsider)
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
}

pub async fn email_invitations_need_a_verified_address(app: TestApp) {
    let owner = app.user("vera").await;
    let ws = app.workspace(&owner, "Verified").await;
    let carl = app.user("carl").await;
    let me = app.get("/api/v1/me", &carl).await;
    assert_eq!(me.body["email_verified"], false);
    // One mail, at sign-up; signing up again with the address sends none.
    assert_eq!(app.mails_to("carl@example.test").len(), 1);
    let again = app
        .post(
            "/api/v1/auth/signup",
            None,
            json!({"email": "carl@example.test", "username": "carl2", "display_name": "C",
                   "password": "another-password"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(app.mails_to("carl@example.test").len(), 1);

    let invitation = invite(&app, &owner, &ws, json!({"email": "carl@example.test"})).await;
    // The invitation is mailed to its address, with its code.
    let mails = app.mails_to("carl@example.test");
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert!(mails[1].contains("invites you to Verified"), "{}", mails[1]);
    assert!(mails[1].contains(&invitation), "{}", mails[1]);
    let refused = accept(&app, &carl, &invitation).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    // A wrong code changes nothing; the mailed one verifies, once.
    let path = "/api/v1/auth/verify-email";
    let wrong = app.post(path, None, json!({"token": "x".repeat(43)})).await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND, "{wrong:?}");
    let code = app.verification_code("carl@example.test");
    let verified = app.post(path, None, json!({ "token": code })).await;
    assert_eq!(verified.status, StatusCode::OK, "{verified:?}");
    assert_eq!(verified.body["email_verified"], true);
    assert_eq!(verified.body["username"], "carl");
    let reused = app.post(path, None, json!({ "token": code })).await;
    assert_eq!(reused.status, StatusCode::NOT_FOUND, "{reused:?}");
    assert_eq!(
        app.get("/api/v1/me", &carl).await.body["email_verified"],
        true
    );
    let accepted = accept(&app, &carl, &invitation).await;
    assert_eq!(accepted.status, StatusCode::OK, "{accepted:?}");
    // Nothing more to verify.
    let more = app
        .post("/api/v1/me/email/verification", Some(&carl), json!({}))
        .await;
    assert_eq!(more.status, StatusCode::CONFLICT, "{more:?}");

    // Someone else asks for a new mail: a new code, and the old one still
    // works until one is used (then both are gone).
    let dora = app.user("dora").await;
    let first = app.verification_code("dora@example.test");
    let resent = app
        .post("/api/v1/me/email/verification", Some(&dora), json!({}))
        .await;
    assert_eq!(resent.status, StatusCode::ACCEPTED, "{resent:?}");
    let second = app.verification_code("dora@example.test");
    assert_ne!(first, second);
    let used = app.post(path, None, json!({ "token": first })).await;
    assert_eq!(used.status, StatusCode::OK, "{used:?}");
    let gone = app.post(path, None, json!({ "token": second })).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{gone:?}");
    // Open invitations (links) need no verified address.
    let erin = app.user("erin").await;
    let link = app
        .post(
            &format!("/api/v1/workspaces/{ws}/invitations"),
            Some(&owner),
            json!({"max_uses": 2}),
        )
        .await;
    assert_eq!(link.status, StatusCode::CREATED, "{link:?}");
    assert_eq!(link.body["mailed"], false);
    let link = link.body["token"].as_str().unwrap();
    assert_eq!(accept(&app, &erin, link).await.status, StatusCode::OK);
    // Mailed ones say so.
    let mailed = app
        .post(
            &format!("/api/v1/workspaces/{ws}/invitations"),
            Some(&owner),
            json!({"email": "fred@example.test"}),
        )
        .await;
    assert_eq!(mailed.body["mailed"], true, "{mailed:?}");
    assert_eq!(app.mails_to("fred@example.test").len(), 1);
}

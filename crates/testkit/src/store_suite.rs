//! The store conformance suite. Every storage backend runs every case through
//! [`store_conformance!`](crate::store_conformance), each in a database of its own.

use std::collections::HashSet;

use chrono::{Duration, TimeZone, Utc};
use confab_core::id::*;
use confab_core::model::*;
use confab_core::ports::{SearchKind, Stores};
use confab_core::{time, Error};
use futures::future::join_all;
use serde_json::json;

use crate::fixtures::*;

/// Expands to one `#[tokio::test]` per case of the suite, each running the case
/// through `$harness` (a function taking a closure over [`Stores`]). Extra
/// attributes (such as `#[ignore]`) are put on every generated test.
#[macro_export]
macro_rules! store_conformance {
    ($harness:path $(, #[$attr:meta])*) => {
        $crate::__conformance_cases!(store_suite, 4, $harness, [$(#[$attr])*],
            users_are_created_and_found_case_insensitively,
            users_email_and_username_are_unique_case_insensitively,
            users_profile_updates_set_and_clear_fields,
            users_credentials_status_and_login_are_recorded,
            users_are_fetched_in_batches,
            concurrent_writes_that_fail_leave_the_others_intact,
            workspace_creation_adds_owner_and_general_channel,
            workspace_updates_apply_and_domains_are_unique,
            workspace_members_are_listed_filtered_and_paged,
            workspace_max_members_is_enforced,
            workspace_max_members_holds_under_concurrent_joins,
            workspace_members_are_updated_and_counted,
            a_workspace_always_keeps_an_active_owner,
            workspaces_are_listed_for_a_user,
            channel_names_are_unique_per_workspace,
            channel_updates_and_archiving_apply,
            a_channel_context_holds_the_channel_workspace_and_memberships,
            channel_membership_joins_leaves_and_rejoins,
            channels_are_listed_for_users_and_browsed,
            read_marker_only_moves_forward,
            read_states_count_unread_and_mentions,
            edits_replace_mentions,
            messages_round_trip,
            messages_are_idempotent_on_client_msg_id,
            concurrent_retries_of_one_client_msg_id_give_one_message,
            history_pages_newest_first_by_keyset,
            the_latest_page_comes_with_its_authors,
            threads_count_replies_and_list_them_oldest_first,
            replies_sent_to_the_channel_show_in_its_history,
            concurrent_replies_are_all_counted,
            message_stamps_are_unique_per_channel_under_concurrency,
            replies_are_refused_for_bad_parents,
            edits_keep_history,
            deletes_are_soft_and_final,
            reactions_are_one_per_user_per_emoji,
            what_someone_reacted_to_is_listed_latest_first_where_the_viewer_reads,
            concurrent_identical_reactions_give_one,
            pins_are_set_cleared_and_listed,
            every_change_of_a_message_queues_it_for_search,
            changes_of_people_queue_them_for_search,
            search_work_is_held_released_and_finished,
            every_message_is_scanned_once_in_order,
            changes_since_a_time_are_listed_oldest_first,
            changes_are_stamped_when_written,
            old_messages_insert_and_survive_maintenance,
            files_are_recorded_processed_and_attached,
            storage_tiers_follow_the_last_read_of_shared_bytes,
            attaching_unknown_things_fails,
            same_bytes_are_stored_once_and_removed_with_their_last_file,
            uploads_are_claimed_once_and_swept_when_abandoned,
            quotas_count_live_files,
            file_listings_show_only_what_the_viewer_may_see,
            downloads_are_counted_in_batches,
            files_are_claimed_for_processing_once_until_stale,
            integrations_are_installed_and_updated,
            email_verification_tokens_are_single_use,
            password_reset_tokens_are_single_use,
            threads_past_retention_move_to_the_archive_whole,
            periodic_jobs_are_claimed_once_per_run,
            sessions_are_created_touched_and_revoked,
            sessions_of_a_user_are_revoked_together,
            expired_sessions_and_challenges_are_purged,
            totp_steps_are_used_once,
            failures_are_counted_in_windows_and_lock,
            reactions_are_capped_per_message_and_per_person,
            edit_history_keeps_only_the_latest_versions,
            pins_are_capped_per_channel,
            pending_invitations_are_capped,
            invitations_are_created_listed_and_revoked,
            invitations_are_accepted_within_their_limits,
            concurrent_acceptances_respect_max_uses,
        );
    };
}

fn assert_conflict(err: Error, expected_field: &str) {
    match err {
        Error::Conflict { field, .. } => assert_eq!(field, expected_field),
        other => panic!("expected a conflict on {expected_field}, got {other:?}"),
    }
}

// ---------------------------------------------------------------- users

pub async fn users_are_created_and_found_case_insensitively(stores: Stores) {
    let new = new_user("Alice");
    let created = stores.users.create_user(&new).await.unwrap();
    assert_eq!(created.id, new.id);
    assert_eq!(created.email, "Alice@example.test");
    assert_eq!(created.timezone, "UTC");
    assert_eq!(created.language, "en");
    assert_eq!(created.status, UserStatus::Active);
    assert_eq!(created.notification_settings, json!({}));
    assert!(!created.mfa_enabled);
    assert_eq!(created.created_at, new.created_at);

    let by_id = stores.users.get_user(new.id).await.unwrap().unwrap();
    assert_eq!(by_id, created);
    let by_email = stores
        .users
        .find_user_by_email("ALICE@EXAMPLE.TEST")
        .await
        .unwrap();
    assert_eq!(by_email.map(|u| u.id), Some(new.id));
    let by_name = stores.users.find_user_by_username("alice").await.unwrap();
    assert_eq!(by_name.map(|u| u.id), Some(new.id));
    assert!(stores
        .users
        .get_user(UserId::new())
        .await
        .unwrap()
        .is_none());
    assert!(stores
        .users
        .find_user_by_email("nobody@example.test")
        .await
        .unwrap()
        .is_none());
}

pub async fn users_email_and_username_are_unique_case_insensitively(stores: Stores) {
    stores.users.create_user(&new_user("bob")).await.unwrap();
    let mut same_email = new_user("bobby");
    same_email.email = "BOB@example.test".into();
    assert_conflict(
        stores.users.create_user(&same_email).await.unwrap_err(),
        "email",
    );
    let mut same_name = new_user("BOB");
    same_name.email = "other@example.test".into();
    assert_conflict(
        stores.users.create_user(&same_name).await.unwrap_err(),
        "username",
    );
    assert!(stores
        .users
        .find_user_by_username("bobby")
        .await
        .unwrap()
        .is_none());
}

pub async fn users_profile_updates_set_and_clear_fields(stores: Stores) {
    let user = stores.users.create_user(&new_user("carol")).await.unwrap();
    let update = ProfileUpdate {
        display_name: Some("Carol C.".into()),
        avatar_url: Some(Some("https://img.test/c.png".into())),
        timezone: Some("Europe/Paris".into()),
        title: Some(Some("Engineer".into())),
        phone: Some(Some("+33 1 23".into())),
        bio: Some(Some("Hi".into())),
        pronouns: Some(Some("she/her".into())),
        notification_settings: Some(json!({"email": false})),
        theme_preferences: Some(json!({"theme": "dark"})),
        language: Some("fr".into()),
    };
    let updated = stores.users.update_profile(user.id, &update).await.unwrap();
    assert_eq!(updated.display_name, "Carol C.");
    assert_eq!(
        updated.avatar_url.as_deref(),
        Some("https://img.test/c.png")
    );
    assert_eq!(updated.timezone, "Europe/Paris");
    assert_eq!(updated.title.as_deref(), Some("Engineer"));
    assert_eq!(updated.phone.as_deref(), Some("+33 1 23"));
    assert_eq!(updated.bio.as_deref(), Some("Hi"));
    assert_eq!(updated.pronouns.as_deref(), Some("she/her"));
    assert_eq!(updated.notification_settings, json!({"email": false}));
    assert_eq!(updated.theme_preferences, json!({"theme": "dark"}));
    assert_eq!(updated.language, "fr");
    assert!(updated.updated_at >= user.updated_at);

    let cleared = stores
        .users
        .update_profile(
            user.id,
            &ProfileUpdate {
                title: Some(None),
                bio: Some(None),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(cleared.title, None);
    assert_eq!(cleared.bio, None);
    assert_eq!(cleared.phone.as_deref(), Some("+33 1 23"), "untouched");
    assert_eq!(
        stores.users.get_user(user.id).await.unwrap().unwrap(),
        cleared
    );
    let missing = stores
        .users
        .update_profile(UserId::new(), &ProfileUpdate::default())
        .await;
    assert!(matches!(missing, Err(Error::NotFound(_))));
}

pub async fn users_credentials_status_and_login_are_recorded(stores: Stores) {
    let user = stores.users.create_user(&new_user("dave")).await.unwrap();
    stores
        .users
        .set_password_hash(user.id, "$argon2id$fake")
        .await
        .unwrap();
    stores
        .users
        .set_mfa(user.id, false, Some("PENDING"))
        .await
        .unwrap();
    let pending = stores.users.get_user(user.id).await.unwrap().unwrap();
    assert!(!pending.mfa_enabled);
    assert_eq!(pending.mfa_secret.as_deref(), Some("PENDING"));
    stores
        .users
        .set_mfa(user.id, true, Some("SECRET"))
        .await
        .unwrap();
    let at = time::now();
    stores.users.record_login(user.id, at).await.unwrap();
    stores
        .users
        .set_user_status(user.id, UserStatus::Deactivated)
        .await
        .unwrap();
    let got = stores.users.get_user(user.id).await.unwrap().unwrap();
    assert_eq!(got.password_hash.as_deref(), Some("$argon2id$fake"));
    assert!(got.mfa_enabled);
    assert_eq!(got.mfa_secret.as_deref(), Some("SECRET"));
    assert_eq!(got.last_login_at, Some(at));
    assert_eq!(got.status, UserStatus::Deactivated);

    stores.users.set_mfa(user.id, false, None).await.unwrap();
    let got = stores.users.get_user(user.id).await.unwrap().unwrap();
    assert!(!got.mfa_enabled);
    assert_eq!(got.mfa_secret, None);
    assert!(matches!(
        stores.users.record_login(UserId::new(), at).await,
        Err(Error::NotFound(_))
    ));
}

pub async fn users_are_fetched_in_batches(stores: Stores) {
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            stores
                .users
                .create_user(&new_user(&format!("u{i}")))
                .await
                .unwrap()
                .id,
        );
    }
    let wanted = [ids[0], ids[3], UserId::new()];
    let got: HashSet<UserId> = stores
        .users
        .get_users(&wanted)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(got, HashSet::from([ids[0], ids[3]]));
    assert!(stores.users.get_users(&[]).await.unwrap().is_empty());
    // By username, any case, in one query; unknown names are skipped.
    let names = ["U1".to_owned(), "u4".to_owned(), "nobody".to_owned()];
    let found: HashSet<UserId> = stores
        .users
        .find_users_by_usernames(&names)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(found, HashSet::from([ids[1], ids[4]]));
    assert!(stores
        .users
        .find_users_by_usernames(&[])
        .await
        .unwrap()
        .is_empty());
}

pub async fn concurrent_writes_that_fail_leave_the_others_intact(stores: Stores) {
    // Half of these collide on email; the collisions must fail alone, and
    // every write that succeeded must be stored.
    let tasks = (0..40).map(|i| {
        let stores = stores.clone();
        let mut user = new_user(&format!("writer{i}"));
        user.email = format!("slot{}@example.test", i / 2);
        tokio::spawn(async move { stores.users.create_user(&user).await })
    });
    let results: Vec<_> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let created: Vec<&User> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(created.len(), 20);
    for result in &results {
        if let Err(err) = result {
            assert!(
                matches!(err, Error::Conflict { field, .. } if field == "email"),
                "{err:?}"
            );
        }
    }
    for user in created {
        let stored = stores.users.get_user(user.id).await.unwrap();
        assert_eq!(stored.as_ref(), Some(user));
    }
}

// ----------------------------------------------------------- workspaces

pub async fn workspace_creation_adds_owner_and_general_channel(stores: Stores) {
    let w = world(stores).await;
    assert_eq!(w.workspace.name, "Acme");
    assert_eq!(w.workspace.plan_type, "free");
    assert_eq!(w.workspace.max_members, 10000);
    assert_eq!(w.workspace.retention_days(), DEFAULT_RETENTION_DAYS);
    assert!(w.general.is_general);
    assert_eq!(w.general.channel_type, ChannelType::Public);
    assert!(w.general.allow_threads && w.general.allow_file_upload);
    assert!(!w.general.allow_external_sharing);

    let owner = w
        .stores
        .workspaces
        .get_member(w.workspace.id, w.owner.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owner.role, WorkspaceRole::Owner);
    assert_eq!(owner.status, MemberStatus::Active);
    let in_general = w
        .stores
        .channels
        .get_channel_member(w.general.id, w.owner.id)
        .await
        .unwrap()
        .unwrap();
    assert!(in_general.is_active);
    assert_eq!(in_general.role, ChannelRole::Admin);
    assert_eq!(
        w.stores
            .workspaces
            .get_workspace(w.workspace.id)
            .await
            .unwrap(),
        Some(w.workspace.clone())
    );
}

pub async fn workspace_updates_apply_and_domains_are_unique(stores: Stores) {
    let w = world(stores).await;
    let update = WorkspaceUpdate {
        name: Some("Acme Corp".into()),
        domain: Some(Some("acme".into())),
        description: Some(Some("We make things".into())),
        settings: Some(json!({"retention_days": 30})),
        max_members: Some(50),
        require_2fa: Some(true),
        sso_enabled: Some(true),
        sso_config: Some(Some(json!({"provider": "saml"}))),
        billing_email: Some(Some("billing@acme.test".into())),
        plan_type: Some("pro".into()),
        ..Default::default()
    };
    let updated = w
        .stores
        .workspaces
        .update_workspace(w.workspace.id, &update)
        .await
        .unwrap();
    assert_eq!(updated.name, "Acme Corp");
    assert_eq!(updated.domain.as_deref(), Some("acme"));
    assert_eq!(updated.retention_days(), 30);
    assert_eq!(updated.max_members, 50);
    assert!(updated.require_2fa && updated.sso_enabled);
    assert_eq!(updated.sso_config, Some(json!({"provider": "saml"})));
    assert_eq!(updated.plan_type, "pro");

    let (other, _) = create_workspace(&w.stores, &w.owner, "Other").await;
    let clash = w
        .stores
        .workspaces
        .update_workspace(
            other.id,
            &WorkspaceUpdate {
                domain: Some(Some("ACME".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_conflict(clash, "domain");
    let unchanged = w.stores.workspaces.get_workspace(other.id).await.unwrap();
    assert_eq!(unchanged.unwrap().domain, None);
}

pub async fn workspace_members_are_listed_filtered_and_paged(stores: Stores) {
    let w = world(stores).await;
    for i in 0..7 {
        let role = if i % 2 == 0 {
            WorkspaceRole::Member
        } else {
            WorkspaceRole::Guest
        };
        w.member(&format!("m{i}"), role).await;
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = w
            .stores
            .workspaces
            .list_members(w.workspace.id, &MemberFilter::default(), after, 3)
            .await
            .unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|m| m.id));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 8, "owner and seven members, each once");
    assert!(seen.windows(2).all(|p| p[0] < p[1]));
    let guests = w
        .stores
        .workspaces
        .list_members(
            w.workspace.id,
            &MemberFilter {
                role: Some(WorkspaceRole::Guest),
                status: None,
            },
            None,
            100,
        )
        .await
        .unwrap();
    assert_eq!(guests.items.len(), 3);
    assert!(guests.next.is_none());
    assert!(guests.items.iter().all(|m| m.role == WorkspaceRole::Guest));
}

pub async fn workspace_max_members_is_enforced(stores: Stores) {
    let w = world(stores).await;
    w.stores
        .workspaces
        .update_workspace(
            w.workspace.id,
            &WorkspaceUpdate {
                max_members: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let second = w.member("second", WorkspaceRole::Member).await;
    let third = w
        .stores
        .users
        .create_user(&new_user("third"))
        .await
        .unwrap();
    let full = w
        .stores
        .workspaces
        .add_member(&new_member(w.workspace.id, third.id, WorkspaceRole::Member))
        .await
        .unwrap_err();
    assert_conflict(full, "max_members");
    let again = w
        .stores
        .workspaces
        .add_member(&new_member(
            w.workspace.id,
            second.id,
            WorkspaceRole::Member,
        ))
        .await
        .unwrap_err();
    assert!(matches!(again, Error::Conflict { .. }));
    assert_eq!(
        w.stores
            .workspaces
            .count_active_members(w.workspace.id, None)
            .await
            .unwrap(),
        2
    );
}

pub async fn workspace_max_members_holds_under_concurrent_joins(stores: Stores) {
    let w = world(stores).await;
    w.stores
        .workspaces
        .update_workspace(
            w.workspace.id,
            &WorkspaceUpdate {
                max_members: Some(10),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut users = Vec::new();
    for i in 0..30 {
        users.push(
            w.stores
                .users
                .create_user(&new_user(&format!("j{i}")))
                .await
                .unwrap(),
        );
    }
    let joins = users.iter().map(|u| {
        let stores = w.stores.clone();
        let member = new_member(w.workspace.id, u.id, WorkspaceRole::Member);
        tokio::spawn(async move { stores.workspaces.add_member(&member).await })
    });
    let results = join_all(joins).await;
    let joined = results
        .iter()
        .filter(|r| r.as_ref().unwrap().is_ok())
        .count();
    assert_eq!(joined, 9, "the owner plus nine fill the ten places");
    assert_eq!(
        w.stores
            .workspaces
            .count_active_members(w.workspace.id, None)
            .await
            .unwrap(),
        10
    );
}

pub async fn workspace_members_are_updated_and_counted(stores: Stores) {
    let w = world(stores).await;
    let user = w.member("eve", WorkspaceRole::Member).await;
    let seen = time::now();
    let updated = w
        .stores
        .workspaces
        .update_member(
            w.workspace.id,
            user.id,
            &MemberUpdate {
                role: Some(WorkspaceRole::Admin),
                title: Some(Some("Lead".into())),
                department: Some(Some("R&D".into())),
                timezone: Some(Some("Asia/Tokyo".into())),
                permissions: Some(json!({"can_invite": true})),
                last_seen_at: Some(seen),
                status: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.role, WorkspaceRole::Admin);
    assert_eq!(updated.title.as_deref(), Some("Lead"));
    assert_eq!(updated.department.as_deref(), Some("R&D"));
    assert_eq!(updated.timezone.as_deref(), Some("Asia/Tokyo"));
    assert_eq!(updated.permissions, json!({"can_invite": true}));
    assert_eq!(updated.last_seen_at, Some(seen));
    let count = |role| {
        let stores = w.stores.clone();
        let ws = w.workspace.id;
        async move {
            stores
                .workspaces
                .count_active_members(ws, role)
                .await
                .unwrap()
        }
    };
    assert_eq!(count(Some(WorkspaceRole::Admin)).await, 1);
    assert_eq!(count(Some(WorkspaceRole::Owner)).await, 1);
    w.stores
        .workspaces
        .update_member(
            w.workspace.id,
            user.id,
            &MemberUpdate {
                status: Some(MemberStatus::Deactivated),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(count(Some(WorkspaceRole::Admin)).await, 0);
    assert_eq!(count(None).await, 1);
    let missing = w
        .stores
        .workspaces
        .update_member(w.workspace.id, UserId::new(), &MemberUpdate::default())
        .await;
    assert!(matches!(missing, Err(Error::NotFound(_))));
}

pub async fn a_workspace_always_keeps_an_active_owner(stores: Stores) {
    let w = world(stores).await;
    let demote = MemberUpdate {
        role: Some(WorkspaceRole::Admin),
        ..Default::default()
    };
    let alone = w
        .stores
        .workspaces
        .update_member(w.workspace.id, w.owner.id, &demote)
        .await
        .unwrap_err();
    assert_conflict(alone, "role");
    let second = w.member("second-owner", WorkspaceRole::Owner).await;
    // Both owners demote themselves at once: exactly one may.
    let tasks = [w.owner.id, second.id].map(|user| {
        let stores = w.stores.clone();
        let (ws, demote) = (w.workspace.id, demote.clone());
        tokio::spawn(async move { stores.workspaces.update_member(ws, user, &demote).await })
    });
    let results = join_all(tasks).await;
    assert_eq!(
        results
            .iter()
            .filter(|r| r.as_ref().unwrap().is_ok())
            .count(),
        1
    );
    assert_eq!(
        w.stores
            .workspaces
            .count_active_members(w.workspace.id, Some(WorkspaceRole::Owner))
            .await
            .unwrap(),
        1
    );
    let deactivate = MemberUpdate {
        status: Some(MemberStatus::Deactivated),
        ..Default::default()
    };
    let remaining = if results[0].as_ref().unwrap().is_ok() {
        second.id
    } else {
        w.owner.id
    };
    assert_conflict(
        w.stores
            .workspaces
            .update_member(w.workspace.id, remaining, &deactivate)
            .await
            .unwrap_err(),
        "role",
    );
}

pub async fn workspaces_are_listed_for_a_user(stores: Stores) {
    let w = world(stores).await;
    let (second, _) = create_workspace(&w.stores, &w.owner, "Beta").await;
    let stranger = w
        .stores
        .users
        .create_user(&new_user("stranger"))
        .await
        .unwrap();
    create_workspace(&w.stores, &stranger, "Elsewhere").await;
    let mine = w
        .stores
        .workspaces
        .list_workspaces_for_user(w.owner.id)
        .await
        .unwrap();
    let names: Vec<&str> = mine.iter().map(|(ws, _)| ws.name.as_str()).collect();
    assert_eq!(names, ["Acme", "Beta"]);
    assert!(mine
        .iter()
        .all(|(ws, m)| m.workspace_id == ws.id && m.user_id == w.owner.id));
    assert!(mine.iter().any(|(ws, _)| ws.id == second.id));
    // Every workspace, in id order, page by page.
    let scan = &w.stores.workspaces;
    let first = scan.scan_workspaces(None, 2).await.unwrap();
    let rest = scan
        .scan_workspaces(first.last().map(|ws| ws.id), 2)
        .await
        .unwrap();
    let mut all: Vec<String> = first
        .iter()
        .chain(&rest)
        .map(|ws| ws.name.clone())
        .collect();
    assert_eq!((first.len(), rest.len()), (2, 1));
    assert!(first[0].id < first[1].id && first[1].id < rest[0].id);
    all.sort();
    assert_eq!(all, ["Acme", "Beta", "Elsewhere"]);
}

// ------------------------------------------------------------- channels

pub async fn channel_names_are_unique_per_workspace(stores: Stores) {
    let w = world(stores).await;
    let created = w.channel("random").await;
    assert_eq!(created.name, "random");
    let clash = new_channel(w.workspace.id, "random", w.owner.id);
    assert_conflict(
        w.stores
            .channels
            .create_channel(&clash, &[])
            .await
            .unwrap_err(),
        "name",
    );
    assert!(w
        .stores
        .channels
        .get_channel(clash.id)
        .await
        .unwrap()
        .is_none());
    let (other, _) = create_workspace(&w.stores, &w.owner, "Other").await;
    let elsewhere = new_channel(other.id, "random", w.owner.id);
    w.stores
        .channels
        .create_channel(&elsewhere, &[])
        .await
        .unwrap();
    let found = w
        .stores
        .channels
        .find_channel_by_name(w.workspace.id, "random")
        .await
        .unwrap();
    assert_eq!(found.map(|c| c.id), Some(created.id));
}

pub async fn a_channel_context_holds_the_channel_workspace_and_memberships(stores: Stores) {
    let w = world(stores).await;
    let channels = &w.stores.channels;
    let workspaces = &w.stores.workspaces;
    let member = w.member("mia", WorkspaceRole::Member).await;
    let stranger = w.stores.users.create_user(&new_user("stranger")).await;
    let stranger = stranger.unwrap();
    let room = w.channel("room").await;

    // Everything equals what the single reads give.
    let context = channels.channel_context(room.id, w.owner.id).await;
    let context = context.unwrap().expect("the channel exists");
    let channel = channels.get_channel(room.id).await.unwrap();
    assert_eq!(Some(context.channel), channel);
    let workspace = workspaces.get_workspace(w.workspace.id).await.unwrap();
    assert_eq!(Some(context.workspace), workspace);
    let membership = workspaces.get_member(w.workspace.id, w.owner.id).await;
    assert_eq!(context.workspace_member, membership.unwrap());
    assert!(context.workspace_member.is_some());
    let in_channel = channels.get_channel_member(room.id, w.owner.id).await;
    assert_eq!(context.channel_member, in_channel.unwrap());
    assert!(context.channel_member.is_some());

    // A member of the workspace outside the channel, then a stranger.
    let context = channels.channel_context(room.id, member.id).await;
    let context = context.unwrap().unwrap();
    let membership = context.workspace_member.map(|m| (m.user_id, m.role));
    assert_eq!(membership, Some((member.id, WorkspaceRole::Member)));
    assert_eq!(context.channel_member, None);
    let context = channels.channel_context(room.id, stranger.id).await;
    let context = context.unwrap().unwrap();
    assert_eq!(context.channel.id, room.id);
    assert_eq!(
        (context.workspace_member, context.channel_member),
        (None, None)
    );

    let unknown = channels.channel_context(ChannelId::new(), w.owner.id).await;
    assert!(unknown.unwrap().is_none());
}

pub async fn channel_updates_and_archiving_apply(stores: Stores) {
    let w = world(stores).await;
    let chan = new_channel(w.workspace.id, "dev", w.owner.id);
    w.stores.channels.create_channel(&chan, &[]).await.unwrap();
    let updated = w
        .stores
        .channels
        .update_channel(
            chan.id,
            &ChannelUpdate {
                name: Some("development".into()),
                display_name: Some(Some("Development".into())),
                description: Some(Some("Code talk".into())),
                topic: Some(Some("Release 1.0".into())),
                purpose: Some(Some("Ship it".into())),
                retention_policy: Some(Some(json!({"days": 90}))),
                allow_threads: Some(false),
                allow_file_upload: Some(false),
                allow_external_sharing: Some(true),
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "development");
    assert_eq!(updated.topic.as_deref(), Some("Release 1.0"));
    assert_eq!(updated.retention_policy, Some(json!({"days": 90})));
    assert!(!updated.allow_threads && !updated.allow_file_upload);
    assert!(updated.allow_external_sharing);
    assert_conflict(
        w.stores
            .channels
            .update_channel(
                chan.id,
                &ChannelUpdate {
                    name: Some("general".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err(),
        "name",
    );
    let at = time::now();
    let archived = w
        .stores
        .channels
        .set_archived(chan.id, true, at)
        .await
        .unwrap();
    assert!(archived.is_archived);
    assert_eq!(archived.archived_at, Some(at));
    let restored = w
        .stores
        .channels
        .set_archived(chan.id, false, time::now())
        .await
        .unwrap();
    assert!(!restored.is_archived);
    assert_eq!(restored.archived_at, None);
    assert!(matches!(
        w.stores
            .channels
            .set_archived(ChannelId::new(), true, at)
            .await,
        Err(Error::NotFound(_))
    ));
}

pub async fn channel_membership_joins_leaves_and_rejoins(stores: Stores) {
    let w = world(stores).await;
    let user = w.member("frank", WorkspaceRole::Member).await;
    let joined = w
        .stores
        .channels
        .add_channel_member(&new_channel_member(w.general.id, user.id))
        .await
        .unwrap();
    assert!(joined.is_active);
    assert_eq!(joined.notification_level, NotificationLevel::All);
    let twice = w
        .stores
        .channels
        .add_channel_member(&new_channel_member(w.general.id, user.id))
        .await
        .unwrap();
    assert_eq!(twice.id, joined.id, "joining twice keeps one membership");

    let left_at = time::now();
    assert!(w
        .stores
        .channels
        .remove_channel_member(w.general.id, user.id, left_at)
        .await
        .unwrap());
    assert!(!w
        .stores
        .channels
        .remove_channel_member(w.general.id, user.id, left_at)
        .await
        .unwrap());
    let gone = w
        .stores
        .channels
        .get_channel_member(w.general.id, user.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!gone.is_active);
    assert_eq!(gone.left_at, Some(left_at));

    let back = w
        .stores
        .channels
        .add_channel_member(&new_channel_member(w.general.id, user.id))
        .await
        .unwrap();
    assert!(back.is_active);
    assert_eq!(back.left_at, None);
    assert_eq!(back.id, joined.id);

    let changed = w
        .stores
        .channels
        .update_channel_member(
            w.general.id,
            user.id,
            &ChannelMemberUpdate {
                role: Some(ChannelRole::Admin),
                notification_level: Some(NotificationLevel::Mentions),
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.role, ChannelRole::Admin);
    assert_eq!(changed.notification_level, NotificationLevel::Mentions);

    let page = w
        .stores
        .channels
        .list_channel_members(w.general.id, None, 1)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let rest = w
        .stores
        .channels
        .list_channel_members(w.general.id, page.next, 10)
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert!(rest.next.is_none());
    let all: HashSet<UserId> = page
        .items
        .iter()
        .chain(&rest.items)
        .map(|m| m.user_id)
        .collect();
    assert_eq!(all, HashSet::from([w.owner.id, user.id]));
}

pub async fn channels_are_listed_for_users_and_browsed(stores: Stores) {
    let w = world(stores).await;
    let user = w.member("gina", WorkspaceRole::Member).await;
    for name in ["alpha", "beta", "gamma"] {
        let c = new_channel(w.workspace.id, name, w.owner.id);
        let members = if name == "beta" {
            vec![
                new_channel_member(c.id, w.owner.id),
                new_channel_member(c.id, user.id),
            ]
        } else {
            vec![new_channel_member(c.id, w.owner.id)]
        };
        w.stores
            .channels
            .create_channel(&c, &members)
            .await
            .unwrap();
    }
    let mut secret = new_channel(w.workspace.id, "secret", w.owner.id);
    secret.channel_type = ChannelType::Private;
    w.stores
        .channels
        .create_channel(&secret, &[new_channel_member(secret.id, w.owner.id)])
        .await
        .unwrap();

    let mine = w
        .stores
        .channels
        .list_channels_for_user(w.workspace.id, user.id)
        .await
        .unwrap();
    assert_eq!(
        mine.iter()
            .map(|(c, _)| c.name.as_str())
            .collect::<Vec<_>>(),
        ["beta"]
    );
    assert!(mine
        .iter()
        .all(|(c, m)| m.channel_id == c.id && m.user_id == user.id));
    let owners = w
        .stores
        .channels
        .list_channels_for_user(w.workspace.id, w.owner.id)
        .await
        .unwrap();
    assert_eq!(
        owners
            .iter()
            .map(|(c, _)| c.name.as_str())
            .collect::<Vec<_>>(),
        ["alpha", "beta", "gamma", "general", "secret"]
    );

    let first = w
        .stores
        .channels
        .list_public_channels(w.workspace.id, None, 2)
        .await
        .unwrap();
    assert_eq!(
        first
            .items
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["alpha", "beta"]
    );
    let second = w
        .stores
        .channels
        .list_public_channels(w.workspace.id, first.next.as_deref(), 2)
        .await
        .unwrap();
    assert_eq!(
        second
            .items
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["gamma", "general"]
    );
    assert!(second.next.is_none(), "private channels are not browsable");
}

pub async fn read_marker_only_moves_forward(stores: Stores) {
    let w = world(stores).await;
    let first = w.post("one").await;
    let second = w.post("two").await;
    let ch = &w.stores.channels;
    assert!(ch
        .mark_read(w.general.id, w.owner.id, second.id, time::now())
        .await
        .unwrap());
    assert!(!ch
        .mark_read(w.general.id, w.owner.id, first.id, time::now())
        .await
        .unwrap());
    assert!(!ch
        .mark_read(w.general.id, w.owner.id, second.id, time::now())
        .await
        .unwrap());
    let member = ch
        .get_channel_member(w.general.id, w.owner.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(member.last_read_message_id, Some(second.id));
    assert!(member.last_read_at.is_some());
    assert!(matches!(
        ch.mark_read(w.general.id, UserId::new(), second.id, time::now())
            .await,
        Err(Error::NotFound(_))
    ));
}

pub async fn edits_replace_mentions(stores: Stores) {
    let w = world(stores).await;
    let reader = w.member("reader", WorkspaceRole::Member).await;
    w.stores
        .channels
        .add_channel_member(&new_channel_member(w.general.id, reader.id))
        .await
        .unwrap();
    let mentions_of_reader = || async {
        w.stores
            .channels
            .read_states(w.workspace.id, reader.id, Some(w.general.id))
            .await
            .unwrap()[0]
            .mentions
    };
    let mut new = text(&w.general, w.owner.id, "hey @reader");
    new.mentions = vec![reader.id.to_string()];
    let m = w
        .stores
        .messages
        .insert_message(&new)
        .await
        .unwrap()
        .message;
    assert_eq!(mentions_of_reader().await, 1);
    let msgs = &w.stores.messages;
    msgs.edit_message(m.id, "hey everyone", None, &[], time::now())
        .await
        .unwrap();
    assert_eq!(mentions_of_reader().await, 0);
    let everyone = [MENTION_CHANNEL.to_owned()];
    msgs.edit_message(m.id, "hey @channel", None, &everyone, time::now())
        .await
        .unwrap();
    assert_eq!(mentions_of_reader().await, 1);
}

pub async fn read_states_count_unread_and_mentions(stores: Stores) {
    let w = world(stores).await;
    let reader = w.member("reader", WorkspaceRole::Member).await;
    w.stores
        .channels
        .add_channel_member(&new_channel_member(w.general.id, reader.id))
        .await
        .unwrap();
    let quiet = new_channel(w.workspace.id, "quiet", w.owner.id);
    w.stores
        .channels
        .create_channel(&quiet, &[new_channel_member(quiet.id, reader.id)])
        .await
        .unwrap();
    let post = |content: &str, mentions: Vec<String>| {
        let mut new = text(&w.general, w.owner.id, content);
        new.mentions = mentions;
        let stores = w.stores.clone();
        async move { stores.messages.insert_message(&new).await.unwrap().message }
    };
    let first = post("hello", vec![]).await;
    post("hey @reader", vec![reader.id.to_string()]).await;
    post("all of you", vec![MENTION_CHANNEL.into()]).await;
    let fourth = post("someone else", vec![UserId::new().to_string()]).await;
    // The reader's own messages are never unread to them.
    let mut own = text(&w.general, reader.id, "mine");
    own.mentions = vec![MENTION_HERE.into()];
    w.stores.messages.insert_message(&own).await.unwrap();

    let states = w
        .stores
        .channels
        .read_states(w.workspace.id, reader.id, None)
        .await
        .unwrap();
    let general = states
        .iter()
        .find(|s| s.channel_id == w.general.id)
        .unwrap();
    assert_eq!((general.unread, general.mentions), (4, 2));
    let quiet_state = states.iter().find(|s| s.channel_id == quiet.id).unwrap();
    assert_eq!((quiet_state.unread, quiet_state.mentions), (0, 0));
    assert_eq!(states.len(), 2, "only the reader's channels");

    w.stores
        .channels
        .mark_read(w.general.id, reader.id, first.id, time::now())
        .await
        .unwrap();
    let one = w
        .stores
        .channels
        .read_states(w.workspace.id, reader.id, Some(w.general.id))
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!((one[0].unread, one[0].mentions), (3, 2));
    assert_eq!(one[0].last_read_message_id, Some(first.id));
    w.stores
        .messages
        .delete_message(fourth.id, time::now())
        .await
        .unwrap();
    w.stores
        .channels
        .mark_read(w.general.id, reader.id, own.id, time::now())
        .await
        .unwrap();
    let caught_up = w
        .stores
        .channels
        .read_states(w.workspace.id, reader.id, Some(w.general.id))
        .await
        .unwrap();
    assert_eq!((caught_up[0].unread, caught_up[0].mentions), (0, 0));
}

// ------------------------------------------------------------- messages

pub async fn messages_round_trip(stores: Stores) {
    let w = world(stores).await;
    let mut new = text(&w.general, w.owner.id, "hello *world*");
    new.formatted_content = Some(json!({"blocks": [{"type": "section", "text": "hello"}]}));
    new.message_type = MessageType::Bot;
    let inserted = w.stores.messages.insert_message(&new).await.unwrap();
    assert!(inserted.created);
    let m = inserted.message;
    assert_eq!(m.id, new.id);
    assert_eq!(m.created_at, new.id.created_at());
    // Stamped when it was written, which is after its id was made.
    assert!(m.updated_at >= m.created_at);
    assert_eq!(m.workspace_id, w.workspace.id);
    assert_eq!(m.content, "hello *world*");
    assert_eq!(m.message_type, MessageType::Bot);
    assert_eq!(m.formatted_content, new.formatted_content);
    assert_eq!(m.reply_count, 0);
    assert!(!m.is_pinned && !m.is_deleted);
    assert!(m.reactions.0.is_empty() && m.edit_history.is_empty());
    let got = w.stores.messages.get_message(m.id).await.unwrap().unwrap();
    assert_eq!(got, m);
    assert!(w
        .stores
        .messages
        .get_message(MessageId::new())
        .await
        .unwrap()
        .is_none());
}

pub async fn messages_are_idempotent_on_client_msg_id(stores: Stores) {
    let w = world(stores).await;
    let other = w.member("hank", WorkspaceRole::Member).await;
    let mut first = text(&w.general, w.owner.id, "once");
    first.client_msg_id = Some("abc-123".into());
    let a = w.stores.messages.insert_message(&first).await.unwrap();
    assert!(a.created);
    let mut retry = text(&w.general, w.owner.id, "once, retried");
    retry.client_msg_id = Some("abc-123".into());
    let b = w.stores.messages.insert_message(&retry).await.unwrap();
    assert!(!b.created);
    assert_eq!(b.message, a.message);
    assert!(w
        .stores
        .messages
        .get_message(retry.id)
        .await
        .unwrap()
        .is_none());

    let mut by_other = text(&w.general, other.id, "someone else");
    by_other.client_msg_id = Some("abc-123".into());
    assert!(
        w.stores
            .messages
            .insert_message(&by_other)
            .await
            .unwrap()
            .created
    );
    let history = w
        .stores
        .messages
        .history(w.general.id, HistoryRange::Latest, 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 2);
}

pub async fn concurrent_retries_of_one_client_msg_id_give_one_message(stores: Stores) {
    let w = world(stores).await;
    let tasks = (0..50).map(|i| {
        let stores = w.stores.clone();
        let mut new = text(&w.general, w.owner.id, &format!("attempt {i}"));
        new.client_msg_id = Some("retry-me".into());
        tokio::spawn(async move { stores.messages.insert_message(&new).await.unwrap() })
    });
    let results: Vec<Inserted> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(results.iter().filter(|r| r.created).count(), 1);
    let ids: HashSet<MessageId> = results.iter().map(|r| r.message.id).collect();
    assert_eq!(ids.len(), 1, "every retry returns the same message");
    let history = w
        .stores
        .messages
        .history(w.general.id, HistoryRange::Latest, 100)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
}

pub async fn history_pages_newest_first_by_keyset(stores: Stores) {
    let w = world(stores).await;
    let mut posted = Vec::new();
    for i in 0..25 {
        posted.push(w.post(&format!("m{i}")).await);
    }
    w.reply(&posted[3], "a reply stays in its thread").await;
    w.stores
        .messages
        .delete_message(posted[10].id, time::now())
        .await
        .unwrap();
    let visible: Vec<MessageId> = posted
        .iter()
        .rev()
        .filter(|m| m.id != posted[10].id)
        .map(|m| m.id)
        .collect();

    let mut pages = Vec::new();
    let mut range = HistoryRange::Latest;
    loop {
        let page = w
            .stores
            .messages
            .history(w.general.id, range, 10)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        range = HistoryRange::Before(last.id);
        pages.extend(page.iter().map(|m| m.id));
    }
    assert_eq!(
        pages, visible,
        "newest first, each once, without the deleted"
    );

    let after = w
        .stores
        .messages
        .history(w.general.id, HistoryRange::After(posted[5].id), 3)
        .await
        .unwrap();
    assert_eq!(
        after.iter().map(|m| m.id).collect::<Vec<_>>(),
        [posted[8].id, posted[7].id, posted[6].id],
        "the three just after, newest first"
    );
    let other = new_channel(w.workspace.id, "other", w.owner.id);
    w.stores.channels.create_channel(&other, &[]).await.unwrap();
    assert!(w
        .stores
        .messages
        .history(other.id, HistoryRange::Latest, 10)
        .await
        .unwrap()
        .is_empty());
}

pub async fn the_latest_page_comes_with_its_authors(stores: Stores) {
    let w = world(stores).await;
    let other = w.member("writer", WorkspaceRole::Member).await;
    w.stores
        .users
        .update_profile(
            other.id,
            &ProfileUpdate {
                avatar_url: Some(Some("https://img.test/w.png".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    for i in 0..6 {
        let author = if i % 2 == 0 { w.owner.id } else { other.id };
        w.stores
            .messages
            .insert_message(&text(&w.general, author, &format!("m{i}")))
            .await
            .unwrap();
    }
    let plain = w
        .stores
        .messages
        .history(w.general.id, HistoryRange::Latest, 4)
        .await
        .unwrap();
    let joined = w
        .stores
        .messages
        .latest_with_authors(w.general.id, 4)
        .await
        .unwrap();
    assert_eq!(
        joined.iter().map(|(m, _)| m.clone()).collect::<Vec<_>>(),
        plain,
        "the same page as history"
    );
    for (message, author) in &joined {
        assert_eq!(author.user_id, message.user_id);
        if message.user_id == other.id {
            assert_eq!(author.display_name, "writer display");
            assert_eq!(author.avatar_url.as_deref(), Some("https://img.test/w.png"));
        } else {
            assert_eq!(author.display_name, w.owner.display_name);
        }
    }
}

pub async fn threads_count_replies_and_list_them_oldest_first(stores: Stores) {
    let w = world(stores).await;
    let parent = w.post("parent").await;
    let mut replies = Vec::new();
    for i in 0..5 {
        replies.push(w.reply(&parent, &format!("r{i}")).await);
    }
    let got = w
        .stores
        .messages
        .get_message(parent.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.reply_count, 5);
    let first = w
        .stores
        .messages
        .thread_replies(parent.id, None, 3)
        .await
        .unwrap();
    assert_eq!(
        first.iter().map(|m| m.id).collect::<Vec<_>>(),
        replies[..3].iter().map(|m| m.id).collect::<Vec<_>>()
    );
    let rest = w
        .stores
        .messages
        .thread_replies(parent.id, Some(first[2].id), 10)
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|m| m.id).collect::<Vec<_>>(),
        replies[3..].iter().map(|m| m.id).collect::<Vec<_>>()
    );
    w.stores
        .messages
        .delete_message(replies[1].id, time::now())
        .await
        .unwrap();
    let got = w
        .stores
        .messages
        .get_message(parent.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.reply_count, 4, "a deleted reply no longer counts");
    let listed = w
        .stores
        .messages
        .thread_replies(parent.id, None, 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 4);
    // An insert reports the parent's new count; a retry and a top-level
    // message report none.
    let mut sixth = text(&w.general, w.owner.id, "r6");
    sixth.thread_id = Some(parent.id);
    sixth.client_msg_id = Some("sixth".into());
    let inserted = w.stores.messages.insert_message(&sixth).await.unwrap();
    assert_eq!(inserted.parent_reply_count, Some(5));
    let retried = w.stores.messages.insert_message(&sixth).await.unwrap();
    assert_eq!((retried.created, retried.parent_reply_count), (false, None));
    let top = w
        .stores
        .messages
        .insert_message(&text(&w.general, w.owner.id, "top"))
        .await
        .unwrap();
    assert_eq!(top.parent_reply_count, None);
}

pub async fn replies_sent_to_the_channel_show_in_its_history(stores: Stores) {
    let w = world(stores).await;
    let reader = w.member("reader", WorkspaceRole::Member).await;
    w.stores
        .channels
        .add_channel_member(&new_channel_member(w.general.id, reader.id))
        .await
        .unwrap();
    let parent = w.post("parent").await;
    // Many plain replies between: the page must not depend on them.
    for i in 0..30 {
        w.reply(&parent, &format!("quiet {i}")).await;
    }
    let mut word = text(&w.general, reader.id, "the reader's word");
    word.thread_id = Some(parent.id);
    let word = w
        .stores
        .messages
        .insert_message(&word)
        .await
        .unwrap()
        .message;
    let mut loud = text(&w.general, w.owner.id, "also in the channel");
    loud.thread_id = Some(parent.id);
    loud.broadcast = true;
    let loud = w
        .stores
        .messages
        .insert_message(&loud)
        .await
        .unwrap()
        .message;
    assert!(loud.broadcast && loud.in_channel_history());
    // `broadcast` without a thread means nothing.
    let mut top = text(&w.general, w.owner.id, "top");
    top.broadcast = true;
    let top = w
        .stores
        .messages
        .insert_message(&top)
        .await
        .unwrap()
        .message;
    assert!(!top.broadcast);
    let ids = |page: Vec<Message>| page.iter().map(|m| m.id).collect::<Vec<_>>();
    let messages = &w.stores.messages;
    let latest = messages
        .history(w.general.id, HistoryRange::Latest, 10)
        .await
        .unwrap();
    assert_eq!(ids(latest), vec![top.id, loud.id, parent.id]);
    let with_authors = messages.latest_with_authors(w.general.id, 2).await.unwrap();
    assert_eq!(
        with_authors.iter().map(|(m, _)| m.id).collect::<Vec<_>>(),
        vec![top.id, loud.id]
    );
    let before = messages
        .history(w.general.id, HistoryRange::Before(top.id), 1)
        .await
        .unwrap();
    assert_eq!(ids(before), vec![loud.id]);
    let after = messages
        .history(w.general.id, HistoryRange::After(parent.id), 10)
        .await
        .unwrap();
    assert_eq!(
        ids(after),
        vec![top.id, loud.id],
        "newest first, as every page"
    );
    // It stays in its thread and counts there.
    let thread = messages.thread_replies(parent.id, None, 100).await.unwrap();
    assert_eq!(thread.len(), 32);
    assert_eq!(thread.last().map(|m| m.id), Some(loud.id));
    let summary = messages.thread_summary(parent.id).await.unwrap();
    assert_eq!(
        summary,
        ThreadSummary {
            repliers: vec![w.owner.id, reader.id],
            latest_ts: Some(loud.ts),
        }
    );
    // Unread: the parent, the broadcast and the top-level post.
    let state = w
        .stores
        .channels
        .read_states(w.workspace.id, reader.id, Some(w.general.id))
        .await
        .unwrap();
    assert_eq!(state[0].unread, 3);
    // Deleted, it leaves the channel's history as well.
    messages.delete_message(loud.id, time::now()).await.unwrap();
    let latest = messages
        .history(w.general.id, HistoryRange::Latest, 10)
        .await
        .unwrap();
    assert_eq!(ids(latest), vec![top.id, parent.id]);
    let summary = messages.thread_summary(parent.id).await.unwrap();
    assert_eq!(
        summary.latest_ts,
        Some(word.ts),
        "a deleted reply is not the latest"
    );
    let empty = messages.thread_summary(top.id).await.unwrap();
    assert_eq!(empty, ThreadSummary::default());
}

pub async fn concurrent_replies_are_all_counted(stores: Stores) {
    let w = world(stores).await;
    let parent = w.post("busy thread").await;
    let tasks = (0..50).map(|i| {
        let stores = w.stores.clone();
        let mut reply = text(&w.general, w.owner.id, &format!("reply {i}"));
        reply.thread_id = Some(parent.id);
        tokio::spawn(async move { stores.messages.insert_message(&reply).await.unwrap() })
    });
    for result in join_all(tasks).await {
        assert!(result.unwrap().created);
    }
    let got = w
        .stores
        .messages
        .get_message(parent.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.reply_count, 50);
    let listed = w
        .stores
        .messages
        .thread_replies(parent.id, None, 100)
        .await
        .unwrap();
    assert_eq!(listed.len(), 50);
}

pub async fn message_stamps_are_unique_per_channel_under_concurrency(stores: Stores) {
    let w = world(stores).await;
    // Forty posts created in one millisecond, written at once.
    let at = time::now();
    let tasks = (0..40).map(|i| {
        let stores = w.stores.clone();
        let mut post = text(&w.general, w.owner.id, &format!("same instant {i}"));
        post.id = MessageId::at(at);
        tokio::spawn(async move { stores.messages.insert_message(&post).await.unwrap() })
    });
    let mut stamps = Vec::new();
    for result in join_all(tasks).await {
        let message = result.unwrap().message;
        assert!(message.ts >= at.timestamp_millis() * 1000, "{message:?}");
        stamps.push((message.ts, message.id));
    }
    let mut distinct: Vec<i64> = stamps.iter().map(|(ts, _)| *ts).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 40);
    for (ts, id) in &stamps {
        let found = w
            .stores
            .messages
            .message_by_ts(w.general.id, *ts)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.id, *id);
        assert_eq!(found.ts, *ts);
    }
    // A later post stamps after every one of them; another channel's
    // stamps are its own.
    let later = w.post("later").await;
    assert!(later.ts > *distinct.last().unwrap());
    assert_eq!(
        w.stores
            .messages
            .message_by_ts(ChannelId::new(), later.ts)
            .await
            .unwrap(),
        None
    );
}

pub async fn replies_are_refused_for_bad_parents(stores: Stores) {
    let w = world(stores).await;
    let parent = w.post("parent").await;
    let reply = w.reply(&parent, "reply").await;

    let mut nested = text(&w.general, w.owner.id, "reply to a reply");
    nested.thread_id = Some(reply.id);
    assert!(matches!(
        w.stores.messages.insert_message(&nested).await,
        Err(Error::Invalid { .. })
    ));

    let mut unknown = text(&w.general, w.owner.id, "no such parent");
    unknown.thread_id = Some(MessageId::new());
    assert!(matches!(
        w.stores.messages.insert_message(&unknown).await,
        Err(Error::NotFound(_))
    ));

    let other = new_channel(w.workspace.id, "other", w.owner.id);
    let other = w.stores.channels.create_channel(&other, &[]).await.unwrap();
    let mut foreign = text(&other, w.owner.id, "parent in another channel");
    foreign.thread_id = Some(parent.id);
    assert!(matches!(
        w.stores.messages.insert_message(&foreign).await,
        Err(Error::NotFound(_))
    ));

    for refused in [&nested, &unknown, &foreign] {
        assert!(w
            .stores
            .messages
            .get_message(refused.id)
            .await
            .unwrap()
            .is_none());
    }
    let got = w
        .stores
        .messages
        .get_message(parent.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.reply_count, 1, "refused replies change nothing");
}

pub async fn edits_keep_history(stores: Stores) {
    let w = world(stores).await;
    let m = w.post("first draft").await;
    let t1 = time::now();
    let e1 = w
        .stores
        .messages
        .edit_message(m.id, "second draft", Some(&json!({"v": 2})), &[], t1)
        .await
        .unwrap();
    let t2 = time::now();
    let e2 = w
        .stores
        .messages
        .edit_message(m.id, "final", None, &[], t2)
        .await
        .unwrap();
    assert_eq!(e1.content, "second draft");
    assert_eq!(e2.content, "final");
    assert_eq!(e2.formatted_content, None);
    assert_eq!(e2.edited_at, Some(t2));
    assert!(e2.updated_at >= t2 && e2.updated_at > e1.updated_at);
    assert_eq!(e2.created_at, m.created_at);
    let history: Vec<(&str, Option<serde_json::Value>)> = e2
        .edit_history
        .iter()
        .map(|r| (r.content.as_str(), r.formatted_content.clone()))
        .collect();
    assert_eq!(
        history,
        [
            ("first draft", None),
            ("second draft", Some(json!({"v": 2})))
        ]
    );
    assert_eq!(e2.edit_history[0].replaced_at, t1);
    assert_eq!(
        w.stores
            .messages
            .get_message_with_history(m.id)
            .await
            .unwrap()
            .unwrap(),
        e2
    );
    // Every other read leaves the history in the database and says how
    // long it is.
    let lean = w.stores.messages.get_message(m.id).await.unwrap().unwrap();
    assert_eq!(lean.edit_count, 2);
    assert!(lean.edit_history.is_empty());
    assert_eq!(
        Message {
            edit_history: e2.edit_history.clone(),
            ..lean.clone()
        },
        e2
    );
    let page = w
        .stores
        .messages
        .history(w.general.id, HistoryRange::Latest, 10)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0], lean);
    assert!(matches!(
        w.stores
            .messages
            .edit_message(MessageId::new(), "x", None, &[], t2)
            .await,
        Err(Error::NotFound(_))
    ));
}

pub async fn deletes_are_soft_and_final(stores: Stores) {
    let w = world(stores).await;
    let m = w.post("secret plans").await;
    w.stores
        .messages
        .edit_message(m.id, "more secret plans", None, &[], time::now())
        .await
        .unwrap();
    let at = time::now();
    let deleted = w.stores.messages.delete_message(m.id, at).await.unwrap();
    assert!(deleted.changed);
    assert!(deleted.message.is_deleted);
    assert_eq!(deleted.message.deleted_at, Some(at));
    assert_eq!(deleted.message.content, "");
    assert!(deleted.message.edit_history.is_empty());
    let again = w
        .stores
        .messages
        .delete_message(m.id, time::now())
        .await
        .unwrap();
    assert!(!again.changed);
    assert_eq!(again.message.deleted_at, Some(at));
    let stored = w.stores.messages.get_message(m.id).await.unwrap().unwrap();
    assert!(stored.is_deleted && stored.content.is_empty());
    assert!(matches!(
        w.stores
            .messages
            .edit_message(m.id, "resurrect", None, &[], time::now())
            .await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        w.stores
            .messages
            .add_reaction(m.id, w.owner.id, "eyes")
            .await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        w.stores
            .messages
            .delete_message(MessageId::new(), time::now())
            .await,
        Err(Error::NotFound(_))
    ));
}

pub async fn what_someone_reacted_to_is_listed_latest_first_where_the_viewer_reads(stores: Stores) {
    let w = world(stores).await;
    let ivy = w.member("ivy", WorkspaceRole::Member).await;
    w.stores
        .channels
        .add_channel_member(&new_channel_member(w.general.id, ivy.id))
        .await
        .unwrap();
    // The owner's own channel, which Ivy is not in.
    let private = w.channel("owners").await;
    let msgs = &w.stores.messages;
    let first = w.post("first").await;
    let second = w.post("second").await;
    let hidden = w.post_in(&private, "hidden").await;
    for (message, emoji) in [
        (&first, "tada"),
        (&hidden, "eyes"),
        (&second, "tada"),
        (&first, "rocket"),
    ] {
        msgs.add_reaction(message.id, w.owner.id, emoji)
            .await
            .unwrap();
    }
    msgs.add_reaction(second.id, ivy.id, "tada").await.unwrap();
    let ids = |page: &[Reacted]| page.iter().map(|r| r.message_id).collect::<Vec<_>>();
    let ws = w.workspace.id;
    // Latest reaction first; one item per message, however many emoji.
    let mine = msgs
        .reacted_by(ws, w.owner.id, w.owner.id, None, 10)
        .await
        .unwrap();
    assert_eq!(ids(&mine), vec![first.id, second.id, hidden.id]);
    // Ivy sees the owner's reactions only where she reads.
    let seen_by_ivy = msgs
        .reacted_by(ws, w.owner.id, ivy.id, None, 10)
        .await
        .unwrap();
    assert_eq!(ids(&seen_by_ivy), vec![first.id, second.id]);
    // Pages follow from the last of the page before.
    let page = msgs
        .reacted_by(ws, w.owner.id, w.owner.id, None, 2)
        .await
        .unwrap();
    assert_eq!(ids(&page), vec![first.id, second.id]);
    let rest = msgs
        .reacted_by(ws, w.owner.id, w.owner.id, page.last().copied(), 2)
        .await
        .unwrap();
    assert_eq!(ids(&rest), vec![hidden.id]);
    // Taking back every reaction on a message drops it; taking back one
    // of two keeps it.
    msgs.remove_reaction(hidden.id, w.owner.id, "eyes")
        .await
        .unwrap();
    msgs.remove_reaction(first.id, w.owner.id, "rocket")
        .await
        .unwrap();
    let mine = msgs
        .reacted_by(ws, w.owner.id, w.owner.id, None, 10)
        .await
        .unwrap();
    assert_eq!(ids(&mine), vec![second.id, first.id]);
    // Another workspace's list is empty; so is Ivy's of her own there.
    let elsewhere = msgs
        .reacted_by(WorkspaceId::new(), w.owner.id, w.owner.id, None, 10)
        .await
        .unwrap();
    assert!(elsewhere.is_empty());
    let ivys = msgs.reacted_by(ws, ivy.id, ivy.id, None, 10).await.unwrap();
    assert_eq!(ids(&ivys), vec![second.id]);
}

pub async fn reactions_are_one_per_user_per_emoji(stores: Stores) {
    let w = world(stores).await;
    let other = w.member("ivy", WorkspaceRole::Member).await;
    let m = w.post("react to me").await;
    let msgs = &w.stores.messages;
    assert!(
        msgs.add_reaction(m.id, w.owner.id, "thumbsup")
            .await
            .unwrap()
            .changed
    );
    assert!(
        !msgs
            .add_reaction(m.id, w.owner.id, "thumbsup")
            .await
            .unwrap()
            .changed
    );
    assert!(
        msgs.add_reaction(m.id, other.id, "thumbsup")
            .await
            .unwrap()
            .changed
    );
    let last = msgs.add_reaction(m.id, other.id, "tada").await.unwrap();
    assert_eq!(
        last.message.reactions.0["thumbsup"],
        vec![w.owner.id, other.id]
    );
    assert_eq!(last.message.reactions.0["tada"], vec![other.id]);
    assert_eq!(last.message.reactions.total(), 3);

    let removed = msgs.remove_reaction(m.id, other.id, "tada").await.unwrap();
    assert!(removed.changed);
    assert!(!removed.message.reactions.0.contains_key("tada"));
    assert!(
        !msgs
            .remove_reaction(m.id, other.id, "tada")
            .await
            .unwrap()
            .changed
    );
    let stored = msgs.get_message(m.id).await.unwrap().unwrap();
    assert_eq!(stored.reactions, removed.message.reactions);
    assert!(matches!(
        msgs.add_reaction(MessageId::new(), other.id, "tada").await,
        Err(Error::NotFound(_))
    ));
}

pub async fn concurrent_identical_reactions_give_one(stores: Stores) {
    let w = world(stores).await;
    let m = w.post("pile on").await;
    let tasks = (0..50).map(|_| {
        let stores = w.stores.clone();
        let (id, user) = (m.id, w.owner.id);
        tokio::spawn(async move {
            stores
                .messages
                .add_reaction(id, user, "fire")
                .await
                .unwrap()
        })
    });
    let changed = join_all(tasks)
        .await
        .into_iter()
        .filter(|r| r.as_ref().unwrap().changed)
        .count();
    assert_eq!(changed, 1);
    let stored = w.stores.messages.get_message(m.id).await.unwrap().unwrap();
    assert_eq!(stored.reactions.0["fire"], vec![w.owner.id]);

    // Different users reacting at once must all be kept.
    let mut users = Vec::new();
    for i in 0..20 {
        users.push(w.member(&format!("fan{i}"), WorkspaceRole::Member).await.id);
    }
    let tasks = users.iter().map(|user| {
        let stores = w.stores.clone();
        let (id, user) = (m.id, *user);
        tokio::spawn(async move {
            stores
                .messages
                .add_reaction(id, user, "heart")
                .await
                .unwrap()
        })
    });
    join_all(tasks).await;
    let stored = w.stores.messages.get_message(m.id).await.unwrap().unwrap();
    assert_eq!(stored.reactions.0["heart"].len(), 20);
}

pub async fn changes_since_a_time_are_listed_oldest_first(stores: Stores) {
    let w = world(stores).await;
    let other = w.channel("other").await;
    let msgs = &w.stores.messages;
    let start = time::now() - Duration::milliseconds(1);
    let a = w.post("a").await;
    let b = w.post("b").await;
    // Messages are stamped with their id's millisecond; the reply must come
    // a millisecond after `b` for its parent's change to sort after `b`.
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let reply = w.reply(&a, "in a thread").await;
    msgs.insert_message(&text(&other, w.owner.id, "elsewhere"))
        .await
        .unwrap();
    let ids = |list: Vec<Message>| list.into_iter().map(|m| m.id).collect::<Vec<_>>();
    let changed = msgs
        .changed_since(&[w.general.id], start, 100)
        .await
        .unwrap();
    // The reply bumped its parent, so `a` changed with it, after `b`.
    let changed = ids(changed);
    assert_eq!(changed.len(), 3);
    assert_eq!(changed[0], b.id);
    assert!(changed.contains(&a.id) && changed.contains(&reply.id));
    let mark = msgs.get_message(a.id).await.unwrap().unwrap().updated_at;
    let reacted = msgs.add_reaction(b.id, w.owner.id, "tada").await.unwrap();
    assert!(reacted.message.updated_at > mark);
    let changed = msgs
        .changed_since(&[w.general.id], mark, 100)
        .await
        .unwrap();
    assert_eq!(ids(changed), [b.id]);
    assert_eq!(
        msgs.changed_since(&[w.general.id, other.id], start, 2)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        msgs.changed_since(&[w.general.id, other.id], start, 100)
            .await
            .unwrap()
            .len(),
        4
    );
    assert!(msgs
        .changed_since(&[], start, 100)
        .await
        .unwrap()
        .is_empty());
}

/// A change is stamped when it is written, not when its id was made, so a
/// write that waited still sorts after everything committed before it.
pub async fn changes_are_stamped_when_written(stores: Stores) {
    let w = world(stores).await;
    let msgs = &w.stores.messages;
    let mut late = text(&w.general, w.owner.id, "made a while ago");
    late.id = MessageId::at(time::now() - Duration::seconds(30));
    let before = time::now();
    let written = msgs.insert_message(&late).await.unwrap().message;
    assert_eq!(written.created_at, late.id.created_at());
    assert!(written.updated_at >= before, "{written:?}");
    let changed = msgs
        .changed_since(&[w.general.id], before - Duration::milliseconds(1), 100)
        .await
        .unwrap();
    assert_eq!(changed.iter().map(|m| m.id).collect::<Vec<_>>(), [late.id]);
    // The same holds for an edit, a delete and a pin given an older time.
    let old = time::now() - Duration::seconds(30);
    let edited = msgs
        .edit_message(late.id, "edited", None, &[], old)
        .await
        .unwrap();
    assert_eq!(edited.edited_at, Some(old));
    assert!(edited.updated_at > written.updated_at);
    let pinned = msgs
        .set_pinned(late.id, Some(w.owner.id), old)
        .await
        .unwrap();
    assert!(pinned.message.updated_at > edited.updated_at);
    let deleted = msgs.delete_message(late.id, old).await.unwrap();
    assert_eq!(deleted.message.deleted_at, Some(old));
    assert!(deleted.message.updated_at > pinned.message.updated_at);
}

pub async fn pins_are_set_cleared_and_listed(stores: Stores) {
    let w = world(stores).await;
    let a = w.post("a").await;
    let b = w.post("b").await;
    let c = w.post("c").await;
    let msgs = &w.stores.messages;
    let t = time::now();
    let pinned = msgs.set_pinned(a.id, Some(w.owner.id), t).await.unwrap();
    assert!(pinned.changed && pinned.message.is_pinned);
    assert_eq!(pinned.message.pinned_by, Some(w.owner.id));
    assert_eq!(pinned.message.pinned_at, Some(t));
    assert!(
        !msgs
            .set_pinned(a.id, Some(w.owner.id), t)
            .await
            .unwrap()
            .changed
    );
    msgs.set_pinned(c.id, Some(w.owner.id), t + Duration::seconds(1))
        .await
        .unwrap();
    msgs.set_pinned(b.id, Some(w.owner.id), t + Duration::seconds(2))
        .await
        .unwrap();
    let unpinned = msgs.set_pinned(b.id, None, time::now()).await.unwrap();
    assert!(unpinned.changed && !unpinned.message.is_pinned);
    assert_eq!(unpinned.message.pinned_by, None);
    let list = msgs.list_pinned(w.general.id).await.unwrap();
    assert_eq!(
        list.iter().map(|m| m.id).collect::<Vec<_>>(),
        [c.id, a.id],
        "most recently pinned first"
    );
    msgs.delete_message(c.id, time::now()).await.unwrap();
    assert_eq!(msgs.list_pinned(w.general.id).await.unwrap().len(), 1);
    assert!(matches!(
        msgs.set_pinned(c.id, Some(w.owner.id), time::now()).await,
        Err(Error::NotFound(_))
    ));
}

pub async fn old_messages_insert_and_survive_maintenance(stores: Stores) {
    let w = world(stores).await;
    // A month far in the past has no partition on PostgreSQL: the insert must
    // still succeed, and maintenance must keep the message readable.
    let long_ago = Utc.with_ymd_and_hms(2019, 5, 3, 12, 0, 0).unwrap();
    let mut new = text(&w.general, w.owner.id, "from the archive");
    new.id = MessageId::at(long_ago);
    let old = w
        .stores
        .messages
        .insert_message(&new)
        .await
        .unwrap()
        .message;
    assert_eq!(old.created_at, long_ago);
    let recent = w.post("recent").await;
    w.stores.admin.maintain(time::now()).await.unwrap();
    w.stores.admin.maintain(time::now()).await.unwrap();
    w.stores.admin.ping().await.unwrap();
    assert_eq!(
        w.stores.messages.get_message(old.id).await.unwrap(),
        Some(old.clone())
    );
    let history = w
        .stores
        .messages
        .history(w.general.id, HistoryRange::Latest, 10)
        .await
        .unwrap();
    assert_eq!(
        history.iter().map(|m| m.id).collect::<Vec<_>>(),
        [recent.id, old.id]
    );
    let reply = w.reply(&old, "late reply").await;
    assert_eq!(
        w.stores
            .messages
            .thread_replies(old.id, None, 10)
            .await
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect::<Vec<_>>(),
        [reply.id]
    );
}

// ---------------------------------------------------------------- files

fn new_file(w: &World, name: &str) -> NewFile {
    new_file_with(w, name, &"ab".repeat(32))
}

/// A file of `hash`, uploaded under a key of its own.
fn new_file_with(w: &World, name: &str, hash: &str) -> NewFile {
    let id = FileId::new();
    NewFile {
        id,
        workspace_id: w.workspace.id,
        uploader_id: w.owner.id,
        filename: name.to_owned(),
        original_filename: format!("Original {name}"),
        file_size: 5_000_000_000,
        mime_type: "text/plain".into(),
        claimed_mime_type: Some("image/png".into()),
        file_hash: hash.to_owned(),
        storage_provider: "local".into(),
        storage_bucket: "files".into(),
        storage_key: format!("{}/{id}", w.workspace.id),
        storage_region: None,
        expires_at: None,
        created_at: time::now(),
        quota_bytes: None,
    }
}

pub async fn storage_tiers_follow_the_last_read_of_shared_bytes(stores: Stores) {
    use confab_core::model::StorageClass::{Archive, InfrequentAccess};
    let w = world(stores).await;
    let days_ago = |days: i64| time::now() - Duration::days(days);
    let made = |name: &str, hash: &str, age: i64| {
        let mut new = new_file_with(&w, name, &hash.repeat(32));
        new.created_at = days_ago(age);
        new
    };
    let old = upload(&w, &made("old.txt", "01", 400)).await.unwrap();
    let twin = upload(&w, &made("twin.txt", "01", 100)).await.unwrap();
    assert_eq!(twin.storage_key, old.storage_key, "the same bytes");
    let alone = upload(&w, &made("alone.txt", "02", 200)).await.unwrap();
    upload(&w, &made("fresh.txt", "03", 0)).await.unwrap();
    let files = &w.stores.files;
    let keys = |found: Vec<TierCandidate>| -> Vec<String> {
        found.into_iter().map(|c| c.storage_key).collect()
    };

    // The twin read the shared bytes 100 days ago: not for the archive.
    let archive = files.files_to_tier(Archive, days_ago(365), 10).await;
    assert_eq!(keys(archive.unwrap()), Vec::<String>::new());
    let infrequent = files
        .files_to_tier(InfrequentAccess, days_ago(90), 10)
        .await
        .unwrap();
    assert_eq!(infrequent[0].storage_class, "STANDARD");
    assert_eq!(
        keys(infrequent),
        [
            old.storage_key.as_str(),
            &alone.storage_key,
            &old.storage_key
        ],
        "least recently used first, a row per file"
    );
    let first = files.files_to_tier(InfrequentAccess, days_ago(90), 1).await;
    assert_eq!(keys(first.unwrap()), [old.storage_key.as_str()]);

    // A read now keeps the shared bytes where they are.
    files
        .record_downloads(&[FileDownloads {
            file_id: twin.id,
            count: 1,
            last_accessed_at: time::now(),
        }])
        .await
        .unwrap();
    let infrequent = files
        .files_to_tier(InfrequentAccess, days_ago(90), 10)
        .await;
    assert_eq!(keys(infrequent.unwrap()), [alone.storage_key.as_str()]);

    files
        .set_storage_class(&alone.storage_key, InfrequentAccess)
        .await
        .unwrap();
    let stored = files.get_file(alone.id).await.unwrap().unwrap();
    assert_eq!(stored.storage_class, "STANDARD_IA");
    let infrequent = files
        .files_to_tier(InfrequentAccess, days_ago(90), 10)
        .await;
    assert_eq!(keys(infrequent.unwrap()), Vec::<String>::new());
    let archive = files.files_to_tier(Archive, days_ago(150), 10).await;
    assert_eq!(keys(archive.unwrap()), [alone.storage_key.as_str()]);

    // A new copy of tiered bytes is recorded where they are; deleted files
    // are not moved.
    let again = upload(&w, &made("again.txt", "02", 300)).await.unwrap();
    assert_eq!(again.storage_key, alone.storage_key);
    assert_eq!(again.storage_class, "STANDARD_IA");
    for id in [alone.id, again.id] {
        files.delete_file(id, time::now(), &[]).await.unwrap();
    }
    let archive = files.files_to_tier(Archive, days_ago(150), 10).await;
    assert_eq!(keys(archive.unwrap()), Vec::<String>::new());
}

/// Begin the upload of `new`, then record it.
async fn upload(w: &World, new: &NewFile) -> Result<File, Error> {
    let expires = time::now() + Duration::hours(1);
    w.stores
        .files
        .begin_upload(&new.storage_key, expires)
        .await?;
    w.stores.files.create_file(new).await
}

pub async fn files_are_recorded_processed_and_attached(stores: Stores) {
    let w = world(stores).await;
    let new = new_file(&w, "notes.txt");
    let file = upload(&w, &new).await.unwrap();
    assert_eq!(file.claimed_mime_type.as_deref(), Some("image/png"));
    assert_eq!(file.deleted_at, None);
    assert_eq!(
        file.file_size, 5_000_000_000,
        "sizes beyond 32 bits survive"
    );
    assert_eq!(file.processing_status, "pending");
    assert_eq!(file.virus_scan_status, "pending");
    assert_eq!(file.storage_class, "STANDARD");
    assert_eq!(file.download_count, 0);
    assert!(!file.is_public);
    assert_eq!(
        w.stores.files.get_file(file.id).await.unwrap(),
        Some(file.clone())
    );
    let processed = w
        .stores
        .files
        .update_file_processing(
            file.id,
            &FileProcessingUpdate {
                processing_status: Some("done".into()),
                thumbnails: Some(json!({"64": "thumbs/64.png"})),
                extracted_text: Some("meeting notes".into()),
                virus_scan_status: Some("clean".into()),
                virus_scan_result: Some(json!({"engine": "test"})),
            },
        )
        .await
        .unwrap();
    assert_eq!(processed.processing_status, "done");
    assert_eq!(processed.extracted_text.as_deref(), Some("meeting notes"));
    assert_eq!(processed.thumbnails, Some(json!({"64": "thumbs/64.png"})));

    let m = w.post("see attached").await;
    let second = upload(&w, &new_file_with(&w, "b.txt", &"cd".repeat(32)))
        .await
        .unwrap();
    let t = time::now();
    let link = w
        .stores
        .files
        .attach_file(m.id, file.id, Some("first"), t)
        .await
        .unwrap();
    assert_eq!(link.file_comment.as_deref(), Some("first"));
    assert_eq!(link.attached_at, t);
    let again = w
        .stores
        .files
        .attach_file(m.id, file.id, Some("changed?"), time::now())
        .await
        .unwrap();
    assert_eq!(again, link, "attaching twice changes nothing");
    w.stores
        .files
        .attach_file(m.id, second.id, None, t + Duration::seconds(1))
        .await
        .unwrap();
    let attached = w.stores.files.files_for_message(m.id).await.unwrap();
    assert_eq!(
        attached.iter().map(|(_, f)| f.id).collect::<Vec<_>>(),
        [file.id, second.id]
    );
    assert_eq!(attached[0].1, processed);
}

pub async fn attaching_unknown_things_fails(stores: Stores) {
    let w = world(stores).await;
    let file = upload(&w, &new_file(&w, "a.txt")).await.unwrap();
    let m = w.post("hi").await;
    assert!(matches!(
        w.stores
            .files
            .attach_file(MessageId::new(), file.id, None, time::now())
            .await,
        Err(Error::NotFound("message"))
    ));
    assert!(matches!(
        w.stores
            .files
            .attach_file(m.id, FileId::new(), None, time::now())
            .await,
        Err(Error::NotFound("file"))
    ));
    assert!(w
        .stores
        .files
        .files_for_message(m.id)
        .await
        .unwrap()
        .is_empty());
    assert!(w
        .stores
        .files
        .get_file(FileId::new())
        .await
        .unwrap()
        .is_none());
}

pub async fn same_bytes_are_stored_once_and_removed_with_their_last_file(stores: Stores) {
    let w = world(stores).await;
    let first_new = new_file(&w, "a.txt");
    let first = upload(&w, &first_new).await.unwrap();
    assert_eq!(first.storage_key, first_new.storage_key);
    let none_due = w
        .stores
        .files
        .due_blob_cleanups(time::now(), 10)
        .await
        .unwrap();
    assert_eq!(none_due, Vec::<String>::new(), "a kept upload is not due");

    let copy_new = new_file(&w, "copy.txt");
    let copy = upload(&w, &copy_new).await.unwrap();
    assert_eq!(
        copy.storage_key, first.storage_key,
        "the same bytes are shared"
    );
    let due = w
        .stores
        .files
        .due_blob_cleanups(time::now(), 10)
        .await
        .unwrap();
    assert_eq!(
        due,
        [copy_new.storage_key.as_str()],
        "the second upload is let go"
    );
    w.stores
        .files
        .finish_blob_cleanup(&copy_new.storage_key)
        .await
        .unwrap();

    assert!(w
        .stores
        .files
        .delete_file(first.id, time::now(), &[])
        .await
        .unwrap());
    assert!(!w
        .stores
        .files
        .delete_file(first.id, time::now(), &[])
        .await
        .unwrap());
    let due = w
        .stores
        .files
        .due_blob_cleanups(time::now(), 10)
        .await
        .unwrap();
    assert_eq!(due, Vec::<String>::new(), "the copy still serves a file");
    let deleted = w.stores.files.get_file(first.id).await.unwrap().unwrap();
    assert!(deleted.deleted_at.is_some());

    assert!(w
        .stores
        .files
        .delete_file(copy.id, time::now(), &[])
        .await
        .unwrap());
    let due = w
        .stores
        .files
        .due_blob_cleanups(time::now(), 10)
        .await
        .unwrap();
    assert_eq!(due, [first.storage_key.as_str()]);

    // The same bytes uploaded again after that make a new copy.
    let again_new = new_file(&w, "again.txt");
    let again = upload(&w, &again_new).await.unwrap();
    assert_eq!(again.storage_key, again_new.storage_key);
}

pub async fn uploads_are_claimed_once_and_swept_when_abandoned(stores: Stores) {
    let w = world(stores).await;
    let never_begun = new_file(&w, "a.txt");
    assert!(matches!(
        w.stores.files.create_file(&never_begun).await,
        Err(Error::NotFound("upload"))
    ));
    let abandoned = new_file_with(&w, "b.txt", &"ef".repeat(32));
    let soon = time::now() + Duration::seconds(30);
    w.stores
        .files
        .begin_upload(&abandoned.storage_key, soon)
        .await
        .unwrap();
    assert_eq!(
        w.stores
            .files
            .due_blob_cleanups(time::now(), 10)
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        w.stores
            .files
            .due_blob_cleanups(soon + Duration::seconds(1), 10)
            .await
            .unwrap(),
        [abandoned.storage_key.as_str()]
    );
    w.stores
        .files
        .finish_blob_cleanup(&abandoned.storage_key)
        .await
        .unwrap();
    assert!(
        matches!(
            w.stores.files.create_file(&abandoned).await,
            Err(Error::NotFound("upload")),
        ),
        "a swept upload cannot become a file"
    );
}

pub async fn quotas_count_live_files(stores: Stores) {
    let w = world(stores).await;
    let mut first = new_file_with(&w, "a", &"01".repeat(32));
    first.file_size = 600;
    first.quota_bytes = Some(1_000);
    let first = upload(&w, &first).await.unwrap();
    let mut over = new_file_with(&w, "b", &"02".repeat(32));
    over.file_size = 401;
    over.quota_bytes = Some(1_000);
    assert!(matches!(
        upload(&w, &over).await,
        Err(Error::TooLarge { ref what, limit: 1_000 }) if what == "quota"
    ));
    assert_eq!(
        w.stores
            .files
            .used_bytes(w.workspace.id, w.owner.id)
            .await
            .unwrap(),
        600
    );
    w.stores
        .files
        .delete_file(first.id, time::now(), &[])
        .await
        .unwrap();
    let mut fits = new_file_with(&w, "c", &"03".repeat(32));
    fits.file_size = 1_000;
    fits.quota_bytes = Some(1_000);
    upload(&w, &fits).await.unwrap();
}

pub async fn file_listings_show_only_what_the_viewer_may_see(stores: Stores) {
    let w = world(stores).await;
    let other = w.member("other", WorkspaceRole::Member).await;
    let secret = w.channel("secret").await;
    let mine = upload(&w, &new_file_with(&w, "mine", &"11".repeat(32)))
        .await
        .unwrap();
    let in_general = upload(&w, &new_file_with(&w, "general", &"12".repeat(32)))
        .await
        .unwrap();
    let in_secret = upload(&w, &new_file_with(&w, "secret", &"13".repeat(32)))
        .await
        .unwrap();
    let m = w.post("shared").await;
    w.stores
        .files
        .attach_file(m.id, in_general.id, None, time::now())
        .await
        .unwrap();
    let s = w.post_in(&secret, "hidden").await;
    w.stores
        .files
        .attach_file(s.id, in_secret.id, None, time::now())
        .await
        .unwrap();
    assert_eq!(
        w.stores.files.file_channels(in_secret.id).await.unwrap(),
        [secret.id]
    );

    let filter = |viewer, readable: Vec<ChannelId>| FileFilter {
        workspace_id: w.workspace.id,
        viewer,
        readable,
        channel: None,
        uploader: None,
        before: None,
        limit: 10,
    };
    let ids = |files: Vec<File>| files.into_iter().map(|f| f.id).collect::<Vec<_>>();
    let owner_sees = w
        .stores
        .files
        .list_files(&filter(w.owner.id, vec![w.general.id, secret.id]))
        .await
        .unwrap();
    assert_eq!(ids(owner_sees), [in_secret.id, in_general.id, mine.id]);
    let other_sees = w
        .stores
        .files
        .list_files(&filter(other.id, vec![w.general.id]))
        .await
        .unwrap();
    assert_eq!(ids(other_sees), [in_general.id]);
    let nothing = w
        .stores
        .files
        .list_files(&filter(other.id, vec![]))
        .await
        .unwrap();
    assert_eq!(ids(nothing), Vec::<FileId>::new());

    let page = FileFilter {
        channel: Some(secret.id),
        ..filter(w.owner.id, vec![w.general.id, secret.id])
    };
    assert_eq!(
        ids(w.stores.files.list_files(&page).await.unwrap()),
        [in_secret.id]
    );
    let after_first = FileFilter {
        before: Some((in_secret.created_at, in_secret.id)),
        limit: 1,
        ..filter(w.owner.id, vec![w.general.id, secret.id])
    };
    assert_eq!(
        ids(w.stores.files.list_files(&after_first).await.unwrap()),
        [in_general.id]
    );

    // A deleted message no longer shares its file.
    w.stores
        .messages
        .delete_message(s.id, time::now())
        .await
        .unwrap();
    assert_eq!(
        w.stores.files.file_channels(in_secret.id).await.unwrap(),
        Vec::<ChannelId>::new()
    );
    assert_eq!(
        w.stores
            .files
            .files_for_messages(&[m.id, s.id])
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn files_are_claimed_for_processing_once_until_stale(stores: Stores) {
    let w = world(stores).await;
    let a = upload(&w, &new_file_with(&w, "a", &"21".repeat(32)))
        .await
        .unwrap();
    let b = upload(&w, &new_file_with(&w, "b", &"22".repeat(32)))
        .await
        .unwrap();
    let now = time::now();
    let stale = now - Duration::minutes(10);
    let claimed = w
        .stores
        .files
        .claim_files_to_process(now, stale, 1)
        .await
        .unwrap();
    assert_eq!(
        claimed.iter().map(|f| f.id).collect::<Vec<_>>(),
        [a.id],
        "oldest first"
    );
    assert_eq!(claimed[0].processing_status, "processing");
    let rest = w
        .stores
        .files
        .claim_files_to_process(now, stale, 10)
        .await
        .unwrap();
    assert_eq!(rest.iter().map(|f| f.id).collect::<Vec<_>>(), [b.id]);
    let none = w
        .stores
        .files
        .claim_files_to_process(now, stale, 10)
        .await
        .unwrap();
    assert!(none.is_empty(), "claimed files are not handed out twice");
    let later = time::now() + Duration::seconds(1);
    let again = w
        .stores
        .files
        .claim_files_to_process(later, later, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 2, "a stopped node's work is taken over");

    let derived = vec![format!("thumbs/{}/64", a.id)];
    w.stores
        .files
        .delete_file(a.id, time::now(), &derived)
        .await
        .unwrap();
    let mut due = w
        .stores
        .files
        .due_blob_cleanups(time::now(), 10)
        .await
        .unwrap();
    due.sort();
    let mut expected = vec![derived[0].clone(), a.storage_key.clone()];
    expected.sort();
    assert_eq!(due, expected, "its bytes and its thumbnails go");
    let after = time::now() + Duration::seconds(2);
    let left = w
        .stores
        .files
        .claim_files_to_process(after, after, 10)
        .await
        .unwrap();
    assert_eq!(
        left.iter().map(|f| f.id).collect::<Vec<_>>(),
        [b.id],
        "deleted files are not processed"
    );
}

pub async fn downloads_are_counted_in_batches(stores: Stores) {
    let w = world(stores).await;
    let file = upload(&w, &new_file(&w, "a.txt")).await.unwrap();
    let later = time::now() + Duration::seconds(5);
    let earlier = later - Duration::seconds(60);
    w.stores
        .files
        .record_downloads(&[
            FileDownloads {
                file_id: file.id,
                count: 3,
                last_accessed_at: later,
            },
            FileDownloads {
                file_id: FileId::new(),
                count: 1,
                last_accessed_at: later,
            },
        ])
        .await
        .unwrap();
    w.stores
        .files
        .record_downloads(&[FileDownloads {
            file_id: file.id,
            count: 2,
            last_accessed_at: earlier,
        }])
        .await
        .unwrap();
    let read = w.stores.files.get_file(file.id).await.unwrap().unwrap();
    assert_eq!(read.download_count, 5);
    assert_eq!(
        read.last_accessed_at,
        Some(later),
        "time only moves forward"
    );
}

// --------------------------------------------------------- integrations

pub async fn integrations_are_installed_and_updated(stores: Stores) {
    let w = world(stores).await;
    let new = NewIntegration {
        id: IntegrationId::new(),
        workspace_id: w.workspace.id,
        app_name: "Deploy Bot".into(),
        app_id: "deploy-bot".into(),
        integration_type: "incoming_webhook".into(),
        config: json!({"url_token": "t0k"}),
        credentials: Some(json!({"secret": "s"})),
        scopes: vec!["chat:write".into(), "channels:read".into()],
        channel_id: Some(w.general.id),
        installed_by: w.owner.id,
        created_at: time::now(),
    };
    let created = w
        .stores
        .integrations
        .create_integration(&new)
        .await
        .unwrap();
    assert_eq!(created.scopes, new.scopes);
    assert_eq!(created.status, "active");
    assert_eq!(created.channel_id, Some(w.general.id));
    assert_eq!(
        w.stores.integrations.get_integration(new.id).await.unwrap(),
        Some(created.clone())
    );
    let failed = w
        .stores
        .integrations
        .set_integration_status(new.id, "error", Some("endpoint returned 500"))
        .await
        .unwrap();
    assert_eq!(failed.status, "error");
    assert_eq!(failed.last_error.as_deref(), Some("endpoint returned 500"));
    let used = time::now();
    w.stores
        .integrations
        .touch_integration(new.id, used)
        .await
        .unwrap();
    let listed = w
        .stores
        .integrations
        .list_integrations(w.workspace.id)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_used_at, Some(used));
    assert!(matches!(
        w.stores
            .integrations
            .touch_integration(IntegrationId::new(), used)
            .await,
        Err(Error::NotFound(_))
    ));
}

// ----------------------------------------------------- sessions and auth

fn session_for(user: UserId, id: &str, lifetime: Duration) -> Session {
    let now = time::now();
    Session {
        id: id.to_owned(),
        user_id: user,
        workspace_id: None,
        device_type: "desktop".into(),
        ip_address: Some("192.0.2.1".into()),
        user_agent: Some("test-agent".into()),
        permissions: vec!["read".into(), "write".into()],
        created_at: now,
        last_activity_at: now,
        expires_at: now + lifetime,
        revoked_at: None,
    }
}

pub async fn email_verification_tokens_are_single_use(stores: Stores) {
    let w = world(stores).await;
    let users = &w.stores.users;
    let user = w.member("vic", WorkspaceRole::Member).await;
    assert_eq!(user.email_verified_at, None);
    let now = time::now();
    let later = now + Duration::hours(1);
    users
        .create_email_verification(user.id, "first", now, later)
        .await
        .unwrap();
    users
        .create_email_verification(user.id, "second", now, later)
        .await
        .unwrap();
    users
        .create_email_verification(w.owner.id, "expired", now, now - Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(
        users.use_email_verification("unknown", now).await.unwrap(),
        None
    );
    // An expired token verifies nothing and is gone.
    assert_eq!(
        users.use_email_verification("expired", now).await.unwrap(),
        None
    );
    assert_eq!(
        users
            .get_user(w.owner.id)
            .await
            .unwrap()
            .unwrap()
            .email_verified_at,
        None
    );
    let verified = users
        .use_email_verification("first", now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(verified.id, user.id);
    assert_eq!(verified.email_verified_at, Some(now));
    assert_eq!(
        users
            .get_user(user.id)
            .await
            .unwrap()
            .unwrap()
            .email_verified_at,
        Some(now)
    );
    // Used, and the user's other token went with it.
    assert_eq!(
        users.use_email_verification("first", now).await.unwrap(),
        None
    );
    assert_eq!(
        users.use_email_verification("second", now).await.unwrap(),
        None
    );
    // A later token keeps the first time of verification.
    users
        .create_email_verification(user.id, "third", now, later)
        .await
        .unwrap();
    let again = users
        .use_email_verification("third", later - Duration::minutes(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.email_verified_at, Some(now));
}

pub async fn password_reset_tokens_are_single_use(stores: Stores) {
    let w = world(stores).await;
    let users = &w.stores.users;
    let user = w.member("rey", WorkspaceRole::Member).await;
    let before = users
        .get_user(user.id)
        .await
        .unwrap()
        .unwrap()
        .password_hash;
    let now = time::now();
    let later = now + Duration::hours(1);
    for token in ["first", "second"] {
        users
            .create_password_reset(user.id, token, now, later)
            .await
            .unwrap();
    }
    users
        .create_password_reset(w.owner.id, "expired", now, now - Duration::seconds(1))
        .await
        .unwrap();
    // Unknown and expired tokens change nothing; the expired one is gone.
    assert_eq!(
        users
            .use_password_reset("unknown", now, "hash-x")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        users
            .use_password_reset("expired", now, "hash-x")
            .await
            .unwrap(),
        None
    );
    let owner = users.get_user(w.owner.id).await.unwrap().unwrap();
    assert_ne!(owner.password_hash.as_deref(), Some("hash-x"));
    assert_eq!(
        users
            .use_password_reset("expired", now, "hash-x")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        users
            .get_user(user.id)
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        before
    );
    let reset = users
        .use_password_reset("first", now, "hash-new")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reset.id, user.id);
    assert_eq!(reset.password_hash.as_deref(), Some("hash-new"));
    assert_eq!(
        users
            .get_user(user.id)
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .as_deref(),
        Some("hash-new")
    );
    // Used, and the user's other token went with it.
    for token in ["first", "second"] {
        assert_eq!(
            users
                .use_password_reset(token, now, "hash-again")
                .await
                .unwrap(),
            None
        );
    }
    // Expired tokens are purged with sessions.
    users
        .create_password_reset(user.id, "lapsing", now, now + Duration::minutes(1))
        .await
        .unwrap();
    w.stores
        .auth
        .purge_expired(now + Duration::minutes(2))
        .await
        .unwrap();
    assert_eq!(
        users
            .use_password_reset("lapsing", now, "hash-late")
            .await
            .unwrap(),
        None
    );
}

pub async fn threads_past_retention_move_to_the_archive_whole(stores: Stores) {
    let w = world(stores).await;
    let member = w.member("reta", WorkspaceRole::Member).await;
    w.stores
        .channels
        .add_channel_member(&new_channel_member(w.general.id, member.id))
        .await
        .unwrap();
    let msgs = &w.stores.messages;
    let now = time::now();
    let old = now - Duration::days(400);
    let post_at = |at: chrono::DateTime<Utc>, content: &str, thread: Option<MessageId>| {
        let mut new = text(&w.general, w.owner.id, content);
        new.id = MessageId::at(at);
        new.thread_id = thread;
        new.mentions = vec![member.id.to_string()];
        new
    };
    // An old thread, an old thread still talked in, and a recent message.
    let aged = msgs
        .insert_message(&post_at(old, "aged", None))
        .await
        .unwrap()
        .message;
    let aged_reply = msgs
        .insert_message(&post_at(
            old + Duration::hours(1),
            "aged reply",
            Some(aged.id),
        ))
        .await
        .unwrap()
        .message;
    msgs.add_reaction(aged.id, member.id, "tada").await.unwrap();
    let alive = msgs
        .insert_message(&post_at(old, "alive", None))
        .await
        .unwrap()
        .message;
    msgs.insert_message(&post_at(
        now - Duration::days(3),
        "recent reply",
        Some(alive.id),
    ))
    .await
    .unwrap();
    let recent = msgs
        .insert_message(&post_at(now - Duration::days(10), "recent", None))
        .await
        .unwrap()
        .message;
    let cutoff = now - Duration::days(365);

    assert_eq!(
        msgs.archivable_threads(w.general.id, cutoff, 10)
            .await
            .unwrap(),
        [aged.id]
    );
    assert_eq!(
        msgs.count_archivable(w.general.id, cutoff).await.unwrap(),
        (1, 2)
    );
    let policies = w
        .stores
        .channels
        .retention_policies(w.workspace.id)
        .await
        .unwrap();
    assert!(policies.contains(&(w.general.id, None)), "{policies:?}");
    let queued = w.stores.search_queue.search_backlog().await.unwrap();
    let counts = || async {
        let states = w
            .stores
            .channels
            .read_states(w.workspace.id, member.id, Some(w.general.id))
            .await
            .unwrap();
        (states[0].unread, states[0].mentions)
    };
    let (unread, mentions) = counts().await;

    assert_eq!(msgs.archive_threads(&[aged.id], now).await.unwrap(), 2);
    // Done once: a second run finds nothing to move.
    assert_eq!(msgs.archive_threads(&[aged.id], now).await.unwrap(), 0);
    assert!(msgs
        .archivable_threads(w.general.id, cutoff, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(msgs.get_message(aged.id).await.unwrap(), None);
    assert_eq!(msgs.get_message(aged_reply.id).await.unwrap(), None);
    assert!(msgs.get_message(alive.id).await.unwrap().is_some());
    assert!(msgs.get_message(recent.id).await.unwrap().is_some());
    // The search index is told to forget both.
    assert_eq!(
        w.stores.search_queue.search_backlog().await.unwrap(),
        queued + 2
    );
    // They no longer count as unread, nor do their mentions.
    assert_eq!(counts().await, (unread - 1, mentions - 2));

    // The archive keeps the rows whole, newest first, in pages.
    let archived = msgs
        .archived_messages(w.general.id, None, 10)
        .await
        .unwrap();
    let ids: Vec<MessageId> = archived.iter().map(|m| m.id).collect();
    assert_eq!(ids, [aged_reply.id, aged.id]);
    assert_eq!(archived[1].content, "aged");
    assert_eq!(archived[1].reactions.0["tada"], vec![member.id]);
    assert_eq!(archived[0].thread_id, Some(aged.id));
    let next = msgs
        .archived_messages(
            w.general.id,
            Some((archived[0].created_at, archived[0].id)),
            10,
        )
        .await
        .unwrap();
    assert_eq!(next.iter().map(|m| m.id).collect::<Vec<_>>(), [aged.id]);
    let elsewhere = w.channel("elsewhere").await;
    assert!(msgs
        .archived_messages(elsewhere.id, None, 10)
        .await
        .unwrap()
        .is_empty());
}

pub async fn periodic_jobs_are_claimed_once_per_run(stores: Stores) {
    let admin = &stores.admin;
    let now = time::now();
    let since = now - Duration::hours(12);
    assert!(admin.claim_job_run("nightly", since, now).await.unwrap());
    assert!(!admin.claim_job_run("nightly", since, now).await.unwrap());
    assert!(admin.claim_job_run("other", since, now).await.unwrap());
    // The next day's run.
    let tomorrow = now + Duration::days(1);
    assert!(admin
        .claim_job_run("nightly", tomorrow - Duration::hours(12), tomorrow)
        .await
        .unwrap());
}

pub async fn sessions_are_created_touched_and_revoked(stores: Stores) {
    let w = world(stores).await;
    let auth = &w.stores.auth;
    let session = session_for(w.owner.id, "s1", Duration::hours(24));
    auth.create_session(&session).await.unwrap();
    assert_eq!(auth.get_session("s1").await.unwrap(), Some(session.clone()));
    assert!(auth.get_session("nope").await.unwrap().is_none());
    // Read with its user, the user equal to what the single read gives.
    let owner = w.stores.users.get_user(w.owner.id).await.unwrap().unwrap();
    let together = auth.get_session_with_user("s1").await.unwrap();
    assert_eq!(together, Some((session.clone(), owner)));
    assert!(auth.get_session_with_user("nope").await.unwrap().is_none());

    let later = time::now() + Duration::minutes(5);
    assert!(auth
        .touch_session(
            "s1",
            later,
            later + Duration::hours(24),
            Some(w.workspace.id)
        )
        .await
        .unwrap());
    let touched = auth.get_session("s1").await.unwrap().unwrap();
    assert_eq!(touched.last_activity_at, later);
    assert_eq!(touched.expires_at, later + Duration::hours(24));
    assert_eq!(touched.workspace_id, Some(w.workspace.id));
    assert!(touched.is_live(later));

    let at = time::now();
    assert!(auth.revoke_session("s1", at).await.unwrap());
    assert!(!auth.revoke_session("s1", at).await.unwrap());
    let revoked = auth.get_session("s1").await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(at));
    let (with_user, _) = auth.get_session_with_user("s1").await.unwrap().unwrap();
    assert_eq!(with_user, revoked);
    assert!(!revoked.is_live(at));
    assert!(
        !auth
            .touch_session("s1", later, later + Duration::hours(24), None)
            .await
            .unwrap(),
        "a revoked session stays revoked"
    );

    let expired = session_for(w.owner.id, "old", Duration::seconds(-1));
    auth.create_session(&expired).await.unwrap();
    assert!(!auth
        .touch_session("old", time::now(), time::now() + Duration::hours(1), None)
        .await
        .unwrap());
    assert!(matches!(
        auth.create_session(&session_for(w.owner.id, "old", Duration::hours(1)))
            .await,
        Err(Error::Conflict { .. })
    ));
}

pub async fn sessions_of_a_user_are_revoked_together(stores: Stores) {
    let w = world(stores).await;
    let other = w.member("other", WorkspaceRole::Member).await;
    let auth = &w.stores.auth;
    for id in ["a", "b", "c"] {
        auth.create_session(&session_for(w.owner.id, id, Duration::hours(1)))
            .await
            .unwrap();
    }
    auth.create_session(&session_for(other.id, "theirs", Duration::hours(1)))
        .await
        .unwrap();
    assert_eq!(
        auth.list_user_sessions(w.owner.id, time::now())
            .await
            .unwrap()
            .len(),
        3
    );
    let revoked = auth
        .revoke_user_sessions(w.owner.id, Some("b"), time::now())
        .await
        .unwrap();
    assert_eq!(revoked, 2);
    let live: Vec<String> = auth
        .list_user_sessions(w.owner.id, time::now())
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(live, ["b"]);
    assert_eq!(
        auth.revoke_user_sessions(w.owner.id, None, time::now())
            .await
            .unwrap(),
        1
    );
    assert!(auth
        .get_session("theirs")
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_none());
}

pub async fn expired_sessions_and_challenges_are_purged(stores: Stores) {
    let w = world(stores).await;
    let auth = &w.stores.auth;
    auth.create_session(&session_for(w.owner.id, "gone", Duration::seconds(-10)))
        .await
        .unwrap();
    auth.create_session(&session_for(w.owner.id, "kept", Duration::hours(1)))
        .await
        .unwrap();
    let now = time::now();
    let challenge = LoginChallenge {
        id: "ch".into(),
        user_id: w.owner.id,
        client: ClientInfo {
            device_type: "mobile".into(),
            ip_address: None,
            user_agent: None,
        },
        created_at: now,
        expires_at: now + Duration::minutes(5),
    };
    auth.create_login_challenge(&challenge).await.unwrap();
    assert_eq!(
        auth.get_login_challenge("ch").await.unwrap(),
        Some(challenge.clone())
    );
    assert_eq!(auth.purge_expired(time::now()).await.unwrap(), 1);
    assert!(auth.get_session("gone").await.unwrap().is_none());
    assert!(auth.get_session("kept").await.unwrap().is_some());
    assert!(auth.get_login_challenge("ch").await.unwrap().is_some());
    auth.delete_login_challenge("ch").await.unwrap();
    assert!(auth.get_login_challenge("ch").await.unwrap().is_none());
}

pub async fn totp_steps_are_used_once(stores: Stores) {
    let w = world(stores).await;
    let other = w.member("other", WorkspaceRole::Member).await;
    let auth = &w.stores.auth;
    assert!(auth
        .use_totp_step(w.owner.id, 100, time::now())
        .await
        .unwrap());
    assert!(!auth
        .use_totp_step(w.owner.id, 100, time::now())
        .await
        .unwrap());
    assert!(auth
        .use_totp_step(w.owner.id, 101, time::now())
        .await
        .unwrap());
    assert!(auth
        .use_totp_step(other.id, 100, time::now())
        .await
        .unwrap());
    let tasks = (0..20).map(|_| {
        let stores = w.stores.clone();
        let user = w.owner.id;
        tokio::spawn(async move {
            stores
                .auth
                .use_totp_step(user, 555, time::now())
                .await
                .unwrap()
        })
    });
    let accepted = join_all(tasks)
        .await
        .into_iter()
        .filter(|r| *r.as_ref().unwrap())
        .count();
    assert_eq!(
        accepted, 1,
        "a replayed code is accepted once, even in a race"
    );
}

pub async fn failures_are_counted_in_windows_and_lock(stores: Stores) {
    let w = world(stores).await;
    let auth = &w.stores.auth;
    let t0 = time::now();
    let window = Duration::minutes(15);
    let rules_at = move |now: chrono::DateTime<chrono::Utc>| AttemptRules {
        now,
        window_start: now - window,
        max_attempts: 3,
        lock_until: now + Duration::minutes(10),
    };
    for expected in 1..=3 {
        let count = auth.take_attempt("mfa:x", &rules_at(t0)).await.unwrap();
        let count = count.expect("attempts below the limit are taken");
        assert_eq!(count.failures, expected);
        assert_eq!(count.window_started_at, t0);
        let locked = (expected == 3).then_some(t0 + Duration::minutes(10));
        assert_eq!(count.locked_until, locked);
    }
    // Locked: refused, and the refusal is not counted.
    let t_locked = t0 + Duration::minutes(5);
    assert_eq!(
        auth.take_attempt("mfa:x", &rules_at(t_locked))
            .await
            .unwrap(),
        None
    );
    let stored = auth.get_failures("mfa:x").await.unwrap().unwrap();
    assert_eq!(
        (stored.failures, stored.locked_until),
        (3, Some(t0 + Duration::minutes(10)))
    );
    // After the lock lapses the count restarts at one.
    let t1 = t0 + Duration::minutes(11);
    let count = auth
        .take_attempt("mfa:x", &rules_at(t1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (count.failures, count.window_started_at, count.locked_until),
        (1, t1, None)
    );
    // Hundreds of parallel attempts: exactly the allowed number is taken.
    let tasks = (0..200).map(|_| {
        let stores = w.stores.clone();
        tokio::spawn(async move {
            stores
                .auth
                .take_attempt("race", &rules_at(t0))
                .await
                .unwrap()
                .is_some()
        })
    });
    let taken = join_all(tasks)
        .await
        .into_iter()
        .filter(|t| *t.as_ref().unwrap())
        .count();
    assert_eq!(taken, 3, "no more attempts than allowed under concurrency");
    assert_eq!(
        auth.get_failures("race").await.unwrap().unwrap().failures,
        3
    );
    auth.clear_failures("mfa:x").await.unwrap();
    assert!(auth.get_failures("mfa:x").await.unwrap().is_none());
}

fn invitation_for(
    w: &World,
    token_hash: &str,
    email: Option<&str>,
    max_uses: Option<i32>,
) -> Invitation {
    let now = time::now();
    Invitation {
        id: InvitationId::new(),
        workspace_id: w.workspace.id,
        token_hash: token_hash.to_owned(),
        email: email.map(str::to_owned),
        role: WorkspaceRole::Member,
        max_uses,
        use_count: 0,
        expires_at: now + Duration::days(7),
        revoked_at: None,
        created_by: w.owner.id,
        created_at: now,
    }
}

pub async fn invitations_are_created_listed_and_revoked(stores: Stores) {
    let w = world(stores).await;
    let ws = &w.stores.workspaces;
    let first = ws
        .create_invitation(&invitation_for(&w, "h1", Some("a@example.test"), Some(1)))
        .await
        .unwrap();
    let second = ws
        .create_invitation(&invitation_for(&w, "h2", None, None))
        .await
        .unwrap();
    assert_eq!(first.use_count, 0);
    assert_eq!(
        ws.get_invitation_by_token("h1").await.unwrap(),
        Some(first.clone())
    );
    assert!(ws.get_invitation_by_token("zz").await.unwrap().is_none());
    let listed: Vec<InvitationId> = ws
        .list_invitations(w.workspace.id, None, 50)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(listed, [second.id, first.id]);
    // Paged: newest first, a cursor to the older ones.
    let page = ws.list_invitations(w.workspace.id, None, 1).await.unwrap();
    assert_eq!(page.items[0].id, second.id);
    assert_eq!(page.next, Some(second.id));
    let older = ws
        .list_invitations(w.workspace.id, page.next, 1)
        .await
        .unwrap();
    assert_eq!(
        older.items.iter().map(|i| i.id).collect::<Vec<_>>(),
        [first.id]
    );
    assert_eq!(older.next, None);
    let at = time::now();
    let revoked = ws
        .revoke_invitation(w.workspace.id, first.id, at)
        .await
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(at));
    assert!(!revoked.is_usable(time::now()));
    let (other, _) = create_workspace(&w.stores, &w.owner, "Other").await;
    assert!(matches!(
        ws.revoke_invitation(other.id, second.id, at).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        ws.create_invitation(&invitation_for(&w, "h2", None, None))
            .await,
        Err(Error::Conflict { .. })
    ));
}

pub async fn invitations_are_accepted_within_their_limits(stores: Stores) {
    let w = world(stores).await;
    let ws = &w.stores.workspaces;
    let once = ws
        .create_invitation(&invitation_for(&w, "once", None, Some(1)))
        .await
        .unwrap();
    let alice = w
        .stores
        .users
        .create_user(&new_user("alice"))
        .await
        .unwrap();
    let bob = w.stores.users.create_user(&new_user("bob")).await.unwrap();
    // The member's workspace and role come from the invitation, whatever is asked.
    let mut asked = new_member(WorkspaceId::new(), alice.id, WorkspaceRole::Owner);
    asked.role = WorkspaceRole::Owner;
    let (used, member) = ws
        .accept_invitation("once", &asked, time::now())
        .await
        .unwrap();
    assert_eq!(used.use_count, 1);
    assert_eq!(member.workspace_id, w.workspace.id);
    assert_eq!(member.role, WorkspaceRole::Member);
    assert_eq!(member.invited_by, Some(w.owner.id));
    assert_eq!(member.invitation_token, Some(once.id.to_string()));
    let in_general = w
        .stores
        .channels
        .get_channel_member(w.general.id, alice.id)
        .await
        .unwrap()
        .expect("a new member joins the general channel");
    assert!(in_general.is_active);
    let spent = ws
        .accept_invitation(
            "once",
            &new_member(w.workspace.id, bob.id, WorkspaceRole::Member),
            time::now(),
        )
        .await
        .unwrap_err();
    assert_conflict(spent, "invitation");
    assert!(ws
        .get_member(w.workspace.id, bob.id)
        .await
        .unwrap()
        .is_none());

    let link = ws
        .create_invitation(&invitation_for(&w, "link", None, None))
        .await
        .unwrap();
    let again = ws
        .accept_invitation(
            "link",
            &new_member(w.workspace.id, alice.id, WorkspaceRole::Member),
            time::now(),
        )
        .await
        .unwrap_err();
    assert_conflict(again, "user_id");
    assert_eq!(
        ws.get_invitation_by_token("link")
            .await
            .unwrap()
            .unwrap()
            .use_count,
        0,
        "a refused acceptance changes nothing"
    );
    let mut expired = invitation_for(&w, "expired", None, None);
    expired.expires_at = time::now() - Duration::seconds(1);
    ws.create_invitation(&expired).await.unwrap();
    assert_conflict(
        ws.accept_invitation(
            "expired",
            &new_member(w.workspace.id, bob.id, WorkspaceRole::Member),
            time::now(),
        )
        .await
        .unwrap_err(),
        "invitation",
    );
    ws.revoke_invitation(w.workspace.id, link.id, time::now())
        .await
        .unwrap();
    assert_conflict(
        ws.accept_invitation(
            "link",
            &new_member(w.workspace.id, bob.id, WorkspaceRole::Member),
            time::now(),
        )
        .await
        .unwrap_err(),
        "invitation",
    );
    assert!(matches!(
        ws.accept_invitation(
            "unknown",
            &new_member(w.workspace.id, bob.id, WorkspaceRole::Member),
            time::now()
        )
        .await,
        Err(Error::NotFound(_))
    ));
}

pub async fn concurrent_acceptances_respect_max_uses(stores: Stores) {
    let w = world(stores).await;
    w.stores
        .workspaces
        .create_invitation(&invitation_for(&w, "three", None, Some(3)))
        .await
        .unwrap();
    let mut users = Vec::new();
    for i in 0..10 {
        users.push(
            w.stores
                .users
                .create_user(&new_user(&format!("guest{i}")))
                .await
                .unwrap(),
        );
    }
    let tasks = users.iter().map(|u| {
        let stores = w.stores.clone();
        let member = new_member(w.workspace.id, u.id, WorkspaceRole::Member);
        tokio::spawn(async move {
            stores
                .workspaces
                .accept_invitation("three", &member, time::now())
                .await
        })
    });
    let accepted = join_all(tasks)
        .await
        .into_iter()
        .filter(|r| r.as_ref().unwrap().is_ok())
        .count();
    assert_eq!(accepted, 3);
    assert_eq!(
        w.stores
            .workspaces
            .get_invitation_by_token("three")
            .await
            .unwrap()
            .unwrap()
            .use_count,
        3
    );
}

pub async fn reactions_are_capped_per_message_and_per_person(stores: Stores) {
    let w = world(stores).await;
    let messages = &w.stores.messages;
    let message = w.post("react to me").await;
    let owner = w.owner.id;
    for i in 0..MAX_REACTIONS_PER_USER {
        let added = messages
            .add_reaction(message.id, owner, &format!("e{i}"))
            .await;
        assert!(added.unwrap().changed);
    }
    let refused = messages.add_reaction(message.id, owner, "one-more").await;
    assert!(
        matches!(refused, Err(Error::Conflict { .. })),
        "{refused:?}"
    );
    // Reacting again with an emoji one has is no change, not a refusal.
    assert!(
        !messages
            .add_reaction(message.id, owner, "e0")
            .await
            .unwrap()
            .changed
    );
    // Distinct emoji: others fill the message up to the cap, in parallel.
    let others: Vec<User> = {
        let mut people = Vec::new();
        for i in 0..3 {
            people.push(
                w.member(&format!("reactor{i}"), WorkspaceRole::Member)
                    .await,
            );
        }
        people
    };
    let shared = w.stores.clone();
    let tasks = others.iter().flat_map(|person| {
        let shared = shared.clone();
        (0..MAX_REACTIONS_PER_USER).map(move |i| {
            let stores = shared.clone();
            let user = person.id;
            let emoji = format!("{}x{i}", person.username);
            tokio::spawn(
                async move { stores.messages.add_reaction(message.id, user, &emoji).await },
            )
        })
    });
    let outcomes = join_all(tasks).await;
    let added = outcomes
        .iter()
        .filter(|o| o.as_ref().unwrap().as_ref().is_ok_and(|c| c.changed))
        .count();
    assert_eq!(added, MAX_DISTINCT_REACTIONS - MAX_REACTIONS_PER_USER);
    let stored = messages.get_message(message.id).await.unwrap().unwrap();
    assert_eq!(stored.reactions.0.len(), MAX_DISTINCT_REACTIONS);
    // An emoji already there can still be added by someone else.
    let late = w.member("late-reactor", WorkspaceRole::Member).await;
    let joined = messages
        .add_reaction(message.id, late.id, "e1")
        .await
        .unwrap();
    assert!(joined.changed);
}

pub async fn edit_history_keeps_only_the_latest_versions(stores: Stores) {
    let w = world(stores).await;
    let message = w.post("v0").await;
    for i in 1..=(MAX_EDIT_HISTORY + 5) {
        w.stores
            .messages
            .edit_message(message.id, &format!("v{i}"), None, &[], time::now())
            .await
            .unwrap();
    }
    let stored = w
        .stores
        .messages
        .get_message_with_history(message.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.edit_history.len(), MAX_EDIT_HISTORY);
    assert_eq!(stored.edit_history[0].content, "v5");
    assert_eq!(
        stored.edit_history.last().unwrap().content,
        format!("v{}", MAX_EDIT_HISTORY + 4)
    );
    assert_eq!(stored.content, format!("v{}", MAX_EDIT_HISTORY + 5));

    // Long versions: as many as fit in the byte bound.
    let big = "x".repeat(40_000);
    let long = w.post(&big).await;
    for _ in 0..10 {
        w.stores
            .messages
            .edit_message(long.id, &big, None, &[], time::now())
            .await
            .unwrap();
    }
    let stored = w
        .stores
        .messages
        .get_message_with_history(long.id)
        .await
        .unwrap()
        .unwrap();
    let bytes: usize = stored.edit_history.iter().map(|r| r.content.len()).sum();
    assert!(bytes <= MAX_EDIT_HISTORY_BYTES, "{bytes}");
    assert_eq!(stored.edit_history.len(), MAX_EDIT_HISTORY_BYTES / 40_000);
}

pub async fn pins_are_capped_per_channel(stores: Stores) {
    let w = world(stores).await;
    let cap = MAX_PINS_PER_CHANNEL as usize;
    let mut posted = Vec::new();
    for i in 0..cap + 5 {
        posted.push(w.post(&format!("pin me {i}")).await);
    }
    let owner = w.owner.id;
    let tasks = posted.iter().map(|message| {
        let stores = w.stores.clone();
        let id = message.id;
        tokio::spawn(async move {
            stores
                .messages
                .set_pinned(id, Some(owner), time::now())
                .await
        })
    });
    let outcomes = join_all(tasks).await;
    let pinned = outcomes
        .iter()
        .filter(|o| o.as_ref().unwrap().as_ref().is_ok_and(|c| c.changed))
        .count();
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o.as_ref().unwrap(), Err(Error::Conflict { .. })))
        .count();
    assert_eq!(
        (pinned, refused),
        (cap, 5),
        "exactly the cap, even in parallel"
    );
    let listed = w.stores.messages.list_pinned(w.general.id).await.unwrap();
    assert_eq!(listed.len(), cap);
    // Unpinning makes room again.
    let first = listed[0].id;
    let messages = &w.stores.messages;
    assert!(
        messages
            .set_pinned(first, None, time::now())
            .await
            .unwrap()
            .changed
    );
    let unpinned_before: Vec<MessageId> = posted
        .iter()
        .map(|m| m.id)
        .filter(|id| !listed.iter().any(|l| l.id == *id))
        .collect();
    let room = messages
        .set_pinned(unpinned_before[0], Some(owner), time::now())
        .await;
    assert!(room.unwrap().changed);
}

pub async fn pending_invitations_are_capped(stores: Stores) {
    let w = world(stores).await;
    let ws = &w.stores.workspaces;
    let cap = MAX_PENDING_INVITATIONS as usize;
    // An expired and a revoked invitation do not count.
    let mut expired = invitation_for(&w, "expired", None, None);
    expired.expires_at = time::now() - Duration::hours(1);
    ws.create_invitation(&expired).await.unwrap();
    let revoked = ws
        .create_invitation(&invitation_for(&w, "revoked", None, None))
        .await
        .unwrap();
    ws.revoke_invitation(w.workspace.id, revoked.id, time::now())
        .await
        .unwrap();
    let tasks = (0..cap + 3).map(|i| {
        let stores = w.stores.clone();
        let invitation = invitation_for(&w, &format!("pending-{i}"), None, None);
        tokio::spawn(async move { stores.workspaces.create_invitation(&invitation).await })
    });
    let outcomes = join_all(tasks).await;
    let created = outcomes
        .iter()
        .filter(|o| o.as_ref().unwrap().is_ok())
        .count();
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o.as_ref().unwrap(), Err(Error::Conflict { .. })))
        .count();
    assert_eq!((created, refused), (cap, 3));
}

/// The outbox entries waiting, as (kind, entity) in order.
async fn queued(stores: &Stores) -> Vec<(SearchKind, uuid::Uuid)> {
    // Held until a moment ago: left free for the next look.
    let now = time::now();
    let work = stores
        .search_queue
        .claim_search_work(1_000, now, now - Duration::seconds(1))
        .await
        .unwrap();
    work.into_iter().map(|w| (w.kind, w.entity_id)).collect()
}

/// Take every waiting outbox entry away (what setting up a world queued).
async fn drain_queue(stores: &Stores) {
    loop {
        let now = time::now();
        let work = stores
            .search_queue
            .claim_search_work(1_000, now, now + Duration::seconds(60))
            .await
            .unwrap();
        if work.is_empty() {
            return;
        }
        let seqs: Vec<i64> = work.iter().map(|w| w.seq).collect();
        stores.search_queue.finish_search_work(&seqs).await.unwrap();
    }
}

pub async fn changes_of_people_queue_them_for_search(stores: Stores) {
    let w = world(stores).await;
    let person = |id: UserId| (SearchKind::User, id.0);
    // Setting up the world made members: each was queued.
    assert!(queued(&w.stores).await.contains(&person(w.owner.id)));
    drain_queue(&w.stores).await;
    let users = &w.stores.users;
    let rename = ProfileUpdate {
        display_name: Some("Someone Else".into()),
        ..ProfileUpdate::default()
    };
    users.update_profile(w.owner.id, &rename).await.unwrap();
    assert_eq!(queued(&w.stores).await, [person(w.owner.id)]);
    drain_queue(&w.stores).await;
    // What people search does not read queues nothing.
    users.record_login(w.owner.id, time::now()).await.unwrap();
    users.set_password_hash(w.owner.id, "x").await.unwrap();
    assert!(queued(&w.stores).await.is_empty());
    users
        .set_user_status(w.owner.id, UserStatus::Deactivated)
        .await
        .unwrap();
    assert_eq!(queued(&w.stores).await, [person(w.owner.id)]);
}

pub async fn every_change_of_a_message_queues_it_for_search(stores: Stores) {
    let w = world(stores).await;
    drain_queue(&w.stores).await;
    let msgs = &w.stores.messages;
    let m = w.post("first").await;
    let message = |id: MessageId| (SearchKind::Message, id.0);
    assert_eq!(queued(&w.stores).await, [message(m.id)]);
    msgs.edit_message(m.id, "second", None, &[], time::now())
        .await
        .unwrap();
    msgs.add_reaction(m.id, w.owner.id, "tada").await.unwrap();
    // A second reaction changes nothing the index holds.
    msgs.add_reaction(m.id, w.owner.id, "eyes").await.unwrap();
    msgs.set_pinned(m.id, Some(w.owner.id), time::now())
        .await
        .unwrap();
    msgs.remove_reaction(m.id, w.owner.id, "eyes")
        .await
        .unwrap();
    msgs.remove_reaction(m.id, w.owner.id, "tada")
        .await
        .unwrap();
    msgs.delete_message(m.id, time::now()).await.unwrap();
    // Nothing changed, nothing queued.
    msgs.delete_message(m.id, time::now()).await.unwrap();
    assert_eq!(w.stores.search_queue.search_backlog().await.unwrap(), 6);
    assert_eq!(queued(&w.stores).await, vec![message(m.id); 6]);
    // A retried post (same client id) queues nothing more.
    let mut again = text(&w.general, w.owner.id, "retried");
    again.client_msg_id = Some("retry-1".into());
    assert!(msgs.insert_message(&again).await.unwrap().created);
    again.id = MessageId::new();
    assert!(!msgs.insert_message(&again).await.unwrap().created);
    assert_eq!(w.stores.search_queue.search_backlog().await.unwrap(), 7);
}

pub async fn search_work_is_held_released_and_finished(stores: Stores) {
    let w = world(stores).await;
    drain_queue(&w.stores).await;
    let a = w.post("a").await;
    let b = w.post("b").await;
    let c = w.post("c").await;
    let queue = &w.stores.search_queue;
    let now = time::now();
    let hold = now + Duration::seconds(60);
    let first = queue.claim_search_work(2, now, hold).await.unwrap();
    assert_eq!(
        first.iter().map(|w| w.entity_id).collect::<Vec<_>>(),
        [a.id.0, b.id.0]
    );
    assert!(first[0].seq < first[1].seq);
    // Held entries are not handed out again while held.
    let second = queue.claim_search_work(10, now, hold).await.unwrap();
    assert_eq!(
        second.iter().map(|w| w.entity_id).collect::<Vec<_>>(),
        [c.id.0]
    );
    assert!(queue
        .claim_search_work(10, now, hold)
        .await
        .unwrap()
        .is_empty());
    // The indexer holding `a` and `b` finished `a` and died: `b` comes
    // back once its hold ends.
    queue.finish_search_work(&[first[0].seq]).await.unwrap();
    assert_eq!(queue.search_backlog().await.unwrap(), 2);
    let later = hold + Duration::seconds(1);
    let again = queue
        .claim_search_work(10, later, later + Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(
        again.iter().map(|w| w.entity_id).collect::<Vec<_>>(),
        [b.id.0, c.id.0]
    );
    let seqs: Vec<i64> = again.iter().map(|w| w.seq).collect();
    queue.finish_search_work(&seqs).await.unwrap();
    queue.finish_search_work(&seqs).await.unwrap();
    queue.finish_search_work(&[]).await.unwrap();
    assert_eq!(queue.search_backlog().await.unwrap(), 0);
}

pub async fn every_message_is_scanned_once_in_order(stores: Stores) {
    let w = world(stores).await;
    let mut posted = Vec::new();
    for i in 0..7 {
        posted.push(w.post(&format!("m{i}")).await.id);
    }
    let reply = w.reply(&w.post("parent").await, "reply").await;
    w.stores
        .messages
        .delete_message(posted[2], time::now())
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = w.stores.messages.scan_messages(after, 3).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        seen.extend(page.iter().map(|m| m.id));
    }
    assert_eq!(seen.len(), 9, "{seen:?}");
    assert!(seen.windows(2).all(|pair| pair[0] < pair[1]), "{seen:?}");
    assert!(seen.contains(&posted[2]) && seen.contains(&reply.id));
    assert_eq!(w.stores.messages.count_messages().await.unwrap(), 9);
}

//! Who may do what in a workspace: pure rules over roles, used by the service
//! layer for every call. Membership itself (is the caller an active member at
//! all?) is checked before these rules; a non-member never gets this far.

use crate::model::WorkspaceRole;

/// Something a member asks to do in a workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkspaceAction {
    /// Read the workspace's name, settings visible to members, own membership.
    View,
    /// Change name, description, avatar, domain, settings (retention, ...).
    UpdateSettings,
    /// Change plan, billing e-mail, member limit, SSO and the 2FA requirement.
    UpdateBillingAndSecurity,
    /// List the workspace's members.
    ListMembers,
    /// Invite someone (by e-mail or link) who will join with `role`.
    Invite { role: WorkspaceRole },
    /// List or revoke invitations.
    ManageInvitations,
    /// Change a member's role from `from` to `to`.
    ChangeRole {
        from: WorkspaceRole,
        to: WorkspaceRole,
    },
    /// Deactivate or reactivate a member whose role is `target`.
    SetMemberActive { target: WorkspaceRole },
    /// Edit another member's title, department, timezone or permissions.
    EditMember { target: WorkspaceRole },
    /// Install, list and remove integrations (bots, webhooks, commands).
    ManageIntegrations,
}

/// Rank for comparisons: owner > admin > member > guest.
fn rank(role: WorkspaceRole) -> u8 {
    match role {
        WorkspaceRole::Owner => 3,
        WorkspaceRole::Admin => 2,
        WorkspaceRole::Member => 1,
        WorkspaceRole::Guest => 0,
    }
}

fn is_manager(role: WorkspaceRole) -> bool {
    rank(role) >= rank(WorkspaceRole::Admin)
}

/// Whether a member with role `actor` may perform `action`.
pub fn allows(actor: WorkspaceRole, action: WorkspaceAction) -> bool {
    use WorkspaceAction::*;
    use WorkspaceRole::*;
    match action {
        View => true,
        UpdateSettings => is_manager(actor),
        UpdateBillingAndSecurity => actor == Owner,
        ListMembers => actor != Guest,
        // Members may invite members and guests; admins anyone but owners;
        // owners anyone.
        Invite { role } => match actor {
            Owner => true,
            Admin => role != Owner,
            Member => matches!(role, Member | Guest),
            Guest => false,
        },
        ManageInvitations | ManageIntegrations => is_manager(actor),
        // Only owners touch owners (promote to, or demote from, owner);
        // admins manage everyone below owner.
        ChangeRole { from, to } => match actor {
            Owner => true,
            Admin => from != Owner && to != Owner,
            _ => false,
        },
        SetMemberActive { target } | EditMember { target } => match actor {
            Owner => true,
            Admin => target != Owner,
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::WorkspaceAction::*;
    use super::*;
    use WorkspaceRole::*;

    /// The whole table: for each action, which of owner, admin, member, guest may.
    #[test]
    fn role_by_action_table() {
        let table: &[(WorkspaceAction, [bool; 4])] = &[
            (View, [true, true, true, true]),
            (UpdateSettings, [true, true, false, false]),
            (UpdateBillingAndSecurity, [true, false, false, false]),
            (ListMembers, [true, true, true, false]),
            (Invite { role: Owner }, [true, false, false, false]),
            (Invite { role: Admin }, [true, true, false, false]),
            (Invite { role: Member }, [true, true, true, false]),
            (Invite { role: Guest }, [true, true, true, false]),
            (ManageInvitations, [true, true, false, false]),
            (
                ChangeRole {
                    from: Member,
                    to: Admin,
                },
                [true, true, false, false],
            ),
            (
                ChangeRole {
                    from: Admin,
                    to: Guest,
                },
                [true, true, false, false],
            ),
            (
                ChangeRole {
                    from: Member,
                    to: Owner,
                },
                [true, false, false, false],
            ),
            (
                ChangeRole {
                    from: Owner,
                    to: Admin,
                },
                [true, false, false, false],
            ),
            (
                SetMemberActive { target: Owner },
                [true, false, false, false],
            ),
            (
                SetMemberActive { target: Admin },
                [true, true, false, false],
            ),
            (
                SetMemberActive { target: Guest },
                [true, true, false, false],
            ),
            (EditMember { target: Owner }, [true, false, false, false]),
            (EditMember { target: Member }, [true, true, false, false]),
        ];
        for (action, expected) in table {
            for (role, allowed) in [Owner, Admin, Member, Guest].iter().zip(expected) {
                assert_eq!(
                    allows(*role, *action),
                    *allowed,
                    "{role:?} doing {action:?}"
                );
            }
        }
    }
}

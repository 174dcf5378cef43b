//! When a contact can no longer be reached as before (deleted, HUB access
//! switched off, its own or its customer's, or its login e-mail changed),
//! its HUB sessions end and the mails still queued to it are suppressed with
//! the reason, in the change's transaction: a mail waiting out an SMTP
//! outage must not then reach a former employee's address. The delivery
//! worker checks the same again right before each send
//! (`delivery::worker::no_longer_allowed`), for what this cannot see: failed
//! mails retried later.
use crate::{
    clock::Timestamp,
    domain::{
        Id,
        customer::{Customer, CustomerKind},
        notification::suppress_reason,
    },
    error::AppResult,
    store::{self, Tx},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostAccess {
    Deleted,
    NoHubAccess,
    EmailChanged,
}

impl LostAccess {
    /// The delivery history's `suppress_reason`.
    fn reason(self) -> &'static str {
        match self {
            Self::Deleted => suppress_reason::CONTACT_DELETED,
            Self::NoHubAccess => suppress_reason::NO_HUB_ACCESS,
            Self::EmailChanged => suppress_reason::EMAIL_CHANGED,
        }
    }

    /// What a change to a customer takes from its contacts: its HUB access
    /// switched off (switched on again, it must not bring sessions back), or
    /// a private customer's e-mail, which is its contact's login, changed.
    pub fn by_customer_change(before: &Customer, after: &Customer) -> Option<Self> {
        if before.hub_access && !after.hub_access {
            Some(Self::NoHubAccess)
        } else if changes_private_login(before, after) {
            Some(Self::EmailChanged)
        } else {
            None
        }
    }

    /// As `by_customer_change`, for a change to one contact.
    pub fn by_contact_change(was_open: bool, is_open: bool, email_changed: bool) -> Option<Self> {
        if was_open && !is_open {
            Some(Self::NoHubAccess)
        } else if email_changed {
            Some(Self::EmailChanged)
        } else {
            None
        }
    }
}

/// Whether a private customer's e-mail, which is its contact's login,
/// changed: then the password and welcome link of the old one stop counting
/// (`store::contacts::forget_login`).
pub(crate) fn changes_private_login(before: &Customer, after: &Customer) -> bool {
    after.kind == CustomerKind::Private && before.email != after.email
}

pub async fn for_contact(tx: &Tx, contact_id: &Id, why: LostAccess, now: Timestamp) -> AppResult<()> {
    store::sessions::delete_for_contact(tx, contact_id).await?;
    store::outbox::suppress_queued_to_contact(tx, contact_id, why.reason(), now).await
}

pub async fn for_contacts_of(tx: &Tx, customer_id: &Id, why: LostAccess, now: Timestamp) -> AppResult<()> {
    store::sessions::delete_for_customer(tx, customer_id).await?;
    store::outbox::suppress_queued_to_contacts_of(tx, customer_id, why.reason(), now).await
}

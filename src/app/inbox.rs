//! HUB contacts' and staff users' inboxes.
use super::AppState;
use crate::{
    domain::{
        Id,
        inbox::InboxMessage,
        page::{Page, PageRequest},
    },
    error::{AppError, AppResult, Violations},
    live::stream::{InboxStream, StreamOwner, inbox_stream},
    store,
};

pub struct InboxPage {
    pub page: Page<InboxMessage>,
    pub unread: i64,
}

pub async fn list(state: &AppState, recipient: &Id, unread_only: bool, page: PageRequest<i64>) -> AppResult<InboxPage> {
    let page = store::inbox::list(&state.reads, recipient, unread_only, page).await?;
    let unread = store::inbox::unread_count(&state.reads, recipient).await?;
    Ok(InboxPage { page, unread })
}

/// Every id is a statement parameter, and the databases bound those
/// (SQLite at 32,766): past this a call is the caller's mistake, not ours.
pub const MOST_IDS_PER_CALL: usize = 1000;

pub async fn mark_read(state: &AppState, recipient: &Id, ids: &[String], all: bool) -> AppResult<i64> {
    if !all {
        let mut v = Violations::new();
        let mut parsed: Vec<Id> =
            ids.iter().enumerate().filter_map(|(i, s)| v.check(format!("message_ids[{i}]"), Id::parse(s))).collect();
        if ids.is_empty() {
            v.add("message_ids", "name at least one message, or set `all`");
        }
        if ids.len() > MOST_IDS_PER_CALL {
            v.add("message_ids", format!("name at most {MOST_IDS_PER_CALL} messages per call, or set `all`"));
        }
        v.into_result()?;
        parsed.sort_unstable();
        parsed.dedup();
        // Naming a message that is not the recipient's is NOT_FOUND, nothing changed.
        if let Some(id) = store::inbox::first_unknown(&state.db, recipient, &parsed).await? {
            return Err(AppError::not_found("message", id.as_str()));
        }
        store::inbox::mark_read(&state.db, recipient, Some(&parsed), state.clock.now()).await?;
    } else {
        store::inbox::mark_read(&state.db, recipient, None, state.clock.now()).await?;
    }
    store::inbox::unread_count(&state.db, recipient).await
}

pub async fn subscribe(
    state: &AppState,
    owner: StreamOwner,
    recipient: &Id,
    after_sequence: i64,
) -> AppResult<InboxStream> {
    if after_sequence < 0 {
        return Err(AppError::invalid("after_sequence", "must not be negative"));
    }
    // A cursor past the last message (another recipient's, say) would hide
    // every message until the sequence caught up with it, without a word.
    if after_sequence > 0 {
        let last = store::inbox::last_seq(&state.reads, recipient).await?;
        if after_sequence > last {
            return Err(AppError::invalid(
                "after_sequence",
                format!("is past the last message's sequence number ({last})"),
            ));
        }
    }
    Ok(inbox_stream(state.clone(), owner, recipient.clone(), after_sequence))
}

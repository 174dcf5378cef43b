//! The notification engine: turns an event about a customer into e-mails
//! (queued in the outbox) and HUB messages (written to inboxes), inside the
//! transaction of the change that caused it, following the workspace's mode,
//! channels and templates, and recording every skipped send with its reason.
pub mod dispatch;
pub mod footer;

pub use dispatch::{Audience, CustomerEvent, Dispatched, dispatch, dispatch_to};

//! A send refused for good: a 5xx SMTP reply (unknown mailbox, rejected
//! content), a mail that cannot be built (an invalid address), a 4xx from the
//! SMS gateway. Trying again cannot help and only hits a relay that already
//! said no, so the outbox records it as failed at once.

/// Attached as context to the error of a send that can never succeed.
#[derive(Debug, Clone, Copy)]
pub struct Permanent;

impl std::fmt::Display for Permanent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("refused for good")
    }
}

/// Whether `e` (or what it wraps) is marked `Permanent`.
pub fn is_permanent(e: &anyhow::Error) -> bool {
    e.downcast_ref::<Permanent>().is_some()
}

//! Periodic jobs: punch-card expiry, staff reminders, book-again SMS and the
//! retention purge. Each pass is a single step tests call directly with a
//! controlled clock; this loop only repeats it.
use crate::app::{AppState, book_again, card_expiry, privacy, reminder_firing};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// One pass of every periodic job; returns how many notifications fired.
pub async fn run_once(state: &AppState) -> crate::error::AppResult<usize> {
    let fired = card_expiry::try_run(state).await?
        + reminder_firing::try_run(state).await?
        + book_again::send_due(state).await?;
    privacy::purge(state).await?;
    Ok(fired)
}

pub async fn run_until_stopped(state: AppState, stop: CancellationToken) {
    let every = Duration::from_secs(state.settings.scheduler_interval_secs);
    loop {
        if let Err(e) = run_once(&state).await {
            tracing::error!(error = %e, "periodic jobs failed; retrying next round");
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

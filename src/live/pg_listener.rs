//! Forwards PostgreSQL NOTIFYs on the inbox channel to this process's streams,
//! reconnecting after errors. While it is down, streams still catch up on
//! their heartbeat tick, so a lost notification delays and never loses.
use super::{LiveHub, PG_CHANNEL};
use sea_orm::sqlx::postgres::PgListener;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// `ready` is signalled once the first LISTEN is in place.
pub async fn run(url: String, hub: LiveHub, stop: CancellationToken, ready: tokio::sync::oneshot::Sender<()>) {
    let mut ready = Some(ready);
    loop {
        if stop.is_cancelled() {
            return;
        }
        match listen(&url, &hub, &stop, &mut ready).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, "inbox listener lost its connection; reconnecting");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

async fn listen(
    url: &str,
    hub: &LiveHub,
    stop: &CancellationToken,
    ready: &mut Option<tokio::sync::oneshot::Sender<()>>,
) -> anyhow::Result<()> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(PG_CHANNEL).await?;
    if let Some(r) = ready.take() {
        let _ = r.send(());
    }
    // Anything sent while we were away is caught up by each stream's next read.
    hub.publish_all();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            n = listener.recv() => hub.publish_notification(n?.payload()),
        }
    }
}

//! Forwards PostgreSQL NOTIFYs on the inbox channel to this process's streams,
//! reconnecting after errors. While it is down, streams still catch up on
//! their heartbeat tick, so a lost notification delays and never loses.
//! It also hears that credentials, a workspace's configuration or customers
//! changed on another replica, and those caches serve only while it is connected.
use super::{LiveHub, PG_CHANNEL};
use crate::{
    auth::credential_cache::{self, CredentialCache},
    store::{
        customer_cache::{self, CustomerCache},
        workspace_config::{self, WorkspaceConfigCache},
    },
};
use sea_orm::sqlx::postgres::PgListener;
use std::{sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;

/// The caches that other replicas' changes empty.
pub struct Caches {
    pub credentials: Arc<CredentialCache>,
    pub workspace_config: Arc<WorkspaceConfigCache>,
    pub customers: Arc<CustomerCache>,
}

impl Caches {
    fn set_serving(&self, serving: bool) {
        self.credentials.set_serving(serving);
        self.workspace_config.set_serving(serving);
        self.customers.set_serving(serving);
    }
}

/// `ready` is signalled once the first LISTEN is in place.
pub async fn run(
    url: String,
    hub: LiveHub,
    caches: Caches,
    stop: CancellationToken,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    loop {
        if stop.is_cancelled() {
            return;
        }
        let outcome = listen(&url, &hub, &caches, &stop, &mut ready).await;
        // Deaf to other replicas' changes: read everything from the database.
        caches.set_serving(false);
        match outcome {
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
    caches: &Caches,
    stop: &CancellationToken,
    ready: &mut Option<tokio::sync::oneshot::Sender<()>>,
) -> anyhow::Result<()> {
    let mut listener = PgListener::connect(url).await?;
    listener
        .listen_all([PG_CHANNEL, credential_cache::CHANNEL, workspace_config::CHANNEL, customer_cache::CHANNEL])
        .await?;
    // Hearing again: whatever changed meanwhile was forgotten on the way down.
    caches.set_serving(true);
    if let Some(r) = ready.take() {
        let _ = r.send(());
    }
    // Anything sent while we were away is caught up by each stream's next read.
    hub.publish_all();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            n = listener.try_recv() => {
                let Some(n) = n? else {
                    // The connection dropped and sqlx has already listened
                    // again on a new one: whatever was sent in between went
                    // unheard, so forget it all and have every stream re-read.
                    caches.set_serving(true);
                    hub.publish_all();
                    continue;
                };
                if n.channel() == credential_cache::CHANNEL {
                    caches.credentials.forget_all();
                } else if n.channel() == workspace_config::CHANNEL {
                    caches.workspace_config.forget_all();
                } else if n.channel() == customer_cache::CHANNEL {
                    caches.customers.forget_announced(n.payload());
                } else {
                    hub.publish_notification(n.payload());
                }
            }
        }
    }
}
